package org.symbiont.symbiotic;

import static org.symbiont.symbiotic.SymbioticAbi.*;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * The SymSpy shared pages of one VM (Palacios 6.3) and a typed view of what the guest publishes
 * in them. The guest names a page of its RAM by writing its address to MSR 0x534 (one page for
 * the VM) or 0x535 (one per vCPU); the VMM zeroes it and writes its magic, standing in for
 * Palacios' overlay of a VMM page (whose effect is the same: the guest's previous contents are
 * gone). The VMM reads and writes the pages in guest memory directly, without exits.
 *
 * <p>Getters read the guest's current values; a page not yet named reads as zeros (and SymCalls
 * as not enabled), and so does every page once the VM has ended and its memory is gone.
 */
public final class SymSpy {
    private final PhysicalMemory memory;
    /** Guest-physical addresses of the pages, 0 when not named (page 0 is never RAM the guest names). */
    private volatile long global;
    private final long[] local;

    SymSpy(PhysicalMemory memory, int vcpus) {
        this.memory = memory;
        this.local = new long[vcpus];
    }

    // ---- mapping (the MSR writes) ----

    synchronized void mapGlobal(long gpa) {
        clear(gpa);
        memory.write(gpa + SYMSPY_MAGIC_OFF, "V3V".getBytes(StandardCharsets.US_ASCII));
        global = gpa;
    }

    synchronized void mapLocal(int vcpu, long gpa) {
        clear(gpa);
        // "V3V." and the vCPU id in decimal, 8 bytes at most.
        byte[] magic = ("V3V." + vcpu).getBytes(StandardCharsets.US_ASCII);
        memory.write(gpa + SYMSPY_L_MAGIC_OFF, Arrays.copyOf(magic, Math.min(8, magic.length)));
        local[vcpu] = gpa;
    }

    /** A restored VM's pages, named before it was saved (their contents came back with its memory). */
    synchronized void restore(long globalPage, long[] localPages) {
        global = globalPage;
        System.arraycopy(localPages, 0, local, 0, local.length);
    }

    private void clear(long gpa) {
        memory.write(gpa, new byte[PAGE_SIZE]);
    }

    /** The global page's guest-physical address, 0 when not named. */
    public long globalPage() {
        return global;
    }

    /** The vCPU's local page's guest-physical address, 0 when not named. */
    public synchronized long localPage(int vcpu) {
        return local[vcpu];
    }

    // ---- the local page ----

    /** Whether the guest enabled SymCalls on this vCPU (bit 1 of the flags, set by the guest). */
    public boolean symcallEnabled(int vcpu) {
        return (localFlags(vcpu) & SYMSPY_L_SYMCALL_ENABLED) != 0;
    }

    /** Whether a SymCall runs on this vCPU (bit 0, set by the VMM). */
    public boolean symcallActive(int vcpu) {
        return (localFlags(vcpu) & SYMSPY_L_SYMCALL_ACTIVE) != 0;
    }

    /** The process the guest runs on this vCPU, 0 when idle. */
    public long currentPid(int vcpu) {
        return readLocal32(vcpu, SYMSPY_L_PID_OFF);
    }

    /** That process's page-table root (guest-physical). */
    public long currentCr3(int vcpu) {
        return readLocal64(vcpu, SYMSPY_L_CR3_OFF);
    }

    /** Context switches on this vCPU so far. */
    public long contextSwitches(int vcpu) {
        return readLocal64(vcpu, SYMSPY_L_SWITCHES_OFF);
    }

    /** Sets or clears the active bit (the guest's enabled bit is kept). */
    void setActive(int vcpu, boolean active) {
        long page = localPage(vcpu);
        if (page == 0) return;
        long f = read32(page + SYMSPY_L_FLAGS_OFF);
        memory.writeU32(page + SYMSPY_L_FLAGS_OFF, active ? f | SYMSPY_L_SYMCALL_ACTIVE : f & ~SYMSPY_L_SYMCALL_ACTIVE);
    }

    private long localFlags(int vcpu) {
        return readLocal32(vcpu, SYMSPY_L_FLAGS_OFF);
    }

    private long readLocal32(int vcpu, int offset) {
        long page = localPage(vcpu);
        return page == 0 ? 0 : read32(page + offset);
    }

    private long readLocal64(int vcpu, int offset) {
        long page = localPage(vcpu);
        return page == 0 ? 0 : read64(page + offset);
    }

    // ---- the global page ----

    /** The feature flags the VMM publishes (bit 0 PCI map valid, bit 1 SymMod: none are offered yet). */
    public long featureFlags() {
        return readGlobal32(SYMSPY_FEATURES_OFF);
    }

    /** 1 once the guest filled its fields of the global page. */
    public long guestVersion() {
        return readGlobal32(SYMSPY_G_VERSION_OFF);
    }

    /** The swap area's type (the type field of its swap entries). */
    public long swapType() {
        return readGlobal32(SYMSPY_G_SWAP_TYPE_OFF);
    }

    /** Slots in the swap area, 0 without swap. */
    public long swapPages() {
        return readGlobal64(SYMSPY_G_SWAP_PAGES_OFF);
    }

    /** The first disk sector of slot 0. */
    public long swapSector() {
        return readGlobal64(SYMSPY_G_SWAP_SECTOR_OFF);
    }

    /** Pages written to swap so far. */
    public long swapOuts() {
        return readGlobal64(SYMSPY_G_SWAP_OUTS_OFF);
    }

    /** Pages read back from swap so far. */
    public long swapIns() {
        return readGlobal64(SYMSPY_G_SWAP_INS_OFF);
    }

    private long readGlobal32(int offset) {
        long page = global;
        return page == 0 ? 0 : read32(page + offset);
    }

    private long readGlobal64(int offset) {
        long page = global;
        return page == 0 ? 0 : read64(page + offset);
    }

    private long read32(long gpa) {
        try {
            return memory.readU32(gpa);
        } catch (IllegalStateException vmEnded) {
            return 0; // the VM's memory was released (an ended VM)
        }
    }

    private long read64(long gpa) {
        try {
            return memory.readU64(gpa);
        } catch (IllegalStateException vmEnded) {
            return 0;
        }
    }
}
