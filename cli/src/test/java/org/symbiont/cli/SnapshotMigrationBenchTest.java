package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/**
 * {@code bench snapshot} and {@code bench migration} on a tiny STREAM guest, one run each: they
 * finish and print their table (with a QEMU row when QEMU is installed, else a SKIPPED line). No
 * figure is checked against a time.
 */
class SnapshotMigrationBenchTest {
    record Result(int status, String out, String err) {}

    private static synchronized Result symbiont(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            return new Result(Main.execute(args), out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private static void checkQemu(Result r) {
        if (BenchCommand.findQemu() == null) assertTrue(r.out().contains("SKIPPED"), r.out());
        else assertTrue(r.out().contains("| QEMU TCG"), r.out());
    }

    @Test
    void snapshotBenchRunsOnATinyGuest() {
        Result r = symbiont("bench", "snapshot", "--runs", "1", "--stream-n", "100000", "--guest-memory", "16");
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(r.out().contains("| Symbiont | "), r.out());
        assertTrue(r.out().contains("the first restore ran to the end with the reference's result"), r.out());
        checkQemu(r);
    }

    @Test
    void migrationBenchRunsOnATinyGuest() {
        Result r = symbiont("bench", "migration", "--runs", "1", "--stream-n", "100000", "--guest-memory", "16", "--same-jvm");
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(r.out().contains("| Symbiont | "), r.out());
        assertTrue(r.out().contains("on the receiver: stopped"), r.out());
        checkQemu(r);
    }

    @Test
    void badFractionsAreRefused() {
        Result r = symbiont("bench", "snapshot", "--at", "1.5");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("--at must be a fraction"), r.err());
    }
}
