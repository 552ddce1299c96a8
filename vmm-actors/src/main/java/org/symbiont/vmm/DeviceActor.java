package org.symbiont.vmm;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;
import java.util.SplittableRandom;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.MachineInfo;
import org.symbiont.devices.MmioDevice;
import org.symbiont.devices.MsrDevice;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.VirtualTimer;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Hosts one device model. Every call into the model happens here, with the virtual time of the
 * request that caused it; the model's view of the machine ({@link DeviceContext}) turns timers,
 * interrupt-line changes, exits and resets into messages to the VM supervisor. The model is
 * created outside the actor, so when the actor is restarted after a failure the device keeps its
 * state (Pekko supervision, restart strategy).
 */
public final class DeviceActor {
    private DeviceActor() {}

    public sealed interface Command {}

    /** An IN from the guest; answered to {@code replyTo}. */
    public record PortRead(int port, int size, long nanos, ActorRef<VcpuActor.Command> replyTo) implements Command {}

    public record PortWrite(int port, int size, long value, long nanos, ActorRef<VcpuActor.Command> replyTo) implements Command {}

    public record MmioRead(long address, int size, long nanos, ActorRef<VcpuActor.Command> replyTo) implements Command {}

    public record MmioWrite(long address, int size, long value, long nanos, ActorRef<VcpuActor.Command> replyTo) implements Command {}

    public record MsrRead(int msr, long nanos, ActorRef<VcpuActor.Command> replyTo) implements Command {}

    public record MsrWrite(int msr, long value, long nanos, ActorRef<VcpuActor.Command> replyTo) implements Command {}

    /** A timer the model scheduled fires at virtual time {@code nanos}. */
    public record FireTimer(long id, long nanos) implements Command {}

    /**
     * A VMM-side operation on the model (interrupt inputs, acknowledge cycles, wiring): runs with
     * the model, at virtual time {@code nanos}.
     */
    public record Call(Consumer<Device> action, long nanos) implements Command {}

    /**
     * A VMM-side operation on the model whose result answers a vCPU waiting on it (an interrupt
     * acknowledge, a CR8 write): answered after the observer ran, as accesses are.
     */
    public record Request(java.util.function.Function<Device, VcpuActor.Command> action, long nanos,
                          ActorRef<VcpuActor.Command> replyTo) implements Command {}

    /**
     * Runs after every call into the model, in the actor: how the VMM observes outputs a model
     * exposes as state (the local APIC's deliverable vector, the PIC's INTR pin).
     */
    public interface Observer {
        void afterCall(Device device);

        /**
         * The model was restored from a snapshot: whatever the observer remembers of its outputs
         * is taken from it, without telling anyone (their receivers are restored too).
         */
        default void restored(Device device) { }

        Observer NONE = device -> { };
    }

    /** The machine as a hosted model sees it. */
    static final class HostedContext implements DeviceContext {
        private final String name;
        final VmServices vm;
        private final RandomGenerator random;
        private long now;
        private long nextTimerId;
        /** While the model is restored: the levels it drives are recorded, not sent (the controllers are restored too). */
        boolean restoring;
        private final Map<Long, Runnable> timers = new HashMap<>();
        private final Map<Integer, Boolean> lineLevels = new HashMap<>();

        /**
         * What an access from the guest costs beyond the access itself: the VMM's trap
         * ({@code cost-model.device-trap}), or nothing for a device passed through to the guest.
         */
        final long trapCycles;

        HostedContext(String name, VmServices vm, long trapCycles) {
            this.name = name;
            this.vm = vm;
            this.trapCycles = trapCycles;
            this.random = new SplittableRandom(vm.seed() ^ name.hashCode() * 0x9E37_79B9_7F4A_7C15L);
        }

        @Override public long nanos() { return now; }
        @Override public PhysicalMemory memory() { return vm.memory(); }
        @Override public MachineInfo machine() { return vm.machine(); }
        @Override public CharBackend charBackend(String spec) { return vm.charBackend(spec); }
        @Override public RandomGenerator random() { return random; }
        /** Set when the current access asked the machine to exit or reset: the vCPU must not run on. */
        boolean machineStopRequested;

        @Override
        public void exitMachine(int status) {
            machineStopRequested = true;
            vm.supervisor().tell(new VmSupervisor.MachineExit(name, status));
        }

        @Override
        public void resetMachine() {
            machineStopRequested = true;
            vm.supervisor().tell(new VmSupervisor.MachineReset(name));
        }

        @Override
        public VirtualTimer schedule(long atNanos, Runnable action) {
            long id = nextTimerId++;
            timers.put(id, action);
            vm.supervisor().tell(new VmSupervisor.ScheduleTimer(name, id, atNanos));
            return new VirtualTimer() {
                @Override
                public void cancel() {
                    if (timers.remove(id) != null) vm.supervisor().tell(new VmSupervisor.CancelTimer(name, id));
                }

                @Override
                public long deadline() {
                    return atNanos;
                }
            };
        }

        @Override
        public InterruptLine interruptLine(int gsi) {
            return asserted -> {
                Boolean old = lineLevels.put(gsi, asserted);
                if (!restoring && (old == null || old != asserted)) {
                    vm.lineChanged();
                    vm.supervisor().tell(new VmSupervisor.IrqChanged(gsi, asserted, now));
                }
            };
        }

        /** The device's clock: the latest virtual time a request reached it at (saved with a VM snapshot). */
        long clock() {
            return now;
        }

        void restoreClock(long nanos) {
            now = nanos;
        }

        void fire(long id) {
            Runnable r = timers.remove(id);
            if (r != null) r.run();
        }
    }

    /**
     * The actor for {@code model}, created with {@code context} (which the model was built with).
     * A failure inside the model still answers the waiting vCPU (reads see all ones, as from
     * absent hardware), is reported to the VM supervisor, and restarts the actor with the same
     * model, state included, up to five times an hour; a sixth failure stops the actor, and its VM
     * ends with a report.
     */
    static Behavior<Command> create(Device model, HostedContext context, Observer observer) {
        Behavior<Command> b = Behaviors.setup(ctx -> {
            return Behaviors.receive(Command.class)
                    .onMessage(PortRead.class, m -> reply(m.replyTo(), m.nanos(), context, model, observer,
                            () -> new VcpuActor.ExitDone(((PortIoDevice) model).ioRead(m.port(), m.size()))))
                    .onMessage(PortWrite.class, m -> reply(m.replyTo(), m.nanos(), context, model, observer, () -> {
                        ((PortIoDevice) model).ioWrite(m.port(), m.size(), m.value());
                        return new VcpuActor.ExitDone(0);
                    }))
                    .onMessage(MmioRead.class, m -> reply(m.replyTo(), m.nanos(), context, model, observer,
                            () -> new VcpuActor.ExitDone(((MmioDevice) model).mmioRead(m.address(), m.size()))))
                    .onMessage(MmioWrite.class, m -> reply(m.replyTo(), m.nanos(), context, model, observer, () -> {
                        ((MmioDevice) model).mmioWrite(m.address(), m.size(), m.value());
                        return new VcpuActor.ExitDone(0);
                    }))
                    .onMessage(MsrRead.class, m -> reply(m.replyTo(), m.nanos(), context, model, observer, () -> {
                        try {
                            return new VcpuActor.ExitDone(((MsrDevice) model).rdmsr(m.msr()));
                        } catch (MsrDevice.MsrAccessRefused e) {
                            return new VcpuActor.MsrRefused();
                        }
                    }))
                    .onMessage(MsrWrite.class, m -> reply(m.replyTo(), m.nanos(), context, model, observer, () -> {
                        try {
                            ((MsrDevice) model).wrmsr(m.msr(), m.value());
                            return new VcpuActor.ExitDone(0);
                        } catch (MsrDevice.MsrAccessRefused e) {
                            return new VcpuActor.MsrRefused();
                        }
                    }))
                    .onMessage(FireTimer.class, m -> reply(null, m.nanos(), context, model, observer, () -> {
                        context.fire(m.id());
                        return null;
                    }))
                    .onMessage(Call.class, m -> reply(null, m.nanos(), context, model, observer, () -> {
                        m.action().accept(model);
                        return null;
                    }))
                    .onMessage(Request.class, m -> reply(m.replyTo(), m.nanos(), context, model, observer,
                            () -> m.action().apply(model)))
                    .build();
        });
        return Behaviors.supervise(b).onFailure(SupervisorStrategy.restart().withLimit(5, java.time.Duration.ofHours(1)).withLoggingEnabled(false));
    }

    /**
     * Runs one request against the model at virtual time {@code nanos}, lets the observer see the
     * new state, then answers {@code replyTo} (if any). Observers run first so that a vCPU learns
     * of an interrupt its own access made pending before it resumes.
     */
    private static Behavior<Command> reply(ActorRef<VcpuActor.Command> replyTo, long nanos, HostedContext context,
                                           Device model, Observer observer,
                                           java.util.function.Supplier<VcpuActor.Command> access) {
        context.now = Math.max(context.now, nanos); // vCPUs of a round reach a device in turn: its clock never runs back
        context.machineStopRequested = false;
        long linesBefore = context.vm.lineChanges();
        VcpuActor.Command answer;
        try {
            answer = access.get();
            observer.afterCall(model);
        } catch (RuntimeException e) {
            if (replyTo != null) replyTo.tell(new VcpuActor.ExitDone(-1L));
            context.vm.supervisor().tell(new VmSupervisor.DeviceFailed(model.name(), e));
            throw e;
        }
        if (replyTo != null) {
            if (context.machineStopRequested) replyTo.tell(new VcpuActor.Hold());
            else if (context.vm.lineChanges() != linesBefore) replyTo.tell(new VcpuActor.Settle());
            if (answer instanceof VcpuActor.ExitDone done && context.trapCycles > 0) {
                answer = new VcpuActor.ExitDone(done.value(), context.trapCycles);
            }
            replyTo.tell(answer);
        }
        return Behaviors.same();
    }
}

