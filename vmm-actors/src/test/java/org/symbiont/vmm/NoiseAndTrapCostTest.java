package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Noise steals virtual time from a running guest (exactly its duration at each event), with the
 * phase synchronized or drawn from the seed; the VMM's trap cost is charged on each access to an
 * emulated device; only PCI devices can be passed through.
 */
class NoiseAndTrapCostTest {
    /** 5,000,000 iterations of a two-instruction loop: 10 M instructions, 5 ms at 2 GHz. */
    private static final Path LOOP = TestKernels.file("""
                mov $5000000, %ecx
            1:  dec %ecx
                jnz 1b
            """ + TestKernels.exit(0));

    private static VmReport run(Path kernel, String hocon) {
        VmReport r = VmRun.run(VmRun.config("noise", kernel, "memory = 16M\n" + hocon)).report;
        assertEquals(VmReport.Reason.GUEST_EXIT, r.reason(), r.message());
        return r;
    }

    @Test
    void eachNoiseEventStealsItsDurationFromARunningGuest() {
        VmReport quiet = run(LOOP, "");
        VmReport noisy = run(LOOP, "noise = [{ frequency = 1000, duration = 100us, phase = synchronized }]");
        assertEquals(0, quiet.vcpus().getFirst().stolenCycles());
        // Synchronized: events at 1, 2, ... ms; the loop ends after 5 ms of its own work plus what was stolen.
        assertEquals(5 * 200_000, noisy.vcpus().getFirst().stolenCycles());
        assertEquals(quiet.vcpus().getFirst().retired(), noisy.vcpus().getFirst().retired(), "the guest does the same work");
        assertEquals(quiet.virtualNanos() + 500_000, noisy.virtualNanos(), 1);
    }

    @Test
    void aRandomPhaseIsDrawnFromTheSeed() {
        String noise = "noise = [{ frequency = 1000, duration = 100us, phase = random }]\n";
        assertEquals(run(LOOP, noise + "seed = 3").virtualNanos(), run(LOOP, noise + "seed = 3").virtualNanos());
        Set<Long> stolen = new HashSet<>();
        for (int seed = 1; seed <= 8; seed++) stolen.add(run(LOOP, noise + "seed = " + seed).vcpus().getFirst().stolenCycles());
        assertTrue(stolen.size() > 1, "the phase decides whether a sixth event falls within the run: " + stolen);
    }

    @Test
    void preemptionIsNoiseThatCanBeTurnedOn() {
        VmReport r = run(LOOP, "preemption { enabled = true, frequency = 1000, duration = 50us }");
        long stolen = r.vcpus().getFirst().stolenCycles();
        assertTrue(stolen == 5 * 100_000 || stolen == 6 * 100_000, "5 or 6 events of 50 us: " + stolen);
    }

    @Test
    void everyAccessToAnEmulatedDeviceCostsTheTrap() {
        Path kernel = TestKernels.file("""
                    mov $1000, %ecx
                    mov $'.', %al
                1:  out %al, $0xe9
                    dec %ecx
                    jnz 1b
                """ + TestKernels.exit(0));
        VmReport bare = run(kernel, "");
        VmReport trapped = run(kernel, "cost-model.device-trap = 4000");
        // 1000 debug-console writes and the exit's own write, 4000 cycles (2 us) each.
        assertEquals(bare.virtualNanos() + 1001 * 2_000, trapped.virtualNanos(), 1);
    }

    @Test
    void onlyPciDevicesCanBePassedThrough() {
        VmReport r = VmRun.run(VmRun.config("passthrough", LOOP, "memory = 16M\n"
                + "devices += { name = dbg2, type = debugcon, iobase = 0x402, passthrough = true }")).report;
        assertEquals(VmReport.Reason.CONFIG_ERROR, r.reason());
        assertTrue(r.message().contains("device dbg2: passthrough: only PCI devices can be passed through"), r.message());
    }

    @Test
    void aNoiseSourceLongerThanItsPeriodIsRefused() {
        var e = assertThrows(org.symbiont.vmm.config.VmConfigException.class, () -> VmRun.config("bad", LOOP,
                "noise = [{ frequency = 1000, duration = 2ms, phase = random }]"));
        assertTrue(e.getMessage().contains("noise[0].duration: expected a duration shorter than the period (1000000 ns)"), e.getMessage());
    }
}
