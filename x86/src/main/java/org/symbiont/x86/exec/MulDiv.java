package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.F_BYTE;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Multiplication and division: MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV at 8 to
 * 64 bits (SDM Vol. 2A/2B, DIV, IDIV, IMUL, MUL). The one-operand forms use AX (8-bit) or
 * rDX:rAX; division raises #DE when the divisor is 0 or the quotient does not fit.
 *
 * <p>Flags: after MUL/IMUL, CF = OF = the high half is significant; SF, ZF and PF (undefined)
 * come from the low half and AF is cleared. After DIV/IDIV all six are undefined; this keeps CF
 * and OF, clears SF, ZF and PF and sets AF, as AMD processors do.
 */
public final class MulDiv {
    private MulDiv() {}

    // Group 3 members /4../7; the index's low bit selects the full-size form.
    private static final int MUL = 0, IMUL = 2, DIV = 4, IDIV = 6;
    private static final int IMUL_G_E = 8, IMUL_G_E_I = 9;

    private static int op(int index) {
        return Families.op(Families.MULDIV, index);
    }

    static void register(OpcodeTable t) {
        String[] names = {"mul", "imul", "div", "idiv"};
        for (int k = 0; k < 4; k++) {
            t.define(op(2 * k), names[k] + " Eb", F_BYTE);
            t.define(op(2 * k + 1), names[k] + " Ev", 0);
            t.at(MAP_1, 0xF6).reg(4 + k).is(op(2 * k));
            t.at(MAP_1, 0xF7).reg(4 + k).is(op(2 * k + 1));
        }
        t.define(op(IMUL_G_E), "imul Gv,Ev", 0);
        t.define(op(IMUL_G_E_I), "imul Gv,Ev,I", 0);
        t.at(MAP_0F, 0xAF).is(op(IMUL_G_E));
        t.at(MAP_1, 0x69).is(op(IMUL_G_E_I));
        t.at(MAP_1, 0x6B).is(op(IMUL_G_E_I));
    }

    static void exec(Cpu c, Insn i) {
        int size = i.opSize;
        switch (i.op & 0xFF) {
            case MUL, MUL + 1 -> multiplyAccumulator(c, size, Operands.readRm(c, i, size), false);
            case IMUL, IMUL + 1 -> multiplyAccumulator(c, size, Operands.readRm(c, i, size), true);
            case DIV, DIV + 1 -> divideUnsigned(c, size, Operands.readRm(c, i, size));
            case IDIV, IDIV + 1 -> divideSigned(c, size, Operands.readRm(c, i, size));
            case IMUL_G_E -> multiplyTruncating(c, i, size, c.readReg(i.reg, size), Operands.readRm(c, i, size));
            case IMUL_G_E_I -> multiplyTruncating(c, i, size, Operands.readRm(c, i, size), i.imm);
            default -> throw c.ud();
        }
    }

    /** One-operand MUL/IMUL: AX = AL * src, or rDX:rAX = rAX * src. */
    private static void multiplyAccumulator(Cpu c, int size, long src, boolean signed) {
        long a = c.readReg(RAX, size);
        long low, high;
        boolean significant;
        switch (size) {
            case 1 -> {
                long p = signed ? Operands.signExtend(a, 1) * Operands.signExtend(src, 1) : a * src;
                c.writeReg(RAX, 2, p);
                low = p;
                significant = signed ? p != Operands.signExtend(p, 1) : (p & 0xFF00) != 0;
                Flags.set(c, Flags.MUL, 1, 0, significant ? 1 : 0, low);
                return;
            }
            case 8 -> {
                low = a * src;
                high = signed ? Math.multiplyHigh(a, src) : Math.unsignedMultiplyHigh(a, src);
                significant = signed ? high != low >> 63 : high != 0;
            }
            default -> {
                long p = signed ? Operands.signExtend(a, size) * Operands.signExtend(src, size) : a * src;
                int bits = size * 8;
                low = p;
                high = p >> bits;
                significant = signed ? p != Operands.signExtend(p, size) : (p >>> bits) != 0;
            }
        }
        c.writeReg(RAX, size, low);
        c.writeReg(RDX, size, high);
        Flags.set(c, Flags.MUL, size, 0, significant ? 1 : 0, low);
    }

    /** Two- and three-operand IMUL: the product truncated to the operand size goes to Gv. */
    private static void multiplyTruncating(Cpu c, Insn i, int size, long x, long y) {
        long low;
        boolean significant;
        if (size == 8) {
            low = x * y;
            significant = Math.multiplyHigh(x, y) != low >> 63;
        } else {
            long p = Operands.signExtend(x, size) * Operands.signExtend(y, size);
            low = p;
            significant = p != Operands.signExtend(p, size);
        }
        c.writeReg(i.reg, size, low);
        Flags.set(c, Flags.MUL, size, 0, significant ? 1 : 0, low);
    }

    /** DIV: AL, AH = AX / src, AX % src; or rAX, rDX = rDX:rAX / src, rDX:rAX % src. */
    private static void divideUnsigned(Cpu c, int size, long divisor) {
        if (divisor == 0) throw c.fault(EXC_DE);
        long q, r;
        if (size == 8) {
            long hi = c.gpr[RDX], lo = c.gpr[RAX];
            if (hi == 0) {
                q = Long.divideUnsigned(lo, divisor);
                r = lo - q * divisor;
            } else {
                if (Long.compareUnsigned(hi, divisor) >= 0) throw c.fault(EXC_DE);
                q = divide128(hi, lo, divisor);
                r = lo - q * divisor;
            }
        } else {
            long dividend = dividend(c, size);
            q = Long.divideUnsigned(dividend, divisor);
            r = dividend - q * divisor;
            if ((q & ~Flags.mask(size)) != 0) throw c.fault(EXC_DE);
        }
        storeQuotient(c, size, q, r);
    }

    /** IDIV: as DIV with signed operands; the quotient rounds toward zero, the remainder takes the dividend's sign. */
    private static void divideSigned(Cpu c, int size, long src) {
        long divisor = Operands.signExtend(src, size);
        if (divisor == 0) throw c.fault(EXC_DE);
        long q, r;
        if (size == 8) {
            long hi = c.gpr[RDX], lo = c.gpr[RAX];
            if (hi == lo >> 63) {
                // The dividend fits in 64 bits; only MIN / -1 overflows.
                if (lo == Long.MIN_VALUE && divisor == -1) throw c.fault(EXC_DE);
                q = lo / divisor;
                r = lo % divisor;
            } else {
                boolean negativeDividend = hi < 0;
                if (negativeDividend) {
                    // Negate the 128-bit dividend.
                    lo = -lo;
                    hi = lo == 0 ? -hi : ~hi;
                }
                long magnitude = divisor < 0 ? -divisor : divisor; // 2^63 stays 0x8000... (unsigned)
                if (Long.compareUnsigned(hi, magnitude) >= 0) throw c.fault(EXC_DE);
                long uq = divide128(hi, lo, magnitude);
                long ur = lo - uq * magnitude;
                boolean negativeQuotient = negativeDividend != divisor < 0;
                // The quotient's magnitude may be at most 2^63 - 1, or 2^63 when negative.
                if (Long.compareUnsigned(uq, negativeQuotient ? Long.MIN_VALUE : Long.MAX_VALUE) > 0) {
                    throw c.fault(EXC_DE);
                }
                q = negativeQuotient ? -uq : uq;
                r = negativeDividend ? -ur : ur;
            }
        } else {
            long dividend = size == 1 ? Operands.signExtend(c.gpr[RAX], 2) : Operands.signExtend(dividend(c, size), 2 * size);
            if (dividend == Long.MIN_VALUE && divisor == -1) throw c.fault(EXC_DE);
            q = dividend / divisor;
            r = dividend % divisor;
            if (q != Operands.signExtend(q, size)) throw c.fault(EXC_DE);
        }
        storeQuotient(c, size, q, r);
    }

    /** The double-size dividend of an 8-, 16- or 32-bit division, zero-extended. */
    private static long dividend(Cpu c, int size) {
        if (size == 1) return c.gpr[RAX] & 0xFFFF;
        int bits = size * 8;
        return c.readReg(RDX, size) << bits | c.readReg(RAX, size);
    }

    private static void storeQuotient(Cpu c, int size, long q, long r) {
        if (size == 1) {
            c.writeReg(RAX, 2, (q & 0xFF) | (r & 0xFF) << 8);
        } else {
            c.writeReg(RAX, size, q);
            c.writeReg(RDX, size, r);
        }
        Flags.setStatus(c, (Flags.status(c) & (CF | OF)) | AF);
    }

    /**
     * Unsigned division of the 128-bit value {@code hi:lo} by {@code d}, for {@code hi < d}
     * (unsigned), so that the quotient fits in 64 bits: Knuth's algorithm D with two 32-bit
     * quotient digits (TAOCP Vol. 2, 4.3.1). The remainder is {@code lo - q * d}.
     */
    static long divide128(long hi, long lo, long d) {
        // Normalize so that the divisor's top bit is set; hi < d keeps the shifted hi below d.
        int s = Long.numberOfLeadingZeros(d);
        long v = d << s;
        long v1 = v >>> 32, v0 = v & 0xFFFF_FFFFL;
        long u32 = s == 0 ? hi : hi << s | lo >>> (64 - s);
        long u10 = lo << s;
        long u1 = u10 >>> 32, u0 = u10 & 0xFFFF_FFFFL;
        long q1 = quotientDigit(u32, u1, v1, v0);
        long u21 = (u32 << 32 | u1) - q1 * v;
        long q0 = quotientDigit(u21, u0, v1, v0);
        return q1 << 32 | q0;
    }

    /**
     * One 32-bit digit of the quotient of {@code (u << 32 | next) / v}, where {@code v = v1:v0}
     * is normalized and {@code u < v}: estimate from the top digits, then correct (at most twice).
     */
    private static long quotientDigit(long u, long next, long v1, long v0) {
        long q = Long.divideUnsigned(u, v1);
        long rhat = u - q * v1;
        while (Long.compareUnsigned(q, 0xFFFF_FFFFL) > 0
                || Long.compareUnsigned(q * v0, rhat << 32 | next) > 0) {
            q--;
            rhat += v1;
            if (Long.compareUnsigned(rhat, 0xFFFF_FFFFL) > 0) break;
        }
        return q;
    }
}
