package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.vmm.boot.MultibootImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Benchmarks: {@code cpu}, guest instructions per second of the CPU core on the cpubench
 * workloads, side by side with the same machine code run natively and the same guest image under
 * QEMU's TCG; {@code exits}, the exit round trip ({@link ExitBenchmark}); {@code workloads}, the
 * LWK's HPC workloads in wall time against QEMU and their native twins ({@link WorkloadBenchmark});
 * {@code symcalls}, the latency of calls from the VMM into the guest ({@link SymCallBenchmark});
 * {@code cluster}, a simulated cluster's speed and the cost of its time synchronization
 * ({@link ClusterBenchmark}); {@code snapshot}, snapshot size and time ({@link SnapshotBenchmark}) and {@code
 * migration}, live migration between cluster members ({@link MigrationBenchmark}), both for a 256 MiB guest
 * running STREAM and side by side with QEMU.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure the CPU core in guest instructions per second (cpu), the exit round trip (exits), the LWK workloads' wall time (workloads), SymCall latency (symcalls), next to native execution and QEMU TCG where they apply, a simulated cluster's speed and the cost of its time synchronization (cluster), or snapshot and live-migration size and time of a STREAM guest next to QEMU (snapshot, migration).")
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "What to benchmark: cpu, exits, workloads, symcalls, cluster, snapshot or migration", defaultValue = "cpu")
    String target;

    @Option(names = "--runs", description = "Measured runs per workload; the median is reported (default: ${DEFAULT-VALUE}).", defaultValue = "5")
    int runs;

    @Option(names = "--workloads", split = ",", description = "Workloads, from intloop, sieve, triad (default: all).", defaultValue = "intloop,sieve,triad")
    List<String> workloads;

    @Option(names = "--no-qemu", description = "Skip the QEMU comparison.")
    boolean noQemu;

    @Option(names = "--no-native", description = "Skip the native comparison.")
    boolean noNative;

    @Option(names = "--scale", description = "Multiply workload sizes by this factor (default: ${DEFAULT-VALUE}).", defaultValue = "1")
    double scale;

    @Option(names = "--nodes", split = ",", description = "cluster: simulated node counts (default: ${DEFAULT-VALUE}).", defaultValue = "64,256,1024")
    List<Integer> nodes;

    @Option(names = "--node-memory", description = "cluster: guest RAM per node (default: ${DEFAULT-VALUE}, the noise experiment's).", defaultValue = NoiseExperiment.NODE_MEMORY)
    String nodeMemory;

    @Option(names = "--stream-n", description = "snapshot, migration: STREAM's n, three arrays of n doubles (default: ${DEFAULT-VALUE}, 183 MiB).", defaultValue = "8000000")
    long streamN;

    @Option(names = "--guest-memory", description = "snapshot, migration: guest RAM in MiB (default: ${DEFAULT-VALUE}).", defaultValue = "256")
    int guestMemory;

    @Option(names = "--at", description = "snapshot, migration: where to pause or migrate, as a fraction of the whole STREAM run (default: 0.4 for snapshot, 0.3 for migration).")
    Double at;

    @Option(names = "--same-jvm", description = "migration: both cluster members in this JVM instead of the receiver in a JVM of its own.")
    boolean sameJvm;

    @Option(names = "--receiver-seed", hidden = true)
    String receiverSeed;

    private static final Pattern RESULT = Pattern.compile("RESULT workload=(\\w+) n=(\\d+) rounds=(\\d+) result=(\\d+)");
    private static final Pattern NATIVE = Pattern.compile("NATIVE workload=(\\w+) result=(\\d+) ns=(\\d+)");

    private record Workload(String name, long n, long rounds) {
        String guestArgs() {
            return name + " n=" + n + " rounds=" + rounds;
        }
    }

    private record Row(Workload w, long instructions, String result, double[] symbiontMips, double vmMips, double nativeMips,
                       double qemuMips) {}

    @Override
    public Integer call() throws Exception {
        if (target.equals(MigrationBenchmark.RECEIVER)) {
            MigrationBenchmark.receive(receiverSeed, streamN, guestMemory);
            return 0;
        }
        if (!List.of("cpu", "exits", "workloads", "symcalls", "cluster", "snapshot", "migration").contains(target)) {
            throw new UserError("unknown benchmark '" + target + "': use cpu, exits, workloads, symcalls, cluster, snapshot or migration");
        }
        if (runs < 1 || runs > 100) throw new UserError("--runs must be between 1 and 100, got " + runs);
        if (target.equals("snapshot") || target.equals("migration")) {
            if (streamN < 1 || streamN > 100_000_000) throw new UserError("--stream-n must be between 1 and 100000000, got " + streamN);
            if (guestMemory < 4 || guestMemory > 65536) throw new UserError("--guest-memory must be between 4 and 65536 MiB, got " + guestMemory);
            if (at != null && (at <= 0 || at >= 1)) throw new UserError("--at must be a fraction between 0 and 1, got " + at);
            Path qemu = noQemu ? null : findQemu();
            if (noQemu) System.out.println("QEMU comparison SKIPPED (--no-qemu)");
            else if (qemu == null) System.out.println("QEMU comparison SKIPPED: qemu-system-x86_64 not found (Debian package qemu-system-x86)");
            if (target.equals("snapshot")) SnapshotBenchmark.run(runs, qemu, streamN, guestMemory, at == null ? 0.4 : at);
            else MigrationBenchmark.run(runs, qemu, streamN, guestMemory, at == null ? 0.3 : at, sameJvm);
            return 0;
        }
        if (target.equals("exits")) {
            Path qemu = noQemu ? null : findQemu();
            if (qemu == null && !noQemu) System.out.println("QEMU comparison skipped: qemu-system-x86_64 not found (Debian package qemu-system-x86)");
            ExitBenchmark.run(runs, qemu);
            return 0;
        }
        if (target.equals("cluster")) {
            for (int n : nodes) if (n < 1 || n > 4096) throw new UserError("--nodes: counts from 1 to 4096, got " + n);
            ClusterBenchmark.run(nodes, runs, nodeMemory);
            return 0;
        }
        if (target.equals("symcalls")) {
            SymCallBenchmark.run(2000);
            return 0;
        }
        if (target.equals("workloads")) {
            Path qemu = noQemu ? null : findQemu();
            WorkloadBenchmark.run(runs, qemu, noNative);
            return 0;
        }
        if (scale <= 0 || scale > 100) throw new UserError("--scale must be in (0, 100], got " + scale);
        List<Workload> list = new ArrayList<>();
        for (String w : workloads) {
            list.add(switch (w) {
                case "intloop" -> new Workload(w, Math.max(1, (long) (150_000_000 * scale)), 1);
                case "sieve" -> new Workload(w, 10_000_000, Math.max(1, (long) (3 * scale)));
                case "triad" -> new Workload(w, 1 << 20, Math.max(1, (long) (8 * scale)));
                default -> throw new UserError("unknown workload '" + w + "': use intloop, sieve, triad");
            });
        }
        byte[] image = GuestImages.cpubench();
        MultibootImage kernel = MultibootImage.parse(image, "cpubench.bin");
        Path imageForVm = Files.createTempFile("cpubench", ".bin");
        imageForVm.toFile().deleteOnExit();
        Files.write(imageForVm, image);
        Path nativeBinary = noNative ? null : GuestImages.cpubenchNative();
        Path qemu = noQemu ? null : findQemu();
        Path imageFile = null;
        if (qemu != null) {
            imageFile = Files.createTempFile("cpubench", ".bin");
            Files.write(imageFile, image);
            imageFile.toFile().deleteOnExit();
        }
        System.out.printf(Locale.ROOT, "cpubench: %d measured runs per workload after one warm-up run; medians.%n", runs);
        if (qemu == null && !noQemu) System.out.println("QEMU comparison skipped: qemu-system-x86_64 not found (Debian package qemu-system-x86)");
        double qemuStartup = qemu == null ? 0 : qemuStartupSeconds(qemu, imageFile);

        List<Row> rows = new ArrayList<>();
        for (Workload w : list) {
            BareMetal.Result warm = runSymbiont(kernel, w);
            double[] mips = new double[runs];
            for (int k = 0; k < runs; k++) mips[k] = runSymbiont(kernel, w).mips();
            Matcher m = RESULT.matcher(warm.console());
            String result = m.find() ? m.group(4) : "?";
            double[] vm = new double[runs];
            for (int k = 0; k < runs; k++) vm[k] = runSymbiontVm(imageForVm, w, result);
            double nativeMips = Double.NaN;
            if (nativeBinary != null) {
                double[] t = new double[runs];
                for (int k = 0; k < runs; k++) {
                    Matcher nm = NATIVE.matcher(exec(List.of(nativeBinary.toString(), w.name(), Long.toString(w.n()), Long.toString(w.rounds()))));
                    if (!nm.find()) throw new IllegalStateException("native benchmark printed no result");
                    if (!nm.group(2).equals(result)) {
                        throw new IllegalStateException("native result " + nm.group(2) + " differs from the guest's " + result + " for " + w.name());
                    }
                    t[k] = Long.parseLong(nm.group(3)) / 1e9;
                }
                nativeMips = warm.instructions() / median(t) / 1e6;
            }
            double qemuMips = Double.NaN;
            if (qemu != null) {
                double[] t = new double[runs];
                for (int k = 0; k < runs; k++) {
                    long t0 = System.nanoTime();
                    String out = exec(qemuCommand(qemu, imageFile, w.guestArgs()));
                    t[k] = (System.nanoTime() - t0) / 1e9;
                    Matcher qm = RESULT.matcher(out);
                    if (!qm.find() || !qm.group(4).equals(result)) {
                        throw new IllegalStateException("QEMU run of " + w.name() + " gave no or a different result: " + out);
                    }
                }
                qemuMips = warm.instructions() / Math.max(1e-3, median(t) - qemuStartup) / 1e6;
            }
            rows.add(new Row(w, warm.instructions(), result, mips, median(vm), nativeMips, qemuMips));
        }
        print(rows, qemuStartup);
        return 0;
    }

    private BareMetal.Result runSymbiont(MultibootImage kernel, Workload w) {
        try (BareMetal m = new BareMetal(256L << 20, kernel, "cpubench.bin", w.guestArgs(), false)) {
            BareMetal.Result r = m.run(Long.MAX_VALUE);
            if (r.exitCode() == null || r.exitCode() != 0) {
                throw new IllegalStateException("cpubench " + w.name() + " failed on Symbiont: " + r.stopReason() + "\n" + r.console());
            }
            return r;
        }
    }

    /** The workload in a whole VM (the default PC, its devices and timers, deterministic scheduling): its MIPS. */
    private static double runSymbiontVm(Path image, Workload w, String expected) {
        VmConfig config = VmConfig.from(ConfigFactory.parseString("name = cpubench\nmemory = 512M\nkernel.file = \"" + image
                + "\"\nkernel.append = \"" + w.guestArgs() + "\""), "cpu benchmark");
        CharBackends.Capture console = new CharBackends.Capture();
        VmReport r = Vms.runAll(List.of(VmSpec.prepare(config, VmExtensions.forVm(), console)), Duration.ofMinutes(10)).getFirst();
        Matcher m = RESULT.matcher(console.text());
        if (r.guestStatus() == null || r.guestStatus() != 1 || !m.find() || !m.group(4).equals(expected)) {
            throw new IllegalStateException("cpubench " + w.name() + " failed in a VM: " + r.reason() + " " + r.message() + "\n" + console.text());
        }
        return r.mips();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private double qemuStartupSeconds(Path qemu, Path image) throws Exception {
        double[] t = new double[3];
        for (int k = 0; k < t.length; k++) {
            long t0 = System.nanoTime();
            exec(qemuCommand(qemu, image, "intloop n=1"));
            t[k] = (System.nanoTime() - t0) / 1e9;
        }
        return median(t);
    }

    private static List<String> qemuCommand(Path qemu, Path image, String append) {
        return List.of(qemu.toString(), "-accel", "tcg", "-m", "512", "-display", "none", "-serial", "stdio",
                "-monitor", "none", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-kernel", image.toString(), "-append", append);
    }

    static Path findQemu() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path p = Path.of(dir, "qemu-system-x86_64");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    static String exec(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(600, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(cmd.getFirst() + " did not finish in 10 minutes");
        }
        return out;
    }

    private void print(List<Row> rows, double qemuStartup) {
        System.out.println();
        System.out.println("| workload | guest instructions | Symbiont core MIPS (median, min-max) | Symbiont VM MIPS | QEMU TCG MIPS | native MIPS | Symbiont / QEMU | Symbiont / native |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            double[] s = r.symbiontMips().clone();
            Arrays.sort(s);
            double med = median(s);
            System.out.printf(Locale.ROOT, "| %s (%s) | %,d | %.0f (%.0f-%.0f) | %.0f | %s | %s | %s | %s |%n",
                    r.w().name(), r.w().guestArgs().substring(r.w().name().length() + 1), r.instructions(), med, s[0], s[s.length - 1],
                    r.vmMips(), fmt(r.qemuMips()), fmt(r.nativeMips()), ratio(med, r.qemuMips()), ratio(med, r.nativeMips()));
        }
        System.out.println();
        System.out.println("Core: the workload on the bare CPU core (cli's BareMetal runner). VM: the same image in a whole VM");
        System.out.println("(the default PC, devices, timers and deterministic scheduling rounds), MIPS over the VM's run time.");
        if (qemuStartup > 0) {
            System.out.printf(Locale.ROOT, "%nQEMU times exclude its start-up and boot (%.2f s, measured with a 1-iteration run).%n", qemuStartup);
        }
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.0f", v);
    }

    private static String ratio(double a, double b) {
        return Double.isNaN(b) ? "-" : String.format(Locale.ROOT, "%.3f", a / b);
    }
}
