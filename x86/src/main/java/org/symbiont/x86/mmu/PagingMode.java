package org.symbiont.x86.mmu;

/**
 * How a vCPU's guest paging is virtualized; chosen per VM with {@link Mmu#configure}. The guest
 * sees the same architectural behaviour in every mode; only the cost differs.
 */
public enum PagingMode {
    /** The MMU walks the guest page tables directly. */
    NATIVE,
    /** The MMU uses VMM-maintained shadow tables (guest-linear to host) kept by a {@link ShadowPager}. */
    SHADOW,
    /** The guest tables are walked in two dimensions through the VMM's {@link NestedPager} table. */
    NESTED
}
