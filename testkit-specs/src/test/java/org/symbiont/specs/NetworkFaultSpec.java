package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.vmm.config.VmConfig;

/**
 * A frame corrupted on its way into a NIC, as two test guests on one link see it: the receiver
 * checks each of the sender's 8 frames and names the one that arrived with a bit flipped.
 */
class NetworkFaultSpec {
    private static final String NIC = "devices += { name = net0, type = virtio-net, link = spec-faulty, mac = \"52:54:00:12:34:0%d\" }\n";

    private static FaultedRun receive(String faults) {
        VmConfig sender = FaultedRun.testguest("sender", NIC.formatted(2) + "kernel.append = \"net role=send\"\n");
        VmConfig receiver = FaultedRun.testguest("receiver", NIC.formatted(1) + "kernel.append = \"net role=recv\"\n" + faults);
        return FaultedRun.runAll(List.of(sender, receiver)).getLast();
    }

    @Test
    void theReceiverNoticesTheFrameThatArrivedWithABitFlipped() {
        FaultedRun clean = receive("");
        assertTrue(clean.console().contains("PASS net"), clean.console());
        FaultedRun corrupted = receive("faults = [{ at = 0, kind = corrupt-frame, device = net0 }]\n");
        assertTrue(corrupted.console().contains("FAIL net: frame 1 of 8 carried"), corrupted.console());
        assertEquals(List.of("corrupt-frame", "corrupt-frame"), corrupted.faultKinds());
        assertTrue(corrupted.report().faults().getLast().detail().startsWith("net0: bit "), corrupted::toString);
    }
}
