package org.symbiont.guests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.DatagramSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The LWK and its workloads under QEMU (TCG) and natively: every case of {@code lwk/cases.txt}
 * ({@link LwkCase}) prints its expected result line under QEMU — several nodes as several QEMU
 * processes on one multicast socket netdev — and, for one node, from the workload's native Linux
 * twin; the image rebuilt from the sources (where gcc is) boots too. Each part is skipped with a
 * message on stderr when QEMU or the native twins are missing.
 */
class LwkQemuTest {
    private static final long RUN_TIMEOUT_SECONDS = 120;

    @TempDir
    static Path workDir;
    private static Path qemu;
    private static Path kernel;

    @BeforeAll
    static void setUp() throws IOException {
        qemu = Qemu.find();
        if (qemu == null) System.err.println("SKIPPED: " + Qemu.PROGRAM + " not installed (not on the PATH); the LWK was not run under QEMU");
        kernel = workDir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
        if (GuestImages.lwkNative("hello").isEmpty()) {
            System.err.println("SKIPPED: the LWK workloads' native twins were not built (no gcc): native results not compared");
        }
    }

    static List<String> cases() {
        return LwkCase.all().stream().map(LwkCase::name).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void qemuPrintsTheExpectedResult(String name) throws Exception {
        assumeTrue(qemu != null, Qemu.PROGRAM + " not installed");
        LwkCase c = LwkCase.named(name);
        List<Qemu.Run> runs = runInQemu(c, kernel);
        for (Qemu.Run run : runs) assertEquals(c.vmExitStatus(), run.exitStatus(), () -> c.name() + ": every node's exit status\n" + run);
        Optional<ResultLine> result = ResultLine.find(runs.getFirst().output());
        assertTrue(result.isPresent(), () -> c.name() + " printed no result line\n" + runs.getFirst());
        assertEquals(c.expected(), result.get().exact(), () -> c.name() + " under QEMU\n" + runs.getFirst());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theNativeTwinPrintsTheExpectedResult(String name) throws Exception {
        LwkCase c = LwkCase.named(name);
        assumeTrue(c.nodes() == 1, "the native twins run one node");
        Optional<Path> binary = GuestImages.lwkNative(c.program());
        assumeTrue(binary.isPresent(), "native twins not built");
        List<String> command = new ArrayList<>(List.of(binary.get().toString()));
        command.addAll(c.nativeArgs());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(RUN_TIMEOUT_SECONDS, TimeUnit.SECONDS), c.name());
        if (c.status() == 0) assertEquals(0, p.exitValue(), () -> c.name() + " natively\n" + out);
        else assertTrue(p.exitValue() != 0, () -> c.name() + " natively must fail\n" + out);
        assertEquals(c.expected(), ResultLine.find(out).map(ResultLine::exact).orElse("(no result line)"), () -> c.name() + " natively\n" + out);
    }

    @Test
    void eachFaultingProcessIsKilledAloneWithAReport() throws Exception {
        assumeTrue(qemu != null, Qemu.PROGRAM + " not installed");
        Qemu.Run run = runInQemu(LwkCase.named("faults"), kernel).getFirst();
        for (String fault : List.of("page fault at 0x0 ", "page fault at 0xffff800000000000 ", "invalid opcode", "divide error",
                "general protection fault")) {
            assertEquals(1, run.lines().stream().filter(l -> l.contains(fault) && l.endsWith(", killed")).count(), () -> fault + "\n" + run);
        }
    }

    @Test
    void theImageRebuiltFromTheSourcesBootsToo() throws Exception {
        assumeTrue(qemu != null, Qemu.PROGRAM + " not installed");
        Path rebuilt = Path.of("target", "rebuilt", "lwk", "lwk.bin");
        assumeTrue(Files.exists(rebuilt), "the images were not rebuilt (no gcc)");
        for (String name : List.of("smp4", "memperf-swap")) {
            LwkCase c = LwkCase.named(name);
            Qemu.Run run = runInQemu(c, rebuilt.toAbsolutePath()).getFirst();
            assertEquals(c.expected(), ResultLine.find(run.output()).map(ResultLine::exact).orElse("(no result line)"),
                    () -> c.name() + " on the rebuilt image\n" + run);
        }
    }

    /** One QEMU per node; the nodes share a multicast socket netdev (a hub) on a port of their own. */
    private static List<Qemu.Run> runInQemu(LwkCase c, Path image) throws Exception {
        List<String> machine = new ArrayList<>(List.of("-m", Integer.toString(c.memoryMiB()), "-smp", Integer.toString(c.cpus())));
        if (c.swapMiB() > 0) {
            Path disk = Files.createTempFile(workDir, "swap", ".img");
            try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
                f.setLength((long) c.swapMiB() << 20);
            }
            machine.addAll(List.of("-drive", "file=" + disk + ",format=raw,if=virtio"));
        }
        int port = c.nodes() > 1 ? freeUdpPort() : 0;
        List<Qemu.Started> started = new ArrayList<>();
        try {
            for (int rank = 0; rank < c.nodes(); rank++) {
                List<String> args = new ArrayList<>(machine);
                if (c.nodes() > 1) {
                    args.addAll(List.of("-netdev", "socket,id=n0,mcast=230.0.0.1:" + port + ",localaddr=127.0.0.1",
                            "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:" + String.format("%02x", rank + 0x10)));
                }
                started.add(Qemu.start(qemu, workDir, image, c.cmdline(rank), args));
            }
            List<Qemu.Run> runs = new ArrayList<>();
            for (Qemu.Started s : started) runs.add(s.finish(RUN_TIMEOUT_SECONDS));
            return runs;
        } finally {
            for (Qemu.Started s : started) s.process().destroyForcibly();
        }
    }

    private static int freeUdpPort() throws IOException {
        try (DatagramSocket s = new DatagramSocket(0)) {
            return s.getLocalPort();
        }
    }
}
