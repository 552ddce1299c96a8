package org.symbiont.guests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Runs the test guest's scenarios under QEMU (TCG) and checks each against its expected output in
 * {@code expected/<case>.txt} ({@link GuestScenario}). Skipped, with a message on stderr, when
 * {@code qemu-system-x86_64} is not on the PATH.
 */
class TestGuestQemuTest {
    private static final String QEMU = "qemu-system-x86_64";
    private static final long RUN_TIMEOUT_SECONDS = 30;
    private static final List<String> COMMON_ARGS = List.of(
            "-machine", "pc", "-accel", "tcg", "-m", "256", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04");

    @TempDir
    static Path workDir;
    private static Path qemu;
    private static Path kernel;

    @BeforeAll
    static void findQemu() throws IOException {
        qemu = onPath(QEMU);
        if (qemu == null) {
            System.err.println("SKIPPED: " + QEMU + " not installed (not on the PATH); the test guest's scenarios were not run under QEMU");
        }
        kernel = workDir.resolve("testguest.bin");
        Files.write(kernel, GuestImages.testguest());
    }

    @BeforeEach
    void requireQemu() {
        assumeTrue(qemu != null, QEMU + " not installed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void printsTheExpectedOutput(String name) throws Exception {
        GuestScenario expected = GuestScenario.load(name);
        Run run = run(expected.cmdline(), expected.qemuArgs());
        assertEquals(expected.exitStatus(), run.exitStatus(), () -> "QEMU's exit status for " + name + "\n" + run);
        assertEquals(String.join("\n", expected.reconciledWith(run.lines())), String.join("\n", run.lines()),
                () -> "guest output of " + name + " differs from expected/" + name + ".txt");
        if (run.exitStatus() == 1) assertEquals("PASS " + expected.scenario(), run.lines().getLast(), () -> run.toString());
    }

    static List<String> scenarios() {
        return GuestScenario.NAMES;
    }

    @Test
    void pciListsBusZeroAndReadsAVirtioBlkSector() throws Exception {
        byte[] disk = new byte[4096];
        byte[] marker = "symbiont-virtio!".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(marker, 0, disk, 0, marker.length);
        Path image = workDir.resolve("virtio-disk.img");
        Files.write(image, disk);
        Run run = run("pci", List.of("-drive", "file=" + image + ",if=virtio,format=raw"));
        assertEquals(1, run.exitStatus(), run::toString);
        List<String> lines = run.lines();
        assertTrue(lines.contains("00:00.0 8086:1237 060000"), () -> "i440fx host bridge missing\n" + run);
        assertTrue(lines.contains("host bridge at 00:00.0: yes"), run::toString);
        String sector = "virtio-blk sector 0: " + HexFormat.ofDelimiter(" ").formatHex(marker);
        assertTrue(lines.contains(sector), () -> "expected \"" + sector + "\"\n" + run);
        assertEquals("PASS pci", lines.getLast(), run::toString);
    }

    private record Run(int exitStatus, List<String> lines, String stderr) {
        @Override
        public String toString() {
            return "exit status " + exitStatus + "\n--- guest output:\n" + String.join("\n", lines)
                    + "\n--- QEMU stderr:\n" + stderr;
        }
    }

    private static Run run(String cmdline, List<String> extraArgs) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(qemu.toString());
        command.addAll(COMMON_ARGS);
        command.addAll(extraArgs);
        command.addAll(List.of("-kernel", kernel.toString(), "-append", cmdline));
        Path out = Files.createTempFile(workDir, "serial", ".txt");
        Path err = Files.createTempFile(workDir, "stderr", ".txt");
        Process process = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        if (!process.waitFor(RUN_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            fail("QEMU did not finish \"" + cmdline + "\" within " + RUN_TIMEOUT_SECONDS + " s and was killed\n"
                    + new Run(-1, lines(Files.readString(out)), Files.readString(err)));
        }
        return new Run(process.exitValue(), lines(Files.readString(out)), Files.readString(err));
    }

    private static List<String> lines(String text) {
        return text.lines().map(line -> line.replace("\r", "")).toList();
    }

    private static Path onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String dir : path.split(File.pathSeparator)) {
            Path candidate = Path.of(dir).resolve(program);
            if (!dir.isEmpty() && Files.isExecutable(candidate)) return candidate;
        }
        return null;
    }
}
