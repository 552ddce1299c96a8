package org.symbiont.x86.difftest;

/**
 * The fixed addresses both worlds agree on (mirrors {@code src/test/c/difftest.h}): the test
 * code ends exactly at {@link #CODE_END}, the data region is one page at {@link #DATA} with no
 * mapped neighbours, and the initial data image is derived from a seed with splitmix64 (the
 * harness computes the same image) with patches written over it.
 */
final class Layout {
    private Layout() {}

    static final long CODE_PAGE = 0x1000_0000L;
    static final long CODE_END = 0x1000_1000L;
    static final long DATA = 0x2000_0000L;
    static final int DATA_SIZE = 0x1000;

    /** Maximum length of one generated sequence (the code page also holds the INT3 filler). */
    static final int MAX_CODE = 0xC00;

    static long splitmix64(long[] state) {
        long z = (state[0] += 0x9E37_79B9_7F4A_7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
        return z ^ (z >>> 31);
    }

    static boolean inData(long address, int size) {
        return address >= DATA && address + size <= DATA + DATA_SIZE;
    }
}
