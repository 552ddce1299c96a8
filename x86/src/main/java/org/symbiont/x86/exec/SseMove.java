package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.RDI;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * SSE/SSE2 data movement on XMM registers: the whole-register moves (MOVUPS/MOVAPS/MOVDQA/...,
 * the non-temporal stores), the scalar and half-register moves (MOVSS/MOVSD, MOVLPS/MOVHPS,
 * MOVHLPS/MOVLHPS), MOVD/MOVQ, the bitwise logic (ANDPS.. and PAND..), SHUFPS/SHUFPD, the
 * UNPCK*PS/PD interleaves, the sign-mask extractions (MOVMSKPS/PD, PMOVMSKB), MASKMOVDQU and
 * MOVNTI (SDM Vol. 2). None of them reads or changes MXCSR.
 */
public final class SseMove {
    private SseMove() {}

    private static final int LOAD_UNALIGNED = 0, LOAD_ALIGNED = 1, STORE_UNALIGNED = 2, STORE_ALIGNED = 3;
    private static final int MOVSS_LOAD = 4, MOVSD_LOAD = 5, MOVSS_STORE = 6, MOVSD_STORE = 7;
    private static final int MOVLPS_LOAD = 8, MOVHLPS = 9, MOVLPS_STORE = 10;
    private static final int MOVHPS_LOAD = 11, MOVLHPS = 12, MOVHPS_STORE = 13;
    private static final int MOVMSKPS = 14, MOVMSKPD = 15, PMOVMSKB = 16;
    private static final int AND = 17, ANDN = 18, OR = 19, XOR = 20;
    private static final int SHUFPS = 21, SHUFPD = 22, UNPCKLPS = 23, UNPCKHPS = 24, UNPCKLPD = 25, UNPCKHPD = 26;
    private static final int MOVD_LOAD = 27, MOVD_STORE = 28, MOVQ_LOAD = 29, MOVQ_STORE = 30;
    private static final int MOVNTI = 31, MASKMOVDQU = 32;

    private static int op(int index) {
        return Families.op(Families.SSE_MOVE, index);
    }

    static void register(OpcodeTable t) {
        define(t, LOAD_UNALIGNED, "movups/movupd/movdqu V,W");
        define(t, LOAD_ALIGNED, "movaps/movapd/movdqa V,W");
        define(t, STORE_UNALIGNED, "movups/movupd/movdqu W,V");
        define(t, STORE_ALIGNED, "movaps/movapd/movdqa/movntps/movntpd/movntdq W,V");
        for (int pfx : new int[] {PFX_NONE, PFX_66}) {
            t.at(MAP_0F, 0x10).mandatory(pfx).is(op(LOAD_UNALIGNED));
            t.at(MAP_0F, 0x11).mandatory(pfx).is(op(STORE_UNALIGNED));
            t.at(MAP_0F, 0x28).mandatory(pfx).is(op(LOAD_ALIGNED));
            t.at(MAP_0F, 0x29).mandatory(pfx).is(op(STORE_ALIGNED));
            t.at(MAP_0F, 0x2B).mem().mandatory(pfx).is(op(STORE_ALIGNED));
        }
        t.at(MAP_0F, 0x6F).mandatory(PFX_66).is(op(LOAD_ALIGNED));
        t.at(MAP_0F, 0x6F).mandatory(PFX_F3).is(op(LOAD_UNALIGNED));
        t.at(MAP_0F, 0x7F).mandatory(PFX_66).is(op(STORE_ALIGNED));
        t.at(MAP_0F, 0x7F).mandatory(PFX_F3).is(op(STORE_UNALIGNED));
        t.at(MAP_0F, 0xE7).mem().mandatory(PFX_66).is(op(STORE_ALIGNED));

        define(t, MOVSS_LOAD, "movss V,W");
        define(t, MOVSD_LOAD, "movsd V,W");
        define(t, MOVSS_STORE, "movss W,V");
        define(t, MOVSD_STORE, "movsd W,V");
        t.at(MAP_0F, 0x10).mandatory(PFX_F3).is(op(MOVSS_LOAD));
        t.at(MAP_0F, 0x10).mandatory(PFX_F2).is(op(MOVSD_LOAD));
        t.at(MAP_0F, 0x11).mandatory(PFX_F3).is(op(MOVSS_STORE));
        t.at(MAP_0F, 0x11).mandatory(PFX_F2).is(op(MOVSD_STORE));

        define(t, MOVLPS_LOAD, "movlps/movlpd V,M64");
        define(t, MOVHLPS, "movhlps V,U");
        define(t, MOVLPS_STORE, "movlps/movlpd M64,V");
        define(t, MOVHPS_LOAD, "movhps/movhpd V,M64");
        define(t, MOVLHPS, "movlhps V,U");
        define(t, MOVHPS_STORE, "movhps/movhpd M64,V");
        for (int pfx : new int[] {PFX_NONE, PFX_66}) {
            t.at(MAP_0F, 0x12).mem().mandatory(pfx).is(op(MOVLPS_LOAD));
            t.at(MAP_0F, 0x13).mem().mandatory(pfx).is(op(MOVLPS_STORE));
            t.at(MAP_0F, 0x16).mem().mandatory(pfx).is(op(MOVHPS_LOAD));
            t.at(MAP_0F, 0x17).mem().mandatory(pfx).is(op(MOVHPS_STORE));
        }
        t.at(MAP_0F, 0x12).regForm().mandatory(PFX_NONE).is(op(MOVHLPS));
        t.at(MAP_0F, 0x16).regForm().mandatory(PFX_NONE).is(op(MOVLHPS));

        define(t, MOVMSKPS, "movmskps Gd,U");
        define(t, MOVMSKPD, "movmskpd Gd,U");
        define(t, PMOVMSKB, "pmovmskb Gd,U");
        t.at(MAP_0F, 0x50).regForm().mandatory(PFX_NONE).is(op(MOVMSKPS));
        t.at(MAP_0F, 0x50).regForm().mandatory(PFX_66).is(op(MOVMSKPD));
        t.at(MAP_0F, 0xD7).regForm().mandatory(PFX_66).is(op(PMOVMSKB));

        define(t, AND, "andps/andpd/pand");
        define(t, ANDN, "andnps/andnpd/pandn");
        define(t, OR, "orps/orpd/por");
        define(t, XOR, "xorps/xorpd/pxor");
        for (int pfx : new int[] {PFX_NONE, PFX_66}) {
            t.at(MAP_0F, 0x54).mandatory(pfx).is(op(AND));
            t.at(MAP_0F, 0x55).mandatory(pfx).is(op(ANDN));
            t.at(MAP_0F, 0x56).mandatory(pfx).is(op(OR));
            t.at(MAP_0F, 0x57).mandatory(pfx).is(op(XOR));
        }
        t.at(MAP_0F, 0xDB).mandatory(PFX_66).is(op(AND));
        t.at(MAP_0F, 0xDF).mandatory(PFX_66).is(op(ANDN));
        t.at(MAP_0F, 0xEB).mandatory(PFX_66).is(op(OR));
        t.at(MAP_0F, 0xEF).mandatory(PFX_66).is(op(XOR));

        define(t, SHUFPS, "shufps");
        define(t, SHUFPD, "shufpd");
        define(t, UNPCKLPS, "unpcklps");
        define(t, UNPCKHPS, "unpckhps");
        define(t, UNPCKLPD, "unpcklpd");
        define(t, UNPCKHPD, "unpckhpd");
        t.at(MAP_0F, 0xC6).mandatory(PFX_NONE).is(op(SHUFPS));
        t.at(MAP_0F, 0xC6).mandatory(PFX_66).is(op(SHUFPD));
        t.at(MAP_0F, 0x14).mandatory(PFX_NONE).is(op(UNPCKLPS));
        t.at(MAP_0F, 0x15).mandatory(PFX_NONE).is(op(UNPCKHPS));
        t.at(MAP_0F, 0x14).mandatory(PFX_66).is(op(UNPCKLPD));
        t.at(MAP_0F, 0x15).mandatory(PFX_66).is(op(UNPCKHPD));

        define(t, MOVD_LOAD, "movd/movq V,Ey");
        define(t, MOVD_STORE, "movd/movq Ey,V");
        define(t, MOVQ_LOAD, "movq V,W64");
        define(t, MOVQ_STORE, "movq W64,V");
        t.at(MAP_0F, 0x6E).mandatory(PFX_66).is(op(MOVD_LOAD));
        t.at(MAP_0F, 0x7E).mandatory(PFX_66).is(op(MOVD_STORE));
        t.at(MAP_0F, 0x7E).mandatory(PFX_F3).is(op(MOVQ_LOAD));
        t.at(MAP_0F, 0xD6).mandatory(PFX_66).is(op(MOVQ_STORE));

        define(t, MOVNTI, "movnti My,Gy");
        define(t, MASKMOVDQU, "maskmovdqu V,U");
        t.at(MAP_0F, 0xC3).mem().mandatory(PFX_NONE).is(op(MOVNTI));
        t.at(MAP_0F, 0xF7).regForm().mandatory(PFX_66).is(op(MASKMOVDQU));
    }

    private static void define(OpcodeTable t, int index, String name) {
        t.define(op(index), name, 0);
    }

    static void exec(Cpu c, Insn i) {
        int idx = i.op & 0xFF;
        if (idx == MOVNTI) {
            // A general-purpose store: none of the SSE state checks apply (SDM Vol. 2B, MOVNTI).
            Operands.writeRm(c, i, i.opSize == 8 ? 8 : 4, c.gpr[i.reg]);
            return;
        }
        Sse.check(c);
        int d = 2 * i.reg;
        long[] x = c.xmm;
        switch (idx) {
            case LOAD_UNALIGNED, LOAD_ALIGNED -> {
                long lo, hi;
                if (i.rm >= 0) {
                    lo = x[2 * i.rm];
                    hi = x[2 * i.rm + 1];
                } else {
                    long la = Sse.address(c, i, 16, Cpu.ACCESS_READ, idx == LOAD_ALIGNED);
                    lo = Sse.readLow(c, i, la);
                    hi = Sse.readHigh(c, i, la);
                }
                x[d] = lo;
                x[d + 1] = hi;
            }
            case STORE_UNALIGNED, STORE_ALIGNED -> Sse.storeXmm(c, i, i.reg, idx == STORE_ALIGNED);
            case MOVSS_LOAD -> {
                // Register form merges into the low element; the load form zeroes the rest.
                if (i.rm >= 0) {
                    x[d] = (x[d] & ~0xFFFF_FFFFL) | (x[2 * i.rm] & 0xFFFF_FFFFL);
                } else {
                    x[d] = c.read32(i.seg, Operands.ea(c, i)) & 0xFFFF_FFFFL;
                    x[d + 1] = 0;
                }
            }
            case MOVSD_LOAD -> {
                if (i.rm >= 0) {
                    x[d] = x[2 * i.rm];
                } else {
                    x[d] = c.read64(i.seg, Operands.ea(c, i));
                    x[d + 1] = 0;
                }
            }
            case MOVSS_STORE -> {
                if (i.rm >= 0) x[2 * i.rm] = (x[2 * i.rm] & ~0xFFFF_FFFFL) | (x[d] & 0xFFFF_FFFFL);
                else c.write32(i.seg, Operands.ea(c, i), (int) x[d]);
            }
            case MOVSD_STORE -> {
                if (i.rm >= 0) x[2 * i.rm] = x[d];
                else c.write64(i.seg, Operands.ea(c, i), x[d]);
            }
            case MOVLPS_LOAD -> x[d] = c.read64(i.seg, Operands.ea(c, i));
            case MOVHLPS -> x[d] = x[2 * i.rm + 1];
            case MOVLPS_STORE -> c.write64(i.seg, Operands.ea(c, i), x[d]);
            case MOVHPS_LOAD -> x[d + 1] = c.read64(i.seg, Operands.ea(c, i));
            case MOVLHPS -> x[d + 1] = x[2 * i.rm];
            case MOVHPS_STORE -> c.write64(i.seg, Operands.ea(c, i), x[d + 1]);
            case MOVMSKPS -> {
                long lo = x[2 * i.rm], hi = x[2 * i.rm + 1];
                long m = (lo >>> 31 & 1) | (lo >>> 62 & 2) | (hi >>> 29 & 4) | (hi >>> 60 & 8);
                c.writeReg(i.reg, 4, m);
            }
            case MOVMSKPD -> c.writeReg(i.reg, 4, (x[2 * i.rm] >>> 63) | (x[2 * i.rm + 1] >>> 63) << 1);
            case PMOVMSKB -> c.writeReg(i.reg, 4, byteSigns(x[2 * i.rm]) | byteSigns(x[2 * i.rm + 1]) << 8);
            case AND, ANDN, OR, XOR, SHUFPS, SHUFPD, UNPCKLPS, UNPCKHPS, UNPCKLPD, UNPCKHPD -> twoOperand(c, i, idx);
            case MOVD_LOAD -> {
                int size = i.opSize == 8 ? 8 : 4;
                x[d] = Operands.readRm(c, i, size);
                x[d + 1] = 0;
            }
            case MOVD_STORE -> {
                int size = i.opSize == 8 ? 8 : 4;
                Operands.writeRm(c, i, size, size == 8 ? x[d] : x[d] & 0xFFFF_FFFFL);
            }
            case MOVQ_LOAD -> {
                x[d] = i.rm >= 0 ? x[2 * i.rm] : c.read64(i.seg, Operands.ea(c, i));
                x[d + 1] = 0;
            }
            case MOVQ_STORE -> {
                if (i.rm >= 0) {
                    x[2 * i.rm] = x[d];
                    x[2 * i.rm + 1] = 0;
                } else {
                    c.write64(i.seg, Operands.ea(c, i), x[d]);
                }
            }
            case MASKMOVDQU -> maskMove(c, i);
            default -> throw c.ud();
        }
    }

    /** The sign bits of the eight bytes of {@code v}, byte 0 in bit 0. */
    static long byteSigns(long v) {
        long s = v & 0x8080_8080_8080_8080L;
        // Gather bit 7 of every byte into the top byte, then shift it down.
        return (s * 0x0002_0408_1020_4081L) >>> 56;
    }

    /** Logic, shuffles and interleaves: destination op= source (register or aligned m128). */
    private static void twoOperand(Cpu c, Insn i, int idx) {
        long bLo, bHi;
        if (i.rm >= 0) {
            bLo = c.xmm[2 * i.rm];
            bHi = c.xmm[2 * i.rm + 1];
        } else {
            long la = Sse.address(c, i, 16, Cpu.ACCESS_READ, true);
            bLo = Sse.readLow(c, i, la);
            bHi = Sse.readHigh(c, i, la);
        }
        int d = 2 * i.reg;
        long aLo = c.xmm[d], aHi = c.xmm[d + 1], rLo, rHi;
        switch (idx) {
            case AND -> { rLo = aLo & bLo; rHi = aHi & bHi; }
            case ANDN -> { rLo = ~aLo & bLo; rHi = ~aHi & bHi; }
            case OR -> { rLo = aLo | bLo; rHi = aHi | bHi; }
            case XOR -> { rLo = aLo ^ bLo; rHi = aHi ^ bHi; }
            case SHUFPS -> {
                int imm = (int) i.imm;
                rLo = dword(aLo, aHi, imm) | dword(aLo, aHi, imm >>> 2) << 32;
                rHi = dword(bLo, bHi, imm >>> 4) | dword(bLo, bHi, imm >>> 6) << 32;
            }
            case SHUFPD -> {
                rLo = (i.imm & 1) == 0 ? aLo : aHi;
                rHi = (i.imm & 2) == 0 ? bLo : bHi;
            }
            case UNPCKLPS -> {
                rLo = (aLo & 0xFFFF_FFFFL) | bLo << 32;
                rHi = (aLo >>> 32) | (bLo & 0xFFFF_FFFF_0000_0000L);
            }
            case UNPCKHPS -> {
                rLo = (aHi & 0xFFFF_FFFFL) | bHi << 32;
                rHi = (aHi >>> 32) | (bHi & 0xFFFF_FFFF_0000_0000L);
            }
            case UNPCKLPD -> { rLo = aLo; rHi = bLo; }
            default -> { rLo = aHi; rHi = bHi; }
        }
        c.xmm[d] = rLo;
        c.xmm[d + 1] = rHi;
    }

    /** Doubleword {@code sel & 3} of the 128-bit value (lo, hi), zero-extended. */
    static long dword(long lo, long hi, int sel) {
        long q = (sel & 2) == 0 ? lo : hi;
        return (sel & 1) == 0 ? q & 0xFFFF_FFFFL : q >>> 32;
    }

    /**
     * MASKMOVDQU: stores the bytes of the first operand whose mask byte (second operand) has its
     * top bit set, at DS:rDI (segment override allowed). Only the selected bytes are accessed;
     * all of them are checked before any is written. Each run of selected bytes is written in
     * pieces of 8, 4, 2 and 1 bytes, so that no mask needs more than eight accesses (an MMIO
     * destination exits once per access).
     */
    private static void maskMove(Cpu c, Insn i) {
        long dataLo = c.xmm[2 * i.reg], dataHi = c.xmm[2 * i.reg + 1];
        int mask = (int) (byteSigns(c.xmm[2 * i.rm]) | byteSigns(c.xmm[2 * i.rm + 1]) << 8);
        if (mask == 0) return;
        int first = Integer.numberOfTrailingZeros(mask), last = 31 - Integer.numberOfLeadingZeros(mask);
        long ea = c.gpr[RDI] & i.eaMask;
        long la = c.linear(i.seg, ea + first, last - first + 1, Cpu.ACCESS_WRITE);
        c.probeWrite(i.seg, la, last - first + 1);
        int k = first;
        while (k <= last) {
            if ((mask >>> k & 1) == 0) {
                k++;
                continue;
            }
            int run = Integer.numberOfTrailingZeros(~(mask >>> k));
            int size = Integer.highestOneBit(Math.min(run, 8));
            long v = k == 0 ? dataLo : k < 8 ? dataLo >>> (8 * k) | dataHi << (64 - 8 * k) : dataHi >>> (8 * (k - 8));
            c.writeL(i.seg, (la + k - first) & c.linearMask, size, v);
            k += size;
        }
    }
}
