package org.symbiont.cli;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.symbiont.cli.report.ResultTable;
import org.symbiont.cli.report.SvgChart;
import org.symbiont.guests.ResultLine;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * SwapBypass against guest swapping, as the SymCall paper evaluated it: STREAM and GUPS with a
 * working set swept from below to well above guest RAM, three ways — the guest swapping to its
 * virtual disk (shadow paging), SwapBypass (the VMM mapping swapped pages straight from its copy
 * of the swap disk), and the ideal (guest RAM large enough that nothing swaps). The measure is
 * the whole run's time (boot included, the same in every way), virtual and wall; every run's exact
 * result must equal the ideal one.
 */
final class SwapBypassExperiment {
    private SwapBypassExperiment() {}

    static final int GUEST_MIB = 64;

    record Way(String label, String hocon) {}

    static final List<Way> WAYS = List.of(
            new Way("guest swapping", "memory = " + GUEST_MIB + "M\npaging { mode = shadow, strategy = vtlb }\n"
                    + "symbiotic.enabled = true\ndevices += { name = swap0, type = virtio-blk, size = 512M }"),
            new Way("SwapBypass", "memory = " + GUEST_MIB + "M\npaging { mode = shadow, strategy = vtlb }\n"
                    + "symbiotic { enabled = true, swapbypass = true }\ndevices += { name = swap0, type = virtio-blk, size = 512M }"),
            new Way("ideal (RAM large enough)", "memory = 1G\npaging { mode = shadow, strategy = vtlb }\nsymbiotic.enabled = true"));

    /** Working sets in MiB: below, at and above guest RAM. */
    static final int[] WORKING_SET_MIB = {16, 32, 64, 128};

    static String cmdline(String workload, int mib, double scale) {
        return switch (workload) {
            // Three arrays of doubles.
            case "stream" -> "stream n=" + (mib * (1L << 20) / 24) + " ntimes=2";
            // A table of 2^logn words.
            default -> "gups logn=" + (Integer.numberOfTrailingZeros(mib) + 17) + " updates=" + Math.max(1000, Math.round(500_000 * scale));
        };
    }

    /** Runs the experiment with the LWK image at {@code kernel}, writing its files to {@code outDir}. */
    static void run(Path kernel, Path outDir, double scale) throws IOException {
        ResultTable raw = new ResultTable(List.of("workload", "working set (MiB)", "way", "virtual seconds", "wall seconds",
                "#PF injected into the guest", "bypassed faults"));
        List<String> workloads = List.of("stream", "gups");
        double[][][] seconds = new double[workloads.size()][WAYS.size()][WORKING_SET_MIB.length];
        for (int w = 0; w < workloads.size(); w++) {
            for (int i = 0; i < WORKING_SET_MIB.length; i++) {
                String cmd = cmdline(workloads.get(w), WORKING_SET_MIB[i], scale);
                String exact = null;
                for (int k = WAYS.size() - 1; k >= 0; k--) {
                    Way way = WAYS.get(k);
                    System.out.printf(Locale.ROOT, "  %-6s %4d MiB  %-26s ", workloads.get(w), WORKING_SET_MIB[i], way.label());
                    CharBackends.Capture console = new CharBackends.Capture();
                    VmConfig config = VmConfig.from(ConfigFactory.parseString(way.hocon() + "\nname = swapbypass\nkernel.file = \""
                            + kernel + "\"\nkernel.append = \"" + cmd + " quiet\""), "swapbypass experiment");
                    VmReport r = Vms.runAll(List.of(VmSpec.prepare(config, VmExtensions.forVm(), console)), Duration.ofMinutes(60)).getFirst();
                    ResultLine result = ResultLine.find(console.text()).orElseThrow(() -> new IllegalStateException(
                            cmd + " under " + way.label() + " printed no result line: " + r.reason() + " " + r.message() + "\n" + console.text()));
                    if (exact == null) exact = result.exact();
                    else if (!exact.equals(result.exact())) {
                        throw new IllegalStateException(cmd + " under " + way.label() + " printed \"" + result.exact() + "\", the ideal \"" + exact + "\"");
                    }
                    double s = r.virtualNanos() / 1e9;
                    seconds[w][k][i] = s;
                    System.out.printf(Locale.ROOT, "%.4f s virtual, %.2f s wall%n", s, r.wallNanos() / 1e9);
                    raw.add(workloads.get(w), WORKING_SET_MIB[i], way.label(), s, r.wallNanos() / 1e9,
                            r.paging().guestFaultsInjected(), r.swapBypass() == null ? 0 : r.swapBypass().bypassedFaults());
                }
            }
        }
        System.out.println();
        System.out.print(raw.markdown());
        raw.writeCsv(outDir.resolve("swapbypass.csv"));
        for (int w = 0; w < workloads.size(); w++) {
            double[][] xs = new double[WAYS.size()][WORKING_SET_MIB.length];
            for (double[] row : xs) for (int i = 0; i < row.length; i++) row[i] = WORKING_SET_MIB[i];
            SvgChart.lines(workloads.get(w) + ": working set against guest RAM (" + GUEST_MIB + " MiB)", "working set (MiB)",
                    "run time (virtual s)", true, true, WAYS.stream().map(Way::label).toList(), xs, seconds[w])
                    .write(outDir.resolve("swapbypass-" + workloads.get(w) + ".svg"));
        }
        System.out.printf("%nwrote %s and the plots swapbypass-stream.svg, swapbypass-gups.svg%n", outDir.resolve("swapbypass.csv"));
    }
}
