package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/** Bit instructions: BT, BTS, BTR, BTC, BSF, BSR, TZCNT, LZCNT, POPCNT, BSWAP. */
public final class BitOps {
    private BitOps() {}

    static void register(OpcodeTable t) {
    }

    static void exec(Cpu c, Insn i) {
        throw c.ud();
    }
}
