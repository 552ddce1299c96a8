package org.symbiont.x86.mmu;

/**
 * Cycles the MMU itself charges to the vCPU's virtual time ({@code Cpu.extraCycles}).
 *
 * @param walkReference per memory reference of a page walk: a guest-table entry read, a nested-table
 *                      entry read, a shadow-table level, or a guest-table read by the shadow pager
 * @param tlbFlush      per flush of the whole TLB or of its non-global entries
 */
public record PagingCosts(long walkReference, long tlbFlush) {
    public static final PagingCosts FREE = new PagingCosts(0, 0);
}
