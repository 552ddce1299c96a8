package org.symbiont.devices.pci;

import java.util.OptionalInt;
import org.symbiont.devices.InterruptLine;

/**
 * A PCI function plugged into the {@link PciHost}: its configuration space (usually a
 * {@link PciConfigSpace} it delegates to) and its INTx# output. The function decodes its BARs
 * itself, as a {@link org.symbiont.devices.PortIoDevice} and/or
 * {@link org.symbiont.devices.MmioDevice} whose ranges follow what the guest programs.
 *
 * <p>The host calls {@link #configRead} and {@link #configWrite} on its own thread. A VMM that
 * hosts the function elsewhere (an actor of its own) plugs a forwarding {@code PciFunction} that
 * performs the call on the function's thread and waits for it, exactly as the vCPU waits for the
 * configuration cycle.
 */
public interface PciFunction {
    /**
     * A configuration read of {@code size} bytes (1, 2 or 4) at {@code offset}, naturally aligned
     * ({@code offset % size == 0}) inside the 256-byte space; the value is little-endian.
     */
    int configRead(int offset, int size);

    /** A configuration write, aligned as for {@link #configRead}. */
    void configWrite(int offset, int size, int value);

    /**
     * The wire the host routes this function's INTx# to (called once, when plugged). Level:
     * the function holds it asserted while it requests service. The host's wires may be driven
     * from any thread.
     */
    void connectInterrupt(InterruptLine intx);

    /**
     * {@code listener} runs (on the function's thread) after the ranges the function decodes
     * changed, because the guest or {@link PciHost#assignResources} programmed a BAR or toggled
     * I/O or memory decoding in the command register, or the function was reset: the VMM then
     * re-reads its port and MMIO ranges and re-registers it on its buses.
     */
    void connectRangesChanged(Runnable listener);

    /** The slot (device number 1-31) the configuration asks for, if any. */
    OptionalInt requestedSlot();
}
