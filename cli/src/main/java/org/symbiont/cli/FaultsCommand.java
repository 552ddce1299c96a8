package org.symbiont.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.symbiont.cluster.ClusterScenario;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code symbiont faults SCENARIO}: runs a VM configuration once without its faults and once with
 * them, and reports the faults applied, how the guest ended, whether the exact part of its result
 * line survived, and the console lines that differ; {@code --replay N} runs the faulted VM N more
 * times and checks that each run is identical (console and virtual time). A scenario with a
 * {@code cluster} block is a simulated cluster's, run by {@link ClusterFaults}.
 */
@Command(name = "faults", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run a fault-injection scenario (a VM configuration with faults and a seed, or a simulated cluster's) and report what the guests saw.",
        footer = {"", "A scenario without kernel.file runs the LWK image (its command line in kernel.append).",
                "A scenario with a cluster { nodes, members, workload, ... } block runs LWK nodes on that many members in this process,",
                "with faults kill-member (member) and partition (members, duration); rank 0's result line is compared.", "",
                "Exit status:",
                "  0  the guest's result line survived the faults (and every replay was identical)",
                "  1  it did not, or a replay differed",
                "  2  a usage or scenario error", ""})
final class FaultsCommand implements Callable<Integer> {
    @Parameters(paramLabel = "SCENARIO", description = "The scenario: a VM configuration file (HOCON) with a faults list and a seed, or a cluster scenario.")
    Path scenario;

    @Option(names = "--replay", paramLabel = "N", description = "Run the faulted VM N more times and check each run is identical (default 0).")
    int replays;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Wall-clock limit per run (default ${DEFAULT-VALUE}): a guest a fault left waiting forever is stopped.",
            defaultValue = "120")
    double timeout;

    /** One run: the report and the console. */
    record Run(VmReport report, String console) {
        List<String> lines() {
            return console.lines().toList();
        }

        /** The exact part of the guest's result line, or null without one. */
        String result() {
            return ResultLine.find(console).map(ResultLine::exact).orElse(null);
        }
    }

    @Override
    public Integer call() throws IOException {
        if (replays < 0 || replays > 1000) throw new UserError("--replay must be between 0 and 1000, got " + replays);
        if (!(timeout > 0)) throw new UserError("--timeout must be positive, got " + timeout);
        Config cluster = clusterScenario();
        if (cluster != null) return new ClusterFaults(scenario, cluster, timeout).run(replays);
        Path lwk = Files.createTempFile("symbiont-faults-lwk", ".bin");
        try {
            VmConfig faulted = load(lwk);
            VmConfig clean = faulted.withFaults(List.of());
            Run reference = run(clean);
            Run run = run(faulted);
            report(faulted, reference, run);
            boolean survived = reference.result() != null && reference.result().equals(run.result());
            boolean replayed = true;
            for (int k = 1; k <= replays; k++) {
                String difference = difference(run, run(faulted));
                if (difference != null) {
                    System.out.println("replay " + k + " of " + replays + ": differs (" + difference + ")");
                    replayed = false;
                    break;
                }
            }
            if (replays > 0 && replayed) System.out.println("replay: " + replays + " run(s) identical (console, virtual time, faults)");
            return survived && replayed ? 0 : 1;
        } finally {
            Files.deleteIfExists(lwk);
        }
    }

    /** The scenario file's HOCON when it is a cluster scenario; null otherwise (or when it does not parse: VmConfig says why). */
    private Config clusterScenario() {
        try {
            Config c = ConfigFactory.parseFile(scenario.toFile(), ConfigParseOptions.defaults().setAllowMissing(false)).resolve();
            return ClusterScenario.isCluster(c) ? c : null;
        } catch (ConfigException e) {
            return null;
        }
    }

    /** The scenario; without a kernel it runs the LWK image, written to {@code lwk}. */
    private VmConfig load(Path lwk) throws IOException {
        VmConfig c = VmConfig.load(scenario);
        if (c.kernel() == null) {
            Files.write(lwk, GuestImages.lwk());
            c = VmConfig.load(scenario, ConfigFactory.empty().withValue("kernel.file", ConfigValueFactory.fromAnyRef(lwk.toString())));
        }
        if (c.faults().isEmpty()) throw new UserError(scenario + ": faults: expected at least one fault");
        if (c.mode() != VmConfig.ExecutionMode.DETERMINISTIC) {
            throw new UserError(scenario + ": mode: expected deterministic (a parallel run cannot be replayed), got parallel");
        }
        return c;
    }

    private Run run(VmConfig config) {
        CharBackends.Capture console = new CharBackends.Capture();
        VmReport r = Vms.runAll(List.of(VmSpec.prepare(config, VmExtensions.forVm(), console)),
                Duration.ofNanos((long) (timeout * 1e9))).getFirst();
        if (r.reason() == VmReport.Reason.CONFIG_ERROR) throw new UserError(r.message());
        return new Run(r, console.text());
    }

    private void report(VmConfig config, Run reference, Run run) {
        System.out.println("scenario " + scenario + " (seed " + config.seed() + ")");
        System.out.println("faults applied: " + run.report().faults().size());
        for (VmReport.AppliedFault f : run.report().faults()) {
            System.out.printf(Locale.ROOT, "  %,15d ns  %-19s %s%n", f.nanos(), f.kind(), f.detail());
        }
        System.out.println("without faults: " + ending(reference.report()));
        System.out.println("with faults:    " + ending(run.report()));
        printResult(reference.result(), run.result(), "the fault-free run printed no RESULT line to compare with");
        List<String> diff = ConsoleDiff.of(reference.lines(), run.lines());
        System.out.println("console lines that differ: " + diff.size());
        for (String line : diff) System.out.println("  " + line);
    }

    private static String ending(VmReport r) {
        String how = r.reason().name().toLowerCase(Locale.ROOT).replace('_', ' ');
        if (r.reason() == VmReport.Reason.GUEST_EXIT && r.guestStatus() != null) how += ", status " + r.guestStatus();
        else if (r.message() != null) how += ": " + r.message().lines().findFirst().orElse("");
        return how + String.format(Locale.ROOT, " at %,d ns of virtual time", r.virtualNanos());
    }

    /** What differs between two runs of the same faulted VM, or null when they are identical. */
    private static String difference(Run first, Run again) {
        if (first.report().virtualNanos() != again.report().virtualNanos()) {
            return "virtual time " + first.report().virtualNanos() + " ns, then " + again.report().virtualNanos() + " ns";
        }
        if (!first.console().equals(again.console())) return "the console output";
        if (!first.report().faults().equals(again.report().faults())) return "the faults applied";
        if (first.report().reason() != again.report().reason() || !Objects.equals(first.report().guestStatus(), again.report().guestStatus())) {
            return "how the guest ended";
        }
        return null;
    }

    /** The lines one console has and the other has not, in order ("- " the fault-free run's, "+ " the faulted run's). */
    static final class ConsoleDiff {
        /** Longer consoles are compared line by line at the same positions (the table would be too large). */
        private static final int MAX_LINES = 4000;

        private ConsoleDiff() {}

        static List<String> of(List<String> a, List<String> b) {
            List<String> out = new ArrayList<>();
            if (a.size() > MAX_LINES || b.size() > MAX_LINES) {
                for (int k = 0; k < Math.max(a.size(), b.size()); k++) {
                    String x = k < a.size() ? a.get(k) : null, y = k < b.size() ? b.get(k) : null;
                    if (Objects.equals(x, y)) continue;
                    if (x != null) out.add("- " + x);
                    if (y != null) out.add("+ " + y);
                }
                return out;
            }
            // Longest common subsequence from the end, then a walk from the start.
            int[][] common = new int[a.size() + 1][b.size() + 1];
            for (int i = a.size() - 1; i >= 0; i--) {
                for (int j = b.size() - 1; j >= 0; j--) {
                    common[i][j] = a.get(i).equals(b.get(j)) ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
                }
            }
            int i = 0, j = 0;
            while (i < a.size() || j < b.size()) {
                if (i < a.size() && j < b.size() && a.get(i).equals(b.get(j))) {
                    i++;
                    j++;
                } else if (i < a.size() && (j == b.size() || common[i + 1][j] >= common[i][j + 1])) {
                    out.add("- " + a.get(i++));
                } else {
                    out.add("+ " + b.get(j++));
                }
            }
            return out;
        }
    }

    /** Whether the exact part of the result line survived the faults ({@code expected} null: nothing to compare, says {@code noReference}). */
    static void printResult(String expected, String actual, String noReference) {
        if (expected == null) {
            System.out.println("result: " + noReference);
        } else if (expected.equals(actual)) {
            System.out.println("result: survived (" + expected + ")");
        } else {
            System.out.println("result: changed");
            System.out.println("  without faults: " + expected);
            System.out.println("  with faults:    " + (actual == null ? "(no RESULT line)" : actual));
        }
    }
}
