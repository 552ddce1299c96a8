package org.symbiont.vmm;

import java.util.List;
import java.util.concurrent.CompletionStage;
import org.symbiont.devices.virtio.PrivateDisks;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.mmu.ShadowPager;

/**
 * SwapBypass for one VM (Palacios 6.11): the guest's swap disk is the VM's first memory-backed
 * virtio-blk disk, kept in VMM-private memory. A shadow fault on a guest PTE holding an entry of
 * the guest's swap area asks the guest (MEM_LOOKUP SymCall) for the address's rights; when the
 * access is allowed and the page is not in the guest's swap cache, the shadow entry maps the
 * disk's copy of the slot and the guest's swap-in is skipped. A guest request touching a disk
 * page drops the mappings of that page (the guest swapped it in, or reuses the slot), and every
 * CR3 write drops them all (Palacios' v3_swap_flush).
 *
 * <p>Used on the VM's thread only (deterministic mode): the paging actor and the disk's requests.
 */
final class SwapBypass {
    /** abi.h: LWK_SWP_TYPE and LWK_SWP_SLOT of a swap PTE. */
    private static final int TYPE_SHIFT = 1, SLOT_SHIFT = 9;
    private static final long TYPE_MASK = 0x1F, SLOT_MASK = (1L << 50) - 1;
    /** symbiotic.h: MEM_LOOKUP's permission bits. */
    private static final long PERM_PRESENT = 1, PERM_WRITE = 2, PERM_USER = 4;
    private static final long SECTOR = 512;

    private ShadowPager[] shadows = new ShadowPager[0];
    private final Extensions.SwapGuest guest;
    private final PrivateDisks.Disk disk;
    private long bypassed, symcalls, symcallsFailed, invalidatedBySwap;

    SwapBypass(Extensions.SwapGuest guest, PhysicalMemory memory) {
        List<PrivateDisks.Disk> disks = PrivateDisks.of(memory).disks();
        if (disks.isEmpty()) throw new IllegalStateException("symbiotic.swapbypass: the VM has no memory-backed virtio-blk disk");
        if (guest == null) throw new IllegalStateException("symbiotic.swapbypass: the VM was created without the symbiotic extension");
        this.guest = guest;
        this.disk = disks.getFirst();
        PrivateDisks.of(memory).listen(this::diskAccessed);
    }

    /** The vCPUs' shadow pagers, once the paging actor made them. */
    void attach(ShadowPager[] pagers) {
        shadows = pagers.clone();
    }

    /**
     * The physical address of the disk's copy of the page that swap entry {@code pte} names, or
     * -1 when it is not an entry of the guest's swap area (slot 0 is the swap header).
     */
    long diskPage(long pte) {
        Extensions.SwapArea area = guest.swapArea();
        if (area == null || ((pte >>> TYPE_SHIFT) & TYPE_MASK) != area.type()) return -1;
        long slot = (pte >>> SLOT_SHIFT) & SLOT_MASK;
        if (slot < 1 || slot >= area.pages()) return -1;
        long offset = area.firstSector() * SECTOR + slot * PhysicalMemory.PAGE_SIZE;
        if ((offset & (PhysicalMemory.PAGE_SIZE - 1)) != 0 || offset + PhysicalMemory.PAGE_SIZE > disk.size()) return -1;
        return disk.base() + offset;
    }

    CompletionStage<SymCallResult> lookup(int vcpu, long linear, long pte) {
        symcalls++;
        return guest.memLookup(vcpu, linear, pte);
    }

    /**
     * The guest answered MEM_LOOKUP for fault {@code f}: maps {@code page} when the guest allows
     * the access and has no copy of its own; otherwise the guest's #PF stands. Returns whether it mapped.
     */
    boolean answered(int vcpu, Exit.ShadowFault f, long page, SymCallResult r) {
        if (!(r instanceof SymCallResult.Ok ok)) {
            symcallsFailed++;
            return false;
        }
        long perm = ok.rcx();
        boolean writable = (perm & PERM_WRITE) != 0, user = (perm & PERM_USER) != 0;
        if (ok.rbx() == 0 || ok.rsi() != 0 || (perm & PERM_PRESENT) == 0
                || (f.access() == Cpu.ACCESS_WRITE && !writable) || (f.user() && !user)) {
            return false;
        }
        shadows[vcpu].bypass(f.linear(), page, writable, user);
        bypassed++;
        return true;
    }

    /** A guest request on disk bytes {@code [physical, physical + length)}: their pages' mappings go. */
    private void diskAccessed(long physical, long length) {
        if (length <= 0) return;
        for (long p = physical >>> 12; p <= (physical + length - 1) >>> 12; p++) {
            for (ShadowPager s : shadows) invalidatedBySwap += s.invalidate(p);
        }
    }

    SwapBypassStats stats() {
        long flushed = 0;
        for (ShadowPager s : shadows) flushed += s.bypassFlushed();
        return new SwapBypassStats(bypassed, symcalls, symcallsFailed, invalidatedBySwap, flushed);
    }
}
