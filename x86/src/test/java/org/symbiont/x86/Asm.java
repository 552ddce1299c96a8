package org.symbiont.x86;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Assembles test programs with GNU as (binutils) into flat binaries. Tests that use it are
 * skipped, with a visible message, where binutils is absent; CI installs it.
 */
public final class Asm {
    private Asm() {}

    private static Boolean available;

    public static synchronized boolean available() {
        if (available == null) {
            available = run(List.of("as", "--version"), null) && run(List.of("objcopy", "--version"), null);
            if (!available) System.err.println("SKIPPED: GNU as/objcopy (binutils) not found; assembler-based tests do not run");
        }
        return available;
    }

    /** Skips the calling test (JUnit assumption) when binutils is missing. */
    public static void assumeAvailable() {
        Assumptions.assumeTrue(available(), "GNU binutils (as, objcopy) not installed: test skipped");
    }

    /**
     * Assembles {@code source} (AT&T or, with {@code .intel_syntax noprefix}, Intel syntax) as
     * code linked at {@code origin}; {@code bits} is 16, 32 or 64.
     */
    public static byte[] assemble(String source, int bits, long origin) {
        assumeAvailable();
        try {
            Path dir = Files.createTempDirectory("symbiont-asm");
            try {
                Path src = dir.resolve("t.s"), obj = dir.resolve("t.o"), elf = dir.resolve("t.elf"), bin = dir.resolve("t.bin");
                String prologue = switch (bits) {
                    case 16 -> ".code16\n";
                    case 32 -> ".code32\n";
                    default -> ".code64\n";
                };
                Files.writeString(src, prologue + source + "\n");
                String asFlag = bits == 64 ? "--64" : "--32";
                check(List.of("as", asFlag, "-o", obj.toString(), src.toString()), dir);
                String emulation = bits == 64 ? "elf_x86_64" : "elf_i386";
                check(List.of("ld", "-m", emulation, "-Ttext=" + Long.toHexString(origin), "-e", "0", "--no-warn-rwx-segments",
                        "-o", elf.toString(), obj.toString()), dir);
                check(List.of("objcopy", "-O", "binary", "-j", ".text", elf.toString(), bin.toString()), dir);
                return Files.readAllBytes(bin);
            } finally {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) Files.deleteIfExists(p);
                }
                Files.deleteIfExists(dir);
            }
        } catch (IOException e) {
            throw new IllegalStateException("assembling failed: " + e.getMessage(), e);
        }
    }

    private static void check(List<String> cmd, Path dir) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (dir != null) pb.directory(dir.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static boolean run(List<String> cmd, Path dir) {
        try {
            check(cmd, dir);
            return true;
        } catch (IOException | IllegalStateException e) {
            return false;
        }
    }
}
