package org.symbiont.vmm;

import java.util.HashMap;
import java.util.Map;
import org.symbiont.devices.virtio.NetBackend;
import org.symbiont.devices.virtio.NetworkLink;
import org.symbiont.vmm.config.VmConfigException;

/**
 * The virtual cables between VMs of one JVM, by name: the first NIC naming a link gets one end,
 * the second the other. Shared by every VM a {@link Hypervisor} runs, so it is thread-safe.
 */
public final class NetworkLinks {
    private record Cable(NetworkLink link, String firstNic) {}

    private final Map<String, Cable> cables = new HashMap<>();
    private final Map<String, Integer> ends = new HashMap<>();

    /** Plugs {@code nic} (for messages: "vm/device") into link {@code name}. */
    public synchronized NetBackend attach(String name, String nic) {
        int used = ends.getOrDefault(name, 0);
        if (used == 2) {
            throw new VmConfigException(nic + ": network link \"" + name + "\" already connects two NICs ("
                    + cables.get(name).firstNic() + " and another); a link is a cable between two");
        }
        ends.put(name, used + 1);
        if (used == 0) {
            Cable c = new Cable(new NetworkLink(), nic);
            cables.put(name, c);
            return c.link().endA();
        }
        return cables.get(name).link().endB();
    }
}
