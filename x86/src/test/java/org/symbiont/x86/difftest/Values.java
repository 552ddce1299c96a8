package org.symbiont.x86.difftest;

import java.util.SplittableRandom;

/** Interesting floating-point bit patterns for the SSE registers and memory operands. */
final class Values {
    private Values() {}

    private static final int[] FLOATS = {
        0x0000_0000, 0x8000_0000,                 // +0, -0
        0x3F80_0000, 0xBF80_0000,                 // +1, -1
        0x3F00_0000, 0x3FC0_0000, 0x4020_0000,    // 0.5, 1.5, 2.5 (rounding ties)
        0xC020_0000, 0xBF00_0000,                 // -2.5, -0.5
        0x7F80_0000, 0xFF80_0000,                 // +inf, -inf
        0x7FC0_0000, 0xFFC0_0000, 0x7FC0_1234,    // quiet NaNs
        0x7F80_0001, 0xFFA0_0000,                 // signalling NaNs
        0x0000_0001, 0x007F_FFFF, 0x8040_0000,    // denormals
        0x0080_0000, 0x8080_0000, 0x7F7F_FFFF,    // smallest normal, largest finite
        0x4F00_0000, 0xCF00_0000, 0x4EFF_FFFF,    // 2^31, -2^31, just below 2^31
        0x5F00_0000, 0xDF00_0000, 0x4F80_0000,    // 2^63, -2^63, 2^32
        0x3400_0000, 0x4B00_0000, 0x4B7F_FFFF,    // 2^-23, 2^23, 2^24 - 1
    };

    private static final long[] DOUBLES = {
        0L, 0x8000_0000_0000_0000L,
        0x3FF0_0000_0000_0000L, 0xBFF0_0000_0000_0000L,
        0x3FE0_0000_0000_0000L, 0x3FF8_0000_0000_0000L, 0x4004_0000_0000_0000L, 0xC004_0000_0000_0000L,
        0x7FF0_0000_0000_0000L, 0xFFF0_0000_0000_0000L,
        0x7FF8_0000_0000_0000L, 0xFFF8_0000_0000_0000L, 0x7FF8_0000_0000_1234L,
        0x7FF0_0000_0000_0001L, 0xFFF4_0000_0000_0000L,
        0x0000_0000_0000_0001L, 0x000F_FFFF_FFFF_FFFFL, 0x8008_0000_0000_0000L,
        0x0010_0000_0000_0000L, 0x7FEF_FFFF_FFFF_FFFFL,
        0x41E0_0000_0000_0000L, 0xC1E0_0000_0000_0000L, 0x41DF_FFFF_FFC0_0000L, // 2^31, -2^31, 2^31 - 1
        0x41E0_0000_0000_0200L, 0xC1E0_0000_0020_0000L,                          // just above 2^31, just below -2^31
        0x43E0_0000_0000_0000L, 0xC3E0_0000_0000_0000L, 0x41F0_0000_0000_0000L, // 2^63, -2^63, 2^32
        0x3690_0000_0000_0000L, 0x47EF_FFFF_E000_0000L, 0x3810_0000_0000_0000L, // float limits: denormal, max, min normal
        0x36A0_0000_0000_0000L, 0x47F0_0000_0000_0000L,                          // float overflow/underflow
    };

    static int floatBits(SplittableRandom r) {
        return switch (r.nextInt(6)) {
            case 0, 1, 2 -> FLOATS[r.nextInt(FLOATS.length)];
            case 3 -> Float.floatToRawIntBits((float) (r.nextDouble() * 2000 - 1000));
            case 4 -> r.nextInt() & 0x807F_FFFF;   // random denormal or zero
            default -> r.nextInt();
        };
    }

    static long doubleBits(SplittableRandom r) {
        return switch (r.nextInt(6)) {
            case 0, 1, 2 -> DOUBLES[r.nextInt(DOUBLES.length)];
            case 3 -> Double.doubleToRawLongBits(r.nextDouble() * 2e6 - 1e6);
            case 4 -> r.nextLong() & 0x800F_FFFF_FFFF_FFFFL;
            default -> r.nextLong();
        };
    }

    /** A quadword holding two floats or one double. */
    static long floatPair(SplittableRandom r) {
        if (r.nextBoolean()) return doubleBits(r);
        return (floatBits(r) & 0xFFFF_FFFFL) | (long) floatBits(r) << 32;
    }

    /** Fills XMM register {@code n} (quadwords 2n, 2n+1) as floats, doubles, integers or random bits. */
    static void xmm(SplittableRandom r, long[] xmm, int n) {
        for (int q = 0; q < 2; q++) {
            xmm[2 * n + q] = switch (r.nextInt(5)) {
                case 0 -> (floatBits(r) & 0xFFFF_FFFFL) | (long) floatBits(r) << 32;
                case 1 -> doubleBits(r);
                case 2 -> smallIntegers(r);
                case 3 -> r.nextInt(3) == 0 ? 0 : -1L;
                default -> r.nextLong();
            };
        }
    }

    /** Lanes of bytes, words or dwords near interesting boundaries. */
    private static long smallIntegers(SplittableRandom r) {
        int lane = 8 << r.nextInt(3);
        long v = 0;
        for (int at = 0; at < 64; at += lane) {
            long x = switch (r.nextInt(6)) {
                case 0 -> 0;
                case 1 -> 1L << (lane - 1);
                case 2 -> (1L << (lane - 1)) - 1;
                case 3 -> -1;
                case 4 -> r.nextInt(16);
                default -> r.nextLong();
            };
            v |= (x & (-1L >>> (64 - lane))) << at;
        }
        return v;
    }
}
