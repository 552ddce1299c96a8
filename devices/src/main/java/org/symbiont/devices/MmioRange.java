package org.symbiont.devices;

/** A range of guest-physical addresses a device decodes: {@code [base, base + length)}. */
public record MmioRange(long base, long length) {
    public MmioRange {
        if (base < 0 || length <= 0 || base + length < base) {
            throw new IllegalArgumentException(String.format("MMIO range [%#x, +%#x) is not a valid range", base, length));
        }
    }

    public boolean contains(long address) {
        return address >= base && address - base < length;
    }

    public long end() {
        return base + length;
    }
}
