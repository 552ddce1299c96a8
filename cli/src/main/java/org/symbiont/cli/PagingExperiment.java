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
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.mmu.PagingStats;

/**
 * Virtual paging methods against each other, as the Palacios studies compared them: the LWK's
 * workloads in two shapes — one process (a single address space, as Catamount runs) and four
 * processes time-sliced on one CPU (an address-space switch every slice, as Linux/CNL does) —
 * under native paging (the baseline), shadow paging with both strategies and nested paging. The
 * measure is the workload's own time in virtual time (its result line's {@code seconds}), so the
 * modelled costs of exits, shadow faults, page-walk references and flushes are what differ; each
 * run is deterministic, so one run per cell is the answer. Every run's exact result must equal
 * the native one.
 */
final class PagingExperiment {
    private PagingExperiment() {}

    /** A paging configuration: its label and the VM configuration it needs. */
    record Mode(String label, String hocon) {}

    static final List<Mode> MODES = List.of(
            new Mode("native", "paging { mode = native }"),
            new Mode("shadow-vtlb", "paging { mode = shadow, strategy = vtlb }"),
            new Mode("shadow-cached", "paging { mode = shadow, strategy = cached }"),
            new Mode("nested", "paging { mode = nested }"));

    /** A workload in one shape. */
    record Shape(String label, String cmdline) {}

    /**
     * The shapes. Both workloads' working sets are larger than the reach of the vCPU's TLB (1,024
     * entries of 4 KiB per privilege: 4 MiB), so TLB misses — and what each paging method pays
     * for one — count: HPCCG at 28³ rows holds about 7 MiB, GUPS's table at 2²¹ words 16 MiB.
     */
    static List<Shape> shapes(double scale) {
        int n = Math.max(8, (int) Math.round(28 * Math.cbrt(scale)));
        long updates = Math.max(1000, Math.round(1_000_000 * scale));
        String hpccg = "hpccg nx=" + n + " ny=" + n + " nz=" + n + " max_iter=30";
        String gups = "gups logn=21 updates=" + updates;
        return List.of(
                new Shape("hpccg, 1 address space", hpccg),
                new Shape("hpccg, 4 processes, 1 ms slices", hpccg + " procs=4 slice=1000"),
                new Shape("gups, 1 address space", gups),
                new Shape("gups, 4 processes, 1 ms slices", gups + " procs=4 slice=1000"));
    }

    /** Runs the experiment with the LWK image at {@code kernel}, writing its files to {@code outDir}. */
    static void run(Path kernel, Path outDir, double scale) throws IOException {
        List<Shape> shapes = shapes(scale);
        double[][] seconds = new double[MODES.size()][shapes.size()];
        ResultTable raw = new ResultTable(List.of("workload", "paging", "virtual seconds", "overhead vs native",
                "shadow faults", "CR3 writes", "walk references", "wall seconds", "guest MIPS"));
        for (int s = 0; s < shapes.size(); s++) {
            Shape shape = shapes.get(s);
            String exact = null;
            for (int m = 0; m < MODES.size(); m++) {
                Mode mode = MODES.get(m);
                System.out.printf(Locale.ROOT, "  %-36s %-14s ", shape.label(), mode.label());
                Run r = run(kernel, shape, mode);
                if (exact == null) exact = r.result().exact();
                else if (!exact.equals(r.result().exact())) {
                    throw new IllegalStateException(shape.label() + " under " + mode.label() + " printed \"" + r.result().exact()
                            + "\", native paging \"" + exact + "\"");
                }
                seconds[m][s] = r.result().measuredNumber("seconds");
                double overhead = seconds[m][s] / seconds[0][s] - 1;
                System.out.printf(Locale.ROOT, "%.6f s virtual  %+.1f%%%n", seconds[m][s], 100 * overhead);
                PagingStats p = r.report().paging();
                raw.add(shape.label(), mode.label(), seconds[m][s], overhead, p.shadowFaults(), p.cr3Writes(), p.walkReferences(),
                        r.report().wallNanos() / 1e9, r.report().mips());
            }
        }
        ResultTable table = new ResultTable(overheadColumns());
        double[][] overheadPercent = new double[MODES.size() - 1][shapes.size()];
        double[][] slowdown = new double[MODES.size() - 1][shapes.size()];
        for (int s = 0; s < shapes.size(); s++) {
            List<Object> row = new ArrayList<>(List.of(shapes.get(s).label(), seconds[0][s]));
            for (int m = 1; m < MODES.size(); m++) {
                slowdown[m - 1][s] = seconds[m][s] / seconds[0][s];
                overheadPercent[m - 1][s] = 100 * (slowdown[m - 1][s] - 1);
                row.add(String.format(Locale.ROOT, "%+.1f%%", overheadPercent[m - 1][s]));
            }
            table.add(row.toArray());
        }
        System.out.println();
        System.out.print(table.markdown());
        System.out.println();
        System.out.print(raw.markdown());
        Path csv = outDir.resolve("paging.csv"), svg = outDir.resolve("paging.svg");
        raw.writeCsv(csv);
        SvgChart.bars("Virtual time of each paging method relative to native paging", "virtual time / native (log scale)",
                shapes.stream().map(Shape::label).toList(), MODES.subList(1, MODES.size()).stream().map(Mode::label).toList(),
                slowdown).yFrom(1).logValues().valueLabels(true).write(svg);
        System.out.printf("%nwrote %s and %s%n", csv, svg);
    }

    private static List<String> overheadColumns() {
        List<String> c = new ArrayList<>(List.of("workload", "native (virtual s)"));
        for (Mode m : MODES.subList(1, MODES.size())) c.add(m.label());
        return c;
    }

    private record Run(ResultLine result, VmReport report) {}

    private static Run run(Path kernel, Shape shape, Mode mode) {
        VmConfig config = VmConfig.from(ConfigFactory.parseString(mode.hocon() + "\nname = paging\nmemory = 256M\n"
                + "kernel.file = \"" + kernel + "\"\nkernel.append = \"" + shape.cmdline() + " quiet\""), "paging experiment");
        CharBackends.Capture console = new CharBackends.Capture();
        VmReport r = Vms.runAll(List.of(VmSpec.prepare(config, VmExtensions.forVm(), console)), Duration.ofMinutes(30)).getFirst();
        if (r.reason() != VmReport.Reason.GUEST_EXIT || r.guestStatus() != 1) {
            throw new IllegalStateException(shape.label() + " under " + mode.label() + " failed: " + r.reason() + " " + r.message()
                    + "\n" + console.text());
        }
        ResultLine result = ResultLine.find(console.text())
                .orElseThrow(() -> new IllegalStateException(shape.label() + " under " + mode.label() + " printed no result line"));
        return new Run(result, r);
    }
}
