package org.symbiont.cli;

import com.typesafe.config.ConfigUtil;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.Coordinator;
import org.symbiont.cluster.Experiment;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.Interconnect;
import org.symbiont.cluster.NodeResult;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;

/**
 * The cluster member a cluster experiment runs from: one that joins a running cluster
 * (--cluster-seed), or a one-member cluster of its own in this process. It builds experiments of
 * LWK nodes and runs them, showing their progress; closing it leaves the cluster.
 */
final class ClusterSession implements AutoCloseable {
    /** How long to wait for the member to join and for --members members to be up. */
    static final Duration MEMBERS_TIMEOUT = Duration.ofSeconds(60);
    /** The coordinator reports about once a second; a line every few seconds is enough to see a run move. */
    static final long PROGRESS_EVERY_NANOS = 5_000_000_000L;
    /** The guest's exit status through isa-debug-exit when its workload succeeded: (0 << 1) | 1. */
    static final int GUEST_SUCCESS = 1;

    /** The name the nodes boot the LWK under: the first word of its command line, the same on every run. */
    static final String KERNEL_NAME = "lwk.bin";

    private final ClusterOptions options;
    private final ActorSystem<Void> member;
    private final Interconnect interconnect;
    private final byte[] kernel = GuestImages.lwk();
    /** Experiment ids name sharding entities and their VMs' dispatchers: each run needs its own. */
    private final String idPrefix = Long.toString(System.currentTimeMillis(), 36);
    private int runs;
    /** Leaves the cluster if the command is interrupted (SIGINT, SIGTERM) while the session is open. */
    private final Thread leaveOnExit;

    private ClusterSession(ClusterOptions options, ActorSystem<Void> member) {
        this.options = options;
        this.member = member;
        this.leaveOnExit = new Thread(() -> SymbiontCluster.stop(member), "symbiont-experiment-leave");
        Runtime.getRuntime().addShutdownHook(leaveOnExit);
        this.interconnect = SymbiontCluster.interconnect(member);
    }

    /** Starts the member and waits for it (and --members in all) to be up. */
    static ClusterSession open(ClusterOptions options) {
        ActorSystem<Void> member = options.clusterSeed == null
                ? ClusterNodeCommand.startMember("127.0.0.1", 0, null)
                : ClusterNodeCommand.startMember(options.clusterHost, 0, options.clusterSeed);
        try {
            SymbiontCluster.awaitMembers(member, options.members, MEMBERS_TIMEOUT);
        } catch (IllegalStateException e) {
            SymbiontCluster.stop(member);
            throw new UserError(options.clusterSeed == null ? e.getMessage()
                    : "joining the cluster through " + options.clusterSeed + ": " + e.getMessage());
        }
        System.out.println(options.clusterSeed == null ? "cluster: one member in this process (" + SymbiontCluster.address(member) + ")"
                : "cluster: member " + SymbiontCluster.address(member) + " joined through " + options.clusterSeed
                        + " (" + options.members + " member(s) up)");
        return new ClusterSession(options, member);
    }

    /**
     * An experiment of {@code nodes} LWK nodes: rank r runs {@code workload rank=r nranks=nodes}
     * in a VM of --node-memory with its own seed, configured further by {@code vmExtras} (HOCON),
     * its interconnect NIC reached through the VMM's trap or, with {@code nicPassthrough}, directly.
     */
    Experiment lwkExperiment(String name, int nodes, String workload, String vmExtras, boolean nicPassthrough) {
        String id = name + "-" + idPrefix + "-" + (++runs);
        String memory = ConfigUtil.quoteString(options.nodeMemory);
        return Experiment.ofRanks(id, nodes, kernel, KERNEL_NAME, workload,
                r -> "memory = " + memory + "\nseed = " + options.nodeSeed(r) + "\n" + vmExtras, "passthrough = " + nicPassthrough,
                interconnect);
    }

    /** A finished run: rank 0's result line and the experiment's figures. */
    record Run(ResultLine rank0, ExperimentResult result) {
        double wallSeconds() {
            return result.wallNanos() / 1e9;
        }
    }

    /**
     * Runs {@code experiment}, showing its progress every few seconds on lines of their own after
     * the caller's start of a line (which its result then continues, indented, on a new one); fails
     * unless every node's workload succeeded and rank 0 printed its result line.
     */
    Run run(Experiment experiment, String label) {
        long[] lastShown = {System.nanoTime()};
        boolean[] shown = {false};
        ExperimentResult r = SymbiontCluster.run(member, experiment, p -> {
            long now = System.nanoTime();
            if (now - lastShown[0] < PROGRESS_EVERY_NANOS || p.finished() == p.nodes()) return;
            lastShown[0] = now;
            shown[0] = true;
            System.out.printf(Locale.ROOT, "%n      ... %.2f ms virtual, %,d windows, %d of %d nodes done, %.0f s wall",
                    p.virtualNanos() / 1e6, p.windows(), p.finished(), p.nodes(), p.wallNanos() / 1e9);
            System.out.flush();
        });
        if (shown[0]) System.out.printf("%n      ");
        if (!r.succeeded()) throw new ExperimentFailed(label + ": the experiment stopped: " + r.failure());
        for (NodeResult n : r.nodes()) {
            if (n.guestStatus() == null || n.guestStatus() != GUEST_SUCCESS) {
                throw new ExperimentFailed(label + ": node " + n.name() + "'s workload failed (guest exit status " + n.guestStatus()
                        + "); its console ended:\n" + tail(n.console()));
            }
        }
        NodeResult first = r.nodes().getFirst();
        ResultLine line = ResultLine.find(first.console()).orElseThrow(() -> new ExperimentFailed(
                label + ": node " + first.name() + " printed no result line; its console ended:\n" + tail(first.console())));
        return new Run(line, r);
    }

    private static String tail(String console) {
        List<String> lines = console.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
    }

    @Override
    public void close() {
        Runtime.getRuntime().removeShutdownHook(leaveOnExit);
        SymbiontCluster.stop(member);
    }
}
