package org.symbiont.cluster;

import com.typesafe.config.ConfigFactory;
import java.util.List;

/**
 * An experiment: its id (names its nodes' sharding entities and their VMs' dispatchers: letters,
 * digits, '-' and '_', unique among the experiments a cluster runs), its nodes (indices 0..n-1
 * in order), the interconnect between them, and the faults of the cluster to inject.
 */
public record Experiment(String id, List<NodeSpec> nodes, Interconnect interconnect, List<ClusterFault> faults) {

    public Experiment {
        if (!id.matches("[A-Za-z0-9_-]+")) throw new IllegalArgumentException("experiment id \"" + id + "\": letters, digits, '-' and '_' only");
        if (nodes.isEmpty()) throw new IllegalArgumentException("experiment " + id + ": no nodes");
        for (int k = 0; k < nodes.size(); k++) {
            if (nodes.get(k).index() != k) throw new IllegalArgumentException("experiment " + id + ": node " + k + " has index " + nodes.get(k).index());
        }
        nodes = List.copyOf(nodes);
        faults = List.copyOf(faults);
    }

    /** An experiment without cluster faults. */
    public Experiment(String id, List<NodeSpec> nodes, Interconnect interconnect) {
        this(id, nodes, interconnect, List.of());
    }

    /** This experiment with {@code faults} (and no others). */
    public Experiment withFaults(List<ClusterFault> faults) {
        return new Experiment(id, nodes, interconnect, faults);
    }

    /**
     * {@code nodes} nodes that each run {@code kernel} (booted as {@code kernelName}) with the
     * command line {@code arguments rank=R nranks=N}, configured by {@code vmHocon.apply(R)} (keys
     * of a VM configuration) plus the interconnect NIC with {@code nicParams} (e.g.
     * {@code passthrough = true}) at the rank's address, 02:4c:57:4b:HI:LO — the addresses the
     * LWK's message layer uses.
     */
    public static Experiment ofRanks(String id, int nodes, byte[] kernel, String kernelName, String arguments,
                                     java.util.function.IntFunction<String> vmHocon, String nicParams, Interconnect interconnect) {
        return ofNodes(id, nodes, kernel, kernelName, r -> arguments + " rank=" + r + " nranks=" + nodes, vmHocon, nicParams,
                interconnect);
    }

    /** As {@link #ofRanks}, with node r's command line {@code commandLine.apply(r)} as it is. */
    public static Experiment ofNodes(String id, int nodes, byte[] kernel, String kernelName,
                                     java.util.function.IntFunction<String> commandLine, java.util.function.IntFunction<String> vmHocon,
                                     String nicParams, Interconnect interconnect) {
        if (nodes < 1 || nodes > 65536) throw new IllegalArgumentException("experiment " + id + ": 1 to 65536 nodes, got " + nodes);
        List<NodeSpec> specs = new java.util.ArrayList<>();
        for (int r = 0; r < nodes; r++) {
            String hocon = "name = node" + r + "\n" + vmHocon.apply(r) + "\n"
                    + "kernel.append = " + com.typesafe.config.ConfigUtil.quoteString(commandLine.apply(r)) + "\n"
                    + "devices += { name = net0, type = virtio-net, link = interconnect, "
                    + (nicParams.isBlank() ? "" : nicParams + ", ") + "mac = \"02:4c:57:4b:"
                    + String.format("%02x:%02x", r >> 8, r & 0xFF) + "\" }\n";
            specs.add(new NodeSpec(r, "node" + r, hocon, kernel, kernelName));
        }
        return new Experiment(id, specs, interconnect);
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
