package org.symbiont.specs;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * A guest run as a user runs it — a configuration with its {@code faults} list, prepared with
 * {@link VmSpec#prepare} and run by {@link Vms#runAll} — with what its console printed.
 */
record FaultedRun(VmReport report, String console) {
    /** Hang detector only: every run here ends in seconds of virtual time. */
    private static final Duration VM_TIME_LIMIT = Duration.ofMinutes(2);

    private static final Path LWK = write("lwk", GuestImages.lwk());
    private static final Path TESTGUEST = write("testguest", GuestImages.testguest());

    private static Path write(String name, byte[] image) {
        try {
            Path file = Files.createTempFile("symbiont-faultspec-" + name, ".bin");
            file.toFile().deleteOnExit();
            Files.write(file, image);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The LWK image with {@code hocon} (keys of a VM configuration) over QEMU's pc defaults. */
    static VmConfig lwk(String name, String hocon) {
        return config(name, LWK, hocon);
    }

    /** The test guest with {@code hocon} over QEMU's pc defaults. */
    static VmConfig testguest(String name, String hocon) {
        return config(name, TESTGUEST, hocon);
    }

    private static VmConfig config(String name, Path kernel, String hocon) {
        return VmConfig.from(ConfigFactory.parseString(hocon + "\nname = " + name + "\nconsole = null\nkernel.file = \"" + kernel + "\""),
                "spec " + name);
    }

    static FaultedRun run(VmConfig config) {
        return runAll(List.of(config)).getFirst();
    }

    /** Runs {@code configs} together (VMs whose NICs share a link reach each other), each with its console captured. */
    static List<FaultedRun> runAll(List<VmConfig> configs) {
        List<CharBackends.Capture> consoles = configs.stream().map(c -> new CharBackends.Capture()).toList();
        List<VmSpec> specs = new ArrayList<>();
        for (int k = 0; k < configs.size(); k++) specs.add(VmSpec.prepare(configs.get(k), Extensions.none(), consoles.get(k)));
        List<VmReport> reports = Vms.runAll(specs, VM_TIME_LIMIT);
        List<FaultedRun> runs = new ArrayList<>();
        for (int k = 0; k < reports.size(); k++) runs.add(new FaultedRun(reports.get(k), consoles.get(k).text()));
        return runs;
    }

    Optional<ResultLine> result() {
        return ResultLine.find(console);
    }

    /** The exact part of the guest's result line. */
    String exact() {
        return result().map(ResultLine::exact).orElse("(no result line in: " + console + ")");
    }

    long stolenCycles() {
        return report.vcpus().stream().mapToLong(v -> v.stolenCycles()).sum();
    }

    List<String> faultKinds() {
        return report.faults().stream().map(VmReport.AppliedFault::kind).toList();
    }

    @Override
    public String toString() {
        return report.reason() + " " + report.message() + " at " + report.virtualNanos() + " ns, faults " + report.faults()
                + "\n" + console;
    }
}
