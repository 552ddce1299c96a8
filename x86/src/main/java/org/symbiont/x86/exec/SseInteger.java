package org.symbiont.x86.exec;

import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * SSE2 integer SIMD on XMM registers (the 66-prefixed forms; the MMX-register forms are not
 * modelled and stay #UD): wrapping, saturating and averaging add/subtract, multiplies, min/max,
 * PSADBW, compares, shifts (by XMM/m128 count, by imm8, and the whole-register byte shifts),
 * packs, unpacks, PSHUFD/PSHUFHW/PSHUFLW, PINSRW/PEXTRW (SDM Vol. 2). Lanes are processed within
 * the two 64-bit halves of a register; a memory source is an aligned m128.
 */
public final class SseInteger {
    private SseInteger() {}

    private static final int PADDB = 0, PADDW = 1, PADDD = 2, PADDQ = 3, PSUBB = 4, PSUBW = 5, PSUBD = 6, PSUBQ = 7;
    private static final int PADDSB = 8, PADDSW = 9, PADDUSB = 10, PADDUSW = 11;
    private static final int PSUBSB = 12, PSUBSW = 13, PSUBUSB = 14, PSUBUSW = 15;
    private static final int PMULLW = 16, PMULHW = 17, PMULHUW = 18, PMULUDQ = 19, PMADDWD = 20, PAVGB = 21, PAVGW = 22;
    private static final int PMINUB = 23, PMAXUB = 24, PMINSW = 25, PMAXSW = 26, PSADBW = 27;
    private static final int PCMPEQB = 28, PCMPEQW = 29, PCMPEQD = 30, PCMPGTB = 31, PCMPGTW = 32, PCMPGTD = 33;
    /** Shifts by an XMM/m128 count, in the order SRLW, SRLD, SRLQ, SRAW, SRAD, SLLW, SLLD, SLLQ. */
    private static final int SHIFT = 34;
    /** The same eight shifts by imm8. */
    private static final int SHIFT_IMM = 42;
    private static final int PSRLDQ = 50, PSLLDQ = 51;
    private static final int PACKSSWB = 52, PACKSSDW = 53, PACKUSWB = 54;
    /** PUNPCKL{BW,WD,DQ,QDQ} then PUNPCKH{BW,WD,DQ,QDQ}. */
    private static final int UNPACK = 55;
    private static final int PSHUFD = 63, PSHUFHW = 64, PSHUFLW = 65, PINSRW = 66, PEXTRW = 67;

    private static final int SRL = 0, SRA = 1, SLL = 2;
    private static final int[] SHIFT_KIND = {SRL, SRL, SRL, SRA, SRA, SLL, SLL, SLL};
    private static final int[] SHIFT_BITS = {16, 32, 64, 16, 32, 16, 32, 64};

    private static int op(int index) {
        return Families.op(Families.SSE_INT, index);
    }

    private static void reg66(OpcodeTable t, int opcode, int index, String name) {
        t.define(op(index), name, 0);
        t.at(MAP_0F, opcode).mandatory(PFX_66).is(op(index));
    }

    static void register(OpcodeTable t) {
        reg66(t, 0xFC, PADDB, "paddb");
        reg66(t, 0xFD, PADDW, "paddw");
        reg66(t, 0xFE, PADDD, "paddd");
        reg66(t, 0xD4, PADDQ, "paddq");
        reg66(t, 0xF8, PSUBB, "psubb");
        reg66(t, 0xF9, PSUBW, "psubw");
        reg66(t, 0xFA, PSUBD, "psubd");
        reg66(t, 0xFB, PSUBQ, "psubq");
        reg66(t, 0xEC, PADDSB, "paddsb");
        reg66(t, 0xED, PADDSW, "paddsw");
        reg66(t, 0xDC, PADDUSB, "paddusb");
        reg66(t, 0xDD, PADDUSW, "paddusw");
        reg66(t, 0xE8, PSUBSB, "psubsb");
        reg66(t, 0xE9, PSUBSW, "psubsw");
        reg66(t, 0xD8, PSUBUSB, "psubusb");
        reg66(t, 0xD9, PSUBUSW, "psubusw");
        reg66(t, 0xD5, PMULLW, "pmullw");
        reg66(t, 0xE5, PMULHW, "pmulhw");
        reg66(t, 0xE4, PMULHUW, "pmulhuw");
        reg66(t, 0xF4, PMULUDQ, "pmuludq");
        reg66(t, 0xF5, PMADDWD, "pmaddwd");
        reg66(t, 0xE0, PAVGB, "pavgb");
        reg66(t, 0xE3, PAVGW, "pavgw");
        reg66(t, 0xDA, PMINUB, "pminub");
        reg66(t, 0xDE, PMAXUB, "pmaxub");
        reg66(t, 0xEA, PMINSW, "pminsw");
        reg66(t, 0xEE, PMAXSW, "pmaxsw");
        reg66(t, 0xF6, PSADBW, "psadbw");
        reg66(t, 0x74, PCMPEQB, "pcmpeqb");
        reg66(t, 0x75, PCMPEQW, "pcmpeqw");
        reg66(t, 0x76, PCMPEQD, "pcmpeqd");
        reg66(t, 0x64, PCMPGTB, "pcmpgtb");
        reg66(t, 0x65, PCMPGTW, "pcmpgtw");
        reg66(t, 0x66, PCMPGTD, "pcmpgtd");
        String[] shiftNames = {"psrlw", "psrld", "psrlq", "psraw", "psrad", "psllw", "pslld", "psllq"};
        int[] shiftOpcodes = {0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3};
        int[] groupOpcodes = {0x71, 0x72, 0x73, 0x71, 0x72, 0x71, 0x72, 0x73};
        int[] groupRegs = {2, 2, 2, 4, 4, 6, 6, 6};
        for (int k = 0; k < 8; k++) {
            reg66(t, shiftOpcodes[k], SHIFT + k, shiftNames[k]);
            t.define(op(SHIFT_IMM + k), shiftNames[k] + " imm", 0);
            t.at(MAP_0F, groupOpcodes[k]).reg(groupRegs[k]).regForm().mandatory(PFX_66).is(op(SHIFT_IMM + k));
        }
        t.define(op(PSRLDQ), "psrldq", 0);
        t.define(op(PSLLDQ), "pslldq", 0);
        t.at(MAP_0F, 0x73).reg(3).regForm().mandatory(PFX_66).is(op(PSRLDQ));
        t.at(MAP_0F, 0x73).reg(7).regForm().mandatory(PFX_66).is(op(PSLLDQ));
        reg66(t, 0x63, PACKSSWB, "packsswb");
        reg66(t, 0x6B, PACKSSDW, "packssdw");
        reg66(t, 0x67, PACKUSWB, "packuswb");
        String[] unpackNames = {"punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq",
            "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq"};
        int[] unpackOpcodes = {0x60, 0x61, 0x62, 0x6C, 0x68, 0x69, 0x6A, 0x6D};
        for (int k = 0; k < 8; k++) reg66(t, unpackOpcodes[k], UNPACK + k, unpackNames[k]);
        reg66(t, 0x70, PSHUFD, "pshufd");
        t.define(op(PSHUFHW), "pshufhw", 0);
        t.define(op(PSHUFLW), "pshuflw", 0);
        t.at(MAP_0F, 0x70).mandatory(PFX_F3).is(op(PSHUFHW));
        t.at(MAP_0F, 0x70).mandatory(PFX_F2).is(op(PSHUFLW));
        reg66(t, 0xC4, PINSRW, "pinsrw");
        t.define(op(PEXTRW), "pextrw", 0);
        t.at(MAP_0F, 0xC5).regForm().mandatory(PFX_66).is(op(PEXTRW));
    }

    static void exec(Cpu c, Insn i) {
        Sse.check(c);
        int idx = i.op & 0xFF;
        int d = 2 * i.reg;
        long[] x = c.xmm;
        if (idx >= SHIFT_IMM && idx < PSRLDQ) {
            // Groups 12-14: ModRM.reg selects the shift, ModRM.rm is the register shifted.
            int k = idx - SHIFT_IMM, r = 2 * i.rm;
            long count = i.imm & 0xFF;
            x[r] = shift(x[r], SHIFT_KIND[k], SHIFT_BITS[k], count);
            x[r + 1] = shift(x[r + 1], SHIFT_KIND[k], SHIFT_BITS[k], count);
            return;
        }
        switch (idx) {
            case PSRLDQ, PSLLDQ -> {
                d = 2 * i.rm;
                int n = (int) (i.imm & 0xFF);
                long lo = x[d], hi = x[d + 1];
                if (n > 15) {
                    x[d] = 0;
                    x[d + 1] = 0;
                } else if (idx == PSRLDQ) {
                    x[d] = shiftRight128(lo, hi, 8 * n);
                    x[d + 1] = n >= 8 ? 0 : hi >>> (8 * n);
                } else {
                    x[d + 1] = shiftLeft128High(lo, hi, 8 * n);
                    x[d] = n >= 8 ? 0 : lo << (8 * n);
                }
                return;
            }
            case PINSRW -> {
                long w = Operands.readRm(c, i, 2);
                int sh = 16 * ((int) i.imm & 3);
                int half = d + ((int) i.imm >>> 2 & 1);
                x[half] = (x[half] & ~(0xFFFFL << sh)) | (w << sh);
                return;
            }
            case PEXTRW -> {
                int sel = (int) i.imm & 7;
                long q = x[2 * i.rm + (sel >>> 2)];
                c.writeReg(i.reg, 4, q >>> (16 * (sel & 3)) & 0xFFFF);
                return;
            }
            default -> { }
        }
        long bLo, bHi;
        if (i.rm >= 0) {
            bLo = x[2 * i.rm];
            bHi = x[2 * i.rm + 1];
        } else {
            long la = Sse.address(c, i, 16, Cpu.ACCESS_READ, true);
            bLo = Sse.readLow(c, i, la);
            bHi = Sse.readHigh(c, i, la);
        }
        long aLo = x[d], aHi = x[d + 1], rLo, rHi;
        if (idx < PCMPEQB) {
            rLo = arith(idx, aLo, bLo);
            rHi = arith(idx, aHi, bHi);
        } else if (idx < SHIFT) {
            rLo = compare(idx, aLo, bLo);
            rHi = compare(idx, aHi, bHi);
        } else if (idx < SHIFT_IMM) {
            int k = idx - SHIFT;
            rLo = shift(aLo, SHIFT_KIND[k], SHIFT_BITS[k], bLo);
            rHi = shift(aHi, SHIFT_KIND[k], SHIFT_BITS[k], bLo);
        } else if (idx <= PACKUSWB) {
            rLo = pack(idx, aLo, aHi);
            rHi = pack(idx, bLo, bHi);
        } else if (idx < PSHUFD) {
            int k = idx - UNPACK;
            long a = k < 4 ? aLo : aHi, b = k < 4 ? bLo : bHi;
            int bits = 8 << (k & 3);
            if (bits == 64) {
                rLo = a;
                rHi = b;
            } else {
                rLo = interleave(a, b, bits);
                rHi = interleave(a >>> 32, b >>> 32, bits);
            }
        } else {
            int imm = (int) i.imm;
            switch (idx) {
                case PSHUFD -> {
                    rLo = SseMove.dword(bLo, bHi, imm) | SseMove.dword(bLo, bHi, imm >>> 2) << 32;
                    rHi = SseMove.dword(bLo, bHi, imm >>> 4) | SseMove.dword(bLo, bHi, imm >>> 6) << 32;
                }
                case PSHUFHW -> {
                    rLo = bLo;
                    rHi = shuffleWords(bHi, imm);
                }
                default -> {
                    rLo = shuffleWords(bLo, imm);
                    rHi = bHi;
                }
            }
        }
        x[d] = rLo;
        x[d + 1] = rHi;
    }

    // ---- lane arithmetic on 64-bit halves ----

    private static final long HIGH8 = 0x8080_8080_8080_8080L, HIGH16 = 0x8000_8000_8000_8000L, HIGH32 = 0x8000_0000_8000_0000L;

    private static long arith(int idx, long a, long b) {
        return switch (idx) {
            case PADDB -> add(a, b, HIGH8);
            case PADDW -> add(a, b, HIGH16);
            case PADDD -> add(a, b, HIGH32);
            case PADDQ -> a + b;
            case PSUBB -> sub(a, b, HIGH8);
            case PSUBW -> sub(a, b, HIGH16);
            case PSUBD -> sub(a, b, HIGH32);
            case PSUBQ -> a - b;
            case PMULUDQ -> (a & 0xFFFF_FFFFL) * (b & 0xFFFF_FFFFL);
            case PMADDWD -> {
                long lo = (long) (short) a * (short) b + (long) (short) (a >>> 16) * (short) (b >>> 16);
                long hi = (long) (short) (a >>> 32) * (short) (b >>> 32) + (long) (short) (a >>> 48) * (short) (b >>> 48);
                yield (lo & 0xFFFF_FFFFL) | hi << 32;
            }
            case PSADBW -> {
                long sum = 0;
                for (int k = 0; k < 64; k += 8) sum += Math.abs((a >>> k & 0xFF) - (b >>> k & 0xFF));
                yield sum;
            }
            default -> lanes(idx, a, b);
        };
    }

    /** Lane-wise addition without carries between lanes ({@code high} marks each lane's top bit). */
    private static long add(long a, long b, long high) {
        return ((a & ~high) + (b & ~high)) ^ ((a ^ b) & high);
    }

    private static long sub(long a, long b, long high) {
        return ((a | high) - (b & ~high)) ^ ((a ^ ~b) & high);
    }

    /** The saturating, multiplying, averaging and min/max operations, one lane at a time. */
    private static long lanes(int idx, long a, long b) {
        int bits = switch (idx) {
            case PADDSB, PADDUSB, PSUBSB, PSUBUSB, PAVGB, PMINUB, PMAXUB -> 8;
            default -> 16;
        };
        long mask = (1L << bits) - 1;
        long min = -(1L << (bits - 1)), max = (1L << (bits - 1)) - 1;
        long r = 0;
        for (int k = 0; k < 64; k += bits) {
            long x = a >>> k & mask, y = b >>> k & mask;
            long sx = x << (64 - bits) >> (64 - bits), sy = y << (64 - bits) >> (64 - bits);
            long v = switch (idx) {
                case PADDSB, PADDSW -> Math.clamp(sx + sy, min, max);
                case PADDUSB, PADDUSW -> Math.min(x + y, mask);
                case PSUBSB, PSUBSW -> Math.clamp(sx - sy, min, max);
                case PSUBUSB, PSUBUSW -> Math.max(x - y, 0);
                case PMULLW -> sx * sy;
                case PMULHW -> sx * sy >> 16;
                case PMULHUW -> x * y >>> 16;
                case PAVGB, PAVGW -> (x + y + 1) >>> 1;
                case PMINUB -> Math.min(x, y);
                case PMAXUB -> Math.max(x, y);
                case PMINSW -> Math.min(sx, sy);
                default -> Math.max(sx, sy); // PMAXSW
            };
            r |= (v & mask) << k;
        }
        return r;
    }

    private static long compare(int idx, long a, long b) {
        switch (idx) {
            case PCMPEQB -> { return equalLanes(a, b, HIGH8, 8); }
            case PCMPEQW -> { return equalLanes(a, b, HIGH16, 16); }
            case PCMPEQD -> { return equalLanes(a, b, HIGH32, 32); }
            default -> {
                int bits = idx == PCMPGTB ? 8 : idx == PCMPGTW ? 16 : 32;
                long mask = (1L << bits) - 1, r = 0;
                for (int k = 0; k < 64; k += bits) {
                    long sx = a << (64 - bits - k) >> (64 - bits), sy = b << (64 - bits - k) >> (64 - bits);
                    if (sx > sy) r |= mask << k;
                }
                return r;
            }
        }
    }

    /** All-ones lanes where a and b are equal: a lane of a ^ b is zero iff adding 0x7F.. to its low bits leaves the top bit clear. */
    private static long equalLanes(long a, long b, long high, int bits) {
        long v = a ^ b;
        long t = ((v & ~high) + ~high) | v;
        long zeroTops = ~t & high;
        return (zeroTops >>> (bits - 1)) * ((1L << bits) - 1);
    }

    /**
     * Shifts each {@code bits}-wide lane of {@code v} by {@code count} (unsigned, 64 bits): counts
     * beyond the lane width give zero, or the sign for arithmetic shifts.
     */
    private static long shift(long v, int kind, int bits, long count) {
        boolean over = Long.compareUnsigned(count, bits - 1) > 0;
        if (over && kind != SRA) return 0;
        int n = over ? bits - 1 : (int) count;
        if (bits == 64) return kind == SLL ? v << n : v >>> n;
        long mask = (1L << bits) - 1, r = 0;
        for (int k = 0; k < 64; k += bits) {
            long lane = v >>> k & mask;
            long s = switch (kind) {
                case SRL -> lane >>> n;
                case SRA -> (lane << (64 - bits) >> (64 - bits)) >> n;
                default -> lane << n;
            };
            r |= (s & mask) << k;
        }
        return r;
    }

    /** Low quadword of the 128-bit value (hi:lo) shifted right by {@code n} bits (0..120). */
    private static long shiftRight128(long lo, long hi, int n) {
        if (n == 0) return lo;
        if (n >= 64) return hi >>> (n - 64);
        return lo >>> n | hi << (64 - n);
    }

    /** High quadword of (hi:lo) shifted left by {@code n} bits (0..120). */
    private static long shiftLeft128High(long lo, long hi, int n) {
        if (n == 0) return hi;
        if (n >= 64) return lo << (n - 64);
        return hi << n | lo >>> (64 - n);
    }

    /** PACKSSWB/PACKSSDW/PACKUSWB of one source's 128 bits (lo, hi) into 64 bits. */
    private static long pack(int idx, long lo, long hi) {
        long r = 0;
        if (idx == PACKSSDW) {
            for (int k = 0; k < 4; k++) {
                long q = k < 2 ? lo : hi;
                long v = Math.clamp((int) (q >>> (32 * (k & 1))), Short.MIN_VALUE, Short.MAX_VALUE);
                r |= (v & 0xFFFF) << (16 * k);
            }
            return r;
        }
        for (int k = 0; k < 8; k++) {
            long q = k < 4 ? lo : hi;
            short w = (short) (q >>> (16 * (k & 3)));
            long v = idx == PACKSSWB ? Math.clamp(w, Byte.MIN_VALUE, Byte.MAX_VALUE) : Math.clamp(w, 0, 255);
            r |= (v & 0xFF) << (8 * k);
        }
        return r;
    }

    /** Interleaves the low 32 bits of a and b in lanes of {@code bits} (8, 16, 32): a0 b0 a1 b1 ... */
    private static long interleave(long a, long b, int bits) {
        long mask = (1L << bits) - 1, r = 0;
        int n = 32 / bits;
        for (int k = 0; k < n; k++) {
            r |= (a >>> (k * bits) & mask) << (2 * k * bits);
            r |= (b >>> (k * bits) & mask) << ((2 * k + 1) * bits);
        }
        return r;
    }

    /** The four words of {@code q} rearranged by imm8 (two bits per destination word). */
    private static long shuffleWords(long q, int imm) {
        long r = 0;
        for (int k = 0; k < 4; k++) r |= (q >>> (16 * (imm >>> (2 * k) & 3)) & 0xFFFF) << (16 * k);
        return r;
    }
}
