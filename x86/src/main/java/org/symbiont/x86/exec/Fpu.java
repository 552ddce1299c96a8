package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/** The x87 control instructions start-up code uses: FNINIT, FNSTCW, FLDCW, FNSTSW, FNCLEX, FWAIT. */
public final class Fpu {
    private Fpu() {}

    static void register(OpcodeTable t) {
    }

    static void exec(Cpu c, Insn i) {
        throw c.ud();
    }
}
