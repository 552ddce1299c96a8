package org.symbiont.x86.difftest;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The native side: compiles {@code src/test/c/difftest_harness.c} with gcc into a temporary
 * directory and runs batches of cases through one harness process (see the protocol in the C
 * file). A batch is submitted whole; the harness reads all of it before running it, so the
 * caller can emulate the previous batch while the host runs this one.
 */
final class NativeHarness implements AutoCloseable {
    private static final int RESULT_HEADER = 424;

    private final Process process;
    private final OutputStream in;
    private final InputStream out;
    private final Path directory;

    private NativeHarness(Path executable, Path directory) throws IOException {
        this.directory = directory;
        process = new ProcessBuilder(executable.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        in = new BufferedOutputStream(process.getOutputStream(), 1 << 16);
        out = new BufferedInputStream(process.getInputStream(), 1 << 16);
        byte[] hello = out.readNBytes(4);
        if (!new String(hello, java.nio.charset.StandardCharsets.US_ASCII).equals("DTH1")) {
            throw new IOException("the native harness did not start (see its message above)");
        }
    }

    /** Where the C sources are: src/test/c of the x86 module (Maven runs tests in the module directory). */
    static Path sources() {
        for (Path p : List.of(Path.of("src/test/c"), Path.of("x86/src/test/c"))) {
            if (Files.isRegularFile(p.resolve("difftest_harness.c"))) return p;
        }
        String base = System.getProperty("basedir");
        if (base != null) return Path.of(base, "src/test/c");
        throw new IllegalStateException("cannot find src/test/c/difftest_harness.c from " + Path.of("").toAbsolutePath());
    }

    /** Whether gcc can be run. */
    static boolean gccAvailable() {
        try {
            Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Compiles and starts the harness. */
    static NativeHarness start() throws IOException {
        Path src = sources();
        Path dir = Files.createTempDirectory("symbiont-difftest");
        Path exe = dir.resolve("difftest_harness");
        ProcessBuilder pb = new ProcessBuilder("gcc", "-O2", "-Wall", "-o", exe.toString(),
                src.resolve("difftest_harness.c").toString(), src.resolve("difftest_entry.S").toString())
                .redirectErrorStream(true);
        Process p = pb.start();
        String log = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("compiling the native harness failed:\n" + log);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return new NativeHarness(exe, dir);
    }

    void submit(List<TestCase> batch) throws IOException {
        int size = 4;
        for (TestCase c : batch) size += c.serializedSize();
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(batch.size());
        for (TestCase c : batch) c.writeTo(b);
        in.write(b.array());
        in.flush();
    }

    List<MachineState> collect(List<TestCase> batch) throws IOException {
        List<MachineState> results = new ArrayList<>(batch.size());
        for (TestCase c : batch) results.add(readResult(c));
        return results;
    }

    private MachineState readResult(TestCase c) throws IOException {
        ByteBuffer h = ByteBuffer.wrap(readExactly(RESULT_HEADER)).order(ByteOrder.LITTLE_ENDIAN);
        MachineState s = new MachineState();
        int kind = h.get() & 0xFF;
        int signal = h.get() & 0xFF;
        int diffs = h.getShort() & 0xFFFF;
        int code = h.getInt();
        long address = h.getLong();
        s.rip = h.getLong();
        for (int r = 0; r < 16; r++) s.gpr[r] = h.getLong();
        s.rflags = h.getLong();
        s.mxcsr = h.getInt();
        h.getInt();
        for (int k = 0; k < 32; k++) s.xmm[k] = h.getLong();
        byte[] data = c.initialData();
        ByteBuffer d = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer diff = ByteBuffer.wrap(readExactly(10 * diffs)).order(ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; k < diffs; k++) {
            int q = diff.getShort() & 0xFFFF;
            d.putLong(8 * q, diff.getLong());
        }
        s.data = data;
        switch (kind) {
            case 0 -> s.outcome = MachineState.Outcome.COMPLETED;
            case 1 -> {
                s.outcome = MachineState.Outcome.FAULT;
                s.vector = vectorOf(signal, code);
                s.faultAddress = address;
                s.detail = "signal " + signal + ", si_code " + code;
            }
            default -> s.outcome = MachineState.Outcome.TIMEOUT;
        }
        return s;
    }

    /** The exception behind a Linux signal (arch/x86/kernel/traps.c, fault.c). */
    static int vectorOf(int signal, int code) {
        return switch (signal) {
            case 8 -> code == 1 || code == 2 ? 0 : 19;        // SIGFPE: FPE_INTDIV/FPE_INTOVF are #DE
            case 11 -> code == 0x80 ? 13 : 14;                // SIGSEGV: SI_KERNEL is #GP, else #PF
            case 7 -> code == 1 ? 17 : 12;                    // SIGBUS: BUS_ADRALN is #AC, else #SS
            case 4 -> 6;                                      // SIGILL
            case 5 -> 3;                                      // SIGTRAP: INT3
            default -> -signal;
        };
    }

    private byte[] readExactly(int n) throws IOException {
        byte[] b = out.readNBytes(n);
        if (b.length != n) throw new IOException("the native harness stopped (exit status " + exitStatus() + ")");
        return b;
    }

    private String exitStatus() {
        try {
            return process.waitFor(5, TimeUnit.SECONDS) ? String.valueOf(process.exitValue()) : "still running";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    @Override
    public void close() throws IOException {
        try {
            in.write(new byte[4]);
            in.close();
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
        } finally {
            if (process.isAlive()) process.destroyForcibly();
            try (var files = Files.list(directory)) {
                for (Path p : files.toList()) Files.deleteIfExists(p);
            }
            Files.deleteIfExists(directory);
        }
    }
}
