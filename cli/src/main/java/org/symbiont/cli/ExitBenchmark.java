package org.symbiont.cli;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VcpuReport;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * The cost of an exit as the guest sees it: the test guest's {@code exitloop} writes to the
 * debug console's port 0xE9 in a tight loop, each OUT a round trip from the vCPU actor through the
 * VM supervisor to the device actor and back. Two loop lengths are timed and the difference
 * divided by the difference in exits, so boot and start-up cancel out; the same image runs under
 * QEMU TCG (with its debug console on port 0xE9) the same way.
 */
final class ExitBenchmark {
    private ExitBenchmark() {}

    static final long SHORT = 100_000, LONG = 1_100_000;

    /** One measurement: nanoseconds per exit, and the VMM's own handling time per exit (from telemetry). */
    record Sample(double roundTripNanos, double handlingNanos) {}

    static void run(int runs, Path qemu) throws IOException, InterruptedException {
        Path kernel = Files.createTempFile("testguest", ".bin");
        kernel.toFile().deleteOnExit();
        Files.write(kernel, GuestImages.testguest());
        System.out.printf(Locale.ROOT, "exit round trip: guest OUT to port 0xE9 -> VM supervisor -> debug-console device actor -> guest resumes.%n"
                + "Per run: wall time of %,d exits minus that of %,d, divided by the difference; %d measured runs after a warm-up; medians.%n",
                LONG, SHORT, runs);
        symbiont(kernel, SHORT);
        double[] roundTrip = new double[runs], handling = new double[runs];
        for (int k = 0; k < runs; k++) {
            Sample s = symbiontSample(kernel);
            roundTrip[k] = s.roundTripNanos();
            handling[k] = s.handlingNanos();
        }
        double[] qemuRoundTrip = null;
        if (qemu != null) {
            qemuRoundTrip = new double[runs];
            for (int k = 0; k < runs; k++) {
                double t1 = qemuSeconds(qemu, kernel, SHORT), t2 = qemuSeconds(qemu, kernel, LONG);
                qemuRoundTrip[k] = (t2 - t1) * 1e9 / (LONG - SHORT);
            }
        }
        double median = BenchCommand.median(roundTrip);
        System.out.println();
        System.out.println("| | exit round trip, median ns (min-max) | exits per second | VMM handling per exit, ns |");
        System.out.println("|---|---:|---:|---:|");
        System.out.printf(Locale.ROOT, "| Symbiont (deterministic mode) | %.0f (%.0f-%.0f) | %,.0f | %.0f |%n", median, min(roundTrip), max(roundTrip),
                1e9 / median, BenchCommand.median(handling));
        if (qemuRoundTrip != null) {
            double q = BenchCommand.median(qemuRoundTrip);
            System.out.printf(Locale.ROOT, "| QEMU TCG | %.0f (%.0f-%.0f) | %,.0f | - |%n", q, min(qemuRoundTrip), max(qemuRoundTrip), 1e9 / q);
        }
    }

    private static Sample symbiontSample(Path kernel) {
        VmReport a = symbiont(kernel, SHORT), b = symbiont(kernel, LONG);
        long handled = 0, count = 0;
        for (VcpuReport v : b.vcpus()) {
            VcpuReport.ExitStats s = v.exits().get("PortOut");
            if (s != null) {
                handled += s.handlerNanos();
                count += s.count();
            }
        }
        return new Sample((double) (b.wallNanos() - a.wallNanos()) / (LONG - SHORT), count == 0 ? 0 : (double) handled / count);
    }

    private static VmReport symbiont(Path kernel, long n) {
        VmConfig config = VmConfig.from(ConfigFactory.parseString("name = exitloop\nmemory = 64M\nconsole = \"null\"\n"
                + "kernel.file = \"" + kernel + "\"\nkernel.append = \"exitloop n=" + n + " port=0xE9\"\n"
                + "devices += { name = debugcon, type = debugcon, chardev = \"null\" }"), "exit benchmark");
        VmReport r = Vms.runAll(List.of(VmSpec.prepare(config, VmExtensions.forVm(), CharBackends.NULL)), Duration.ofMinutes(5)).getFirst();
        if (r.reason() != VmReport.Reason.GUEST_EXIT || r.guestStatus() != 1) {
            throw new IllegalStateException("the exit loop failed on Symbiont: " + r.reason() + " " + r.message());
        }
        return r;
    }

    private static double qemuSeconds(Path qemu, Path kernel, long n) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        String out = BenchCommand.exec(List.of(qemu.toString(), "-machine", "pc", "-accel", "tcg", "-m", "64", "-display", "none",
                "-serial", "stdio", "-monitor", "none", "-no-reboot", "-debugcon", "null",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", kernel.toString(),
                "-append", "exitloop n=" + n + " port=0xE9"));
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (!out.contains("PASS exitloop")) throw new IllegalStateException("the exit loop failed under QEMU: " + out);
        return seconds;
    }

    private static double min(double[] v) {
        double m = v[0];
        for (double x : v) m = Math.min(m, x);
        return m;
    }

    private static double max(double[] v) {
        double m = v[0];
        for (double x : v) m = Math.max(m, x);
        return m;
    }
}
