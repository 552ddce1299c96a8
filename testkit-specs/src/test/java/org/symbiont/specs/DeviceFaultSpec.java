package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.guests.LwkCase;
import org.symbiont.vmm.VmReport;

/**
 * Device faults under the LWK: a crashed device actor restarted by supervision keeps its state,
 * so the guest's result (and here its whole run) is what it is without the crash, and the report
 * lists the crashes; with policy stop the VM ends at the crash with a VMM error naming the
 * device; sectors corrupted on the swap disk come back to memperf as memory errors.
 */
class DeviceFaultSpec {
    private static final LwkCase SWAP = LwkCase.named("memperf-swap");
    private static final String SWAPPING = "memory = " + SWAP.memoryMiB() + "M\nkernel.append = \"" + SWAP.cmdline(0) + "\"\n"
            + "devices += { name = swap0, type = virtio-blk, size = " + SWAP.swapMiB() + "M }\n";
    private static final String SIEVE = "memory = 64M\nkernel.append = \"sieve n=1000000\"\n";

    @Test
    void theSerialConsoleCrashingMidRunIsRestartedAndTheGuestPrintsAllItWould() {
        FaultedRun clean = FaultedRun.run(FaultedRun.lwk("sieve", SIEVE));
        FaultedRun crashed = FaultedRun.run(FaultedRun.lwk("sieve-com1", SIEVE + "faults = [{ at = 5ms, kind = crash-device, device = com1 }]"));
        assertEquals(VmReport.Reason.GUEST_EXIT, crashed.report().reason(), crashed::toString);
        assertEquals(clean.console(), crashed.console(), "every line, measured times included");
        assertEquals(List.of(new VmReport.AppliedFault(5_000_000, "crash-device", "device com1 crashed (policy restart)")),
                crashed.report().faults());
    }

    @Test
    void theSerialConsoleCrashingWithPolicyStopEndsTheVmWithAReportNamingIt() {
        FaultedRun r = FaultedRun.run(FaultedRun.lwk("sieve-com1-stop", SIEVE
                + "faults = [{ at = 5ms, kind = crash-device, device = com1, policy = stop }]"));
        assertEquals(VmReport.Reason.VMM_ERROR, r.report().reason(), r::toString);
        assertTrue(r.report().message().contains("device com1 crashed"), r.report().message());
        assertEquals(5_000_000, r.report().virtualNanos(), "it stopped at the crash");
        assertTrue(r.result().isEmpty(), "sieve never finished: " + r.console());
        assertTrue(r.report().toJson().contains("\"kind\": \"crash-device\""), r.report().toJson());
    }

    @Test
    void theSwapDiskCrashingTwiceWhileMemperfSwapsLeavesItsResultExact() {
        FaultedRun r = FaultedRun.run(FaultedRun.lwk("swap-crash", SWAPPING + """
                faults = [
                  { at = 50ms, kind = crash-device, device = swap0 }
                  { at = 150ms, kind = crash-device, device = swap0, policy = restart }
                ]
                """));
        assertEquals(SWAP.expected(), r.exact());
        assertEquals(List.of("crash-device", "crash-device"), r.faultKinds());
        assertEquals(List.of(50_000_000L, 150_000_000L), r.report().faults().stream().map(VmReport.AppliedFault::nanos).toList());
        assertTrue(r.result().orElseThrow().measuredNumber("swap_ins") > 0, "it swapped across the crashes: " + r.exact());
    }

    @Test
    void theSwapDiskCrashingWithPolicyStopEndsTheVmWithAReportNamingIt() {
        FaultedRun r = FaultedRun.run(FaultedRun.lwk("swap-stop", SWAPPING
                + "faults = [{ at = 50ms, kind = crash-device, device = swap0, policy = stop }]"));
        assertEquals(VmReport.Reason.VMM_ERROR, r.report().reason(), r::toString);
        assertTrue(r.report().message().contains("device swap0 crashed"), r.report().message());
        assertTrue(r.report().virtualNanos() >= 50_000_000 && r.report().virtualNanos() < 51_000_000,
                "it stopped at the crash: " + r.report().virtualNanos());
        assertTrue(r.result().isEmpty(), r.console());
    }

    /** A bit flipped in every 64th 4 KiB swap slot once memperf has swapped for 160 ms: some come back on its next visit. */
    @Test
    void corruptedSwapSectorsComeBackToMemperfAsMemoryErrors() {
        StringBuilder faults = new StringBuilder("faults = [\n");
        int slots = SWAP.swapMiB() << 8;
        for (int slot = 1; slot < slots; slot += 64) {
            faults.append("{ at = 160ms, kind = corrupt-disk-block, device = swap0, sector = ").append(slot * 8).append(" }\n");
        }
        FaultedRun r = FaultedRun.run(FaultedRun.lwk("swap-corrupt", SWAPPING + faults + "]\n"));
        assertEquals(VmReport.Reason.GUEST_EXIT, r.report().reason(), r::toString);
        assertEquals(slots / 64, r.report().faults().size());
        assertTrue(r.report().faults().stream().allMatch(f -> f.kind().equals("corrupt-disk-block") && f.detail().startsWith("swap0: sector ")),
                r.report().faults().getFirst().toString());
        var fields = r.result().orElseThrow().exactFields();
        assertNotEquals("0", fields.get("errors"), r.exact());
        assertEquals("0", fields.get("ok"), r.exact());
        assertNotEquals(SWAP.expected(), r.exact());
    }
}
