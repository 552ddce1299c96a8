package org.symbiont.vmm;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.symbiont.vmm.config.VmConfig;

/** Runs test VMs to completion and keeps what their consoles printed. */
final class VmRun {
    final VmReport report;
    final String console;

    private VmRun(VmReport report, String console) {
        this.report = report;
        this.console = console;
    }

    /**
     * A configuration for a test kernel: the default PC plus the 0xE9 debug console on the
     * captured console (test kernels print there), then {@code hocon}, with {@code kernel}.
     */
    static VmConfig config(String name, Path kernel, String hocon) {
        return pcConfig(name, kernel, "devices += { name = debugcon, type = debugcon, chardev = console }\n" + hocon);
    }

    /** {@code hocon} over the defaults (QEMU's pc machine), with {@code kernel}. */
    static VmConfig pcConfig(String name, Path kernel, String hocon) {
        return VmConfig.from(ConfigFactory.parseString(hocon + "\nname = " + name + "\nkernel.file = \"" + kernel + "\""),
                "test " + name);
    }

    static VmRun run(VmConfig config) {
        return runAll(List.of(config), Extensions.none()).getFirst();
    }

    static List<VmRun> runAll(List<VmConfig> configs, Extensions extensions) {
        List<CharBackends.Capture> consoles = configs.stream().map(c -> new CharBackends.Capture()).toList();
        List<VmSpec> specs = new java.util.ArrayList<>();
        for (int k = 0; k < configs.size(); k++) specs.add(VmSpec.prepare(configs.get(k), extensions, consoles.get(k)));
        List<VmReport> reports = Vms.runAll(specs, Duration.ofMinutes(2));
        List<VmRun> out = new java.util.ArrayList<>();
        for (int k = 0; k < reports.size(); k++) out.add(new VmRun(reports.get(k), consoles.get(k).text()));
        return out;
    }
}
