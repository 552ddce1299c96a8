package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.LiveMigration;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.vmm.VmReport;
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
                "  " + RunCommand.VMM_ERROR + "  an error inside the VMM (a report follows on standard error)",
                "  " + RunCommand.TIMEOUT + "  --timeout ran out",
                "  " + RunCommand.TRIPLE_FAULT + "  the guest triple-faulted",
                "  " + RunCommand.HALTED + "  every vCPU halted with interrupts off", ""})
final class RunCommand implements Callable<Integer> {
    static final int TRIPLE_FAULT = 124, HALTED = 126, VMM_ERROR = 120, TIMEOUT = 122;

    @Mixin
    MachineOptions machine = new MachineOptions();

    @Option(names = "--stats", paramLabel = "FILE.json", description = "Write the run's telemetry (exits by reason, instructions, virtual time) as JSON.")
    Path stats;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Stop the VM after this much wall-clock time (default: no limit).")
    Double timeout;

    @Option(names = {"-q", "--quiet"}, description = "Print no summary on standard error (reports of failures still appear).")
    boolean quiet;

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
        VmReport report = Vms.run(spec, null, limit(timeout));
        if (stats != null) writeStats(report);
        return conclude(report, timeout != null, quiet);
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
            LiveMigration.Outcome outcome = LiveMigration.migrate(member, spec, at, settings, limit(timeout));
            if (outcome.failure() == null) {
                if (!quiet) System.err.println("symbiont: " + outcome.migration().summary());
                return 0;
            }
            // As QEMU's source does, the VM ran on here: its end is this command's.
            System.err.println("symbiont: " + spec.config().name() + " did not move: " + outcome.failure() + "; it ran on here");
            return conclude(outcome.source(), timeout != null, quiet);
        } catch (IllegalStateException e) {
            System.err.println("symbiont: " + spec.config().name() + ": " + e.getMessage());
            return 1;
        } finally {
            SymbiontCluster.stop(member);
        }
    }

    static Duration limit(Double timeoutSeconds) {
        return timeoutSeconds == null ? Duration.ofDays(365) : Duration.ofNanos((long) (timeoutSeconds * 1e9));
    }

    /** The exit status for how the VM ended (see the footer), with a report on standard error for failures. */
    static int conclude(VmReport report, boolean timeLimited, boolean quiet) {
        boolean timedOut = report.reason() == VmReport.Reason.STOPPED && timeLimited;
        int status = switch (report.reason()) {
            case GUEST_EXIT -> report.guestStatus() & 0xFF;
            case STOPPED -> timedOut ? TIMEOUT : 0;
            case TRIPLE_FAULT -> TRIPLE_FAULT;
            case HALTED -> HALTED;
            case CONFIG_ERROR -> throw new UserError(report.message());
            case VMM_ERROR, RUNNING, PAUSED -> VMM_ERROR;
        };
        boolean failure = status == TRIPLE_FAULT || status == HALTED || status == VMM_ERROR || status == TIMEOUT;
        if (failure) {
            System.err.println("symbiont: " + report.vm() + ": " + report.message());
            if (!report.vcpus().isEmpty()) {
                for (var v : report.vcpus()) System.err.print("vCPU " + v.id() + ":\n" + v.state());
            }
        }
        if (!quiet || failure) System.err.print(Summary.of(report));
        return status;
    }

    private void writeStats(VmReport report) {
        try {
            Files.writeString(stats, report.toJson());
        } catch (IOException e) {
            throw new UserError(stats + ": cannot write the statistics: " + e.getMessage());
        }
    }
}
