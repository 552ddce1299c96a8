package org.symbiont.vmm;

import static org.symbiont.x86.Arch.*;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.MachineInfo;
import org.symbiont.devices.TimerQueue;
import org.symbiont.vmm.boot.MultibootLoader;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.mmu.NestedPager;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowPager;
import org.symbiont.x86.snapshot.CpuState;
import org.symbiont.x86.snapshot.MemoryImage;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;
import org.symbiont.x86.snapshot.SnapshotFormat;

/**
 * The root of one VM: builds the machine (memory, vCPUs, devices, the kernel loaded), schedules
 * the vCPUs, routes their exits, and reports how the VM ended.
 *
 * <p>Scheduling, deterministic mode: time advances in rounds. A round ends at the earlier of
 * one quantum from its start and the next timer deadline; each vCPU in turn runs until its
 * virtual clock reaches the round's end (a halted one just lets its clock advance). At the end
 * of a round the due timers fire, and the next round starts only once the VM's thread has
 * nothing left to process, so every interrupt those timers caused has reached its vCPU. When
 * every vCPU is halted, time jumps to the next timer. Everything runs on the VM's one thread,
 * so the same image, configuration and seed give the same execution, exit for exit.
 *
 * <p>A cluster node (created with a {@link NodePort}) runs like that, but never past the horizon
 * the cluster granted: there it reports and waits for {@link Advance}, which brings the frames
 * other nodes sent it, each delivered to its NIC by a timer at its arrival time.
 *
 * <p>Noise ({@code noise}, {@code preemption} in the configuration): at each event of a source
 * every vCPU loses the source's duration ({@link VcpuActor.Steal}); events are timers, so a
 * round ends at each.
 *
 * <p>Parallel mode: each vCPU runs on a thread of its own, in slices that may reach at most one
 * quantum past the VM's time, the clock of the slowest running vCPU; timers fire as that time
 * passes them. Halted vCPUs get no slices; when all are halted, time jumps to the next timer
 * once the VM's thread (devices and interrupt controllers) has settled. Not reproducible: the
 * vCPUs interleave as the host schedules them.
 *
 * <p>Exits: port and MMIO accesses go to device actors found on address buses (the local APIC's
 * page on a per-vCPU bus first); CPUID is answered from the CPU model and extension hooks; MSRs
 * the core does not hold go to the local APIC, extension hooks, the VMM's MSR model, or #GP;
 * hypercalls go to registered handlers (unknown: RAX = -1), which may answer later.
 */
public final class VmSupervisor extends AbstractBehavior<VmSupervisor.Command> {

    public sealed interface Command {}

    // ---- lifecycle ----
    public record Start() implements Command {}

    public record Pause() implements Command {}

    public record Resume() implements Command {}

    public record Stop(String why) implements Command {}

    /** A machine reset: devices and vCPUs to their power-on state, the kernel loaded again. */
    public record Reset() implements Command {}

    /** A snapshot of the running VM (reason {@link VmReport.Reason#RUNNING}, or PAUSED). */
    public record Inspect(ActorRef<VmReport> replyTo) implements Command {}

    /**
     * Pause at the first round boundary at or after virtual time {@code nanos} (the boundaries of
     * an uninterrupted run: pausing there changes nothing the guest sees); answered once paused.
     * A VM that ends first answers nothing: its report tells.
     */
    public record PauseAt(long nanos, ActorRef<Paused> replyTo) implements Command {}

    /** The VM is paused at a round boundary, at virtual time {@code virtualNanos}. */
    public record Paused(long virtualNanos) {}

    /**
     * Save the paused VM whole ({@link VmSnapshot}); taken once the round in progress, if any, has
     * ended. Refused (with the reason) when the VM is not paused or cannot be saved. With {@code
     * memoryDelta} (live migration's stop-and-copy) guest memory is saved as the pages that differ
     * from what {@link CopyDirtyPages} sent ({@link MemoryImage#DELTA_SECTION}).
     */
    public record TakeSnapshot(ActorRef<SnapshotTaken> replyTo, boolean memoryDelta) implements Command {
        public TakeSnapshot(ActorRef<SnapshotTaken> replyTo) {
            this(replyTo, false);
        }
    }

    /**
     * Live migration, sending side: the next at most {@code maxPages} pages of the current pass
     * over guest memory that differ from what was sent before (see {@link PreCopy}), found at the
     * next round boundary (at once when no round runs), so the guest runs on between batches.
     */
    public record CopyDirtyPages(int maxPages, ActorRef<DirtyPages> replyTo) implements Command {}

    /** Host page numbers and their contents (4 KiB each, in order); {@code passComplete}: the pass reached the end of memory. */
    public record DirtyPages(int pass, long[] pages, byte[] contents, boolean passComplete) {}

    /** Live migration, receiving side: pages of the incoming VM's memory, stored before its state arrives. */
    public record IncomingPages(long[] pages, byte[] contents, ActorRef<PagesStored> replyTo) implements Command {}

    public record PagesStored(int count) {}

    /** The incoming VM's state (memory as a delta over the pages stored): restored, then the VM runs. */
    public record CompleteIncoming(VmSnapshot state, ActorRef<IncomingStarted> replyTo) implements Command {}

    /** The incoming VM runs ({@code error} null), or why it could not be restored. */
    public record IncomingStarted(String error) {}

    /** A snapshot, or null and why none could be taken. */
    public record SnapshotTaken(VmSnapshot snapshot, String refused) {}

    /**
     * A cluster node's next window: {@code frames} arrive at their virtual times (ties in the
     * order given), then the VM runs until {@code horizonNanos}. A frame that would arrive before
     * the VM's present ends the VM with an error: reordering it would change the guest's past.
     */
    public record Advance(long horizonNanos, List<ArrivingFrame> frames) implements Command {}

    /** A frame for NIC {@code nic} arriving at virtual time {@code arrivalNanos}. */
    public record ArrivingFrame(String nic, long arrivalNanos, byte[] frame) {}

    // ---- from vCPUs ----
    /**
     * A slice ended at {@code cycles}: the vCPU halted (HLT, or waiting for a start-up IPI:
     * {@code parked}), is stuck (halted with interrupts disabled), or reached its target.
     */
    record SliceEnded(int vcpu, boolean halted, boolean stuck, boolean parked, long cycles) implements Command {}

    /** A local APIC posted something for vCPU {@code vcpu} to take (parallel mode wakes it). */
    record InterruptPosted(int vcpu) implements Command {}

    record Woken(int vcpu) implements Command {}

    record ExitRequest(int vcpu, Exit exit, long nanos, long[] gprs, ActorRef<VcpuActor.Command> replyTo) implements Command {}

    record InterruptTaken(int vcpu, int vector, long nanos) implements Command {}

    record AcknowledgeExtInt(int vcpu, ActorRef<VcpuActor.Command> replyTo, long nanos) implements Command {}

    record VcpuFailed(int vcpu, String reason, String state) implements Command {}

    /** A vCPU is in its power-on state after {@link VcpuActor.MachineReset}. */
    record VcpuReset(int vcpu) implements Command {}

    /** A vCPU's answer to {@link VcpuActor.SaveState}: its sections, or why it could not be saved. */
    record VcpuSaved(int vcpu, byte[] cpu, byte[] vcpuState, String refused) implements Command {}

    // ---- from device actors ----
    record IrqChanged(int gsi, boolean level, long nanos) implements Command {}

    /** A local APIC sent an interprocessor interrupt. */
    record IpiSent(org.symbiont.devices.apic.Ipi ipi) implements Command {}

    /** The I/O APIC sent an interrupt message. */
    record IoApicMessage(int destination, boolean logical, int deliveryMode, int vector, boolean levelTriggered) implements Command {}

    /** A local APIC's EOI of a level-triggered vector. */
    record LevelEoi(int vector) implements Command {}

    /** A PCI function's decoded port or MMIO ranges changed. */
    record RangesChanged(String device) implements Command {}

    /** A device (by name: models schedule from their constructors, before their actor exists) wants a timer. */
    record ScheduleTimer(String device, long id, long deadline) implements Command {}

    record CancelTimer(String device, long id) implements Command {}

    record MachineExit(String device, int status) implements Command {}

    record MachineReset(String device) implements Command {}

    record DeviceFailed(String device, Throwable cause) implements Command {}

    // ---- internal ----
    private record RoundBoundary() implements Command {}

    private record Collected(List<VcpuReport> reports) implements Command {}

    private record Snapshot(List<VcpuReport> reports, ActorRef<VmReport> replyTo) implements Command {}

    /** After a restore, once every device re-armed its timers: the timer queue in the saved order, then the VM may run. */
    private record FinishRestore(List<TimerQueue.Pending<VmEvent>> events) implements Command {}

    record DeviceStopped(String name) implements Command {}

    private final VmSpec spec;
    private final VmConfig config;
    private final ActorRef<VmReport> listener;
    private final String dispatcherId;
    private final DispatcherSelector dispatcher;
    private final PhysicalMemory memory;
    private final MachineInfo machine;
    private final long tscHz;
    private final Cpu[] cpus;
    private final List<ActorRef<VcpuActor.Command>> vcpus = new ArrayList<>();
    private final Platform platform;
    /** The VM's virtual paging (shadow or nested); it also sets the paging costs of every vCPU. */
    private final ActorRef<PagingActor.Command> paging;
    /** The nested table or the vCPUs' shadow pagers (see {@link PagingActor.Pagers}). */
    private final PagingActor.Pagers pagers;
    /** SwapBypass (symbiotic.swapbypass), or null. */
    private final SwapBypass swapBypass;
    private final TimerQueue<VmEvent> timers = new TimerQueue<>();
    private final TimerQueue.Handler<VmEvent> fire = this::fire;
    private final Map<String, Map<Long, org.symbiont.devices.VirtualTimer>> pendingTimers = new HashMap<>();
    private final MsrModel msrs;
    private final Map<String, Integer> deviceFailures = new HashMap<>();
    /** The configured faults, applied at their virtual times. */
    private final FaultInjector faults;
    /** The cluster this VM is a node of, or null (its time runs free). */
    private final NodePort node;

    // Scheduling.
    private final long quantumNanos;
    private final boolean parallel;
    private final boolean[] halted;
    private final boolean[] stuck;
    private final boolean[] parked;
    /** Parallel mode: each vCPU's virtual time at the end of its last slice, and whether it is in one. */
    private final long[] clock;
    private final boolean[] running;
    private boolean started, paused, stopping, idle, roundActive, settling;
    private int resetsPending;
    private long roundStart, roundEnd;
    /** A cluster node runs no further than this (the window granted); others without limit. */
    private long horizon;
    private boolean waitingForAdvance;
    private int sliceIndex;
    /** Where {@link PauseAt} asked to pause, and whom to tell; or none. */
    private long pauseAt = Long.MAX_VALUE;
    private ActorRef<Paused> pauseListener;
    /** A snapshot asked for while a round was still running, and the vCPU states collected for it. */
    private ActorRef<SnapshotTaken> snapshotRequester;
    private VcpuSaved[] savedVcpus;
    private boolean memoryDelta;
    /** A restored VM waits for {@link FinishRestore} before it may run (an incoming one first for its state). */
    private boolean restoring;
    /** Live migration: the sending side's copy of what was sent, and the page requests waiting for a round boundary. */
    private PreCopy preCopy;
    private final List<CopyDirtyPages> copyRequests = new ArrayList<>();
    /** Live migration: who waits for the incoming VM to run. */
    private ActorRef<IncomingStarted> incomingListener;

    // Ending.
    private VmReport.Reason endReason;
    private Integer guestStatus;
    private String endMessage;
    private boolean reported;
    /** Interrupt-line changes so far (on the VM's thread): an access that made one asks its vCPU to settle. */
    private long lineChanges;
    /** Host time, for telemetry only: the guest's time is virtual. */
    private long startedAt;
    private long collectors;
    /** Completed with the report, for extensions waiting on the VM's actors. */
    private final java.util.concurrent.CompletableFuture<Void> ended = new java.util.concurrent.CompletableFuture<>();

    public static Behavior<Command> create(VmSpec spec, String dispatcherId, NetworkLinks links, ActorRef<VmReport> listener) {
        return create(spec, dispatcherId, links, null, null, listener);
    }

    /** A node of a simulated cluster, from power-on. */
    public static Behavior<Command> create(VmSpec spec, String dispatcherId, NetworkLinks links, NodePort node,
                                           ActorRef<VmReport> listener) {
        return create(spec, dispatcherId, links, node, null, listener);
    }

    /**
     * The receiving side of a live migration: a machine built from {@code spec} that does not
     * power on but takes {@link IncomingPages} and then, with {@link CompleteIncoming}, the rest
     * of the migrating VM's state, and runs on from there.
     */
    public static Behavior<Command> createIncoming(VmSpec spec, String dispatcherId, ActorRef<VmReport> listener) {
        return setup(spec, listener, ctx -> new VmSupervisor(ctx, spec, dispatcherId, new NetworkLinks(), null, null, true, listener));
    }

    /**
     * A VM that is a node of a simulated cluster (see {@link NodePort}; null: a VM on its own),
     * started from power-on, or from {@code snapshot} (null: power-on) taken of a VM built from
     * the same configuration and kernel.
     */
    public static Behavior<Command> create(VmSpec spec, String dispatcherId, NetworkLinks links, NodePort node,
                                           VmSnapshot snapshot, ActorRef<VmReport> listener) {
        return setup(spec, listener, ctx -> {
            if (node != null && spec.config().mode() != VmConfig.ExecutionMode.DETERMINISTIC) {
                throw new org.symbiont.vmm.config.VmConfigException(spec.config().name()
                        + ": mode: a cluster node must run in deterministic mode (its time is synchronized with the others')");
            }
            return new VmSupervisor(ctx, spec, dispatcherId, links, node, snapshot, false, listener);
        });
    }

    private static Behavior<Command> setup(VmSpec spec, ActorRef<VmReport> listener,
                                           java.util.function.Function<ActorContext<Command>, VmSupervisor> build) {
        return Behaviors.setup(ctx -> {
            try {
                return build.apply(ctx);
            } catch (RuntimeException e) {
                // A device's parameters or the kernel did not fit: the VM ends before it starts.
                listener.tell(new VmReport(spec.config().name(), VmReport.Reason.CONFIG_ERROR, null,
                        e.getMessage(), List.of(), 0, 0));
                return Behaviors.stopped();
            }
        });
    }

    private VmSupervisor(ActorContext<Command> ctx, VmSpec spec, String dispatcherId, NetworkLinks links, NodePort node,
                         VmSnapshot snapshot, boolean incoming, ActorRef<VmReport> listener) {
        super(ctx);
        this.spec = spec;
        this.node = node;
        this.horizon = node == null ? Long.MAX_VALUE : 0;
        this.config = spec.config();
        this.listener = listener;
        this.dispatcherId = dispatcherId;
        this.dispatcher = DispatcherSelector.fromConfig(dispatcherId);
        this.tscHz = config.cpuModel().tscHz();
        this.quantumNanos = Math.max(1, VirtualTime.cyclesToNanos(config.quantum() * config.cyclesPerInstruction(), tscHz));
        int n = config.cpus();
        this.parallel = config.mode() == VmConfig.ExecutionMode.PARALLEL;
        this.halted = new boolean[n];
        this.stuck = new boolean[n];
        this.parked = new boolean[n];
        this.clock = new long[n];
        this.running = new boolean[n];
        List<Integer> apicIds = new ArrayList<>();
        for (int k = 0; k < n; k++) apicIds.add(k);
        this.machine = new MachineInfo(config.memoryBytes(), apicIds, tscHz);
        this.memory = PhysicalMemory.allocate(Platform.physicalSize(config.memoryBytes()), privateDiskBytes(config));
        this.msrs = new MsrModel(config.cpuModel().vendor().equals("AuthenticAMD"), config.memoryBytes());
        try {
            this.cpus = new Cpu[n];
            for (int k = 0; k < n; k++) {
                cpus[k] = new Cpu(k, memory, config.cpuModel());
                cpus[k].cyclesPerInstruction = config.cyclesPerInstruction();
                cpus[k].pauseCycles = config.costs().pause();
                cpus[k].cr8Exits = true; // the local APIC holds the task priority
            }
            for (int k = 0; k < n; k++) {
                // Parallel mode: a thread per vCPU; devices stay on the VM's thread with the supervisor.
                DispatcherSelector d = parallel ? VmDispatchers.registerOwnThread(ctx.getSystem(), dispatcherId + ".vcpu" + k) : dispatcher;
                vcpus.add(ctx.spawn(VcpuActor.create(k, cpus[k], ctx.getSelf(), tscHz, config.costs(), dispatcherId, k != 0),
                        "vcpu-" + k, d));
                halted[k] = parked[k] = k != 0;
            }
            this.platform = new Platform(ctx, config, services(ctx), dispatcher, vcpus, links, node);
            this.swapBypass = config.symbiotic().swapBypass() ? new SwapBypass(spec.extensions().swapGuest(), memory) : null;
            this.pagers = PagingActor.virtualize(config.paging(), config.costs(), List.of(cpus), memory);
            this.paging = ctx.spawn(PagingActor.create(pagers, List.of(cpus), swapBypass), "paging", dispatcher);
            spec.extensions().started(handle(ctx));
            this.faults = new FaultInjector(config, timers, tscHz, vcpus, platform, memory, () -> roundStart, this::scheduleNoise);
            if (config.faults().stream().anyMatch(f -> f instanceof org.symbiont.vmm.config.Fault.CorruptFrame)) {
                platform.filterReceivedFrames(faults::receivedFrame);
            }
            if (snapshot != null) {
                restore(snapshot);
            } else if (incoming) {
                restoring = true; // until its state arrives
            } else {
                for (VmConfig.NoiseSource s : config.noise()) scheduleNoise(s, firstNoiseEvent(s));
                faults.scheduleAll();
                powerOn();
            }
        } catch (RuntimeException e) {
            memory.close();
            throw e;
        }
    }

    /**
     * SwapBypass: the VMM-private memory the VM's memory-backed virtio-blk disks live in (each a
     * whole number of pages), so that shadow entries can map their pages; none otherwise.
     */
    private static long privateDiskBytes(VmConfig config) {
        if (!config.symbiotic().swapBypass()) return 0;
        long bytes = 0;
        for (VmConfig.DeviceSpec d : config.devices()) {
            if (!d.type().equals("virtio-blk") || !d.params().hasPath("size")) continue;
            long size = d.params().getBytes("size");
            if (size > 0 && size % PhysicalMemory.PAGE_SIZE == 0) bytes += size;
        }
        return bytes;
    }

    private VmHandle handle(ActorContext<Command> ctx) {
        return new VmHandle() {
            @Override public VmConfig config() { return config; }
            @Override public PhysicalMemory memory() { return memory; }
            @Override public boolean isRam(long gpa) { return platform.memoryMap.isAvailable(gpa & ~0xFFFL, 4096); }
            @Override public int vcpuCount() { return vcpus.size(); }
            @Override public ActorRef<VcpuActor.Command> vcpu(int index) { return vcpus.get(index); }
            @Override public long tscHz() { return tscHz; }
            @Override public org.apache.pekko.actor.typed.Scheduler scheduler() { return ctx.getSystem().scheduler(); }
            @Override public java.util.concurrent.CompletionStage<Void> whenEnded() { return ended; }
        };
    }

    private VmServices services(ActorContext<Command> ctx) {
        return new VmServices() {
            @Override public ActorRef<Command> supervisor() { return ctx.getSelf(); }
            @Override public PhysicalMemory memory() { return memory; }
            @Override public MachineInfo machine() { return machine; }
            @Override public long seed() { return config.seed(); }
            @Override public void lineChanged() { lineChanges++; }
            @Override public long lineChanges() { return lineChanges; }

            @Override
            public CharBackend charBackend(String backend) {
                return backend.equals("console") ? spec.console() : CharBackends.open(backend);
            }
        };
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Start.class, m -> {
                    if (!started) {
                        started = true;
                        startedAt = System.nanoTime();
                        schedule();
                    }
                    return this;
                })
                .onMessage(Pause.class, m -> {
                    paused = true;
                    return this;
                })
                .onMessage(Resume.class, m -> {
                    if (paused) {
                        paused = false;
                        schedule();
                    }
                    return this;
                })
                .onMessage(Advance.class, this::advance)
                .onMessage(PauseAt.class, m -> {
                    pauseAt = m.nanos();
                    pauseListener = m.replyTo();
                    if (!roundActive && !settling) pauseIfDue();
                    return this;
                })
                .onMessage(TakeSnapshot.class, this::takeSnapshot)
                .onMessage(CopyDirtyPages.class, m -> {
                    copyRequests.add(m);
                    // Parallel mode has no rounds: pages are compared while vCPUs run (the last pass is made paused).
                    if (parallel || betweenRounds()) copyPages();
                    return this;
                })
                .onMessage(IncomingPages.class, this::storeIncomingPages)
                .onMessage(CompleteIncoming.class, this::completeIncoming)
                .onMessage(VcpuSaved.class, this::vcpuSaved)
                .onMessage(FinishRestore.class, this::finishRestore)
                .onMessage(Stop.class, m -> end(VmReport.Reason.STOPPED, null, m.why()))
                .onMessage(Reset.class, m -> reset())
                .onMessage(Inspect.class, m -> {
                    collectReports(reports -> getContext().getSelf().tell(new Snapshot(reports, m.replyTo())));
                    return this;
                })
                .onMessage(Snapshot.class, m -> {
                    m.replyTo().tell(new VmReport(config.name(), paused ? VmReport.Reason.PAUSED : VmReport.Reason.RUNNING,
                            null, null, m.reports(), virtualNanos(m.reports()), wallNanos(), swapBypassStats(), faults.applied()));
                    return this;
                })
                .onMessage(SliceEnded.class, m -> {
                    if (resetsPending > 0) return this; // the round a reset abandoned
                    int k = m.vcpu();
                    halted[k] = m.halted();
                    stuck[k] = m.stuck();
                    parked[k] = m.parked();
                    if (parallel) {
                        running[k] = false;
                        clock[k] = VirtualTime.cyclesToNanos(m.cycles(), tscHz);
                        saveWhenQuiet();
                        schedule();
                    } else {
                        sliceIndex++;
                        runNextSlice();
                    }
                    return this;
                })
                .onMessage(Woken.class, m -> wake(m.vcpu()))
                .onMessage(InterruptPosted.class, m -> parallel ? wake(m.vcpu()) : this)
                .onMessage(RoundBoundary.class, m -> {
                    settling = false;
                    serveBetweenRounds();
                    schedule();
                    return this;
                })
                .onMessage(ExitRequest.class, this::route)
                .onMessage(InterruptTaken.class, m -> {
                    platform.interruptTaken(m.vcpu(), m.vector(), m.nanos());
                    return this;
                })
                .onMessage(AcknowledgeExtInt.class, m -> {
                    platform.acknowledgeExtInt(m.vcpu(), m.replyTo(), m.nanos());
                    return this;
                })
                .onMessage(VcpuFailed.class, m -> {
                    VmReport.Reason r = m.reason().startsWith("triple fault") ? VmReport.Reason.TRIPLE_FAULT : VmReport.Reason.VMM_ERROR;
                    return end(r, null, "vCPU " + m.vcpu() + ": " + m.reason() + "\n" + m.state());
                })
                .onMessage(IrqChanged.class, m -> {
                    faults.irqChanged(m.gsi(), m.level(), m.nanos());
                    return this;
                })
                .onMessage(IpiSent.class, m -> {
                    platform.deliverIpi(m.ipi(), roundStart);
                    return this;
                })
                .onMessage(IoApicMessage.class, m -> {
                    platform.deliverMessage(m.destination(), m.logical(), m.deliveryMode(), m.vector(), m.levelTriggered(), roundStart);
                    return this;
                })
                .onMessage(LevelEoi.class, m -> {
                    platform.levelEoi(m.vector(), roundStart);
                    return this;
                })
                .onMessage(RangesChanged.class, m -> {
                    Platform.Hosted h = platform.devices.get(m.device());
                    try {
                        platform.register(h);
                    } catch (org.symbiont.vmm.config.VmConfigException e) {
                        // The guest programmed a BAR over another device: that range stays unclaimed.
                        getContext().getLog().warn("{}: {}", config.name(), e.getMessage());
                    }
                    return this;
                })
                .onMessage(ScheduleTimer.class, m -> {
                    scheduleDeviceTimer(m.device(), m.id(), m.deadline());
                    return this;
                })
                .onMessage(CancelTimer.class, m -> {
                    var t = pendingTimers.getOrDefault(m.device(), Map.of()).remove(m.id());
                    if (t != null) t.cancel();
                    return this;
                })
                .onMessage(MachineExit.class, m -> end(VmReport.Reason.GUEST_EXIT, m.status(),
                        "the guest exited through " + m.device()))
                .onMessage(MachineReset.class, m -> reset())
                .onMessage(DeviceFailed.class, m -> {
                    int n = deviceFailures.merge(m.device(), 1, Integer::sum);
                    getContext().getLog().warn("device {} failed ({} so far): {}", m.device(), n,
                            m.cause().toString());
                    if (FaultInjector.stopsVm(m.cause())) {
                        return end(VmReport.Reason.VMM_ERROR, null, "device " + m.device()
                                + " crashed (an injected fault whose policy is stop): the VM stops");
                    }
                    return this;
                })
                .onMessage(DeviceStopped.class, m -> end(VmReport.Reason.VMM_ERROR, null,
                        "device " + m.name() + " failed repeatedly and was stopped"))
                .onMessage(VcpuReset.class, m -> {
                    if (--resetsPending == 0) restart();
                    return this;
                })
                .onMessage(Collected.class, m -> finish(m.reports()))
                .onSignal(Terminated.class, s -> this)
                .onSignal(PostStop.class, s -> {
                    if (!reported) {
                        // The supervisor itself failed (the exception is in the log): this VM ends, nothing else does.
                        report(VmReport.Reason.VMM_ERROR, null, "the VM's supervisor failed: see the log", List.of(), 0);
                    }
                    return this;
                })
                .build();
    }

    /**
     * What happens between power-on (or a reset) and the kernel's first instruction: firmware sets
     * the platform up, the loader puts the kernel and modules in RAM and the BSP at its entry.
     */
    private void powerOn() {
        platform.powerOn(memory);
        MultibootLoader.start(cpus[0], MultibootLoader.load(spec.kernel(), spec.kernelName(), config.kernel().append(),
                spec.modules(), platform.memoryMap, memory));
    }

    // =====================================================================================
    // Scheduling
    // =====================================================================================

    private Behavior<Command> wake(int k) {
        if (resetsPending > 0 || !halted[k]) return this;
        halted[k] = false;
        stuck[k] = false;
        parked[k] = false;
        if (parallel || idle) {
            idle = false;
            schedule();
        }
        return this;
    }

    private void schedule() {
        if (!started || paused || stopping || resetsPending > 0 || waitingForAdvance || restoring) return;
        if (parallel) advanceParallel();
        else if (!roundActive && !settling) startRound();
    }

    private void startRound() {
        if (pauseIfDue()) return;
        boolean anyRunnable = false;
        for (boolean h : halted) anyRunnable |= !h;
        long next = timers.nextDeadline();
        if (roundStart >= horizon) {
            waitingForAdvance = true;
            node.reached(roundStart, anyRunnable ? roundStart : next);
            return;
        }
        if (anyRunnable) {
            roundEnd = Math.min(roundStart + quantumNanos, Math.max(next, roundStart + 1));
        } else {
            if (next == Long.MAX_VALUE && node == null) {
                // Nothing can happen until something from outside wakes a vCPU.
                idle = true;
                return;
            }
            roundEnd = Math.max(next, roundStart + 1);
        }
        roundEnd = Math.min(roundEnd, horizon);
        roundActive = true;
        sliceIndex = 0;
        runNextSlice();
    }

    private void runNextSlice() {
        if (stopping) return;
        if (sliceIndex < vcpus.size()) {
            vcpus.get(sliceIndex).tell(new VcpuActor.RunSlice(VirtualTime.nanosToCycles(roundEnd, tscHz), 0));
            return;
        }
        roundActive = false;
        roundStart = roundEnd;
        timers.fireDue(roundStart, fire);
        if (allStuck()) {
            end(VmReport.Reason.HALTED, null, "every vCPU is halted with interrupts disabled");
            return;
        }
        settleThen(new RoundBoundary());
    }

    /** A cluster node's next window: its frames become timers at their arrival times, then it runs on. */
    private Behavior<Command> advance(Advance m) {
        if (!waitingForAdvance || stopping) return this;
        for (ArrivingFrame f : m.frames()) {
            if (f.arrivalNanos() < roundStart) {
                return end(VmReport.Reason.VMM_ERROR, null, "a frame for " + f.nic() + " would arrive at " + f.arrivalNanos()
                        + " ns of virtual time, in this node's past (it is at " + roundStart
                        + " ns): the cluster's time synchronization let it fall behind");
            }
            timers.schedule(f.arrivalNanos(), new VmEvent.FrameArrival(f.nic(), f.frame()));
        }
        waitingForAdvance = false;
        horizon = Math.max(horizon, m.horizonNanos());
        // Frames arriving right now go to their NICs first, and the round starts once their interrupts are in.
        if (timers.fireDue(roundStart, fire) > 0) settleThen(new RoundBoundary());
        else schedule();
        return this;
    }

    /** The first event of a noise source: one period in when synchronized, else at a phase drawn from the seed. */
    private long firstNoiseEvent(VmConfig.NoiseSource s) {
        if (s.synchronizedPhase()) return s.periodNanos();
        return new java.util.SplittableRandom(config.seed() ^ s.label().hashCode() * 0x9E37_79B9_7F4A_7C15L).nextLong(s.periodNanos());
    }

    /** At {@code at} every vCPU loses the source's duration; the next event follows one period later. */
    private void scheduleNoise(VmConfig.NoiseSource s, long at) {
        timers.schedule(at, new VmEvent.NoiseEvent(s));
    }

    private void scheduleDeviceTimer(String device, long id, long deadline) {
        var t = timers.schedule(deadline, new VmEvent.DeviceTimer(device, id));
        pendingTimers.computeIfAbsent(device, k -> new HashMap<>()).put(id, t);
    }

    /** An event of the timer queue, due at {@code deadline}. */
    private void fire(long deadline, VmEvent event) {
        switch (event) {
            case VmEvent.DeviceTimer t -> {
                pendingTimers.get(t.device()).remove(t.id());
                platform.byName(t.device()).actor().tell(new DeviceActor.FireTimer(t.id(), deadline));
            }
            case VmEvent.NoiseEvent n -> {
                long until = VirtualTime.nanosToCycles(deadline + n.source().durationNanos(), tscHz);
                for (ActorRef<VcpuActor.Command> v : vcpus) v.tell(new VcpuActor.Steal(until));
                scheduleNoise(n.source(), deadline + n.source().periodNanos());
            }
            case VmEvent.FrameArrival f -> platform.receiveFrame(f.nic(), f.frame(), deadline);
            default -> faults.fire(event, deadline);
        }
    }

    /** Pauses the VM if {@link PauseAt}'s time has come (at a round boundary), telling whoever asked. */
    private boolean pauseIfDue() {
        if (roundStart < pauseAt) return false;
        paused = true;
        pauseAt = Long.MAX_VALUE;
        pauseListener.tell(new Paused(roundStart));
        pauseListener = null;
        return true;
    }

    /** Once the VM's thread has processed everything pending (the effects of timers that fired), {@code next}. */
    private void settleThen(Command next) {
        settling = true;
        VmDispatchers.whenIdle(dispatcherId, () -> getContext().getSelf().tell(next));
    }

    /**
     * Parallel mode: the VM's time is the clock of the slowest vCPU that is not halted; timers
     * up to it fire; every idle runnable vCPU gets a slice to at most one quantum beyond it.
     */
    private void advanceParallel() {
        if (settling || pauseIfDue()) return;
        long slowest = Long.MAX_VALUE;
        for (int k = 0; k < clock.length; k++) if (!halted[k]) slowest = Math.min(slowest, clock[k]);
        if (slowest == Long.MAX_VALUE) {
            if (allStuck()) {
                end(VmReport.Reason.HALTED, null, "every vCPU is halted with interrupts disabled");
                return;
            }
            long next = timers.nextDeadline();
            if (next == Long.MAX_VALUE) {
                idle = true;
                return;
            }
            // Every vCPU waits: time jumps to the next timer, and only once its effects have
            // settled (an interrupt it raised wakes a vCPU) does time move on.
            roundStart = Math.max(roundStart, next);
            timers.fireDue(roundStart, fire);
            settleThen(new RoundBoundary());
            return;
        }
        roundStart = Math.max(roundStart, slowest);
        timers.fireDue(roundStart, fire);
        if (pauseIfDue()) return;
        long limit = Math.min(roundStart + quantumNanos, Math.max(timers.nextDeadline(), roundStart + 1));
        for (int k = 0; k < vcpus.size(); k++) {
            if (!running[k] && !halted[k] && clock[k] < limit) {
                running[k] = true;
                vcpus.get(k).tell(new VcpuActor.RunSlice(VirtualTime.nanosToCycles(limit, tscHz),
                        VirtualTime.nanosToCycles(roundStart, tscHz)));
            }
        }
    }

    /** Whether nothing can ever run again: every vCPU halted with interrupts off or parked waiting for a start-up IPI. */
    private boolean allStuck() {
        for (int k = 0; k < stuck.length; k++) {
            if (!stuck[k] && !parked[k]) return false;
        }
        return true;
    }

    // =====================================================================================
    // Snapshots
    // =====================================================================================

    private Behavior<Command> takeSnapshot(TakeSnapshot m) {
        String refused = node != null ? "a cluster node is saved with its cluster, not on its own"
                : stopping ? "the VM is ending"
                : !paused ? "the VM is not paused: pause it first"
                : snapshotRequester != null ? "a snapshot is already being taken"
                : m.memoryDelta() && preCopy == null ? "no pages were copied: a delta of memory has nothing to be relative to" : null;
        if (refused != null) {
            m.replyTo().tell(new SnapshotTaken(null, config.name() + ": " + refused));
            return this;
        }
        snapshotRequester = m.replyTo();
        memoryDelta = m.memoryDelta();
        saveWhenQuiet();
        return this;
    }

    /**
     * A snapshot waits for a moment with nothing in flight: the round in progress (or, in parallel
     * mode, every vCPU's slice) ended, then the VM's thread settled (what a power-on or the last
     * round sent the devices is in); the VM stays paused meanwhile.
     */
    private void saveWhenQuiet() {
        if (snapshotRequester != null && savedVcpus == null && betweenRounds()) settleThen(new RoundBoundary());
    }

    /** No round runs or settles, no vCPU runs a slice, no reset is under way: nothing is in flight. */
    private boolean betweenRounds() {
        if (roundActive || settling || resetsPending > 0) return false;
        for (boolean r : running) if (r) return false;
        return true;
    }

    /** What waits for a moment with nothing in flight: live migration's page requests, a snapshot. */
    private void serveBetweenRounds() {
        copyPages();
        if (snapshotRequester != null && savedVcpus == null && betweenRounds()) saveVcpus();
    }

    /** Between rounds, nothing in flight: each vCPU saves its own state (on its own thread in parallel mode). */
    private void saveVcpus() {
        savedVcpus = new VcpuSaved[vcpus.size()];
        for (ActorRef<VcpuActor.Command> v : vcpus) v.tell(new VcpuActor.SaveState(getContext().getSelf()));
    }

    private Behavior<Command> vcpuSaved(VcpuSaved m) {
        if (savedVcpus == null) return this;
        savedVcpus[m.vcpu()] = m;
        for (VcpuSaved v : savedVcpus) if (v == null) return this;
        ActorRef<SnapshotTaken> requester = snapshotRequester;
        VcpuSaved[] states = savedVcpus;
        snapshotRequester = null;
        savedVcpus = null;
        try {
            requester.tell(new SnapshotTaken(snapshot(states), null));
        } catch (RuntimeException | SnapshotRefused e) {
            requester.tell(new SnapshotTaken(null, config.name() + ": " + e.getMessage()));
        }
        return this;
    }

    /** Why a snapshot could not be taken (a part of the VM that cannot be saved). */
    private static final class SnapshotRefused extends Exception {
        SnapshotRefused(String message) {
            super(message);
        }
    }

    /** The whole VM, between rounds: what it was built from, the supervisor, vCPUs, devices, memory. */
    private VmSnapshot snapshot(VcpuSaved[] states) throws SnapshotRefused {
        List<SnapshotFormat.Section> sections = new ArrayList<>();
        sections.add(new SnapshotFormat.Section(VmSnapshot.CONFIG, VmSnapshot.encodeMachine(VmSnapshot.machineOf(spec))));
        sections.add(new SnapshotFormat.Section(VmSnapshot.SUPERVISOR, saveSupervisor()));
        for (VcpuSaved v : states) {
            if (v.refused() != null) throw new SnapshotRefused(v.refused());
            sections.add(new SnapshotFormat.Section(CpuState.sectionName(v.vcpu()), v.cpu()));
            sections.add(new SnapshotFormat.Section(VcpuActor.Saved.sectionName(v.vcpu()), v.vcpuState()));
        }
        for (Platform.Hosted h : platform.all()) {
            try {
                sections.add(new SnapshotFormat.Section(DeviceState.sectionName(h.model()), DeviceState.save(h.model())));
            } catch (UnsupportedOperationException e) {
                throw new SnapshotRefused(e.getMessage());
            }
        }
        if (memoryDelta) {
            sections.add(new SnapshotFormat.Section(MemoryImage.DELTA_SECTION, MemoryImage.captureDelta(memory, preCopy::changed)));
        } else {
            // Guest memory in as many sections as its pages need (a section is one Java array): "memory", "memory.1", ...
            List<byte[]> parts = MemoryImage.captureParts(memory, SnapshotFormat.MAX_SECTION_BYTES);
            for (int k = 0; k < parts.size(); k++) sections.add(new SnapshotFormat.Section(memoryPart(k), parts.get(k)));
        }
        if (pagers.nested() != null) sections.add(new SnapshotFormat.Section(NestedPager.SECTION, pagers.nested().saveState()));
        if (pagers.shadows() != null) {
            for (int k = 0; k < cpus.length; k++) {
                sections.add(new SnapshotFormat.Section(ShadowPager.sectionName(k), pagers.shadows()[k].saveState()));
            }
        }
        spec.extensions().states().forEach((name, hook) -> sections.add(new SnapshotFormat.Section(VmSnapshot.EXTENSION + name, hook.save())));
        return new VmSnapshot(sections);
    }

    /** What the VM's extensions keep (the symbiotic interfaces' registrations): the same extensions as when it was saved. */
    private void restoreExtensions(VmSnapshot snapshot) throws SnapshotException {
        var states = spec.extensions().states();
        for (SnapshotFormat.Section s : snapshot.sections()) {
            if (s.name().startsWith(VmSnapshot.EXTENSION) && !states.containsKey(s.name().substring(VmSnapshot.EXTENSION.length()))) {
                throw new SnapshotException("the snapshot holds the state of extension '" + s.name().substring(VmSnapshot.EXTENSION.length())
                        + "', which this VM does not have");
            }
        }
        for (var e : states.entrySet()) e.getValue().restore(snapshot.require(VmSnapshot.EXTENSION + e.getKey()));
    }

    /** Guest memory from a snapshot: whole (in one or more parts), or a delta over the pages an incoming migration stored. */
    private void restoreMemory(VmSnapshot snapshot) throws SnapshotException {
        byte[] delta = snapshot.section(MemoryImage.DELTA_SECTION);
        if (delta != null) {
            MemoryImage.restore(MemoryImage.DELTA_SECTION, delta, memory, true);
            return;
        }
        MemoryImage.restore(MemoryImage.SECTION, snapshot.require(MemoryImage.SECTION), memory, false);
        for (int k = 1; snapshot.section(memoryPart(k)) != null; k++) MemoryImage.restore(memoryPart(k), snapshot.section(memoryPart(k)), memory, true);
    }

    /** The section of part {@code k} of guest memory. */
    private static String memoryPart(int k) {
        return k == 0 ? MemoryImage.SECTION : MemoryImage.SECTION + "." + k;
    }

    /** Between rounds: answers the waiting page requests of a live migration. */
    private void copyPages() {
        if (copyRequests.isEmpty()) return;
        if (preCopy == null) preCopy = new PreCopy(memory);
        for (CopyDirtyPages r : copyRequests) {
            r.replyTo().tell(preCopy.next(r.maxPages()));
        }
        copyRequests.clear();
    }

    private Behavior<Command> storeIncomingPages(IncomingPages m) {
        if (!restoring || incomingListener != null) return this;
        var host = memory.hostSegment();
        long hostPages = host.byteSize() / PreCopy.PAGE;
        int stored = 0;
        for (int k = 0; k < m.pages().length && (k + 1) * PreCopy.PAGE <= m.contents().length; k++) {
            long page = m.pages()[k];
            if (page < 0 || page >= hostPages) continue; // not this machine's memory: the state's checks will refuse it
            java.lang.foreign.MemorySegment.copy(m.contents(), k * PreCopy.PAGE, host, java.lang.foreign.ValueLayout.JAVA_BYTE,
                    page * PreCopy.PAGE, PreCopy.PAGE);
            stored++;
        }
        m.replyTo().tell(new PagesStored(stored));
        return this;
    }

    private Behavior<Command> completeIncoming(CompleteIncoming m) {
        if (!restoring || incomingListener != null) {
            m.replyTo().tell(new IncomingStarted(config.name() + " is not waiting for an incoming VM"));
            return this;
        }
        try {
            restore(m.state());
        } catch (org.symbiont.vmm.config.VmConfigException e) {
            m.replyTo().tell(new IncomingStarted(e.getMessage()));
            return end(VmReport.Reason.CONFIG_ERROR, null, e.getMessage());
        }
        incomingListener = m.replyTo();
        return this;
    }

    /** Event kinds in a saved timer queue. */
    private static final int EVENT_DEVICE_TIMER = 0, EVENT_NOISE = 1, EVENT_FAULT = 2, EVENT_LINE_LEVEL = 3,
            EVENT_LINE_PULSE = 4, EVENT_FRAME = 5;

    /**
     * The supervisor's section: virtual time first, then the vCPUs' scheduling state, the VMM's
     * MSRs, device failures so far, each device's clock, the fault injector, and the pending
     * timer events in firing order (a device's timer by device and deadline: the device re-arms
     * it when restored).
     */
    private byte[] saveSupervisor() {
        SectionWriter out = new SectionWriter();
        out.i64(roundStart).i32(vcpus.size());
        for (int k = 0; k < vcpus.size(); k++) out.bool(halted[k]).bool(stuck[k]).bool(parked[k]).i64(clock[k]);
        out.bool(idle);
        msrs.saveState(out);
        out.i32(deviceFailures.size());
        deviceFailures.forEach((name, n) -> out.string(name).i32(n));
        List<Platform.Hosted> hosted = platform.all();
        out.i32(hosted.size());
        for (Platform.Hosted h : hosted) out.string(h.name()).i64(h.context().clock());
        faults.saveState(out);
        List<TimerQueue.Pending<VmEvent>> pending = timers.pending();
        out.i32(pending.size());
        for (TimerQueue.Pending<VmEvent> p : pending) {
            out.i64(p.deadline());
            switch (p.event()) {
                case VmEvent.DeviceTimer t -> out.u8(EVENT_DEVICE_TIMER).string(t.device());
                case VmEvent.NoiseEvent n -> out.u8(EVENT_NOISE).i32(noiseIndex(n.source()));
                case VmEvent.FaultDue f -> out.u8(EVENT_FAULT).i32(f.index());
                case VmEvent.LineLevel l -> out.u8(EVENT_LINE_LEVEL).i32(l.line()).bool(l.level());
                case VmEvent.LinePulse l -> out.u8(EVENT_LINE_PULSE).i32(l.line());
                case VmEvent.FrameArrival f -> out.u8(EVENT_FRAME).string(f.nic()).i32(f.frame().length).bytes(f.frame(), 0, f.frame().length);
            }
        }
        return out.toByteArray();
    }

    /** A noise source by position: the configured ones first, then those noise faults start (by fault index). */
    private int noiseIndex(VmConfig.NoiseSource source) {
        int configured = config.noise().indexOf(source);
        if (configured >= 0) return configured;
        for (int k = 0; k < config.faults().size(); k++) {
            if (config.faults().get(k) instanceof org.symbiont.vmm.config.Fault.Noise f && f.source().equals(source)) {
                return config.noise().size() + k;
            }
        }
        throw new IllegalStateException("noise source " + source + " is neither configured nor started by a fault");
    }

    private VmConfig.NoiseSource noiseSource(SectionReader in) throws SnapshotException {
        int at = in.position();
        int index = in.i32In(0, config.noise().size() + config.faults().size() - 1, "noise source");
        if (index < config.noise().size()) return config.noise().get(index);
        if (config.faults().get(index - config.noise().size()) instanceof org.symbiont.vmm.config.Fault.Noise f) return f.source();
        throw in.malformed(at, "noise source", "is " + index + ", which names no noise source");
    }

    /**
     * Puts a snapshot's state into this freshly built machine: memory, the nested table or the shadow pagers, each vCPU's core, the
     * supervisor's own state with the devices' clocks, then each device (whose interrupt-line
     * levels are recorded, not sent: the controllers are restored too). The devices re-arm their timers by messages; once
     * those are in, {@link FinishRestore} orders the timer queue as it was and lets the VM run.
     */
    private void restore(VmSnapshot snapshot) {
        try {
            VmSnapshot.checkMachine(snapshot.require(VmSnapshot.CONFIG), VmSnapshot.machineOf(spec));
            // Memory before the cores: their TLBs and decoded blocks are checked against it.
            restoreMemory(snapshot);
            // Every pager's state before any core's: a core's TLB is checked against the VM-wide page-table protection.
            if (pagers.nested() != null) pagers.nested().restoreState(snapshot.require(NestedPager.SECTION));
            if (pagers.shadows() != null) {
                for (int k = 0; k < cpus.length; k++) pagers.shadows()[k].restoreState(snapshot.require(ShadowPager.sectionName(k)));
            }
            for (int k = 0; k < cpus.length; k++) {
                String name = CpuState.sectionName(k);
                CpuState.decode(name, snapshot.require(name)).restore(cpus[k]);
            }
            // What each vCPU actor holds beyond its core reaches it before anything to run does.
            for (int k = 0; k < cpus.length; k++) {
                String name = VcpuActor.Saved.sectionName(k);
                vcpus.get(k).tell(new VcpuActor.Restore(VcpuActor.Saved.decode(name, snapshot.require(name))));
            }
            // The devices' clocks first: a device's state is checked against its present.
            List<TimerQueue.Pending<VmEvent>> events = restoreSupervisor(snapshot.require(VmSnapshot.SUPERVISOR));
            for (Platform.Hosted h : platform.all()) {
                h.context().restoring = true;
                DeviceState.restore(h.model(), snapshot.require(DeviceState.sectionName(h.model())));
                h.context().restoring = false;
                h.observer().restored(h.model());
            }
            restoreExtensions(snapshot);
            restoring = true;
            getContext().getSelf().tell(new FinishRestore(events));
        } catch (SnapshotException e) {
            throw new org.symbiont.vmm.config.VmConfigException(config.name() + ": cannot restore the snapshot: " + e.getMessage());
        }
    }

    /** Reads what {@link #saveSupervisor} wrote; returns the saved timer events (devices' by deadline, ids unknown). */
    private List<TimerQueue.Pending<VmEvent>> restoreSupervisor(byte[] body) throws SnapshotException {
        SectionReader in = new SectionReader(VmSnapshot.SUPERVISOR, body);
        roundStart = in.i64("virtual time");
        if (roundStart < 0) throw new SnapshotException("section 'vm': virtual time is negative (" + roundStart + ")");
        in.i32In(vcpus.size(), vcpus.size(), "vCPU count");
        for (int k = 0; k < vcpus.size(); k++) {
            halted[k] = in.bool("vCPU halted");
            stuck[k] = in.bool("vCPU stuck");
            parked[k] = in.bool("vCPU parked");
            clock[k] = in.i64("vCPU clock");
        }
        idle = in.bool("idle");
        msrs.restoreState(in);
        int failures = in.i32In(0, platform.all().size(), "device failure count");
        for (int k = 0; k < failures; k++) deviceFailures.put(in.string("failed device"), in.i32In(0, 1 << 20, "failures"));
        List<Platform.Hosted> hosted = platform.all();
        in.i32In(hosted.size(), hosted.size(), "device count");
        for (Platform.Hosted h : hosted) {
            int at = in.position();
            String name = in.string("device name");
            if (!name.equals(h.name())) throw in.malformed(at, "device name", "is '" + name + "', expected '" + h.name() + "'");
            h.context().restoreClock(in.i64("device clock"));
        }
        faults.restoreState(in);
        int count = in.i32In(0, 1 << 24, "timer count");
        List<TimerQueue.Pending<VmEvent>> events = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            long deadline = in.i64("timer deadline");
            int at = in.position();
            VmEvent e = switch (in.u8("timer kind")) {
                case EVENT_DEVICE_TIMER -> {
                    int nameAt = in.position();
                    String device = in.string("timer device");
                    if (hosted.stream().noneMatch(h -> h.name().equals(device))) {
                        throw in.malformed(nameAt, "timer device", "is '" + device + "', which this VM does not have");
                    }
                    yield new VmEvent.DeviceTimer(device, -1);
                }
                case EVENT_NOISE -> new VmEvent.NoiseEvent(noiseSource(in));
                case EVENT_FAULT -> new VmEvent.FaultDue(in.i32In(0, config.faults().size() - 1, "fault index"));
                case EVENT_LINE_LEVEL -> new VmEvent.LineLevel(in.i32In(0, org.symbiont.vmm.config.Fault.MAX_LINE, "line"),
                        in.bool("line level"));
                case EVENT_LINE_PULSE -> new VmEvent.LinePulse(in.i32In(0, org.symbiont.vmm.config.Fault.MAX_LINE, "line"));
                case EVENT_FRAME -> {
                    String nic = in.string("frame NIC");
                    byte[] frame = new byte[in.i32In(0, 65_536, "frame length")];
                    in.bytes(frame, 0, frame.length, "frame");
                    yield new VmEvent.FrameArrival(nic, frame);
                }
                default -> throw in.malformed(at, "timer kind", "is not one of 0 to 5");
            };
            events.add(new TimerQueue.Pending<>(deadline, e));
        }
        in.end();
        return events;
    }

    /**
     * The devices have re-armed their timers (each with a new id): the queue is rebuilt in the
     * saved order, each saved device timer matched to the re-armed timer of that device with
     * that deadline, so events due at the same time fire in the same order as before the save.
     */
    private Behavior<Command> finishRestore(FinishRestore m) {
        Map<String, Map<Long, java.util.ArrayDeque<Long>>> rearmed = new HashMap<>();
        for (TimerQueue.Pending<VmEvent> p : timers.pending()) {
            VmEvent.DeviceTimer t = (VmEvent.DeviceTimer) p.event(); // nothing else is scheduled before this point
            rearmed.computeIfAbsent(t.device(), d -> new HashMap<>()).computeIfAbsent(p.deadline(), d -> new java.util.ArrayDeque<>())
                    .add(t.id());
        }
        timers.clear();
        pendingTimers.clear();
        for (TimerQueue.Pending<VmEvent> p : m.events()) {
            if (p.event() instanceof VmEvent.DeviceTimer t) {
                var ids = rearmed.getOrDefault(t.device(), Map.of()).get(p.deadline());
                if (ids == null || ids.isEmpty()) {
                    return end(VmReport.Reason.CONFIG_ERROR, null, config.name() + ": cannot restore the snapshot: it lists a timer of device "
                            + t.device() + " at " + p.deadline() + " ns that the restored device did not re-arm");
                }
                scheduleDeviceTimer(t.device(), ids.poll(), p.deadline());
            } else {
                timers.schedule(p.deadline(), p.event());
            }
        }
        for (var device : rearmed.entrySet()) {
            for (var deadline : device.getValue().entrySet()) {
                if (!deadline.getValue().isEmpty()) {
                    return end(VmReport.Reason.CONFIG_ERROR, null, config.name() + ": cannot restore the snapshot: the restored device "
                            + device.getKey() + " re-armed a timer at " + deadline.getKey() + " ns that the snapshot does not list");
                }
            }
        }
        restoring = false;
        if (incomingListener != null) incomingListener.tell(new IncomingStarted(null));
        schedule();
        return this;
    }

    // =====================================================================================
    // Exits
    // =====================================================================================

    private Behavior<Command> route(ExitRequest r) {
        ActorRef<VcpuActor.Command> reply = r.replyTo();
        switch (r.exit()) {
            case Exit.PortIn p -> {
                var d = platform.ports.find(p.port());
                if (d == null) reply.tell(new VcpuActor.ExitDone(-1L));
                else d.actor().tell(new DeviceActor.PortRead(p.port(), p.size(), r.nanos(), reply));
            }
            case Exit.PortOut p -> {
                var d = platform.ports.find(p.port());
                if (d == null) reply.tell(new VcpuActor.ExitDone(0));
                else d.actor().tell(new DeviceActor.PortWrite(p.port(), p.size(), p.value(), r.nanos(), reply));
            }
            case Exit.MmioRead m -> {
                var d = platform.mmioTarget(r.vcpu(), m.address());
                if (d == null) reply.tell(new VcpuActor.ExitDone(-1L));
                else d.actor().tell(new DeviceActor.MmioRead(m.address(), m.size(), r.nanos(), reply));
            }
            case Exit.MmioWrite m -> {
                var d = platform.mmioTarget(r.vcpu(), m.address());
                if (d == null) reply.tell(new VcpuActor.ExitDone(0));
                else d.actor().tell(new DeviceActor.MmioWrite(m.address(), m.size(), m.value(), r.nanos(), reply));
            }
            case Exit.Cpuid q -> {
                int[] a = cpuid(r.vcpu(), q.leaf(), q.subleaf());
                reply.tell(new VcpuActor.CpuidDone(a[0], a[1], a[2], a[3]));
            }
            case Exit.Rdmsr m -> {
                var apic = platform.msrTarget(r.vcpu(), m.msr());
                Extensions.MsrHook hook = spec.extensions().msr(m.msr());
                if (apic != null) apic.actor().tell(new DeviceActor.MsrRead(m.msr(), r.nanos(), reply));
                else if (hook != null) reply.tell(readMsr(hook, r.vcpu()));
                else reply.tell(msrs.handles(m.msr()) ? new VcpuActor.ExitDone(msrs.read(m.msr())) : new VcpuActor.MsrRefused());
            }
            case Exit.Wrmsr m -> {
                var apic = platform.msrTarget(r.vcpu(), m.msr());
                Extensions.MsrHook hook = spec.extensions().msr(m.msr());
                if (apic != null) {
                    apic.actor().tell(new DeviceActor.MsrWrite(m.msr(), m.value(), r.nanos(), reply));
                } else if (hook != null) {
                    reply.tell(writeMsr(hook, r.vcpu(), m.value()));
                } else if (msrs.handles(m.msr())) {
                    msrs.write(m.msr(), m.value());
                    reply.tell(new VcpuActor.ExitDone(0));
                } else {
                    reply.tell(new VcpuActor.MsrRefused());
                }
            }
            case Exit.Hypercall h -> {
                long[] gprs = r.gprs();
                Extensions.HypercallHandler handler = spec.extensions().hypercall(h.number());
                java.util.concurrent.CompletionStage<?> pending = null;
                if (handler == null) gprs[RAX] = -1L;
                else pending = handler.handle(r.vcpu(), gprs);
                if (pending == null) {
                    reply.tell(new VcpuActor.HypercallDone(gprs));
                } else {
                    // The handler answers later (it asked the guest first): the vCPU waits for it.
                    ActorRef<Command> self = getContext().getSelf();
                    pending.whenComplete((v, failure) -> {
                        if (failure == null) reply.tell(new VcpuActor.HypercallDone(gprs));
                        else self.tell(new VcpuFailed(r.vcpu(), "hypercall " + h.number() + " handler failed: " + failure, ""));
                    });
                }
            }
            case Exit.Cr8Write w -> platform.writeCr8(r.vcpu(), w.priority(), reply, r.nanos());
            case Exit.ShadowFault _, Exit.ShadowCr3Write _, Exit.ShadowInvlpg _, Exit.ShadowPageTableWrite _ -> {
                return routePaging(r, PagingMode.SHADOW);
            }
            case Exit.PagingFault _ -> {
                return routePaging(r, PagingMode.NESTED);
            }
            default -> {
                return end(VmReport.Reason.VMM_ERROR, null, "vCPU " + r.vcpu() + ": unexpected exit " + r.exit());
            }
        }
        return this;
    }

    private static VcpuActor.Command readMsr(Extensions.MsrHook hook, int vcpu) {
        try {
            return new VcpuActor.ExitDone(hook.read(vcpu));
        } catch (org.symbiont.devices.MsrDevice.MsrAccessRefused e) {
            return new VcpuActor.MsrRefused();
        }
    }

    private static VcpuActor.Command writeMsr(Extensions.MsrHook hook, int vcpu, long value) {
        try {
            hook.write(vcpu, value);
            return new VcpuActor.ExitDone(0);
        } catch (org.symbiont.devices.MsrDevice.MsrAccessRefused e) {
            return new VcpuActor.MsrRefused();
        }
    }

    /** A paging exit goes to the paging component; one the VM's paging method cannot raise is a VMM bug. */
    private Behavior<Command> routePaging(ExitRequest r, PagingMode raisedBy) {
        if (config.paging().mode() != raisedBy) {
            return end(VmReport.Reason.VMM_ERROR, null, "vCPU " + r.vcpu() + ": paging exit " + r.exit() + " under "
                    + config.paging().mode().name().toLowerCase(java.util.Locale.ROOT) + " paging");
        }
        paging.tell(new PagingActor.Handle(r.vcpu(), r.exit(), r.replyTo()));
        return this;
    }

    private static final int X2APIC = 1 << 21, TSC_DEADLINE = 1 << 24, HYPERVISOR = 1 << 31, APIC = 1 << 9;
    /** CPUID leaf 0BH level types. */
    private static final int LEVEL_SMT = 1, LEVEL_CORE = 2;

    /** CPUID: extension hooks first, then the hypervisor leaves, then the CPU model. */
    private int[] cpuid(int vcpu, int leaf, int subleaf) {
        int[] o = spec.extensions().cpuidOverride(vcpu, leaf, subleaf);
        if (o != null) return o;
        if (leaf == 0x4000_0000) {
            // Hypervisor vendor leaf: the highest hypervisor leaf and "SymbiontVMM\0".
            return new int[] {0x4000_0010, 0x626D_7953, 0x746E_6F69, 0x004D_4D56};
        }
        if (leaf == 0x4000_0010) {
            // Timing leaf (the convention VMware set and KVM and others follow): the TSC and the
            // local APIC timer's bus clock in kHz, so a guest need not calibrate against the PIT.
            return new int[] {(int) (tscHz / 1000), (int) (org.symbiont.devices.apic.LocalApic.DEFAULT_TIMER_HZ / 1000), 0, 0};
        }
        if (leaf == 0xB) return x2apicTopology(vcpu, subleaf);
        int[] a = config.cpuModel().cpuid(leaf, subleaf, vcpu, (cpus[vcpu].cr4 & CR4_OSXSAVE) != 0).clone();
        if (leaf == 1) {
            // The platform's local APIC does x2APIC and the TSC-deadline timer; and this is a hypervisor.
            a[2] |= X2APIC | TSC_DEADLINE | HYPERVISOR;
            // A local APIC disabled in IA32_APIC_BASE makes the processor one without an APIC,
            // down to the CPUID feature flag (SDM Vol. 3A 11.4.3).
            if (platform.localApicDisabled(vcpu)) a[3] &= ~APIC;
        }
        return a;
    }

    /**
     * CPUID leaf 0BH, the x2APIC topology (SDM Vol. 2A, CPUID; Vol. 3A 11.12.8): one thread per
     * core, every vCPU a core of one package; EDX is the x2APIC ID (the vCPU's index) at every
     * sub-leaf. Sub-leaves past the core level are invalid (level type 0).
     */
    private int[] x2apicTopology(int vcpu, int subleaf) {
        int n = cpus.length;
        return switch (subleaf) {
            case 0 -> new int[] {0, 1, LEVEL_SMT << 8, vcpu};
            case 1 -> new int[] {32 - Integer.numberOfLeadingZeros(n - 1), n, LEVEL_CORE << 8 | 1, vcpu};
            default -> new int[] {0, 0, subleaf & 0xFF, vcpu};
        };
    }

    // =====================================================================================
    // Reset and end
    // =====================================================================================

    /**
     * A machine reset: the round in progress is abandoned, devices and vCPUs return to their
     * power-on state, and once every vCPU has confirmed, the kernel is loaded again and the
     * machine starts as it did at creation (QEMU reloads a -kernel image on reset too).
     */
    private Behavior<Command> reset() {
        if (stopping || resetsPending > 0) return this;
        resetsPending = vcpus.size();
        roundActive = false;
        idle = false;
        java.util.Arrays.fill(running, false);
        for (Platform.Hosted d : platform.all()) d.call(Device::reset, roundStart);
        for (var v : vcpus) v.tell(new VcpuActor.MachineReset());
        return this;
    }

    /** After a reset: every vCPU is idle in its power-on state, so firmware and loader may set the machine up. */
    private void restart() {
        for (int k = 0; k < cpus.length; k++) {
            halted[k] = parked[k] = k != 0;
            stuck[k] = false;
        }
        powerOn();
        // The first round starts once what power-on sent the devices is in.
        settleThen(new RoundBoundary());
    }

    private Behavior<Command> end(VmReport.Reason reason, Integer status, String message) {
        if (stopping) return this;
        stopping = true;
        if (incomingListener != null && restoring) incomingListener.tell(new IncomingStarted(message));
        endReason = reason;
        guestStatus = status;
        endMessage = message;
        collectReports(reports -> getContext().getSelf().tell(new Collected(reports)));
        return this;
    }

    private void collectReports(java.util.function.Consumer<List<VcpuReport>> whenAll) {
        getContext().spawn(VcpuReportCollector.create(vcpus, whenAll), "reports-" + collectors++);
    }

    private long wallNanos() {
        return startedAt == 0 ? 0 : System.nanoTime() - startedAt;
    }

    private long virtualNanos(List<VcpuReport> reports) {
        long nanos = 0;
        for (VcpuReport r : reports) nanos = Math.max(nanos, VirtualTime.cyclesToNanos(r.virtualCycles(), tscHz));
        return nanos;
    }

    private Behavior<Command> finish(List<VcpuReport> reports) {
        report(endReason, guestStatus, endMessage, reports, virtualNanos(reports));
        return Behaviors.stopped();
    }

    private SwapBypassStats swapBypassStats() {
        return swapBypass == null ? null : swapBypass.stats();
    }

    /** Sends the one report of this VM and frees its memory. */
    private void report(VmReport.Reason reason, Integer status, String message, List<VcpuReport> vcpuReports, long nanos) {
        reported = true;
        spec.console().flush();
        for (Cpu c : cpus) c.detach();
        if (preCopy != null) preCopy.close();
        memory.close();
        listener.tell(new VmReport(config.name(), reason, status, message, vcpuReports, nanos, wallNanos(), swapBypassStats(),
                faults.applied()));
        ended.complete(null);
    }
}
