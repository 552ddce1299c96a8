package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;

/**
 * What the SSE families share: the availability checks every SSE instruction makes first, the
 * XMM/memory operand access (16-byte alignment rules, fault-before-write for 16-byte stores) and
 * the MXCSR exception protocol of the floating-point instructions.
 *
 * <p>MXCSR protocol: {@link #begin} moves the sticky exception flags out of {@code cpu.mxcsr} so
 * that, while the instruction computes its elements, the six flag bits collect only the
 * exceptions this instruction detects (the arithmetic in {@link SoftFloat} ORs them in and reads
 * the rounding, FTZ, DAZ and mask bits from the same word). {@link #end} merges them back and
 * raises #XM (or #UD) for an unmasked exception before the caller writes any destination: SSE
 * faults leave the destination unchanged (SDM Vol. 1, 11.5.3).
 */
public final class Sse {
    private Sse() {}

    // MXCSR bits (SDM Vol. 1, 10.2.3).
    public static final int IE = 1, DE = 1 << 1, ZE = 1 << 2, OE = 1 << 3, UE = 1 << 4, PE = 1 << 5;
    public static final int FLAGS = 0x3F;
    public static final int DAZ = 1 << 6;
    /** Exception masks IM..PM, bits 7-12: mask bit of flag f is f << MASK_SHIFT. */
    public static final int MASK_SHIFT = 7;
    public static final int RC_SHIFT = 13;
    public static final int RC_NEAREST = 0, RC_DOWN = 1, RC_UP = 2, RC_ZERO = 3;
    public static final int FTZ = 1 << 15;
    /** Bits LDMXCSR and FXRSTOR accept (MXCSR_MASK, with DAZ); others raise #GP(0). */
    public static final int MXCSR_MASK = 0xFFFF;

    /**
     * The checks every SSE/SSE2 instruction makes before anything else (SDM Vol. 3A, 2.5 and
     * Vol. 2 "Exceptions Type" tables): CR0.EM or no CR4.OSFXSR → #UD; CR0.TS → #NM.
     */
    public static void check(Cpu c) {
        if ((c.cr0 & CR0_EM) != 0 || (c.cr4 & CR4_OSFXSR) == 0) throw c.ud();
        if ((c.cr0 & CR0_TS) != 0) throw c.fault(EXC_NM);
    }

    /** Linear address of a memory operand of {@code size} bytes; {@code aligned} demands 16-byte alignment (#GP(0)). */
    public static long address(Cpu c, Insn i, int size, int access, boolean aligned) {
        long la = Operands.linear(c, i, size, access);
        if (aligned && (la & 15) != 0) throw c.gp0();
        return la;
    }

    /** Reads the low quadword of a 16-byte memory operand at {@code la}. */
    public static long readLow(Cpu c, Insn i, long la) {
        return c.readL64(i.seg, la);
    }

    /** Reads the high quadword of a 16-byte memory operand at {@code la}. */
    public static long readHigh(Cpu c, Insn i, long la) {
        return c.readL64(i.seg, (la + 8) & c.linearMask);
    }

    /** Writes 16 bytes, checking both halves first so that a fault on the second leaves the first unwritten. */
    public static void write128(Cpu c, Insn i, long la, long lo, long hi) {
        c.probeWrite(i.seg, la, 16);
        c.writeL64(i.seg, la, lo);
        c.writeL64(i.seg, (la + 8) & c.linearMask, hi);
    }

    /**
     * Stores XMM register {@code x} to the r/m operand: a register (whole copy) or 16 bytes of
     * memory, aligned or not.
     */
    public static void storeXmm(Cpu c, Insn i, int x, boolean aligned) {
        long lo = c.xmm[2 * x], hi = c.xmm[2 * x + 1];
        if (i.rm >= 0) {
            c.xmm[2 * i.rm] = lo;
            c.xmm[2 * i.rm + 1] = hi;
        } else {
            write128(c, i, address(c, i, 16, Cpu.ACCESS_WRITE, aligned), lo, hi);
        }
    }

    // ---- MXCSR exception protocol ----

    /** Starts a floating-point instruction: returns the sticky flags and clears them in MXCSR. */
    public static int begin(Cpu c) {
        int sticky = c.mxcsr & FLAGS;
        c.mxcsr &= ~FLAGS;
        return sticky;
    }

    /**
     * Ends a floating-point instruction: merges the detected exceptions into the sticky flags and
     * raises the SIMD floating-point exception if one of them is unmasked. If an unmasked
     * pre-computation exception (IE, DE, ZE) occurred in any element, only the pre-computation
     * flags are reported (SDM Vol. 1, 11.5.2.1 and 11.5.3).
     */
    public static void end(Cpu c, int sticky) {
        int m = c.mxcsr;
        int detected = m & FLAGS;
        int unmasked = detected & ~(m >>> MASK_SHIFT);
        if (unmasked == 0) {
            c.mxcsr = m | sticky;
            return;
        }
        if ((unmasked & (IE | DE | ZE)) != 0) detected &= IE | DE | ZE;
        c.mxcsr = (m & ~FLAGS) | detected | sticky;
        throw simdException(c);
    }

    /** #XM when the OS handles it (CR4.OSXMMEXCPT), #UD otherwise (SDM Vol. 3A, 6.15, interrupt 19). */
    public static Fault simdException(Cpu c) {
        return (c.cr4 & CR4_OSXMMEXCPT) != 0 ? c.fault(EXC_XM) : c.ud();
    }
}
