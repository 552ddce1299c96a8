package org.symbiont.devices.apic;

/**
 * The 3-bit delivery-mode encodings shared by the local APIC's ICR and LVT entries and the I/O
 * APIC's redirection entries (SDM Vol. 3A 11.5.1 and 11.6.1; Intel 82093AA datasheet 3.2.4).
 * Encoding 3 is reserved everywhere; 6 (Start-up) exists only in the ICR and 7 (ExtINT) only in
 * LVT and redirection entries.
 */
public final class DeliveryMode {
    public static final int FIXED = 0;
    public static final int LOWEST_PRIORITY = 1;
    public static final int SMI = 2;
    public static final int NMI = 4;
    public static final int INIT = 5;
    public static final int STARTUP = 6;
    public static final int EXTINT = 7;

    private DeliveryMode() {}

    /** A readable name for diagnostics ({@code "reserved(3)"} for encodings without a meaning). */
    public static String name(int mode) {
        return switch (mode) {
            case FIXED -> "fixed";
            case LOWEST_PRIORITY -> "lowest-priority";
            case SMI -> "SMI";
            case NMI -> "NMI";
            case INIT -> "INIT";
            case STARTUP -> "start-up";
            case EXTINT -> "ExtINT";
            default -> "reserved(" + mode + ")";
        };
    }
}
