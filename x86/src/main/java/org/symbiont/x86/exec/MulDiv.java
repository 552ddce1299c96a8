package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/** Multiplication and division: MUL, IMUL (all three forms), DIV, IDIV at 8 to 64 bits, with #DE. */
public final class MulDiv {
    private MulDiv() {}

    static void register(OpcodeTable t) {
    }

    static void exec(Cpu c, Insn i) {
        throw c.ud();
    }
}
