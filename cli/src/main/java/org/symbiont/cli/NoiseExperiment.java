package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.symbiont.cli.report.ResultTable;
import org.symbiont.cli.report.SvgChart;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * OS noise at scale, after Ferreira, Bridges and Brightwell (SC08): the same 2.5% of every
 * node's CPU taken as rare long detours or as frequent short ones, against a bulk-synchronous
 * loop (a compute phase, then an allreduce and a barrier) on 1 to 1,024 nodes. Every iteration
 * waits for the slowest node, so a detour on any node delays all: at scale the rare long detours
 * hurt far more than their 2.5%, the frequent short ones about as much. The measure is rank 0's
 * virtual time for the loop; the slowdown is against the run without noise at the same node count.
 */
@Command(name = "noise", mixinStandardHelpOptions = true, sortOptions = false,
        description = "OS noise at scale (Ferreira et al., SC08): an allreduce loop on 1 to 1,024 simulated nodes under no noise and "
                + "under 2.5% noise as 10 Hz x 2500 us, 100 Hz x 250 us and 1000 Hz x 25 us; slowdown against no noise.")
final class NoiseExperiment implements Callable<Integer> {
    static final List<Integer> DEFAULT_NODES = List.of(1, 4, 16, 64, 256, 1024);

    /**
     * Ten virtual cycles per instruction: the guest runs a tenth of the instructions it would
     * for the same virtual time, which keeps 1,024 simulated nodes tractable on a 2-core host.
     * What matters against the noise is the length of a compute phase in virtual time (about
     * 1 ms), not how many instructions fill it.
     */
    static final int CYCLES_PER_INSTRUCTION = 10;

    /** Guest RAM of a node: the LWK, its message buffers and the loop's few pages fit in 4 MiB. */
    static final String NODE_MEMORY = "4M";

    /** Flops of one compute phase: 1.0 ms of virtual time at 10 cycles per instruction (measured: 1,001 us). */
    static final long DEFAULT_COMPUTE = 80_000;

    /** Iterations of the loop: enough to meet the 10 Hz detours (one every 100 ms) now and then at 1 node, always at scale. */
    static final int DEFAULT_ITERS = 15;

    /** A noise pattern: its label and its noise sources (HOCON, phase filled in). */
    record Pattern(String label, int hertz, int micros) {
        String hocon(String phase) {
            return hertz == 0 ? "noise = []" : "noise = [{ frequency = " + hertz + ", duration = " + micros + "us, phase = " + phase + " }]";
        }
    }

    /** No noise, then 2.5% of the CPU in each pattern. */
    static final List<Pattern> PATTERNS = List.of(
            new Pattern("none", 0, 0),
            new Pattern("10 Hz x 2500 us", 10, 2500),
            new Pattern("100 Hz x 250 us", 100, 250),
            new Pattern("1000 Hz x 25 us", 1000, 25));

    @Mixin
    ClusterOptions cluster;

    @Option(names = "--phase", paramLabel = "random|synchronized", description = "Noise phase: each node at its own point of the period (random) or every node at the same time (default: ${DEFAULT-VALUE}).", defaultValue = "random")
    String phase;

    @Option(names = "--iters", paramLabel = "N", description = "Iterations of the loop (default: ${DEFAULT-VALUE}).", defaultValue = "" + DEFAULT_ITERS)
    int iters;

    @Option(names = "--compute", paramLabel = "FLOPS", description = "Flops of each compute phase; 80000 is 1 ms of virtual time (default: ${DEFAULT-VALUE}).", defaultValue = "" + DEFAULT_COMPUTE)
    long compute;

    @Override
    public Integer call() throws IOException {
        cluster.check(NODE_MEMORY);
        if (!phase.equals("random") && !phase.equals("synchronized")) throw new UserError("--phase must be random or synchronized, got " + phase);
        if (iters < 1 || iters > 100_000) throw new UserError("--iters must be from 1 to 100000, got " + iters);
        if (compute < 2 || compute > 1_000_000_000L) throw new UserError("--compute must be from 2 to 1000000000 flops, got " + compute);
        List<Integer> counts = cluster.nodeCounts(DEFAULT_NODES);
        cluster.checkFitsInThisHost(counts.getLast());
        String workload = "allreduce iters=" + iters + " compute=" + compute + " count=4";
        System.out.println("noise experiment: `" + workload + "` on " + counts + " nodes, noise phase " + phase
                + "; each pattern takes 2.5% of every node's CPU.");
        System.out.println("  cycles-per-instruction = " + CYCLES_PER_INSTRUCTION + ": keeps 1,024 simulated nodes tractable on 2 host cores;"
                + " a compute phase of " + compute + " flops lasts about " + String.format(Locale.ROOT, "%.2f", compute / (double) DEFAULT_COMPUTE)
                + " ms of virtual time, which is what matters against the noise periods.");
        ResultTable table = new ResultTable(List.of("nodes", "noise", "virtual seconds", "slowdown %", "median iteration us",
                "max iteration us", "wall seconds"));
        double[][] slowdown = new double[PATTERNS.size() - 1][counts.size()];
        try (ClusterSession session = ClusterSession.open(cluster)) {
            for (int c = 0; c < counts.size(); c++) {
                int nodes = counts.get(c);
                double baseline = Double.NaN;
                for (int p = 0; p < PATTERNS.size(); p++) {
                    Pattern pattern = PATTERNS.get(p);
                    String label = nodes + " nodes, noise " + pattern.label();
                    System.out.printf(Locale.ROOT, "  %5d nodes  noise %-16s  ", nodes, pattern.label());
                    System.out.flush();
                    ClusterSession.Run run = session.run(session.lwkExperiment("noise", nodes, workload,
                            "cycles-per-instruction = " + CYCLES_PER_INSTRUCTION + "\n" + pattern.hocon(phase), true), label);
                    double seconds = run.rank0().measuredNumber("seconds");
                    if (p == 0) baseline = seconds;
                    double percent = 100 * (seconds / baseline - 1);
                    if (p > 0) slowdown[p - 1][c] = percent;
                    System.out.printf(Locale.ROOT, "%.6f s virtual  %+.2f%%  (%.1f s wall)%n", seconds, percent, run.wallSeconds());
                    table.add(nodes, pattern.label(), seconds, percent, run.rank0().measuredNumber("median_us"),
                            run.rank0().measuredNumber("max_us"), run.wallSeconds());
                }
            }
        }
        System.out.println();
        System.out.print(table.markdown());
        Path csv = cluster.out.resolve("noise.csv"), svg = cluster.out.resolve("noise.svg");
        table.writeCsv(csv);
        double[][] xs = new double[PATTERNS.size() - 1][counts.size()];
        for (double[] row : xs) for (int c = 0; c < row.length; c++) row[c] = counts.get(c);
        // Slowdowns span from about 2.5% to several times the loop at scale: a log axis shows both
        // ends, unless some run met no detour at all (0%, which a log axis cannot show).
        boolean logSlowdown = Arrays.stream(slowdown).flatMapToDouble(Arrays::stream).allMatch(v -> v > 0);
        SvgChart.lines("Slowdown of an allreduce loop under 2.5% noise (" + phase + " phase)", "nodes",
                "slowdown vs no noise (%" + (logSlowdown ? ", log scale)" : ")"), true, logSlowdown,
                PATTERNS.subList(1, PATTERNS.size()).stream().map(Pattern::label).toList(), xs, slowdown).write(svg);
        System.out.printf("%nwrote %s and %s%n", csv, svg);
        return 0;
    }
}
