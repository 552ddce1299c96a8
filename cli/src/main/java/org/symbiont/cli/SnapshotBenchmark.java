package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSnapshot;
import org.symbiont.vmm.Vms;

/**
 * Snapshot size and time for a guest running STREAM, paused mid-run, side by side with QEMU TCG
 * in the same session. Symbiont: the VM paused at a virtual time ({@code Vms.Running.pauseAt}),
 * saved whole in memory, written to a file, then restored from the file into a new VM until it
 * runs (it completes one scheduling round past the pause). QEMU: the same image stopped at the
 * same point of the guest's progress (the same fraction of its whole run), saved with {@code
 * migrate "exec:cat > FILE"}, and restored with {@code -incoming "exec:cat FILE"} until the state
 * is loaded and {@code cont} runs it. The first restore of each runs to the guest's end and its
 * result must equal the reference run's.
 */
final class SnapshotBenchmark {
    private SnapshotBenchmark() {}

    /** QEMU caps migration at 128 MiB/s by default, a link's limit, not a file's: lifted, as Symbiont writes unthrottled. */
    static final String UNTHROTTLED = "migrate_set_parameter max-bandwidth 100G";

    static void run(int runs, Path qemu, long n, int memoryMiB, double at) throws IOException, InterruptedException {
        StreamGuest guest = StreamGuest.create(n, memoryMiB);
        Path dir = Files.createTempDirectory("symbiont-snapbench");
        String cmdline = guest.cmdline(StreamGuest.REFERENCE_NTIMES);
        System.out.printf(Locale.ROOT, "snapshot: LWK `%s` (arrays %.0f MiB) in %d MiB of RAM, paused at %.0f%% of its run; %d runs, medians (min–max).%n",
                cmdline, guest.arraysMiB(), memoryMiB, at * 100, runs);
        StreamGuest.Reference ref = guest.reference(qemu, dir);
        long atNanos = (long) (ref.virtualNanos() * at);
        System.out.printf(Locale.ROOT, "reference run (also the JIT's warm-up): Symbiont %.3f s of virtual time in %.1f s wall; QEMU %s s wall%n",
                ref.virtualNanos() / 1e9, ref.symbiontWallSeconds(), Double.isNaN(ref.qemuWallSeconds()) ? "-" : String.format(Locale.ROOT, "%.2f", ref.qemuWallSeconds()));

        double[] size = new double[runs], take = new double[runs], write = new double[runs], read = new double[runs], restore = new double[runs];
        long pausedAt = 0;
        Duration limit = Duration.ofMinutes(10);
        for (int k = 0; k < runs; k++) {
            Path file = dir.resolve("symbiont-" + k + ".snap");
            try (Vms.Running vm = Vms.start(guest.spec("stream", StreamGuest.REFERENCE_NTIMES, new CharBackends.Capture()))) {
                pausedAt = vm.pauseAt(atNanos, limit);
                long t0 = System.nanoTime();
                VmSnapshot snapshot = vm.snapshot(limit);
                long t1 = System.nanoTime();
                snapshot.write(file);
                long t2 = System.nanoTime();
                take[k] = (t1 - t0) / 1e6;
                write[k] = (t2 - t1) / 1e6;
                size[k] = snapshot.sizeBytes() / 1048576.0;
            }
            CharBackends.Capture console = new CharBackends.Capture();
            long t0 = System.nanoTime();
            VmSnapshot loaded = VmSnapshot.read(file);
            long t1 = System.nanoTime();
            try (Vms.Running vm = Vms.restore(guest.spec("stream", StreamGuest.REFERENCE_NTIMES, console), loaded)) {
                vm.pauseAt(pausedAt + 1, limit);
                long t2 = System.nanoTime();
                read[k] = (t1 - t0) / 1e6;
                restore[k] = (t2 - t0) / 1e6;
                if (k == 0) {
                    vm.resume();
                    VmReport r = vm.report().join();
                    if (r.reason() != VmReport.Reason.GUEST_EXIT || r.virtualNanos() != ref.virtualNanos()) {
                        throw new IllegalStateException("the restored VM ended " + r.reason() + " at " + r.virtualNanos() + " ns, the reference at "
                                + ref.virtualNanos() + ": " + r.message());
                    }
                    StreamGuest.checkExact(console.text(), ref.exact(), "the restored Symbiont VM");
                }
            }
            Files.delete(file);
            System.out.printf(Locale.ROOT, "  Symbiont run %d: paused at %.3f ms of virtual time, %.1f MiB, take %.0f ms, write %.0f ms, read %.0f ms,"
                    + " restore to running %.0f ms%n", k + 1, pausedAt / 1e6, size[k], take[k], write[k], read[k], restore[k]);
        }

        double[] qSize = new double[runs], qSave = new double[runs], qTotal = new double[runs], qLoad = new double[runs], qRun = new double[runs];
        if (qemu != null) {
            long pauseWall = (long) (ref.qemuWallSeconds() * at * 1e9);
            for (int k = 0; k < runs; k++) {
                Path file = dir.resolve("qemu-" + k + ".mig");
                long start = System.nanoTime();
                try (QemuProcess q = QemuProcess.start(qemu, dir, "source", guest.kernel(), cmdline, memoryMiB, List.of())) {
                    long sleep = start + pauseWall - System.nanoTime();
                    if (sleep > 0) Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
                    if (!q.command(UNTHROTTLED).isBlank()) throw new IllegalStateException("QEMU refused `" + UNTHROTTLED + "`");
                    q.command("stop");
                    long t0 = System.nanoTime();
                    q.command("migrate -d \"exec:cat > " + file + "\"");
                    String info = q.awaitMigration(300);
                    qSave[k] = (System.nanoTime() - t0) / 1e6;
                    qTotal[k] = QemuProcess.field(info, "total time");
                }
                qSize[k] = Files.size(file) / 1048576.0;
                long t0 = System.nanoTime();
                try (QemuProcess q = QemuProcess.start(qemu, dir, "restored", guest.kernel(), cmdline, memoryMiB,
                        List.of("-incoming", "exec:cat " + file))) {
                    q.awaitIncoming(300);
                    qLoad[k] = (System.nanoTime() - t0) / 1e6;
                    q.command("cont");
                    String status = q.command("info status");
                    qRun[k] = (System.nanoTime() - t0) / 1e6;
                    if (!status.contains("running") && q.process().isAlive()) throw new IllegalStateException("QEMU restored, but: " + status);
                    if (k == 0) StreamGuest.checkExact(q.awaitExit(600), ref.exact(), "the restored QEMU VM");
                }
                Files.delete(file);
                System.out.printf(Locale.ROOT, "  QEMU run %d: %.1f MiB, save %.0f ms, loaded %.0f ms, running %.0f ms%n", k + 1, qSize[k], qSave[k], qLoad[k], qRun[k]);
            }
        }

        System.out.printf(Locale.ROOT, "%nSymbiont paused at %.3f ms of virtual time; the first restore ran to the end with the reference's result.%n%n",
                pausedAt / 1e6);
        System.out.println("| | snapshot MiB | take ms | write ms | take + write ms | read ms | restore to running ms |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|");
        double[] tw = new double[runs];
        for (int k = 0; k < runs; k++) tw[k] = take[k] + write[k];
        System.out.printf(Locale.ROOT, "| Symbiont | %s | %s | %s | %s | %s | %s |%n", StreamGuest.range(size, "%.1f"), StreamGuest.range(take, "%.0f"),
                StreamGuest.range(write, "%.0f"), StreamGuest.range(tw, "%.0f"), StreamGuest.range(read, "%.0f"), StreamGuest.range(restore, "%.0f"));
        if (qemu != null) {
            System.out.printf(Locale.ROOT, "| QEMU TCG (migrate to exec:cat) | %s | - | - | %s | - | %s |%n", StreamGuest.range(qSize, "%.1f"),
                    StreamGuest.range(qSave, "%.0f"), StreamGuest.range(qRun, "%.0f"));
            System.out.printf(Locale.ROOT, "%nQEMU: `%s` before `stop`; save = from `migrate` to `info migrate` completed (QEMU's own total time %s ms);"
                    + " restore = process start with -incoming to state loaded %s ms, to running after `cont` %s ms.%n",
                    UNTHROTTLED, StreamGuest.range(qTotal, "%.0f"), StreamGuest.range(qLoad, "%.0f"), StreamGuest.range(qRun, "%.0f"));
        }
        System.out.println("Symbiont: restore = read the file, build the VM, put the state back, run one round; read = the file alone.");
    }
}
