package org.symbiont.x86.mmu;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * The write protection of guest page-table pages that cached shadow paging needs, shared by the
 * {@link ShadowPager}s of one VM (kept with its {@link PhysicalMemory}): a page any of them
 * protects is protected on every vCPU, and a guest write to it on one vCPU is passed on to the
 * others, which drop the entries it backs at their next paging exit. That is before the guest
 * can rely on them (SDM Vol. 3A, 4.10.5: another processor's TLB is only guaranteed fresh after
 * it invalidated it, with INVLPG, INVPCID or a CR3 write, all of which exit under shadow paging).
 */
final class PageTableWatch {
    /** Guest-physical page number to the number of pagers protecting it. */
    private final ConcurrentHashMap<Long, Integer> protectors = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<ShadowPager> pagers = new CopyOnWriteArrayList<>();
    private final PhysicalMemory memory;

    PageTableWatch(PhysicalMemory memory) {
        this.memory = memory;
    }

    static PageTableWatch of(PhysicalMemory memory) {
        return memory.shared(PageTableWatch.class, () -> new PageTableWatch(memory));
    }

    void register(ShadowPager pager) {
        pagers.add(pager);
    }

    boolean protects(long page) {
        return !protectors.isEmpty() && protectors.containsKey(page);
    }

    /**
     * One more pager protects {@code page}; the first one takes the writable TLB entries to it
     * away from every vCPU (as pages that start holding code lose theirs).
     */
    void protect(long page) {
        if (protectors.merge(page, 1, Integer::sum) == 1) {
            long hostPage = memory.hostOffsetForRead(page << PhysicalMemory.PAGE_SHIFT) >>> PhysicalMemory.PAGE_SHIFT;
            for (ShadowPager p : pagers) p.cpu().codePageMarked(hostPage);
        }
    }

    void unprotect(long page) {
        protectors.computeIfPresent(page, (k, n) -> n == 1 ? null : n - 1);
    }

    /** A guest write to {@code page} on {@code writer}'s vCPU: the other pagers drop what it backs. */
    void written(ShadowPager writer, long page) {
        for (ShadowPager p : pagers) {
            if (p != writer) p.remoteWrite(page);
        }
    }
}
