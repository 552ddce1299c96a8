package org.symbiont.cli;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * The guest of the snapshot and migration benchmarks: the LWK running STREAM on three arrays of
 * {@code n} doubles in {@code memoryMiB} of RAM, and a reference run of it (to its end, in Symbiont
 * and in QEMU) that places "mid-run" at the same point of the guest's progress in both.
 */
record StreamGuest(Path kernel, long n, int memoryMiB) {
    /** STREAM iterations of the reference run; the run a benchmark pauses or migrates is this one, or a longer one. */
    static final int REFERENCE_NTIMES = 4;

    static StreamGuest create(long n, int memoryMiB) throws IOException {
        Path kernel = Files.createTempFile("lwk", ".bin");
        kernel.toFile().deleteOnExit();
        Files.write(kernel, GuestImages.lwk());
        return new StreamGuest(kernel, n, memoryMiB);
    }

    String cmdline(int ntimes) {
        return "stream n=" + n + " ntimes=" + ntimes + " quiet";
    }

    /** The arrays' size in MiB. */
    double arraysMiB() {
        return 3.0 * 8 * n / 1048576.0;
    }

    VmSpec spec(String name, int ntimes, CharBackends.Capture console) {
        VmConfig config = VmConfig.from(ConfigFactory.parseString("name = " + name + "\nmemory = " + memoryMiB + "M\nkernel.file = \"" + kernel
                + "\"\nkernel.append = \"" + cmdline(ntimes) + "\""), "snapshot/migration benchmark");
        return VmSpec.prepare(config, VmExtensions.forVm(), console);
    }

    /** A whole run: Symbiont's virtual time and wall time, QEMU's wall time (NaN without QEMU), the exact result. */
    record Reference(long virtualNanos, double symbiontWallSeconds, double qemuWallSeconds, String exact) {}

    Reference reference(Path qemu, Path dir) throws IOException, InterruptedException {
        CharBackends.Capture console = new CharBackends.Capture();
        VmReport r = Vms.runAll(List.of(spec("stream-reference", REFERENCE_NTIMES, console)), Duration.ofMinutes(20)).getFirst();
        if (r.reason() != VmReport.Reason.GUEST_EXIT || r.guestStatus() == null || r.guestStatus() != 1) {
            throw new IllegalStateException(cmdline(REFERENCE_NTIMES) + " failed on Symbiont: " + r.reason() + " " + r.message() + "\n" + console.text());
        }
        String exact = exact(console.text(), "Symbiont");
        double qemuWall = Double.NaN;
        if (qemu != null) {
            long t0 = System.nanoTime();
            try (QemuProcess q = QemuProcess.start(qemu, dir, "reference", kernel, cmdline(REFERENCE_NTIMES), memoryMiB, List.of())) {
                String out = q.awaitExit(600);
                qemuWall = (System.nanoTime() - t0) / 1e9;
                checkExact(out, exact, "QEMU");
            }
        }
        return new Reference(r.virtualNanos(), r.wallNanos() / 1e9, qemuWall, exact);
    }

    static String exact(String output, String where) {
        return ResultLine.find(output).orElseThrow(() -> new IllegalStateException("STREAM printed no result line (" + where + "):\n" + output)).exact();
    }

    static void checkExact(String output, String expected, String where) {
        String got = exact(output, where);
        if (!got.equals(expected)) throw new IllegalStateException(where + " printed \"" + got + "\", the reference run \"" + expected + "\"");
    }

    static String range(double[] v, String format) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return String.format(java.util.Locale.ROOT, format + " (" + format + "–" + format + ")", BenchCommand.median(s), s[0], s[s.length - 1]);
    }
}
