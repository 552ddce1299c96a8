package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F38;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Data movement: MOV (register, memory, immediate, moffs), LEA, MOVZX, MOVSX, MOVSXD (ARPL
 * outside 64-bit mode), XCHG, XADD, CMPXCHG, CMPXCHG8B/16B, CMOVcc, SETcc, CBW/CWDE/CDQE,
 * CWD/CDQ/CQO, MOVBE, XLAT, flag instructions (CLC..STD, LAHF, SAHF), the decimal adjustments
 * (DAA, DAS, AAA, AAS, AAM, AAD) and the NOP forms.
 */
public final class DataMove {
    private DataMove() {}

    private static final int MOV_E_G = 0, MOV_G_E = 2, MOV_E_I = 4, MOV_R_I = 6, LEA = 8;
    private static final int MOVZX_B = 9, MOVZX_W = 10, MOVSX_B = 11, MOVSX_W = 12, MOVSXD_ARPL = 13;
    private static final int XCHG_E_G = 14, XCHG_ACC = 16, NOP = 17, CMOV = 18, SETCC = 19;
    private static final int CBW = 20, CWD = 21;
    private static final int CLC = 22, STC = 23, CMC = 24, CLD = 25, STD = 26;
    private static final int XADD = 27, CMPXCHG = 29, CMPXCHG8B = 31, LAHF = 32, SAHF = 33, XLAT = 34;
    private static final int MOVBE_LOAD = 35, MOVBE_STORE = 36;
    private static final int DAA = 37, DAS = 38, AAA = 39, AAS = 40, AAM = 41, AAD = 42;

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
        t.define(op(MOVZX_B), "movzx Gv,Eb", F_BYTE_RM);
        t.define(op(MOVZX_W), "movzx Gv,Ew", 0);
        t.define(op(MOVSX_B), "movsx Gv,Eb", F_BYTE_RM);
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
        t.at(MAP_0F, 0x0D).mem().is(op(NOP));        // PREFETCH/PREFETCHW: memory only, the register form is #UD
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
        t.define(op(XADD), "xadd Eb,Gb", F_BYTE | F_LOCKABLE);
        t.define(op(XADD + 1), "xadd Ev,Gv", F_LOCKABLE);
        t.at(MAP_0F, 0xC0).is(op(XADD));
        t.at(MAP_0F, 0xC1).is(op(XADD + 1));
        t.define(op(CMPXCHG), "cmpxchg Eb,Gb", F_BYTE | F_LOCKABLE);
        t.define(op(CMPXCHG + 1), "cmpxchg Ev,Gv", F_LOCKABLE);
        t.at(MAP_0F, 0xB0).is(op(CMPXCHG));
        t.at(MAP_0F, 0xB1).is(op(CMPXCHG + 1));
        t.define(op(CMPXCHG8B), "cmpxchg8b/16b M", F_LOCKABLE);
        t.at(MAP_0F, 0xC7).reg(1).mem().is(op(CMPXCHG8B));
        // LAHF/SAHF are valid in 64-bit mode: the CPU model advertises CPUID.80000001H:ECX.LAHF-SAHF.
        t.define(op(LAHF), "lahf", 0);
        t.define(op(SAHF), "sahf", 0);
        t.at(MAP_1, 0x9F).is(op(LAHF));
        t.at(MAP_1, 0x9E).is(op(SAHF));
        t.define(op(XLAT), "xlat", 0);
        t.at(MAP_1, 0xD7).is(op(XLAT));
        // MOVBE is selected by the absence of F2/F3 (F2 0F 38 F0/F1 is CRC32, not advertised, so
        // #UD; F3 is undefined); 66 stays its operand-size override.
        t.define(op(MOVBE_LOAD), "movbe Gv,Mv", 0);
        t.define(op(MOVBE_STORE), "movbe Mv,Gv", 0);
        t.at(MAP_0F38, 0xF0).repSelect(PFX_NONE).mem().is(op(MOVBE_LOAD));
        t.at(MAP_0F38, 0xF1).repSelect(PFX_NONE).mem().is(op(MOVBE_STORE));
        // The decimal adjustments; the opcode shapes make them #UD in 64-bit mode.
        t.define(op(DAA), "daa", 0);
        t.define(op(DAS), "das", 0);
        t.define(op(AAA), "aaa", 0);
        t.define(op(AAS), "aas", 0);
        t.define(op(AAM), "aam Ib", 0);
        t.define(op(AAD), "aad Ib", 0);
        t.at(MAP_1, 0x27).is(op(DAA));
        t.at(MAP_1, 0x2F).is(op(DAS));
        t.at(MAP_1, 0x37).is(op(AAA));
        t.at(MAP_1, 0x3F).is(op(AAS));
        t.at(MAP_1, 0xD4).is(op(AAM));
        t.at(MAP_1, 0xD5).is(op(AAD));
    }

    static void exec(Cpu c, Insn i) {
        int size = i.opSize;
        switch (i.op & 0xFF) {
            case MOV_E_G, MOV_E_G + 1 -> {
                if (i.rm >= 0) movRegToReg(c, i);
                else movStore(c, i);
            }
            case MOV_G_E, MOV_G_E + 1 -> {
                if (i.rm >= 0) movRegFromReg(c, i);
                else movLoad(c, i);
            }
            case MOV_E_I, MOV_E_I + 1 -> movImm(c, i);
            case MOV_R_I, MOV_R_I + 1 -> movImmToReg(c, i);
            case LEA -> lea(c, i);
            case MOVZX_B -> movzx8(c, i);
            case MOVZX_W -> movzx16(c, i);
            case MOVSX_B -> movsx8(c, i);
            case MOVSX_W -> movsx16(c, i);
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
                } else if (i.hasPrefix(Insn.P_REP) && c.pauseCycles > 0) {
                    c.chargeCycles(c.pauseCycles);
                    c.budgetEnd -= c.pauseCycles / c.cyclesPerInstruction;
                }
            }
            case NOP -> { }
            case CMOV -> cmov(c, i);
            case SETCC -> setcc(c, i);
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
            case XADD, XADD + 1 -> xadd(c, i, size);
            case CMPXCHG, CMPXCHG + 1 -> cmpxchg(c, i, size);
            case CMPXCHG8B -> {
                if (size == 8) cmpxchg16b(c, i);
                else cmpxchg8b(c, i);
            }
            case LAHF -> c.writeReg(AH, 1, (Flags.status(c) & (SF | ZF | AF | PF | CF)) | RFLAGS_FIXED1);
            case SAHF -> {
                long f = Flags.status(c);
                Flags.setStatus(c, (f & OF) | (c.readReg(AH, 1) & (SF | ZF | AF | PF | CF)));
            }
            case XLAT -> {
                long ea = (c.gpr[RBX] + (c.gpr[RAX] & 0xFF)) & i.eaMask;
                c.writeReg(RAX, 1, c.read8(i.seg, ea));
            }
            case MOVBE_LOAD -> {
                int s = i.opSize;
                c.writeReg(i.reg, s, reverseBytes(c.read(i.seg, Operands.ea(c, i), s), s));
            }
            case MOVBE_STORE -> {
                int s = i.opSize;
                c.write(i.seg, Operands.ea(c, i), s, reverseBytes(c.readReg(i.reg, s), s));
            }
            case DAA -> daa(c);
            case DAS -> das(c);
            case AAA, AAS -> asciiAdjust(c, (i.op & 0xFF) == AAA);
            case AAM -> aam(c, (int) (i.imm & 0xFF));
            case AAD -> aad(c, (int) (i.imm & 0xFF));
            default -> throw c.ud();
        }
    }

    /** XADD: the destination receives the sum, the source register the old destination (SDM Vol. 2D, XADD). */
    private static void xadd(Cpu c, Insn i, int size) {
        long src = c.readReg(i.reg, size);
        long dst, sum;
        if (i.rm >= 0) {
            dst = c.readReg(i.rm, size);
            sum = dst + src;
            // Source first, so that XADD r, r leaves the sum in the register.
            c.writeReg(i.reg, size, dst);
            c.writeReg(i.rm, size, sum);
        } else {
            long la = Operands.linear(c, i, size, Cpu.ACCESS_WRITE);
            if ((i.prefixes & Insn.P_LOCK) != 0) {
                do {
                    dst = c.readL(i.seg, la, size);
                    sum = dst + src;
                } while (c.lockedCompareExchange(i.seg, la, size, dst, sum) != dst);
            } else {
                dst = c.readL(i.seg, la, size);
                sum = dst + src;
                c.writeL(i.seg, la, size, sum);
            }
            c.writeReg(i.reg, size, dst);
        }
        Flags.set(c, Flags.ADD, size, dst, src, sum);
    }

    /**
     * CMPXCHG: compares the accumulator with the destination (flags as CMP). Equal: the destination
     * receives the source. Unequal: the accumulator receives the destination, and a register
     * destination keeps its value (a 32-bit one is not zero-extended, as processors do); a memory
     * destination is written back unchanged (SDM Vol. 2A, CMPXCHG), so a read-only page faults
     * either way.
     */
    private static void cmpxchg(Cpu c, Insn i, int size) {
        long acc = c.readReg(RAX, size);
        long src = c.readReg(i.reg, size);
        long dst;
        if (i.rm >= 0) {
            dst = c.readReg(i.rm, size);
            if (dst == acc) c.writeReg(i.rm, size, src);
        } else {
            long la = Operands.linear(c, i, size, Cpu.ACCESS_WRITE);
            if ((i.prefixes & Insn.P_LOCK) != 0) {
                dst = c.lockedCompareExchange(i.seg, la, size, acc, src);
            } else {
                dst = c.readL(i.seg, la, size);
                c.writeL(i.seg, la, size, dst == acc ? src : dst);
            }
        }
        if (dst != acc) c.writeReg(RAX, size, dst);
        Flags.set(c, Flags.SUB, size, acc, dst, acc - dst);
    }

    /**
     * CMPXCHG8B m64: EDX:EAX against the quadword; equal: it receives ECX:EBX, else EDX:EAX receive
     * it. Only ZF changes. Always performed atomically, which the SDM allows without LOCK.
     */
    private static void cmpxchg8b(Cpu c, Insn i) {
        long la = Operands.linear(c, i, 8, Cpu.ACCESS_WRITE);
        long expected = (c.gpr[RDX] << 32) | (c.gpr[RAX] & 0xFFFF_FFFFL);
        long update = (c.gpr[RCX] << 32) | (c.gpr[RBX] & 0xFFFF_FFFFL);
        long found = c.lockedCompareExchange(i.seg, la, 8, expected, update);
        boolean equal = found == expected;
        if (!equal) {
            c.writeReg(RAX, 4, found);
            c.writeReg(RDX, 4, found >>> 32);
        }
        setZf(c, equal);
    }

    /**
     * CMPXCHG16B m128 (REX.W): RDX:RAX against the 16 bytes, RCX:RBX the replacement. The operand
     * must be 16-byte aligned, else #GP(0). RAM operands go through
     * {@link org.symbiont.x86.memory.PhysicalMemory#compareAndExchange16}; MMIO operands are read
     * and written back (unchanged when unequal, as the SDM describes) through exits.
     */
    private static void cmpxchg16b(Cpu c, Insn i) {
        long la = Operands.linear(c, i, 16, Cpu.ACCESS_WRITE);
        if ((la & 15) != 0) throw c.gp0();
        long expectedLow = c.gpr[RAX], expectedHigh = c.gpr[RDX];
        long newLow = c.gpr[RBX], newHigh = c.gpr[RCX];
        long host = c.mmu.directHostOffset(i.seg, la, Cpu.ACCESS_WRITE, c.tlbBase != 0);
        long low, high;
        boolean equal;
        if (host >= 0) {
            long[] found = new long[2];
            equal = c.memory.compareAndExchange16(host, expectedLow, expectedHigh, newLow, newHigh, found);
            low = found[0];
            high = found[1];
        } else {
            low = c.readL64(i.seg, la);
            high = c.readL64(i.seg, la + 8);
            equal = low == expectedLow && high == expectedHigh;
            c.writeL64(i.seg, la, equal ? newLow : low);
            c.writeL64(i.seg, la + 8, equal ? newHigh : high);
        }
        if (!equal) {
            c.gpr[RAX] = low;
            c.gpr[RDX] = high;
        }
        setZf(c, equal);
    }

    private static void setZf(Cpu c, boolean zf) {
        long f = Flags.status(c);
        Flags.setStatus(c, zf ? f | ZF : f & ~ZF);
    }

    /** The low {@code size} bytes of {@code v} in reverse order (MOVBE). */
    private static long reverseBytes(long v, int size) {
        return switch (size) {
            case 2 -> Short.reverseBytes((short) v) & 0xFFFFL;
            case 4 -> Integer.reverseBytes((int) v) & 0xFFFF_FFFFL;
            default -> Long.reverseBytes(v);
        };
    }

    // ---- decimal adjustments (SDM Vol. 2A). OF after DAA/DAS; OF, SF, ZF, PF after AAA/AAS; and
    // OF, AF, CF after AAM/AAD are undefined in the SDM: they are set as an AMD Zen 4 sets them
    // (measured on the host in 32-bit mode, over all AL, six AH values and all 64 input flag sets).

    /** SF, ZF and PF of an 8-bit result. */
    private static long signZeroParity(int v) {
        long f = (Integer.bitCount(v & 0xFF) & 1) == 0 ? PF : 0;
        if ((v & 0x80) != 0) f |= SF;
        if ((v & 0xFF) == 0) f |= ZF;
        return f;
    }

    /** DAA. Undefined OF: set when the adjustment turns AL's sign bit on. */
    private static void daa(Cpu c) {
        int al = (int) c.readReg(RAX, 1);
        long f = Flags.status(c);
        boolean cf = (f & CF) != 0;
        boolean af = (al & 0xF) > 9 || (f & AF) != 0;
        int r = af ? al + 6 : al;
        // A carry out of AL + 6 needs AL >= FAH, which the high-digit test below covers.
        boolean carry = al > 0x99 || cf;
        if (carry) r += 0x60;
        r &= 0xFF;
        long flags = signZeroParity(r) | (carry ? CF : 0) | (af ? AF : 0);
        if ((~al & r & 0x80) != 0) flags |= OF;
        Flags.setStatus(c, flags);
        c.writeReg(RAX, 1, r);
    }

    /** DAS. Undefined OF: set when the adjustment turns AL's sign bit off. */
    private static void das(Cpu c) {
        int al = (int) c.readReg(RAX, 1);
        long f = Flags.status(c);
        boolean cf = (f & CF) != 0;
        boolean af = (al & 0xF) > 9 || (f & AF) != 0;
        int r = al;
        boolean carry = false;
        if (af) {
            r = al - 6;
            carry = cf || al < 6;
        }
        if (al > 0x99 || cf) {
            r -= 0x60;
            carry = true;
        }
        r &= 0xFF;
        long flags = signZeroParity(r) | (carry ? CF : 0) | (af ? AF : 0);
        if ((al & ~r & 0x80) != 0) flags |= OF;
        Flags.setStatus(c, flags);
        c.writeReg(RAX, 1, r);
    }

    /**
     * AAA (AX + 106H) and AAS (AX - 106H, i.e. AL - 6 with the borrow into AH, then AH - 1) when
     * the low digit of AL needs adjusting, then AL &= 0FH. CF = AF = whether it adjusted. The
     * undefined OF, SF, ZF and PF are those of the 16-bit addition or subtraction of 106H (or of 0
     * when nothing is adjusted).
     */
    private static void asciiAdjust(Cpu c, boolean add) {
        long ax = c.readReg(RAX, 2);
        boolean adjust = (ax & 0xF) > 9 || Flags.af(c);
        long delta = adjust ? 0x106 : 0;
        long r = (add ? ax + delta : ax - delta) & 0xFFFF;
        Flags.set(c, add ? Flags.ADD : Flags.SUB, 2, ax, delta, r);
        long flags = Flags.status(c) & (OF | SF | ZF | PF);
        Flags.setStatus(c, flags | (adjust ? CF | AF : 0));
        c.writeReg(RAX, 2, r & 0xFF0F);
    }

    /** AAM: AH = AL / imm, AL = AL mod imm; #DE for 0. Undefined OF, AF, CF: cleared. */
    private static void aam(Cpu c, int base) {
        if (base == 0) throw c.fault(EXC_DE);
        int al = (int) c.readReg(RAX, 1);
        int r = al % base;
        c.writeReg(RAX, 2, (al / base) << 8 | r);
        Flags.setLogic(c, 1, r);
    }

    /** AAD: AL = (AL + AH * imm) & FFH, AH = 0. Undefined OF, AF, CF: those of the byte addition. */
    private static void aad(Cpu c, int base) {
        int al = (int) c.readReg(RAX, 1);
        int product = (int) (c.readReg(AH, 1) * base) & 0xFF;
        int sum = al + product;
        c.writeReg(RAX, 2, sum & 0xFF);
        Flags.set(c, Flags.ADD, 1, al, product, sum);
    }

    // ---- the frequent operations, also dispatched directly by Interpreter.execute ----

    /** The hot-dispatch index for this instruction's operation and form, or 0. */
    static int hot(Insn i) {
        return switch (i.op & 0xFF) {
            case MOV_E_G, MOV_E_G + 1 -> i.rm >= 0 ? Interpreter.H_MOV_REG_TO_REG : Interpreter.H_MOV_STORE;
            case MOV_G_E, MOV_G_E + 1 -> i.rm >= 0 ? Interpreter.H_MOV_REG_FROM_REG : Interpreter.H_MOV_LOAD;
            case MOV_R_I, MOV_R_I + 1 -> Interpreter.H_MOV_IMM_TO_REG;
            case MOV_E_I, MOV_E_I + 1 -> Interpreter.H_MOV_IMM;
            case LEA -> Interpreter.H_LEA;
            case MOVZX_B -> Interpreter.H_MOVZX8;
            case MOVZX_W -> Interpreter.H_MOVZX16;
            case MOVSX_B -> Interpreter.H_MOVSX8;
            case MOVSX_W -> Interpreter.H_MOVSX16;
            case CMOV -> Interpreter.H_CMOV;
            case SETCC -> Interpreter.H_SETCC;
            default -> 0;
        };
    }

    /** MOV Ev, Gv with a register destination. */
    static void movRegToReg(Cpu c, Insn i) {
        c.writeReg(i.rm, i.opSize, c.readReg(i.reg, i.opSize));
    }

    /** MOV Gv, Ev with a register source. */
    static void movRegFromReg(Cpu c, Insn i) {
        c.writeReg(i.reg, i.opSize, c.readReg(i.rm, i.opSize));
    }

    static void movStore(Cpu c, Insn i) {
        c.write(i.seg, Operands.ea(c, i), i.opSize, c.readReg(i.reg, i.opSize));
    }

    static void movLoad(Cpu c, Insn i) {
        c.writeReg(i.reg, i.opSize, c.read(i.seg, Operands.ea(c, i), i.opSize));
    }

    static void movImmToReg(Cpu c, Insn i) {
        c.writeReg(i.reg, i.opSize, i.imm);
    }

    /** MOV Ev, Iz (C6/C7 /0). */
    static void movImm(Cpu c, Insn i) {
        Operands.writeRm(c, i, i.opSize, i.imm);
    }

    static void lea(Cpu c, Insn i) {
        c.writeReg(i.reg, i.opSize, Operands.ea(c, i));
    }

    static void movzx8(Cpu c, Insn i) {
        c.writeReg(i.reg, i.opSize, Operands.readRm(c, i, 1));
    }

    static void movzx16(Cpu c, Insn i) {
        c.writeReg(i.reg, i.opSize, Operands.readRm(c, i, 2));
    }

    static void movsx8(Cpu c, Insn i) {
        c.writeReg(i.reg, i.opSize, Operands.signExtend(Operands.readRm(c, i, 1), 1));
    }

    static void movsx16(Cpu c, Insn i) {
        c.writeReg(i.reg, i.opSize, Operands.signExtend(Operands.readRm(c, i, 2), 2));
    }

    /**
     * CMOVcc: the source is read (and may fault) even when the condition is false; a 32-bit
     * destination is zero-extended either way (SDM Vol. 2A, CMOVcc).
     */
    static void cmov(Cpu c, Insn i) {
        int size = i.opSize;
        long v = Operands.readRm(c, i, size);
        if (Flags.cond(c, i.opcode & 0xF)) c.writeReg(i.reg, size, v);
        else if (size == 4) c.writeReg(i.reg, 4, c.gpr[i.reg]);
    }

    static void setcc(Cpu c, Insn i) {
        Operands.writeRm(c, i, 1, Flags.cond(c, i.opcode & 0xF) ? 1 : 0);
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
