package org.symbiont.guests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
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
 * {@code expected/<case>.txt} ({@link GuestScenario}), the net pair as two QEMU processes whose
 * cards share a socket netdev. Skipped, with a message on stderr, when {@code qemu-system-x86_64}
 * is not on the PATH.
 */
class TestGuestQemuTest {
    private static final long RUN_TIMEOUT_SECONDS = 30;
    private static final long LISTEN_TIMEOUT_SECONDS = 10;

    @TempDir
    static Path workDir;
    private static Path qemu;
    private static Path kernel;

    @BeforeAll
    static void findQemu() throws IOException {
        qemu = Qemu.find();
        if (qemu == null) {
            System.err.println("SKIPPED: " + Qemu.PROGRAM + " not installed (not on the PATH); the test guest's scenarios were not run under QEMU");
        }
        kernel = workDir.resolve("testguest.bin");
        Files.write(kernel, GuestImages.testguest());
    }

    @BeforeEach
    void requireQemu() {
        assumeTrue(qemu != null, Qemu.PROGRAM + " not installed");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void printsTheExpectedOutput(String name) throws Exception {
        GuestScenario expected = GuestScenario.load(name);
        assertPrints(expected, run(expected.cmdline(), expected.qemuArgs()));
    }

    private static void assertPrints(GuestScenario expected, Qemu.Run run) {
        String name = expected.name();
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
        Qemu.Run run = run("pci", List.of("-drive", "file=" + image + ",if=virtio,format=raw"));
        assertEquals(1, run.exitStatus(), run::toString);
        List<String> lines = run.lines();
        assertTrue(lines.contains("00:00.0 8086:1237 060000"), () -> "i440fx host bridge missing\n" + run);
        assertTrue(lines.contains("host bridge at 00:00.0: yes"), run::toString);
        String sector = "virtio-blk sector 0: " + HexFormat.ofDelimiter(" ").formatHex(marker);
        assertTrue(lines.contains(sector), () -> "expected \"" + sector + "\"\n" + run);
        assertEquals("PASS pci", lines.getLast(), run::toString);
    }

    /**
     * The net pair (expected/README.md): the receiver listens on a socket netdev, the sender
     * connects to it once the port is open, and their cards exchange frames.
     */
    @Test
    void netExchangesFramesBetweenTwoQemusOverASocketNetdev() throws Exception {
        GuestScenario receiver = GuestScenario.load("net-recv");
        GuestScenario sender = GuestScenario.load("net-send");
        int port = freeLocalPort();
        Qemu.Started listening = start(receiver.cmdline(), withNetdev("listen=127.0.0.1:" + port, receiver.qemuArgs()));
        Qemu.Started connecting = null;
        try {
            awaitListening(port, listening);
            connecting = start(sender.cmdline(), withNetdev("connect=127.0.0.1:" + port, sender.qemuArgs()));
            Qemu.Run sent = connecting.finish(RUN_TIMEOUT_SECONDS);
            Qemu.Run received = listening.finish(RUN_TIMEOUT_SECONDS);
            assertPrints(sender, sent);
            assertPrints(receiver, received);
        } finally {
            listening.process().destroyForcibly();
            if (connecting != null) connecting.process().destroyForcibly();
        }
    }

    private static List<String> withNetdev(String socket, List<String> qemuArgs) {
        List<String> args = new ArrayList<>(List.of("-netdev", "socket,id=n," + socket));
        args.addAll(qemuArgs);
        return args;
    }

    private static int freeLocalPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /**
     * Waits until the kernel lists a socket listening on {@code port} of 127.0.0.1: a connection
     * to find out would be the one QEMU accepts.
     */
    private static void awaitListening(int port, Qemu.Started listener) throws IOException, InterruptedException {
        Path table = Path.of("/proc/net/tcp");
        assumeTrue(Files.isReadable(table), "no /proc/net/tcp to see when QEMU listens: the net pair was not run");
        String listeningEntry = String.format(" 0100007F:%04X 00000000:0000 0A ", port);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LISTEN_TIMEOUT_SECONDS);
        while (!Files.readString(table).contains(listeningEntry)) {
            if (!listener.process().isAlive() || System.nanoTime() > deadline) {
                fail("QEMU did not listen on 127.0.0.1:" + port + " within " + LISTEN_TIMEOUT_SECONDS + " s\n" + listener.finish(RUN_TIMEOUT_SECONDS));
            }
            Thread.sleep(20);
        }
    }

    private static Qemu.Run run(String cmdline, List<String> extraArgs) throws IOException, InterruptedException {
        return start(cmdline, extraArgs).finish(RUN_TIMEOUT_SECONDS);
    }

    private static Qemu.Started start(String cmdline, List<String> extraArgs) throws IOException {
        List<String> args = new ArrayList<>(List.of("-m", "256"));
        args.addAll(extraArgs);
        return Qemu.start(qemu, workDir, kernel, cmdline, args);
    }
}
