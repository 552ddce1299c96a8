package org.symbiont.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigUtil;
import java.util.List;

/**
 * A fault-injection scenario for a simulated cluster ({@code symbiont faults}): a
 * {@code cluster} block — {@code nodes} LWK nodes running {@code workload} (rank r gets
 * {@code rank=r nranks=N}, seed {@code seed + r}, {@code memory} of RAM) on {@code members}
 * members of one process, over {@code interconnect} (keys as {@code symbiont.cluster.interconnect},
 * whose values are the defaults) — and the {@code faults} of the cluster, members named by index
 * (0 is the oldest, which runs the experiment; node k lives on member k mod members).
 */
public record ClusterScenario(int nodes, int members, String workload, String memory, long seed, Interconnect interconnect,
                              List<ClusterFault> faults) {

    public static final int MAX_NODES = 256, MAX_MEMBERS = 16;

    private static final List<String> TOP_KEYS = List.of("cluster", "faults");
    private static final List<String> CLUSTER_KEYS = List.of("nodes", "members", "workload", "memory", "seed", "interconnect");

    public ClusterScenario {
        faults = List.copyOf(faults);
    }

    /** Whether {@code c} is a cluster scenario (it has a {@code cluster} block) rather than a VM's configuration. */
    public static boolean isCluster(Config c) {
        return c.hasPath("cluster");
    }

    /** The scenario in {@code c}; errors name {@code origin}, the field and what was expected. */
    public static ClusterScenario from(Config c, String origin) {
        for (String key : c.root().keySet()) {
            if (!TOP_KEYS.contains(key)) {
                throw bad(origin, key, "only cluster { ... } and faults = [ ... ] in a cluster scenario (node settings go in cluster)");
            }
        }
        if (c.getValue("cluster").valueType() != com.typesafe.config.ConfigValueType.OBJECT) {
            throw bad(origin, "cluster", "a block like { nodes = 4, members = 2, workload = \"allreduce iters=4\" }");
        }
        Config k = c.getConfig("cluster");
        for (String key : k.root().keySet()) {
            if (!CLUSTER_KEYS.contains(key)) throw bad(origin, "cluster." + key, "one of " + String.join(", ", CLUSTER_KEYS));
        }
        int nodes = whole(k, origin, "nodes", 1, MAX_NODES);
        int members = whole(k, origin, "members", 1, Math.min(MAX_MEMBERS, nodes));
        if (!k.hasPath("workload") || k.getValue("workload").valueType() != com.typesafe.config.ConfigValueType.STRING
                || k.getString("workload").isBlank()) {
            throw bad(origin, "cluster.workload", "the LWK workload and its arguments, e.g. \"allreduce iters=4 compute=20000\"");
        }
        String memory = "64M";
        if (k.hasPath("memory")) {
            try {
                k.getBytes("memory");
                memory = k.getString("memory");
            } catch (ConfigException e) {
                throw bad(origin, "cluster.memory", "a size per node, e.g. 64M");
            }
        }
        long seed = 0;
        if (k.hasPath("seed")) {
            try {
                seed = k.getLong("seed");
            } catch (ConfigException e) {
                throw bad(origin, "cluster.seed", "a whole number");
            }
        }
        Config net = ConfigFactory.defaultReference().getConfig("symbiont.cluster.interconnect");
        if (k.hasPath("interconnect")) {
            try {
                net = k.getConfig("interconnect").withFallback(net);
            } catch (ConfigException e) {
                throw bad(origin, "cluster.interconnect", "a block with latency, bandwidth, gap and quantum");
            }
        }
        Interconnect interconnect = Interconnect.from(net, origin + ": cluster.interconnect");
        List<ClusterFault> faults = ClusterFault.read(c, origin);
        if (faults.isEmpty()) throw bad(origin, "faults", "at least one fault");
        for (int f = 0; f < faults.size(); f++) checkMembers(faults.get(f), origin, "faults[" + f + "]", members);
        return new ClusterScenario(nodes, members, k.getString("workload"), memory, seed, interconnect, faults);
    }

    /** The scenario's experiment, with its faults or without. */
    public Experiment experiment(String id, byte[] lwk, boolean withFaults) {
        Experiment e = Experiment.ofRanks(id, nodes, lwk, "lwk.bin", workload,
                r -> "memory = " + ConfigUtil.quoteString(memory) + "\nseed = " + (seed + r), "", interconnect);
        return withFaults ? e.withFaults(faults) : e;
    }

    private static void checkMembers(ClusterFault f, String origin, String where, int members) {
        String field = where + (f instanceof ClusterFault.KillMember ? ".member" : ".members");
        for (String m : f.members()) {
            if (m.contains(":") || Integer.parseInt(m) >= members) {
                throw bad(origin, field, "member indices from 0 to " + (members - 1) + " (the scenario's members run in this process"
                        + " on ports of their own), got " + m);
            }
        }
        if (f instanceof ClusterFault.KillMember kill && kill.member().equals("0")) {
            throw bad(origin, field, "a member other than 0, which runs the experiment's coordinator");
        }
        if (f instanceof ClusterFault.Partition partition && partition.members().size() == members) {
            throw bad(origin, field, "some of the members, not all " + members + " (the others are the other side)");
        }
    }

    private static int whole(Config k, String origin, String key, int min, int max) {
        String expected = "a whole number from " + min + " to " + max;
        if (!k.hasPath(key)) throw bad(origin, "cluster." + key, expected);
        int value;
        try {
            value = k.getInt(key);
        } catch (ConfigException e) {
            throw bad(origin, "cluster." + key, expected + ", got " + k.getValue(key).render());
        }
        if (value < min || value > max) throw bad(origin, "cluster." + key, expected + ", got " + value);
        return value;
    }

    private static IllegalArgumentException bad(String origin, String path, String expected) {
        return new IllegalArgumentException(origin + ": " + path + ": expected " + expected);
    }
}
