package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Near control transfers: Jcc, JMP, CALL and RET (relative and indirect), LOOP/LOOPE/LOOPNE,
 * JrCXZ. A target outside the code segment (or non-canonical in 64-bit mode) raises #GP(0) at
 * the branch, as the SDM specifies.
 */
public final class ControlTransfer {
    private ControlTransfer() {}

    private static final int JCC = 0, JMP_REL = 1, CALL_REL = 2, RET = 3, RET_IMM = 4;
    private static final int JMP_E = 5, CALL_E = 6, LOOP = 7, LOOPE = 8, LOOPNE = 9, JRCXZ = 10;

    private static int op(int index) {
        return Families.op(Families.BRANCH, index);
    }

    static void register(OpcodeTable t) {
        int rel = F_END | F_REL_BRANCH;
        t.define(op(JCC), "jcc rel", rel);
        for (int cc = 0; cc < 16; cc++) {
            t.at(MAP_1, 0x70 + cc).is(op(JCC));
            t.at(MAP_0F, 0x80 + cc).is(op(JCC));
        }
        t.define(op(JMP_REL), "jmp rel", rel);
        t.at(MAP_1, 0xE9).is(op(JMP_REL));
        t.at(MAP_1, 0xEB).is(op(JMP_REL));
        t.define(op(CALL_REL), "call rel", rel);
        t.at(MAP_1, 0xE8).is(op(CALL_REL));
        t.define(op(RET), "ret", F_END);
        t.at(MAP_1, 0xC3).is(op(RET));
        t.define(op(RET_IMM), "ret Iw", F_END);
        t.at(MAP_1, 0xC2).is(op(RET_IMM));
        t.define(op(JMP_E), "jmp Ev", F_END);
        t.at(MAP_1, 0xFF).reg(4).is(op(JMP_E));
        t.define(op(CALL_E), "call Ev", F_END);
        t.at(MAP_1, 0xFF).reg(2).is(op(CALL_E));
        t.define(op(LOOP), "loop rel8", rel);
        t.define(op(LOOPE), "loope rel8", rel);
        t.define(op(LOOPNE), "loopne rel8", rel);
        t.define(op(JRCXZ), "jrcxz rel8", rel);
        t.at(MAP_1, 0xE0).is(op(LOOPNE));
        t.at(MAP_1, 0xE1).is(op(LOOPE));
        t.at(MAP_1, 0xE2).is(op(LOOP));
        t.at(MAP_1, 0xE3).is(op(JRCXZ));
    }

    static void exec(Cpu c, Insn i) {
        switch (i.op & 0xFF) {
            case JCC -> jcc(c, i);
            case JMP_REL -> jump(c, i.imm);
            case CALL_REL -> callRel(c, i);
            case RET, RET_IMM -> ret(c, i);
            case JMP_E -> {
                int size = StackOps.nearSize(c, i.opSize);
                jump(c, Operands.readRm(c, i, size));
            }
            case CALL_E -> {
                int size = StackOps.nearSize(c, i.opSize);
                long target = Operands.readRm(c, i, size);
                check(c, target);
                StackOps.push(c, size, i.nextRip & Flags.mask(size));
                c.rip = target;
            }
            case LOOP, LOOPE, LOOPNE -> {
                int as = i.addrSize;
                long count = (c.readReg(RCX, as) - 1) & Flags.mask(as);
                boolean taken = count != 0;
                int kind = i.op & 0xFF;
                if (kind == LOOPE) taken &= Flags.zf(c);
                else if (kind == LOOPNE) taken &= !Flags.zf(c);
                if (taken) check(c, i.imm);
                c.writeReg(RCX, as, count);
                c.rip = taken ? i.imm : i.nextRip;
            }
            case JRCXZ -> {
                if (c.readReg(RCX, i.addrSize) == 0) jump(c, i.imm);
                else c.rip = i.nextRip;
            }
            default -> throw c.ud();
        }
    }

    /** Near relative branches: their target is {@code imm} and they touch no system state. */
    static boolean isNearRelative(Insn i) {
        if ((i.op >>> 8) != Families.BRANCH) return false;
        return switch (i.op & 0xFF) {
            case JCC, JMP_REL, LOOP, LOOPE, LOOPNE, JRCXZ -> true;
            default -> false;
        };
    }

    /** The hot-dispatch index for this instruction's operation, or 0. */
    static int hot(Insn i) {
        return switch (i.op & 0xFF) {
            case JCC -> Interpreter.H_JCC;
            case JMP_REL -> Interpreter.H_JMP_REL;
            case CALL_REL -> Interpreter.H_CALL_REL;
            case RET, RET_IMM -> Interpreter.H_RET;
            default -> 0;
        };
    }

    static void jcc(Cpu c, Insn i) {
        if (Flags.cond(c, i.opcode & 0xF)) jump(c, i.imm);
        else c.rip = i.nextRip;
    }

    static void callRel(Cpu c, Insn i) {
        check(c, i.imm);
        StackOps.push(c, i.opSize, i.nextRip);
        c.rip = i.imm;
    }

    /** RET and RET Iw. */
    static void ret(Cpu c, Insn i) {
        int size = i.opSize;
        long target = StackOps.peek(c, size, 0);
        check(c, target);
        StackOps.adjust(c, size + ((i.op & 0xFF) == RET_IMM ? i.imm : 0));
        c.rip = target;
    }

    static void jump(Cpu c, long target) {
        check(c, target);
        c.rip = target;
    }

    /** #GP(0) for a branch target outside CS's limit, or non-canonical in 64-bit mode. */
    static void check(Cpu c, long target) {
        if (c.codeMode == Decoder.CODE64) {
            if ((target << 16 >> 16) != target) throw c.gp0();
        } else if (target > c.segLimit[CS]) {
            throw c.gp0();
        }
    }
}
