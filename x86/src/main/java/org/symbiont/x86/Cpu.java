package org.symbiont.x86;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Segmentation.AR_P;
import static org.symbiont.x86.exec.Segmentation.AR_S;
import static org.symbiont.x86.exec.Segmentation.TYPE_CODE;
import static org.symbiont.x86.exec.Segmentation.TYPE_WRITABLE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.exec.BlockCache;
import org.symbiont.x86.exec.ExitSignal;
import org.symbiont.x86.exec.Fault;
import org.symbiont.x86.exec.Flags;
import org.symbiont.x86.exec.Interpreter;
import org.symbiont.x86.exec.Segmentation;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.mmu.Mmu;

/**
 * One emulated x86-64 processor. Pure Java: no threads, no actors. {@link #run(long)} interprets
 * guest code until it must leave (see {@link Exit}) or the instruction budget is spent.
 *
 * <p>The architectural state is held in public fields so the instruction families in
 * {@code org.symbiont.x86.exec} reach it without indirection; code outside this module uses the
 * accessor methods. Guest memory is reached through a software TLB (one direct-mapped table per
 * privilege, caching the host offset of each page, as QEMU's softmmu does): a hit costs one
 * compare, everything else goes to {@link Mmu}.
 */
public final class Cpu implements PhysicalMemory.CodePageListener {

    // ---- software TLB ----
    public static final int TLB_BITS = 10;
    public static final int TLB_SIZE = 1 << TLB_BITS;
    public static final int TLB_MASK = TLB_SIZE - 1;
    /** Never equal to a page-aligned address, so an invalid entry always misses. */
    public static final long TLB_INVALID = 1;
    public static final long PAGE_MASK = ~0xFFFL;

    /**
     * Tags per access kind, for supervisor entries [0, TLB_SIZE) and user entries [TLB_SIZE,
     * 2*TLB_SIZE). A third set, [2*TLB_SIZE, 3*TLB_SIZE), is never filled: while alignment checking
     * is on, the accessors index it, miss, and the slow path checks alignment.
     */
    public final long[] tlbRead = new long[3 * TLB_SIZE];
    public final long[] tlbWrite = new long[3 * TLB_SIZE];
    public final long[] tlbFetch = new long[3 * TLB_SIZE];
    /** Host offset minus linear page address. */
    public final long[] tlbAddend = new long[3 * TLB_SIZE];
    /** Host page number of the entry, for dropping write access when the page starts holding code. */
    public final long[] tlbHostPage = new long[3 * TLB_SIZE];
    /** Entries made from global mappings survive CR3 writes. */
    public final boolean[] tlbGlobal = new boolean[3 * TLB_SIZE];
    /** The TLB set the accessors use: 0 at CPL 0-2, TLB_SIZE at CPL 3, 2*TLB_SIZE when checking alignment. */
    public int tlbBase;

    /**
     * The TLB slot of a linear address: the page number plus the page number shifted by the
     * table size, so that pages a power-of-two stride apart (arrays 8 MiB apart, a copy's source
     * and destination) do not all fall in one slot. Two consecutive pages never share a slot
     * (their slots differ by 1, or by 2 across a carry), which the single-compare hit test of
     * the accessors relies on.
     */
    public static int tlbIndex(long la) {
        long page = la >>> 12;
        return (int) (page + (page >>> TLB_BITS)) & TLB_MASK;
    }

    public final PhysicalMemory memory;
    private final MemorySegment ram;
    public final int id;
    public final CpuModel model;
    public final Mmu mmu;
    public final BlockCache blocks;

    // ---- general state ----
    public final long[] gpr = new long[16];
    public long rip;
    /** RFLAGS without the six status flags, which are evaluated lazily from the cc fields. */
    public long rflags = RFLAGS_FIXED1;
    /** Lazy status flags: how they were produced ({@link Flags}), the operands and the result. */
    public int ccOp;
    public long ccA, ccB, ccR;

    // ---- segments: descriptor caches for ES, CS, SS, DS, FS, GS, LDTR, TR ----
    public final int[] segSel = new int[8];
    public final long[] segBase = new long[8];
    /** Byte-granular limit. */
    public final long[] segLimit = new long[8];
    /** Access rights in the VMX layout: type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15, unusable 16. */
    public final int[] segAttr = new int[8];
    /** Base used for address computation: 0 for ES/CS/SS/DS in 64-bit mode. */
    public final long[] segEffBase = new long[6];
    /** Bit n set: accesses through segment n need limit and type checks. */
    public int segCheckMask;
    public long gdtBase, idtBase;
    public int gdtLimit, idtLimit;
    public int cpl;

    // ---- control, debug and model-specific registers ----
    public long cr0 = CR0_ET | CR0_CD | CR0_NW, cr2, cr3, cr4, cr8, efer, xcr0 = 1;
    public final long[] dr = new long[8];
    public long star, lstar, cstar, sfmask, kernelGsBase;
    public long sysenterCs, sysenterEsp, sysenterEip;
    public long tscAux, pat = 0x0007_0406_0007_0406L, miscEnable;
    public long mtrrDefType;
    public final long[] mtrrFixed = new long[11];
    public final long[] mtrrVar = new long[16];

    // ---- SSE and x87 ----
    /** XMM0-15: low quadword at 2n, high quadword at 2n+1. */
    public final long[] xmm = new long[32];
    public int mxcsr = 0x1F80;
    public int fpuControl = 0x037F, fpuStatus, fpuTagWord = 0xFFFF, fpuLastOpcode;
    public long fpuLastIp, fpuLastDp;
    /** ST0-ST7 register contents as 80-bit values, 10 bytes each, kept for FXSAVE/FXRSTOR. */
    public final byte[] fpuRegisters = new byte[80];

    // ---- derived mode ----
    /** {@link Decoder#CODE16}, {@link Decoder#CODE32} or {@link Decoder#CODE64}. */
    public int codeMode = Decoder.CODE16;
    /** All ones in 64-bit mode, 0xFFFFFFFF otherwise. */
    public long linearMask = 0xFFFF_FFFFL;
    /** Stack pointer width in bytes: 2, 4 or 8 (SS.B, or 8 in 64-bit mode). */
    public int stackSize = 2;
    /** Decoding mode and privilege class; decoded blocks are valid only for the key they were made under. */
    public int modeKey;

    // ---- events ----
    public boolean halted;
    /** An external interrupt vector waiting for IF and the end of any interrupt shadow, or -1. */
    public int pendingVector = -1;
    public boolean nmiPending, nmiBlocked;
    /** Interrupts (and single-step traps) are inhibited for one instruction after STI, MOV SS, POP SS. */
    public boolean interruptShadow;
    /**
     * Set by an instruction whose single-step trap follows RFLAGS.TF as the instruction leaves it
     * rather than as it found it (SYSCALL and SYSRET); cleared when the interpreter consumed it.
     */
    public boolean trapFlagSampledAfter;
    public boolean interruptWindowExiting;
    /**
     * Exceptions are not delivered through the IDT but returned as {@link Exit.ExceptionIntercepted}
     * (a nested call into the guest, which must not disturb the interrupted kernel's state).
     */
    public boolean exceptionExiting;

    // ---- exits ----
    /** The exit the VMM has not completed yet, or null. */
    public Exit pendingExit;
    /**
     * What the VMM answered for exits of the current instruction, consumed as it re-executes. It
     * grows on demand: ENTER with 31 nesting levels or an XSAVE area in MMIO needs dozens of
     * answers; {@link #MAX_EXITS_PER_INSTRUCTION} is far beyond any instruction's needs.
     */
    public long[] replay = new long[16];
    public static final int MAX_EXITS_PER_INSTRUCTION = 4096;
    public int replayLength, replayPosition;
    private Exit exitToReport;

    /**
     * An event (exception or interrupt) whose delivery left with a paging exit (shadow or nested
     * paging): {@link #run} delivers it again, from the start, once the VMM has answered.
     */
    public boolean redeliveryPending;
    public int redeliverVector, redeliverErrorCode, redeliverKind;
    public boolean redeliverHasError;
    public long redeliverReturnRip, redeliverPushedRf;

    // ---- faults in flight ----
    public int faultVector;
    public int faultErrorCode;
    public boolean faultHasErrorCode;

    // ---- virtual time ----
    /**
     * Retired instructions: each instruction, each iteration of a REP string instruction, and
     * each delivered exception or interrupt counts as one.
     */
    public long retired;
    /** {@code retired} value at which the current {@link #run} must stop. */
    public long budgetEnd;
    /** Virtual cycles per retired instruction. */
    public long cyclesPerInstruction = 1;
    /** Cycles the VMM charged on top of instruction execution (exits, page walks, noise). */
    public long extraCycles;
    /**
     * Extra virtual cycles a PAUSE costs (the VMM's cost model; the spin-wait hint takes tens to
     * over a hundred cycles on recent cores). A PAUSE also draws them from the instruction budget,
     * so a vCPU spinning on a lock reaches the end of its slice as soon as its time is spent.
     */
    public long pauseCycles;
    /**
     * MOV to CR8 exits ({@link Exit.Cr8Write}) so that a VMM's local APIC holds the task
     * priority; the VMM keeps {@link #cr8} in step when the guest changes the TPR through the APIC.
     */
    public boolean cr8Exits;
    public long tscOffset;

    // ---- execution control used by the interpreter ----
    /** Set by a handler to end the current block after this instruction (self-modifying code). */
    public boolean stopBlock;
    /** Host page number(s) of the block being executed, for self-modifying-code detection. */
    public long currentBlockPage = -1, currentBlockPage2 = -1;

    public Cpu(int id, PhysicalMemory memory, CpuModel model) {
        this.id = id;
        this.memory = memory;
        this.ram = memory.hostSegment();
        this.model = model;
        this.blocks = new BlockCache();
        this.mmu = new Mmu(this);
        memory.addCodePageListener(this);
        reset();
    }

    /** Puts the processor in its power-on state (SDM Vol. 3A, 10.1.1): real mode at F000:FFF0. */
    public void reset() {
        java.util.Arrays.fill(gpr, 0);
        gpr[RDX] = model.resetEdx();
        rflags = RFLAGS_FIXED1;
        Flags.setStatus(this, 0);
        for (int s = ES; s <= GS; s++) {
            segSel[s] = 0;
            segBase[s] = 0;
            segLimit[s] = 0xFFFF;
            segAttr[s] = s == CS ? 0x9B : 0x93;
        }
        segSel[CS] = 0xF000;
        segBase[CS] = 0xFFFF_0000L;
        for (int s = LDTR; s <= TR; s++) {
            segSel[s] = 0;
            segBase[s] = 0;
            segLimit[s] = 0xFFFF;
            segAttr[s] = s == LDTR ? 0x82 : 0x8B;
        }
        rip = 0xFFF0;
        gdtBase = idtBase = 0;
        gdtLimit = idtLimit = 0xFFFF;
        cpl = 0;
        cr0 = CR0_ET | CR0_CD | CR0_NW;
        cr2 = cr3 = cr4 = cr8 = efer = 0;
        xcr0 = 1;
        java.util.Arrays.fill(dr, 0);
        dr[6] = 0xFFFF0FF0L;
        dr[7] = 0x400;
        star = lstar = cstar = sfmask = kernelGsBase = 0;
        sysenterCs = sysenterEsp = sysenterEip = 0;
        tscAux = 0;
        pat = 0x0007_0406_0007_0406L;
        java.util.Arrays.fill(xmm, 0);
        mxcsr = 0x1F80;
        fpuControl = 0x0040;
        fpuStatus = 0;
        fpuTagWord = 0x5555;
        java.util.Arrays.fill(fpuRegisters, (byte) 0);
        halted = false;
        pendingVector = -1;
        nmiPending = nmiBlocked = interruptShadow = trapFlagSampledAfter = false;
        pendingExit = null;
        redeliveryPending = false;
        replayLength = replayPosition = 0;
        updateMode();
    }

    // =====================================================================================
    // Running
    // =====================================================================================

    /**
     * Interprets guest code until an exit or until {@code budget} more instructions have retired.
     * Never throws for anything the guest does; an {@link IllegalStateException} means the VMM
     * called it with an exit still uncompleted.
     */
    public Exit run(long budget) {
        if (pendingExit != null) {
            throw new IllegalStateException("vCPU " + id + ": exit " + pendingExit + " was not completed before run()");
        }
        if (budget <= 0) throw new IllegalArgumentException("budget must be positive, got " + budget);
        return Interpreter.run(this, budget);
    }

    // ---- completing exits ----

    /** Answers a {@link Exit.PortIn}, {@link Exit.MmioRead} or {@link Exit.Rdmsr}. */
    public void completeRead(long value) {
        Exit e = requirePending();
        if (!(e instanceof Exit.PortIn || e instanceof Exit.MmioRead || e instanceof Exit.Rdmsr)) {
            throw new IllegalStateException("completeRead does not answer " + e);
        }
        pushReplay(value);
    }

    /** Acknowledges a {@link Exit.PortOut}, {@link Exit.MmioWrite} or {@link Exit.Wrmsr}. */
    public void completeWrite() {
        Exit e = requirePending();
        if (!(e instanceof Exit.PortOut || e instanceof Exit.MmioWrite || e instanceof Exit.Wrmsr || e instanceof Exit.Cr8Write)) {
            throw new IllegalStateException("completeWrite does not answer " + e);
        }
        pushReplay(0);
    }

    /** Answers a {@link Exit.Cpuid}. */
    public void completeCpuid(int eax, int ebx, int ecx, int edx) {
        Exit e = requirePending();
        if (!(e instanceof Exit.Cpuid)) throw new IllegalStateException("completeCpuid does not answer " + e);
        pushReplay((eax & 0xFFFF_FFFFL) | (long) ebx << 32);
        replay[replayLength++] = (ecx & 0xFFFF_FFFFL) | (long) edx << 32;
    }

    /** Refuses an {@link Exit.Rdmsr} or {@link Exit.Wrmsr}: the instruction raises #GP(0). */
    public void failMsr() {
        Exit e = requirePending();
        if (!(e instanceof Exit.Rdmsr || e instanceof Exit.Wrmsr)) throw new IllegalStateException("failMsr does not answer " + e);
        pushReplay(REPLAY_FAULT);
    }

    /** Finishes a {@link Exit.Hypercall} after the VMM has read and written the registers it wanted. */
    public void completeHypercall() {
        Exit e = requirePending();
        if (!(e instanceof Exit.Hypercall)) throw new IllegalStateException("completeHypercall does not answer " + e);
        pushReplay(0);
    }

    /**
     * Resumes after the VMM handled a paging exit. {@link Exit.PagingFault} and
     * {@link Exit.ShadowFault}: the access is retried (the answers to earlier exits of the same
     * instruction are kept and replayed). {@link Exit.ShadowCr3Write} and {@link Exit.ShadowInvlpg}:
     * the instruction completes. {@link Exit.ShadowPageTableWrite}: the write is done.
     */
    public void completePagingFault() {
        Exit e = requirePending();
        switch (e) {
            case Exit.PagingFault f -> pendingExit = null;
            case Exit.ShadowFault f -> pendingExit = null;
            case Exit.ShadowCr3Write w -> pushReplay(0);
            case Exit.ShadowInvlpg i -> pushReplay(0);
            case Exit.ShadowPageTableWrite w -> pushReplay(0);
            default -> throw new IllegalStateException("completePagingFault does not answer " + e);
        }
    }

    /** Marks a replayed answer that makes the instruction fault instead of completing. */
    public static final long REPLAY_FAULT = 0x8000_0000_0000_0001L;

    private Exit requirePending() {
        if (pendingExit == null) throw new IllegalStateException("vCPU " + id + " has no exit to complete");
        return pendingExit;
    }

    private void pushReplay(long v) {
        if (replayLength >= replay.length - 1) {
            if (replay.length >= MAX_EXITS_PER_INSTRUCTION) {
                throw new IllegalStateException(String.format("vCPU %d: more than %d exits in one instruction at RIP %#x (last %s)",
                        id, replay.length - 2, rip, pendingExit));
            }
            replay = java.util.Arrays.copyOf(replay, replay.length * 2);
        }
        replay[replayLength++] = v;
        pendingExit = null;
    }

    /**
     * Called by a handler that needs the VMM: returns the answer recorded for this access if the
     * instruction is being re-executed, otherwise leaves with {@code exit}.
     */
    public long exitOrReplay(Exit exit) {
        if (replayPosition < replayLength) return replay[replayPosition++];
        exitToReport = exit;
        throw ExitSignal.INSTANCE;
    }

    /** Consumes the second word of a two-word answer (CPUID). */
    public long replayNext() {
        return replay[replayPosition++];
    }

    /** The exit a handler left with; becomes the pending exit. Used by the interpreter. */
    public Exit takeExit() {
        Exit e = exitToReport;
        exitToReport = null;
        replayPosition = 0;
        if (!(e instanceof Exit.TripleFault)) pendingExit = e;
        return e;
    }

    // ---- nested calls into the guest ----

    /**
     * Everything a call into the guest made while this vCPU is stopped (possibly in the middle
     * of an exit) can change: see {@link CpuContext}.
     */
    public CpuContext saveContext() {
        return CpuContext.save(this);
    }

    /** Puts back a context {@link #saveContext()} took, the exit in flight then included. */
    public void restoreContext(CpuContext context) {
        context.restore(this);
    }

    /**
     * Loads the entry state of a nested call (Palacios 6.7, step 3) after {@link #saveContext()}:
     * CS from the descriptor {@code cs} names in the GDT, SS from the one at {@code cs + 8}, CPL 0,
     * RIP, RSP, the GS and FS bases; RFLAGS keeps its value but for TF. Returns null, or why the
     * entry cannot be made (a selector outside the GDT or in the LDT, a descriptor that is not a
     * present code or writable data segment, a GDT the VMM cannot read without a paging exit);
     * the state is then unchanged.
     */
    public String enterNested(long entryRip, long entryRsp, int cs, long gsBase, long fsBase) {
        int codeSel = cs & 0xFFFC, stackSel = codeSel + 8;
        if (codeSel == 0 || (cs & 4) != 0) return String.format("code selector %#x is not a GDT selector", cs);
        long code, stack;
        try {
            code = Segmentation.readDescriptor(this, codeSel, EXC_GP);
            stack = Segmentation.readDescriptor(this, stackSel, EXC_GP);
        } catch (Fault f) {
            return String.format("selectors %#x/%#x: the GDT does not hold them (#%d)", codeSel, stackSel, faultVector);
        } catch (ExitSignal x) {
            Exit e = takeExit();
            pendingExit = null;
            return "the GDT is not mapped without a paging exit (" + e + ")";
        }
        int codeAr = Segmentation.descriptorAttr(code), stackAr = Segmentation.descriptorAttr(stack);
        if ((codeAr & (AR_S | AR_P)) != (AR_S | AR_P) || (codeAr & TYPE_CODE) == 0) {
            return String.format("selector %#x is not a present code segment", codeSel);
        }
        if ((stackAr & (AR_S | AR_P)) != (AR_S | AR_P) || (stackAr & (TYPE_CODE | TYPE_WRITABLE)) != TYPE_WRITABLE) {
            return String.format("selector %#x (CS + 8) is not a present writable data segment", stackSel);
        }
        Segmentation.loadCache(this, CS, codeSel, code);
        Segmentation.loadCache(this, SS, stackSel, stack);
        cpl = 0;
        segBase[GS] = gsBase;
        segBase[FS] = fsBase;
        rip = entryRip;
        gpr[RSP] = entryRsp;
        rflags &= ~TF;
        updateMode();
        return null;
    }

    // ---- interrupts ----

    /**
     * Requests an external interrupt. It is taken at the first instruction boundary where
     * RFLAGS.IF is set and no interrupt shadow is active, and wakes a halted vCPU. One vector
     * waits at a time (the interrupt controller holds the rest): a second request before the
     * first is taken replaces it only if it has higher priority.
     */
    public void injectInterrupt(int vector) {
        if (vector < 0 || vector > 255) throw new IllegalArgumentException("interrupt vector out of range: " + vector);
        if (pendingVector < 0 || (vector >>> 4) > (pendingVector >>> 4)) pendingVector = vector;
    }

    /** Whether an injected external interrupt would be taken at the next instruction boundary. */
    public boolean interruptible() {
        return (rflags & IF) != 0 && !interruptShadow;
    }

    public boolean hasPendingInterrupt() {
        return pendingVector >= 0;
    }

    /** Requests a non-maskable interrupt; taken unless an NMI handler is still running. */
    public void injectNmi() {
        nmiPending = true;
    }

    /** Asks {@link #run} to return {@link Exit.InterruptWindow} as soon as the guest is interruptible. */
    public void setInterruptWindowExiting(boolean on) {
        interruptWindowExiting = on;
    }

    // =====================================================================================
    // Fault raising
    // =====================================================================================

    public Fault fault(int vector) {
        faultVector = vector;
        faultErrorCode = 0;
        faultHasErrorCode = false;
        return Fault.INSTANCE;
    }

    public Fault fault(int vector, int errorCode) {
        faultVector = vector;
        faultErrorCode = errorCode;
        faultHasErrorCode = true;
        return Fault.INSTANCE;
    }

    public Fault gp0() {
        return fault(EXC_GP, 0);
    }

    public Fault ud() {
        return fault(EXC_UD);
    }

    /** Leaves the instruction with an exit to the VMM (no replay possible). */
    public ExitSignal exit(Exit e) {
        exitToReport = e;
        return ExitSignal.INSTANCE;
    }

    // =====================================================================================
    // Registers
    // =====================================================================================

    /** Reads a register operand of the given size (1, 2, 4, 8); numbers 16..19 are AH..BH. */
    public long readReg(int r, int size) {
        return switch (size) {
            case 1 -> r < 16 ? gpr[r] & 0xFF : (gpr[r - 16] >>> 8) & 0xFF;
            case 2 -> gpr[r] & 0xFFFF;
            case 4 -> gpr[r] & 0xFFFF_FFFFL;
            default -> gpr[r];
        };
    }

    /** Writes a register operand: 8- and 16-bit writes merge, 32-bit writes zero-extend. */
    public void writeReg(int r, int size, long v) {
        switch (size) {
            case 1 -> {
                if (r < 16) gpr[r] = (gpr[r] & ~0xFFL) | (v & 0xFF);
                else gpr[r - 16] = (gpr[r - 16] & ~0xFF00L) | ((v & 0xFF) << 8);
            }
            case 2 -> gpr[r] = (gpr[r] & ~0xFFFFL) | (v & 0xFFFF);
            case 4 -> gpr[r] = v & 0xFFFF_FFFFL;
            default -> gpr[r] = v;
        }
    }

    public long getRflags() {
        return rflags | Flags.status(this);
    }

    /** Sets RFLAGS wholesale (no privilege checks: for the VMM and loaders). */
    public void setRflags(long value) {
        rflags = (value & ~STATUS_FLAGS & 0x3F_7FD5L) | RFLAGS_FIXED1;
        Flags.setStatus(this, value & STATUS_FLAGS);
        selectTlbSet();
    }

    /**
     * Alignment checking (SDM Vol. 3A, 6.15, #AC): data accesses at CPL 3 with CR0.AM and
     * RFLAGS.AC set must be aligned to their size.
     */
    public boolean alignmentChecking() {
        return cpl == 3 && (cr0 & CR0_AM) != 0 && (rflags & AC) != 0;
    }

    private void selectTlbSet() {
        tlbBase = cpl != 3 ? 0 : alignmentChecking() ? 2 * TLB_SIZE : TLB_SIZE;
    }

    public long virtualCycles() {
        return retired * cyclesPerInstruction + extraCycles;
    }

    /** Adds modelled costs (exit handling, page walks, injected noise) to virtual time. */
    public void chargeCycles(long cycles) {
        extraCycles += cycles;
    }

    // =====================================================================================
    // Mode
    // =====================================================================================

    /** Recomputes the derived mode after CR0, EFER, CS, SS or CPL change. */
    public void updateMode() {
        boolean lma = (efer & EFER_LMA) != 0;
        int csAttr = segAttr[CS];
        if (lma && (csAttr & (1 << 13)) != 0) codeMode = Decoder.CODE64;
        // Outside long mode the cached CS.D decides, in real mode too: after CR0.PE is cleared the
        // processor keeps executing with the old CS attributes until CS is reloaded (SDM Vol. 3A, 10.9.2).
        else if ((csAttr & (1 << 14)) != 0) codeMode = Decoder.CODE32;
        else codeMode = Decoder.CODE16;
        boolean mode64 = codeMode == Decoder.CODE64;
        linearMask = mode64 ? -1L : 0xFFFF_FFFFL;
        stackSize = mode64 ? 8 : (segAttr[SS] & (1 << 14)) != 0 ? 4 : 2;
        selectTlbSet();
        modeKey = codeMode | (cpl == 3 ? 4 : 0);
        Segmentation.refreshEffectiveSegments(this);
    }

    // =====================================================================================
    // Memory access. Segmented access (seg, effective address) -> linear -> TLB -> host memory.
    // =====================================================================================

    public static final int ACCESS_READ = 0, ACCESS_WRITE = 1, ACCESS_FETCH = 2;

    /** Applies segmentation: base, and in legacy modes limit and type checks. */
    public long linear(int seg, long ea, int size, int access) {
        if ((segCheckMask >>> seg & 1) != 0) Segmentation.checkAccess(this, seg, ea, size, access);
        return (ea + segEffBase[seg]) & linearMask;
    }

    public int read8(int seg, long ea) { return readL8(seg, linear(seg, ea, 1, ACCESS_READ)); }
    public int read16(int seg, long ea) { return readL16(seg, linear(seg, ea, 2, ACCESS_READ)); }
    public int read32(int seg, long ea) { return readL32(seg, linear(seg, ea, 4, ACCESS_READ)); }
    public long read64(int seg, long ea) { return readL64(seg, linear(seg, ea, 8, ACCESS_READ)); }
    public void write16(int seg, long ea, int v) { writeL16(seg, linear(seg, ea, 2, ACCESS_WRITE), v); }
    public void write32(int seg, long ea, int v) { writeL32(seg, linear(seg, ea, 4, ACCESS_WRITE), v); }
    public void write64(int seg, long ea, long v) { writeL64(seg, linear(seg, ea, 8, ACCESS_WRITE), v); }

    /** Reads {@code size} bytes (1, 2, 4, 8), zero-extended. */
    public long read(int seg, long ea, int size) {
        return readL(seg, linear(seg, ea, size, ACCESS_READ), size);
    }

    public void write(int seg, long ea, int size, long v) {
        writeL(seg, linear(seg, ea, size, ACCESS_WRITE), size, v);
    }

    public long readL(int seg, long la, int size) {
        return switch (size) {
            case 1 -> readL8(seg, la);
            case 2 -> readL16(seg, la);
            case 4 -> readL32(seg, la) & 0xFFFF_FFFFL;
            default -> readL64(seg, la);
        };
    }

    public void writeL(int seg, long la, int size, long v) {
        switch (size) {
            case 1 -> writeL8(seg, la, (int) v);
            case 2 -> writeL16(seg, la, (int) v);
            case 4 -> writeL32(seg, la, (int) v);
            default -> writeL64(seg, la, v);
        }
    }

    // Linear-address accessors: the TLB fast path. A tag matches only if the whole access lies in
    // the tagged page, because the tag is compared with the page of the access's last byte and
    // two consecutive pages never share a TLB slot (see tlbIndex).
    //
    // Ordering: an acquire fence after every load and a release fence before every store keep the
    // JIT from reordering guest accesses, so with x86 hardware underneath (or the barriers these
    // fences become elsewhere) vCPUs on different threads see x86-TSO: loads in order, stores in
    // order, a load may pass an earlier store. On x86 the fences emit no instruction.

    public int readL8(int seg, long la) {
        int i = tlbBase + tlbIndex(la);
        if (tlbRead[i] == (la & PAGE_MASK)) {
            byte v = ram.get(ValueLayout.JAVA_BYTE, tlbAddend[i] + la);
            VarHandle.acquireFence();
            return v & 0xFF;
        }
        return (int) mmu.readSlow(seg, la, 1, tlbBase != 0);
    }

    public int readL16(int seg, long la) {
        int i = tlbBase + tlbIndex(la);
        if (tlbRead[i] == ((la + 1) & PAGE_MASK)) {
            short v = ram.get(ValueLayout.JAVA_SHORT_UNALIGNED, tlbAddend[i] + la);
            VarHandle.acquireFence();
            return v & 0xFFFF;
        }
        return (int) mmu.readSlow(seg, la, 2, tlbBase != 0);
    }

    public int readL32(int seg, long la) {
        int i = tlbBase + tlbIndex(la);
        if (tlbRead[i] == ((la + 3) & PAGE_MASK)) {
            int v = ram.get(ValueLayout.JAVA_INT_UNALIGNED, tlbAddend[i] + la);
            VarHandle.acquireFence();
            return v;
        }
        return (int) mmu.readSlow(seg, la, 4, tlbBase != 0);
    }

    public long readL64(int seg, long la) {
        int i = tlbBase + tlbIndex(la);
        if (tlbRead[i] == ((la + 7) & PAGE_MASK)) {
            long v = ram.get(ValueLayout.JAVA_LONG_UNALIGNED, tlbAddend[i] + la);
            VarHandle.acquireFence();
            return v;
        }
        return mmu.readSlow(seg, la, 8, tlbBase != 0);
    }

    public void writeL8(int seg, long la, int v) {
        int i = tlbBase + tlbIndex(la);
        if (tlbWrite[i] == (la & PAGE_MASK)) {
            VarHandle.releaseFence();
            ram.set(ValueLayout.JAVA_BYTE, tlbAddend[i] + la, (byte) v);
        } else {
            mmu.writeSlow(seg, la, 1, v, tlbBase != 0);
        }
    }

    public void writeL16(int seg, long la, int v) {
        int i = tlbBase + tlbIndex(la);
        if (tlbWrite[i] == ((la + 1) & PAGE_MASK)) {
            VarHandle.releaseFence();
            ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, tlbAddend[i] + la, (short) v);
        } else {
            mmu.writeSlow(seg, la, 2, v, tlbBase != 0);
        }
    }

    public void writeL32(int seg, long la, int v) {
        int i = tlbBase + tlbIndex(la);
        if (tlbWrite[i] == ((la + 3) & PAGE_MASK)) {
            VarHandle.releaseFence();
            ram.set(ValueLayout.JAVA_INT_UNALIGNED, tlbAddend[i] + la, v);
        } else {
            mmu.writeSlow(seg, la, 4, v & 0xFFFF_FFFFL, tlbBase != 0);
        }
    }

    public void writeL64(int seg, long la, long v) {
        int i = tlbBase + tlbIndex(la);
        if (tlbWrite[i] == ((la + 7) & PAGE_MASK)) {
            VarHandle.releaseFence();
            ram.set(ValueLayout.JAVA_LONG_UNALIGNED, tlbAddend[i] + la, v);
        } else {
            mmu.writeSlow(seg, la, 8, v, tlbBase != 0);
        }
    }

    /**
     * Checks that a write of {@code size} bytes at {@code la} would succeed (paging permissions,
     * present pages) without writing: instructions that write several places check them all
     * first, so that a fault leaves no partial effect.
     */
    public void probeWrite(int seg, long la, int size) {
        int i = tlbBase + tlbIndex(la);
        if (tlbWrite[i] != ((la + size - 1) & PAGE_MASK)) mmu.probe(seg, la, size, ACCESS_WRITE, tlbBase != 0);
    }

    // Implicit supervisor-level accesses (descriptor tables, TSS, IDT, the stack of an interrupt
    // handler): always supervisor privilege. In IA-32e mode they use 64-bit linear addresses even
    // from compatibility mode (the GDTR, IDTR and TR bases and the RSPn/IST stacks are 64-bit).

    public long readSys(long la, int size) {
        return mmu.readSlow(SEG_NONE, systemLinear(la), size, false);
    }

    public void writeSys(long la, int size, long v) {
        mmu.writeSlow(SEG_NONE, systemLinear(la), size, v, false);
    }

    private long systemLinear(long la) {
        return (efer & EFER_LMA) != 0 ? la : la & 0xFFFF_FFFFL;
    }

    /** Atomic read-modify-write support for LOCK: see {@link Mmu#lockedCompareExchange}. */
    public long lockedCompareExchange(int seg, long la, int size, long expected, long update) {
        return mmu.lockedCompareExchange(seg, la, size, expected, update, tlbBase != 0);
    }

    /** Reads code bytes for the decoder (fetch permission). */
    public int fetchByte(long la) {
        int i = tlbBase + tlbIndex(la);
        if (tlbFetch[i] == (la & PAGE_MASK)) return ram.get(ValueLayout.JAVA_BYTE, tlbAddend[i] + la) & 0xFF;
        return mmu.fetchSlow(la, tlbBase != 0);
    }

    // ---- TLB maintenance ----

    @Override
    public void codePageMarked(long hostPage) {
        for (int i = 0; i < tlbWrite.length; i++) {
            if (tlbHostPage[i] == hostPage) tlbWrite[i] = TLB_INVALID;
        }
    }

    /** Unregisters from the shared memory; call when the vCPU is destroyed. */
    public void detach() {
        memory.removeCodePageListener(this);
    }
}
