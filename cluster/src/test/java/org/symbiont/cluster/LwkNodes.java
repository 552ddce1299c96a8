package org.symbiont.cluster;

import java.util.ArrayList;
import java.util.List;
import org.symbiont.guests.GuestImages;

/** Experiments of LWK nodes for the tests: node r runs {@code workload} as rank r of n. */
final class LwkNodes {
    private LwkNodes() {}

    static Experiment experiment(String id, int nodes, String workload, String vmExtra, Interconnect net) {
        byte[] kernel = GuestImages.lwk();
        List<NodeSpec> specs = new ArrayList<>();
        for (int r = 0; r < nodes; r++) {
            String hocon = "name = node" + r + "\nmemory = 64M\n" + vmExtra + "\n"
                    + "kernel.append = \"" + workload + " rank=" + r + " nranks=" + nodes + "\"\n"
                    + "devices += { name = net0, type = virtio-net, link = interconnect, mac = \"02:4c:57:4b:"
                    + String.format("%02x:%02x", r >> 8, r & 0xFF) + "\" }\n";
            specs.add(new NodeSpec(r, "node" + r, hocon, kernel, "lwk.bin"));
        }
        return new Experiment(id, specs, net);
    }
}
