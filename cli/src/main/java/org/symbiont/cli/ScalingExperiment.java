package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.symbiont.cli.report.ResultTable;
import org.symbiont.cli.report.SvgChart;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * HPCCG weak scaling, native against virtualized, after Lange et al. (VEE 2011): Palacios on Red
 * Storm stayed within 5% of native at scale with three techniques used together — the
 * interconnect NIC passed through (no trap per doorbell), the paging method chosen for the
 * workload (shadow paging for this single-address-space LWK workload: the paging experiment
 * found it best, see docs/results/paging.csv) and controlled preemption (the VMM's own periodic
 * work kept off the guest's CPU). Each is turned off in turn, then all of them. The measure is
 * rank 0's virtual time for the CG loop; the overhead is against native at the same node count.
 */
@Command(name = "scaling", mixinStandardHelpOptions = true, sortOptions = false,
        description = "HPCCG weak scaling (Lange et al., VEE 2011) on 1 to 16 simulated nodes: native, virtualized with NIC passthrough, "
                + "shadow paging and controlled preemption, each of them turned off in turn, and none of them; overhead against native.")
final class ScalingExperiment implements Callable<Integer> {
    static final List<Integer> DEFAULT_NODES = List.of(1, 2, 4, 8, 16);

    /** A VMM trap for an emulated device access or an injected interrupt: about 2 us at 2 GHz, as a Palacios exit with its device model. */
    static final long DEVICE_TRAP_CYCLES = 4000;

    /**
     * Guest RAM of a node: a 28 x 28 x 28 HPCCG rank with its halos (its matrix alone is about
     * 7 MiB) beside the LWK and its message buffers (16M is too little).
     */
    static final String NODE_MEMORY = "32M";

    /** How the nodes are virtualized: the cost of a trap, the NIC passed through or emulated, the paging method, the VMM's preemption. */
    record Configuration(String label, long deviceTrapCycles, boolean nicPassthrough, String paging, boolean preemption) {
        String hocon() {
            return "cost-model.device-trap = " + deviceTrapCycles + "\npaging { " + paging + " }\npreemption { enabled = " + preemption
                    + ", frequency = 100, duration = 50us }";
        }
    }

    static final String SHADOW = "mode = shadow, strategy = vtlb";
    static final String NESTED = "mode = nested";

    static final List<Configuration> CONFIGURATIONS = List.of(
            new Configuration("native", 0, false, "mode = native", false),
            new Configuration("virtualized", DEVICE_TRAP_CYCLES, true, SHADOW, false),
            new Configuration("no passthrough", DEVICE_TRAP_CYCLES, false, SHADOW, false),
            new Configuration("nested paging", DEVICE_TRAP_CYCLES, true, NESTED, false),
            new Configuration("uncontrolled preemption", DEVICE_TRAP_CYCLES, true, SHADOW, true),
            new Configuration("none of them", DEVICE_TRAP_CYCLES, false, NESTED, true));

    @Mixin
    ClusterOptions cluster;

    /*
     * 28 x 28 x 28 rows per rank hold about 7 MiB, beyond the reach of the vCPU's TLB (4 MiB), so
     * a TLB miss and what each paging method pays for it count, as in the paging experiment; 30
     * CG iterations take about 0.08 s of virtual time on one node.
     */
    @Option(names = "--grid", paramLabel = "N", description = "Each rank's grid is N x N x --planes (default: ${DEFAULT-VALUE}).", defaultValue = "28")
    int grid;

    @Option(names = "--planes", paramLabel = "N", description = "z planes per rank: the global grid, the ranks' subdomains stacked in z, grows with the node count (default: ${DEFAULT-VALUE}).", defaultValue = "28")
    int planes;

    @Option(names = "--max-iter", paramLabel = "N", description = "CG iterations (default: ${DEFAULT-VALUE}).", defaultValue = "30")
    int maxIter;

    @Override
    public Integer call() throws IOException {
        cluster.check(NODE_MEMORY);
        if (grid < 1 || grid > 256) throw new UserError("--grid must be from 1 to 256, got " + grid);
        if (planes < 1 || planes > 256) throw new UserError("--planes must be from 1 to 256, got " + planes);
        if (maxIter < 1 || maxIter > 100_000) throw new UserError("--max-iter must be from 1 to 100000, got " + maxIter);
        List<Integer> counts = cluster.nodeCounts(DEFAULT_NODES);
        cluster.checkFitsInThisHost(counts.getLast());
        System.out.println("scaling experiment: hpccg, a " + grid + " x " + grid + " x " + planes + " grid per rank, " + maxIter
                + " CG iterations, on " + counts + " nodes; native against virtualized.");
        ResultTable table = new ResultTable(List.of("nodes", "configuration", "virtual seconds", "overhead %", "mflops", "wall seconds"));
        double[][] overhead = new double[CONFIGURATIONS.size() - 1][counts.size()];
        try (ClusterSession session = ClusterSession.open(cluster)) {
            for (int c = 0; c < counts.size(); c++) {
                int nodes = counts.get(c);
                String workload = "hpccg nx=" + grid + " ny=" + grid + " nz=" + planes + " max_iter=" + maxIter;
                double nativeSeconds = Double.NaN;
                for (int k = 0; k < CONFIGURATIONS.size(); k++) {
                    Configuration config = CONFIGURATIONS.get(k);
                    System.out.printf(Locale.ROOT, "  %3d nodes  %-24s  ", nodes, config.label());
                    System.out.flush();
                    ClusterSession.Run run = session.run(session.lwkExperiment("scaling", nodes, workload, config.hocon(),
                            config.nicPassthrough()), nodes + " nodes, " + config.label());
                    double seconds = run.rank0().measuredNumber("seconds");
                    if (k == 0) nativeSeconds = seconds;
                    double percent = 100 * (seconds / nativeSeconds - 1);
                    if (k > 0) overhead[k - 1][c] = percent;
                    System.out.printf(Locale.ROOT, "%.6f s virtual  %+.2f%%  (%.1f s wall)%n", seconds, percent, run.wallSeconds());
                    table.add(nodes, config.label(), seconds, percent, run.rank0().measuredNumber("mflops"), run.wallSeconds());
                }
            }
        }
        System.out.println();
        System.out.print(table.markdown());
        Path csv = cluster.out.resolve("scaling.csv"), svg = cluster.out.resolve("scaling.svg");
        table.writeCsv(csv);
        double[][] xs = new double[CONFIGURATIONS.size() - 1][counts.size()];
        for (double[] row : xs) for (int c = 0; c < row.length; c++) row[c] = counts.get(c);
        List<String> series = new ArrayList<>();
        for (Configuration config : CONFIGURATIONS.subList(1, CONFIGURATIONS.size())) series.add(config.label());
        SvgChart.lines("HPCCG weak scaling: overhead of virtualization against native", "nodes", "overhead vs native (%)",
                true, false, series, xs, overhead).write(svg);
        System.out.printf("%nwrote %s and %s%n", csv, svg);
        return 0;
    }
}
