package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * System instructions: HLT, CPUID, control/debug registers, descriptor tables, MSRs, TLB and
 * cache control, interrupt flag, hypercalls.
 */
public final class SystemOps {
    private SystemOps() {}

    private static final int HLT = 0, CPUID = 1;

    private static int op(int index) {
        return Families.op(Families.SYSTEM, index);
    }

    static void register(OpcodeTable t) {
        t.define(op(HLT), "hlt", F_END);
        t.at(MAP_1, 0xF4).is(op(HLT));
        t.define(op(CPUID), "cpuid", 0);
        t.at(MAP_0F, 0xA2).is(op(CPUID));
    }

    static void exec(Cpu c, Insn i) {
        switch (i.op & 0xFF) {
            case HLT -> {
                if (c.cpl != 0) throw c.gp0();
                c.halted = true;
                c.rip = i.nextRip;
            }
            case CPUID -> {
                long ab = c.exitOrReplay(new Exit.Cpuid((int) c.gpr[RAX], (int) c.gpr[RCX]));
                long cd = c.replayNext();
                c.gpr[RAX] = ab & 0xFFFF_FFFFL;
                c.gpr[RBX] = ab >>> 32;
                c.gpr[RCX] = cd & 0xFFFF_FFFFL;
                c.gpr[RDX] = cd >>> 32;
            }
            default -> throw c.ud();
        }
    }
}
