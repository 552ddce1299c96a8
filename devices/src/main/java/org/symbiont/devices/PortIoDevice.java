package org.symbiont.devices;

import java.util.List;

/** A device with I/O ports. Sizes are 1, 2 or 4 bytes; values are zero-extended. */
public interface PortIoDevice extends Device {
    List<PortRange> portRanges();

    /** An IN from {@code port}; the value is masked to {@code size} bytes by the caller. */
    long ioRead(int port, int size);

    /** An OUT to {@code port} of {@code size} bytes. */
    void ioWrite(int port, int size, long value);
}
