package org.symbiont.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.LiveMigration;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.vmm.VmSnapshot;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code symbiont run}: boots one Multiboot kernel the way {@code qemu-system-x86_64 -kernel}
 * does, with COM1 on standard output, and exits with the status the guest gave through
 * isa-debug-exit, or with one of the VMM's own (even) statuses.
 */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Boot a Multiboot kernel in a VM, as qemu-system-x86_64 -kernel does.",
        footer = {"", "Exit status:",
                "  odd  the guest's isa-debug-exit status, (value << 1) | 1",
                "  0    the guest powered off, or the run was stopped, or (--migrate-to) the VM moved",
                "       (a VM that could not move runs on here, and its end gives the status)",
                "  2    a usage or configuration error",
                "  " + RunEnd.VMM_ERROR + "  an error inside the VMM (a report follows on standard error)",
                "  " + RunEnd.TIMEOUT + "  --timeout ran out",
                "  " + RunEnd.TRIPLE_FAULT + "  the guest triple-faulted",
                "  " + RunEnd.HALTED + "  every vCPU halted with interrupts off", ""})
final class RunCommand implements Callable<Integer> {
    @Mixin
    MachineOptions machine = new MachineOptions();

    @Mixin
    RunEnd end = new RunEnd();

    @Option(names = "--migrate-to", paramLabel = "HOST:PORT",
            description = "Move the VM at --migrate-at to the cluster member there (started with symbiont restore --incoming HOST:PORT).")
    String migrateTo;

    @Option(names = "--migrate-at", paramLabel = "TIME", defaultValue = "0ms",
            description = "Virtual time the migration starts at, e.g. 20ms (default: at once).")
    String migrateAt;

    @Option(names = "--migrate-mode", paramLabel = "live|cold", defaultValue = "live",
            description = "live: memory is copied while the VM runs, then a short stop-and-copy; cold: the VM is paused while all of it is copied.")
    String migrateMode;

    @Option(names = "--checkpoint-every", paramLabel = "TIME",
            description = "Save the VM every TIME of virtual time, e.g. 50ms, while it runs on (symbiont restore continues from any of them).")
    String checkpointEvery;

    @Option(names = "--checkpoint-dir", paramLabel = "DIR", defaultValue = ".",
            description = "Where --checkpoint-every writes NAME-TIMEus.snap (default: the current directory).")
    Path checkpointDir;

    @Override
    public Integer call() {
        VmSpec spec = VmSpec.prepare(machine.configuration(), VmExtensions.forVm());
        if (migrateTo != null && checkpointEvery != null) throw new UserError("--migrate-to and --checkpoint-every: give one of them");
        if (migrateTo != null) return migrate(spec);
        if (checkpointEvery != null) return runWithCheckpoints(spec);
        return end.conclude(Vms.run(spec, null, end.limit()));
    }

    /**
     * Checkpoint/restart: the VM pauses at the first round boundary at or after each multiple of
     * the interval (where an uninterrupted run has one too: its output is the same), is saved to
     * a file and runs on, until it ends or the time limit stops it.
     */
    private int runWithCheckpoints(VmSpec spec) {
        long every = SnapshotCommand.virtualTime("--checkpoint-every", checkpointEvery);
        if (every <= 0) throw new UserError("--checkpoint-every " + checkpointEvery + ": expected a virtual time above 0");
        if (!Files.isDirectory(checkpointDir)) throw new UserError(checkpointDir + ": no such directory for checkpoints");
        try (Vms.Running vm = Vms.start(spec)) {
            long deadline = System.nanoTime() + end.limit().toNanos();
            for (long next = every; ; ) {
                long at;
                try {
                    at = vm.pauseAt(next, Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
                } catch (IllegalStateException | java.util.concurrent.CompletionException endedOrOutOfTime) {
                    break;
                }
                VmSnapshot snapshot;
                try {
                    snapshot = vm.snapshot(Duration.ofMinutes(10));
                } catch (IllegalStateException refused) {
                    throw new UserError(refused.getMessage());
                }
                Path file = checkpointDir.resolve(String.format(java.util.Locale.ROOT, "%s-%dus.snap", spec.config().name(), at / 1000));
                SnapshotCommand.write(snapshot, file);
                if (!end.quiet) {
                    System.err.printf(java.util.Locale.ROOT, "symbiont: checkpoint at %.3f ms of virtual time: %s (%.1f MiB)%n",
                            at / 1e6, file, snapshot.sizeBytes() / 1048576.0);
                }
                vm.resume();
                while (next <= at) next += every;
            }
            vm.close(); // stops the VM if the time limit ran out before it ended
            return end.conclude(vm.report().join());
        }
    }

    /** Runs the VM on a cluster member that joins the receiver's cluster, and moves it there. */
    private int migrate(VmSpec spec) {
        String target;
        try {
            target = SymbiontCluster.checkHostPort(migrateTo);
        } catch (IllegalArgumentException e) {
            throw new UserError("--migrate-to " + migrateTo + ": expected HOST:PORT");
        }
        LiveMigration.Settings settings = switch (migrateMode) {
            case "live" -> LiveMigration.Settings.LIVE;
            case "cold" -> LiveMigration.Settings.COLD;
            default -> throw new UserError("--migrate-mode " + migrateMode + ": expected live or cold");
        };
        long at = SnapshotCommand.virtualTime("--migrate-at", migrateAt);
        ActorSystem<Void> member = SymbiontCluster.startMember(target.substring(0, target.lastIndexOf(':')), 0, List.of(target));
        try {
            SymbiontCluster.awaitMembers(member, 2, Duration.ofSeconds(60));
            LiveMigration.Outcome outcome = LiveMigration.migrate(member, spec, at, settings, end.limit());
            if (outcome.failure() == null) {
                if (!end.quiet) System.err.println("symbiont: " + outcome.migration().summary());
                return 0;
            }
            // As QEMU's source does, the VM ran on here: its end is this command's.
            System.err.println("symbiont: " + spec.config().name() + " did not move: " + outcome.failure() + "; it ran on here");
            return end.conclude(outcome.source());
        } catch (IllegalStateException e) {
            System.err.println("symbiont: " + spec.config().name() + ": " + e.getMessage());
            return 1;
        } finally {
            SymbiontCluster.stop(member);
        }
    }
}
