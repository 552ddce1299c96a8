package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.vmm.TestKernels;

/** {@code symbiont faults}: a scenario's report, its replays, and scenarios it refuses. */
class FaultsCommandTest {
    /** Writes 0 at 0x200000, works 2 ms, then prints a result line saying whether the 0 is still there. */
    private static final Path READ_BACK = TestKernels.file("""
                movl $0, 0x200000
                mov $2000000, %ecx
            1:  dec %ecx
                jnz 1b
                cmpb $0, 0x200000
                jne corrupted
            """ + TestKernels.print("good") + TestKernels.exit(0) + "corrupted:\n" + TestKernels.print("bad") + TestKernels.exit(1) + """
            good: .asciz "working\\nRESULT name=readback ok=1\\n"
            bad: .asciz "working\\nRESULT name=readback ok=0\\n"
            """);

    private static Path scenario(Path dir, String faults) throws Exception {
        Path file = dir.resolve("scenario.conf");
        Files.writeString(file, "name = readback\nmemory = 16M\nseed = 5\nkernel.file = \"" + READ_BACK + "\"\n"
                + "devices += { name = debugcon, type = debugcon, chardev = console }\n" + faults);
        return file;
    }

    @Test
    void aFlippedBitChangesTheResultAndTheRunReplaysIdentically(@TempDir Path dir) throws Exception {
        CommandRun r = CommandRun.of("faults", "--replay", "2",
                scenario(dir, "faults = [{ at = 1ms, kind = flip-bit, address = 0x200000, bit = 6 }]").toString());
        assertEquals(1, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("faults applied: 1"), r.out());
        assertTrue(r.out().contains("1,000,000 ns  flip-bit            bit 6 of 0x200000: 0x00 -> 0x40"), r.out());
        assertTrue(r.out().contains("without faults: guest exit, status 1 at"), r.out());
        assertTrue(r.out().contains("with faults:    guest exit, status 3 at"), r.out());
        assertTrue(r.out().contains("result: changed\n  without faults: RESULT name=readback ok=1\n  with faults:    RESULT name=readback ok=0"), r.out());
        assertTrue(r.out().contains("console lines that differ: 2\n  - RESULT name=readback ok=1\n  + RESULT name=readback ok=0\n"), r.out());
        assertTrue(r.out().contains("replay: 2 run(s) identical"), r.out());
    }

    @Test
    void aHarmlessFaultLeavesTheResultStanding(@TempDir Path dir) throws Exception {
        CommandRun r = CommandRun.of("faults", scenario(dir, "faults = [{ at = 1ms, kind = stall-vcpu, vcpu = 0, duration = 1ms }]").toString());
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("result: survived (RESULT name=readback ok=1)"), r.out());
        assertTrue(r.out().contains("console lines that differ: 0"), r.out());
    }

    @Test
    void theExampleScenarioRunsTheLwk() {
        CommandRun r = CommandRun.of("faults", "../docs/faults/bitflip-memperf.conf");
        assertEquals(1, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("with faults:    RESULT name=memperf mb=8 passes=3 errors=1 ok=0"), r.out());
    }

    @Test
    void aBadScenarioIsOneLineAndStatus2(@TempDir Path dir) throws Exception {
        CommandRun r = CommandRun.of("faults", scenario(dir, "faults = [{ at = 1ms, kind = melt }]").toString());
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("symbiont: " + dir.resolve("scenario.conf") + ": faults[0].kind: expected one of flip-bit,"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        r = CommandRun.of("faults", scenario(dir, "").toString());
        assertEquals(2, r.status());
        assertEquals("symbiont: " + dir.resolve("scenario.conf") + ": faults: expected at least one fault\n", r.err());
        r = CommandRun.of("faults", dir.resolve("missing.conf").toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("no such configuration file"), r.err());
    }
}
