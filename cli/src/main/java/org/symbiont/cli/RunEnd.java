package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.symbiont.vmm.VmReport;
import picocli.CommandLine.Option;

/**
 * How a command that runs a VM to its end ({@code run}, {@code restore}) bounds and reports it:
 * {@code --timeout}, {@code --stats}, {@code -q}, and the exit status for how the VM ended.
 */
final class RunEnd {
    static final int TRIPLE_FAULT = 124, HALTED = 126, VMM_ERROR = 120, TIMEOUT = 122;

    @Option(names = "--stats", paramLabel = "FILE.json", description = "Write the run's telemetry (exits by reason, instructions, virtual time) as JSON.")
    Path stats;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Stop the VM after this much wall-clock time (default: no limit).")
    Double timeout;

    @Option(names = {"-q", "--quiet"}, description = "Print no summary on standard error (reports of failures still appear).")
    boolean quiet;

    Duration limit() {
        return limit(timeout);
    }

    static Duration limit(Double timeoutSeconds) {
        return timeoutSeconds == null ? Duration.ofDays(365) : Duration.ofNanos((long) (timeoutSeconds * 1e9));
    }

    /** Writes the statistics if asked, and returns the exit status (see {@code run}'s footer), reporting failures on standard error. */
    int conclude(VmReport report) {
        if (stats != null) {
            try {
                Files.writeString(stats, report.toJson());
            } catch (IOException e) {
                throw new UserError(stats + ": cannot write the statistics: " + e.getMessage());
            }
        }
        boolean timedOut = report.reason() == VmReport.Reason.STOPPED && timeout != null;
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
}
