package org.symbiont.x86.snapshot;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.exec.BlockCache;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.mmu.Mmu;
import org.symbiont.x86.mmu.PagingCosts;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.PagingStats;
import org.symbiont.x86.mmu.ShadowStrategy;

/**
 * Everything a vCPU's next {@link Cpu#run} depends on, taken between runs: general registers, RIP,
 * RFLAGS with the lazy-flag state, segment selectors and descriptor caches, GDTR/IDTR, CPL, CR0-CR4,
 * CR8, XCR0, EFER, DR0-DR7, every MSR the core holds (SYSCALL and SYSENTER MSRs, kernel GS base,
 * TSC_AUX, PAT, MISC_ENABLE, MTRRs, the TSC offset), XMM/MXCSR and the x87 state, the events
 * (pending vector, NMI pending/blocked, interrupt shadow, single-step after SYSCALL/SYSRET, halt,
 * interrupt-window and exception exiting), virtual time (retired instructions, cycles per
 * instruction, extra cycles, PAUSE cost, CR8 exiting), the answers to completed exits of the
 * instruction being re-executed (replay log, an event delivery to redo, the MMU's shadow #PF to
 * raise), and the MMU: paging mode, shadow strategy, costs, the PAE PDPTE registers and the
 * paging counters.
 *
 * <p>An uncompleted exit is not captured: {@link #capture} refuses a vCPU whose
 * {@link Cpu#pendingExit} is set (the VMM answers it first; it snapshots at a round boundary,
 * where none is in flight). Answers already given are captured, so the instruction re-executes
 * after the restore exactly as it would have.
 *
 * <p>The caches whose content decides whether an access or fetch walks the page tables are
 * captured too, because under non-zero {@link PagingCosts} a walk costs virtual time that the
 * guest reads back from the TSC: the TLB (each valid entry's tags, host addend and page, global
 * bit and mapping size) and the decoded blocks (a jump-cache hit fetches without translating;
 * blocks are saved by key and decoded again from the restored memory). With the memory's code
 * pages ({@link MemoryImage}) and the nested pager's table ({@link org.symbiont.x86.mmu.NestedPager#saveState})
 * or each vCPU's shadow pager state ({@link org.symbiont.x86.mmu.ShadowPager#saveState}) restored
 * as well, native, nested and shadow paging continue cycle for cycle.
 *
 * <p>Restore order (the TLB entries must agree with the restored memory's code pages and with
 * the shadow tables and their VM-wide write protection):
 * <ol>
 * <li>the memory ({@link MemoryImage#restore});
 * <li>every vCPU's MMU configured with {@link #pagingMode()}, {@link #shadowStrategy()} and
 *     {@link #pagingCosts()}, and its pager built and attached (every vCPU's shadow pager before
 *     any pager state is restored, so that all are registered with the VM's write protection);
 * <li>the pager state: the nested table ({@link org.symbiont.x86.mmu.NestedPager#restoreState}),
 *     or every vCPU's shadow pager ({@link org.symbiont.x86.mmu.ShadowPager#restoreState}; the
 *     VM-wide protection is the sum of what each pager protects, complete once all are restored);
 * <li>every vCPU's {@link #restore}, which keeps the shadow tables and replaces the TLB.
 * </ol>
 * A shadow pager left empty (its state not restored) still runs correctly, but refilling its
 * tables costs shadow exits the uninterrupted run did not have.
 */
public final class CpuState {
    /** The section name a single vCPU's state conventionally goes under ({@code "cpu." + id}). */
    public static String sectionName(int cpuId) {
        return "cpu." + cpuId;
    }

    private final long[] gpr = new long[16];
    private long rip, rflags, ccA, ccB, ccR;
    private int ccOp;
    private final int[] segSel = new int[8], segAttr = new int[8];
    private final long[] segBase = new long[8], segLimit = new long[8];
    private long gdtBase, idtBase;
    private int gdtLimit, idtLimit, cpl;
    private long cr0, cr2, cr3, cr4, cr8, efer, xcr0;
    private final long[] dr = new long[8];
    private long star, lstar, cstar, sfmask, kernelGsBase, sysenterCs, sysenterEsp, sysenterEip;
    private long tscAux, pat, miscEnable, mtrrDefType, tscOffset;
    private final long[] mtrrFixed = new long[11], mtrrVar = new long[16];
    private final long[] xmm = new long[32];
    private int mxcsr, fpuControl, fpuStatus, fpuTagWord, fpuLastOpcode;
    private long fpuLastIp, fpuLastDp;
    private final byte[] fpuRegisters = new byte[80];
    private boolean halted, nmiPending, nmiBlocked, interruptShadow, trapFlagSampledAfter;
    private boolean interruptWindowExiting, exceptionExiting, cr8Exits;
    private int pendingVector;
    private long[] replay = new long[0];
    private int replayPosition;
    private boolean redeliveryPending, redeliverHasError;
    private int redeliverVector, redeliverErrorCode, redeliverKind;
    private long redeliverReturnRip, redeliverPushedRf;
    private boolean shadowInjected, shadowInjectedUser;
    private long shadowInjectedLinear;
    private int shadowInjectedAccess, shadowInjectedCode;
    private long retired, cyclesPerInstruction, extraCycles, pauseCycles;
    private PagingMode pagingMode;
    private ShadowStrategy shadowStrategy;
    private long walkReferenceCost, tlbFlushCost;
    /** The PAE PDPTE registers, or null while not loaded. */
    private long[] pdpteRegisters;
    private final long[] pagingCounters = new long[10];
    /** The valid TLB entries: slot, then per slot the fields of Cpu's TLB arrays and the MMU's mapping mask. */
    private int[] tlbSlots = new int[0];
    private long[] tlbReadTags, tlbWriteTags, tlbFetchTags, tlbAddends, tlbHostPages, tlbMappingMasks;
    private boolean[] tlbGlobals;
    private BlockCache.SavedBlocks decodedBlocks;

    /** The section body's layout; 2 added the TLB and the decoded blocks. */
    private static final int LAYOUT = 2;
    /** The slots the MMU fills: supervisor and user sets (the alignment-checking set stays empty). */
    private static final int FILLED_TLB_SLOTS = 2 * Cpu.TLB_SIZE;
    /** The mapping sizes a TLB entry can come from: 4 KiB, 2 MiB, 4 MiB, 1 GiB. */
    private static final long[] MAPPING_MASKS = {Cpu.PAGE_MASK, ~0x1F_FFFFL, ~0x3F_FFFFL, ~0x3FFF_FFFFL};

    private CpuState() {}

    /**
     * Takes the state of {@code cpu}, which must be between runs with no exit awaiting the VMM's
     * answer; {@link IllegalStateException} otherwise, naming the exit.
     */
    public static CpuState capture(Cpu cpu) {
        if (cpu.pendingExit != null) {
            throw new IllegalStateException("vCPU " + cpu.id + " cannot be snapshotted with exit " + cpu.pendingExit
                    + " in flight: complete it first (snapshots are taken at a round boundary)");
        }
        CpuState s = new CpuState();
        System.arraycopy(cpu.gpr, 0, s.gpr, 0, 16);
        s.rip = cpu.rip;
        s.rflags = cpu.rflags;
        s.ccOp = cpu.ccOp;
        s.ccA = cpu.ccA;
        s.ccB = cpu.ccB;
        s.ccR = cpu.ccR;
        System.arraycopy(cpu.segSel, 0, s.segSel, 0, 8);
        System.arraycopy(cpu.segAttr, 0, s.segAttr, 0, 8);
        System.arraycopy(cpu.segBase, 0, s.segBase, 0, 8);
        System.arraycopy(cpu.segLimit, 0, s.segLimit, 0, 8);
        s.gdtBase = cpu.gdtBase;
        s.idtBase = cpu.idtBase;
        s.gdtLimit = cpu.gdtLimit;
        s.idtLimit = cpu.idtLimit;
        s.cpl = cpu.cpl;
        s.cr0 = cpu.cr0;
        s.cr2 = cpu.cr2;
        s.cr3 = cpu.cr3;
        s.cr4 = cpu.cr4;
        s.cr8 = cpu.cr8;
        s.efer = cpu.efer;
        s.xcr0 = cpu.xcr0;
        System.arraycopy(cpu.dr, 0, s.dr, 0, 8);
        s.star = cpu.star;
        s.lstar = cpu.lstar;
        s.cstar = cpu.cstar;
        s.sfmask = cpu.sfmask;
        s.kernelGsBase = cpu.kernelGsBase;
        s.sysenterCs = cpu.sysenterCs;
        s.sysenterEsp = cpu.sysenterEsp;
        s.sysenterEip = cpu.sysenterEip;
        s.tscAux = cpu.tscAux;
        s.pat = cpu.pat;
        s.miscEnable = cpu.miscEnable;
        s.mtrrDefType = cpu.mtrrDefType;
        s.tscOffset = cpu.tscOffset;
        System.arraycopy(cpu.mtrrFixed, 0, s.mtrrFixed, 0, s.mtrrFixed.length);
        System.arraycopy(cpu.mtrrVar, 0, s.mtrrVar, 0, s.mtrrVar.length);
        System.arraycopy(cpu.xmm, 0, s.xmm, 0, 32);
        s.mxcsr = cpu.mxcsr;
        s.fpuControl = cpu.fpuControl;
        s.fpuStatus = cpu.fpuStatus;
        s.fpuTagWord = cpu.fpuTagWord;
        s.fpuLastOpcode = cpu.fpuLastOpcode;
        s.fpuLastIp = cpu.fpuLastIp;
        s.fpuLastDp = cpu.fpuLastDp;
        System.arraycopy(cpu.fpuRegisters, 0, s.fpuRegisters, 0, s.fpuRegisters.length);
        s.halted = cpu.halted;
        s.nmiPending = cpu.nmiPending;
        s.nmiBlocked = cpu.nmiBlocked;
        s.interruptShadow = cpu.interruptShadow;
        s.trapFlagSampledAfter = cpu.trapFlagSampledAfter;
        s.interruptWindowExiting = cpu.interruptWindowExiting;
        s.exceptionExiting = cpu.exceptionExiting;
        s.cr8Exits = cpu.cr8Exits;
        s.pendingVector = cpu.pendingVector;
        s.replay = java.util.Arrays.copyOf(cpu.replay, cpu.replayLength);
        s.replayPosition = cpu.replayPosition;
        s.redeliveryPending = cpu.redeliveryPending;
        s.redeliverHasError = cpu.redeliverHasError;
        s.redeliverVector = cpu.redeliverVector;
        s.redeliverErrorCode = cpu.redeliverErrorCode;
        s.redeliverKind = cpu.redeliverKind;
        s.redeliverReturnRip = cpu.redeliverReturnRip;
        s.redeliverPushedRf = cpu.redeliverPushedRf;
        Mmu.InFlight f = cpu.mmu.inFlight();
        s.shadowInjected = f.injected();
        s.shadowInjectedLinear = f.linear();
        s.shadowInjectedAccess = f.access();
        s.shadowInjectedCode = f.code();
        s.shadowInjectedUser = f.user();
        s.retired = cpu.retired;
        s.cyclesPerInstruction = cpu.cyclesPerInstruction;
        s.extraCycles = cpu.extraCycles;
        s.pauseCycles = cpu.pauseCycles;
        s.pagingMode = cpu.mmu.mode();
        s.shadowStrategy = cpu.mmu.strategy();
        s.walkReferenceCost = cpu.mmu.costs().walkReference();
        s.tlbFlushCost = cpu.mmu.costs().tlbFlush();
        s.pdpteRegisters = cpu.mmu.pdpteRegisters();
        PagingStats p = cpu.mmu.stats();
        long[] counters = {p.walks(), p.walkReferences(), p.tlbFlushes(), p.cr3Writes(), p.invlpgs(), p.shadowFaults(),
            p.shadowFills(), p.guestFaultsInjected(), p.pageTableWrites(), p.nestedFaults()};
        System.arraycopy(counters, 0, s.pagingCounters, 0, counters.length);
        s.captureTlb(cpu);
        s.decodedBlocks = cpu.blocks.save(cpu.memory);
        return s;
    }

    private void captureTlb(Cpu cpu) {
        int count = 0;
        for (int i = 0; i < FILLED_TLB_SLOTS; i++) if (valid(cpu, i)) count++;
        tlbSlots = new int[count];
        tlbReadTags = new long[count];
        tlbWriteTags = new long[count];
        tlbFetchTags = new long[count];
        tlbAddends = new long[count];
        tlbHostPages = new long[count];
        tlbMappingMasks = new long[count];
        tlbGlobals = new boolean[count];
        for (int i = 0, n = 0; n < count; i++) {
            if (!valid(cpu, i)) continue;
            tlbSlots[n] = i;
            tlbReadTags[n] = cpu.tlbRead[i];
            tlbWriteTags[n] = cpu.tlbWrite[i];
            tlbFetchTags[n] = cpu.tlbFetch[i];
            tlbAddends[n] = cpu.tlbAddend[i];
            tlbHostPages[n] = cpu.tlbHostPage[i];
            tlbMappingMasks[n] = cpu.mmu.mappingMask(i);
            tlbGlobals[n] = cpu.tlbGlobal[i];
            n++;
        }
    }

    /** An entry with no valid tag is never used (flushes and code marking skip it). */
    private static boolean valid(Cpu cpu, int slot) {
        return cpu.tlbRead[slot] != Cpu.TLB_INVALID || cpu.tlbWrite[slot] != Cpu.TLB_INVALID
                || cpu.tlbFetch[slot] != Cpu.TLB_INVALID;
    }

    /** The paging mode the restoring VMM configures the vCPU's MMU with (and attaches a pager for). */
    public PagingMode pagingMode() {
        return pagingMode;
    }

    public ShadowStrategy shadowStrategy() {
        return shadowStrategy;
    }

    public PagingCosts pagingCosts() {
        return new PagingCosts(walkReferenceCost, tlbFlushCost);
    }

    public long rip() {
        return rip;
    }

    public long retired() {
        return retired;
    }

    /**
     * Puts this state into {@code cpu}, a vCPU on memory restored from the same snapshot that has
     * not run yet. Its MMU must already be configured with {@link #pagingMode()},
     * {@link #shadowStrategy()} and {@link #pagingCosts()} and have its shadow or nested pager
     * attached (they belong to the VMM); a mismatch is a {@link SnapshotException} and leaves
     * the vCPU unchanged. The memory must already be restored ({@link MemoryImage#restore}):
     * the TLB entries are checked to lie inside it with the access rights its pages allow, and
     * the decoded blocks are decoded again from it; a violation is a {@link SnapshotException}
     * naming the field, and leaves the vCPU unchanged. The TLB and decoded blocks are replaced
     * by the captured ones (the restore's own flush is neither counted nor charged). Under shadow
     * paging the shadow pager's tables are kept: restore its state first
     * ({@link org.symbiont.x86.mmu.ShadowPager#restoreState}, every vCPU's pager of the VM), and a
     * TLB write tag on a page the VM write-protects for its shadow tables is refused.
     */
    public void restore(Cpu cpu) throws SnapshotException {
        Mmu mmu = cpu.mmu;
        if (mmu.mode() != pagingMode || mmu.strategy() != shadowStrategy || !mmu.costs().equals(pagingCosts())) {
            throw new SnapshotException(String.format("vCPU %d's MMU is configured %s/%s/%s, the snapshot needs %s/%s/%s",
                    cpu.id, mmu.mode(), mmu.strategy(), mmu.costs(), pagingMode, shadowStrategy, pagingCosts()));
        }
        String section = "section '" + sectionName(cpu.id) + "'";
        checkTlbAgainst(cpu.memory, mmu, section);
        BlockCache.RebuiltBlocks blocks = BlockCache.rebuild(decodedBlocks, cpu.memory, section);
        System.arraycopy(gpr, 0, cpu.gpr, 0, 16);
        cpu.rip = rip;
        cpu.rflags = rflags;
        cpu.ccOp = ccOp;
        cpu.ccA = ccA;
        cpu.ccB = ccB;
        cpu.ccR = ccR;
        System.arraycopy(segSel, 0, cpu.segSel, 0, 8);
        System.arraycopy(segAttr, 0, cpu.segAttr, 0, 8);
        System.arraycopy(segBase, 0, cpu.segBase, 0, 8);
        System.arraycopy(segLimit, 0, cpu.segLimit, 0, 8);
        cpu.gdtBase = gdtBase;
        cpu.idtBase = idtBase;
        cpu.gdtLimit = gdtLimit;
        cpu.idtLimit = idtLimit;
        cpu.cpl = cpl;
        cpu.cr0 = cr0;
        cpu.cr2 = cr2;
        cpu.cr3 = cr3;
        cpu.cr4 = cr4;
        cpu.cr8 = cr8;
        cpu.efer = efer;
        cpu.xcr0 = xcr0;
        System.arraycopy(dr, 0, cpu.dr, 0, 8);
        cpu.star = star;
        cpu.lstar = lstar;
        cpu.cstar = cstar;
        cpu.sfmask = sfmask;
        cpu.kernelGsBase = kernelGsBase;
        cpu.sysenterCs = sysenterCs;
        cpu.sysenterEsp = sysenterEsp;
        cpu.sysenterEip = sysenterEip;
        cpu.tscAux = tscAux;
        cpu.pat = pat;
        cpu.miscEnable = miscEnable;
        cpu.mtrrDefType = mtrrDefType;
        cpu.tscOffset = tscOffset;
        System.arraycopy(mtrrFixed, 0, cpu.mtrrFixed, 0, mtrrFixed.length);
        System.arraycopy(mtrrVar, 0, cpu.mtrrVar, 0, mtrrVar.length);
        System.arraycopy(xmm, 0, cpu.xmm, 0, 32);
        cpu.mxcsr = mxcsr;
        cpu.fpuControl = fpuControl;
        cpu.fpuStatus = fpuStatus;
        cpu.fpuTagWord = fpuTagWord;
        cpu.fpuLastOpcode = fpuLastOpcode;
        cpu.fpuLastIp = fpuLastIp;
        cpu.fpuLastDp = fpuLastDp;
        System.arraycopy(fpuRegisters, 0, cpu.fpuRegisters, 0, fpuRegisters.length);
        cpu.halted = halted;
        cpu.nmiPending = nmiPending;
        cpu.nmiBlocked = nmiBlocked;
        cpu.interruptShadow = interruptShadow;
        cpu.trapFlagSampledAfter = trapFlagSampledAfter;
        cpu.interruptWindowExiting = interruptWindowExiting;
        cpu.exceptionExiting = exceptionExiting;
        cpu.cr8Exits = cr8Exits;
        cpu.pendingVector = pendingVector;
        cpu.pendingExit = null;
        // Room for the log and one more answer, in the power-of-two sizes Cpu grows it by.
        if (cpu.replay.length < replay.length + 2) cpu.replay = new long[Integer.highestOneBit(replay.length + 1) * 2];
        System.arraycopy(replay, 0, cpu.replay, 0, replay.length);
        cpu.replayLength = replay.length;
        cpu.replayPosition = replayPosition;
        cpu.redeliveryPending = redeliveryPending;
        cpu.redeliverHasError = redeliverHasError;
        cpu.redeliverVector = redeliverVector;
        cpu.redeliverErrorCode = redeliverErrorCode;
        cpu.redeliverKind = redeliverKind;
        cpu.redeliverReturnRip = redeliverReturnRip;
        cpu.redeliverPushedRf = redeliverPushedRf;
        cpu.retired = retired;
        cpu.cyclesPerInstruction = cyclesPerInstruction;
        cpu.pauseCycles = pauseCycles;
        cpu.updateMode();
        // Drop what the vCPU cached under its earlier state, then set what the flush changes:
        // the PDPTE registers, the counters and the extra cycles (the flush charges its cost).
        mmu.flushAllKeepingShadowTables();
        mmu.restorePdpteRegisters(pdpteRegisters);
        // The segment of the last shadow miss matters only while its ShadowFault awaits the VMM,
        // which capture() rules out.
        mmu.setInFlight(new Mmu.InFlight(shadowInjected, shadowInjectedLinear, shadowInjectedAccess, shadowInjectedCode,
                shadowInjectedUser, 0));
        long[] c = pagingCounters;
        mmu.restoreStats(new PagingStats(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]));
        cpu.extraCycles = extraCycles;
        for (int n = 0; n < tlbSlots.length; n++) {
            int i = tlbSlots[n];
            cpu.tlbRead[i] = tlbReadTags[n];
            cpu.tlbWrite[i] = tlbWriteTags[n];
            cpu.tlbFetch[i] = tlbFetchTags[n];
            cpu.tlbAddend[i] = tlbAddends[n];
            cpu.tlbHostPage[i] = tlbHostPages[n];
            cpu.tlbGlobal[i] = tlbGlobals[n];
            mmu.restoreMappingMask(i, tlbMappingMasks[n]);
        }
        cpu.blocks.install(blocks);
    }

    /**
     * The accessors use a TLB entry's addend on host memory unchecked, so each entry must lie in
     * {@code memory} with the rights its page gives: readable for a read or fetch tag, writable
     * RAM without decoded code for a write tag (a code page's writes take the slow path).
     */
    private void checkTlbAgainst(PhysicalMemory memory, Mmu mmu, String section) throws SnapshotException {
        long hostBytes = memory.hostSegment().byteSize();
        for (int n = 0; n < tlbSlots.length; n++) {
            long page = tlbReadTags[n] != Cpu.TLB_INVALID ? tlbReadTags[n]
                    : tlbWriteTags[n] != Cpu.TLB_INVALID ? tlbWriteTags[n] : tlbFetchTags[n];
            long host = tlbAddends[n] + page;
            String entry = section + " TLB entry in slot " + tlbSlots[n];
            if ((host & ~Cpu.PAGE_MASK) != 0 || host < 0 || host > hostBytes - PhysicalMemory.PAGE_SIZE) {
                throw new SnapshotException(String.format("%s: TLB addend %#x puts page %#x at host offset %#x, outside the memory's %#x bytes",
                        entry, tlbAddends[n], page, host, hostBytes));
            }
            if (tlbHostPages[n] != host >>> PhysicalMemory.PAGE_SHIFT) {
                throw new SnapshotException(String.format("%s: TLB host page %#x is not the addend's page %#x",
                        entry, tlbHostPages[n], host >>> PhysicalMemory.PAGE_SHIFT));
            }
            long physical = host < memory.size() ? host : PhysicalMemory.PRIVATE_BASE + (host - memory.size());
            boolean readable = memory.hostOffsetForRead(physical) == host;
            if ((tlbReadTags[n] != Cpu.TLB_INVALID || tlbFetchTags[n] != Cpu.TLB_INVALID) && !readable) {
                throw new SnapshotException(String.format("%s: TLB read/fetch tag on page %#x, which is not readable memory", entry, physical));
            }
            if (tlbWriteTags[n] != Cpu.TLB_INVALID && (memory.hostOffsetForWrite(physical) != host || memory.holdsCode(host))) {
                throw new SnapshotException(String.format("%s: TLB write tag on page %#x, which is not writable RAM without decoded code",
                        entry, physical));
            }
            if (tlbWriteTags[n] != Cpu.TLB_INVALID && mmu.shadowWriteProtected(physical)) {
                throw new SnapshotException(String.format("%s: TLB write tag on page %#x, a guest page-table page the shadow pagers write-protect",
                        entry, physical));
            }
        }
    }

    // =====================================================================================
    // Encoding: the section body, little-endian, in the order below (layout 2: a leading u32
    // layout number; the TLB entries and decoded blocks at the end).
    // =====================================================================================

    public byte[] encode() {
        SectionWriter w = new SectionWriter();
        w.i32(LAYOUT);
        w.i64s(gpr).i64(rip).i64(rflags).i32(ccOp).i64(ccA).i64(ccB).i64(ccR);
        w.i32s(segSel).i32s(segAttr).i64s(segBase).i64s(segLimit);
        w.i64(gdtBase).i32(gdtLimit).i64(idtBase).i32(idtLimit).i32(cpl);
        w.i64(cr0).i64(cr2).i64(cr3).i64(cr4).i64(cr8).i64(efer).i64(xcr0).i64s(dr);
        w.i64(star).i64(lstar).i64(cstar).i64(sfmask).i64(kernelGsBase);
        w.i64(sysenterCs).i64(sysenterEsp).i64(sysenterEip);
        w.i64(tscAux).i64(pat).i64(miscEnable).i64(mtrrDefType).i64(tscOffset).i64s(mtrrFixed).i64s(mtrrVar);
        w.i64s(xmm).i32(mxcsr).i32(fpuControl).i32(fpuStatus).i32(fpuTagWord).i32(fpuLastOpcode);
        w.i64(fpuLastIp).i64(fpuLastDp).bytes(fpuRegisters, 0, fpuRegisters.length);
        w.bool(halted).bool(nmiPending).bool(nmiBlocked).bool(interruptShadow).bool(trapFlagSampledAfter);
        w.bool(interruptWindowExiting).bool(exceptionExiting).bool(cr8Exits).i32(pendingVector);
        w.i32(replay.length).i64s(replay).i32(replayPosition);
        w.bool(redeliveryPending).i32(redeliverVector).i32(redeliverErrorCode).i32(redeliverKind).bool(redeliverHasError);
        w.i64(redeliverReturnRip).i64(redeliverPushedRf);
        w.bool(shadowInjected).i64(shadowInjectedLinear).i32(shadowInjectedAccess).i32(shadowInjectedCode);
        w.bool(shadowInjectedUser);
        w.i64(retired).i64(cyclesPerInstruction).i64(extraCycles).i64(pauseCycles);
        w.u8(pagingMode.ordinal()).u8(shadowStrategy.ordinal()).i64(walkReferenceCost).i64(tlbFlushCost);
        w.bool(pdpteRegisters != null).i64s(pdpteRegisters != null ? pdpteRegisters : new long[4]);
        w.i64s(pagingCounters);
        // TLB: count u32, per valid entry slot u32, read/write/fetch tags u64, addend u64,
        // host page u64, global u8, mapping mask u64.
        w.i32(tlbSlots.length);
        for (int n = 0; n < tlbSlots.length; n++) {
            w.i32(tlbSlots[n]).i64(tlbReadTags[n]).i64(tlbWriteTags[n]).i64(tlbFetchTags[n]).i64(tlbAddends[n]);
            w.i64(tlbHostPages[n]).bool(tlbGlobals[n]).i64(tlbMappingMasks[n]);
        }
        decodedBlocks.write(w);
        return w.toByteArray();
    }

    /**
     * Reads a state {@link #encode()} wrote, checking every value the core indexes or switches on
     * (CPL, vectors, the replay log, enumerations); {@code section} names it in error messages.
     */
    public static CpuState decode(String section, byte[] body) throws SnapshotException {
        SectionReader r = new SectionReader("section '" + section + "'", body);
        CpuState s = new CpuState();
        int layoutAt = r.position();
        int layout = r.i32("layout");
        if (layout != LAYOUT) throw r.malformed(layoutAt, "layout", "is " + layout + "; this build reads layout " + LAYOUT);
        r.i64s(s.gpr, "GPRs");
        s.rip = r.i64("RIP");
        s.rflags = r.i64("RFLAGS");
        s.ccOp = r.i32("lazy-flags operation");
        s.ccA = r.i64("lazy-flags operand A");
        s.ccB = r.i64("lazy-flags operand B");
        s.ccR = r.i64("lazy-flags result");
        r.i32s(s.segSel, "segment selectors");
        r.i32s(s.segAttr, "segment attributes");
        r.i64s(s.segBase, "segment bases");
        r.i64s(s.segLimit, "segment limits");
        s.gdtBase = r.i64("GDTR base");
        s.gdtLimit = r.i32In(0, 0xFFFF, "GDTR limit");
        s.idtBase = r.i64("IDTR base");
        s.idtLimit = r.i32In(0, 0xFFFF, "IDTR limit");
        s.cpl = r.i32In(0, 3, "CPL");
        s.cr0 = r.i64("CR0");
        s.cr2 = r.i64("CR2");
        s.cr3 = r.i64("CR3");
        s.cr4 = r.i64("CR4");
        s.cr8 = r.i64("CR8");
        s.efer = r.i64("EFER");
        s.xcr0 = r.i64("XCR0");
        r.i64s(s.dr, "debug registers");
        s.star = r.i64("STAR");
        s.lstar = r.i64("LSTAR");
        s.cstar = r.i64("CSTAR");
        s.sfmask = r.i64("SFMASK");
        s.kernelGsBase = r.i64("KERNEL_GS_BASE");
        s.sysenterCs = r.i64("SYSENTER_CS");
        s.sysenterEsp = r.i64("SYSENTER_ESP");
        s.sysenterEip = r.i64("SYSENTER_EIP");
        s.tscAux = r.i64("TSC_AUX");
        s.pat = r.i64("PAT");
        s.miscEnable = r.i64("MISC_ENABLE");
        s.mtrrDefType = r.i64("MTRR_DEF_TYPE");
        s.tscOffset = r.i64("TSC offset");
        r.i64s(s.mtrrFixed, "fixed MTRRs");
        r.i64s(s.mtrrVar, "variable MTRRs");
        r.i64s(s.xmm, "XMM registers");
        s.mxcsr = r.i32("MXCSR");
        s.fpuControl = r.i32In(0, 0xFFFF, "x87 control word");
        s.fpuStatus = r.i32In(0, 0xFFFF, "x87 status word");
        s.fpuTagWord = r.i32In(0, 0xFFFF, "x87 tag word");
        s.fpuLastOpcode = r.i32In(0, 0x7FF, "x87 last opcode");
        s.fpuLastIp = r.i64("x87 last instruction pointer");
        s.fpuLastDp = r.i64("x87 last data pointer");
        r.bytes(s.fpuRegisters, 0, s.fpuRegisters.length, "x87 registers");
        s.halted = r.bool("halted");
        s.nmiPending = r.bool("NMI pending");
        s.nmiBlocked = r.bool("NMI blocked");
        s.interruptShadow = r.bool("interrupt shadow");
        s.trapFlagSampledAfter = r.bool("single-step after SYSCALL/SYSRET");
        s.interruptWindowExiting = r.bool("interrupt-window exiting");
        s.exceptionExiting = r.bool("exception exiting");
        s.cr8Exits = r.bool("CR8 exiting");
        s.pendingVector = r.i32In(-1, 255, "pending interrupt vector");
        s.replay = new long[r.i32In(0, Cpu.MAX_EXITS_PER_INSTRUCTION - 2, "replay log length")];
        r.i64s(s.replay, "replay log");
        s.replayPosition = r.i32In(0, s.replay.length, "replay position");
        s.redeliveryPending = r.bool("event redelivery pending");
        s.redeliverVector = r.i32In(0, 255, "redelivered vector");
        s.redeliverErrorCode = r.i32("redelivered error code");
        s.redeliverKind = r.i32In(0, 4, "redelivered event kind");
        s.redeliverHasError = r.bool("redelivered event has an error code");
        s.redeliverReturnRip = r.i64("redelivered return RIP");
        s.redeliverPushedRf = r.i64("redelivered RF");
        s.shadowInjected = r.bool("shadow #PF to raise");
        s.shadowInjectedLinear = r.i64("shadow #PF address");
        s.shadowInjectedAccess = r.i32In(Cpu.ACCESS_READ, Cpu.ACCESS_FETCH, "shadow #PF access");
        s.shadowInjectedCode = r.i32("shadow #PF error code");
        s.shadowInjectedUser = r.bool("shadow #PF user");
        s.retired = r.i64("retired instructions");
        s.cyclesPerInstruction = r.i64("cycles per instruction");
        s.extraCycles = r.i64("extra cycles");
        s.pauseCycles = r.i64("PAUSE cycles");
        s.pagingMode = enumAt(r, PagingMode.values(), "paging mode");
        s.shadowStrategy = enumAt(r, ShadowStrategy.values(), "shadow strategy");
        s.walkReferenceCost = r.i64("walk reference cost");
        s.tlbFlushCost = r.i64("TLB flush cost");
        boolean pdptesLoaded = r.bool("PDPTEs loaded");
        long[] pdptes = new long[4];
        r.i64s(pdptes, "PDPTE registers");
        s.pdpteRegisters = pdptesLoaded ? pdptes : null;
        r.i64s(s.pagingCounters, "paging counters");
        s.decodeTlb(r);
        s.decodedBlocks = BlockCache.SavedBlocks.read(r);
        r.end();
        return s;
    }

    /**
     * Reads the TLB entries, checking what needs no memory: slots in the filled sets and
     * increasing, each tag invalid or the page-aligned address that slot caches, the tags of one
     * entry naming one page, the mapping mask one of the page sizes. The memory-dependent checks
     * are {@link #checkTlbAgainst}'s.
     */
    private void decodeTlb(SectionReader r) throws SnapshotException {
        // Bounded by the bytes present (53 per entry) before anything is allocated.
        int count = r.i32In(0, Math.min(FILLED_TLB_SLOTS, r.remaining() / 53), "TLB entry count");
        tlbSlots = new int[count];
        tlbReadTags = new long[count];
        tlbWriteTags = new long[count];
        tlbFetchTags = new long[count];
        tlbAddends = new long[count];
        tlbHostPages = new long[count];
        tlbMappingMasks = new long[count];
        tlbGlobals = new boolean[count];
        for (int n = 0; n < count; n++) {
            int slot = tlbSlots[n] = r.i32In(n == 0 ? 0 : tlbSlots[n - 1] + 1, FILLED_TLB_SLOTS - 1, "TLB slot");
            long page = Cpu.TLB_INVALID;
            String[] tagNames = {"TLB read tag", "TLB write tag", "TLB fetch tag"};
            long[][] tags = {tlbReadTags, tlbWriteTags, tlbFetchTags};
            for (int t = 0; t < 3; t++) {
                int at = r.position();
                long tag = tags[t][n] = r.i64(tagNames[t]);
                if (tag == Cpu.TLB_INVALID) continue;
                if ((tag & ~Cpu.PAGE_MASK) != 0 || Cpu.tlbIndex(tag) != slot % Cpu.TLB_SIZE) {
                    throw r.malformed(at, tagNames[t], String.format("%#x is not a page address cached in slot %d", tag, slot));
                }
                if (page != Cpu.TLB_INVALID && tag != page) {
                    throw r.malformed(at, tagNames[t], String.format("%#x differs from the entry's other tag %#x", tag, page));
                }
                page = tag;
            }
            if (page == Cpu.TLB_INVALID) throw r.malformed(r.position(), "TLB entry", "in slot " + slot + " has no valid tag");
            tlbAddends[n] = r.i64("TLB addend");
            tlbHostPages[n] = r.i64("TLB host page");
            tlbGlobals[n] = r.bool("TLB global");
            int at = r.position();
            long mask = tlbMappingMasks[n] = r.i64("TLB mapping mask");
            if (java.util.Arrays.stream(MAPPING_MASKS).noneMatch(m -> m == mask)) {
                throw r.malformed(at, "TLB mapping mask", String.format("%#x is not the mask of a 4K, 2M, 4M or 1G page", mask));
            }
        }
    }

    private static <E extends Enum<E>> E enumAt(SectionReader r, E[] values, String field) throws SnapshotException {
        int at = r.position();
        int ordinal = r.u8(field);
        if (ordinal >= values.length) throw r.malformed(at, field, "is " + ordinal + ", not one of " + java.util.Arrays.toString(values));
        return values[ordinal];
    }
}
