package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.guests.GuestImages;

/**
 * {@code symbiont snapshot} and {@code symbiont restore} as a user sees them: the serial output
 * of the run saved part-way and the run restored from the file add up to that of an
 * uninterrupted run, byte for byte; mistakes get a message naming what is wrong, and no stack trace.
 */
class SnapshotCommandTest {
    @Test
    void savedThenRestoredPrintsWhatAnUninterruptedRunPrints(@TempDir Path dir) throws Exception {
        Path kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
        String[] machine = {"--kernel", kernel.toString(), "-m", "64", "--append", "hpccg nx=12 ny=12 nz=12 max_iter=60"};
        Path whole = dir.resolve("whole.txt"), before = dir.resolve("before.txt"), after = dir.resolve("after.txt");
        Path snapshot = dir.resolve("vm.snap");

        // The LWK exits through isa-debug-exit with 0: status (0 << 1) | 1.
        CommandRun run = CommandRun.of(concat(new String[] {"run", "-q", "--serial", "file:" + whole}, machine));
        assertEquals(1, run.status(), run.err());
        CommandRun saved = CommandRun.of(concat(new String[] {"snapshot", "--at", "5ms", "-o", snapshot.toString(), "--serial", "file:" + before}, machine));
        assertEquals(0, saved.status(), saved.err());
        assertTrue(saved.err().contains("saved at 5.0"), saved.err());
        CommandRun restored = CommandRun.of(concat(new String[] {"restore", snapshot.toString(), "-q", "--serial", "file:" + after}, machine));
        assertEquals(1, restored.status(), restored.err());

        String rest = Files.readString(after);
        assertTrue(rest.contains("RESULT name=hpccg"), rest);
        assertEquals(Files.readString(whole), Files.readString(before) + rest);
    }

    /** Checkpoint/restart: checkpoints change nothing the guest prints, and a restart from any continues it. */
    @Test
    void checkpointsLeaveTheRunAsItIsAndARestartFromOneContinuesIt(@TempDir Path dir) throws Exception {
        Path kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
        String[] machine = {"--kernel", kernel.toString(), "-m", "64", "--append", "hpccg nx=12 ny=12 nz=12 max_iter=60"};
        Path whole = dir.resolve("whole.txt"), checkpointed = dir.resolve("checkpointed.txt"), restarted = dir.resolve("restarted.txt");
        assertEquals(1, CommandRun.of(concat(new String[] {"run", "-q", "--serial", "file:" + whole}, machine)).status());
        Path checkpoints = Files.createDirectory(dir.resolve("checkpoints"));
        CommandRun run = CommandRun.of(concat(new String[] {"run", "--serial", "file:" + checkpointed, "--checkpoint-every", "3ms",
                "--checkpoint-dir", checkpoints.toString()}, machine));
        assertEquals(1, run.status(), run.err());
        assertEquals(Files.readString(whole), Files.readString(checkpointed), "checkpoints change nothing the guest prints");
        java.util.List<Path> files;
        try (var list = Files.list(checkpoints)) {
            files = list.sorted().toList();
        }
        assertTrue(files.size() >= 2, "a checkpoint every 3 ms: " + files + "\n" + run.err());
        assertTrue(run.err().contains("symbiont: checkpoint at 3.0"), run.err());

        CommandRun restart = CommandRun.of(concat(new String[] {"restore", "-q", files.get(1).toString(), "--serial", "file:" + restarted}, machine));
        assertEquals(1, restart.status(), restart.err());
        String rest = Files.readString(restarted);
        assertTrue(rest.contains("RESULT name=hpccg") && Files.readString(whole).endsWith(rest), rest);
    }

    @Test
    void mistakesAreNamedWithoutAStackTrace(@TempDir Path dir) throws Exception {
        Path kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
        Path snapshot = dir.resolve("vm.snap");
        CommandRun badTime = CommandRun.of("snapshot", "--at", "soon", "-o", snapshot.toString(), "--kernel", kernel.toString());
        assertEquals(2, badTime.status());
        assertTrue(badTime.err().contains("--at soon: expected a duration"), badTime.err());

        CommandRun missing = CommandRun.of("restore", dir.resolve("none.snap").toString(), "--kernel", kernel.toString());
        assertEquals(2, missing.status());
        assertTrue(missing.err().contains("none.snap: no such snapshot file"), missing.err());

        Path garbage = dir.resolve("garbage.snap");
        Files.writeString(garbage, "not a snapshot at all");
        CommandRun bad = CommandRun.of("restore", garbage.toString(), "--kernel", kernel.toString());
        assertEquals(2, bad.status());
        assertTrue(bad.err().contains("garbage.snap"), bad.err());

        CommandRun saved = CommandRun.of("snapshot", "--at", "1ms", "-o", snapshot.toString(), "--serial", "null", "--kernel", kernel.toString(),
                "-m", "64", "--append", "hello");
        assertEquals(0, saved.status(), saved.err());
        CommandRun other = CommandRun.of("restore", snapshot.toString(), "--serial", "null", "--kernel", kernel.toString(), "-m", "64",
                "--append", "sieve n=1000");
        assertEquals(2, other.status());
        assertTrue(other.err().contains("kernel.append = hello") && other.err().contains("sieve n=1000"), other.err());
        for (CommandRun r : new CommandRun[] {badTime, missing, bad, other}) assertFalse(r.err().contains("\tat "), r.err());
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
