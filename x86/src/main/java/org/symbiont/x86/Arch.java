package org.symbiont.x86;

/**
 * Architectural constants of x86-64: register numbers, RFLAGS bits, control-register bits,
 * exception vectors, segment numbers, MSR numbers. Names follow the Intel SDM.
 */
public final class Arch {
    private Arch() {}

    // General-purpose registers, in ModRM/REX encoding order.
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
    public static final int R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
    /** 8-bit register numbers 16..19 stand for AH, CH, DH, BH (legacy high-byte registers). */
    public static final int AH = 16, CH = 17, DH = 18, BH = 19;

    // Segment registers, in the encoding order of MOV Sreg; LDTR and TR share the descriptor cache.
    public static final int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7;
    public static final int SEG_NONE = -1;

    // RFLAGS (SDM Vol. 1, 3.4.3).
    public static final long CF = 1L, PF = 1L << 2, AF = 1L << 4, ZF = 1L << 6, SF = 1L << 7;
    public static final long TF = 1L << 8, IF = 1L << 9, DF = 1L << 10, OF = 1L << 11;
    public static final long IOPL = 3L << 12, NT = 1L << 14, RF = 1L << 16, VM = 1L << 17;
    public static final long AC = 1L << 18, VIF = 1L << 19, VIP = 1L << 20, ID = 1L << 21;
    public static final long RFLAGS_FIXED1 = 1L << 1;
    /** The six status flags the arithmetic instructions produce. */
    public static final long STATUS_FLAGS = CF | PF | AF | ZF | SF | OF;

    // CR0 (SDM Vol. 3A, 2.5).
    public static final long CR0_PE = 1L, CR0_MP = 1L << 1, CR0_EM = 1L << 2, CR0_TS = 1L << 3;
    public static final long CR0_ET = 1L << 4, CR0_NE = 1L << 5, CR0_WP = 1L << 16, CR0_AM = 1L << 18;
    public static final long CR0_NW = 1L << 29, CR0_CD = 1L << 30, CR0_PG = 1L << 31;

    // CR4.
    public static final long CR4_VME = 1L, CR4_PVI = 1L << 1, CR4_TSD = 1L << 2, CR4_DE = 1L << 3;
    public static final long CR4_PSE = 1L << 4, CR4_PAE = 1L << 5, CR4_MCE = 1L << 6, CR4_PGE = 1L << 7;
    public static final long CR4_PCE = 1L << 8, CR4_OSFXSR = 1L << 9, CR4_OSXMMEXCPT = 1L << 10;
    public static final long CR4_UMIP = 1L << 11, CR4_LA57 = 1L << 12, CR4_FSGSBASE = 1L << 16;
    public static final long CR4_PCIDE = 1L << 17, CR4_OSXSAVE = 1L << 18, CR4_SMEP = 1L << 20;
    public static final long CR4_SMAP = 1L << 21;

    // EFER (MSR 0xC0000080).
    public static final long EFER_SCE = 1L, EFER_LME = 1L << 8, EFER_LMA = 1L << 10, EFER_NXE = 1L << 11;
    public static final long EFER_SVME = 1L << 12, EFER_FFXSR = 1L << 14;

    // Exception vectors (SDM Vol. 3A, 6.3.1).
    public static final int EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5;
    public static final int EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12;
    public static final int EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19;

    // Page-fault error code bits (SDM Vol. 3A, 4.7).
    public static final int PF_P = 1, PF_W = 1 << 1, PF_U = 1 << 2, PF_RSVD = 1 << 3, PF_I = 1 << 4;

    // Model-specific registers.
    public static final int MSR_TSC = 0x10;
    public static final int MSR_APIC_BASE = 0x1B;
    public static final int MSR_MTRRCAP = 0xFE;
    public static final int MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176;
    public static final int MSR_MISC_ENABLE = 0x1A0;
    public static final int MSR_MTRR_PHYSBASE0 = 0x200, MSR_MTRR_PHYSMASK7 = 0x20F;
    public static final int MSR_MTRR_FIX64K = 0x250, MSR_MTRR_FIX16K_80000 = 0x258, MSR_MTRR_FIX16K_A0000 = 0x259;
    public static final int MSR_MTRR_FIX4K_C0000 = 0x268, MSR_MTRR_FIX4K_F8000 = 0x26F;
    public static final int MSR_PAT = 0x277;
    public static final int MSR_MTRR_DEF_TYPE = 0x2FF;
    public static final int MSR_EFER = 0xC0000080, MSR_STAR = 0xC0000081, MSR_LSTAR = 0xC0000082;
    public static final int MSR_CSTAR = 0xC0000083, MSR_SFMASK = 0xC0000084;
    public static final int MSR_FS_BASE = 0xC0000100, MSR_GS_BASE = 0xC0000101, MSR_KERNEL_GS_BASE = 0xC0000102;
    public static final int MSR_TSC_AUX = 0xC0000103;
}
