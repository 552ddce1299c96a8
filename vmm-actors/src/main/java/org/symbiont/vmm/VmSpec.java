package org.symbiont.vmm;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.vmm.boot.BootImageException;
import org.symbiont.vmm.boot.MultibootImage;
import org.symbiont.vmm.boot.MultibootLoader;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.vmm.config.VmConfigException;

/**
 * A VM ready to create: its configuration, the kernel read and parsed, device types checked, the
 * console opened. Everything that can be wrong with what the user gave is found here, before any
 * actor starts.
 */
public record VmSpec(VmConfig config, MultibootImage kernel, String kernelName, List<MultibootLoader.Module> modules,
                     Extensions extensions, CharBackend console) {

    public static VmSpec prepare(VmConfig config, Extensions extensions) {
        CharBackend console = CharBackends.open(config.console());
        if (config.consoleInput() != null) console = CharBackends.withInput(console, config.consoleInput());
        return prepare(config, extensions, console);
    }

    /** As {@link #prepare(VmConfig, Extensions)} with the console back end given (the demo captures it). */
    public static VmSpec prepare(VmConfig config, Extensions extensions, CharBackend console) {
        if (config.kernel() == null) throw new VmConfigException(config.name() + ": no kernel: give kernel.file or --kernel");
        var file = config.kernel().file();
        if (!Files.isRegularFile(file)) throw new BootImageException(file + ": no such kernel file");
        MultibootImage kernel = MultibootImage.read(file);
        List<MultibootLoader.Module> modules = new ArrayList<>();
        for (String m : config.kernel().modules()) modules.add(MultibootLoader.readModule(m));
        DeviceRegistry registry = DeviceRegistry.load();
        for (VmConfig.DeviceSpec d : config.devices()) {
            if (!registry.types().contains(d.type())) {
                throw new VmConfigException(config.name() + ": device " + d.name() + ": unknown type \"" + d.type()
                        + "\"; known types: " + String.join(", ", registry.types()));
            }
        }
        return new VmSpec(config, kernel, file.toString(), List.copyOf(modules), extensions, console);
    }
}
