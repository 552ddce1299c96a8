package org.symbiont.x86.mmu;

/** How a {@link ShadowPager} keeps its shadow tables across guest CR3 writes. */
public enum ShadowStrategy {
    /** Virtual TLB (Palacios' default): a CR3 write drops every shadow entry, INVLPG drops one mapping. */
    VTLB,
    /**
     * Shadow tables kept per guest CR3 across switches; the guest page-table pages the VMM walked
     * are write-protected so that a guest write to one exits and drops the entries it backs.
     */
    CACHED
}
