package org.symbiont.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.Experiment;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.Interconnect;
import org.symbiont.cluster.NodeResult;
import org.symbiont.cluster.NodeSpec;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;

/**
 * How fast a simulated cluster runs in one JVM, and what its time synchronization costs. At each
 * node count, on a one-member cluster in this process:
 *
 * <ul>
 *   <li>the noise experiment's loop without noise ({@code allreduce} over every node, at 10
 *       cycles per instruction): simulated node-seconds per wall second, guest instructions per
 *       second summed over nodes, windows of virtual time (quanta, each a barrier) per second;
 *   <li>the same loop on every node alone ({@code nranks=1}: no frames), synchronized in windows
 *       as cluster nodes and, side by side, run free as independent VMs: the share of the
 *       synchronized run's wall time that the windows' barriers cost is 1 − free / synchronized.
 * </ul>
 * Medians of {@code runs} runs each.
 */
final class ClusterBenchmark {
    private ClusterBenchmark() {}

    private static final String LOOP = "allreduce iters=" + NoiseExperiment.DEFAULT_ITERS + " compute=" + NoiseExperiment.DEFAULT_COMPUTE + " count=4";

    static void run(List<Integer> nodeCounts, int runs, String nodeMemory) {
        ActorSystem<Void> member = ClusterNodeCommand.startMember("127.0.0.1", 0, null);
        try {
            SymbiontCluster.awaitMembers(member, 1, Duration.ofSeconds(60));
            Interconnect net = SymbiontCluster.interconnect(member);
            String vm = "memory = " + nodeMemory + "\ncycles-per-instruction = " + NoiseExperiment.CYCLES_PER_INSTRUCTION;
            System.out.printf(Locale.ROOT, "cluster: one member in this JVM, %d host threads; nodes run `%s` at %s; window %d ns;"
                    + " %d runs, medians.%n", Runtime.getRuntime().availableProcessors(), LOOP, vm.replace('\n', ' '),
                    net.quantumNanos(), runs);
            System.out.println("| nodes | node-s / wall s | guest MIPS (sum) | windows / s | node-windows / s | wall s (allreduce) "
                    + "| wall s alone, synchronized | wall s alone, free | barrier share |");
            System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            int id = 0;
            String prefix = Long.toString(System.currentTimeMillis(), 36);
            for (int n : nodeCounts) {
                double[] nodeSeconds = new double[runs], mips = new double[runs], windows = new double[runs],
                        nodeWindows = new double[runs], wall = new double[runs], aloneSync = new double[runs], aloneFree = new double[runs];
                for (int k = 0; k < runs; k++) {
                    ExperimentResult r = check(SymbiontCluster.run(member, Experiment.ofRanks("bench-" + prefix + "-" + id++, n,
                            GuestImages.lwk(), ClusterSession.KERNEL_NAME, LOOP, rank -> vm, "", net), p -> { }));
                    double seconds = r.wallNanos() / 1e9;
                    long retired = 0, virtualNanos = 0;
                    for (NodeResult x : r.nodes()) {
                        retired += x.retired();
                        virtualNanos += x.virtualNanos();
                    }
                    wall[k] = seconds;
                    nodeSeconds[k] = virtualNanos / 1e9 / seconds;
                    mips[k] = retired / seconds / 1e6;
                    windows[k] = r.windows() / seconds;
                    nodeWindows[k] = r.nodeWindows() / seconds;
                    Experiment alone = Experiment.ofNodes("bench-" + prefix + "-" + id++, n, GuestImages.lwk(), ClusterSession.KERNEL_NAME,
                            rank -> LOOP, rank -> vm, "", net);
                    aloneSync[k] = check(SymbiontCluster.run(member, alone, p -> { })).wallNanos() / 1e9;
                    aloneFree[k] = free(alone);
                }
                double sync = BenchCommand.median(aloneSync), free = BenchCommand.median(aloneFree);
                System.out.printf(Locale.ROOT, "| %d | %.5f | %.1f | %.0f | %.0f | %.1f | %.1f | %.1f | %.0f%% |%n", n,
                        BenchCommand.median(nodeSeconds), BenchCommand.median(mips), BenchCommand.median(windows),
                        BenchCommand.median(nodeWindows), BenchCommand.median(wall), sync, free, 100 * (1 - free / sync));
            }
        } finally {
            SymbiontCluster.stop(member);
        }
    }

    private static ExperimentResult check(ExperimentResult r) {
        if (!r.succeeded()) throw new ExperimentFailed("the benchmark's experiment stopped: " + r.failure());
        return r;
    }

    /** The experiment's nodes as independent VMs in one actor system, each in its own time; wall seconds until all ended. */
    private static double free(Experiment e) {
        List<VmSpec> specs = new ArrayList<>();
        for (NodeSpec s : e.nodes()) specs.add(s.vmSpec(new CharBackends.Capture()));
        long t0 = System.nanoTime();
        List<VmReport> reports = Vms.runAll(specs, Duration.ofHours(1));
        double seconds = (System.nanoTime() - t0) / 1e9;
        for (VmReport r : reports) {
            if (r.reason() != VmReport.Reason.GUEST_EXIT) throw new ExperimentFailed(r.vm() + " ended with " + r.reason() + ": " + r.message());
        }
        return seconds;
    }
}
