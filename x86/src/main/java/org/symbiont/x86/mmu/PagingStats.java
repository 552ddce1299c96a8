package org.symbiont.x86.mmu;

/**
 * Paging counters of one vCPU, cumulative since it was created ({@link Mmu#stats()}).
 *
 * @param walks               page walks: native or two-dimensional walks on TLB misses, shadow-table
 *                            lookups on TLB misses, and the shadow pager's walks of the guest tables
 * @param walkReferences      memory references of those walks (each charged {@link PagingCosts#walkReference})
 * @param tlbFlushes          whole or non-global TLB flushes (each charged {@link PagingCosts#tlbFlush})
 * @param cr3Writes           MOV to CR3 executed by the guest
 * @param invlpgs             INVLPG executed by the guest
 * @param shadowFaults        shadow faults handled by the {@link ShadowPager}
 * @param shadowFills         shadow entries it installed
 * @param guestFaultsInjected #PF it found the guest itself takes
 * @param pageTableWrites     guest writes to write-protected guest page-table pages (CACHED)
 * @param nestedFaults        nested faults handled by the {@link NestedPager} for this vCPU
 */
public record PagingStats(long walks, long walkReferences, long tlbFlushes, long cr3Writes, long invlpgs,
                          long shadowFaults, long shadowFills, long guestFaultsInjected, long pageTableWrites,
                          long nestedFaults) {
    public static final PagingStats NONE = new PagingStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** These counters and {@code o}'s added up (the counters of several vCPUs). */
    public PagingStats plus(PagingStats o) {
        return new PagingStats(walks + o.walks, walkReferences + o.walkReferences, tlbFlushes + o.tlbFlushes,
                cr3Writes + o.cr3Writes, invlpgs + o.invlpgs, shadowFaults + o.shadowFaults, shadowFills + o.shadowFills,
                guestFaultsInjected + o.guestFaultsInjected, pageTableWrites + o.pageTableWrites, nestedFaults + o.nestedFaults);
    }
}
