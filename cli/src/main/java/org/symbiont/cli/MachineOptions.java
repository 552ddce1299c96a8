package org.symbiont.cli;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.symbiont.vmm.boot.MultibootLoader;
import org.symbiont.vmm.config.VmConfig;
import picocli.CommandLine.Option;

/**
 * The machine a VM command builds, given as {@code qemu-system-x86_64} takes it (a kernel, RAM,
 * vCPUs, serial, disks, devices) and/or a configuration file: shared by {@code run},
 * {@code snapshot} and {@code restore}, which must build the same machine.
 */
final class MachineOptions {
    @Option(names = "--kernel", paramLabel = "FILE", description = "The Multiboot kernel (ELF32, or a flat image with load addresses in its header).")
    Path kernel;

    @Option(names = "--append", paramLabel = "ARGS", description = "The kernel command line.")
    String append;

    @Option(names = "--initrd", paramLabel = "FILES", description = "Multiboot modules as QEMU takes them: \"file [args],file [args]\".")
    String initrd;

    @Option(names = "-m", paramLabel = "SIZE", description = "Guest RAM, e.g. 256M or 1G (default 256M; a bare number means MiB, as in QEMU).")
    String memory;

    @Option(names = "--smp", paramLabel = "N", description = "Number of vCPUs.")
    Integer cpus;

    @Option(names = "--config", paramLabel = "FILE", description = "A VM configuration file (HOCON); options given here override it.")
    Path config;

    @Option(names = "--serial", paramLabel = "stdio|file:PATH|null", description = "Where COM1 goes (default stdio).")
    String serial;

    @Option(names = "--serial-input", paramLabel = "FILE", description = "Feed COM1 the bytes of FILE instead of standard input.")
    Path serialInput;

    @Option(names = "--debugcon", paramLabel = "stdio|file:PATH|null", description = "Add the 0xE9 debug console (QEMU's -debugcon), writing there.")
    String debugcon;

    @Option(names = "--disk", paramLabel = "FILE", description = "Add a virtio-blk disk backed by FILE (raw image); repeatable.")
    List<Path> disks = new ArrayList<>();

    @Option(names = "--device", paramLabel = "TYPE[,KEY=VALUE...]",
            description = "A device as QEMU's -device gives it (e.g. pc-testdev, or isa-debug-exit,iobase=0xf4,iosize=0x04; id= names it). "
                    + "A type the machine has once already is reconfigured, others are added; repeatable.")
    List<String> deviceOptions = new ArrayList<>();

    @Option(names = "--cpu-model", paramLabel = "intel|amd", description = "The processor the guest sees.")
    String cpuModel;

    /** The configuration file (if any), then the options on top. */
    VmConfig configuration() {
        var overrides = ConfigFactory.empty();
        if (kernel != null) overrides = overrides.withValue("kernel.file", ConfigValueFactory.fromAnyRef(kernel.toString()));
        if (append != null) overrides = overrides.withValue("kernel.append", ConfigValueFactory.fromAnyRef(append));
        if (initrd != null) overrides = overrides.withValue("kernel.modules", ConfigValueFactory.fromIterable(MultibootLoader.moduleStrings(initrd)));
        if (memory != null) overrides = overrides.withValue("memory", ConfigValueFactory.fromAnyRef(qemuSize(memory)));
        if (cpus != null) overrides = overrides.withValue("cpus", ConfigValueFactory.fromAnyRef(cpus));
        if (serial != null) overrides = overrides.withValue("console", ConfigValueFactory.fromAnyRef(serial));
        if (serialInput != null) overrides = overrides.withValue("console-input", ConfigValueFactory.fromAnyRef(serialInput.toString()));
        if (cpuModel != null) overrides = overrides.withValue("cpu-model", ConfigValueFactory.fromAnyRef(cpuModel));
        // Devices the options add go after those of the configuration (a self-referential +=).
        StringBuilder added = new StringBuilder();
        if (debugcon != null) {
            added.append("devices += { name = debugcon, type = debugcon, chardev = ").append(ConfigUtil.quoteString(debugcon)).append(" }\n");
        }
        for (int k = 0; k < disks.size(); k++) {
            added.append("devices += { name = disk").append(k).append(", type = virtio-blk, file = ")
                    .append(ConfigUtil.quoteString(disks.get(k).toString())).append(" }\n");
        }
        overrides = ConfigFactory.parseString(added.toString()).withFallback(overrides);
        if (config == null && kernel == null) throw new UserError("give --kernel FILE (or --config FILE naming kernel.file)");
        VmConfig vm = config == null ? VmConfig.from(overrides, "command line") : VmConfig.load(config, overrides);
        return deviceOptions.isEmpty() ? vm : vm.withDevices(withDeviceOptions(vm.devices()));
    }

    /** The machine's devices with each --device applied: a type present once is reconfigured, others added. */
    private List<VmConfig.DeviceSpec> withDeviceOptions(List<VmConfig.DeviceSpec> machine) {
        List<VmConfig.DeviceSpec> devices = new ArrayList<>(machine);
        for (String option : deviceOptions) {
            String[] parts = option.split(",");
            String type = parts[0].trim();
            if (type.isEmpty()) throw new UserError("--device " + option + ": expected TYPE[,KEY=VALUE...]");
            java.util.Map<String, Object> params = new java.util.LinkedHashMap<>();
            for (int k = 1; k < parts.length; k++) {
                int eq = parts[k].indexOf('=');
                if (eq <= 0) throw new UserError("--device " + option + ": expected KEY=VALUE, got \"" + parts[k] + "\"");
                params.put(parts[k].substring(0, eq).trim(), parts[k].substring(eq + 1).trim());
            }
            Object id = params.remove("id");
            List<Integer> same = new ArrayList<>();
            for (int k = 0; k < devices.size(); k++) if (devices.get(k).type().equals(type)) same.add(k);
            String name = id != null ? id.toString() : same.size() == 1 ? devices.get(same.getFirst()).name() : type;
            params.put("name", name);
            params.put("type", type);
            var spec = new VmConfig.DeviceSpec(name, type, ConfigFactory.parseMap(params, "--device " + option));
            if (id == null && same.size() == 1) devices.set(same.getFirst(), spec);
            else devices.add(spec);
        }
        return devices;
    }

    /** QEMU's -m: a bare number is MiB. */
    static String qemuSize(String m) {
        return m.matches("\\d+") ? m + "M" : m;
    }

}
