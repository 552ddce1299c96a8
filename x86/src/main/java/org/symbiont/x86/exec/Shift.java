package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/** Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD. */
public final class Shift {
    private Shift() {}

    static void register(OpcodeTable t) {
    }

    static void exec(Cpu c, Insn i) {
        throw c.ud();
    }
}
