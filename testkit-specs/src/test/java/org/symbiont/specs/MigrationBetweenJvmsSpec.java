package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * A VM moved between separate JVM processes, started as a user starts them: live, with
 * {@code symbiont run --migrate-to} on one side and {@code symbiont restore --incoming} on the
 * other (two members of a Pekko cluster on loopback), and cold, with {@code symbiont snapshot} in
 * one process and {@code symbiont restore} in another. Either way the serial output the VM wrote
 * before it moved and after is, end to end, byte for byte that of a run in one place.
 */
class MigrationBetweenJvmsSpec {
    @TempDir
    static Path dir;
    private static Path kernel;
    private static final String WORKLOAD = "stream n=300000 ntimes=20";
    private final List<Process> processes = new ArrayList<>();

    @BeforeAll
    static void writeKernel() throws IOException {
        kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
    }

    @AfterEach
    void killProcesses() {
        for (Process p : processes) p.destroyForcibly();
    }

    /** What the VM prints when it runs in one place, here. */
    private static String unmoved() {
        VmConfig config = VmConfig.from(com.typesafe.config.ConfigFactory.parseString("memory = 64M\nkernel.file = \"" + kernel
                + "\"\nkernel.append = \"" + WORKLOAD + "\"\n"), "spec");
        CharBackends.Capture console = new CharBackends.Capture();
        VmReport r = Vms.run(VmSpec.prepare(config, Extensions.none(), console), null, Duration.ofMinutes(2));
        assertEquals(VmReport.Reason.GUEST_EXIT, r.reason(), r::message);
        return console.text();
    }

    private List<String> machine(Path serial) {
        return List.of("--kernel", kernel.toString(), "-m", "64", "--append", WORKLOAD, "--serial", "file:" + serial);
    }

    /** {@code symbiont ARGS} in a JVM of its own; its standard error is collected, and the first line starting with {@code awaited} completes {@code seen}. */
    private Process symbiont(List<String> args, StringBuilder stderr, String awaited, CompletableFuture<String> seen) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), "org.symbiont.cli.Main"));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        processes.add(p);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream()))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (stderr) {
                        stderr.append(line).append('\n');
                    }
                    if (awaited != null && line.startsWith(awaited)) seen.complete(line);
                }
            } catch (IOException e) {
                if (seen != null) seen.completeExceptionally(e);
            }
            if (seen != null) seen.completeExceptionally(new IllegalStateException("the process ended without printing " + awaited));
        });
        reader.setDaemon(true);
        reader.start();
        return p;
    }

    private static int exit(Process p, StringBuilder stderr) throws InterruptedException {
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), () -> "the process ended in time:\n" + stderr);
        return p.exitValue();
    }

    @Test
    void liveMigrationFromOneProcessToAnother() throws Exception {
        String whole = unmoved();
        Path before = dir.resolve("live-before.txt"), after = dir.resolve("live-after.txt");
        int port = freePort();
        StringBuilder receiverErr = new StringBuilder(), senderErr = new StringBuilder();
        CompletableFuture<String> waiting = new CompletableFuture<>();
        List<String> receive = new ArrayList<>(List.of("restore", "-q", "--incoming", "127.0.0.1:" + port));
        receive.addAll(machine(after));
        Process receiver = symbiont(receive, receiverErr, "symbiont restore: waiting for", waiting);
        waiting.get(90, TimeUnit.SECONDS);

        List<String> send = new ArrayList<>(List.of("run", "--migrate-to", "127.0.0.1:" + port, "--migrate-at", "10ms"));
        send.addAll(machine(before));
        Process sender = symbiont(send, senderErr, null, null);

        assertEquals(0, exit(sender, senderErr), senderErr::toString);
        assertTrue(senderErr.toString().contains("migrated vm to 127.0.0.1:" + port), senderErr::toString);
        assertEquals(1, exit(receiver, receiverErr), receiverErr::toString); // the LWK's isa-debug-exit status (0 << 1) | 1
        String rest = Files.readString(after);
        assertFalse(rest.isEmpty(), "the guest went on printing in the receiving process");
        assertEquals(whole, Files.readString(before) + rest);
    }

    @Test
    void coldMigrationThroughASnapshotFile() throws Exception {
        String whole = unmoved();
        Path before = dir.resolve("cold-before.txt"), after = dir.resolve("cold-after.txt"), file = dir.resolve("vm.snap");
        StringBuilder saveErr = new StringBuilder(), restoreErr = new StringBuilder();
        List<String> save = new ArrayList<>(List.of("snapshot", "--at", "12ms", "-o", file.toString()));
        save.addAll(machine(before));
        assertEquals(0, exit(symbiont(save, saveErr, null, null), saveErr), saveErr::toString);
        List<String> restore = new ArrayList<>(List.of("restore", "-q", file.toString()));
        restore.addAll(machine(after));
        assertEquals(1, exit(symbiont(restore, restoreErr, null, null), restoreErr), restoreErr::toString);
        assertEquals(whole, Files.readString(before) + Files.readString(after));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
