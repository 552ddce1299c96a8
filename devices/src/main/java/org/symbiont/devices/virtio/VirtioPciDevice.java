package org.symbiont.devices.virtio;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.List;
import java.util.OptionalInt;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.devices.pci.PciConfigSpace;
import org.symbiont.devices.pci.PciFunction;
import org.symbiont.x86.memory.GuestMemoryException;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The legacy virtio PCI transport (virtio 0.9.5; virtio 1.x section 4.1.4.8 "Legacy Interfaces:
 * A Note on PCI Device Layout"), as a transitional device: vendor 1AF4h, device ID 1000h + type,
 * revision 0, subsystem vendor 1AF4h and subsystem ID the virtio device type, INTA#. BAR0 is an
 * I/O region holding the legacy header, then the device-specific configuration (at 14h: there
 * is no MSI-X):
 *
 * <pre>
 * 00h host features (32, RO)     04h guest features (32, RW)   08h queue page frame (32, RW)
 * 0Ch queue size (16, RO)        0Eh queue select (16, RW)     10h queue notify (16, RW)
 * 12h device status (8, RW)      13h ISR status (8, RO, read clears)
 * </pre>
 *
 * <p>As in QEMU, a header register is reached by an access at its own offset, of any size: reads
 * return the register zero-extended or truncated to the access, writes take the low bytes of the
 * value; an access at an offset inside a register reads all ones and writes nothing. The device
 * configuration is byte-addressed: any access at any offset, bytes past its end reading FFh.
 *
 * <p>Writing 0 to the device status resets the device. Writing 0 as a queue's page frame
 * deactivates that queue (Linux does it when it deletes a queue, after a reset; QEMU resets the
 * whole device instead). Writing a non-zero frame (re)starts the queue at index 0.
 *
 * <p>The device consumes buffers only while the driver has set DRIVER_OK (and not FAILED) and
 * bus mastering is enabled in the PCI command register (a function may not initiate DMA
 * otherwise); a queue notification arriving before then is remembered by the ring itself, and
 * every set-up queue is processed when both become true. Requests complete synchronously: when
 * the notification is processed, the used ring is updated and, if the driver wants it, the
 * interrupt raised — all at the same virtual instant.
 *
 * <p>Interrupts: a used buffer the driver wants to hear about sets ISR bit 0, a configuration
 * change ISR bit 1, and either asserts INTx#; reading the ISR returns and clears it and
 * deasserts INTx#.
 *
 * <p>A driver that breaks the ring rules (an index, address or chain the device cannot use)
 * puts the device in a broken state, as QEMU does: it stops consuming buffers until the driver
 * resets it. The legacy interface has no NEEDS_RESET status bit to tell the driver, so each such
 * event, and each notification ignored while broken, is counted in {@link #errors()}.
 *
 * <p>Ring features offered: VIRTIO_F_ANY_LAYOUT (devices see each chain as one readable and one
 * writable byte stream), VIRTIO_RING_F_INDIRECT_DESC and VIRTIO_RING_F_EVENT_IDX. Not offered:
 * VIRTIO_F_NOTIFY_ON_EMPTY.
 *
 * <p>State ({@link Snapshottable}): the PCI configuration space (BAR0, command, interrupt
 * request), the guest features, device status, ISR, queue selector, last notification, the
 * broken flag with the error count and last error, and each queue's page frame and indices; then
 * the device type's own state. The rings themselves are in guest memory; queue sizes and the
 * offered features are configuration.
 */
public abstract class VirtioPciDevice implements PortIoDevice, PciFunction, Snapshottable {
    public static final int VENDOR_ID = 0x1AF4;

    public static final int HOST_FEATURES = 0x00;
    public static final int GUEST_FEATURES = 0x04;
    public static final int QUEUE_PFN = 0x08;
    public static final int QUEUE_SIZE = 0x0C;
    public static final int QUEUE_SELECT = 0x0E;
    public static final int QUEUE_NOTIFY = 0x10;
    public static final int DEVICE_STATUS = 0x12;
    public static final int ISR_STATUS = 0x13;
    public static final int DEVICE_CONFIG = 0x14;

    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FAILED = 0x80;

    public static final int ISR_QUEUE = 1;
    public static final int ISR_CONFIG = 2;

    public static final int F_ANY_LAYOUT = 27;
    public static final int F_RING_INDIRECT_DESC = 28;
    public static final int F_RING_EVENT_IDX = 29;

    private static final int RING_FEATURES = 1 << F_ANY_LAYOUT | 1 << F_RING_INDIRECT_DESC | 1 << F_RING_EVENT_IDX;
    private static final long ALL_ONES = 0xFFFF_FFFFL;

    protected final String name;
    protected final DeviceContext context;
    protected final PciConfigSpace config;
    private final Virtqueue[] queues;
    private final OptionalInt slot;
    private final int configSize;
    private final int barSize;

    private int guestFeatures;
    private int status;
    private int isr;
    private int queueSelect;
    private int lastNotify;
    private boolean broken;
    private long errors;
    private String lastError = "";

    /**
     * @param pciDeviceId   1000h + the transitional device's index (1000h net, 1001h block)
     * @param virtioId      the virtio device type (1 net, 2 block), the subsystem ID
     * @param classCode     the PCI class code (base class, subclass, interface)
     * @param configSize    bytes of device-specific configuration
     * @param queueSizes    the size of each virtqueue
     */
    protected VirtioPciDevice(String name, DeviceContext context, int pciDeviceId, int virtioId, int classCode,
                              int configSize, int[] queueSizes, OptionalInt slot) {
        this.name = name;
        this.context = context;
        this.slot = slot;
        this.configSize = configSize;
        this.barSize = Math.max(32, Integer.highestOneBit(DEVICE_CONFIG + configSize - 1) << 1);
        config = new PciConfigSpace(VENDOR_ID, pciDeviceId, 0, classCode, VENDOR_ID, virtioId);
        config.defineIoBar(0, barSize);
        config.setInterruptPin(1);
        queues = new Virtqueue[queueSizes.length];
        for (int i = 0; i < queues.length; i++) queues[i] = new Virtqueue(context.memory(), queueSizes[i]);
    }

    // ---- what a device type provides ----

    /** The device-specific feature bits (0-23) offered. */
    protected abstract int deviceFeatures();

    /** A byte of the device-specific configuration ({@code 0 <= offset < configSize}). */
    protected abstract int readConfig(int offset);

    /** The driver wrote a byte of the device-specific configuration; read-only by default. */
    protected void writeConfig(int offset, int value) { }

    /** Consumes what queue {@code index} holds; called only while the device may do DMA. */
    protected abstract void processQueue(int index);

    /** The device-specific part of a reset (the transport's state is already reset). */
    protected abstract void resetDevice();

    /** Writes the device type's own state, after the transport's. */
    protected abstract void saveDeviceState(SectionWriter out);

    /** Restores what {@link #saveDeviceState} wrote, into a freshly constructed device. */
    protected abstract void restoreDeviceState(SectionReader in) throws SnapshotException;

    /** The optional {@code pci-slot} parameter of a device's configuration (1-31). */
    static OptionalInt pciSlot(Config params) {
        if (!params.hasPath("pci-slot")) return OptionalInt.empty();
        int slot = params.getInt("pci-slot");
        if (slot < 1 || slot > 31) {
            throw new ConfigException.BadValue(params.origin(), "pci-slot", "must be a PCI device number 1-31 (0 is the host bridge), got " + slot);
        }
        return OptionalInt.of(slot);
    }

    // ---- services for device types ----

    final Virtqueue queue(int index) {
        return queues[index];
    }

    /** Whether the driver accepted feature {@code bit}. */
    protected final boolean negotiated(int bit) {
        return (guestFeatures & (1 << bit)) != 0;
    }

    /** The device may consume buffers: DRIVER_OK, not FAILED, not broken, bus master on. */
    protected final boolean active() {
        return (status & (STATUS_DRIVER_OK | STATUS_FAILED)) == STATUS_DRIVER_OK && !broken && config.busMasterEnabled();
    }

    /** Runs {@code work} on the rings; a driver's violation marks the device broken. */
    protected final void guarded(Runnable work) {
        try {
            work.run();
        } catch (VirtqueueException | GuestMemoryException e) {
            broken = true;
            errors++;
            lastError = e.getMessage();
        }
    }

    /** Interrupts if the driver wants to hear about the entries used since {@code oldUsedIndex}. */
    final void usedBuffers(Virtqueue queue, int oldUsedIndex) {
        if (queue.needsInterrupt(oldUsedIndex)) interrupt(ISR_QUEUE);
    }

    /** The device configuration changed: tells a driver that is running. */
    protected final void configChanged() {
        if ((status & STATUS_DRIVER_OK) != 0) interrupt(ISR_CONFIG);
    }

    // ---- state for the VMM and tests ----

    /** Driver violations seen and notifications ignored because of them. */
    public final long errors() {
        return errors;
    }

    /** Whether the device stopped on a driver violation and waits for a reset. */
    public final boolean isBroken() {
        return broken;
    }

    /** What the last violation was, for logs ("" if none). */
    public final String lastError() {
        return lastError;
    }

    public final int deviceStatus() {
        return status;
    }

    // ---- Snapshottable ----

    @Override
    public final int stateVersion() {
        return 1;
    }

    @Override
    public final void saveState(SectionWriter out) {
        config.saveState(out);
        out.i32(guestFeatures).u8(status).u8(isr).u16(queueSelect).u16(lastNotify).bool(broken).i64(errors).string(lastError);
        for (Virtqueue q : queues) q.saveState(out);
        saveDeviceState(out);
    }

    @Override
    public final void restoreState(SectionReader in) throws SnapshotException {
        config.restoreState(in);
        int at = in.position();
        int features = in.i32("guest features");
        if ((features & ~(RING_FEATURES | deviceFeatures())) != 0) {
            throw in.malformed(at, "guest features", String.format("are %#x, beyond the offered %#x", features, RING_FEATURES | deviceFeatures()));
        }
        guestFeatures = features;
        status = in.u8("device status");
        at = in.position();
        isr = in.u8("ISR status");
        boolean requested = (config.get(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT) != 0;
        if ((isr & ~(ISR_QUEUE | ISR_CONFIG)) != 0 || (isr != 0) != requested) {
            throw in.malformed(at, "ISR status", "is " + isr + " with the PCI interrupt " + (requested ? "requested" : "not requested"));
        }
        queueSelect = in.u16("queue select");
        lastNotify = in.u16("queue notify");
        broken = in.bool("broken");
        at = in.position();
        errors = in.i64("error count");
        if (errors < 0) throw in.malformed(at, "error count", "is negative: " + errors);
        lastError = in.string("last error");
        for (int i = 0; i < queues.length; i++) {
            queues[i].setFeatures(negotiated(F_RING_INDIRECT_DESC), negotiated(F_RING_EVENT_IDX));
            queues[i].restoreState(in, "queue " + i);
        }
        restoreDeviceState(in);
    }

    // ---- Device, PciFunction, PortIoDevice ----

    @Override public final String name() { return name; }
    @Override public final OptionalInt requestedSlot() { return slot; }
    @Override public final int configRead(int offset, int size) { return config.read(offset, size); }
    @Override public final void connectInterrupt(InterruptLine intx) { config.connectInterrupt(intx); }
    @Override public final void connectRangesChanged(Runnable listener) { config.connectRangesChanged(listener); }
    @Override public final List<PortRange> portRanges() { return config.portRanges(); }

    @Override
    public final void configWrite(int offset, int size, int value) {
        boolean wasActive = active();
        config.write(offset, size, value);
        if (!wasActive && active()) processAll();
    }

    /** Machine reset: the virtio device and its PCI function return to power-on state. */
    @Override
    public final void reset() {
        resetTransport();
        config.reset();
    }

    @Override
    public final long ioRead(int port, int size) {
        long base = config.decodedBase(0);
        int offset = (int) (port - base);
        if (base < 0 || offset < 0 || offset >= barSize) return ALL_ONES >>> (32 - 8 * size);
        long value;
        if (offset >= DEVICE_CONFIG) {
            value = 0;
            for (int i = 0; i < size; i++) {
                int at = offset - DEVICE_CONFIG + i;
                value |= (long) (at < configSize ? readConfig(at) & 0xFF : 0xFF) << (8 * i);
            }
            return value;
        }
        value = switch (offset) {
            case HOST_FEATURES -> (RING_FEATURES | deviceFeatures()) & ALL_ONES;
            case GUEST_FEATURES -> guestFeatures & ALL_ONES;
            case QUEUE_PFN -> queueSelect < queues.length ? queues[queueSelect].pfn() : 0;
            case QUEUE_SIZE -> queueSelect < queues.length ? queues[queueSelect].size() : 0;
            case QUEUE_SELECT -> queueSelect;
            case QUEUE_NOTIFY -> lastNotify;
            case DEVICE_STATUS -> status;
            case ISR_STATUS -> readIsr();
            default -> ALL_ONES;
        };
        return value & ALL_ONES >>> (32 - 8 * size);
    }

    @Override
    public final void ioWrite(int port, int size, long value) {
        long base = config.decodedBase(0);
        int offset = (int) (port - base);
        if (base < 0 || offset < 0 || offset >= barSize) return;
        int v = (int) (value & ALL_ONES >>> (32 - 8 * size));
        if (offset >= DEVICE_CONFIG) {
            for (int i = 0; i < size; i++) {
                int at = offset - DEVICE_CONFIG + i;
                if (at < configSize) writeConfig(at, (v >>> (8 * i)) & 0xFF);
            }
            return;
        }
        switch (offset) {
            case GUEST_FEATURES -> {
                guestFeatures = v & (RING_FEATURES | deviceFeatures());
                for (Virtqueue q : queues) q.setFeatures(negotiated(F_RING_INDIRECT_DESC), negotiated(F_RING_EVENT_IDX));
            }
            case QUEUE_PFN -> {
                if (queueSelect < queues.length) queues[queueSelect].setPfn(v & ALL_ONES);
            }
            case QUEUE_SELECT -> queueSelect = v & 0xFFFF;
            case QUEUE_NOTIFY -> notifyQueue(v & 0xFFFF);
            case DEVICE_STATUS -> writeStatus(v & 0xFF);
            default -> { }
        }
    }

    private void notifyQueue(int index) {
        lastNotify = index;
        if (index >= queues.length || !queues[index].ready()) return;
        if (broken) {
            errors++;
            return;
        }
        if (active()) guarded(() -> processQueue(index));
    }

    private void writeStatus(int value) {
        if (value == 0) {
            resetTransport();
            return;
        }
        boolean wasActive = active();
        status = value;
        if (!wasActive && active()) processAll();
    }

    private void processAll() {
        for (int i = 0; i < queues.length && active(); i++) {
            int index = i;
            if (queues[i].ready()) guarded(() -> processQueue(index));
        }
    }

    private int readIsr() {
        int value = isr;
        isr = 0;
        config.setInterruptRequest(false);
        return value;
    }

    private void interrupt(int bits) {
        isr |= bits;
        config.setInterruptRequest(true);
    }

    private void resetTransport() {
        status = 0;
        guestFeatures = 0;
        queueSelect = 0;
        lastNotify = 0;
        isr = 0;
        broken = false;
        config.setInterruptRequest(false);
        for (Virtqueue q : queues) {
            q.reset();
            q.setFeatures(false, false);
        }
        resetDevice();
    }
}
