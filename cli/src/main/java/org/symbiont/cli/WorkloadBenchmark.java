package org.symbiont.cli;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * The LWK's CPU-bound workloads timed three ways in one session: the LWK image in a Symbiont VM,
 * the same image under QEMU TCG, and the workload's native Linux twin (the host's speed, the
 * physical limit). Wall time of the whole run; for the two emulators the wall time of booting the
 * same image with the {@code hello} program is subtracted, so what remains is the workload. The
 * exact part of every result line must agree, else the benchmark stops.
 */
final class WorkloadBenchmark {
    private WorkloadBenchmark() {}

    /** The workloads and their sizes: each some 10^8 guest instructions. */
    static final List<String> WORKLOADS = List.of(
            "sieve n=10000000", "stream n=1000000 ntimes=5", "gups logn=20", "hpccg nx=20 ny=20 nz=20");

    private record Row(String cmdline, String exact, double symbiont, double qemu, double nativeSeconds) {}

    static void run(int runs, Path qemu, boolean noNative) throws IOException, InterruptedException {
        Path kernel = Files.createTempFile("lwk", ".bin");
        kernel.toFile().deleteOnExit();
        Files.write(kernel, GuestImages.lwk());
        System.out.printf(Locale.ROOT, "LWK workloads: wall seconds per run, %d measured runs after a warm-up; medians. Symbiont and QEMU%n"
                + "times are minus the boot (the same image running its hello program, median of %d).%n", runs, runs);
        symbiont(kernel, "hello");
        double symbiontBoot = median(runs, () -> symbiont(kernel, "hello"));
        double qemuBoot = qemu == null ? Double.NaN : median(runs, () -> qemu(qemu, kernel, "hello"));
        List<Row> rows = new ArrayList<>();
        for (String cmdline : WORKLOADS) {
            Timed warm = symbiont(kernel, cmdline);
            String exact = warm.result().exact();
            double s = median(runs, () -> checked(symbiont(kernel, cmdline), exact, "Symbiont")) - symbiontBoot;
            double q = qemu == null ? Double.NaN
                    : median(runs, () -> checked(qemu(qemu, kernel, cmdline), exact, "QEMU")) - qemuBoot;
            double n = Double.NaN;
            Optional<Path> twin = noNative ? Optional.empty() : GuestImages.lwkNative(cmdline.split(" ")[0]);
            if (twin.isPresent()) n = median(runs, () -> checked(nativeRun(twin.get(), cmdline), exact, "native"));
            rows.add(new Row(cmdline, exact, s, q, n));
        }
        if (qemu == null) System.out.println("QEMU comparison skipped: qemu-system-x86_64 not found (Debian package qemu-system-x86)");
        if (!noNative && Double.isNaN(rows.getFirst().nativeSeconds())) {
            System.out.println("native comparison skipped: the native twins were not built (no gcc when Symbiont was built)");
        }
        System.out.printf(Locale.ROOT, "%nboot: Symbiont %.3f s, QEMU %s s%n%n", symbiontBoot, fmt(qemuBoot, "%.3f"));
        System.out.println("| workload | Symbiont s | QEMU TCG s | native s | Symbiont / QEMU | Symbiont / native | QEMU / native |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "| %s | %.3f | %s | %s | %s | %s | %s |%n", r.cmdline(), r.symbiont(), fmt(r.qemu(), "%.3f"),
                    fmt(r.nativeSeconds(), "%.4f"), ratio(r.symbiont(), r.qemu()), ratio(r.symbiont(), r.nativeSeconds()),
                    ratio(r.qemu(), r.nativeSeconds()));
        }
        System.out.println();
        for (Row r : rows) System.out.println(r.exact());
    }

    private record Timed(double seconds, ResultLine result) {}

    private interface Measurement {
        Timed take() throws IOException, InterruptedException;
    }

    private static double median(int runs, Measurement m) throws IOException, InterruptedException {
        double[] t = new double[runs];
        for (int k = 0; k < runs; k++) t[k] = m.take().seconds();
        return BenchCommand.median(t);
    }

    private static Timed checked(Timed t, String exact, String where) {
        if (!t.result().exact().equals(exact)) {
            throw new IllegalStateException(where + " printed \"" + t.result().exact() + "\", Symbiont \"" + exact + "\"");
        }
        return t;
    }

    private static Timed symbiont(Path kernel, String cmdline) {
        VmConfig config = VmConfig.from(ConfigFactory.parseString("name = lwk\nmemory = 256M\nkernel.file = \"" + kernel
                + "\"\nkernel.append = \"" + cmdline + " quiet\""), "workload benchmark");
        CharBackends.Capture console = new CharBackends.Capture();
        VmReport r = Vms.runAll(List.of(VmSpec.prepare(config, VmExtensions.forVm(), console)), Duration.ofMinutes(10)).getFirst();
        if (r.reason() != VmReport.Reason.GUEST_EXIT || r.guestStatus() != 1) {
            throw new IllegalStateException(cmdline + " failed on Symbiont: " + r.reason() + " " + r.message() + "\n" + console.text());
        }
        return new Timed(r.wallNanos() / 1e9, result(console.text(), cmdline, "Symbiont"));
    }

    private static Timed qemu(Path qemu, Path kernel, String cmdline) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        String out = BenchCommand.exec(List.of(qemu.toString(), "-machine", "pc", "-accel", "tcg", "-m", "256", "-display", "none",
                "-serial", "stdio", "-monitor", "none", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-kernel", kernel.toString(), "-append", cmdline + " quiet"));
        return new Timed((System.nanoTime() - t0) / 1e9, result(out, cmdline, "QEMU"));
    }

    private static Timed nativeRun(Path binary, String cmdline) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(binary.toString()));
        String[] words = cmdline.split(" ");
        command.addAll(List.of(words).subList(1, words.length));
        long t0 = System.nanoTime();
        String out = BenchCommand.exec(command);
        return new Timed((System.nanoTime() - t0) / 1e9, result(out, cmdline, "native"));
    }

    private static ResultLine result(String out, String cmdline, String where) {
        return ResultLine.find(out).orElseThrow(() -> new IllegalStateException(cmdline + " printed no result line (" + where + "):\n" + out));
    }

    private static String fmt(double v, String format) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, format, v);
    }

    private static String ratio(double a, double b) {
        return Double.isNaN(a) || Double.isNaN(b) ? "-" : String.format(Locale.ROOT, "%.2f", a / b);
    }
}
