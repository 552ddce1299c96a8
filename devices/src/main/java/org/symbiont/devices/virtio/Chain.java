package org.symbiont.devices.virtio;

import java.util.Arrays;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * A descriptor chain taken from a {@link Virtqueue}: device-readable buffers followed by
 * device-writable ones, each inside guest RAM. The device sees the readable buffers as one byte
 * stream and the writable ones as another, whatever the driver's split into descriptors
 * (VIRTIO_F_ANY_LAYOUT).
 */
final class Chain {
    private final int head;
    private long[] addresses = new long[4];
    private long[] lengths = new long[4];
    private int count;
    private int firstWritable = -1;
    private long readable;
    private long writable;

    Chain(int head) {
        this.head = head;
    }

    /** The index of the chain's first descriptor, which identifies it in the used ring. */
    int head() {
        return head;
    }

    long readableLength() {
        return readable;
    }

    long writableLength() {
        return writable;
    }

    void add(long address, long length, boolean deviceWritable) {
        if (!deviceWritable && firstWritable >= 0) {
            throw new VirtqueueException("device-readable descriptor after a device-writable one");
        }
        if (count == addresses.length) {
            addresses = Arrays.copyOf(addresses, count * 2);
            lengths = Arrays.copyOf(lengths, count * 2);
        }
        if (deviceWritable && firstWritable < 0) firstWritable = count;
        addresses[count] = address;
        lengths[count] = length;
        count++;
        if (deviceWritable) writable += length;
        else readable += length;
    }

    /** Copies {@code len} bytes of the readable stream from {@code offset} into {@code dst}. */
    void read(PhysicalMemory memory, long offset, byte[] dst, int off, int len) {
        int end = firstWritable < 0 ? count : firstWritable;
        for (int i = 0; i < end && len > 0; i++) {
            if (offset >= lengths[i]) {
                offset -= lengths[i];
                continue;
            }
            int n = (int) Math.min(len, lengths[i] - offset);
            memory.read(addresses[i] + offset, dst, off, n);
            off += n;
            len -= n;
            offset = 0;
        }
        if (len > 0) throw new IllegalArgumentException("read past the readable buffers");
    }

    /** Copies {@code len} bytes of {@code src} into the writable stream at {@code offset}. */
    void write(PhysicalMemory memory, long offset, byte[] src, int off, int len) {
        for (int i = firstWritable < 0 ? count : firstWritable; i < count && len > 0; i++) {
            if (offset >= lengths[i]) {
                offset -= lengths[i];
                continue;
            }
            int n = (int) Math.min(len, lengths[i] - offset);
            memory.write(addresses[i] + offset, src, off, n);
            off += n;
            len -= n;
            offset = 0;
        }
        if (len > 0) throw new IllegalArgumentException("write past the writable buffers");
    }
}
