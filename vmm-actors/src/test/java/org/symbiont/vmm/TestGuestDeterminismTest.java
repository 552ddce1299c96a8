package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.config.VmConfig;

/**
 * Deterministic mode reproduces a run bit for bit: the same image, configuration and seed give the
 * same serial output, the same exits, the same retired instructions and the same final virtual
 * time, whether the VM runs alone or beside other VMs (one of them scribbling over all its RAM).
 */
class TestGuestDeterminismTest {

    private static List<VmConfig> machines(Path kernel, String suffix) {
        return List.of(
                VmRun.pcConfig("smp" + suffix, kernel, "cpus = 4\nkernel.append = smp"),
                VmRun.pcConfig("pit" + suffix, kernel, "kernel.append = pit"),
                VmRun.pcConfig("serial" + suffix, kernel, "cpus = 2\nkernel.append = serial"),
                VmRun.pcConfig("scribble" + suffix, kernel, "memory = 64M\nkernel.append = scribble"));
    }

    /** Everything a run did that must repeat, as text (the VM's name aside). */
    private static String fingerprint(VmRun r) {
        StringBuilder b = new StringBuilder();
        b.append(r.report.reason()).append(' ').append(r.report.guestStatus()).append(" t=").append(r.report.virtualNanos()).append('\n');
        for (VcpuReport v : r.report.vcpus()) {
            b.append("vcpu ").append(v.id()).append(" retired ").append(v.retired()).append(" cycles ").append(v.virtualCycles());
            v.exits().forEach((reason, s) -> b.append(' ').append(reason).append('=').append(s.count()));
            b.append('\n');
        }
        return b.append(r.console).toString();
    }

    @Test
    void runsRepeatExactlyAloneAndBesideOtherVms(@TempDir Path dir) throws Exception {
        Path kernel = dir.resolve("testguest.bin");
        Files.write(kernel, GuestImages.testguest());
        List<VmRun> together = VmRun.runAll(machines(kernel, ""), Extensions.none());
        List<VmRun> again = VmRun.runAll(machines(kernel, "-again"), Extensions.none());
        List<VmConfig> solo = machines(kernel, "-alone");
        for (int k = 0; k < together.size(); k++) {
            VmRun first = together.get(k);
            assertEquals(1, first.report.guestStatus(), () -> first.report.message() + "\n" + first.console);
            assertTrue(first.console.contains("PASS"), first.console);
            String expected = fingerprint(first);
            assertEquals(expected, fingerprint(again.get(k)), "a second run beside the same VMs");
            VmRun alone = VmRun.run(solo.get(k));
            assertEquals(expected, fingerprint(alone), "the same VM alone");
        }
    }
}
