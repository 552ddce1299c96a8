package org.symbiont.x86;

import java.nio.charset.StandardCharsets;

/**
 * What processor the guest sees: the CPUID leaves and the feature switches the core itself
 * honours (address widths, 1 GiB pages, PCID...). The core reads the switches; CPUID itself
 * always exits to the VMM, which answers from {@link #cpuid(int, int, int)} plus its own
 * extensions (a hypervisor leaf, the symbiotic leaf). Only features the core implements are
 * advertised.
 */
public final class CpuModel {
    // CPUID.1:EDX
    static final int FPU = 1, VME = 1 << 1, DE = 1 << 2, PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6;
    static final int MCE = 1 << 7, CX8 = 1 << 8, APIC = 1 << 9, SEP = 1 << 11, MTRR = 1 << 12, PGE = 1 << 13;
    static final int MCA = 1 << 14, CMOV = 1 << 15, PAT = 1 << 16, PSE36 = 1 << 17, CLFSH = 1 << 19;
    static final int FXSR = 1 << 24, SSE = 1 << 25, SSE2 = 1 << 26;
    // CPUID.1:ECX
    static final int CX16 = 1 << 13, PCID = 1 << 17, MOVBE = 1 << 22, POPCNT = 1 << 23;
    static final int XSAVE = 1 << 26, OSXSAVE = 1 << 27;
    // CPUID.7.0:EBX
    static final int FSGSBASE = 1, SMEP = 1 << 7, ERMS = 1 << 9, INVPCID = 1 << 10, SMAP = 1 << 20, CLFLUSHOPT = 1 << 23;
    /** The x87 FCS and FDS are not kept (FXSAVE/FNSTENV store them as 0). */
    static final int FCS_FDS_DEPRECATED = 1 << 13;
    // CPUID.80000001:EDX / ECX
    static final int SYSCALL = 1 << 11, NX = 1 << 20, PAGE1GB = 1 << 26, RDTSCP = 1 << 27, LM = 1 << 29;
    static final int LAHF64 = 1, ABM = 1 << 5;

    private final String vendor;
    private final String brand;
    private final int signature;
    private final int physicalAddressBits;
    private final boolean gigabytePages;
    private final long tscHz;

    public CpuModel(String vendor, String brand, int signature, int physicalAddressBits, boolean gigabytePages, long tscHz) {
        if (vendor.length() != 12) throw new IllegalArgumentException("CPUID vendor must be 12 characters: " + vendor);
        if (physicalAddressBits < 32 || physicalAddressBits > 52) {
            throw new IllegalArgumentException("physical address width must be 32..52 bits, got " + physicalAddressBits);
        }
        this.vendor = vendor;
        this.brand = brand.length() > 47 ? brand.substring(0, 47) : brand;
        this.signature = signature;
        this.physicalAddressBits = physicalAddressBits;
        this.gigabytePages = gigabytePages;
        this.tscHz = tscHz;
    }

    /** A generic x86-64 processor: family 6, 40-bit physical addresses, 1 GiB pages, 2 GHz TSC. */
    public static CpuModel standard() {
        return new CpuModel("GenuineIntel", "Symbiont Virtual CPU", 0x000506E3, 40, true, 2_000_000_000L);
    }

    public int physicalAddressBits() { return physicalAddressBits; }
    public boolean gigabytePages() { return gigabytePages; }
    public long tscHz() { return tscHz; }
    public String vendor() { return vendor; }
    public boolean pcid() { return true; }

    /** EDX after reset holds the processor signature (SDM Vol. 3A, 10.1.2). */
    public long resetEdx() {
        return signature;
    }

    /**
     * The architectural CPUID answer for a leaf, as {eax, ebx, ecx, edx}.
     *
     * @param apicId the initial APIC ID of the asking vCPU
     * @param osxsave whether CR4.OSXSAVE is set (reflected in leaf 1 ECX bit 27)
     */
    public int[] cpuid(int leaf, int subleaf, int apicId, boolean osxsave) {
        int maxBasic = 0xD;
        int maxExtended = 0x8000_0008;
        return switch (leaf) {
            case 0 -> vendorLeaf(maxBasic);
            case 1 -> new int[] {
                signature,
                (apicId << 24) | (1 << 16) | (8 << 8),
                CX16 | PCID | MOVBE | POPCNT | XSAVE | (osxsave ? OSXSAVE : 0),
                FPU | DE | PSE | TSC | MSR | PAE | MCE | CX8 | APIC | SEP | MTRR | PGE | MCA | CMOV | PAT | PSE36
                        | CLFSH | FXSR | SSE | SSE2
            };
            case 7 -> subleaf == 0
                    ? new int[] {0, FSGSBASE | SMEP | ERMS | INVPCID | FCS_FDS_DEPRECATED | SMAP | CLFLUSHOPT, 0, 0}
                    : new int[4];
            case 0xD -> switch (subleaf) {
                // XSAVE components: x87 and SSE only; the legacy region plus header is 576 bytes.
                case 0 -> new int[] {3, 576, 576, 0};
                case 1 -> new int[4];
                default -> new int[4];
            };
            case 0x8000_0000 -> new int[] {maxExtended, 0, 0, 0};
            case 0x8000_0001 -> new int[] {0, 0, LAHF64 | ABM, SYSCALL | NX | (gigabytePages ? PAGE1GB : 0) | RDTSCP | LM};
            case 0x8000_0002, 0x8000_0003, 0x8000_0004 -> brandLeaf(leaf - 0x8000_0002);
            case 0x8000_0007 -> new int[] {0, 0, 0, 1 << 8};
            case 0x8000_0008 -> new int[] {(48 << 8) | physicalAddressBits, 0, 0, 0};
            default -> {
                // Leaves above the maximum return the highest basic leaf's data (SDM Vol. 2A, CPUID).
                if (Integer.compareUnsigned(leaf, maxBasic) > 0 && Integer.compareUnsigned(leaf, 0x8000_0000) < 0
                        || Integer.compareUnsigned(leaf, maxExtended) > 0) {
                    yield cpuid(maxBasic, 0, apicId, osxsave);
                }
                yield new int[4];
            }
        };
    }

    private int[] vendorLeaf(int max) {
        byte[] v = vendor.getBytes(StandardCharsets.US_ASCII);
        return new int[] {max, le(v, 0), le(v, 8), le(v, 4)};
    }

    private int[] brandLeaf(int part) {
        byte[] b = new byte[48];
        byte[] s = brand.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(s, 0, b, 0, s.length);
        return new int[] {le(b, part * 16), le(b, part * 16 + 4), le(b, part * 16 + 8), le(b, part * 16 + 12)};
    }

    private static int le(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8 | (b[off + 2] & 0xFF) << 16 | (b[off + 3] & 0xFF) << 24;
    }
}
