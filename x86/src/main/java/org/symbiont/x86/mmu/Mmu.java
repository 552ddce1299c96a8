package org.symbiont.x86.mmu;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.Cpu.ACCESS_FETCH;
import static org.symbiont.x86.Cpu.ACCESS_READ;
import static org.symbiont.x86.Cpu.ACCESS_WRITE;
import static org.symbiont.x86.Cpu.TLB_INVALID;
import static org.symbiont.x86.Cpu.TLB_SIZE;

import java.lang.invoke.VarHandle;
import java.util.Arrays;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.exec.Fault;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Linear-to-physical translation and the slow paths of memory access: the page walk for 32-bit,
 * PAE and 4-level paging (4K/2M/4M/1G pages; P, R/W, U/S, NX, A, D, G; CR0.WP, EFER.NXE,
 * CR4.PSE/PAE/PGE/SMEP/SMAP; SDM Vol. 3A, chapter 4), TLB fills, page-crossing and MMIO
 * accesses, atomic accesses for LOCK, and TLB flushes.
 *
 * <p>Virtual paging ({@link PagingMode}), set up before the vCPU first runs:
 * <pre>
 *   NATIVE (default): nothing to do.
 *   NESTED: cpu.mmu.configure(NESTED, any, costs); cpu.mmu.attach(nestedPagerOfTheVm);
 *           answer Exit.PagingFault with nestedPager.handleFault(cpu, gpa, access); cpu.completePagingFault().
 *   SHADOW: cpu.mmu.configure(SHADOW, strategy, costs); ShadowPager p = new ShadowPager(cpu, strategy);
 *           cpu.mmu.attach(p); answer Exit.ShadowFault / ShadowCr3Write / ShadowInvlpg /
 *           ShadowPageTableWrite with the matching ShadowPager method, then cpu.completePagingFault().
 * </pre>
 * The TLB-hit path is the same in every mode: the work is on TLB misses, CR3 writes, INVLPG and,
 * for cached shadow paging, writes to write-protected guest page-table pages (which never get a
 * writable TLB entry).
 */
public final class Mmu {
    private final Cpu cpu;
    private final PhysicalMemory memory;
    /** Optional second stage (the nested pager, or another); null maps guest-physical to RAM directly. */
    private SecondStage secondStage;

    private PagingMode mode = PagingMode.NATIVE;
    private ShadowStrategy strategy = ShadowStrategy.VTLB;
    private PagingCosts costs = PagingCosts.FREE;
    /** SHADOW: the VMM's shadow tables for this vCPU. */
    private ShadowPager shadow;
    /** NESTED: the VM's nested table (also the second stage). */
    private NestedPager nested;

    // Result of the last walk.
    private long walkPhysical;
    private boolean walkWritable, walkUser, walkNoExecute, walkGlobal, walkDirty;
    private long walkMappingMask;
    /**
     * The last walk's non-present 4 KiB page-table entry (PAE or 4-level paging) when it stopped
     * there, else 0: a swap entry the shadow pager may bypass (Palacios 6.11).
     */
    long walkMissingPte;

    /** Per TLB entry: mask selecting the base of the mapping it came from (4K, 2M, 4M or 1G). */
    private final long[] mappingMask = new long[3 * TLB_SIZE];

    // Walk statistics, for telemetry and the cost model (see PagingStats).
    public long walks, walkReferences, tlbFlushes;
    long cr3Writes, invlpgs, shadowFaults, shadowFills, guestFaultsInjected, pageTableWrites, nestedFaults;

    /**
     * A #PF the shadow pager found the guest takes at an access: raised when the access is retried
     * and still has no shadow entry permitting it.
     */
    private boolean injected;
    private long injectedLinear;
    private int injectedAccess, injectedCode;
    private boolean injectedUser;
    /** Segment of the last access that missed the shadow tables (SMAP treats implicit accesses apart). */
    private int shadowMissSeg;

    /** The shadow-paging state of the access in flight (a #PF to raise at its retry, the missed segment). */
    public record InFlight(boolean injected, long linear, int access, int code, boolean user, int missSeg) {}

    public InFlight inFlight() {
        return new InFlight(injected, injectedLinear, injectedAccess, injectedCode, injectedUser, shadowMissSeg);
    }

    /** Restores {@link #inFlight()}; {@code null} clears it (a new context starts with nothing in flight). */
    public void setInFlight(InFlight f) {
        injected = f != null && f.injected();
        injectedLinear = f == null ? 0 : f.linear();
        injectedAccess = f == null ? 0 : f.access();
        injectedCode = f == null ? 0 : f.code();
        injectedUser = f != null && f.user();
        shadowMissSeg = f == null ? 0 : f.missSeg();
    }

    public Mmu(Cpu cpu) {
        this.cpu = cpu;
        this.memory = cpu.memory;
        flushAll();
    }

    public void setSecondStage(SecondStage stage) {
        this.secondStage = stage;
        flushAll();
    }

    /**
     * Chooses how guest paging is virtualized, before the vCPU runs; NATIVE with
     * {@link PagingCosts#FREE} is the default. Then attach the pager the mode needs:
     * {@link #attach(ShadowPager)} or {@link #attach(NestedPager)}.
     */
    public void configure(PagingMode mode, ShadowStrategy strategy, PagingCosts costs) {
        this.mode = mode;
        this.strategy = strategy;
        this.costs = costs;
        shadow = null;
        nested = null;
        secondStage = null;
        flushAll();
    }

    /** SHADOW: the vCPU's shadow pager, whose tables the MMU uses from now on. */
    public void attach(ShadowPager pager) {
        if (mode != PagingMode.SHADOW) throw new IllegalStateException("a shadow pager needs PagingMode.SHADOW, not " + mode);
        if (pager.strategy() != strategy) {
            throw new IllegalArgumentException("shadow pager strategy " + pager.strategy() + " but the MMU was configured for " + strategy);
        }
        shadow = pager;
        flushAll();
    }

    /** NESTED: the VM's nested pager, which translates every guest-physical address from now on. */
    public void attach(NestedPager pager) {
        if (mode != PagingMode.NESTED) throw new IllegalStateException("a nested pager needs PagingMode.NESTED, not " + mode);
        nested = pager;
        secondStage = pager;
        flushAll();
    }

    public PagingMode mode() {
        return mode;
    }

    public ShadowStrategy strategy() {
        return strategy;
    }

    public PagingCosts costs() {
        return costs;
    }

    /**
     * Sets the counters {@link #stats()} reports (a snapshot's restore continues them; the
     * restore's own TLB flush is not counted).
     */
    public void restoreStats(PagingStats s) {
        walks = s.walks();
        walkReferences = s.walkReferences();
        tlbFlushes = s.tlbFlushes();
        cr3Writes = s.cr3Writes();
        invlpgs = s.invlpgs();
        shadowFaults = s.shadowFaults();
        shadowFills = s.shadowFills();
        guestFaultsInjected = s.guestFaultsInjected();
        pageTableWrites = s.pageTableWrites();
        nestedFaults = s.nestedFaults();
    }

    public PagingStats stats() {
        return new PagingStats(walks, walkReferences, tlbFlushes, cr3Writes, invlpgs, shadowFaults, shadowFills,
                guestFaultsInjected, pageTableWrites, nestedFaults);
    }

    /** One memory reference of a walk (guest, nested or shadow table), charged to virtual time. */
    void reference() {
        walkReferences++;
        cpu.extraCycles += costs.walkReference();
    }

    private void flushed() {
        tlbFlushes++;
        cpu.extraCycles += costs.tlbFlush();
    }

    // =====================================================================================
    // Slow paths of the Cpu accessors
    // =====================================================================================

    public long readSlow(int seg, long la, int size, boolean user) {
        checkAlignment(la, size, user);
        if ((la & 0xFFF) + size > 0x1000) {
            long v = 0;
            for (int k = 0; k < size; k++) {
                v |= readSlow(seg, (la + k) & cpu.linearMask, 1, user) << (8 * k);
            }
            return v;
        }
        long pa = translate(seg, la, ACCESS_READ, user);
        long host = memory.hostOffsetForRead(pa);
        if (host >= 0) return readHost(host, size);
        return cpu.exitOrReplay(new Exit.MmioRead(pa, size)) & sizeMask(size);
    }

    public void writeSlow(int seg, long la, int size, long v, boolean user) {
        checkAlignment(la, size, user);
        if ((la & 0xFFF) + size > 0x1000) {
            // Both pages must be writable before any byte lands (precise faults).
            long second = nextPage(la);
            translate(seg, la, ACCESS_WRITE, user);
            translate(seg, second, ACCESS_WRITE, user);
            for (int k = 0; k < size; k++) {
                writeSlow(seg, (la + k) & cpu.linearMask, 1, v >>> (8 * k), user);
            }
            return;
        }
        long pa = translate(seg, la, ACCESS_WRITE, user);
        long host = memory.hostOffsetForWrite(pa);
        if (host >= 0) {
            guardPageTable(pa, size);
            noteCodeWrite(host);
            writeHost(host, size, v);
        } else if (!memory.isReadOnly(pa)) {
            cpu.exitOrReplay(new Exit.MmioWrite(pa, size, v & sizeMask(size)));
        }
    }

    /** Translates for an access without performing it, raising any fault it would raise. */
    public void probe(int seg, long la, int size, int access, boolean user) {
        translate(seg, la, access, user);
        if ((la & 0xFFF) + size > 0x1000) translate(seg, nextPage(la), access, user);
    }

    public int fetchSlow(long la, boolean user) {
        long pa = translate(CS, la, ACCESS_FETCH, user);
        long host = memory.hostOffsetForRead(pa);
        if (host < 0) {
            // Executing from MMIO is not supported by the interpreter; the guest sees a machine check.
            throw cpu.fault(EXC_MC);
        }
        return memory.hostRead8(host) & 0xFF;
    }

    /** Host offset of the page holding code at {@code la}, after a fetch translation. */
    public long fetchHostOffset(long la, boolean user) {
        long pa = translate(CS, la, ACCESS_FETCH, user);
        long host = memory.hostOffsetForRead(pa);
        if (host < 0) throw cpu.fault(EXC_MC);
        return host;
    }

    /**
     * LOCK-prefixed read-modify-write: compare-and-exchange of {@code size} bytes, atomic against
     * other vCPU threads for RAM operands. Returns the value found. The caller has just read
     * {@code expected} from the operand. A RAM operand split across two pages is serialized by
     * the memory's split lock (split locks are slow on hardware too). An operand in MMIO is
     * written without a second read: devices see the one read the caller made, then the write,
     * and the VMM serializes device accesses anyway.
     */
    public long lockedCompareExchange(int seg, long la, int size, long expected, long update, boolean user) {
        checkAlignment(la, size, user);
        long mask = sizeMask(size);
        if ((la & 0xFFF) + size <= 0x1000) {
            long pa = translate(seg, la, ACCESS_WRITE, user);
            long host = memory.hostOffsetForWrite(pa);
            if (host >= 0) {
                guardPageTable(pa, size);
                long found = memory.compareAndExchange(host, size, expected & mask, update & mask);
                if (found == (expected & mask)) noteCodeWrite(host);
                return found;
            }
            writeSlow(seg, la, size, update, user);
            return expected & mask;
        }
        long second = nextPage(la);
        boolean ram = memory.hostOffsetForWrite(translate(seg, la, ACCESS_WRITE, user)) >= 0
                && memory.hostOffsetForWrite(translate(seg, second, ACCESS_WRITE, user)) >= 0;
        if (!ram) {
            writeSlow(seg, la, size, update, user);
            return expected & mask;
        }
        synchronized (memory.splitLock()) {
            long found = readSlow(seg, la, size, user);
            if (found == (expected & mask)) writeSlow(seg, la, size, update, user);
            return found;
        }
    }

    /**
     * Host offset of {@code la} for an access the caller makes straight on host memory, staying
     * inside la's page (bulk string moves, CMPXCHG16B): the translation, permission checks and
     * accessed/dirty updates of an ordinary access, or -1 when the page is not RAM for this access
     * (MMIO, or ROM for a write). For a write, decoded code in the page is invalidated first.
     */
    public long directHostOffset(int seg, long la, int access, boolean user) {
        int i = (user ? TLB_SIZE : 0) + Cpu.tlbIndex(la);
        long tag = access == ACCESS_WRITE ? cpu.tlbWrite[i] : cpu.tlbRead[i];
        if (tag == (la & Cpu.PAGE_MASK)) return cpu.tlbAddend[i] + la;
        long pa = translate(seg, la, access, user);
        long host = access == ACCESS_WRITE ? memory.hostOffsetForWrite(pa) : memory.hostOffsetForRead(pa);
        // A write-protected guest page table is written element by element through writeSlow.
        if (host >= 0 && access == ACCESS_WRITE && shadow != null && shadow.protects(pa)) return -1;
        if (host >= 0 && access == ACCESS_WRITE) noteCodeWrite(host);
        return host;
    }

    /** #AC(0) for a misaligned user data access while alignment checking is on. */
    private void checkAlignment(long la, int size, boolean user) {
        if (user && (la & (size - 1)) != 0 && cpu.alignmentChecking()) throw cpu.fault(EXC_AC, 0);
    }

    /**
     * The first byte of the page after {@code la}: where the second part of a page-crossing
     * access starts, and the CR2 a fault there reports (as hardware does).
     */
    private long nextPage(long la) {
        return ((la | 0xFFF) + 1) & cpu.linearMask;
    }

    /**
     * Cached shadow paging: a guest write to a guest page-table page the shadow pager
     * write-protected exits first, so that the VMM drops the shadow entries it backs; the write
     * is then done when the instruction re-executes with the VMM's answer.
     */
    private void guardPageTable(long pa, int size) {
        if (shadow != null && shadow.protects(pa)) cpu.exitOrReplay(new Exit.ShadowPageTableWrite(pa, size));
    }

    private void noteCodeWrite(long host) {
        if (memory.holdsCode(host)) {
            long page = host >>> PhysicalMemory.PAGE_SHIFT;
            memory.codeWritten(page);
            if (page == cpu.currentBlockPage || page == cpu.currentBlockPage2) cpu.stopBlock = true;
        }
    }

    private long readHost(long host, int size) {
        long v = switch (size) {
            case 1 -> memory.hostRead8(host) & 0xFFL;
            case 2 -> memory.hostRead16(host) & 0xFFFFL;
            case 4 -> memory.hostRead32(host) & 0xFFFF_FFFFL;
            default -> memory.hostRead64(host);
        };
        VarHandle.acquireFence();
        return v;
    }

    private void writeHost(long host, int size, long v) {
        VarHandle.releaseFence();
        switch (size) {
            case 1 -> memory.hostWrite8(host, (byte) v);
            case 2 -> memory.hostWrite16(host, (short) v);
            case 4 -> memory.hostWrite32(host, (int) v);
            default -> memory.hostWrite64(host, v);
        }
    }

    private static long sizeMask(int size) {
        return size == 8 ? -1L : (1L << (size * 8)) - 1;
    }

    // =====================================================================================
    // Translation
    // =====================================================================================

    /**
     * Translates a linear address for an access, raising #GP/#SS for a non-canonical address and
     * #PF for a paging violation, and fills the TLB. Returns the physical address.
     *
     * @param user whether the access is made at user privilege (CPL 3 and not an implicit
     *             supervisor access)
     */
    public long translate(int seg, long la, int access, boolean user) {
        if ((cpu.efer & EFER_LMA) != 0 && (la << 16 >> 16) != la) {
            throw seg == SS ? cpu.fault(EXC_SS, 0) : cpu.fault(EXC_GP, 0);
        }
        if (mode != PagingMode.NATIVE && shadow == null && nested == null) {
            throw new IllegalStateException("paging mode " + mode + " needs its pager attached (Mmu.attach) before the vCPU runs");
        }
        long pa;
        boolean paging = (cpu.cr0 & CR0_PG) != 0;
        if (!paging) {
            walkWritable = walkUser = walkDirty = true;
            walkNoExecute = walkGlobal = false;
            walkMappingMask = Cpu.PAGE_MASK;
            pa = la & 0xFFFF_FFFFL;
            if ((cpu.efer & EFER_LMA) != 0) pa = la;
        } else if (shadow != null) {
            pa = shadowTranslate(seg, la, access, user);
        } else {
            walk(la, access, user);
            if (!allowed(access, user, seg == SEG_NONE)) throw pageFault(la, access, user, true, false);
            setAccessedAndDirty(access);
            pa = walkPhysical;
        }
        if (secondStage != null) pa = secondStage.map(cpu, la, pa, access);
        fill(la, pa, access, user);
        return pa;
    }

    /**
     * Access rights of the last walk (SDM Vol. 3A, 4.6). {@code implicit}: a supervisor-mode access
     * to a system structure (descriptor tables, TSS, IDT), which SMAP blocks from user pages
     * whatever EFLAGS.AC says; any supervisor access made at CPL 3 is implicit too.
     */
    private boolean allowed(int access, boolean user, boolean implicit) {
        boolean smep = (cpu.cr4 & CR4_SMEP) != 0, smap = (cpu.cr4 & CR4_SMAP) != 0;
        boolean wp = (cpu.cr0 & CR0_WP) != 0;
        switch (access) {
            case ACCESS_FETCH:
                if (walkNoExecute) return false;
                if (user) return walkUser;
                return !(smep && walkUser);
            case ACCESS_WRITE:
                if (user) return walkUser && walkWritable;
                if (smap && walkUser && smapBlocks(implicit)) return false;
                return walkWritable || !wp;
            default:
                if (user) return walkUser;
                return !(smap && walkUser && smapBlocks(implicit));
        }
    }

    private boolean smapBlocks(boolean implicit) {
        return implicit || (cpu.rflags & AC) == 0 || cpu.cpl == 3;
    }

    private void fill(long la, long pa, int access, boolean user) {
        int i = (user ? TLB_SIZE : 0) + Cpu.tlbIndex(la);
        long page = la & Cpu.PAGE_MASK;
        long readHost = memory.hostOffsetForRead(pa);
        long writeHost = memory.hostOffsetForWrite(pa);
        boolean smapSlow = !user && walkUser && (cpu.cr4 & CR4_SMAP) != 0;
        long addend = (readHost & Cpu.PAGE_MASK) - page;
        cpu.tlbAddend[i] = addend;
        cpu.tlbHostPage[i] = readHost >= 0 ? readHost >>> PhysicalMemory.PAGE_SHIFT : -1;
        cpu.tlbGlobal[i] = walkGlobal;
        mappingMask[i] = walkMappingMask;
        // A second stage may grant some kinds of access and not others; the nested pager grants all.
        boolean onlyThisKind = secondStage != null && nested == null;
        cpu.tlbRead[i] = readHost >= 0 && !smapSlow && (!onlyThisKind || access == ACCESS_READ)
                && allowed(ACCESS_READ, user, false) ? page : TLB_INVALID;
        cpu.tlbWrite[i] = writeHost >= 0 && !smapSlow && (!onlyThisKind || access == ACCESS_WRITE)
                && (walkDirty || access == ACCESS_WRITE) && !memory.holdsCode(writeHost)
                && (shadow == null || !shadow.protects(pa))
                && allowed(ACCESS_WRITE, user, false) ? page : TLB_INVALID;
        cpu.tlbFetch[i] = readHost >= 0 && (!onlyThisKind || access == ACCESS_FETCH)
                && allowed(ACCESS_FETCH, user, false) ? page : TLB_INVALID;
    }

    private RuntimeException pageFault(long la, int access, boolean user, boolean present, boolean reserved) {
        int code = 0;
        if (present) code |= PF_P;
        if (access == ACCESS_WRITE) code |= PF_W;
        if (user) code |= PF_U;
        if (reserved) code |= PF_RSVD | PF_P;
        // I/D is reported when execute-disable exists (PAE or 4-level paging with EFER.NXE) or SMEP is on (SDM 4.7).
        boolean executeDisable = (cpu.efer & EFER_NXE) != 0 && (cpu.cr4 & CR4_PAE) != 0;
        if (access == ACCESS_FETCH && (executeDisable || (cpu.cr4 & CR4_SMEP) != 0)) code |= PF_I;
        cpu.cr2 = la;
        return cpu.fault(EXC_PF, code);
    }

    // =====================================================================================
    // Shadow paging
    // =====================================================================================

    /**
     * A TLB miss under shadow paging: the shadow tables are looked up (a walk of as many levels as
     * the guest's paging mode has). The entry's guest rights are checked against the current
     * CR0.WP, CR4.SMEP/SMAP, EFER.NXE and CPL exactly as after a native walk; a write through an
     * entry whose guest D bit is clear misses too, so that the VMM sets D (SDM Vol. 3A, 4.8).
     */
    private long shadowTranslate(int seg, long la, int access, boolean user) {
        walks++;
        int levels = (cpu.efer & EFER_LMA) != 0 ? 4 : (cpu.cr4 & CR4_PAE) != 0 ? 3 : 2;
        for (int k = 0; k < levels; k++) reference();
        ShadowPager.Entry e = shadow.lookup(la);
        if (e != null) {
            walkWritable = e.writable();
            walkUser = e.user();
            walkNoExecute = e.noExecute();
            walkGlobal = e.global() && (cpu.cr4 & CR4_PGE) != 0;
            walkDirty = e.dirty();
            walkMappingMask = e.mask();
            if (allowed(access, user, seg == SEG_NONE) && (access != ACCESS_WRITE || e.dirty())) {
                return e.physical() | (la & ~e.mask());
            }
        }
        if (injected && injectedLinear == la && injectedAccess == access && injectedUser == user) {
            injected = false;
            cpu.cr2 = la;
            throw cpu.fault(EXC_PF, injectedCode);
        }
        injected = false;
        shadowMissSeg = seg;
        throw cpu.exit(new Exit.ShadowFault(la, access, user));
    }

    /**
     * The shadow pager's walk of the guest tables for the access that missed: the same walk,
     * rights check and A/D updates as native paging. Returns the entry to install, or null when
     * the guest itself faults: that #PF (error code and CR2 as native paging reports them) is
     * then raised when the access is retried.
     */
    ShadowPager.Entry walkForShadow(long la, int access, boolean user) {
        long savedCr2 = cpu.cr2;
        try {
            walk(la, access, user);
            if (!allowed(access, user, shadowMissSeg == SEG_NONE)) throw pageFault(la, access, user, true, false);
        } catch (Fault f) {
            cpu.cr2 = savedCr2;
            visitedCount = 0;
            injected = true;
            injectedLinear = la;
            injectedAccess = access;
            injectedUser = user;
            injectedCode = cpu.faultErrorCode;
            guestFaultsInjected++;
            return null;
        }
        long[] backing = new long[visitedCount];
        for (int k = 0; k < visitedCount; k++) backing[k] = visited[k] >>> PhysicalMemory.PAGE_SHIFT;
        setAccessedAndDirty(access);
        return new ShadowPager.Entry(la & walkMappingMask, walkMappingMask, walkPhysical & walkMappingMask,
                walkWritable, walkUser, walkNoExecute, walkGlobal, walkDirty, backing);
    }

    /** The VMM mapped the page itself (SwapBypass): the #PF {@link #walkForShadow} arranged is not raised. */
    void cancelInjection() {
        if (injected) guestFaultsInjected--;
        injected = false;
    }

    /**
     * MOV to CR3, after it took effect (called by the instruction). Under shadow paging it exits
     * to the VMM ({@link Exit.ShadowCr3Write}); returns normally when the instruction is
     * re-executed after the VMM answered, and {@link #resumingShadowExit()} then tells the
     * instruction not to do its work again.
     */
    public void cr3Loaded(long cr3) {
        cr3Writes++;
        if (shadow != null) cpu.exitOrReplay(new Exit.ShadowCr3Write(cr3));
    }

    /** INVLPG (or INVPCID of one address), after the TLB entries were dropped; exits under shadow paging. */
    public void invalidated(long la) {
        invlpgs++;
        if (shadow != null) cpu.exitOrReplay(new Exit.ShadowInvlpg(la));
    }

    /**
     * INVPCID of a whole context: under shadow paging the VMM is told as for a CR3 write of the
     * current CR3 ({@link Exit.ShadowCr3Write}).
     */
    public void nonGlobalFlushed() {
        if (shadow != null) cpu.exitOrReplay(new Exit.ShadowCr3Write(cpu.cr3));
    }

    /**
     * Whether MOV to CR3 or INVLPG is being re-executed after the VMM answered its shadow exit:
     * the instruction already took effect and only completes. Consumes the answer.
     */
    public boolean resumingShadowExit() {
        if (shadow == null || cpu.replayPosition >= cpu.replayLength) return false;
        cpu.replayNext();
        return true;
    }

    /** Walks the guest page tables for {@code la}; fills the walk* fields or raises #PF. */
    private void walk(long la, int access, boolean user) {
        walks++;
        visitedCount = 0;
        walkMissingPte = 0;
        boolean nxe = (cpu.efer & EFER_NXE) != 0;
        long physMask = (1L << cpu.model.physicalAddressBits()) - 1;
        walkWritable = walkUser = true;
        walkNoExecute = false;
        if ((cpu.cr4 & CR4_PAE) == 0) {
            walk32(la, access, user, physMask);
            return;
        }
        // Reserved bits common to PAE and 4-level entries: physical-address bits above MAXPHYADDR,
        // and NX when EFER.NXE is clear.
        long reservedHigh = (~physMask & 0x000F_FFFF_FFFF_F000L) | (nxe ? 0 : 1L << 63);
        long addrMask = physMask & 0x000F_FFFF_FFFF_F000L;
        long entry;
        if ((cpu.efer & EFER_LMA) != 0) {
            long pml4e = readEntry(la, (cpu.cr3 & addrMask) + ((la >>> 39) & 511) * 8, 8);
            if ((pml4e & 1) == 0) throw pageFault(la, access, user, false, false);
            if ((pml4e & reservedHigh) != 0 || (pml4e & 0x80) != 0) throw pageFault(la, access, user, false, true);
            accumulate(pml4e, nxe);
            long pdpte = readEntry(la, (pml4e & addrMask) + ((la >>> 30) & 511) * 8, 8);
            if ((pdpte & 1) == 0) throw pageFault(la, access, user, false, false);
            if ((pdpte & reservedHigh) != 0) throw pageFault(la, access, user, false, true);
            if ((pdpte & 0x80) != 0) {
                if (!cpu.model.gigabytePages() || (pdpte & 0x3FFF_E000L) != 0) throw pageFault(la, access, user, false, true);
                finish(pdpte, nxe, (pdpte & addrMask & ~0x3FFF_FFFFL) | (la & 0x3FFF_FFFFL), ~0x3FFF_FFFFL);
                return;
            }
            accumulate(pdpte, nxe);
            entry = pdpte;
        } else {
            // PAE paging: the PDPTEs come from the registers loaded with CR3; bits 62:52 of the
            // other entries are reserved, not ignored as in 4-level paging (SDM 4.4.2).
            if (!pdptesLoaded) loadPdptes(cpu.cr3);
            long pdpte = pdptes[(int) (la >>> 30) & 3];
            if ((pdpte & 1) == 0) throw pageFault(la, access, user, false, false);
            if ((pdpte & pdpteReserved()) != 0) throw pageFault(la, access, user, false, true);
            reservedHigh |= 0x7FF0_0000_0000_0000L;
            entry = pdpte;
        }
        long pde = readEntry(la, (entry & addrMask) + ((la >>> 21) & 511) * 8, 8);
        if ((pde & 1) == 0) throw pageFault(la, access, user, false, false);
        if ((pde & reservedHigh) != 0) throw pageFault(la, access, user, false, true);
        if ((pde & 0x80) != 0) {
            if ((pde & 0x1F_E000L) != 0) throw pageFault(la, access, user, false, true);
            finish(pde, nxe, (pde & addrMask & ~0x1F_FFFFL) | (la & 0x1F_FFFFL), ~0x1F_FFFFL);
            return;
        }
        accumulate(pde, nxe);
        long pte = readEntry(la, (pde & addrMask) + ((la >>> 12) & 511) * 8, 8);
        if ((pte & 1) == 0) {
            walkMissingPte = pte;
            throw pageFault(la, access, user, false, false);
        }
        if ((pte & reservedHigh) != 0) throw pageFault(la, access, user, false, true);
        finish(pte, nxe, (pte & addrMask) | (la & 0xFFF), Cpu.PAGE_MASK);
    }

    private void walk32(long la, int access, boolean user, long physMask) {
        long pde = readEntry(la, (cpu.cr3 & 0xFFFF_F000L) + ((la >>> 22) & 0x3FF) * 4, 4);
        if ((pde & 1) == 0) throw pageFault(la, access, user, false, false);
        if ((pde & 0x80) != 0 && (cpu.cr4 & CR4_PSE) != 0) {
            // 4 MiB page; PDE bits 20:13 supply physical-address bits 39:32 (PSE-36).
            long high = (pde >>> 13 & 0xFF) << 32;
            if ((pde & (1L << 21)) != 0 || (high & ~physMask) != 0) throw pageFault(la, access, user, false, true);
            finish(pde, false, high | (pde & 0xFFC0_0000L) | (la & 0x3F_FFFFL), ~0x3F_FFFFL);
            return;
        }
        accumulate(pde, false);
        long pte = readEntry(la, (pde & 0xFFFF_F000L) + ((la >>> 12) & 0x3FF) * 4, 4);
        if ((pte & 1) == 0) throw pageFault(la, access, user, false, false);
        finish(pte, false, (pte & 0xFFFF_F000L) | (la & 0xFFF), Cpu.PAGE_MASK);
    }

    private void accumulate(long entry, boolean nxe) {
        walkWritable &= (entry & 2) != 0;
        walkUser &= (entry & 4) != 0;
        if (nxe && entry < 0) walkNoExecute = true;
    }

    private void finish(long entry, boolean nxe, long physical, long mappingMask) {
        accumulate(entry, nxe);
        walkPhysical = physical;
        walkGlobal = (entry & 0x100) != 0 && (cpu.cr4 & CR4_PGE) != 0;
        walkDirty = (entry & 0x40) != 0;
        walkMappingMask = mappingMask;
    }

    // The page-table entry addresses visited, so that A and D can be set once the access is allowed.
    private final long[] visited = new long[5];
    private final int[] visitedSize = new int[5];
    private int visitedCount;

    private long readEntry(long la, long gpa, int size) {
        reference();
        long pa = secondStage != null ? secondStage.map(cpu, la, gpa, ACCESS_READ) : gpa;
        long host = memory.hostOffsetForRead(pa);
        long v = host < 0 ? 0 : size == 8 ? memory.hostRead64(host) : memory.hostRead32(host) & 0xFFFF_FFFFL;
        if (visitedCount < visited.length) {
            visited[visitedCount] = host;
            visitedSize[visitedCount] = size;
            visitedCount++;
        }
        return v;
    }

    /** Sets A in every entry of the walk and D in the last one for writes (SDM 4.8), atomically. */
    private void setAccessedAndDirty(int access) {
        for (int k = 0; k < visitedCount; k++) {
            long host = visited[k];
            if (host < 0 || memory.hostOffsetForWrite(host) < 0) continue;
            boolean last = k == visitedCount - 1;
            long bits = 0x20 | (last && access == ACCESS_WRITE ? 0x40 : 0);
            setBits(host, visitedSize[k], bits);
        }
        if (access == ACCESS_WRITE) walkDirty = true;
        visitedCount = 0;
    }

    private void setBits(long host, int size, long bits) {
        while (true) {
            long old = size == 8 ? memory.hostRead64(host) : memory.hostRead32(host) & 0xFFFF_FFFFL;
            if ((old & bits) == bits) return;
            if (memory.compareAndExchange(host, size, old, old | bits) == old) {
                if (memory.holdsCode(host)) memory.codeWritten(host >>> PhysicalMemory.PAGE_SHIFT);
                return;
            }
        }
    }

    // =====================================================================================
    // PAE page-directory-pointer-table registers (SDM Vol. 3A, 4.4.1)
    // =====================================================================================

    /** The four PDPTEs PAE paging uses, loaded from the PDPT that CR3 names. */
    private final long[] pdptes = new long[4];
    /** False after {@link #flushAll}: the PDPTEs are re-read from CR3 at the next walk. */
    private boolean pdptesLoaded;

    /** Reserved bits of a present PAE PDPTE: 2:1, 8:5 and 63:MAXPHYADDR (it has no R/W, U/S or XD). */
    private long pdpteReserved() {
        return -1L << cpu.model.physicalAddressBits() | 0x1E6L;
    }

    private long readPdpte(long cr3, int n) {
        long gpa = (cr3 & 0xFFFF_FFE0L) + n * 8L;
        long pa = secondStage != null ? secondStage.map(cpu, gpa, gpa, ACCESS_READ) : gpa;
        long host = memory.hostOffsetForRead(pa);
        return host < 0 ? 0 : memory.hostRead64(host);
    }

    /**
     * Whether the PDPT at {@code cr3} can be loaded: no present entry has a reserved bit set.
     * MOV to CR0/CR3/CR4 raise #GP(0) when it cannot, before changing anything.
     */
    public boolean pdptesValid(long cr3) {
        long reserved = pdpteReserved();
        for (int n = 0; n < 4; n++) {
            long e = readPdpte(cr3, n);
            if ((e & 1) != 0 && (e & reserved) != 0) return false;
        }
        return true;
    }

    /**
     * The PAE PDPTE registers, or null while they are not loaded. They are architectural state: the
     * processor keeps using them after the guest edits its PDPT, until the next CR3 load.
     */
    public long[] pdpteRegisters() {
        return pdptesLoaded ? pdptes.clone() : null;
    }

    /** Sets the PDPTE registers {@link #pdpteRegisters()} returned (null: re-read from CR3 at the next walk). */
    public void restorePdpteRegisters(long[] registers) {
        pdptesLoaded = registers != null;
        if (registers != null) System.arraycopy(registers, 0, pdptes, 0, pdptes.length);
    }

    /** Loads the PDPTE registers from the PDPT at {@code cr3}, as MOV to CR3 does under PAE paging. */
    public void loadPdptes(long cr3) {
        for (int n = 0; n < 4; n++) pdptes[n] = readPdpte(cr3, n);
        pdptesLoaded = true;
    }

    // =====================================================================================
    // Flushes
    // =====================================================================================

    /**
     * Drops every TLB entry, global ones included (CR4.PGE toggled, CR0.PG/WP or EFER.NXE changed).
     * The PAE PDPTE registers are forgotten too and re-read from CR3 at the next walk, so a VMM that
     * sets CR3 directly and then calls this gets a consistent state; guest MOV to CR reloads them
     * itself.
     */
    public void flushAll() {
        flushTlb();
        // The paging mode, CR0.WP or EFER.NXE may have changed: the shadow tables are rebuilt.
        if (shadow != null) shadow.dropAll();
    }

    /**
     * {@link #flushAll} but for the shadow tables, which stay: a snapshot's restore refills the
     * TLB after the shadow pager's state was restored (counted and charged like a flush; the
     * restore sets the counters and cycles afterwards).
     */
    public void flushAllKeepingShadowTables() {
        flushTlb();
    }

    private void flushTlb() {
        pdptesLoaded = false;
        Arrays.fill(cpu.tlbRead, TLB_INVALID);
        Arrays.fill(cpu.tlbWrite, TLB_INVALID);
        Arrays.fill(cpu.tlbFetch, TLB_INVALID);
        Arrays.fill(cpu.tlbGlobal, false);
        visitedCount = 0;
        flushed();
        cpu.blocks.flushJumpCache();
    }

    /** Drops every non-global entry (a CR3 write with CR4.PGE set). */
    public void flushNonGlobal() {
        for (int i = 0; i < cpu.tlbRead.length; i++) {
            if (!cpu.tlbGlobal[i]) {
                cpu.tlbRead[i] = cpu.tlbWrite[i] = cpu.tlbFetch[i] = TLB_INVALID;
            }
        }
        visitedCount = 0;
        flushed();
        cpu.blocks.flushJumpCache();
    }

    /** INVLPG: drops the entries of the mapping holding {@code la}, global or not. */
    public void flushPage(long la) {
        for (int i = 0; i < cpu.tlbRead.length; i++) {
            long m = mappingMask[i];
            long tag = tagOf(i);
            if (tag != TLB_INVALID && (tag & m) == (la & m)) {
                cpu.tlbRead[i] = cpu.tlbWrite[i] = cpu.tlbFetch[i] = TLB_INVALID;
            }
        }
        cpu.blocks.flushJumpCache();
    }

    /**
     * Whether guest writes to the page holding {@code guestPhysical} exit to the shadow pager
     * (cached shadow paging protects the guest's page-table pages VM-wide); such a page never
     * has a writable TLB entry, which a snapshot's restore checks.
     */
    public boolean shadowWriteProtected(long guestPhysical) {
        return shadow != null && shadow.protects(guestPhysical);
    }

    /** The mask of the mapping TLB slot {@code slot} was filled from (a snapshot saves it with the entry). */
    public long mappingMask(int slot) {
        return mappingMask[slot];
    }

    /** Sets {@link #mappingMask(int)} as a snapshot's restore refills the TLB (INVLPG drops by it). */
    public void restoreMappingMask(int slot, long mask) {
        mappingMask[slot] = mask;
    }

    private long tagOf(int i) {
        if (cpu.tlbRead[i] != TLB_INVALID) return cpu.tlbRead[i];
        if (cpu.tlbWrite[i] != TLB_INVALID) return cpu.tlbWrite[i];
        return cpu.tlbFetch[i];
    }
}
