package org.symbiont.cli;

import java.io.File;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code qemu-system-x86_64} (TCG) process running the LWK for the snapshot and migration
 * benchmarks, with its human monitor (HMP) on a Unix socket: the benchmark stops it, migrates it
 * and reads {@code info migrate} as a user at the monitor would. COM1 goes to a file.
 */
final class QemuProcess implements AutoCloseable {
    private static final Pattern ESCAPES = Pattern.compile("\u001b\\[[0-9;]*[A-Za-z]|\u001b[A-Za-z]|\r");
    private static final String PROMPT = "(qemu) ";

    private final Process process;
    private final Path serial;
    private final SocketChannel monitor;
    private final StringBuilder pending = new StringBuilder();

    private QemuProcess(Process process, Path serial, SocketChannel monitor) {
        this.process = process;
        this.serial = serial;
        this.monitor = monitor;
    }

    /** Starts QEMU with {@code memoryMiB} of RAM running {@code kernel} with {@code cmdline}; {@code extra} arguments are added. */
    static QemuProcess start(Path qemu, Path dir, String name, Path kernel, String cmdline, int memoryMiB, List<String> extra)
            throws IOException, InterruptedException {
        Path socket = dir.resolve(name + ".monitor");
        Path serial = dir.resolve(name + ".serial");
        Files.deleteIfExists(socket);
        List<String> command = new ArrayList<>(List.of(qemu.toString(), "-machine", "pc", "-accel", "tcg", "-m", Integer.toString(memoryMiB),
                "-display", "none", "-no-reboot", "-serial", "file:" + serial, "-monitor", "unix:" + socket + ",server=on,wait=off",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", kernel.toString(), "-append", cmdline));
        command.addAll(extra);
        Process p = new ProcessBuilder(command).redirectInput(new File("/dev/null"))
                .redirectOutput(dir.resolve(name + ".out").toFile()).redirectError(dir.resolve(name + ".err").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            if (Files.exists(socket)) {
                try {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    QemuProcess q = new QemuProcess(p, serial, ch);
                    q.readToPrompt();
                    return q;
                } catch (IOException e) {
                    // not listening yet
                }
            }
            if (!p.isAlive()) throw new IllegalStateException("QEMU exited at start: " + Files.readString(dir.resolve(name + ".err")));
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IllegalStateException("QEMU's monitor did not come up within 30 s");
            }
            Thread.sleep(2);
        }
    }

    /** Runs a monitor command and returns what it printed (escape sequences and the echoed command removed). */
    synchronized String command(String line) throws IOException {
        monitor.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
        String out = readToPrompt();
        int nl = out.indexOf('\n');
        return nl < 0 ? "" : out.substring(nl + 1);
    }

    private String readToPrompt() throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8192);
        while (true) {
            int at = pending.indexOf(PROMPT);
            if (at >= 0) {
                String out = pending.substring(0, at);
                pending.delete(0, at + PROMPT.length());
                return out;
            }
            buf.clear();
            if (monitor.read(buf) < 0) throw new IOException("QEMU closed its monitor");
            buf.flip();
            pending.append(ESCAPES.matcher(StandardCharsets.UTF_8.decode(buf)).replaceAll(""));
        }
    }

    /** {@code info migrate}'s field {@code key} as a number (e.g. "total time" in ms), or -1. */
    static long field(String infoMigrate, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + ": (\\d+)").matcher(infoMigrate);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    static String status(String infoMigrate) {
        Matcher m = Pattern.compile("(?m)^Migration status: (\\S+)").matcher(infoMigrate);
        return m.find() ? m.group(1) : "";
    }

    /** Polls {@code info migrate} until the migration completed (returned) or failed (an exception). */
    String awaitMigration(long timeoutSeconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (true) {
            String info = command("info migrate");
            String s = status(info);
            if (s.equals("completed")) return info;
            if (s.equals("failed") || s.equals("cancelled")) throw new IllegalStateException("QEMU migration " + s + ":\n" + info);
            if (System.nanoTime() > deadline) throw new IllegalStateException("QEMU migration not complete after " + timeoutSeconds + " s:\n" + info);
            Thread.sleep(5);
        }
    }

    /** Polls {@code info status} until the VM no longer waits for incoming state; returns the status line. */
    String awaitIncoming(long timeoutSeconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (true) {
            String s = command("info status").strip();
            if (!s.contains("inmigrate")) return s;
            if (!process.isAlive() || System.nanoTime() > deadline) throw new IllegalStateException("QEMU did not load the incoming state: " + s);
            Thread.sleep(2);
        }
    }

    Process process() {
        return process;
    }

    /** COM1's output so far. */
    String serial() throws IOException {
        return Files.exists(serial) ? Files.readString(serial).replace("\r", "") : "";
    }

    /** Waits for the guest to exit (isa-debug-exit) and returns COM1's output. */
    String awaitExit(long timeoutSeconds) throws IOException, InterruptedException {
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) throw new IllegalStateException("QEMU did not finish within " + timeoutSeconds + " s");
        return serial();
    }

    @Override
    public void close() {
        try {
            monitor.close();
        } catch (IOException e) {
            // going anyway
        }
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
