package org.symbiont.devices.virtio;

import static org.junit.jupiter.api.Assertions.*;

import org.symbiont.devices.pci.PciConfigSpace;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * A legacy virtio PCI driver as a guest writes one, for tests: registers through the device's
 * I/O BAR, virtqueues laid out in guest memory with the legacy alignment, chains built
 * descriptor by descriptor.
 */
final class LegacyDriver {
    final VirtioPciDevice device;
    final PhysicalMemory memory;
    final int io;

    /** Programs BAR0 at {@code ioBase} and enables I/O decoding and bus mastering. */
    LegacyDriver(VirtioPciDevice device, PhysicalMemory memory, int ioBase) {
        this.device = device;
        this.memory = memory;
        this.io = ioBase;
        device.configWrite(PciConfigSpace.BAR0, 4, ioBase);
        device.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_BUS_MASTER);
    }

    long read(int register, int size) {
        return device.ioRead(io + register, size);
    }

    void write(int register, int size, long value) {
        device.ioWrite(io + register, size, value);
    }

    /** Reset, ACKNOWLEDGE, DRIVER, then accept the offered features among {@code wanted}; returns the offer. */
    int negotiate(int wanted) {
        write(VirtioPciDevice.DEVICE_STATUS, 1, 0);
        assertEquals(0, read(VirtioPciDevice.DEVICE_STATUS, 1), "reset reads back 0");
        write(VirtioPciDevice.DEVICE_STATUS, 1, VirtioPciDevice.STATUS_ACKNOWLEDGE);
        write(VirtioPciDevice.DEVICE_STATUS, 1, VirtioPciDevice.STATUS_ACKNOWLEDGE | VirtioPciDevice.STATUS_DRIVER);
        int offered = (int) read(VirtioPciDevice.HOST_FEATURES, 4);
        write(VirtioPciDevice.GUEST_FEATURES, 4, (offered & wanted) & 0xFFFF_FFFFL);
        return offered;
    }

    /** Sets up queue {@code index} with its rings at page-aligned {@code base}. */
    Ring setupQueue(int index, long base) {
        write(VirtioPciDevice.QUEUE_SELECT, 2, index);
        int size = (int) read(VirtioPciDevice.QUEUE_SIZE, 2);
        assertTrue(size > 0, "queue " + index + " exists");
        assertEquals(0, read(VirtioPciDevice.QUEUE_PFN, 4), "queue " + index + " not yet active");
        write(VirtioPciDevice.QUEUE_PFN, 4, base >>> 12);
        assertEquals(base >>> 12, read(VirtioPciDevice.QUEUE_PFN, 4));
        return new Ring(index, size, base);
    }

    void driverOk() {
        write(VirtioPciDevice.DEVICE_STATUS, 1, VirtioPciDevice.STATUS_ACKNOWLEDGE | VirtioPciDevice.STATUS_DRIVER
                | VirtioPciDevice.STATUS_DRIVER_OK);
    }

    int isr() {
        return (int) read(VirtioPciDevice.ISR_STATUS, 1);
    }

    /** A buffer of a chain. */
    record Buf(long address, int length, boolean writable) {
        static Buf in(long address, int length) {
            return new Buf(address, length, false);
        }

        static Buf out(long address, int length) {
            return new Buf(address, length, true);
        }
    }

    /** One entry of the used ring. */
    record Used(int id, int length) { }

    /** The driver's side of a virtqueue. */
    final class Ring {
        final int index;
        final int size;
        final long descriptors;
        final long available;
        final long used;
        int nextDescriptor;
        int availableIndex;
        int lastUsed;

        Ring(int index, int size, long base) {
            this.index = index;
            this.size = size;
            this.descriptors = base;
            this.available = base + 16L * size;
            this.used = (available + 6 + 2L * size + 4095) & ~4095L;
        }

        /** Writes descriptor {@code i} of the table at {@code table}. */
        void descriptor(long table, int i, long address, long length, int flags, int next) {
            long d = table + 16L * i;
            memory.writeU64(d, address);
            memory.writeU32(d + 8, length);
            memory.writeU16(d + 12, flags);
            memory.writeU16(d + 14, next);
        }

        /** Builds a chain of {@code buffers} in fresh descriptors and makes it available; returns its head. */
        int add(Buf... buffers) {
            int head = nextDescriptor;
            for (int k = 0; k < buffers.length; k++) {
                int i = (nextDescriptor + k) % size;
                boolean last = k == buffers.length - 1;
                descriptor(descriptors, i, buffers[k].address(), buffers[k].length(),
                        (buffers[k].writable() ? Virtqueue.DESC_F_WRITE : 0) | (last ? 0 : Virtqueue.DESC_F_NEXT),
                        last ? 0 : (i + 1) % size);
            }
            nextDescriptor = (nextDescriptor + buffers.length) % size;
            publish(head);
            return head;
        }

        /** Makes the chain starting at descriptor {@code head} available. */
        void publish(int head) {
            memory.writeU16(available + 4 + 2L * (availableIndex % size), head);
            availableIndex = (availableIndex + 1) & 0xFFFF;
            memory.writeU16(available + 2, availableIndex);
        }

        void kick() {
            write(VirtioPciDevice.QUEUE_NOTIFY, 2, index);
        }

        int usedIndex() {
            return memory.readU16(used + 2);
        }

        /** The next used entry, or null if the device has returned nothing new. */
        Used takeUsed() {
            if (usedIndex() == lastUsed) return null;
            long entry = used + 4 + 8L * (lastUsed % size);
            lastUsed = (lastUsed + 1) & 0xFFFF;
            return new Used((int) memory.readU32(entry), (int) memory.readU32(entry + 4));
        }

        void suppressInterrupts(boolean suppress) {
            memory.writeU16(available, suppress ? Virtqueue.AVAIL_F_NO_INTERRUPT : 0);
        }

        /** EVENT_IDX: interrupt when the used index passes {@code index}. */
        void usedEvent(int index) {
            memory.writeU16(available + 4 + 2L * size, index);
        }

        /** EVENT_IDX: the available index the device wants a notification at. */
        int availEvent() {
            return memory.readU16(used + 4 + 8L * size);
        }
    }
}
