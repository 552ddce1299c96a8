package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.guests.LwkCase;
import org.symbiont.vmm.VmReport;

/**
 * Faults on memory and on the vCPU, as LWK workloads see them: a bit flipped in memperf's working
 * set is counted as an error and changes its checksum; a stalled vCPU and a noise source that
 * starts mid-run lengthen the time sieve measures by exactly what they stole, and its result
 * stays exact.
 */
class GuestMemoryAndCpuFaultSpec {
    private static final String SIEVE = "memory = 64M\nkernel.append = \"sieve n=1000000\"\n";
    /** 2 GHz: the cycles a vCPU loses per nanosecond stolen. */
    private static final long CYCLES_PER_NANO = 2;

    @Test
    void aBitFlippedInMemperfsWorkingSetIsCountedAndChangesItsChecksum() {
        FaultedRun r = FaultedRun.run(FaultedRun.lwk("memperf-bitflip", "memory = 64M\nkernel.append = \"memperf mb=8\"\n"
                // memperf's 8 MiB start at 4 MiB in the LWK's heap; at 20 ms it is between passes 2 and 3.
                + "faults = [{ at = 20ms, kind = flip-bit, address = 0x600000, bit = 0 }]"));
        assertEquals(VmReport.Reason.GUEST_EXIT, r.report().reason(), r::toString);
        assertEquals(List.of(new VmReport.AppliedFault(20_000_000, "flip-bit", "bit 0 of 0x600000: 0x88 -> 0x89")), r.report().faults());
        String clean = LwkCase.named("memperf").expected();
        assertEquals(clean.replace("errors=0 ok=1 checksum=0x048dd4e5cfc5f000", "errors=1 ok=0 checksum=0x048dd4e5cfc5f001"), r.exact(),
                "one error, and the flipped low bit is in the checksum");
    }

    @Test
    void aStalledVcpuLengthensSievesMeasuredTimeByTheStall() {
        FaultedRun clean = FaultedRun.run(FaultedRun.lwk("sieve", SIEVE));
        FaultedRun stalled = FaultedRun.run(FaultedRun.lwk("sieve-stalled", SIEVE
                + "faults = [{ at = 5ms, kind = stall-vcpu, vcpu = 0, duration = 4ms }]"));
        assertEquals(LwkCase.named("sieve").expected(), clean.exact());
        assertEquals(clean.exact(), stalled.exact(), "the primes are the same");
        assertEquals(4_000_000 * CYCLES_PER_NANO, stalled.stolenCycles());
        assertEquals(List.of(new VmReport.AppliedFault(5_000_000, "stall-vcpu", "vCPU 0 stalled for 4000000 ns")), stalled.report().faults());
        double grew = stalled.result().orElseThrow().measuredNumber("seconds") - clean.result().orElseThrow().measuredNumber("seconds");
        assertEquals(0.004, grew, 1e-6, "the guest measured the 4 ms it lost");
        assertEquals(clean.report().virtualNanos() + 4_000_000, stalled.report().virtualNanos(), 100);
    }

    @Test
    void noiseStartingMidRunStealsTimeAndLeavesSievesResultExact() {
        FaultedRun clean = FaultedRun.run(FaultedRun.lwk("sieve", SIEVE));
        FaultedRun noisy = FaultedRun.run(FaultedRun.lwk("sieve-noisy", SIEVE
                + "faults = [{ at = 5ms, kind = noise, frequency = 1000, duration = 50us, phase = synchronized }]"));
        assertEquals(clean.exact(), noisy.exact());
        assertEquals(0, clean.stolenCycles());
        assertEquals("noise", noisy.report().faults().getFirst().kind());
        assertTrue(noisy.report().faults().getFirst().detail().endsWith("first event at 6000000 ns"), noisy::toString);
        // One 50 us event a millisecond from 6 ms until the guest exits at about 21 ms.
        long events = Math.round(noisy.stolenCycles() / (50_000.0 * CYCLES_PER_NANO));
        assertEquals(16, events, "stolen cycles " + noisy.stolenCycles());
        assertEquals(clean.report().virtualNanos() + noisy.stolenCycles() / CYCLES_PER_NANO, noisy.report().virtualNanos(), 1_000,
                "the run is longer by what was stolen");
        double grew = noisy.result().orElseThrow().measuredNumber("seconds") - clean.result().orElseThrow().measuredNumber("seconds");
        assertTrue(grew > 0 && Math.abs(grew / 50e-6 - Math.round(grew / 50e-6)) < 0.05,
                "the timed part lost whole 50 us events: " + grew);
    }
}
