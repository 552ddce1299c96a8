package org.symbiont.x86.mmu;

import org.symbiont.x86.Cpu;

/**
 * A second translation stage under the guest's own paging (guest-physical to host); the
 * {@link NestedPager} of {@link PagingMode#NESTED} is one, and {@link Mmu#setSecondStage} installs
 * any other. Every guest-physical address the MMU uses, page-table entries included, passes
 * through it. Without one, guest-physical addresses index guest RAM directly.
 */
public interface SecondStage {
    /**
     * Maps a guest-physical address for an access of the given kind ({@link Cpu#ACCESS_READ},
     * {@link Cpu#ACCESS_WRITE}, {@link Cpu#ACCESS_FETCH}). Returns the address in the VM's
     * physical memory, or leaves the instruction with {@code cpu.exit(new Exit.PagingFault(...))}.
     *
     * @param linear the guest-linear address being translated (for the exit report)
     */
    long map(Cpu cpu, long linear, long guestPhysical, int access);
}
