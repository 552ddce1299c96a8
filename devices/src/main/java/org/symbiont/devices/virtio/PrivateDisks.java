package org.symbiont.devices.virtio;

import java.util.ArrayList;
import java.util.List;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * The memory-backed disks of a VM kept in its VMM-private memory (SwapBypass, Palacios 6.11):
 * where each one starts, in the order they were created, and the VMM's listener told of every
 * guest request before it touches a disk's bytes.
 */
public final class PrivateDisks {
    /** Told of a guest request on bytes {@code [physical, physical + length)} of private memory. */
    @FunctionalInterface
    public interface Listener {
        void accessed(long physical, long length);
    }

    /** A disk: its physical address and size in bytes. */
    public record Disk(long base, long size) {}

    private final List<Disk> disks = new ArrayList<>();
    private volatile Listener listener;

    private PrivateDisks() {}

    /** The VM's registry (kept with its memory). */
    public static PrivateDisks of(PhysicalMemory memory) {
        return memory.shared(PrivateDisks.class, PrivateDisks::new);
    }

    /** The disks in private memory, in creation order. */
    public synchronized List<Disk> disks() {
        return List.copyOf(disks);
    }

    public void listen(Listener l) {
        listener = l;
    }

    synchronized void added(long base, long size) {
        disks.add(new Disk(base, size));
    }

    void accessed(long physical, long length) {
        Listener l = listener;
        if (l != null) l.accessed(physical, length);
    }
}
