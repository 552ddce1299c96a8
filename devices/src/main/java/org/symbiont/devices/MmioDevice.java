package org.symbiont.devices;

import java.util.List;

/** A device with memory-mapped registers. Sizes are 1, 2, 4 or 8 bytes. */
public interface MmioDevice extends Device {
    List<MmioRange> mmioRanges();

    /** A read of {@code size} bytes at guest-physical {@code address} inside one of the ranges. */
    long mmioRead(long address, int size);

    void mmioWrite(long address, int size, long value);
}
