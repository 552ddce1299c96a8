package org.symbiont.x86.exec;

import static org.symbiont.x86.exec.Sse.*;

import org.symbiont.x86.Cpu;

/**
 * IEEE 754 binary32/binary64 arithmetic with the x86 SSE rules (SDM Vol. 1, chapters 4.8-4.9
 * and 11.5): the four MXCSR rounding modes, DAZ and FTZ, tininess detected after rounding, the
 * SSE NaN rules (an SNaN is quieted, the first source operand's NaN wins, invalid operations give
 * the negative default QNaN) and the exception flags exactly as the hardware sets them.
 *
 * <p>Values travel as raw bits: binary32 in the low 32 bits of a {@code long} (or an {@code int}),
 * binary64 in a {@code long}. The rounding mode, DAZ, FTZ and masks come from {@code cpu.mxcsr};
 * detected exceptions are OR'ed into its flag bits, which {@link Sse#begin}/{@link Sse#end} turn
 * into sticky flags or a #XM.
 *
 * <p>Per element, the flags follow the hardware's priorities: a NaN operand suppresses the
 * denormal-operand flag, invalid and divide-by-zero suppress it too; an unmasked overflow or
 * underflow reports OE or UE alone (no PE); with UE masked, underflow means tiny and inexact,
 * and FTZ flushes every tiny result (exact or not) to zero with UE and PE.
 *
 * <p>Fast path: with normal operands and a result safely inside the normal range the host's
 * round-to-nearest-even arithmetic gives the result, and an exact error term (two-sum, or an FMA
 * residual) tells whether it is inexact and on which side the exact value lies, which is all the
 * directed rounding modes need (one step to the neighbouring value). binary32 operations run in
 * binary64, whose 53 bits make the final rounding to 24 bits correct (no double-rounding error for
 * +, -, *, / and square root when p' >= 2p + 2). Everything else (denormal operands or results,
 * overflow, extreme operands) goes through {@link #roundPack}, which rounds an exact integer
 * significand.
 */
final class SoftFloat {
    private SoftFloat() {}

    static final int F32 = 0, F64 = 1;

    /** Arithmetic kinds, in the order of their operation indexes in {@link SseFloat}. */
    static final int ADD = 0, SUB = 1, MUL = 2, DIV = 3, MIN = 4, MAX = 5, SQRT = 6;

    static final long MASK32 = 0xFFFF_FFFFL;
    static final long DEFAULT_NAN32 = 0xFFC0_0000L;
    static final long DEFAULT_NAN64 = 0xFFF8_0000_0000_0000L;

    private static final long SIGN32 = 0x8000_0000L, EXP32 = 0x7F80_0000L, QUIET32 = 0x0040_0000L;
    private static final long SIGN64 = 0x8000_0000_0000_0000L, EXP64 = 0x7FF0_0000_0000_0000L;
    private static final long FRAC64 = 0x000F_FFFF_FFFF_FFFFL, QUIET64 = 0x0008_0000_0000_0000L;

    // ---- format helpers ----

    private static long signMask(int fmt) { return fmt == F64 ? SIGN64 : SIGN32; }
    private static long expMask(int fmt) { return fmt == F64 ? EXP64 : EXP32; }
    private static long quietBit(int fmt) { return fmt == F64 ? QUIET64 : QUIET32; }

    static boolean isNaN(int fmt, long x) {
        return (x & ~signMask(fmt)) > expMask(fmt);
    }

    static boolean isSNaN(int fmt, long x) {
        return isNaN(fmt, x) && (x & quietBit(fmt)) == 0;
    }

    static boolean isDenormal(int fmt, long x) {
        return (x & expMask(fmt)) == 0 && (x & ~signMask(fmt)) != 0;
    }

    private static double toDouble(int fmt, long x) {
        return fmt == F64 ? Double.longBitsToDouble(x) : Float.intBitsToFloat((int) x);
    }

    private static int rounding(Cpu c) {
        return (c.mxcsr >>> RC_SHIFT) & 3;
    }

    /** The result of an SSE operation with NaN operands: the first NaN, quieted; IE for an SNaN. */
    private static long propagateNaN(Cpu c, int fmt, long a, long b) {
        if (isSNaN(fmt, a) || isSNaN(fmt, b)) c.mxcsr |= IE;
        return (isNaN(fmt, a) ? a : b) | quietBit(fmt);
    }

    private static long invalid(Cpu c, int fmt) {
        c.mxcsr |= IE;
        return fmt == F64 ? DEFAULT_NAN64 : DEFAULT_NAN32;
    }

    /** A denormal source operand becomes a zero of the same sign under DAZ (no DE then). */
    private static long daz(Cpu c, int fmt, long x) {
        return isDenormal(fmt, x) && (c.mxcsr & DAZ) != 0 ? x & signMask(fmt) : x;
    }

    // ---- arithmetic entry points ----

    /** ADD, SUB, MUL, DIV, MIN, MAX of two binary32 values, or SQRT of {@code b}. */
    static int arith32(Cpu c, int kind, int a, int b) {
        switch (kind) {
            case MIN, MAX -> { return (int) minMax(c, F32, a & MASK32, b & MASK32, kind == MAX); }
            case SQRT -> { return (int) sqrt32(c, b & MASK32); }
            default -> {
                if (normal32(a) && normal32(b)) return (int) compute32(c, kind, a, b);
                return (int) slow(c, F32, kind, a & MASK32, b & MASK32);
            }
        }
    }

    /** ADD, SUB, MUL, DIV, MIN, MAX of two binary64 values, or SQRT of {@code b}. */
    static long arith64(Cpu c, int kind, long a, long b) {
        int ea = (int) (a >>> 52) & 0x7FF, eb = (int) (b >>> 52) & 0x7FF;
        double x = Double.longBitsToDouble(a), y = Double.longBitsToDouble(b);
        switch (kind) {
            case MIN, MAX -> { return minMax(c, F64, a, b, kind == MAX); }
            case SQRT -> { return sqrt64(c, b); }
            case ADD, SUB -> {
                // Operands below 2^977: two-sum cannot overflow.
                if (ea - 1 >= 0 && ea - 1 < 2000 && eb - 1 >= 0 && eb - 1 < 2000) {
                    if (kind == SUB) y = -y;
                    double r = x + y;
                    if (Math.abs(r) > Double.MIN_NORMAL) return finish64(c, r, twoSumDirection(x, y, r));
                }
            }
            case MUL -> {
                if (normal64(ea) && normal64(eb)) {
                    double r = x * y, ar = Math.abs(r);
                    // Above 2^-960 the FMA residual of the product is exact.
                    if (ar > 0x1p-960 && ar < Double.MAX_VALUE) return finish64(c, r, sign(Math.fma(x, y, -r)));
                }
            }
            default -> {
                // With |x| >= 2^-960 the division residual x - r*y is exact.
                if (normal64(ea) && normal64(eb) && ea >= 63) {
                    double r = x / y, ar = Math.abs(r);
                    if (ar > Double.MIN_NORMAL && ar < Double.MAX_VALUE) {
                        return finish64(c, r, sign(Math.fma(-r, y, x)) * sign(y));
                    }
                }
            }
        }
        return slow(c, F64, kind, a, b);
    }

    private static boolean normal32(int x) {
        int e = (x >>> 23) & 0xFF;
        return e != 0 && e != 0xFF;
    }

    private static boolean normal64(int biasedExponent) {
        return biasedExponent != 0 && biasedExponent != 0x7FF;
    }

    private static int sign(double v) {
        return v > 0 ? 1 : v < 0 ? -1 : 0;
    }

    /** Sign of the rounding error of {@code s = a + b} (Knuth's two-sum, exact without overflow). */
    private static int twoSumDirection(double a, double b, double s) {
        double bb = s - a;
        return sign((a - (s - bb)) + (b - bb));
    }

    /** binary32 ADD/SUB/MUL/DIV of finite operands, computed in binary64 and rounded once more. */
    private static long compute32(Cpu c, int kind, int a, int b) {
        double x = Float.intBitsToFloat(a), y = Float.intBitsToFloat(b);
        double d;
        int dir;
        switch (kind) {
            case ADD -> { d = x + y; dir = twoSumDirection(x, y, d); }
            case SUB -> { d = x - y; dir = twoSumDirection(x, -y, d); }
            case MUL -> { d = x * y; dir = 0; } // 48-bit product: exact
            default -> { d = x / y; dir = sign(Math.fma(-d, y, x)) * sign(y); }
        }
        return round32(c, d, dir);
    }

    /**
     * Rounds to binary32 the exact value that lies just beside {@code d}: above it if
     * {@code dir > 0}, below if {@code dir < 0}, equal if 0 (the residual is far smaller than a
     * binary32 ulp). Sets PE, UE, OE as needed.
     */
    static long round32(Cpu c, double d, int dir) {
        float f = (float) d;
        float af = Math.abs(f);
        if (af > Float.MIN_NORMAL && af < Float.MAX_VALUE) {
            if (d != f) dir = d > f ? 1 : -1;
            if (dir == 0) return Float.floatToRawIntBits(f) & MASK32;
            c.mxcsr |= PE;
            int mode = rounding(c);
            if (mode != RC_NEAREST) f = adjust(f, dir, mode);
            return Float.floatToRawIntBits(f) & MASK32;
        }
        if (d == 0) return rounding(c) == RC_DOWN ? SIGN32 : 0; // exact cancellation in ADD/SUB
        long bits = Double.doubleToRawLongBits(d);
        boolean neg = bits < 0;
        int e = (int) (bits >>> 52) & 0x7FF;
        long sig = e == 0 ? bits & FRAC64 : (bits & FRAC64) | (1L << 52);
        int exp = e == 0 ? -1074 : e - 1075;
        // Two extra bits carry the side of the residual: it lies strictly inside half an ulp of d.
        return roundPack(c, F32, neg, (sig << 2) + (neg ? -dir : dir), exp - 2);
    }

    /** Completes a binary64 fast-path result: PE, and the directed modes' one-ulp step. */
    private static long finish64(Cpu c, double r, int dir) {
        if (dir != 0) {
            c.mxcsr |= PE;
            int mode = rounding(c);
            if (mode != RC_NEAREST) r = adjust(r, dir, mode);
        }
        return Double.doubleToRawLongBits(r);
    }

    /** Moves a round-to-nearest result to the directed mode's result, the exact value lying on side {@code dir}. */
    private static double adjust(double r, int dir, int mode) {
        return switch (mode) {
            case RC_DOWN -> dir < 0 ? Math.nextDown(r) : r;
            case RC_UP -> dir > 0 ? Math.nextUp(r) : r;
            default -> dir < 0 && r > 0 ? Math.nextDown(r) : dir > 0 && r < 0 ? Math.nextUp(r) : r;
        };
    }

    private static float adjust(float r, int dir, int mode) {
        return switch (mode) {
            case RC_DOWN -> dir < 0 ? Math.nextDown(r) : r;
            case RC_UP -> dir > 0 ? Math.nextUp(r) : r;
            default -> dir < 0 && r > 0 ? Math.nextDown(r) : dir > 0 && r < 0 ? Math.nextUp(r) : r;
        };
    }

    /** ADD/SUB/MUL/DIV with NaN, infinite, zero or denormal operands, or extreme binary64 operands or results. */
    private static long slow(Cpu c, int fmt, int kind, long a, long b) {
        if (isNaN(fmt, a) || isNaN(fmt, b)) return propagateNaN(c, fmt, a, b);
        boolean denormal = isDenormal(fmt, a) || isDenormal(fmt, b);
        a = daz(c, fmt, a);
        b = daz(c, fmt, b);
        if ((c.mxcsr & DAZ) != 0) denormal = false;
        long sign = signMask(fmt), inf = expMask(fmt);
        boolean negA = (a & sign) != 0, negB = ((b & sign) != 0) != (kind == SUB);
        long magA = a & ~sign, magB = b & ~sign;
        int de = denormal ? DE : 0;
        switch (kind) {
            case ADD, SUB -> {
                if (magA == inf || magB == inf) {
                    if (magA == inf && magB == inf && negA != negB) return invalid(c, fmt);
                    c.mxcsr |= de;
                    return (magA == inf ? negA : negB) ? sign | inf : inf;
                }
                c.mxcsr |= de;
                if (magA == 0 && magB == 0) {
                    boolean neg = negA == negB ? negA : rounding(c) == RC_DOWN;
                    return neg ? sign : 0;
                }
                if (magA == 0) return exact(c, fmt, negB, magB);
                if (magB == 0) return exact(c, fmt, negA, magA);
            }
            case MUL -> {
                long s = negA != negB ? sign : 0;
                if (magA == inf || magB == inf) {
                    if (magA == 0 || magB == 0) return invalid(c, fmt);
                    c.mxcsr |= de;
                    return s | inf;
                }
                c.mxcsr |= de;
                if (magA == 0 || magB == 0) return s;
            }
            default -> {
                long s = negA != negB ? sign : 0;
                if (magA == inf) {
                    if (magB == inf) return invalid(c, fmt);
                    c.mxcsr |= de;
                    return s | inf;
                }
                if (magB == inf) {
                    c.mxcsr |= de;
                    return s;
                }
                if (magB == 0) {
                    if (magA == 0) return invalid(c, fmt);
                    c.mxcsr |= ZE; // divide-by-zero takes priority over the denormal operand
                    return s | inf;
                }
                c.mxcsr |= de;
                if (magA == 0) return s;
            }
        }
        if (fmt == F32) return compute32(c, kind, (int) a, (int) b);
        return exact64(c, kind, negA, magA, negB, magB);
    }

    /** A finite nonzero value that is representable: itself, or if denormal the FTZ/underflow rules. */
    private static long exact(Cpu c, int fmt, boolean neg, long mag) {
        if ((mag & expMask(fmt)) != 0) return neg ? mag | signMask(fmt) : mag;
        return roundPack(c, fmt, neg, mag, fmt == F64 ? -1074 : -149);
    }

    /** binary64 ADD (SUB with negB flipped), MUL, DIV of finite nonzero magnitudes, exactly. */
    private static long exact64(Cpu c, int kind, boolean negA, long magA, boolean negB, long magB) {
        long sa = significand64(magA), sb = significand64(magB);
        int ea = exponent64(magA), eb = exponent64(magB);
        switch (kind) {
            case ADD, SUB -> {
                // Both significands with their top bit at bit 61; the smaller one shifted right
                // with the lost bits jammed into its lowest bit (they only ever act as sticky).
                int na = Long.numberOfLeadingZeros(sa) - 2, nb = Long.numberOfLeadingZeros(sb) - 2;
                sa <<= na;
                ea -= na;
                sb <<= nb;
                eb -= nb;
                if (ea < eb || (ea == eb && sa < sb)) {
                    long ts = sa; sa = sb; sb = ts;
                    int te = ea; ea = eb; eb = te;
                    boolean tn = negA; negA = negB; negB = tn;
                }
                int d = ea - eb;
                if (d >= 63) sb = 1;
                else if (d > 0) sb = (sb >>> d) | ((sb & ((1L << d) - 1)) != 0 ? 1 : 0);
                long sig = negA == negB ? sa + sb : sa - sb;
                if (sig == 0) return rounding(c) == RC_DOWN ? SIGN64 : 0;
                return roundPack(c, F64, negA, sig, ea);
            }
            case MUL -> {
                long hi = Math.multiplyHigh(sa, sb), lo = sa * sb;
                int e = ea + eb;
                if (hi == 0 && lo > 0) return roundPack(c, F64, negA != negB, lo, e);
                int n = hi == 0 ? 64 : 128 - Long.numberOfLeadingZeros(hi);
                int s = n - 62;
                long sig = (hi << (64 - s)) | (lo >>> s);
                if (lo << (64 - s) != 0) sig |= 1;
                return roundPack(c, F64, negA != negB, sig, e + s);
            }
            default -> {
                int na = Long.numberOfLeadingZeros(sa) - 11, nb = Long.numberOfLeadingZeros(sb) - 11;
                sa <<= na;
                sb <<= nb;
                // Restoring division: q = floor(sa * 2^62 / sb), 62 or 63 bits.
                long q = 0, r = sa;
                for (int k = 0; k < 63; k++) {
                    q <<= 1;
                    if (r >= sb) {
                        r -= sb;
                        q |= 1;
                    }
                    r <<= 1;
                }
                if (r != 0) q |= 1;
                return roundPack(c, F64, negA != negB, q, (ea - na) - (eb - nb) - 62);
            }
        }
    }

    private static long significand64(long mag) {
        return (mag & EXP64) == 0 ? mag : (mag & FRAC64) | (1L << 52);
    }

    private static int exponent64(long mag) {
        int e = (int) (mag >>> 52);
        return e == 0 ? -1074 : e - 1075;
    }

    /**
     * Rounds {@code sig * 2^exp} ({@code 0 < sig < 2^63}) to the format under MXCSR, setting PE,
     * UE and OE. A significand whose low bits were dropped must carry them jammed into bit 0 and
     * hold at least p + 2 bits, so that the jam never decides a rounding on its own.
     */
    static long roundPack(Cpu c, int fmt, boolean neg, long sig, int exp) {
        int p = fmt == F64 ? 53 : 24;
        int emin = fmt == F64 ? -1022 : -126;
        int bias = fmt == F64 ? 1023 : 127;
        int mx = c.mxcsr;
        int mode = (mx >>> RC_SHIFT) & 3;
        long signBits = neg ? signMask(fmt) : 0;
        int n = 64 - Long.numberOfLeadingZeros(sig);
        int e = exp + n - 1;
        // Tiny: below 2^emin after rounding to p bits with an unbounded exponent (SDM Vol. 1, 4.9.1.5).
        boolean tiny = e < emin && (e < emin - 1 || roundShift(sig, n - p, neg, mode) < (1L << p));
        int shift = Math.max(e, emin) - p + 1 - exp;
        long m = roundShift(sig, shift, neg, mode);
        boolean inexact = shift >= 64 || (shift > 0 && (sig & ((1L << shift) - 1)) != 0);
        long inf = expMask(fmt);
        // The exponent field absorbs a carry out of the significand (m == 2^p).
        long bits = e > bias ? inf : ((long) (Math.max(e, emin) + bias - 1) << (p - 1)) + m;
        if (bits >= inf) {
            // Unmasked: no result is delivered; PE still tells whether rounding to p bits was inexact.
            if ((mx & (OE << MASK_SHIFT)) == 0) {
                c.mxcsr |= inexact ? OE | PE : OE;
                return signBits | inf;
            }
            c.mxcsr |= OE | PE;
            boolean toInfinity = mode == RC_NEAREST || (mode == RC_UP && !neg) || (mode == RC_DOWN && neg);
            return signBits | (toInfinity ? inf : inf - 1);
        }
        if (tiny) {
            if ((mx & (UE << MASK_SHIFT)) == 0) {
                int precision = n - p;
                boolean inexactUnbounded = precision >= 64 || (precision > 0 && (sig & ((1L << precision) - 1)) != 0);
                c.mxcsr |= inexactUnbounded ? UE | PE : UE;
                return signBits | bits;
            }
            if ((mx & FTZ) != 0) {
                c.mxcsr |= UE | PE;
                return signBits;
            }
            if (inexact) c.mxcsr |= UE | PE;
            return signBits | bits;
        }
        if (inexact) c.mxcsr |= PE;
        return signBits | bits;
    }

    /** {@code sig * 2^-shift} rounded to an integer in the given mode ({@code sig > 0}). */
    private static long roundShift(long sig, int shift, boolean neg, int mode) {
        if (shift <= 0) return sig << -shift;
        if (shift >= 64) {
            // Below half a unit: only the directed mode away from zero gives 1.
            return (mode == RC_UP && !neg) || (mode == RC_DOWN && neg) ? 1 : 0;
        }
        long kept = sig >>> shift;
        long rem = sig & ((1L << shift) - 1);
        long half = 1L << (shift - 1);
        boolean up = switch (mode) {
            case RC_NEAREST -> rem > half || (rem == half && (kept & 1) != 0);
            case RC_DOWN -> neg && rem != 0;
            case RC_UP -> !neg && rem != 0;
            default -> false;
        };
        return up ? kept + 1 : kept;
    }

    // ---- square root ----

    private static long sqrt32(Cpu c, long x) {
        if (isNaN(F32, x)) return propagateNaN(c, F32, x, x);
        boolean denormal = isDenormal(F32, x);
        x = daz(c, F32, x);
        if ((x & ~SIGN32) == 0) return x; // sqrt(-0) = -0
        if ((x & SIGN32) != 0) return invalid(c, F32);
        if (denormal && (c.mxcsr & DAZ) == 0) c.mxcsr |= DE;
        if (x == EXP32) return x;
        double v = Float.intBitsToFloat((int) x);
        double d = Math.sqrt(v);
        return round32(c, d, sign(Math.fma(-d, d, v)));
    }

    private static long sqrt64(Cpu c, long x) {
        if (isNaN(F64, x)) return propagateNaN(c, F64, x, x);
        boolean denormal = isDenormal(F64, x);
        x = daz(c, F64, x);
        if ((x & ~SIGN64) == 0) return x;
        if ((x & SIGN64) != 0) return invalid(c, F64);
        if (denormal && (c.mxcsr & DAZ) == 0) c.mxcsr |= DE;
        if (x == EXP64) return x;
        double v = Double.longBitsToDouble(x);
        // The root never over- or underflows; scaling tiny operands by 2^1000 (exactly) keeps the
        // FMA residual exact, and the result is scaled back exactly.
        boolean scaled = ((x >>> 52) & 0x7FF) < 63;
        if (scaled) v *= 0x1p1000;
        double r = Math.sqrt(v);
        long bits = finish64(c, r, sign(Math.fma(-r, r, v)));
        return scaled ? Double.doubleToRawLongBits(Double.longBitsToDouble(bits) * 0x1p-500) : bits;
    }

    // ---- MIN, MAX, compares ----

    /**
     * MIN/MAX: the second operand if either is a NaN (IE for QNaN too) or both are zeros;
     * denormals under DAZ compare and return as zeros, also when returned beside a NaN (SDM
     * Vol. 2, MINPS/MAXPS; DAZ as the host applies it).
     */
    private static long minMax(Cpu c, int fmt, long a, long b, boolean max) {
        if (isNaN(fmt, a) || isNaN(fmt, b)) {
            c.mxcsr |= IE;
            return daz(c, fmt, b);
        }
        a = denormalOperand(c, fmt, a);
        b = denormalOperand(c, fmt, b);
        double x = toDouble(fmt, a), y = toDouble(fmt, b);
        return (max ? x > y : x < y) ? a : b;
    }

    /** DAZ or the DE flag for a non-NaN operand. */
    private static long denormalOperand(Cpu c, int fmt, long x) {
        if (isDenormal(fmt, x)) {
            if ((c.mxcsr & DAZ) != 0) return x & signMask(fmt);
            c.mxcsr |= DE;
        }
        return x;
    }

    /**
     * CMPPS/CMPSS/CMPPD/CMPSD predicate {@code imm8[2:0]}: EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD.
     * LT, LE, NLT, NLE signal IE for QNaNs as well; all signal it for SNaNs.
     */
    static boolean compare(Cpu c, int fmt, long a, long b, int predicate) {
        int pred = predicate & 7;
        if (isNaN(fmt, a) || isNaN(fmt, b)) {
            boolean signaling = (pred & 3) == 1 || (pred & 3) == 2;
            if (signaling || isSNaN(fmt, a) || isSNaN(fmt, b)) c.mxcsr |= IE;
            return pred >= 3 && pred <= 6;
        }
        double x = toDouble(fmt, denormalOperand(c, fmt, a)), y = toDouble(fmt, denormalOperand(c, fmt, b));
        return switch (pred) {
            case 0 -> x == y;
            case 1 -> x < y;
            case 2 -> x <= y;
            case 3 -> false;
            case 4 -> x != y;
            case 5 -> !(x < y);
            case 6 -> !(x <= y);
            default -> true;
        };
    }

    /**
     * COMISS/COMISD and UCOMISS/UCOMISD: ZF, PF, CF as RFLAGS bits (unordered 111, greater 000, less 001, equal
     * 100). COMIS signals IE for any NaN, UCOMIS only for SNaNs.
     */
    static long compareFlags(Cpu c, int fmt, long a, long b, boolean signalQuiet) {
        final long zf = 1L << 6, pf = 1L << 2, cf = 1L;
        if (isNaN(fmt, a) || isNaN(fmt, b)) {
            if (signalQuiet || isSNaN(fmt, a) || isSNaN(fmt, b)) c.mxcsr |= IE;
            return zf | pf | cf;
        }
        double x = toDouble(fmt, denormalOperand(c, fmt, a)), y = toDouble(fmt, denormalOperand(c, fmt, b));
        return x > y ? 0 : x < y ? cf : zf;
    }

    // ---- conversions ----

    /**
     * Floating point to a signed 32- or 64-bit integer, rounded by MXCSR or truncated. NaN and
     * out-of-range values give the integer indefinite (0x80000000, 0x8000000000000000) with IE.
     */
    static long toInt(Cpu c, int fmt, long x, boolean truncate, boolean quad) {
        long indefinite = quad ? Long.MIN_VALUE : 0x8000_0000L;
        if (isNaN(fmt, x)) {
            c.mxcsr |= IE;
            return indefinite;
        }
        double v = toDouble(fmt, daz(c, fmt, x));
        double r = switch (truncate ? RC_ZERO : rounding(c)) {
            case RC_NEAREST -> Math.rint(v);
            case RC_DOWN -> Math.floor(v);
            case RC_UP -> Math.ceil(v);
            default -> v < 0 ? Math.ceil(v) : Math.floor(v);
        };
        boolean inRange = quad ? r >= -0x1p63 && r < 0x1p63 : r >= -0x1p31 && r < 0x1p31;
        if (!inRange) {
            c.mxcsr |= IE;
            return indefinite;
        }
        if (r != v) c.mxcsr |= PE;
        return quad ? (long) r : (long) r & MASK32;
    }

    /** A signed integer to floating point, rounded by MXCSR (PE when inexact). */
    static long fromInt(Cpu c, int fmt, long v) {
        if (v == Long.MIN_VALUE) return fmt == F64 ? 0xC3E0_0000_0000_0000L : 0xDF00_0000L; // -2^63, exact
        long mag = Math.abs(v);
        if (mag < (fmt == F64 ? 1L << 53 : 1L << 24)) {
            return fmt == F64 ? Double.doubleToRawLongBits(v) : Float.floatToRawIntBits(v) & MASK32;
        }
        return roundPack(c, fmt, v < 0, mag, 0);
    }

    /** CVTSS2SD: exact, except that an SNaN is quieted (IE) and DAZ/DE apply. */
    static long widen(Cpu c, long x) {
        if (isNaN(F32, x)) {
            if (isSNaN(F32, x)) c.mxcsr |= IE;
            return (x & SIGN32) << 32 | EXP64 | QUIET64 | (x & 0x7F_FFFFL) << 29;
        }
        return Double.doubleToRawLongBits(Float.intBitsToFloat((int) denormalOperand(c, F32, x)));
    }

    /** CVTSD2SS: rounded by MXCSR; a NaN keeps the top of its payload. */
    static long narrow(Cpu c, long x) {
        if (isNaN(F64, x)) {
            if (isSNaN(F64, x)) c.mxcsr |= IE;
            return (x >>> 32 & SIGN32) | EXP32 | QUIET32 | (x >>> 29 & 0x7F_FFFFL);
        }
        x = denormalOperand(c, F64, x);
        long mag = x & ~SIGN64;
        if (mag == 0 || mag == EXP64) return (x >>> 32 & SIGN32) | (mag == 0 ? 0 : EXP32);
        return round32(c, Double.longBitsToDouble(x), 0);
    }

    // ---- approximations ----

    /**
     * RCPPS/RCPSS. The architecture only bounds the relative error (1.5 * 2^-12) and real
     * processors differ in the low bits; this returns the correctly rounded reciprocal, which is
     * within the bound. Denormal operands count as zero, tiny results are flushed to zero, and
     * no exception is ever reported (SDM Vol. 2, RCPPS).
     */
    static int reciprocal(int x) {
        long bits = x & MASK32;
        if (isNaN(F32, bits)) return x | (int) QUIET32;
        int sign = x & 0x8000_0000;
        int mag = x & 0x7FFF_FFFF;
        if ((mag & 0x7F80_0000) == 0) return sign | 0x7F80_0000;
        if (mag == 0x7F80_0000) return sign;
        float r = 1.0f / Float.intBitsToFloat(x);
        return Math.abs(r) < Float.MIN_NORMAL ? sign : Float.floatToRawIntBits(r);
    }

    /** RSQRTPS/RSQRTSS, correctly rounded like {@link #reciprocal}; negative operands give the default NaN. */
    static int reciprocalSqrt(int x) {
        long bits = x & MASK32;
        if (isNaN(F32, bits)) return x | (int) QUIET32;
        int sign = x & 0x8000_0000;
        int mag = x & 0x7FFF_FFFF;
        if ((mag & 0x7F80_0000) == 0) return sign | 0x7F80_0000;
        if (sign != 0) return (int) DEFAULT_NAN32;
        if (mag == 0x7F80_0000) return 0;
        return Float.floatToRawIntBits((float) (1.0 / Math.sqrt(Float.intBitsToFloat(x))));
    }
}
