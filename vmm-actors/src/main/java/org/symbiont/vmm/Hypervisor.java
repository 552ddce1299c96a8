package org.symbiont.vmm;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The root that runs many VMs in one JVM. Each VM gets its own dispatcher (its own thread) and
 * its own guest memory; a VM that fails or ends is removed without touching the others.
 */
public final class Hypervisor extends AbstractBehavior<Hypervisor.Command> {

    public sealed interface Command {}

    /**
     * Creates and starts a VM, from power-on or from {@code snapshot} (null: power-on, see
     * {@link VmSnapshot}); {@code whenDone} receives its report when it ends.
     */
    public record CreateVm(VmSpec spec, VmSnapshot snapshot, ActorRef<VmReport> whenDone) implements Command {
        public CreateVm(VmSpec spec, ActorRef<VmReport> whenDone) {
            this(spec, null, whenDone);
        }
    }

    public record StopVm(String name, String why) implements Command {}

    public record PauseVm(String name) implements Command {}

    public record ResumeVm(String name) implements Command {}

    public record ResetVm(String name) implements Command {}

    /** Pauses a VM at its first round boundary at or after virtual time {@code nanos} (see {@link VmSupervisor.PauseAt}). */
    public record PauseVmAt(String name, long nanos, ActorRef<VmSupervisor.Paused> replyTo) implements Command {}

    /** Saves a paused VM whole (see {@link VmSupervisor.TakeSnapshot}); no reply if no such VM runs. */
    public record SnapshotVm(String name, ActorRef<VmSupervisor.SnapshotTaken> replyTo) implements Command {}

    /** A snapshot of a running VM's counters; no reply if no such VM runs. */
    public record InspectVm(String name, ActorRef<VmReport> replyTo) implements Command {}

    /** The names of the running VMs. */
    public record ListVms(ActorRef<List<String>> replyTo) implements Command {}

    private record Ended(VmReport report) implements Command {}

    private record RunningVm(ActorRef<VmSupervisor.Command> supervisor, ActorRef<VmReport> whenDone) {}

    private final Map<String, RunningVm> vms = new HashMap<>();
    private final NetworkLinks links = new NetworkLinks();
    private final ActorRef<VmReport> reports;
    private long sequence;

    public static Behavior<Command> create() {
        return Behaviors.setup(Hypervisor::new);
    }

    private Hypervisor(ActorContext<Command> ctx) {
        super(ctx);
        // One adapter for every VM's report: a VM's name identifies it.
        this.reports = ctx.messageAdapter(VmReport.class, Ended::new);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(CreateVm.class, this::createVm)
                .onMessage(StopVm.class, m -> forward(m.name(), new VmSupervisor.Stop(m.why())))
                .onMessage(PauseVm.class, m -> forward(m.name(), new VmSupervisor.Pause()))
                .onMessage(ResumeVm.class, m -> forward(m.name(), new VmSupervisor.Resume()))
                .onMessage(ResetVm.class, m -> forward(m.name(), new VmSupervisor.Reset()))
                .onMessage(PauseVmAt.class, m -> forward(m.name(), new VmSupervisor.PauseAt(m.nanos(), m.replyTo())))
                .onMessage(SnapshotVm.class, m -> forward(m.name(), new VmSupervisor.TakeSnapshot(m.replyTo())))
                .onMessage(InspectVm.class, m -> forward(m.name(), new VmSupervisor.Inspect(m.replyTo())))
                .onMessage(ListVms.class, m -> {
                    m.replyTo().tell(List.copyOf(vms.keySet()));
                    return this;
                })
                .onMessage(Ended.class, m -> {
                    RunningVm vm = vms.remove(m.report().vm());
                    if (vm != null) vm.whenDone().tell(m.report());
                    return this;
                })

                .build();
    }

    private Behavior<Command> createVm(CreateVm m) {
        String name = m.spec().config().name();
        if (vms.containsKey(name)) {
            m.whenDone().tell(new VmReport(name, VmReport.Reason.CONFIG_ERROR, null,
                    "a VM named " + name + " is already running", List.of(), 0, 0));
            return this;
        }
        String id = "symbiont.vm." + name + "." + sequence++;
        DispatcherSelector dispatcher = VmDispatchers.register(getContext().getSystem(), id);
        ActorRef<VmSupervisor.Command> vm = getContext().spawn(VmSupervisor.create(m.spec(), id, links, null, m.snapshot(), reports),
                "vm-" + name + "-" + (sequence - 1), dispatcher);
        vms.put(name, new RunningVm(vm, m.whenDone()));
        vm.tell(new VmSupervisor.Start());
        return this;
    }

    private Behavior<Command> forward(String name, VmSupervisor.Command c) {
        RunningVm vm = vms.get(name);
        if (vm != null) vm.supervisor().tell(c);
        return this;
    }
}
