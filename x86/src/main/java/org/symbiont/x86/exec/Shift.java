package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.F_BYTE;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Shifts and rotates: group 2 (ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR by an immediate, by 1 or by
 * CL) and the double shifts SHLD and SHRD (SDM Vol. 2B, RCL/RCR/ROL/ROR, SAL/SAR/SHL/SHR,
 * SHLD, SHRD).
 *
 * <p>The count is masked to 5 bits, or 6 with a 64-bit operand. A masked count of 0 changes no
 * flag, but the destination is still written (a 32-bit register is zero-extended, and a memory
 * operand needs write access, as on hardware). Flags the SDM leaves undefined follow the AMD
 * processors (measured on Zen 4): OF uses the count-1 formula for every count, AF is set by
 * SHL/SHR/SAR/SHLD/SHRD, and the 16-bit SHLD/SHRD with counts above 16 behave as described at
 * {@link #doubleShift}. None of these instructions accepts LOCK.
 */
public final class Shift {
    private Shift() {}

    // Group 2 members, in ModRM.reg order (/6 SAL is an alias of /4 SHL).
    static final int ROL = 0, ROR = 1, RCL = 2, RCR = 3, SHL = 4, SHR = 5, SAR = 7;
    private static final String[] NAMES = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"};

    // Where the count of a group-2 operation comes from.
    private static final int COUNT_IMM = 0, COUNT_ONE = 1, COUNT_CL = 2;
    private static final String[] COUNT_NAMES = {"Ib", "1", "CL"};

    private static final int SHLD_IMM = 64, SHLD_CL = 65, SHRD_IMM = 66, SHRD_CL = 67;

    /** Operation index of a group-2 member: kind in bits 3..5, count source in bits 1..2, byte form in bit 0. */
    private static int group2Op(int kind, int countSource, boolean byteOp) {
        return Families.op(Families.SHIFT, kind << 3 | countSource << 1 | (byteOp ? 1 : 0));
    }

    private static int op(int index) {
        return Families.op(Families.SHIFT, index);
    }

    static void register(OpcodeTable t) {
        for (int kind = 0; kind < 8; kind++) {
            if (kind == 6) continue; // SAL: registered below as SHL
            for (int src = COUNT_IMM; src <= COUNT_CL; src++) {
                t.define(group2Op(kind, src, true), NAMES[kind] + " Eb," + COUNT_NAMES[src], F_BYTE);
                t.define(group2Op(kind, src, false), NAMES[kind] + " Ev," + COUNT_NAMES[src], 0);
            }
        }
        for (int reg = 0; reg < 8; reg++) {
            int kind = reg == 6 ? SHL : reg;
            t.at(MAP_1, 0xC0).reg(reg).is(group2Op(kind, COUNT_IMM, true));
            t.at(MAP_1, 0xC1).reg(reg).is(group2Op(kind, COUNT_IMM, false));
            t.at(MAP_1, 0xD0).reg(reg).is(group2Op(kind, COUNT_ONE, true));
            t.at(MAP_1, 0xD1).reg(reg).is(group2Op(kind, COUNT_ONE, false));
            t.at(MAP_1, 0xD2).reg(reg).is(group2Op(kind, COUNT_CL, true));
            t.at(MAP_1, 0xD3).reg(reg).is(group2Op(kind, COUNT_CL, false));
        }
        t.define(op(SHLD_IMM), "shld Ev,Gv,Ib", 0);
        t.define(op(SHLD_CL), "shld Ev,Gv,CL", 0);
        t.define(op(SHRD_IMM), "shrd Ev,Gv,Ib", 0);
        t.define(op(SHRD_CL), "shrd Ev,Gv,CL", 0);
        t.at(MAP_0F, 0xA4).is(op(SHLD_IMM));
        t.at(MAP_0F, 0xA5).is(op(SHLD_CL));
        t.at(MAP_0F, 0xAC).is(op(SHRD_IMM));
        t.at(MAP_0F, 0xAD).is(op(SHRD_CL));
    }

    static void exec(Cpu c, Insn i) {
        int idx = i.op & 0xFF;
        if (idx < 64) {
            int rawCount = switch ((idx >>> 1) & 3) {
                case COUNT_IMM -> (int) i.imm;
                case COUNT_ONE -> 1;
                default -> (int) c.gpr[RCX];
            };
            group2(c, i, idx >>> 3, rawCount);
            return;
        }
        switch (idx) {
            case SHLD_IMM -> doubleShift(c, i, true, (int) i.imm);
            case SHLD_CL -> doubleShift(c, i, true, (int) c.gpr[RCX]);
            case SHRD_IMM -> doubleShift(c, i, false, (int) i.imm);
            case SHRD_CL -> doubleShift(c, i, false, (int) c.gpr[RCX]);
            default -> throw c.ud();
        }
    }

    private static int maskCount(int rawCount, int size) {
        return rawCount & (size == 8 ? 63 : 31);
    }

    private static void group2(Cpu c, Insn i, int kind, int rawCount) {
        int size = i.opSize;
        int count = maskCount(rawCount, size);
        // RCL/RCR rotate through CF, which must be read before anything changes.
        boolean carryIn = (kind == RCL || kind == RCR) && count != 0 && Flags.cf(c);
        long a, r;
        if (i.rm >= 0) {
            a = c.readReg(i.rm, size);
            r = compute(kind, size, a, count, carryIn);
            c.writeReg(i.rm, size, r);
        } else {
            long la = Operands.linear(c, i, size, Cpu.ACCESS_WRITE);
            a = c.readL(i.seg, la, size);
            r = compute(kind, size, a, count, carryIn);
            c.writeL(i.seg, la, size, r);
        }
        if (count == 0) return;
        switch (kind) {
            case SHL -> Flags.set(c, Flags.SHL, size, a, count, r);
            case SHR -> Flags.set(c, Flags.SHR, size, a, count, r);
            case SAR -> Flags.set(c, Flags.SAR, size, a, count, r);
            default -> setRotateFlags(c, kind, size, a, count, r, carryIn);
        }
    }

    /** The result of a group-2 operation on the zero-extended operand {@code a}. */
    static long compute(int kind, int size, long a, int count, boolean carryIn) {
        int bits = size * 8;
        long m = Flags.mask(size);
        return switch (kind) {
            case ROL -> {
                int k = count & (bits - 1);
                yield k == 0 ? a : ((a << k) | (a >>> (bits - k))) & m;
            }
            case ROR -> {
                int k = count & (bits - 1);
                yield k == 0 ? a : ((a >>> k) | (a << (bits - k))) & m;
            }
            case RCL -> {
                int k = throughCarryCount(count, bits);
                if (k == 0) yield a;
                long cin = carryIn ? 1L : 0;
                yield ((a << k) | (cin << (k - 1)) | shiftRight(a, bits - k + 1)) & m;
            }
            case RCR -> {
                int k = throughCarryCount(count, bits);
                if (k == 0) yield a;
                long cin = carryIn ? 1L : 0;
                yield ((a >>> k) | (cin << (bits - k)) | shiftLeft(a, bits - k + 1)) & m;
            }
            case SHL -> (a << count) & m;
            case SHR -> a >>> count;
            default -> (Operands.signExtend(a, size) >> count) & m; // SAR
        };
    }

    /** RCL/RCR rotate over size + 1 bits: 8- and 16-bit counts are taken modulo 9 and 17. */
    private static int throughCarryCount(int count, int bits) {
        return bits <= 16 ? count % (bits + 1) : count;
    }

    private static long shiftRight(long v, int n) {
        return n >= 64 ? 0 : v >>> n;
    }

    private static long shiftLeft(long v, int n) {
        return n >= 64 ? 0 : v << n;
    }

    /**
     * Rotates change only CF and OF. CF is the last bit rotated out (into CF); OF, defined by the
     * SDM for a count of 1, is MSB(result) XOR CF for left rotates and the XOR of the two top
     * result bits for right rotates, which AMD processors apply for every nonzero count.
     */
    private static void setRotateFlags(Cpu c, int kind, int size, long a, int count, long r, boolean carryIn) {
        int bits = size * 8;
        long sign = 1L << (bits - 1);
        boolean cf = switch (kind) {
            case ROL -> (r & 1) != 0;
            case ROR -> (r & sign) != 0;
            case RCL -> {
                int k = throughCarryCount(count, bits);
                yield k == 0 ? carryIn : ((a >>> (bits - k)) & 1) != 0;
            }
            default -> { // RCR
                int k = throughCarryCount(count, bits);
                yield k == 0 ? carryIn : ((a >>> (k - 1)) & 1) != 0;
            }
        };
        boolean of = kind == ROL || kind == RCL ? ((r & sign) != 0) != cf : ((r ^ r << 1) & sign) != 0;
        long f = Flags.status(c) & ~(CF | OF);
        if (cf) f |= CF;
        if (of) f |= OF;
        Flags.setStatus(c, f);
    }

    /**
     * SHLD/SHRD: shifts the destination, filling from the source register. With a 16-bit operand
     * and a count of 16..31 the SDM leaves result and flags undefined; this follows AMD processors,
     * which shift the 48-bit value dest:src:src (SHLD) or src:src:dest (SHRD) and then report
     * CF = 0 for counts above 16; SHLD also reports OF = 0 above 16 and OF = CF at 16. (Intel
     * processors shift dest:src:dest instead.)
     */
    private static void doubleShift(Cpu c, Insn i, boolean left, int rawCount) {
        int size = i.opSize;
        int count = maskCount(rawCount, size);
        long b = c.readReg(i.reg, size);
        long a, r;
        if (i.rm >= 0) {
            a = c.readReg(i.rm, size);
            r = doubleResult(left, size, a, b, count);
            c.writeReg(i.rm, size, r);
        } else {
            long la = Operands.linear(c, i, size, Cpu.ACCESS_WRITE);
            a = c.readL(i.seg, la, size);
            r = doubleResult(left, size, a, b, count);
            c.writeL(i.seg, la, size, r);
        }
        if (count == 0) return;
        // CF is the last bit shifted out of the destination, as for SHL/SHR of a by the count.
        Flags.set(c, left ? Flags.SHL : Flags.SHR, size, a, count, r);
        if (left && size == 2 && count >= 16) {
            long f = Flags.status(c) & ~OF;
            if (count == 16 && (f & CF) != 0) f |= OF;
            Flags.setStatus(c, f);
        }
    }

    static long doubleResult(boolean left, int size, long a, long b, int count) {
        if (count == 0) return a;
        int bits = size * 8;
        long m = Flags.mask(size);
        if (bits == 16 && count > 16) {
            // The bits beyond the source come from the source again (AMD).
            int k = count - 16;
            return (left ? (b << k) | (b >>> (16 - k)) : (b >>> k) | (b << (16 - k))) & m;
        }
        return left ? ((a << count) | shiftRight(b, bits - count)) & m
                : ((a >>> count) | shiftLeft(b, bits - count)) & m;
    }
}
