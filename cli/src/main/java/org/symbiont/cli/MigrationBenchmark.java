package org.symbiont.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.symbiont.cluster.LiveMigration;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSupervisor;

/**
 * Live migration of a guest running STREAM between two cluster members on loopback, side by side
 * with QEMU TCG in the same session. Symbiont: the sending member is this JVM, the receiving one
 * a second JVM ({@code bench migration-receiver}, driven over its standard input) unless {@code
 * --same-jvm}; the VM boots on the sender and is migrated live ({@link LiveMigration.Settings#LIVE}),
 * then, for comparison, cold ({@link LiveMigration.Settings#COLD}: paused while everything is copied), from a virtual time mid-run; once it runs on the receiver it is stopped there. QEMU: two
 * processes, the destination with {@code -incoming tcp:127.0.0.1:PORT}, {@code migrate} from the
 * source's monitor at the same point of the guest's progress, figures from {@code info migrate}.
 */
final class MigrationBenchmark {
    private MigrationBenchmark() {}

    /** BenchCommand's hidden target that runs the receiving member. */
    static final String RECEIVER = "migration-receiver";
    /** STREAM iterations of the migrated guest: enough that it runs on long after the migration. */
    static final int NTIMES = 100;

    /** The receiving member: accepts VMs and stops them once they run there. */
    private interface Receiver extends AutoCloseable {
        void accept(String vm) throws IOException;

        /** Stops the migrated VM and returns how it ended. */
        String stop(String vm) throws IOException;

        @Override
        void close() throws IOException, InterruptedException;
    }

    static void run(int runs, Path qemu, long n, int memoryMiB, double at, boolean sameJvm) throws IOException, InterruptedException {
        StreamGuest guest = StreamGuest.create(n, memoryMiB);
        Path dir = Files.createTempDirectory("symbiont-migbench");
        LiveMigration.Settings settings = LiveMigration.Settings.LIVE;
        System.out.printf(Locale.ROOT, "migration: LWK `%s` (arrays %.0f MiB) in %d MiB of RAM, migrated live at %.0f%% of the %d-iteration run;"
                + " %d runs, medians (min–max).%n", guest.cmdline(NTIMES), guest.arraysMiB(), memoryMiB, at * 100, StreamGuest.REFERENCE_NTIMES, runs);
        StreamGuest.Reference ref = guest.reference(qemu, dir);
        long atNanos = (long) (ref.virtualNanos() * at);
        System.out.printf(Locale.ROOT, "reference run (ntimes=%d; also the JIT's warm-up): Symbiont %.3f s of virtual time in %.1f s wall; QEMU %s s wall%n",
                StreamGuest.REFERENCE_NTIMES, ref.virtualNanos() / 1e9, ref.symbiontWallSeconds(),
                Double.isNaN(ref.qemuWallSeconds()) ? "-" : String.format(Locale.ROOT, "%.2f", ref.qemuWallSeconds()));
        System.out.printf(Locale.ROOT, "Symbiont settings: live %s, cold %s%n", settings, LiveMigration.Settings.COLD);

        int port = freePort();
        String seed = "127.0.0.1:" + port;
        ActorSystem<Void> source = SymbiontCluster.startMember("127.0.0.1", port, List.of(seed));
        List<LiveMigration.Report> reports = new ArrayList<>(), coldReports = new ArrayList<>();
        try (Receiver receiver = sameJvm ? inJvm(source, seed, guest) : childJvm(seed, n, memoryMiB)) {
            SymbiontCluster.awaitMembers(source, 2, Duration.ofSeconds(60));
            System.out.println("receiving member: " + (sameJvm ? "a second member in this JVM" : "a second JVM") + "; both on 127.0.0.1");
            for (int k = 0; k < runs; k++) {
                String vm = "stream-" + k;
                receiver.accept(vm);
                LiveMigration.Outcome outcome = LiveMigration.migrate(source, guest.spec(vm, NTIMES, new CharBackends.Capture()), atNanos, settings,
                        Duration.ofMinutes(10));
                String ended = receiver.stop(vm);
                System.out.println("  run " + (k + 1) + ": " + outcome.migration().summary() + "; on the receiver: " + ended);
                reports.add(outcome.migration());
                String coldVm = "stream-cold-" + k;
                receiver.accept(coldVm);
                LiveMigration.Outcome cold = LiveMigration.migrate(source, guest.spec(coldVm, NTIMES, new CharBackends.Capture()), atNanos,
                        LiveMigration.Settings.COLD, Duration.ofMinutes(10));
                System.out.println("  cold run " + (k + 1) + ": " + cold.migration().summary() + "; on the receiver: " + receiver.stop(coldVm));
                coldReports.add(cold.migration());
            }
        } finally {
            SymbiontCluster.stop(source);
        }


        double[] qTotal = new double[runs], qDown = new double[runs], qMib = new double[runs], qPasses = new double[runs], qWall = new double[runs];
        if (qemu != null) {
            long pauseWall = (long) (ref.qemuWallSeconds() * at * 1e9);
            for (int k = 0; k < runs; k++) {
                int qport = freePort();
                try (QemuProcess dest = QemuProcess.start(qemu, dir, "dest", guest.kernel(), guest.cmdline(NTIMES), memoryMiB,
                        List.of("-incoming", "tcp:127.0.0.1:" + qport));
                     QemuProcess src = startTimed(qemu, dir, guest, memoryMiB, pauseWall)) {
                    long t0 = System.nanoTime();
                    src.command("migrate -d tcp:127.0.0.1:" + qport);
                    String info = src.awaitMigration(300);
                    qWall[k] = (System.nanoTime() - t0) / 1e6;
                    String status = dest.awaitIncoming(60);
                    if (!status.contains("running")) throw new IllegalStateException("QEMU destination after migration: " + status);
                    qTotal[k] = QemuProcess.field(info, "total time");
                    qDown[k] = QemuProcess.field(info, "downtime");
                    qMib[k] = QemuProcess.field(info, "transferred ram") / 1024.0;
                    qPasses[k] = QemuProcess.field(info, "dirty sync count");
                    System.out.printf(Locale.ROOT, "  QEMU run %d: total %.0f ms, downtime %.0f ms, %.1f MiB, dirty sync count %.0f, throttle %s%n",
                            k + 1, qTotal[k], qDown[k], qMib[k], qPasses[k], throttle(info));
                }
            }
        }

        System.out.println();
        System.out.println("| | total ms | downtime ms | MiB sent | passes while running | pages, first pass | pages, last pass | pages stop-and-copy |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        System.out.println(row("Symbiont, live", reports));
        System.out.println(row("Symbiont, cold", coldReports));
        if (qemu != null) {
            System.out.printf(Locale.ROOT, "| QEMU TCG | %s | %s | %s | %s (dirty syncs) | - | - | - |%n", StreamGuest.range(qTotal, "%.0f"),
                    StreamGuest.range(qDown, "%.0f"), StreamGuest.range(qMib, "%.1f"), StreamGuest.range(qPasses, "%.0f"));
            System.out.println("QEMU settings: " + String.join("; ", QEMU_SETTINGS) + " (the rest QEMU's defaults, downtime-limit 300 ms).");
        }
    }

    /** A table row: medians (min–max) over the runs' reports; passes none (cold) shows dashes. */
    private static String row(String label, List<LiveMigration.Report> reports) {
        int runs = reports.size();
        double[] total = new double[runs], down = new double[runs], mib = new double[runs], passes = new double[runs], first = new double[runs],
                last = new double[runs], stop = new double[runs];
        for (int k = 0; k < runs; k++) {
            LiveMigration.Report r = reports.get(k);
            total[k] = r.totalNanos() / 1e6;
            down[k] = r.downtimeNanos() / 1e6;
            mib[k] = r.bytesSent() / 1048576.0;
            passes[k] = r.pagesPerPass().size();
            first[k] = r.pagesPerPass().isEmpty() ? 0 : r.pagesPerPass().getFirst();
            last[k] = r.pagesPerPass().isEmpty() ? 0 : r.pagesPerPass().getLast();
            stop[k] = r.stopAndCopyPages();
        }
        boolean cold = passes[0] == 0;
        return String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s |", label, StreamGuest.range(total, "%.0f"),
                StreamGuest.range(down, "%.0f"), StreamGuest.range(mib, "%.1f"), StreamGuest.range(passes, "%.0f"),
                cold ? "-" : StreamGuest.range(first, "%.0f"), cold ? "-" : StreamGuest.range(last, "%.0f"), StreamGuest.range(stop, "%.0f"));
    }

    /** What the source QEMU is told before it migrates: the link not throttled (Symbiont's is not), auto-converge so it ends. */
    private static final List<String> QEMU_SETTINGS = List.of("migrate_set_parameter max-bandwidth 100G", "migrate_set_capability auto-converge on");

    private static QemuProcess startTimed(Path qemu, Path dir, StreamGuest guest, int memoryMiB, long pauseWall) throws IOException, InterruptedException {
        long start = System.nanoTime();
        QemuProcess src = QemuProcess.start(qemu, dir, "src", guest.kernel(), guest.cmdline(NTIMES), memoryMiB, List.of());
        for (String c : QEMU_SETTINGS) {
            String out = src.command(c).strip();
            if (!out.isEmpty()) throw new IllegalStateException("QEMU refused `" + c + "`: " + out);
        }
        long sleep = start + pauseWall - System.nanoTime();
        if (sleep > 0) Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
        return src;
    }

    private static String throttle(String info) {
        long t = QemuProcess.field(info, "cpu throttle percentage");
        return t < 0 ? "none" : t + "%";
    }

    // ---- the receiving member ----

    private static Receiver inJvm(ActorSystem<Void> source, String seed, StreamGuest guest) {
        ActorSystem<Void> member = SymbiontCluster.startMember("127.0.0.1", 0, List.of(seed));
        Map<String, CompletableFuture<VmReport>> vms = new HashMap<>();
        return new Receiver() {
            @Override
            public void accept(String vm) {
                vms.put(vm, LiveMigration.accept(member, guest.spec(vm, NTIMES, new CharBackends.Capture())));
            }

            @Override
            public String stop(String vm) {
                return stopMigrated(member, vm, vms.remove(vm));
            }

            @Override
            public void close() {
                SymbiontCluster.stop(member);
            }
        };
    }

    private static String stopMigrated(ActorSystem<Void> member, String vm, CompletableFuture<VmReport> report) {
        Adapter.toClassic(member).actorSelection("/system/migration-target-" + vm + "/vm")
                .tell(new VmSupervisor.Stop("the benchmark is done with it"), org.apache.pekko.actor.ActorRef.noSender());
        try {
            VmReport r = report.get(60, TimeUnit.SECONDS);
            return String.format(Locale.ROOT, "%s at %.3f ms of virtual time", r.reason().name().toLowerCase(Locale.ROOT), r.virtualNanos() / 1e6);
        } catch (Exception e) {
            throw new IllegalStateException(vm + " did not stop on the receiving member: " + e, e);
        }
    }

    private static Receiver childJvm(String seed, long n, int memoryMiB) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Process p = new ProcessBuilder(java, "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "bench", RECEIVER, "--receiver-seed", seed, "--stream-n", Long.toString(n), "--guest-memory",
                Integer.toString(memoryMiB)).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        PrintWriter in = new PrintWriter(p.getOutputStream(), true, StandardCharsets.UTF_8);
        Receiver r = new Receiver() {
            String await(String prefix) throws IOException {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith(prefix)) return line.substring(prefix.length()).strip();
                    if (line.startsWith("FAILED")) throw new IllegalStateException("the receiving JVM: " + line);
                }
                throw new IllegalStateException("the receiving JVM ended (" + prefix.strip() + " expected)");
            }

            @Override
            public void accept(String vm) throws IOException {
                in.println("accept " + vm);
                await("ACCEPTING " + vm);
            }

            @Override
            public String stop(String vm) throws IOException {
                in.println("stop " + vm);
                return await("ENDED " + vm);
            }

            @Override
            public void close() throws InterruptedException {
                in.println("quit");
                if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
            }
        };
        try { // the child announces itself once it joined
            String line;
            while ((line = out.readLine()) != null && !line.startsWith("READY")) {
                if (line.startsWith("FAILED")) throw new IllegalStateException("the receiving JVM: " + line);
            }
            if (line == null) throw new IllegalStateException("the receiving JVM ended before it joined");
        } catch (RuntimeException | IOException e) {
            p.destroyForcibly();
            throw e;
        }
        return r;
    }

    /** The receiving member in a JVM of its own: commands on standard input, answers on standard output. */
    static void receive(String seed, long n, int memoryMiB) throws IOException {
        if (seed == null) throw new UserError(RECEIVER + " needs --receiver-seed");
        StreamGuest guest = StreamGuest.create(n, memoryMiB);
        ActorSystem<Void> member = SymbiontCluster.startMember("127.0.0.1", 0, List.of(seed));
        try {
            SymbiontCluster.awaitMembers(member, 2, Duration.ofSeconds(60));
            System.out.println("READY " + SymbiontCluster.address(member));
            System.out.flush();
            Map<String, CompletableFuture<VmReport>> vms = new HashMap<>();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null && !line.equals("quit")) {
                String[] w = line.split(" ");
                try {
                    if (w[0].equals("accept")) {
                        vms.put(w[1], LiveMigration.accept(member, guest.spec(w[1], NTIMES, new CharBackends.Capture())));
                        System.out.println("ACCEPTING " + w[1]);
                    } else if (w[0].equals("stop")) {
                        System.out.println("ENDED " + w[1] + " " + stopMigrated(member, w[1], vms.remove(w[1])));
                    }
                } catch (RuntimeException e) {
                    System.out.println("FAILED " + e.getMessage());
                }
                System.out.flush();
            }
        } finally {
            SymbiontCluster.stop(member);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
