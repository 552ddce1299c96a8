package org.symbiont.cluster;

import com.typesafe.config.ConfigFactory;
import java.util.List;

/**
 * An experiment: its id (names its nodes' sharding entities: letters, digits, '-' and '_'), its
 * nodes (indices 0..n-1 in order) and the interconnect between them.
 */
public record Experiment(String id, List<NodeSpec> nodes, Interconnect interconnect) {

    public Experiment {
        if (!id.matches("[A-Za-z0-9_-]+")) throw new IllegalArgumentException("experiment id \"" + id + "\": letters, digits, '-' and '_' only");
        if (nodes.isEmpty()) throw new IllegalArgumentException("experiment " + id + ": no nodes");
        for (int k = 0; k < nodes.size(); k++) {
            if (nodes.get(k).index() != k) throw new IllegalArgumentException("experiment " + id + ": node " + k + " has index " + nodes.get(k).index());
        }
        nodes = List.copyOf(nodes);
    }

    /** The address table: each node's interconnect NIC and its MAC, from its configuration. */
    Wiring wiring() {
        long[] macs = new long[nodes.size()];
        for (NodeSpec s : nodes) {
            var nics = ConfigFactory.parseString(s.vmConfig()).resolve().getConfigList("devices").stream()
                    .filter(d -> d.hasPath("type") && d.getString("type").equals("virtio-net") && d.hasPath("link")).toList();
            if (nics.size() != 1 || !nics.getFirst().hasPath("mac")) {
                throw new IllegalArgumentException("node " + s.name() + ": devices: expected exactly one virtio-net with a link and a mac "
                        + "(the interconnect NIC and its address)");
            }
            macs[s.index()] = SimulatedNode.parseMac(nics.getFirst().getString("mac"));
        }
        return Wiring.of(id, interconnect, macs);
    }
}
