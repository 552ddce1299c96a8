package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/** Far control transfers and privilege changes: far JMP/CALL/RET, IRET, INT n/INT3/INTO/INT1, SYSCALL/SYSRET, SYSENTER/SYSEXIT, segment-register loads. */
public final class FarTransfer {
    private FarTransfer() {}

    static void register(OpcodeTable t) {
    }

    static void exec(Cpu c, Insn i) {
        throw c.ud();
    }
}
