package org.symbiont.devices.pc;

import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;

/**
 * Base of the legacy PC devices, whose registers are all 8 bits wide. A 16- or 32-bit access is
 * carried out as consecutive byte accesses at {@code port}, {@code port + 1}, ... (what an ISA or
 * LPC bridge does with a wide cycle to an 8-bit device, and what QEMU's memory core does for
 * regions that accept byte accesses only). A byte of a wide access that falls outside the
 * device's ports reads as 0xFF (nothing drives the bus) and is dropped on writes.
 */
abstract class IsaPortDevice implements PortIoDevice {
    /** The register at {@code port} (one of this device's ports), as a value 0..255. */
    protected abstract int readByte(int port);

    /** A write of {@code value} (0..255) to {@code port} (one of this device's ports). */
    protected abstract void writeByte(int port, int value);

    @Override
    public final long ioRead(int port, int size) {
        long value = 0;
        for (int i = 0; i < Math.min(size, 8); i++) {
            int p = port + i;
            long b = decodes(p) ? readByte(p) & 0xFF : 0xFF;
            value |= b << (8 * i);
        }
        return value;
    }

    @Override
    public final void ioWrite(int port, int size, long value) {
        for (int i = 0; i < Math.min(size, 8); i++) {
            int p = port + i;
            if (decodes(p)) writeByte(p, (int) (value >>> (8 * i)) & 0xFF);
        }
    }

    private boolean decodes(int port) {
        for (PortRange r : portRanges()) {
            if (r.contains(port)) return true;
        }
        return false;
    }
}
