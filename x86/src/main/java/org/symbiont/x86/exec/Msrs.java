package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.decode.Insn;

/**
 * The model-specific registers the core holds itself (SDM Vol. 4, chapter 2, architectural MSRs):
 * EFER, the SYSCALL/SYSENTER MSRs, FS/GS bases, TSC and TSC_AUX, PAT, the MTRRs and
 * MISC_ENABLE, with their reserved-bit and canonical-address checks (#GP(0)). Every other MSR is
 * the VMM's: RDMSR and WRMSR exit with {@link Exit.Rdmsr} / {@link Exit.Wrmsr}, and a refusal
 * ({@link Cpu#failMsr()}) raises #GP(0).
 */
public final class Msrs {
    private Msrs() {}

    /** MTRRcap: 8 variable ranges, fixed ranges, write-combining; no SMRR. */
    public static final long MTRRCAP = 8 | 1 << 8 | 1 << 10;

    private static final long EFER_WRITABLE = EFER_SCE | EFER_LME | EFER_NXE;

    /** The time-stamp counter as instruction {@code i} sees it: offset plus the virtual cycles before it. */
    public static long tsc(Cpu c, Insn i) {
        return c.tscOffset + cyclesAt(c, i);
    }

    private static long cyclesAt(Cpu c, Insn i) {
        return (c.retired + i.indexInBlock) * c.cyclesPerInstruction + c.extraCycles;
    }

    static boolean canonical(long a) {
        return (a << 16 >> 16) == a;
    }

    /** RDMSR: the value of {@code msr}, or an exit to the VMM for MSRs the core does not hold. */
    static long read(Cpu c, Insn i, int msr) {
        switch (msr) {
            case MSR_EFER: return c.efer;
            case MSR_STAR: return c.star;
            case MSR_LSTAR: return c.lstar;
            case MSR_CSTAR: return c.cstar;
            case MSR_SFMASK: return c.sfmask;
            case MSR_FS_BASE: return c.segBase[FS];
            case MSR_GS_BASE: return c.segBase[GS];
            case MSR_KERNEL_GS_BASE: return c.kernelGsBase;
            case MSR_TSC: return tsc(c, i);
            case MSR_TSC_AUX: return c.tscAux;
            case MSR_PAT: return c.pat;
            case MSR_MTRRCAP: return MTRRCAP;
            case MSR_MTRR_DEF_TYPE: return c.mtrrDefType;
            case MSR_SYSENTER_CS: return c.sysenterCs;
            case MSR_SYSENTER_ESP: return c.sysenterEsp;
            case MSR_SYSENTER_EIP: return c.sysenterEip;
            case MSR_MISC_ENABLE: return c.miscEnable;
            default:
                break;
        }
        int fixed = fixedMtrrIndex(msr);
        if (fixed >= 0) return c.mtrrFixed[fixed];
        if (msr >= MSR_MTRR_PHYSBASE0 && msr <= MSR_MTRR_PHYSMASK7) return c.mtrrVar[msr - MSR_MTRR_PHYSBASE0];
        long v = c.exitOrReplay(new Exit.Rdmsr(msr));
        if (v == Cpu.REPLAY_FAULT) throw c.gp0();
        return v;
    }

    /** WRMSR: checks and stores {@code v}, or exits to the VMM for MSRs the core does not hold. */
    static void write(Cpu c, Insn i, int msr, long v) {
        switch (msr) {
            case MSR_EFER -> writeEfer(c, v);
            case MSR_STAR -> c.star = v;
            case MSR_LSTAR -> c.lstar = requireCanonical(c, v);
            case MSR_CSTAR -> c.cstar = requireCanonical(c, v);
            case MSR_SFMASK -> c.sfmask = requireLow32(c, v);
            case MSR_FS_BASE, MSR_GS_BASE -> {
                c.segBase[msr == MSR_FS_BASE ? FS : GS] = requireCanonical(c, v);
                Segmentation.refreshEffectiveSegments(c);
            }
            case MSR_KERNEL_GS_BASE -> c.kernelGsBase = requireCanonical(c, v);
            case MSR_TSC -> c.tscOffset = v - cyclesAt(c, i);
            case MSR_TSC_AUX -> c.tscAux = requireLow32(c, v);
            case MSR_PAT -> {
                for (int k = 0; k < 8; k++) {
                    int type = (int) (v >>> (8 * k)) & 0xFF;
                    if (type > 7 || type == 2 || type == 3) throw c.gp0();
                }
                c.pat = v;
            }
            case MSR_MTRRCAP -> throw c.gp0();
            case MSR_MTRR_DEF_TYPE -> {
                if ((v & ~0xCFFL) != 0 || !validMtrrType((int) v & 0xFF)) throw c.gp0();
                c.mtrrDefType = v;
            }
            // SYSENTER_CS is a 32-bit field; its upper half is not stored.
            case MSR_SYSENTER_CS -> c.sysenterCs = v & 0xFFFF_FFFFL;
            case MSR_SYSENTER_ESP -> c.sysenterEsp = requireCanonical(c, v);
            case MSR_SYSENTER_EIP -> c.sysenterEip = requireCanonical(c, v);
            case MSR_MISC_ENABLE -> c.miscEnable = v;
            default -> writeOther(c, msr, v);
        }
    }

    private static void writeOther(Cpu c, int msr, long v) {
        int fixed = fixedMtrrIndex(msr);
        if (fixed >= 0) {
            for (int k = 0; k < 8; k++) {
                if (!validMtrrType((int) (v >>> (8 * k)) & 0xFF)) throw c.gp0();
            }
            c.mtrrFixed[fixed] = v;
        } else if (msr >= MSR_MTRR_PHYSBASE0 && msr <= MSR_MTRR_PHYSMASK7) {
            long above = -1L << c.model.physicalAddressBits();
            boolean mask = (msr & 1) != 0;
            // PHYSBASE: type in 7:0, 11:8 reserved; PHYSMASK: valid bit 11, 10:0 reserved.
            long reserved = above | (mask ? 0x7FFL : 0xF00L);
            if ((v & reserved) != 0 || (!mask && !validMtrrType((int) v & 0xFF))) throw c.gp0();
            c.mtrrVar[msr - MSR_MTRR_PHYSBASE0] = v;
        } else if (c.exitOrReplay(new Exit.Wrmsr(msr, v)) == Cpu.REPLAY_FAULT) {
            throw c.gp0();
        }
    }

    /**
     * EFER: SCE, LME, NXE are writable; LMA is read-only and a written value is ignored; LME cannot
     * change while paging is on (SDM Vol. 3A, 4.1.2); the other bits are reserved. A change of NXE
     * changes what every TLB entry allows.
     */
    private static void writeEfer(Cpu c, long v) {
        if ((v & ~(EFER_WRITABLE | EFER_LMA)) != 0) throw c.gp0();
        long old = c.efer;
        if ((c.cr0 & CR0_PG) != 0 && ((old ^ v) & EFER_LME) != 0) throw c.gp0();
        c.efer = (v & EFER_WRITABLE) | (old & EFER_LMA);
        if (((old ^ v) & EFER_NXE) != 0) c.mmu.flushAll();
        c.updateMode();
    }

    private static long requireCanonical(Cpu c, long v) {
        if (!canonical(v)) throw c.gp0();
        return v;
    }

    private static long requireLow32(Cpu c, long v) {
        if ((v >>> 32) != 0) throw c.gp0();
        return v;
    }

    /** Memory types an MTRR may hold: UC, WC, WT, WP, WB. */
    private static boolean validMtrrType(int t) {
        return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
    }

    /** Index in {@link Cpu#mtrrFixed} of a fixed-range MTRR, or -1. */
    private static int fixedMtrrIndex(int msr) {
        if (msr == MSR_MTRR_FIX64K) return 0;
        if (msr == MSR_MTRR_FIX16K_80000) return 1;
        if (msr == MSR_MTRR_FIX16K_A0000) return 2;
        if (msr >= MSR_MTRR_FIX4K_C0000 && msr <= MSR_MTRR_FIX4K_F8000) return 3 + msr - MSR_MTRR_FIX4K_C0000;
        return -1;
    }
}
