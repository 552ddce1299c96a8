package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/** SSE/SSE2 floating point: scalar and packed single/double arithmetic, compares, conversions, MXCSR. */
public final class SseFloat {
    private SseFloat() {}

    static void register(OpcodeTable t) {
    }

    static void exec(Cpu c, Insn i) {
        throw c.ud();
    }
}
