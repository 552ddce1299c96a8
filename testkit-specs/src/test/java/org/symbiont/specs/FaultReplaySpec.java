package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.symbiont.cli.SymbiontCommand;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.config.VmConfig;

/**
 * Deterministic replay of faulted runs: each faulted run, rerun with its seed, prints the same
 * console output byte for byte, ends at the same virtual time and applies the same faults; another
 * seed makes other random choices (the bit flipped, a noise source's phase).
 * And {@code symbiont faults --replay} says so for the documented scenario.
 */
class FaultReplaySpec {
    /** memperf with a fixed and a random bit flip, a stall and noise of random phase. */
    private static List<VmConfig> memperf(int seed) {
        return List.of(FaultedRun.lwk("replay-memperf", "memory = 64M\nseed = " + seed + "\nkernel.append = \"memperf mb=8\"\n" + """
                faults = [
                  { at = 20ms, kind = flip-bit, address = 0x600000, bit = 0 }
                  { at = 10ms, kind = flip-bit, random = true }
                  { at = 12ms, kind = flip-bit, random = true }
                  { at = 5ms, kind = stall-vcpu, vcpu = 0, duration = 2ms }
                  { at = 1ms, kind = noise, frequency = 2000, duration = 20us, phase = random }
                ]
                """));
    }

    /** The test guest's PIT scenario with some ticks delayed and some dropped, and noise of random phase. */
    private static List<VmConfig> pit(int seed) {
        return List.of(FaultedRun.testguest("replay-pit", "seed = " + seed + "\nkernel.append = pit\n" + """
                faults = [
                  { at = 60ms, kind = delay-interrupt, line = 0, count = 20, delay = 2500us }
                  { at = 120ms, kind = drop-interrupt, line = 0, count = 7 }
                  { at = 0, kind = noise, frequency = 500, duration = 40us, phase = random }
                ]
                """));
    }

    private static void assertReplaysAndDependsOnTheSeed(IntFunction<List<VmConfig>> scenario, String randomKind) {
        List<FaultedRun> first = FaultedRun.runAll(scenario.apply(11));
        List<FaultedRun> again = FaultedRun.runAll(scenario.apply(11));
        List<FaultedRun> other = FaultedRun.runAll(scenario.apply(12));
        for (int k = 0; k < first.size(); k++) {
            FaultedRun a = first.get(k), b = again.get(k);
            assertEquals(a.console(), b.console(), "VM " + k + ": the same console output");
            assertEquals(a.report().virtualNanos(), b.report().virtualNanos(), "VM " + k + ": the same virtual end time");
            assertEquals(a.report().faults(), b.report().faults(), "VM " + k + ": the same faults applied");
            assertEquals(a.report().retired(), b.report().retired(), "VM " + k + ": the same instructions retired");
        }
        FaultedRun faulted = first.getLast();
        assertFalse(faulted.report().faults().isEmpty(), faulted::toString);
        assertNotEquals(randomChoices(faulted, randomKind), randomChoices(other.getLast(), randomKind),
                "seed 12 draws other " + randomKind + " faults");
    }

    private static List<VmReport.AppliedFault> randomChoices(FaultedRun r, String kind) {
        return r.report().faults().stream().filter(f -> f.kind().equals(kind)).toList();
    }

    @Test
    void memperfWithBitFlipsAStallAndNoiseReplaysFromItsSeed() {
        assertReplaysAndDependsOnTheSeed(FaultReplaySpec::memperf, "flip-bit");
        assertNotEquals(randomChoices(FaultedRun.run(memperf(11).getFirst()), "noise"),
                randomChoices(FaultedRun.run(memperf(12).getFirst()), "noise"), "the noise phase comes from the seed");
    }

    @Test
    void thePitScenarioWithDelayedDroppedTicksAndNoiseReplaysFromItsSeed() {
        assertReplaysAndDependsOnTheSeed(FaultReplaySpec::pit, "noise");
    }

    @Test
    void symbiontFaultsReplaysTheDocumentedBitflipScenarioIdentically() {
        SymbiontCommand.Result r = SymbiontCommand.run("faults", "--replay", "2",
                Path.of("..", "docs", "faults", "bitflip-memperf.conf").toString());
        String report = r.out() + r.err();
        assertEquals(1, r.status(), "the result did not survive: " + report);
        assertTrue(report.contains("with faults:    RESULT name=memperf mb=8 passes=3 errors=1 ok=0"), report);
        assertTrue(report.contains("replay: 2 run(s) identical"), report);
    }
}
