package org.symbiont.devices.virtio;

import java.lang.invoke.VarHandle;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A split virtqueue in the legacy layout (virtio 1.x section 2.7 and 4.1.5.1.1.1 "Legacy
 * Interface: Device Initialization"; virtio 0.9.5 "Virtqueue Configuration"): the descriptor
 * table at the guest's page frame × 4096, the available ring right after it, the used ring at
 * the next 4096-byte boundary. The device side: {@link #pop()} takes the next available chain,
 * {@link #push} returns it through the used ring, {@link #needsInterrupt} decides whether the
 * driver wants to hear about it.
 *
 * <p>Everything the driver wrote is checked before it is used: ring indexes, descriptor
 * indexes, chain lengths (no loops), indirect tables, the order of readable and writable
 * buffers, and that every buffer lies inside guest RAM. A violation throws
 * {@link VirtqueueException}; the transport then treats the device as needing a reset.
 */
final class Virtqueue {
    static final int DESC_F_NEXT = 1;
    static final int DESC_F_WRITE = 2;
    static final int DESC_F_INDIRECT = 4;
    static final int AVAIL_F_NO_INTERRUPT = 1;
    static final int ALIGN = 4096;

    private final PhysicalMemory memory;
    private final int size;
    private long pfn;
    private long descriptors;
    private long available;
    private long used;
    private int lastAvailable;
    private int usedIndex;
    private boolean indirectAllowed;
    private boolean eventIndex;

    /** A queue of {@code size} entries (a power of two) in {@code memory}. */
    Virtqueue(PhysicalMemory memory, int size) {
        if (Integer.bitCount(size) != 1 || size > 32768) throw new IllegalArgumentException("queue size " + size + " is not a power of two up to 32768");
        this.memory = memory;
        this.size = size;
    }

    int size() {
        return size;
    }

    long pfn() {
        return pfn;
    }

    /** The queue is set up (a non-zero page frame number was written). */
    boolean ready() {
        return pfn != 0;
    }

    /** The driver placed the queue at page frame {@code pfn}; 0 deactivates it. */
    void setPfn(long pfn) {
        this.pfn = pfn;
        descriptors = pfn * ALIGN;
        available = descriptors + 16L * size;
        used = (available + 6 + 2L * size + ALIGN - 1) & -(long) ALIGN;
        lastAvailable = 0;
        usedIndex = 0;
    }

    /** The negotiated ring features: VIRTIO_RING_F_INDIRECT_DESC and VIRTIO_RING_F_EVENT_IDX. */
    void setFeatures(boolean indirect, boolean eventIdx) {
        indirectAllowed = indirect;
        eventIndex = eventIdx;
    }

    void reset() {
        setPfn(0);
    }

    /**
     * The queue's state: its page frame (the ring addresses follow from it and the size, which is
     * configuration), the next available entry to take and the used index published. The
     * negotiated ring features are the transport's.
     */
    void saveState(SectionWriter out) {
        out.i64(pfn).u16(lastAvailable).u16(usedIndex);
    }

    /** Restores what {@link #saveState} wrote; {@code field} names the queue in errors. */
    void restoreState(SectionReader in, String field) throws SnapshotException {
        int at = in.position();
        long frame = in.i64(field + " page frame");
        if (frame < 0 || frame > 0xFFFF_FFFFL) {
            throw in.malformed(at, field + " page frame", String.format("is %#x, wider than the 32-bit register", frame));
        }
        setPfn(frame);
        at = in.position();
        int nextAvailable = in.u16(field + " last available index");
        int published = in.u16(field + " used index");
        if (frame == 0 && (nextAvailable | published) != 0) {
            throw in.malformed(at, field + " last available index", "is " + nextAvailable + " (used " + published + ") in a queue not set up");
        }
        lastAvailable = nextAvailable;
        usedIndex = published;
    }

    /** The used index the device has published. */
    int usedIndex() {
        return usedIndex;
    }

    /** Takes the next available chain, or returns null when the driver has made none available. */
    Chain pop() {
        int availableIndex = memory.readU16(available + 2);
        VarHandle.acquireFence();
        int pending = (availableIndex - lastAvailable) & 0xFFFF;
        if (pending > size) {
            throw new VirtqueueException("available index moved from " + lastAvailable + " to " + availableIndex + " in a queue of " + size);
        }
        if (pending == 0) return null;
        int head = memory.readU16(available + 4 + 2L * (lastAvailable % size));
        Chain chain = walk(head);
        lastAvailable = (lastAvailable + 1) & 0xFFFF;
        publishAvailEvent();
        return chain;
    }

    /** Gives back the chain {@link #pop()} returned last: it stays available for later. */
    void unpop() {
        lastAvailable = (lastAvailable - 1) & 0xFFFF;
        publishAvailEvent();
    }

    /** Returns chain {@code head} to the driver with {@code written} bytes written into it. */
    void push(int head, int written) {
        long entry = used + 4 + 8L * (usedIndex % size);
        memory.writeU32(entry, head);
        memory.writeU32(entry + 4, written & 0xFFFF_FFFFL);
        usedIndex = (usedIndex + 1) & 0xFFFF;
        VarHandle.releaseFence();
        memory.writeU16(used + 2, usedIndex);
    }

    /**
     * Whether the driver wants an interrupt for the used entries published since the used index
     * was {@code oldUsedIndex}: with EVENT_IDX when the index passed the driver's used_event,
     * otherwise unless the driver set VRING_AVAIL_F_NO_INTERRUPT.
     */
    boolean needsInterrupt(int oldUsedIndex) {
        if (oldUsedIndex == usedIndex) return false;
        VarHandle.fullFence();
        if (eventIndex) {
            int usedEvent = memory.readU16(available + 4 + 2L * size);
            return ((usedIndex - usedEvent - 1) & 0xFFFF) < ((usedIndex - oldUsedIndex) & 0xFFFF);
        }
        return (memory.readU16(available) & AVAIL_F_NO_INTERRUPT) == 0;
    }

    /** With EVENT_IDX, asks to be notified when the driver makes the next chain available. */
    private void publishAvailEvent() {
        if (eventIndex) memory.writeU16(used + 4 + 8L * size, lastAvailable);
    }

    private Chain walk(int head) {
        if (head >= size) throw new VirtqueueException("chain head " + head + " is outside a queue of " + size);
        Chain chain = new Chain(head);
        long table = descriptors;
        int tableSize = size;
        int index = head;
        int visited = 0;
        boolean indirect = false;
        while (true) {
            if (++visited > tableSize) throw new VirtqueueException("descriptor chain from " + head + " is longer than its table (a loop)");
            long d = table + 16L * index;
            long address = memory.readU64(d);
            long length = memory.readU32(d + 8);
            int flags = memory.readU16(d + 12);
            int next = memory.readU16(d + 14);
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirectAllowed) throw new VirtqueueException("indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
                if (indirect) throw new VirtqueueException("indirect descriptor inside an indirect table");
                if ((flags & DESC_F_NEXT) != 0) throw new VirtqueueException("indirect descriptor with NEXT");
                if (length == 0 || length % 16 != 0) throw new VirtqueueException("indirect table of " + length + " bytes");
                checkInRam(address, length);
                indirect = true;
                table = address;
                tableSize = (int) Math.min(length / 16, 65536);
                index = 0;
                visited = 0;
                continue;
            }
            checkInRam(address, length);
            chain.add(address, length, (flags & DESC_F_WRITE) != 0);
            if ((flags & DESC_F_NEXT) == 0) return chain;
            if (next >= tableSize) throw new VirtqueueException("descriptor " + index + " links to " + next + ", outside its table of " + tableSize);
            index = next;
        }
    }

    private void checkInRam(long address, long length) {
        if (address < 0 || address > memory.size() - length) {
            throw new VirtqueueException(String.format("buffer [%#x, +%#x) is outside guest RAM", address, length));
        }
    }
}
