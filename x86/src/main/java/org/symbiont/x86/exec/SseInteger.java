package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/** SSE2 integer SIMD: PADD/PSUB/PCMPEQ/PSHUFD/PUNPCK/PMOVMSKB/shifts and friends. */
public final class SseInteger {
    private SseInteger() {}

    static void register(OpcodeTable t) {
    }

    static void exec(Cpu c, Insn i) {
        throw c.ud();
    }
}
