package org.symbiont.cli;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSnapshot;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code symbiont snapshot}: boots a VM as {@code run} does, pauses it at a virtual time, saves it
 * whole to a file and stops it; {@code symbiont restore} continues it from there.
 */
@Command(name = "snapshot", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run a VM to a virtual time, then save it whole (vCPUs, memory, devices, timers) to a file.",
        footer = {"", "The machine options are run's; symbiont restore FILE with the same options continues the VM",
                "exactly where it stopped (the snapshot records the machine and refuses another).", "",
                "Exit status:",
                "  0  the snapshot was written",
                "  1  the VM ended before that time: nothing was saved",
                "  2  a usage or configuration error", ""})
final class SnapshotCommand implements Callable<Integer> {
    @Option(names = "--at", required = true, paramLabel = "TIME",
            description = "Virtual time to save at, e.g. 20ms or 1.5s (the first scheduling-round boundary at or after it).")
    String at;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "The snapshot file to write.")
    Path output;

    @Mixin
    MachineOptions machine = new MachineOptions();

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Give up if the VM has not reached TIME after this much wall-clock time.")
    Double timeout;

    @Override
    public Integer call() {
        long nanos = virtualTime("--at", at);
        VmSpec spec = VmSpec.prepare(machine.configuration(), VmExtensions.forVm());
        Duration limit = RunEnd.limit(timeout);
        try (Vms.Running vm = Vms.start(spec)) {
            long pausedAt;
            try {
                pausedAt = vm.pauseAt(nanos, limit);
            } catch (IllegalStateException e) {
                VmReport report = vm.report().join();
                if (report.reason() == VmReport.Reason.CONFIG_ERROR) throw new UserError(report.message());
                System.err.println("symbiont: " + report.vm() + " ended (" + report.reason().name().toLowerCase(Locale.ROOT)
                        + ") before " + at + " of virtual time: nothing saved");
                return 1;
            }
            long started = System.nanoTime();
            VmSnapshot snapshot;
            try {
                snapshot = vm.snapshot(limit);
            } catch (IllegalStateException e) {
                throw new UserError(e.getMessage());
            }
            long taken = System.nanoTime() - started;
            write(snapshot, output);
            long written = System.nanoTime() - started;
            System.err.printf(Locale.ROOT, "symbiont: %s saved at %.3f ms of virtual time to %s: %.1f MiB, taken in %d ms, written in %d ms%n",
                    spec.config().name(), pausedAt / 1e6, output, snapshot.sizeBytes() / 1048576.0,
                    TimeUnit.NANOSECONDS.toMillis(taken), TimeUnit.NANOSECONDS.toMillis(written));
            return 0;
        }
    }

    /** Writes {@code snapshot} to {@code file}; a file that cannot be written is a user error saying why. */
    static void write(VmSnapshot snapshot, Path file) {
        try {
            snapshot.write(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new UserError(file + ": cannot write the snapshot: no such directory");
        } catch (java.nio.file.AccessDeniedException e) {
            throw new UserError(file + ": cannot write the snapshot: permission denied");
        } catch (IOException e) {
            throw new UserError(file + ": cannot write the snapshot: " + e.getMessage());
        }
    }

    /** Option {@code option}'s duration as HOCON writes it (20ms, 1.5s, 300us), in nanoseconds. */
    static long virtualTime(String option, String text) {
        try {
            long nanos = ConfigFactory.empty().withValue("t", ConfigValueFactory.fromAnyRef(text)).getDuration("t", TimeUnit.NANOSECONDS);
            if (nanos < 0) throw new UserError(option + " " + text + ": expected a virtual time of 0 or more");
            return nanos;
        } catch (ConfigException e) {
            throw new UserError(option + " " + text + ": expected a duration such as 20ms, 1.5s or 300us");
        }
    }
}
