package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/**
 * {@code bench snapshot} and {@code bench migration} on a tiny STREAM guest, one run each: they
 * finish and print their table (with a QEMU row when QEMU is installed, else a SKIPPED line). No
 * figure is checked against a time.
 */
class SnapshotMigrationBenchTest {
    private static void checkQemu(CommandRun r) {
        if (BenchCommand.findQemu() == null) assertTrue(r.out().contains("SKIPPED"), r.out());
        else assertTrue(r.out().contains("| QEMU TCG"), r.out());
    }

    @Test
    void snapshotBenchRunsOnATinyGuest() {
        CommandRun r = CommandRun.of("bench", "snapshot", "--runs", "1", "--stream-n", "100000", "--guest-memory", "16");
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(r.out().contains("| Symbiont | "), r.out());
        assertTrue(r.out().contains("the first restore ran to the end with the reference's result"), r.out());
        checkQemu(r);
    }

    @Test
    void migrationBenchRunsOnATinyGuest() {
        CommandRun r = CommandRun.of("bench", "migration", "--runs", "1", "--stream-n", "100000", "--guest-memory", "16", "--same-jvm");
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(r.out().contains("| Symbiont, live | ") && r.out().contains("| Symbiont, cold | "), r.out());
        assertTrue(r.out().contains("on the receiver: stopped"), r.out());
        checkQemu(r);
    }

    @Test
    void badFractionsAreRefused() {
        CommandRun r = CommandRun.of("bench", "snapshot", "--at", "1.5");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("--at must be a fraction"), r.err());
    }
}
