package org.symbiont.symbiotic;

/**
 * The numbers and offsets shared with the guest: the Java twin of
 * {@code guests/src/lwk/include/lwk/symbiotic.h} (Palacios' values, reference 6.2-6.6, plus the
 * state the LWK publishes in the SymSpy pages). Keep the two in step.
 */
public final class SymbioticAbi {
    private SymbioticAbi() {}

    // Discovery (6.2).
    public static final int CPUID_LEAF = 0x9000_0000;
    /** "V3V", little-endian. */
    public static final int CPUID_MAGIC = 0x0056_3356;
    /** EBX on Intel: "VMX\0". */
    public static final int CPUID_VMX = 0x0058_4D56;
    /** EBX on AMD: "SVM\0". */
    public static final int CPUID_SVM = 0x004D_5653;

    // SymSpy (6.3).
    public static final int SYMSPY_GLOBAL_MSR = 0x534;
    public static final int SYMSPY_LOCAL_MSR = 0x535;

    // SymCall registration (6.4): exactly these five; 0x53A-0x53F are not used.
    public static final int SYMCALL_RIP_MSR = 0x536;
    public static final int SYMCALL_RSP_MSR = 0x537;
    public static final int SYMCALL_CS_MSR = 0x538;
    public static final int SYMCALL_GS_MSR = 0x539;
    public static final int SYMCALL_FS_MSR = 0x540;

    // Return hypercalls (6.5).
    public static final long SYMCALL_RET_HCALL = 0x535;
    public static final long SYMCALL_ERR_HCALL = 0x536;

    // Call numbers (6.6).
    public static final long SYMCALL_TEST = 1;
    public static final long SYMCALL_MEM_LOOKUP = 10;

    /** MEM_LOOKUP permission bits (x86 page-fault error-code bits). */
    public static final int SYM_PERM_PRESENT = 0x1, SYM_PERM_WRITE = 0x2, SYM_PERM_USER = 0x4;

    /** errno of an unknown call number. */
    public static final long SYM_ENOSYS = 38;

    // Global SymSpy page.
    public static final int SYMSPY_MAGIC_OFF = 0;
    public static final int SYMSPY_FEATURES_OFF = 8;
    public static final int SYMSPY_PCI_MAP_OFF = 12;
    public static final int SYMSPY_G_VERSION_OFF = 256;
    public static final int SYMSPY_G_SWAP_TYPE_OFF = 260;
    public static final int SYMSPY_G_SWAP_PAGES_OFF = 264;
    public static final int SYMSPY_G_SWAP_SECTOR_OFF = 272;
    public static final int SYMSPY_G_SWAP_OUTS_OFF = 280;
    public static final int SYMSPY_G_SWAP_INS_OFF = 288;

    // Local (per-vCPU) SymSpy page.
    public static final int SYMSPY_L_MAGIC_OFF = 0;
    public static final int SYMSPY_L_FLAGS_OFF = 8;
    public static final int SYMSPY_L_SYMCALL_ACTIVE = 0x1;
    public static final int SYMSPY_L_SYMCALL_ENABLED = 0x2;
    public static final int SYMSPY_L_PID_OFF = 64;
    public static final int SYMSPY_L_CR3_OFF = 72;
    public static final int SYMSPY_L_SWITCHES_OFF = 80;

    public static final int PAGE_SIZE = 4096;
}
