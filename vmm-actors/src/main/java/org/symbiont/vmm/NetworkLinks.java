package org.symbiont.vmm;

import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import org.symbiont.devices.virtio.NetBackend;
import org.symbiont.devices.virtio.NetworkSwitch;
import org.symbiont.vmm.config.VmConfigException;

/**
 * The virtual networks between VMs of one JVM, by name: every NIC naming a link is plugged into
 * that link's learning switch (two NICs make a cable, more a switched Ethernet segment). A switch
 * forwards by MAC address, so the NICs on one link must have different configured addresses.
 * Shared by every VM a {@link Hypervisor} runs, so it is thread-safe.
 */
public final class NetworkLinks {
    private record Segment(NetworkSwitch ethernet, Map<String, String> nicsByMac) {}

    private final Map<String, Segment> segments = new HashMap<>();

    /** Plugs {@code nic} (for messages: "vm/device") with address {@code mac} into link {@code name}. */
    public synchronized NetBackend attach(String name, String nic, byte[] mac) {
        Segment segment = segments.computeIfAbsent(name, n -> new Segment(new NetworkSwitch(), new HashMap<>()));
        String address = HexFormat.ofDelimiter(":").formatHex(mac);
        String other = segment.nicsByMac().putIfAbsent(address, nic);
        if (other != null) {
            throw new VmConfigException(nic + ": MAC address " + address + " is already used on network link \"" + name
                    + "\" by " + other + "; give each NIC on a link its own mac");
        }
        return segment.ethernet().port();
    }
}
