package org.symbiont.x86;

import org.symbiont.x86.mmu.Mmu;

/**
 * A copy of the state a nested call into the guest (a SymCall, Palacios 6.7) can change, taken
 * while the vCPU is stopped, possibly in the middle of an exit: general registers, RIP, RFLAGS
 * (lazy flags included), every segment register with its descriptor cache, CPL, the GS base
 * SWAPGS exchanges, CR2, SSE state, the interrupt and event state (pending vector, NMI, shadows,
 * halt), and the core's in-flight exit: the pending exit, its replay log, an event delivery to
 * redo and the MMU's shadow fault to raise. CR0, CR3, CR4, EFER and other MSRs are not saved
 * (Palacios does not either): the call runs in the address space current at the exit.
 */
public final class CpuContext {
    private final long[] gpr;
    private final long rip, rflags;
    private final int ccOp;
    private final long ccA, ccB, ccR;
    private final int[] segSel, segAttr;
    private final long[] segBase, segLimit;
    private final int cpl;
    private final long kernelGsBase, cr2;
    private final long[] xmm;
    private final int mxcsr;
    private final boolean halted, nmiPending, nmiBlocked, interruptShadow, trapFlagSampledAfter;
    private final boolean interruptWindowExiting, exceptionExiting;
    private final int pendingVector;
    private final Exit pendingExit;
    private final long[] replay;
    private final int replayLength, replayPosition;
    private final boolean redeliveryPending, redeliverHasError;
    private final int redeliverVector, redeliverErrorCode, redeliverKind;
    private final long redeliverReturnRip, redeliverPushedRf;
    private final Mmu.InFlight mmu;

    private CpuContext(Cpu c) {
        gpr = c.gpr.clone();
        rip = c.rip;
        rflags = c.rflags;
        ccOp = c.ccOp;
        ccA = c.ccA;
        ccB = c.ccB;
        ccR = c.ccR;
        segSel = c.segSel.clone();
        segAttr = c.segAttr.clone();
        segBase = c.segBase.clone();
        segLimit = c.segLimit.clone();
        cpl = c.cpl;
        kernelGsBase = c.kernelGsBase;
        cr2 = c.cr2;
        xmm = c.xmm.clone();
        mxcsr = c.mxcsr;
        halted = c.halted;
        nmiPending = c.nmiPending;
        nmiBlocked = c.nmiBlocked;
        interruptShadow = c.interruptShadow;
        trapFlagSampledAfter = c.trapFlagSampledAfter;
        interruptWindowExiting = c.interruptWindowExiting;
        exceptionExiting = c.exceptionExiting;
        pendingVector = c.pendingVector;
        pendingExit = c.pendingExit;
        replay = java.util.Arrays.copyOf(c.replay, c.replayLength);
        replayLength = c.replayLength;
        replayPosition = c.replayPosition;
        redeliveryPending = c.redeliveryPending;
        redeliverHasError = c.redeliverHasError;
        redeliverVector = c.redeliverVector;
        redeliverErrorCode = c.redeliverErrorCode;
        redeliverKind = c.redeliverKind;
        redeliverReturnRip = c.redeliverReturnRip;
        redeliverPushedRf = c.redeliverPushedRf;
        mmu = c.mmu.inFlight();
    }

    /**
     * Saves the context and leaves the core ready for a new one: nothing in flight, no event
     * pending, not halted. The caller then loads the entry state.
     */
    static CpuContext save(Cpu c) {
        CpuContext s = new CpuContext(c);
        c.pendingExit = null;
        c.replayLength = c.replayPosition = 0;
        c.redeliveryPending = false;
        c.mmu.setInFlight(null);
        c.halted = false;
        c.pendingVector = -1;
        c.nmiPending = false;
        c.interruptShadow = false;
        c.trapFlagSampledAfter = false;
        c.interruptWindowExiting = false;
        return s;
    }

    void restore(Cpu c) {
        System.arraycopy(gpr, 0, c.gpr, 0, gpr.length);
        c.rip = rip;
        c.rflags = rflags;
        c.ccOp = ccOp;
        c.ccA = ccA;
        c.ccB = ccB;
        c.ccR = ccR;
        System.arraycopy(segSel, 0, c.segSel, 0, segSel.length);
        System.arraycopy(segAttr, 0, c.segAttr, 0, segAttr.length);
        System.arraycopy(segBase, 0, c.segBase, 0, segBase.length);
        System.arraycopy(segLimit, 0, c.segLimit, 0, segLimit.length);
        c.cpl = cpl;
        c.kernelGsBase = kernelGsBase;
        c.cr2 = cr2;
        System.arraycopy(xmm, 0, c.xmm, 0, xmm.length);
        c.mxcsr = mxcsr;
        c.halted = halted;
        c.nmiPending = nmiPending;
        c.nmiBlocked = nmiBlocked;
        c.interruptShadow = interruptShadow;
        c.trapFlagSampledAfter = trapFlagSampledAfter;
        c.interruptWindowExiting = interruptWindowExiting;
        c.exceptionExiting = exceptionExiting;
        c.pendingVector = pendingVector;
        c.pendingExit = pendingExit;
        if (c.replay.length < replay.length) c.replay = new long[replay.length];
        System.arraycopy(replay, 0, c.replay, 0, replay.length);
        c.replayLength = replayLength;
        c.replayPosition = replayPosition;
        c.redeliveryPending = redeliveryPending;
        c.redeliverHasError = redeliverHasError;
        c.redeliverVector = redeliverVector;
        c.redeliverErrorCode = redeliverErrorCode;
        c.redeliverKind = redeliverKind;
        c.redeliverReturnRip = redeliverReturnRip;
        c.redeliverPushedRf = redeliverPushedRf;
        c.mmu.setInFlight(mmu);
        c.updateMode();
    }
}
