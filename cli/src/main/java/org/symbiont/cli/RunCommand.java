package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
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
                "  0    the guest powered off, or the run was stopped",
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

    @Override
    public Integer call() {
        VmSpec spec = VmSpec.prepare(machine.configuration(), VmExtensions.forVm());
        VmReport report = Vms.run(spec, null, limit(timeout));
        if (stats != null) writeStats(report);
        return conclude(report, timeout != null, quiet);
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
