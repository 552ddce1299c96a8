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
 * Data movement: MOV (register, memory, immediate, moffs), LEA, MOVZX, MOVSX, MOVSXD (ARPL
 * outside 64-bit mode), XCHG, CMOVcc, SETcc, CBW/CWDE/CDQE, CWD/CDQ/CQO, flag instructions and
 * the NOP forms.
 */
public final class DataMove {
    private DataMove() {}

    private static final int MOV_E_G = 0, MOV_G_E = 2, MOV_E_I = 4, MOV_R_I = 6, LEA = 8;
    private static final int MOVZX_B = 9, MOVZX_W = 10, MOVSX_B = 11, MOVSX_W = 12, MOVSXD_ARPL = 13;
    private static final int XCHG_E_G = 14, XCHG_ACC = 16, NOP = 17, CMOV = 18, SETCC = 19;
    private static final int CBW = 20, CWD = 21;
    private static final int CLC = 22, STC = 23, CMC = 24, CLD = 25, STD = 26;

    private static int op(int index) {
        return Families.op(Families.MOVE, index);
    }

    static void register(OpcodeTable t) {
        t.define(op(MOV_E_G), "mov Eb,Gb", F_BYTE);
        t.define(op(MOV_E_G + 1), "mov Ev,Gv", 0);
        t.define(op(MOV_G_E), "mov Gb,Eb", F_BYTE);
        t.define(op(MOV_G_E + 1), "mov Gv,Ev", 0);
        t.define(op(MOV_E_I), "mov Eb,Ib", F_BYTE);
        t.define(op(MOV_E_I + 1), "mov Ev,Iz", 0);
        t.define(op(MOV_R_I), "mov r8,Ib", F_BYTE);
        t.define(op(MOV_R_I + 1), "mov r,Iv", 0);
        t.at(MAP_1, 0x88).is(op(MOV_E_G));
        t.at(MAP_1, 0x89).is(op(MOV_E_G + 1));
        t.at(MAP_1, 0x8A).is(op(MOV_G_E));
        t.at(MAP_1, 0x8B).is(op(MOV_G_E + 1));
        t.at(MAP_1, 0xA0).is(op(MOV_G_E));       // MOV AL, moffs: the decoder makes it Gb <- mem
        t.at(MAP_1, 0xA1).is(op(MOV_G_E + 1));
        t.at(MAP_1, 0xA2).is(op(MOV_E_G));
        t.at(MAP_1, 0xA3).is(op(MOV_E_G + 1));
        t.at(MAP_1, 0xC6).reg(0).is(op(MOV_E_I));
        t.at(MAP_1, 0xC7).reg(0).is(op(MOV_E_I + 1));
        for (int r = 0; r < 8; r++) {
            t.at(MAP_1, 0xB0 + r).is(op(MOV_R_I));
            t.at(MAP_1, 0xB8 + r).is(op(MOV_R_I + 1));
        }
        t.define(op(LEA), "lea Gv,M", 0);
        t.at(MAP_1, 0x8D).mem().is(op(LEA));
        t.define(op(MOVZX_B), "movzx Gv,Eb", 0);
        t.define(op(MOVZX_W), "movzx Gv,Ew", 0);
        t.define(op(MOVSX_B), "movsx Gv,Eb", 0);
        t.define(op(MOVSX_W), "movsx Gv,Ew", 0);
        t.at(MAP_0F, 0xB6).is(op(MOVZX_B));
        t.at(MAP_0F, 0xB7).is(op(MOVZX_W));
        t.at(MAP_0F, 0xBE).is(op(MOVSX_B));
        t.at(MAP_0F, 0xBF).is(op(MOVSX_W));
        t.define(op(MOVSXD_ARPL), "movsxd Gv,Ed / arpl Ew,Gw", 0);
        t.at(MAP_1, 0x63).is(op(MOVSXD_ARPL));
        t.define(op(XCHG_E_G), "xchg Eb,Gb", F_BYTE | F_LOCKABLE);
        t.define(op(XCHG_E_G + 1), "xchg Ev,Gv", F_LOCKABLE);
        t.define(op(XCHG_ACC), "xchg r,rAX / nop / pause", 0);
        t.at(MAP_1, 0x86).is(op(XCHG_E_G));
        t.at(MAP_1, 0x87).is(op(XCHG_E_G + 1));
        for (int r = 0; r < 8; r++) t.at(MAP_1, 0x90 + r).is(op(XCHG_ACC));
        t.define(op(NOP), "nop Ev", 0);
        t.at(MAP_0F, 0x0D).is(op(NOP));              // PREFETCH/PREFETCHW
        for (int o = 0x18; o <= 0x1F; o++) t.at(MAP_0F, o).is(op(NOP)); // PREFETCHh, hint NOPs, ENDBR
        t.define(op(CMOV), "cmovcc Gv,Ev", 0);
        t.define(op(SETCC), "setcc Eb", F_BYTE);
        for (int cc = 0; cc < 16; cc++) {
            t.at(MAP_0F, 0x40 + cc).is(op(CMOV));
            t.at(MAP_0F, 0x90 + cc).is(op(SETCC));
        }
        t.define(op(CBW), "cbw/cwde/cdqe", 0);
        t.define(op(CWD), "cwd/cdq/cqo", 0);
        t.at(MAP_1, 0x98).is(op(CBW));
        t.at(MAP_1, 0x99).is(op(CWD));
        t.define(op(CLC), "clc", 0);
        t.define(op(STC), "stc", 0);
        t.define(op(CMC), "cmc", 0);
        t.define(op(CLD), "cld", 0);
        t.define(op(STD), "std", 0);
        t.at(MAP_1, 0xF8).is(op(CLC));
        t.at(MAP_1, 0xF9).is(op(STC));
        t.at(MAP_1, 0xF5).is(op(CMC));
        t.at(MAP_1, 0xFC).is(op(CLD));
        t.at(MAP_1, 0xFD).is(op(STD));
    }

    static void exec(Cpu c, Insn i) {
        int size = i.opSize;
        switch (i.op & 0xFF) {
            case MOV_E_G, MOV_E_G + 1 -> {
                long v = c.readReg(i.reg, size);
                if (i.rm >= 0) c.writeReg(i.rm, size, v);
                else c.write(i.seg, Operands.ea(c, i), size, v);
            }
            case MOV_G_E, MOV_G_E + 1 -> {
                long v = i.rm >= 0 ? c.readReg(i.rm, size) : c.read(i.seg, Operands.ea(c, i), size);
                c.writeReg(i.reg, size, v);
            }
            case MOV_E_I, MOV_E_I + 1 -> Operands.writeRm(c, i, size, i.imm);
            case MOV_R_I, MOV_R_I + 1 -> c.writeReg(i.reg, size, i.imm);
            case LEA -> c.writeReg(i.reg, size, Operands.ea(c, i));
            case MOVZX_B -> c.writeReg(i.reg, size, Operands.readRm(c, i, 1));
            case MOVZX_W -> c.writeReg(i.reg, size, Operands.readRm(c, i, 2));
            case MOVSX_B -> c.writeReg(i.reg, size, Operands.signExtend(Operands.readRm(c, i, 1), 1));
            case MOVSX_W -> c.writeReg(i.reg, size, Operands.signExtend(Operands.readRm(c, i, 2), 2));
            case MOVSXD_ARPL -> {
                if (c.codeMode == Decoder.CODE64) {
                    int src = Math.min(size, 4);
                    c.writeReg(i.reg, size, Operands.signExtend(Operands.readRm(c, i, src), src));
                } else {
                    arpl(c, i);
                }
            }
            case XCHG_E_G, XCHG_E_G + 1 -> xchg(c, i, size);
            case XCHG_ACC -> {
                // 90 without REX.B is NOP (and F3 90 is PAUSE), not XCHG EAX, EAX.
                if (i.reg != RAX) {
                    long a = c.readReg(RAX, size), b = c.readReg(i.reg, size);
                    c.writeReg(RAX, size, b);
                    c.writeReg(i.reg, size, a);
                }
            }
            case NOP -> { }
            case CMOV -> {
                // The source is read (and may fault) even when the condition is false; a 32-bit
                // destination is zero-extended either way (SDM Vol. 2A, CMOVcc).
                long v = Operands.readRm(c, i, size);
                if (Flags.cond(c, i.opcode & 0xF)) c.writeReg(i.reg, size, v);
                else if (size == 4) c.writeReg(i.reg, 4, c.gpr[i.reg]);
            }
            case SETCC -> Operands.writeRm(c, i, 1, Flags.cond(c, i.opcode & 0xF) ? 1 : 0);
            case CBW -> {
                int half = size / 2;
                c.writeReg(RAX, size, Operands.signExtend(c.readReg(RAX, half), half));
            }
            case CWD -> {
                long a = Operands.signExtend(c.readReg(RAX, size), size);
                c.writeReg(RDX, size, a < 0 ? -1L : 0);
            }
            case CLC -> Flags.setCf(c, false);
            case STC -> Flags.setCf(c, true);
            case CMC -> Flags.setCf(c, !Flags.cf(c));
            case CLD -> c.rflags &= ~DF;
            case STD -> c.rflags |= DF;
            default -> throw c.ud();
        }
    }

    /** XCHG with a memory operand is always locked (SDM Vol. 2D, XCHG). */
    private static void xchg(Cpu c, Insn i, int size) {
        long r = c.readReg(i.reg, size);
        if (i.rm >= 0) {
            long m = c.readReg(i.rm, size);
            c.writeReg(i.rm, size, r);
            c.writeReg(i.reg, size, m);
            return;
        }
        long la = Operands.linear(c, i, size, Cpu.ACCESS_WRITE);
        long old;
        do {
            old = c.readL(i.seg, la, size);
        } while (c.lockedCompareExchange(i.seg, la, size, old, r) != old);
        c.writeReg(i.reg, size, old);
    }

    /** ARPL Ew, Gw: raises the destination selector's RPL to the source's (protected mode only). */
    private static void arpl(Cpu c, Insn i) {
        if ((c.cr0 & CR0_PE) == 0 || (c.rflags & VM) != 0) throw c.ud();
        long dst = Operands.readRm(c, i, 2);
        long src = c.readReg(i.reg, 2);
        boolean adjust = (dst & 3) < (src & 3);
        if (adjust) Operands.writeRm(c, i, 2, (dst & ~3L) | (src & 3));
        long f = Flags.status(c);
        Flags.setStatus(c, adjust ? f | ZF : f & ~ZF);
    }
}
