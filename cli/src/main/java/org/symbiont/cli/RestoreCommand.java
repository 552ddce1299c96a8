package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSnapshot;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code symbiont restore}: continues a VM that {@code symbiont snapshot} saved, as {@code run} runs one. */
@Command(name = "restore", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Continue a saved VM from its snapshot file, on a machine built from the same options.",
        footer = {"", "Give the machine options the snapshot was taken with: a snapshot of another machine is refused,",
                "naming the field that differs. Exit status: as for run.", ""})
final class RestoreCommand implements Callable<Integer> {
    @Parameters(paramLabel = "SNAPSHOT", description = "The snapshot file symbiont snapshot wrote.")
    Path file;

    @Mixin
    MachineOptions machine = new MachineOptions();

    @Option(names = "--stats", paramLabel = "FILE.json", description = "Write the run's telemetry as JSON (counted from the restore).")
    Path stats;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Stop the VM after this much wall-clock time (default: no limit).")
    Double timeout;

    @Option(names = {"-q", "--quiet"}, description = "Print no summary on standard error (reports of failures still appear).")
    boolean quiet;

    @Override
    public Integer call() {
        VmSnapshot snapshot;
        try {
            snapshot = VmSnapshot.read(file);
        } catch (IOException e) {
            throw new UserError(e.getMessage());
        }
        VmSpec spec = VmSpec.prepare(machine.configuration(), VmExtensions.forVm());
        VmReport report = Vms.run(spec, snapshot, RunCommand.limit(timeout));
        if (stats != null) {
            try {
                Files.writeString(stats, report.toJson());
            } catch (IOException e) {
                throw new UserError(stats + ": cannot write the statistics: " + e.getMessage());
            }
        }
        return RunCommand.conclude(report, timeout != null, quiet);
    }
}
