package org.symbiont.cli;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import org.symbiont.vmm.config.VmConfig;
import picocli.CommandLine.Option;

/** The options every cluster experiment takes: which node counts, where it runs, each node's memory and seed, where results go. */
final class ClusterOptions {
    /** MAC addresses give a node's rank 16 bits (02:4c:57:4b:HI:LO). */
    static final int MOST_NODES = 65_535;

    @Option(names = "--nodes", split = ",", paramLabel = "N,N,...", description = "The node counts to run (default: the experiment's).")
    List<Integer> nodes;

    @Option(names = "--max-nodes", paramLabel = "N", description = "Leave out node counts above N.")
    Integer maxNodes;

    @Option(names = "--cluster-seed", paramLabel = "HOST:PORT", description = "Join the running cluster (symbiont cluster-node) through this member and run there; without it a one-member cluster runs in this process.")
    String clusterSeed;

    @Option(names = "--cluster-host", paramLabel = "HOST", description = "The address this member listens on when it joins a cluster (default: ${DEFAULT-VALUE}).", defaultValue = "127.0.0.1")
    String clusterHost;

    @Option(names = "--members", paramLabel = "N", description = "With --cluster-seed: wait until N members (this one included) are up (default: ${DEFAULT-VALUE}).", defaultValue = "1")
    int members;

    @Option(names = "--node-memory", paramLabel = "SIZE", description = "Guest RAM of each simulated node (default: what the experiment's workload needs: 4M for noise, 32M for scaling).")
    String nodeMemory;

    @Option(names = "--seed", paramLabel = "N", description = "Each node's VM seed is derived from this and the node's rank (default: ${DEFAULT-VALUE}).", defaultValue = "1")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", description = "Directory for the CSV and SVG files (default: ${DEFAULT-VALUE}).", defaultValue = "results")
    Path out;

    /** The node counts to run, ascending: the ones asked for (or {@code defaults}) up to --max-nodes. */
    List<Integer> nodeCounts(List<Integer> defaults) {
        List<Integer> asked = nodes == null ? defaults : nodes;
        for (int n : asked) {
            if (n < 1 || n > MOST_NODES) throw new UserError("--nodes: each count must be from 1 to " + MOST_NODES + ", got " + n);
        }
        if (maxNodes != null && maxNodes < 1) throw new UserError("--max-nodes must be at least 1, got " + maxNodes);
        List<Integer> counts = asked.stream().distinct().sorted().filter(n -> maxNodes == null || n <= maxNodes).toList();
        if (counts.isEmpty()) throw new UserError("no node counts left to run: --nodes " + asked + " and --max-nodes " + maxNodes);
        return counts;
    }

    /** Checks the options; {@code workloadMemory} is the guest RAM a node gets unless --node-memory says otherwise. */
    void check(String workloadMemory) {
        if (nodeMemory == null) nodeMemory = workloadMemory;
        if (members < 1) throw new UserError("--members must be at least 1, got " + members);
        if (members > 1 && clusterSeed == null) throw new UserError("--members " + members + " needs --cluster-seed (a cluster to join)");
        if (clusterSeed != null) ClusterNodeCommand.checkSeed(clusterSeed, "--cluster-seed");
        // The VMM's own rules for a VM's memory, before the cluster starts (a VmConfigException is a user error).
        VmConfig.from(ConfigFactory.empty().withValue("memory", ConfigValueFactory.fromAnyRef(nodeMemory))
                .withValue("kernel.file", ConfigValueFactory.fromAnyRef(ClusterSession.KERNEL_NAME)), "--node-memory");
    }

    /**
     * In a cluster of this process alone, every node's guest RAM is allocated here (each VM's
     * memory is one preallocated block): more nodes than the host's memory holds is a mistake
     * to report before the first run, not an allocation failure hours in.
     */
    void checkFitsInThisHost(int largestCount) {
        if (clusterSeed != null) return;
        long perNode = ConfigFactory.empty().withValue("memory", ConfigValueFactory.fromAnyRef(nodeMemory)).getBytes("memory");
        long host = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        if (perNode * largestCount > host) {
            throw new UserError(largestCount + " nodes of " + nodeMemory + " guest RAM need " + (perNode * largestCount >> 20)
                    + " MiB, more than this host's " + (host >> 20) + " MiB: leave out the largest counts (--max-nodes), give"
                    + " the nodes less memory (--node-memory) or spread them over a cluster (--cluster-seed)");
        }
    }

    /** The VM seed of the node of rank {@code rank}: --seed and the rank mixed by SplitMix64's finalizer, not negative. */
    long nodeSeed(int rank) {
        long z = seed * 0x9E3779B97F4A7C15L + rank;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }
}
