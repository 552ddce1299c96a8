package org.symbiont.vmm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Live migration's memory copy on the source: passes over guest memory (RAM and the VMM-private
 * region) that each find the pages whose contents differ from what was last sent, send them, and
 * remember what was sent. The first pass sends every page that is not all zeros (the receiver's
 * memory starts zeroed); later passes send what the guest wrote since.
 *
 * <p>Dirty pages are found by comparing each page with the copy last sent, on the VM's thread
 * between scheduling rounds, rather than by write-protecting guest memory as KVM's dirty log
 * does: write protection would add exits and page walks to the guest's accesses, which under
 * the cost model changes its virtual time, and a migrated run must continue exactly as an
 * uninterrupted one. The price is a second copy of guest memory on the source while it migrates.
 */
final class PreCopy implements AutoCloseable {
    static final int PAGE = (int) PhysicalMemory.PAGE_SIZE;

    private final PhysicalMemory memory;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment sent;
    private final long pageCount;
    private long cursor;
    private int pass;

    PreCopy(PhysicalMemory memory) {
        this.memory = memory;
        MemorySegment host = memory.hostSegment();
        this.pageCount = host.byteSize() / PAGE;
        this.sent = arena.allocate(host.byteSize(), PAGE); // zeroed: what the receiver starts with
    }

    /**
     * The next pages of the current pass that differ from what was sent, at most {@code maxPages},
     * scanning from where the last call stopped; marks them as sent. A pass that reaches the end
     * of memory completes, and the next call starts the next pass.
     */
    VmSupervisor.DirtyPages next(int maxPages) {
        MemorySegment host = memory.hostSegment();
        long[] pages = new long[maxPages];
        int found = 0;
        while (cursor < pageCount && found < maxPages) {
            long offset = cursor * PAGE;
            if (MemorySegment.mismatch(host, offset, offset + PAGE, sent, offset, offset + PAGE) >= 0) {
                MemorySegment.copy(host, offset, sent, offset, PAGE);
                pages[found++] = cursor;
            }
            cursor++;
        }
        byte[] contents = new byte[found * PAGE];
        for (int k = 0; k < found; k++) MemorySegment.copy(sent, ValueLayout.JAVA_BYTE, pages[k] * PAGE, contents, k * PAGE, PAGE);
        boolean complete = cursor == pageCount;
        var b = new VmSupervisor.DirtyPages(pass, java.util.Arrays.copyOf(pages, found), contents, complete);
        if (complete) {
            cursor = 0;
            pass++;
        }
        return b;
    }

    /** Whether page {@code page} differs from what was last sent (the last pass, with the VM paused). */
    boolean changed(long page) {
        long offset = page * PAGE;
        return MemorySegment.mismatch(memory.hostSegment(), offset, offset + PAGE, sent, offset, offset + PAGE) >= 0;
    }

    @Override
    public void close() {
        arena.close();
    }
}
