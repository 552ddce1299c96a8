package org.symbiont.x86;

/** Parses the seeds randomized tests print, so a printed seed can be passed back as it is. */
public final class Seeds {
    private Seeds() {}

    /** A decimal number, or {@code 0x} followed by up to 16 hex digits (all 64 bits, unsigned). */
    public static long parse(String text) {
        String t = text.trim().replace("_", "");
        if (t.startsWith("0x") || t.startsWith("0X")) return Long.parseUnsignedLong(t.substring(2), 16);
        return Long.parseLong(t);
    }
}
