package org.symbiont.cluster;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.List;
import org.symbiont.devices.CharBackend;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.boot.MultibootImage;
import org.symbiont.vmm.config.VmConfig;

/**
 * One simulated node of an experiment: its VM configuration (HOCON, keys as in a VM
 * configuration file; its one virtio-net with a {@code link} is its interconnect NIC, whose
 * {@code mac} is its address), and the kernel image with the name it boots under (the first word
 * of the guest's command line, so the same name gives the same run wherever the node is placed).
 */
public record NodeSpec(int index, String name, String vmConfig, byte[] kernel, String kernelName) implements CborSerializable {

    /** The VM this node runs, its console on {@code console}; errors name the node and what is wrong. */
    public VmSpec vmSpec(CharBackend console) {
        VmConfig config = VmConfig.from(ConfigFactory.parseString(vmConfig).withValue("kernel.file",
                ConfigValueFactory.fromAnyRef(kernelName)), "node " + name);
        interconnectNic(config);
        return new VmSpec(config, MultibootImage.parse(kernel, kernelName), kernelName, List.of(), Extensions.none(), console);
    }

    /** The node's one virtio-net with a link. */
    static VmConfig.DeviceSpec interconnectNic(VmConfig config) {
        List<VmConfig.DeviceSpec> nics = config.devices().stream()
                .filter(d -> d.type().equals("virtio-net") && d.params().hasPath("link")).toList();
        if (nics.size() != 1 || !nics.getFirst().params().hasPath("mac")) {
            throw new IllegalArgumentException(config.name() + ": devices: expected exactly one virtio-net with a link and a mac "
                    + "(the interconnect NIC and its address), got " + nics.size());
        }
        return nics.getFirst();
    }
}
