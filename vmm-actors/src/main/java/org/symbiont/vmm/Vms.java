package org.symbiont.vmm;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** Runs VMs to completion in one actor system: what {@code symbiont run} and the demo use. */
public final class Vms {
    private Vms() {}

    /**
     * Creates every VM at once, waits until all have ended (or {@code timeout} passed: those still
     * running are stopped), and returns their reports in the order given.
     */
    public static List<VmReport> runAll(List<VmSpec> specs, Duration timeout) {
        ActorSystem<Hypervisor.Command> system = actorSystem();
        try {
            List<CompletableFuture<VmReport>> reports = new ArrayList<>();
            for (VmSpec spec : specs) reports.add(create(system, spec, null));
            long deadline = System.nanoTime() + timeout.toNanos();
            List<VmReport> out = new ArrayList<>();
            for (int k = 0; k < reports.size(); k++) {
                CompletableFuture<VmReport> f = reports.get(k);
                try {
                    long left = Math.max(1, deadline - System.nanoTime());
                    out.add(f.get(left, TimeUnit.NANOSECONDS));
                } catch (TimeoutException e) {
                    system.tell(new Hypervisor.StopVm(specs.get(k).config().name(), "time limit of " + timeout + " reached"));
                    out.add(join(f));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for VMs", e);
                } catch (ExecutionException e) {
                    throw new IllegalStateException(e.getCause());
                }
            }
            return out;
        } finally {
            terminate(system);
        }
    }

    /**
     * A VM started in an actor system of its own, for callers that work with it while it runs
     * (benchmarks calling into the guest); {@link #close()} stops it if it still runs.
     */
    public static final class Running implements AutoCloseable {
        private final ActorSystem<Hypervisor.Command> system;
        private final String name;
        private final CompletableFuture<VmReport> report;

        private Running(ActorSystem<Hypervisor.Command> system, VmSpec spec, VmSnapshot snapshot) {
            this.system = system;
            this.name = spec.config().name();
            this.report = create(system, spec, snapshot);
        }

        /** The VM's report, once it ended. */
        public CompletableFuture<VmReport> report() {
            return report;
        }

        /**
         * Pauses the VM at its first round boundary at or after virtual time {@code nanos} and
         * returns the virtual time it paused at; {@link IllegalStateException} if it ended first.
         */
        public long pauseAt(long nanos, Duration timeout) {
            CompletableFuture<VmSupervisor.Paused> paused = AskPattern.<Hypervisor.Command, VmSupervisor.Paused>ask(system,
                    r -> new Hypervisor.PauseVmAt(name, nanos, r), askable(timeout), system.scheduler()).toCompletableFuture();
            CompletableFuture.anyOf(paused, report).join();
            if (!paused.isDone()) throw new IllegalStateException(name + " ended before " + nanos + " ns of virtual time: " + report.join().message());
            return paused.join().virtualNanos();
        }

        /** Saves the paused VM whole; {@link IllegalStateException} naming why when it cannot be. */
        public VmSnapshot snapshot(Duration timeout) {
            VmSupervisor.SnapshotTaken taken = AskPattern.<Hypervisor.Command, VmSupervisor.SnapshotTaken>ask(system,
                    r -> new Hypervisor.SnapshotVm(name, r), askable(timeout), system.scheduler()).toCompletableFuture().join();
            if (taken.snapshot() == null) throw new IllegalStateException(taken.refused());
            return taken.snapshot();
        }

        /** Pekko's scheduler takes delays up to about 248 days: longer means no limit. */
        private static Duration askable(Duration timeout) {
            Duration max = Duration.ofDays(200);
            return timeout.compareTo(max) > 0 ? max : timeout;
        }

        public void resume() {
            system.tell(new Hypervisor.ResumeVm(name));
        }

        /** Stops the VM (if it still runs), waits for its report and ends the actor system. */
        @Override
        public void close() {
            if (!report.isDone()) system.tell(new Hypervisor.StopVm(name, "its user is done with it"));
            join(report);
            terminate(system);
        }
    }

    /**
     * Runs one VM, from power-on or from {@code snapshot} (null: power-on), until it ends or
     * {@code timeout} passed (then it is stopped), and returns its report.
     */
    public static VmReport run(VmSpec spec, VmSnapshot snapshot, Duration timeout) {
        try (Running vm = new Running(actorSystem(), spec, snapshot)) {
            try {
                return vm.report().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                vm.system.tell(new Hypervisor.StopVm(vm.name, "time limit of " + timeout + " reached"));
                return join(vm.report());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + vm.name, e);
            } catch (ExecutionException e) {
                throw new IllegalStateException(e.getCause());
            }
        }
    }

    /** Starts one VM; the caller closes it. */
    public static Running start(VmSpec spec) {
        return new Running(actorSystem(), spec, null);
    }

    /** Starts one VM from {@code snapshot}, taken of a VM built from the same configuration and kernel; the caller closes it. */
    public static Running restore(VmSpec spec, VmSnapshot snapshot) {
        return new Running(actorSystem(), spec, snapshot);
    }

    private static ActorSystem<Hypervisor.Command> actorSystem() {
        // Logging initialized before the actor system's threads log, so nothing is queued and replayed.
        org.slf4j.LoggerFactory.getILoggerFactory();
        return ActorSystem.create(Hypervisor.create(), "symbiont",
                ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.log-dead-letters = off\n"
                        + "pekko.coordinated-shutdown.exit-jvm = off\npekko.jvm-shutdown-hooks = off")
                        .withFallback(ConfigFactory.load()));
    }

    /** Numbers the report sinks: VMs given under one name must not collide before the hypervisor refuses the second. */
    private static final java.util.concurrent.atomic.AtomicLong reportSinks = new java.util.concurrent.atomic.AtomicLong();

    private static CompletableFuture<VmReport> create(ActorSystem<Hypervisor.Command> system, VmSpec spec, VmSnapshot snapshot) {
        CompletableFuture<VmReport> f = new CompletableFuture<>();
        ActorRef<VmReport> sink = system.systemActorOf(Behaviors.<VmReport>receiveMessage(r -> {
            f.complete(r);
            return Behaviors.stopped();
        }), "report-" + spec.config().name() + "-" + reportSinks.incrementAndGet(), org.apache.pekko.actor.typed.Props.empty());
        system.tell(new Hypervisor.CreateVm(spec, snapshot, sink));
        return f;
    }

    private static void terminate(ActorSystem<Hypervisor.Command> system) {
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            // The actor system's own threads are daemons: nothing more to wait for.
        }
    }

    private static VmReport join(CompletableFuture<VmReport> f) {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("a VM did not stop within a minute of being asked", e);
        }
    }
}
