package org.symbiont.guests;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** {@code qemu-system-x86_64} (TCG) as the tests run guests under it: a PC with isa-debug-exit, COM1 to a file. */
final class Qemu {
    static final String PROGRAM = "qemu-system-x86_64";
    private static final List<String> COMMON_ARGS = List.of(
            "-machine", "pc", "-accel", "tcg", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04");

    private Qemu() {}

    /** QEMU on the PATH, or null (the caller prints a visible skip). */
    static Path find() {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String dir : path.split(File.pathSeparator)) {
            Path candidate = Path.of(dir).resolve(PROGRAM);
            if (!dir.isEmpty() && Files.isExecutable(candidate)) return candidate;
        }
        return null;
    }

    /** A QEMU process running {@code kernel} with {@code cmdline}; its output goes to files in {@code workDir}. */
    static Started start(Path qemu, Path workDir, Path kernel, String cmdline, List<String> extraArgs) throws IOException {
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
        return new Started(process, cmdline, out, err);
    }

    record Started(Process process, String cmdline, Path out, Path err) {
        /** Waits for the end of the run; a run longer than {@code timeoutSeconds} is killed and fails the test. */
        Run finish(long timeoutSeconds) throws IOException, InterruptedException {
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                fail("QEMU did not finish \"" + cmdline + "\" within " + timeoutSeconds + " s and was killed\n"
                        + new Run(-1, lines(Files.readString(out)), Files.readString(err)));
            }
            return new Run(process.exitValue(), lines(Files.readString(out)), Files.readString(err));
        }
    }

    record Run(int exitStatus, List<String> lines, String stderr) {
        String output() {
            return String.join("\n", lines);
        }

        @Override
        public String toString() {
            return "exit status " + exitStatus + "\n--- guest output:\n" + output() + "\n--- QEMU stderr:\n" + stderr;
        }
    }

    private static List<String> lines(String text) {
        return text.lines().map(line -> line.replace("\r", "")).toList();
    }
}
