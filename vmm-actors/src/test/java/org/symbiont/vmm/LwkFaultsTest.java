package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.LwkCase;
import org.symbiont.guests.ResultLine;
import org.symbiont.vmm.config.VmConfig;

/** Faults the LWK's workloads notice: corrupted swap sectors, corrupted frames between nodes. */
class LwkFaultsTest {
    @TempDir
    static Path dir;
    private static Path kernel;

    @BeforeAll
    static void writeKernel() throws IOException {
        kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
    }

    private static String exact(VmRun r) {
        return ResultLine.find(r.console).map(ResultLine::exact).orElse("(no result line)");
    }

    /**
     * memperf checks every word it wrote when it visits a page again; pages it swapped out come
     * back from the disk. A bit flipped in every 64th swap slot halfway through is read back by
     * some of those visits.
     */
    @Test
    void corruptedSwapSectorsAreSeenAsMemoryErrors() {
        LwkCase c = LwkCase.named("memperf-swap");
        StringBuilder faults = new StringBuilder("faults = [\n");
        for (int slot = 1; slot < (c.swapMiB() << 8); slot += 64) {
            faults.append("{ at = 160ms, kind = corrupt-disk-block, device = swap0, sector = ").append(slot * 8).append(" }\n");
        }
        VmRun r = VmRun.run(VmRun.pcConfig(c.name(), kernel, "memory = " + c.memoryMiB() + "M\nconsole = null\n"
                + "kernel.append = \"" + c.cmdline(0) + "\"\n"
                + "devices += { name = swap0, type = virtio-blk, size = " + c.swapMiB() + "M }\n" + faults + "]\n"));
        assertEquals(512, r.report.faults().size());
        ResultLine result = ResultLine.find(r.console).orElseThrow();
        assertNotEquals(c.expected(), result.exact());
        assertNotEquals("0", result.exactFields().get("errors"), result.exact());
        assertEquals("0", result.exactFields().get("ok"));
    }

    /** The test guest's receiver checks the 8 frames the sender sends: one arrives with a bit flipped. */
    @Test
    void aCorruptedFrameIsSeenByTheReceiver() throws IOException {
        Path testguest = dir.resolve("testguest.bin");
        Files.write(testguest, GuestImages.testguest());
        String nic = "devices += { name = net0, type = virtio-net, link = faulty, mac = \"52:54:00:12:34:0%d\" }\n";
        VmConfig sender = VmRun.pcConfig("sender", testguest, nic.formatted(2) + "kernel.append = \"net role=send\"\n");
        VmConfig receiver = VmRun.pcConfig("receiver", testguest, nic.formatted(1) + "kernel.append = \"net role=recv\"\n"
                + "faults = [{ at = 0, kind = corrupt-frame, device = net0 }]\n");
        VmRun received = VmRun.runAll(List.of(sender, receiver), Extensions.none()).getLast();
        assertEquals(2, received.report.faults().size(), received.report.faults().toString());
        assertTrue(received.report.faults().getLast().detail().startsWith("net0: bit "), received.report.faults().toString());
        assertTrue(received.console.contains("FAIL net: frame 1 of 8 carried"), received.console);
    }
}
