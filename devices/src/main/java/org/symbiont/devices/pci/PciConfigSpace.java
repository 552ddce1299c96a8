package org.symbiont.devices.pci;

import java.util.ArrayList;
import java.util.List;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.PortRange;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The 256-byte configuration space of a PCI function with a type 0 header (PCI Local Bus
 * Specification 3.0, chapter 6): every byte has a write mask, so read-only fields (IDs, class
 * code, header type, capability pointer, interrupt pin) ignore writes and a BAR answers the
 * all-ones probe with its size mask. A device model builds one, defines its BARs, interrupt pin
 * and capabilities, and delegates its {@link PciFunction} configuration accesses to it.
 *
 * <p>Writable fields, as QEMU makes them writable: the command register's I/O space, memory
 * space, bus master and interrupt disable bits; the cache line size; the interrupt line; the BAR
 * address bits. The status register's interrupt status (bit 3) follows the function's INTx
 * request and its capabilities-list bit (bit 4) is set once a capability exists; no other status
 * bit is ever set, so its write-one-to-clear bits have nothing to clear. There is no expansion ROM
 * (its BAR at 0x30 reads 0).
 *
 * <p>A BAR decodes when its space is enabled in the command register and its address is non-zero
 * and, as in QEMU, the range stays below the top of its address space (so a 32-bit BAR left
 * holding the all-ones probe pattern decodes nothing); an I/O BAR must end inside the 64 KiB port
 * space. Whenever the decoded
 * ranges change, the listener given to {@link #connectRangesChanged} runs (the VMM re-registers
 * the device on its buses).
 *
 * <p>State, for the snapshot of the device model that owns it: the 256 bytes as programmed (BARs,
 * command, interrupt line, ...); whether the function requests an interrupt is status bit 3.
 * The layout (BAR kinds and sizes, write masks, capabilities) is configuration.
 */
public final class PciConfigSpace {
    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    /** Programming interface (0x09), subclass (0x0A), base class (0x0B). */
    public static final int CLASS_CODE = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0C;
    public static final int HEADER_TYPE = 0x0E;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2C;
    public static final int SUBSYSTEM_ID = 0x2E;
    public static final int EXPANSION_ROM = 0x30;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3C;
    public static final int INTERRUPT_PIN = 0x3D;

    public static final int COMMAND_IO = 1 << 0;
    public static final int COMMAND_MEMORY = 1 << 1;
    public static final int COMMAND_BUS_MASTER = 1 << 2;
    public static final int COMMAND_INTX_DISABLE = 1 << 10;

    public static final int STATUS_INTERRUPT = 1 << 3;
    public static final int STATUS_CAPABILITIES = 1 << 4;

    public static final int BAR_IO = 1;
    public static final int BAR_MEMORY_64 = 0b100;
    public static final int BAR_PREFETCHABLE = 0b1000;

    public static final int SIZE = 256;
    /** Capabilities live after the standard 64-byte header. */
    private static final int FIRST_CAPABILITY = 0x40;

    private enum BarKind { IO, MEMORY_32, MEMORY_64, MEMORY_64_HIGH }

    private final byte[] bytes = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private final BarKind[] barKinds = new BarKind[6];
    private final long[] barSizes = new long[6];

    private int nextCapability = FIRST_CAPABILITY;
    private int lastCapability;

    private InterruptLine intx = InterruptLine.NONE;
    private boolean interruptRequested;
    private boolean intxDriven;

    private Runnable rangesChanged = () -> { };
    private List<PortRange> portRanges = List.of();
    private List<MmioRange> mmioRanges = List.of();

    /**
     * A function with the given identity (class code as base class, subclass, programming
     * interface: {@code 0x060000} is a host bridge), header type 0, single function.
     */
    public PciConfigSpace(int vendorId, int deviceId, int revisionId, int classCode,
                          int subsystemVendorId, int subsystemId) {
        set(VENDOR_ID, 2, vendorId);
        set(DEVICE_ID, 2, deviceId);
        set(REVISION_ID, 1, revisionId);
        set(CLASS_CODE, 3, classCode);
        set(SUBSYSTEM_VENDOR_ID, 2, subsystemVendorId);
        set(SUBSYSTEM_ID, 2, subsystemId);
        setWritable(COMMAND, 2, COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_INTX_DISABLE);
        setWritable(CACHE_LINE_SIZE, 1, 0xFF);
        setWritable(INTERRUPT_LINE, 1, 0xFF);
    }

    // ---- building the function (the device model, at creation) ----

    /**
     * Stores {@code size} bytes (1-4) of {@code value} at {@code offset} regardless of the write
     * mask: the device's own view of its registers (initial values, hard-wired fields).
     */
    public void set(int offset, int size, int value) {
        checkField(offset, size);
        for (int i = 0; i < size; i++) bytes[offset + i] = (byte) (value >>> (8 * i));
    }

    /** Makes the bits of {@code mask} writable by configuration writes (others become read-only). */
    public void setWritable(int offset, int size, int mask) {
        checkField(offset, size);
        for (int i = 0; i < size; i++) writable[offset + i] = (byte) (mask >>> (8 * i));
    }

    /** An I/O BAR of {@code size} ports (a power of two, 4 to 256). */
    public void defineIoBar(int index, int size) {
        if (Integer.bitCount(size) != 1 || size < 4 || size > 256) {
            throw new IllegalArgumentException("an I/O BAR is a power of two from 4 to 256 ports, got " + size);
        }
        defineBar(index, BarKind.IO, size, BAR_IO);
    }

    /** A 32-bit memory BAR of {@code size} bytes (a power of two, 16 bytes to 2 GiB). */
    public void defineMemoryBar32(int index, long size, boolean prefetchable) {
        if (Long.bitCount(size) != 1 || size < 16 || size > (1L << 31)) {
            throw new IllegalArgumentException("a 32-bit memory BAR is a power of two from 16 bytes to 2 GiB, got " + size);
        }
        defineBar(index, BarKind.MEMORY_32, size, prefetchable ? BAR_PREFETCHABLE : 0);
    }

    /** A 64-bit memory BAR of {@code size} bytes, occupying BARs {@code index} and {@code index + 1}. */
    public void defineMemoryBar64(int index, long size, boolean prefetchable) {
        if (Long.bitCount(size) != 1 || size < 16 || size > (1L << 40)) {
            throw new IllegalArgumentException("a 64-bit memory BAR is a power of two from 16 bytes to 1 TiB, got " + size);
        }
        if (index > 4) throw new IllegalArgumentException("a 64-bit BAR needs two slots; BAR " + index + " is the last");
        defineBar(index, BarKind.MEMORY_64, size, BAR_MEMORY_64 | (prefetchable ? BAR_PREFETCHABLE : 0));
        if (barKinds[index + 1] != null) throw new IllegalArgumentException("BAR " + (index + 1) + " is already defined");
        barKinds[index + 1] = BarKind.MEMORY_64_HIGH;
        setWritable(BAR0 + 4 * (index + 1), 4, (int) (-size >>> 32));
    }

    private void defineBar(int index, BarKind kind, long size, int typeBits) {
        if (index < 0 || index > 5) throw new IllegalArgumentException("BAR index " + index + " is not 0-5");
        if (barKinds[index] != null) throw new IllegalArgumentException("BAR " + index + " is already defined");
        barKinds[index] = kind;
        barSizes[index] = size;
        set(BAR0 + 4 * index, 4, typeBits);
        setWritable(BAR0 + 4 * index, 4, (int) -size);
    }

    /** The interrupt pin: 0 for none, 1-4 for INTA#-INTD#. */
    public void setInterruptPin(int pin) {
        if (pin < 0 || pin > 4) throw new IllegalArgumentException("interrupt pin " + pin + " is not 0-4");
        set(INTERRUPT_PIN, 1, pin);
    }

    /**
     * Appends a capability with ID {@code id} and {@code length} bytes (including its ID and next
     * pointer) to the capability list and returns its offset; the caller fills its body with
     * {@link #set} and {@link #setWritable}.
     */
    public int addCapability(int id, int length) {
        if (length < 2) throw new IllegalArgumentException("a capability has at least its ID and next pointer");
        int offset = nextCapability;
        if (offset + length > SIZE) throw new IllegalArgumentException("no room for a capability of " + length + " bytes");
        set(offset, 1, id);
        set(offset + 1, 1, 0);
        set(lastCapability == 0 ? CAPABILITIES_POINTER : lastCapability + 1, 1, offset);
        set(STATUS, 2, get(STATUS, 2) | STATUS_CAPABILITIES);
        lastCapability = offset;
        nextCapability = (offset + length + 3) & ~3;
        return offset;
    }

    // ---- wiring ----

    /** The INTx# wire the host routes this function's interrupt pin to. */
    public void connectInterrupt(InterruptLine line) {
        intx = line;
        intxDriven = false;
        updateIntx();
    }

    /** {@code listener} runs after any change of {@link #portRanges()} or {@link #mmioRanges()}. */
    public void connectRangesChanged(Runnable listener) {
        rangesChanged = listener;
    }

    // ---- configuration cycles (the guest, through the host bridge) ----

    /**
     * A configuration read of {@code size} bytes (1, 2 or 4) at {@code offset}, little-endian.
     * Bytes past the end of the space read as 0xFF.
     */
    public int read(int offset, int size) {
        int value = 0;
        for (int i = 0; i < size; i++) {
            int b = offset + i;
            int v = b >= 0 && b < SIZE ? bytes[b] & 0xFF : 0xFF;
            value |= v << (8 * i);
        }
        return value;
    }

    /** A configuration write: only the writable bits change. Bytes past the end are ignored. */
    public void write(int offset, int size, int value) {
        boolean command = false, bars = false;
        for (int i = 0; i < size; i++) {
            int b = offset + i;
            if (b < 0 || b >= SIZE) continue;
            int mask = writable[b];
            bytes[b] = (byte) ((bytes[b] & ~mask) | ((value >>> (8 * i)) & mask));
            command |= b == COMMAND || b == COMMAND + 1;
            bars |= b >= BAR0 && b < BAR0 + 24;
        }
        if (command) updateIntx();
        if (command || bars) updateRanges();
    }

    // ---- the device's side ----

    /** Reads a field regardless of how the guest sees it. */
    public int get(int offset, int size) {
        checkField(offset, size);
        return read(offset, size);
    }

    public int command() {
        return get(COMMAND, 2);
    }

    /** Whether the function may initiate memory cycles (DMA): the command register's bus master bit. */
    public boolean busMasterEnabled() {
        return (command() & COMMAND_BUS_MASTER) != 0;
    }

    /**
     * The function requests (or withdraws) an interrupt: status bit 3 follows, and the INTx# wire
     * is asserted while requested unless the command register disables INTx.
     */
    public void setInterruptRequest(boolean requested) {
        interruptRequested = requested;
        int status = get(STATUS, 2);
        set(STATUS, 2, requested ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
        updateIntx();
    }

    /** The base of a decoding BAR (port or guest-physical address), or -1 if it decodes nothing. */
    public long decodedBase(int index) {
        BarKind kind = barKinds[index];
        if (kind == null || kind == BarKind.MEMORY_64_HIGH) return -1;
        long size = barSizes[index];
        if (kind == BarKind.IO) {
            if ((command() & COMMAND_IO) == 0) return -1;
            long base = get(BAR0 + 4 * index, 4) & 0xFFFF_FFFCL;
            return base != 0 && base + size <= 0x10000 ? base : -1;
        }
        if ((command() & COMMAND_MEMORY) == 0) return -1;
        long base = get(BAR0 + 4 * index, 4) & 0xFFFF_FFF0L;
        long limit = 0xFFFF_FFFFL;
        if (kind == BarKind.MEMORY_64) {
            base |= (get(BAR0 + 4 * (index + 1), 4) & 0xFFFF_FFFFL) << 32;
            limit = Long.MAX_VALUE;
        }
        return base != 0 && Long.compareUnsigned(base, limit - size) <= 0 ? base : -1;
    }

    /** The port ranges the I/O BARs decode now, in BAR order. */
    public List<PortRange> portRanges() {
        return portRanges;
    }

    /** The guest-physical ranges the memory BARs decode now, in BAR order. */
    public List<MmioRange> mmioRanges() {
        return mmioRanges;
    }

    /**
     * Power-on state: every writable bit cleared (command, BARs, cache line size, interrupt line),
     * no interrupt requested.
     */
    public void reset() {
        for (int i = 0; i < SIZE; i++) bytes[i] &= (byte) ~writable[i];
        setInterruptRequest(false);
        updateRanges();
    }

    /** Writes the 256 bytes of the space; for the owning model's {@code saveState}. */
    public void saveState(SectionWriter out) {
        out.bytes(bytes, 0, SIZE);
    }

    /**
     * Replaces the bytes of this freshly built space with saved ones, whose read-only bits must be
     * this space's (status bit 3, the interrupt request, excepted); then drives the INTx# wire to
     * the saved request and reports the ranges the restored BARs decode.
     */
    public void restoreState(SectionReader in) throws SnapshotException {
        int at = in.position();
        byte[] saved = new byte[SIZE];
        in.bytes(saved, 0, SIZE, "configuration space");
        for (int b = 0; b < SIZE; b++) {
            int fixed = ~writable[b] & (b == STATUS ? ~STATUS_INTERRUPT : 0xFF) & 0xFF;
            if (((saved[b] ^ bytes[b]) & fixed) != 0) {
                throw in.malformed(at + b, String.format("configuration byte %#04x", b),
                        String.format("is %#04x, its read-only bits differ from this function's %#04x", saved[b] & 0xFF, bytes[b] & 0xFF));
            }
        }
        System.arraycopy(saved, 0, bytes, 0, SIZE);
        interruptRequested = (saved[STATUS] & STATUS_INTERRUPT) != 0;
        updateIntx();
        updateRanges();
    }

    private void updateIntx() {
        boolean drive = interruptRequested && (command() & COMMAND_INTX_DISABLE) == 0;
        if (drive != intxDriven) {
            intxDriven = drive;
            intx.set(drive);
        }
    }

    private void updateRanges() {
        List<PortRange> ports = new ArrayList<>(1);
        List<MmioRange> mmio = new ArrayList<>(1);
        for (int i = 0; i < 6; i++) {
            long base = decodedBase(i);
            if (base < 0) continue;
            if (barKinds[i] == BarKind.IO) ports.add(new PortRange((int) base, (int) barSizes[i]));
            else mmio.add(new MmioRange(base, barSizes[i]));
        }
        if (!ports.equals(portRanges) || !mmio.equals(mmioRanges)) {
            portRanges = List.copyOf(ports);
            mmioRanges = List.copyOf(mmio);
            rangesChanged.run();
        }
    }

    private static void checkField(int offset, int size) {
        if (size < 1 || size > 4 || offset < 0 || offset + size > SIZE) {
            throw new IllegalArgumentException(String.format("configuration field [%#x, +%d) is outside the 256-byte space", offset, size));
        }
    }
}
