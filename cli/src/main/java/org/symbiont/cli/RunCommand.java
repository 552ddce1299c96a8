package org.symbiont.cli;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.LiveMigration;
import org.symbiont.cluster.SymbiontCluster;
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

    @Override
    public Integer call() {
        VmSpec spec = VmSpec.prepare(machine.configuration(), VmExtensions.forVm());
        if (migrateTo != null) return migrate(spec);
        return end.conclude(Vms.run(spec, null, end.limit()));
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
