package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;

import org.symbiont.x86.Cpu;

/**
 * Lazy evaluation of the six status flags. An arithmetic instruction records what it did (the
 * kind of operation and its operand size in {@code ccOp}, operands in {@code ccA}/{@code ccB},
 * result in {@code ccR}, all zero-extended to the operand size); a flag is computed only when an
 * instruction reads it. Conditional branches after CMP and TEST read their condition straight
 * from the operands.
 */
public final class Flags {
    private Flags() {}

    /** Status flags are stored explicitly in {@code ccR}. */
    public static final int EFLAGS = 0;
    public static final int ADD = 1, ADC = 2, SUB = 3, SBB = 4, LOGIC = 5, INC = 6, DEC = 7;
    public static final int SHL = 8, SHR = 9, SAR = 10;
    /** Multiplication: CF = OF = (ccB != 0); SF, ZF, PF from the low half in ccR. */
    public static final int MUL = 11;

    // Condition codes (the low nibble of Jcc/SETcc/CMOVcc).
    public static final int CC_O = 0, CC_NO = 1, CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_BE = 6, CC_A = 7;
    public static final int CC_S = 8, CC_NS = 9, CC_P = 10, CC_NP = 11, CC_L = 12, CC_GE = 13, CC_LE = 14, CC_G = 15;

    private static int sizeIndex(int size) {
        return Integer.numberOfTrailingZeros(size);
    }

    public static long mask(int size) {
        return -1L >>> (64 - 8 * size);
    }

    /** Records an operation's flags: kind, operand size in bytes, operands and result. */
    public static void set(Cpu c, int kind, int size, long a, long b, long r) {
        long m = -1L >>> (64 - 8 * size);
        c.ccOp = kind << 2 | sizeIndex(size);
        c.ccA = a & m;
        c.ccB = b & m;
        c.ccR = r & m;
    }

    /** Records a logical operation's result (CF = OF = 0). */
    public static void setLogic(Cpu c, int size, long r) {
        c.ccOp = LOGIC << 2 | sizeIndex(size);
        c.ccR = r & (-1L >>> (64 - 8 * size));
    }

    /** Sets the six status flags explicitly. */
    public static void setStatus(Cpu c, long flags) {
        c.ccOp = EFLAGS;
        c.ccR = flags & STATUS_FLAGS;
    }

    /** The six status flags as RFLAGS bits. */
    public static long status(Cpu c) {
        if (c.ccOp == EFLAGS) return c.ccR;
        long f = 0;
        if (cf(c)) f |= CF;
        if (pf(c)) f |= PF;
        if (af(c)) f |= AF;
        if (zf(c)) f |= ZF;
        if (sf(c)) f |= SF;
        if (of(c)) f |= OF;
        return f;
    }

    private static int bits(Cpu c) {
        return 8 << (c.ccOp & 3);
    }

    private static long signBit(Cpu c) {
        return 1L << ((8 << (c.ccOp & 3)) - 1);
    }

    public static boolean cf(Cpu c) {
        long a = c.ccA, b = c.ccB, r = c.ccR;
        return switch (c.ccOp >>> 2) {
            case EFLAGS -> (r & CF) != 0;
            case ADD -> Long.compareUnsigned(r, a) < 0;
            case ADC -> {
                long cin = (r - a - b) & mask(1 << (c.ccOp & 3));
                yield cin != 0 ? Long.compareUnsigned(r, a) <= 0 : Long.compareUnsigned(r, a) < 0;
            }
            case SUB -> Long.compareUnsigned(a, b) < 0;
            case SBB -> {
                long cin = (a - b - r) & mask(1 << (c.ccOp & 3));
                yield cin != 0 ? Long.compareUnsigned(a, b) <= 0 : Long.compareUnsigned(a, b) < 0;
            }
            case INC, DEC -> b != 0;
            case SHL -> {
                int n = bits(c);
                yield b <= n && ((a >>> (n - b)) & 1) != 0;
            }
            case SHR -> b <= 64 && ((a >>> (b - 1)) & 1) != 0;
            case SAR -> {
                int n = bits(c);
                long s = (a << (64 - n)) >> (64 - n);
                yield ((s >> Math.min(b - 1, 63)) & 1) != 0;
            }
            case MUL -> b != 0;
            default -> false; // LOGIC
        };
    }

    public static boolean zf(Cpu c) {
        return c.ccOp == EFLAGS ? (c.ccR & ZF) != 0 : c.ccR == 0;
    }

    public static boolean sf(Cpu c) {
        return c.ccOp == EFLAGS ? (c.ccR & SF) != 0 : (c.ccR & signBit(c)) != 0;
    }

    public static boolean pf(Cpu c) {
        return c.ccOp == EFLAGS ? (c.ccR & PF) != 0 : (Long.bitCount(c.ccR & 0xFF) & 1) == 0;
    }

    public static boolean af(Cpu c) {
        long a = c.ccA, b = c.ccB, r = c.ccR;
        return switch (c.ccOp >>> 2) {
            case EFLAGS -> (r & AF) != 0;
            case ADD, ADC, SUB, SBB -> ((a ^ b ^ r) & 0x10) != 0;
            case INC, DEC -> ((a ^ r) & 0x10) != 0;
            // Undefined after shifts (SDM Vol. 2B, SAL/SAR/SHL/SHR); AMD processors set it.
            case SHL, SHR, SAR -> true;
            default -> false;
        };
    }

    public static boolean of(Cpu c) {
        long a = c.ccA, b = c.ccB, r = c.ccR;
        long sign = signBit(c);
        return switch (c.ccOp >>> 2) {
            case EFLAGS -> (r & OF) != 0;
            case ADD, ADC -> ((a ^ r) & (b ^ r) & sign) != 0;
            case SUB, SBB -> ((a ^ b) & (a ^ r) & sign) != 0;
            case INC -> r == sign;
            case DEC -> r == sign - 1;
            // Defined for a count of 1 only; AMD processors use these formulas for every count,
            // and SHLD/SHRD (32/64-bit) share them.
            case SHL -> ((r & sign) != 0) != cf(c);
            case SHR -> ((r ^ r << 1) & sign) != 0;
            case MUL -> b != 0;
            default -> false; // LOGIC, SAR
        };
    }

    /**
     * Evaluates condition code {@code cc} (0..15). After CMP/SUB and after logic operations
     * (TEST, AND...) the common conditions come straight from the recorded operands; this method
     * and those two paths are small enough for the JIT to inline into every branch.
     */
    public static boolean cond(Cpu c, int cc) {
        int kind = c.ccOp >>> 2;
        if (kind == SUB) return condAfterSub(c, cc);
        // ZF and SF come from the result after every operation but an explicit flags image
        // (JNZ after DEC or ADD); after MUL they are undefined, so the result serves as well.
        if (kind != EFLAGS && (cc & ~1) == CC_E) return (c.ccR == 0) != ((cc & 1) != 0);
        if (kind == LOGIC) return condAfterLogic(c, cc);
        return condFromFlags(c, cc);
    }

    private static boolean condAfterSub(Cpu c, int cc) {
        long a = c.ccA, b = c.ccB;
        int sh = 64 - (8 << (c.ccOp & 3));
        return switch (cc) {
            case CC_B -> Long.compareUnsigned(a, b) < 0;
            case CC_AE -> Long.compareUnsigned(a, b) >= 0;
            case CC_E -> a == b;
            case CC_NE -> a != b;
            case CC_BE -> Long.compareUnsigned(a, b) <= 0;
            case CC_A -> Long.compareUnsigned(a, b) > 0;
            case CC_L -> (a << sh) < (b << sh);
            case CC_GE -> (a << sh) >= (b << sh);
            case CC_LE -> (a << sh) <= (b << sh);
            case CC_G -> (a << sh) > (b << sh);
            default -> condFromFlags(c, cc);
        };
    }

    private static boolean condAfterLogic(Cpu c, int cc) {
        long r = c.ccR;
        boolean s = (r & signBit(c)) != 0;
        return switch (cc) {
            case CC_O, CC_B -> false;
            case CC_NO, CC_AE -> true;
            case CC_E, CC_BE -> r == 0;
            case CC_NE, CC_A -> r != 0;
            case CC_S, CC_L -> s;
            case CC_NS, CC_GE -> !s;
            case CC_LE -> r == 0 || s;
            case CC_G -> r != 0 && !s;
            default -> condFromFlags(c, cc);
        };
    }

    private static boolean condFromFlags(Cpu c, int cc) {
        boolean v = switch (cc >>> 1) {
            case 0 -> of(c);
            case 1 -> cf(c);
            case 2 -> zf(c);
            case 3 -> cf(c) || zf(c);
            case 4 -> sf(c);
            case 5 -> pf(c);
            case 6 -> sf(c) != of(c);
            default -> zf(c) || sf(c) != of(c);
        };
        return v != ((cc & 1) != 0);
    }

    /** Replaces CF, keeping the other status flags (materializes them). */
    public static void setCf(Cpu c, boolean cf) {
        long f = status(c);
        setStatus(c, cf ? f | CF : f & ~CF);
    }
}
