package org.symbiont.vmm;

import static org.symbiont.x86.Arch.*;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.CpuContext;
import org.symbiont.x86.Exit;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.exec.Segmentation;
import org.symbiont.x86.snapshot.CpuState;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * One vCPU: runs its {@link Cpu} in slices that end at a virtual-cycle target the VM supervisor
 * sets, so that the vCPUs of a VM take turns and timer events land at slice boundaries. Each exit
 * becomes a message to the supervisor, which routes it; the answer comes back as a message and
 * the slice goes on. Interrupts (from the local APIC, the PIC through LINT0, NMIs) are taken at
 * instruction boundaries when the guest can accept them, using the core's interrupt-window exit
 * otherwise. Nothing here blocks a thread.
 */
public final class VcpuActor extends AbstractBehavior<VcpuActor.Command> {

    public sealed interface Command {}

    /**
     * Run until the CPU's virtual cycles reach {@code targetCycles}; a vCPU that was halted first
     * lets its clock catch up to {@code notBeforeCycles} (parallel mode gives halted vCPUs no slices).
     */
    public record RunSlice(long targetCycles, long notBeforeCycles) implements Command {}

    /**
     * The answer to a read exit, or the acknowledgement of a write; {@code trapCycles}: what the
     * VMM's handling cost the guest beyond the access (an emulated device's trap).
     */
    public record ExitDone(long value, long trapCycles) implements Command {
        /** An answer that costs nothing beyond the exit itself. */
        public ExitDone(long value) {
            this(value, 0);
        }
    }

    /**
     * Sent before the answer to an access that asked the machine to exit or reset: the vCPU
     * completes that instruction and then runs no further, as the machine stops there.
     */
    public record Hold() implements Command {}

    /**
     * Sent before the answer to an access that changed an interrupt line: the vCPU completes the
     * instruction, then resumes only once the VM's thread has settled, so an interrupt the access
     * raised (through the 8259 or the I/O APIC to its local APIC) is taken at the next instruction
     * boundary, as on hardware.
     */
    public record Settle() implements Command {}

    /** Resume the slice after settling. */
    private record Continue() implements Command {}

    /** A machine reset: the core to its power-on state; answered with {@link VmSupervisor.VcpuReset}. */
    public record MachineReset() implements Command {}

    public record CpuidDone(int eax, int ebx, int ecx, int edx) implements Command {}

    /** RDMSR/WRMSR refused: the guest gets #GP(0). */
    public record MsrRefused() implements Command {}

    /** A hypercall handled: the full register file to write back. */
    public record HypercallDone(long[] gprs) implements Command {}

    /** The paging component handled a paging exit (see {@link PagingActor}): the instruction goes on. */
    public record PagingDone() implements Command {}

    /** The local APIC's highest deliverable vector, or -1. */
    public record InterruptPending(int vector) implements Command {}

    /** The PIC's INTR reaches this vCPU (LINT0 in ExtINT mode, or the pin of an APIC-less machine). */
    public record ExtIntPending(boolean asserted) implements Command {}

    /** The PIC's answer to the interrupt-acknowledge cycle. */
    public record ExtIntVector(int vector) implements Command {}

    public record Nmi() implements Command {}

    /** The local APIC's task priority changed: the core's CR8 holds its bits 7:4. */
    public record TaskPriority(int tpr) implements Command {}

    /** INIT: reset and wait for a start-up IPI (SDM Vol. 3A, 10.4 / 9.4). */
    public record Init() implements Command {}

    /** Start-up IPI: begin in real mode at {@code vector << 12}. */
    public record Startup(int vector) implements Command {}

    /** Reports the vCPU's state and counters. */
    public record Inspect(ActorRef<VcpuReport> replyTo) implements Command {}

    /**
     * Noise: the CPU is not the guest's until its clock reaches {@code untilCycles}, as if a
     * preempting kernel thread ran (stolen time). A halted guest loses nothing unless it is woken
     * before then.
     */
    public record Steal(long untilCycles) implements Command {}

    /**
     * A SymCall (Palacios 6.7) as a nested ask: taken while the vCPU waits for the answer to an
     * exit (the handler of that exit asks; an answer from anyone else must not be outstanding),
     * waits between slices, or is halted. The vCPU saves its context, enters the guest at the
     * registered entry and runs it — its exits routed as usual, no interrupt or exception
     * injected — until the return or error hypercall, an intercepted exception, or the end of the
     * budget; then restores the context and replies. The exit it interrupted completes as if
     * nothing had happened.
     */
    public record SymCall(SymCallRequest request, ActorRef<SymCallResult> replyTo) implements Command {}

    /**
     * A VM snapshot: the vCPU's state (its core's {@link CpuState} and what this actor holds
     * beyond it), answered with {@link VmSupervisor.VcpuSaved}; refused while a slice, an exit or
     * a SymCall is in flight (the supervisor asks between rounds, where none is).
     */
    public record SaveState(ActorRef<VmSupervisor.Command> replyTo) implements Command {}

    /**
     * What a vCPU holds beyond its core, as a snapshot saves it: interrupts posted to it and not
     * yet taken, whether it waits for a start-up IPI, stolen time to come and stolen so far.
     */
    record Saved(int lapicVector, boolean extInt, boolean nmi, boolean waitingForSipi, boolean idleSinceLastSlice,
                 long stolenUntil, long stolenCycles) {
        static String sectionName(int id) {
            return "vcpu." + id;
        }

        byte[] encode() {
            return new SectionWriter().i32(lapicVector).bool(extInt).bool(nmi).bool(waitingForSipi).bool(idleSinceLastSlice)
                    .i64(stolenUntil).i64(stolenCycles).toByteArray();
        }

        static Saved decode(String section, byte[] body) throws SnapshotException {
            SectionReader in = new SectionReader(section, body);
            Saved s = new Saved(in.i32In(-1, 255, "posted vector"), in.bool("ExtINT posted"), in.bool("NMI posted"),
                    in.bool("waiting for SIPI"), in.bool("idle since last slice"), in.i64("stolen until"), in.i64("stolen cycles"));
            in.end();
            return s;
        }
    }

    /** A restored VM: this vCPU's state beyond its core, from the snapshot; sent before it is given anything to run. */
    record Restore(Saved saved) implements Command {}

    /** The next stretch of a running SymCall (a long one lets the mailbox in between). */
    private record ContinueSymCall() implements Command {}

    private final int id;
    private final Cpu cpu;
    private final ActorRef<VmSupervisor.Command> supervisor;
    private final long tscHz;
    private final VmConfig.CostModel costs;
    private final String vmDispatcher;
    private final VcpuTelemetry telemetry = new VcpuTelemetry();
    /** The last exits and when they happened (virtual cycles), formatted only for a report. */
    private final Exit[] recentExits = new Exit[16];
    private final long[] recentExitCycles = new long[16];
    private int recentCount;

    private long sliceTarget;
    private boolean inSlice;
    private boolean held;
    private boolean settleAfterExit;
    /** The last slice ended halted or parked (or none ran yet): the clock may have to catch up. */
    private boolean idleSinceLastSlice = true;
    private Exit pendingExit;
    private long exitStarted;
    private boolean awaitingExtIntVector;
    private boolean waitingForSipi;
    private int lapicVector = -1;
    private boolean extInt;
    private boolean nmi;
    /** The SymCall running on this vCPU, or null. */
    private NestedCall symcall;
    /** Noise: the guest may not run before this many virtual cycles; the cycles it lost so far. */
    private long stolenUntil, stolenCycles;

    /** Instructions a SymCall runs before the actor looks at its mailbox again. */
    private static final long SYMCALL_STRETCH = 100_000;

    /** A running SymCall and what it interrupted, beyond the core's own context. */
    private static final class NestedCall {
        final SymCallRequest request;
        final ActorRef<SymCallResult> replyTo;
        final CpuContext saved;
        final long startCycles;
        final long startNanos = System.nanoTime();
        final Exit interruptedExit;
        final long interruptedExitStarted;
        final boolean settleAfterInterruptedExit;
        /** An ExtINT vector the PIC answered during the call, injected once it is over, or -1. */
        int extIntVector = -1;
        /** An INIT that arrived during the call, taken once it is over. */
        boolean init;

        NestedCall(SymCallRequest request, ActorRef<SymCallResult> replyTo, CpuContext saved, long startCycles,
                   Exit interruptedExit, long interruptedExitStarted, boolean settleAfterInterruptedExit) {
            this.request = request;
            this.replyTo = replyTo;
            this.saved = saved;
            this.startCycles = startCycles;
            this.interruptedExit = interruptedExit;
            this.interruptedExitStarted = interruptedExitStarted;
            this.settleAfterInterruptedExit = settleAfterInterruptedExit;
        }
    }

    /** @param vmDispatcher the dispatcher of the VM's devices, whose quiet {@link Settle} waits for */
    public static Behavior<Command> create(int id, Cpu cpu, ActorRef<VmSupervisor.Command> supervisor, long tscHz,
                                           VmConfig.CostModel costs, String vmDispatcher, boolean waitForSipi) {
        return Behaviors.setup(ctx -> new VcpuActor(ctx, id, cpu, supervisor, tscHz, costs, vmDispatcher, waitForSipi));
    }

    private VcpuActor(ActorContext<Command> ctx, int id, Cpu cpu, ActorRef<VmSupervisor.Command> supervisor, long tscHz,
                      VmConfig.CostModel costs, String vmDispatcher, boolean waitForSipi) {
        super(ctx);
        this.vmDispatcher = vmDispatcher;
        this.costs = costs;
        this.id = id;
        this.cpu = cpu;
        this.supervisor = supervisor;
        this.tscHz = tscHz;
        this.waitingForSipi = waitForSipi;
    }

    /** What a snapshot saved of this vCPU beyond its core (restored by the supervisor before it runs). */
    private void restore(Saved saved) {
        lapicVector = saved.lapicVector();
        extInt = saved.extInt();
        nmi = saved.nmi();
        waitingForSipi = saved.waitingForSipi();
        idleSinceLastSlice = saved.idleSinceLastSlice();
        stolenUntil = saved.stolenUntil();
        stolenCycles = saved.stolenCycles();
    }

    /** This vCPU's state for a snapshot, or why it cannot be taken now. */
    private VmSupervisor.VcpuSaved save() {
        String busy = inSlice ? "it is running a slice" : pendingExit != null ? "exit " + pendingExit + " is in flight"
                : symcall != null ? "a SymCall is running on it" : awaitingExtIntVector ? "it is acknowledging an interrupt" : null;
        if (busy != null) return new VmSupervisor.VcpuSaved(id, null, null, "vCPU " + id + ": " + busy);
        Saved saved = new Saved(lapicVector, extInt, nmi, waitingForSipi, idleSinceLastSlice, stolenUntil, stolenCycles);
        return new VmSupervisor.VcpuSaved(id, CpuState.capture(cpu).encode(), saved.encode(), null);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(RunSlice.class, m -> {
                    long behind = m.notBeforeCycles() - cpu.virtualCycles();
                    if (behind > 0 && idleSinceLastSlice) cpu.chargeCycles(behind);
                    idleSinceLastSlice = false;
                    sliceTarget = m.targetCycles();
                    inSlice = true;
                    return continueSlice();
                })
                .onMessage(Hold.class, m -> {
                    held = true;
                    return this;
                })
                .onMessage(Settle.class, m -> {
                    settleAfterExit = true;
                    return this;
                })
                .onMessage(Continue.class, m -> proceed())
                .onMessage(SymCall.class, this::startSymCall)
                .onMessage(ContinueSymCall.class, m -> symcall != null && pendingExit == null ? runSymCall() : this)
                .onMessage(MachineReset.class, m -> {
                    if (symcall != null) {
                        symcall.request.flags().setActive(false);
                        endSymCall(SymCallError.of(SymCallError.Reason.VM_RESET, "the machine was reset during the call"));
                    }
                    powerOn();
                    supervisor.tell(new VmSupervisor.VcpuReset(id));
                    return this;
                })
                .onMessage(ExitDone.class, m -> {
                    if (pendingExit == null) return this; // answer to an access a reset abandoned
                    cpu.chargeCycles(m.trapCycles());
                    switch (exitDone()) {
                        case Exit.PortIn e -> cpu.completeRead(m.value());
                        case Exit.MmioRead e -> cpu.completeRead(m.value());
                        case Exit.Rdmsr e -> cpu.completeRead(m.value());
                        default -> cpu.completeWrite();
                    }
                    return resumeAfterExit();
                })
                .onMessage(CpuidDone.class, m -> {
                    if (pendingExit == null) return this;
                    exitDone();
                    cpu.completeCpuid(m.eax(), m.ebx(), m.ecx(), m.edx());
                    return resumeAfterExit();
                })
                .onMessage(MsrRefused.class, m -> {
                    if (pendingExit == null) return this;
                    exitDone();
                    cpu.failMsr();
                    return resumeAfterExit();
                })
                .onMessage(HypercallDone.class, m -> {
                    if (pendingExit == null) return this;
                    exitDone();
                    System.arraycopy(m.gprs(), 0, cpu.gpr, 0, 16);
                    cpu.completeHypercall();
                    return resumeAfterExit();
                })
                .onMessage(PagingDone.class, m -> {
                    if (pendingExit == null) return this;
                    exitDone();
                    cpu.completePagingFault();
                    return resumeAfterExit();
                })
                .onMessage(InterruptPending.class, m -> {
                    lapicVector = m.vector();
                    if (m.vector() >= 0) wakeIfHalted();
                    return this;
                })
                .onMessage(ExtIntPending.class, m -> {
                    extInt = m.asserted();
                    if (m.asserted()) wakeIfHalted();
                    return this;
                })
                .onMessage(ExtIntVector.class, m -> {
                    if (!awaitingExtIntVector) return this;
                    awaitingExtIntVector = false;
                    if (symcall != null) {
                        symcall.extIntVector = m.vector(); // no injection while a SymCall runs (Palacios 6.8)
                        return this;
                    }
                    injectExternal(m.vector());
                    return inSlice ? continueSlice() : this;
                })
                .onMessage(TaskPriority.class, m -> {
                    cpu.cr8 = m.tpr() >>> 4;
                    return this;
                })
                .onMessage(Nmi.class, m -> {
                    nmi = true;
                    wakeIfHalted();
                    return this;
                })
                .onMessage(Init.class, m -> {
                    if (symcall != null) symcall.init = true;
                    else init();
                    return this;
                })
                .onMessage(Startup.class, m -> {
                    if (waitingForSipi) {
                        waitingForSipi = false;
                        // SDM Vol. 3A, 10.4.4.1: CS:IP = (vector << 8):0000, real mode.
                        Segmentation.loadRealModeSegment(cpu, CS, (m.vector() & 0xFF) << 8);
                        cpu.rip = 0;
                        cpu.halted = false;
                        supervisor.tell(new VmSupervisor.Woken(id));
                    }
                    return this;
                })
                .onMessage(Steal.class, m -> {
                    stolenUntil = Math.max(stolenUntil, m.untilCycles());
                    if (!inSlice && !cpu.halted && symcall == null) takeStolenTime();
                    return this;
                })
                .onMessage(Restore.class, m -> {
                    restore(m.saved());
                    return this;
                })
                .onMessage(SaveState.class, m -> {
                    m.replyTo().tell(save());
                    return this;
                })
                .onMessage(Inspect.class, m -> {
                    m.replyTo().tell(report());
                    return this;
                })
                .onSignal(PostStop.class, s -> {
                    if (symcall != null) {
                        // The VM's memory is gone: the flag goes with it.
                        symcall.replyTo.tell(SymCallError.of(SymCallError.Reason.VM_STOPPED, "the VM stopped during the call"));
                        symcall = null;
                    }
                    return this;
                })
                .build();
    }

    /** INIT (SDM Vol. 3A, 9.4): the core reset, waiting for a start-up IPI. */
    private void init() {
        cpu.reset();
        waitingForSipi = true;
        lapicVector = -1;
        extInt = false;
    }

    // =====================================================================================
    // SymCall (Palacios 6.6-6.8)
    // =====================================================================================

    private Behavior<Command> startSymCall(SymCall m) {
        SymCallRequest q = m.request();
        if (symcall != null) {
            SymCallError refused = SymCallError.of(SymCallError.Reason.ALREADY_ACTIVE, "vCPU " + id + " is running a SymCall");
            telemetry.symcall(refused, 0);
            m.replyTo().tell(refused);
            return this;
        }
        if (waitingForSipi || !q.flags().enabled()) {
            SymCallError refused = SymCallError.of(SymCallError.Reason.NOT_ENABLED,
                    waitingForSipi ? "vCPU " + id + " has not started" : "the guest has not enabled SymCalls on vCPU " + id);
            telemetry.symcall(refused, 0);
            m.replyTo().tell(refused);
            return this;
        }
        CpuContext saved = cpu.saveContext();
        String refused = cpu.enterNested(q.rip(), q.rsp(), q.cs(), q.gsBase(), q.fsBase());
        if (refused != null) {
            cpu.restoreContext(saved);
            SymCallError error = SymCallError.of(SymCallError.Reason.BAD_ENTRY, refused);
            telemetry.symcall(error, 0);
            m.replyTo().tell(error);
            return this;
        }
        cpu.exceptionExiting = true;
        cpu.gpr[RAX] = q.callNumber();
        long[] a = q.args();
        cpu.gpr[RBX] = a[0];
        cpu.gpr[RCX] = a[1];
        cpu.gpr[RDX] = a[2];
        cpu.gpr[RSI] = a[3];
        cpu.gpr[RDI] = a[4];
        symcall = new NestedCall(q, m.replyTo(), saved, cpu.virtualCycles(), pendingExit, exitStarted, settleAfterExit);
        pendingExit = null;
        settleAfterExit = false;
        q.flags().setActive(true);
        return runSymCall();
    }

    /** Runs the SymCall's guest code until it ends, exits to the VMM, or a stretch is done. */
    private Behavior<Command> runSymCall() {
        long stretchEnd = cpu.retired + SYMCALL_STRETCH;
        while (symcall != null && pendingExit == null && !held) {
            long left = symcall.request.budgetCycles() - (cpu.virtualCycles() - symcall.startCycles);
            if (left <= 0) return finishSymCall(budgetExceeded());
            if (cpu.retired >= stretchEnd) {
                getContext().getSelf().tell(new ContinueSymCall());
                return this;
            }
            long budget = Math.max(1, Math.min(left / cpu.cyclesPerInstruction, stretchEnd - cpu.retired));
            Exit e;
            try {
                e = cpu.run(budget);
            } catch (RuntimeException bug) {
                supervisor.tell(new VmSupervisor.VcpuFailed(id, "internal error in the CPU core during a SymCall: " + bug, dump()));
                return this;
            }
            switch (e) {
                case Exit.BudgetExhausted b -> { }
                case Exit.InterruptWindow w -> cpu.setInterruptWindowExiting(false);
                case Exit.Hypercall h when h.number() == symcall.request.returnHypercall() -> {
                    record(e);
                    telemetry.count(e);
                    // The entry into the guest and this exit back: one VM entry/exit pair.
                    cpu.chargeCycles(costs.vmExit());
                    long[] g = cpu.gpr;
                    return finishSymCall(new SymCallResult.Ok(g[RBX], g[RCX], g[RDX], g[RSI], g[RDI],
                            cpu.virtualCycles() - symcall.startCycles, System.nanoTime() - symcall.startNanos));
                }
                case Exit.Hypercall h when h.number() == symcall.request.errorHypercall() -> {
                    record(e);
                    telemetry.count(e);
                    cpu.chargeCycles(costs.vmExit());
                    return finishSymCall(new SymCallError(SymCallError.Reason.GUEST_ERROR, cpu.gpr[RBX],
                            "the guest's handler returned errno " + cpu.gpr[RBX]));
                }
                case Exit.ExceptionIntercepted x -> {
                    return finishSymCall(new SymCallError(SymCallError.Reason.GUEST_FAULT, x.vector(),
                            String.format("exception %d (error code %#x) at RIP %#x in the handler", x.vector(), x.errorCode(), x.rip())));
                }
                case Exit.TripleFault t -> {
                    return finishSymCall(new SymCallError(SymCallError.Reason.GUEST_FAULT, 8, "triple fault in the handler: " + t.reason()));
                }
                case Exit.Halt h -> {
                    // Nothing may wake it (no injection during a call): its time runs out.
                    record(e);
                    return finishSymCall(budgetExceeded());
                }
                default -> {
                    return sendExit(e);
                }
            }
        }
        return this;
    }

    private SymCallError budgetExceeded() {
        long budget = symcall.request.budgetCycles();
        long used = cpu.virtualCycles() - symcall.startCycles;
        if (used < budget) cpu.chargeCycles(budget - used);
        return SymCallError.of(SymCallError.Reason.BUDGET_EXCEEDED,
                String.format("call %d ran past its budget of %d cycles at RIP %#x", symcall.request.callNumber(), budget, cpu.rip));
    }

    /**
     * Ends the SymCall: the active flag cleared, the interrupted context restored exactly (on
     * every path: Palacios does not on its error path, 6.8), the caller answered, and the vCPU
     * back to what it was doing.
     */
    private Behavior<Command> finishSymCall(SymCallResult result) {
        symcall.request.flags().setActive(false);
        cpu.restoreContext(symcall.saved);
        pendingExit = symcall.interruptedExit;
        exitStarted = symcall.interruptedExitStarted;
        settleAfterExit = symcall.settleAfterInterruptedExit;
        NestedCall done = symcall;
        endSymCall(result);
        if (done.extIntVector >= 0) cpu.injectInterrupt(done.extIntVector);
        if (done.init) init();
        // Interrupts that came during the call wake the vCPU only now that it is halted again.
        if (nmi || lapicVector >= 0 || extInt) wakeIfHalted();
        return proceed();
    }

    private void endSymCall(SymCallResult result) {
        telemetry.symcall(result, cpu.virtualCycles() - symcall.startCycles);
        symcall.replyTo.tell(result);
        symcall = null;
    }

    /** Goes on with whatever the vCPU is doing: a SymCall or its slice. */
    private Behavior<Command> proceed() {
        return symcall != null ? runSymCall() : continueSlice();
    }

    /**
     * The power-on state (SDM Vol. 3A, 9.1.1): the core reset, the TSC back to zero, nothing
     * pending; application processors wait for a start-up IPI.
     */
    private void powerOn() {
        cpu.reset();
        cpu.tscOffset = -cpu.virtualCycles();
        inSlice = false;
        held = false;
        settleAfterExit = false;
        pendingExit = null;
        awaitingExtIntVector = false;
        waitingForSipi = id != 0;
        lapicVector = -1;
        extInt = false;
        nmi = false;
    }

    private long nanos() {
        return VirtualTime.cyclesToNanos(cpu.virtualCycles(), tscHz);
    }

    private Exit exitDone() {
        Exit e = pendingExit;
        pendingExit = null;
        telemetry.handled(e, System.nanoTime() - exitStarted);
        return e;
    }

    private void wakeIfHalted() {
        if (cpu.halted && !inSlice) supervisor.tell(new VmSupervisor.Woken(id));
    }

    /** Takes the interrupt the guest can accept now, or asks to be told when it can. */
    private void deliverInterrupts() {
        if (nmi) {
            nmi = false;
            cpu.chargeCycles(costs.deviceTrap());
            cpu.injectNmi();
        }
        if (cpu.hasPendingInterrupt()) return;
        boolean want = lapicVector >= 0 || extInt;
        if (!want) {
            cpu.setInterruptWindowExiting(false);
            return;
        }
        if (!cpu.interruptible()) {
            cpu.setInterruptWindowExiting(true);
            return;
        }
        cpu.setInterruptWindowExiting(false);
        if (lapicVector >= 0) {
            int v = lapicVector;
            lapicVector = -1; // until the local APIC reports what is deliverable next
            injectExternal(v);
            supervisor.tell(new VmSupervisor.InterruptTaken(id, v, nanos()));
        } else {
            awaitingExtIntVector = true;
            supervisor.tell(new VmSupervisor.AcknowledgeExtInt(id, getContext().getSelf(), nanos()));
        }
    }

    /**
     * An external interrupt for the guest: under a VMM the physical interrupt (or the device
     * model's event) exits to it and it injects the vector, which costs the guest a trap.
     */
    private void injectExternal(int vector) {
        cpu.chargeCycles(costs.deviceTrap());
        cpu.injectInterrupt(vector);
    }

    /** Noise that came while the guest was halted takes effect when it runs again. */
    private void takeStolenTime() {
        long behind = stolenUntil - cpu.virtualCycles();
        if (behind > 0) {
            cpu.chargeCycles(behind);
            stolenCycles += behind;
        }
    }

    /** After an exit's answer: on at once, or once the VM's thread settled (see {@link Settle}). */
    private Behavior<Command> resumeAfterExit() {
        if (!settleAfterExit) return proceed();
        settleAfterExit = false;
        ActorRef<Command> self = getContext().getSelf();
        VmDispatchers.whenIdle(vmDispatcher, () -> self.tell(new Continue()));
        return this;
    }

    private Behavior<Command> continueSlice() {
        while (symcall == null && inSlice && !held && pendingExit == null && !awaitingExtIntVector) {
            if (waitingForSipi) {
                idleUntilTarget();
                return endSlice(true);
            }
            deliverInterrupts();
            if (awaitingExtIntVector) return this;
            if (stolenUntil > cpu.virtualCycles() && !cpu.halted) takeStolenTime();
            long remaining = sliceTarget - cpu.virtualCycles();
            if (remaining <= 0) return endSlice(false);
            long budget = Math.max(1, remaining / cpu.cyclesPerInstruction);
            Exit e;
            try {
                e = cpu.run(budget);
            } catch (RuntimeException bug) {
                supervisor.tell(new VmSupervisor.VcpuFailed(id, "internal error in the CPU core: " + bug, dump()));
                inSlice = false;
                return this;
            }
            switch (e) {
                case Exit.BudgetExhausted b -> { }
                case Exit.InterruptWindow w -> cpu.setInterruptWindowExiting(false);
                case Exit.Halt h -> {
                    record(e);
                    telemetry.count(e);
                    // An interrupt that arrived while STI's shadow covered the HLT ends the halt at once.
                    if (nmi || ((lapicVector >= 0 || extInt) && (cpu.rflags & IF) != 0)) continue;
                    idleUntilTarget();
                    return endSlice(true);
                }
                case Exit.TripleFault t -> {
                    record(e);
                    inSlice = false;
                    supervisor.tell(new VmSupervisor.VcpuFailed(id, "triple fault: " + t.reason(), dump()));
                    return this;
                }
                case Exit.ExceptionIntercepted x -> throw new IllegalStateException("exceptions are intercepted only during a SymCall");
                default -> {
                    return sendExit(e);
                }
            }
        }
        return this;
    }

    /** An exit for the VMM: charged, recorded and sent to the supervisor; the vCPU waits for the answer. */
    private Behavior<Command> sendExit(Exit e) {
        record(e);
        telemetry.count(e);
        cpu.chargeCycles(cost(e));
        pendingExit = e;
        exitStarted = System.nanoTime();
        long[] regs = e instanceof Exit.Hypercall ? cpu.gpr.clone() : null;
        supervisor.tell(new VmSupervisor.ExitRequest(id, e, nanos(), regs, getContext().getSelf()));
        return this;
    }

    /** The virtual time an exit costs (the configured cost model), charged when the exit happens. */
    private long cost(Exit e) {
        return switch (e) {
            case Exit.PortIn p -> costs.portIo();
            case Exit.PortOut p -> costs.portIo();
            case Exit.MmioRead m -> costs.mmio();
            case Exit.MmioWrite m -> costs.mmio();
            case Exit.ShadowFault _, Exit.ShadowPageTableWrite _ -> costs.vmExit() + costs.shadowFault();
            case Exit.ShadowCr3Write _, Exit.ShadowInvlpg _, Exit.PagingFault _ -> costs.vmExit();
            default -> costs.otherExit();
        };
    }

    /** A halted or not-yet-started vCPU's time still passes: the TSC counts while it waits. */
    private void idleUntilTarget() {
        long behind = sliceTarget - cpu.virtualCycles();
        if (behind > 0) cpu.chargeCycles(behind);
    }

    private Behavior<Command> endSlice(boolean halted) {
        inSlice = false;
        idleSinceLastSlice = halted;
        boolean stuck = halted && !waitingForSipi && (cpu.rflags & IF) == 0 && lapicVector < 0 && !nmi;
        supervisor.tell(new VmSupervisor.SliceEnded(id, halted, stuck, waitingForSipi, cpu.virtualCycles()));
        return this;
    }

    private void record(Exit exit) {
        int slot = recentCount++ % recentExits.length;
        recentExits[slot] = exit;
        recentExitCycles[slot] = cpu.virtualCycles();
    }

    private String dump() {
        StringBuilder b = new StringBuilder();
        String[] names = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"};
        for (int r = 0; r < 16; r++) {
            b.append(String.format("%-3s %016x%s", names[r], cpu.gpr[r], r % 4 == 3 ? "\n" : "  "));
        }
        b.append(String.format("RIP %016x  RFLAGS %016x  CS %04x  SS %04x  CPL %d%n", cpu.rip, cpu.getRflags(),
                cpu.segSel[CS], cpu.segSel[SS], cpu.cpl));
        b.append(String.format("CR0 %016x  CR2 %016x  CR3 %016x  CR4 %016x  EFER %016x%n", cpu.cr0, cpu.cr2, cpu.cr3,
                cpu.cr4, cpu.efer));
        b.append("recent exits:\n");
        for (int k = Math.max(0, recentCount - recentExits.length); k < recentCount; k++) {
            int slot = k % recentExits.length;
            b.append(String.format("  t=%dns %s%n", VirtualTime.cyclesToNanos(recentExitCycles[slot], tscHz), recentExits[slot]));
        }
        return b.toString();
    }

    private VcpuReport report() {
        return new VcpuReport(id, cpu.retired, cpu.virtualCycles(), stolenCycles, telemetry.snapshot(), cpu.mmu.stats(),
                telemetry.symcalls(), dump());
    }
}
