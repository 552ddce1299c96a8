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
            for (VmSpec spec : specs) reports.add(create(system, spec));
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

        private Running(ActorSystem<Hypervisor.Command> system, VmSpec spec) {
            this.system = system;
            this.name = spec.config().name();
            this.report = create(system, spec);
        }

        /** The VM's report, once it ended. */
        public CompletableFuture<VmReport> report() {
            return report;
        }

        /** Stops the VM (if it still runs), waits for its report and ends the actor system. */
        @Override
        public void close() {
            if (!report.isDone()) system.tell(new Hypervisor.StopVm(name, "its user is done with it"));
            join(report);
            terminate(system);
        }
    }

    /** Starts one VM; the caller closes it. */
    public static Running start(VmSpec spec) {
        return new Running(actorSystem(), spec);
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

    private static CompletableFuture<VmReport> create(ActorSystem<Hypervisor.Command> system, VmSpec spec) {
        CompletableFuture<VmReport> f = new CompletableFuture<>();
        ActorRef<VmReport> sink = system.systemActorOf(Behaviors.<VmReport>receiveMessage(r -> {
            f.complete(r);
            return Behaviors.stopped();
        }), "report-" + spec.config().name() + "-" + reportSinks.incrementAndGet(), org.apache.pekko.actor.typed.Props.empty());
        system.tell(new Hypervisor.CreateVm(spec, sink));
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
