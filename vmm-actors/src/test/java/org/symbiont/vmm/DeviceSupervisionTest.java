package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** A device model that throws: restarted with its state, or the VM stops with a report. */
class DeviceSupervisionTest {
    private static final String FLAKY = """
            devices = [
              { name = debug-exit, type = isa-debug-exit }
              { name = debugcon, type = debugcon, chardev = console }
              { name = flaky, type = test-flaky-counter }
            ]
            """;

    @Test
    void aFailingDeviceIsRestartedWithItsStateAndTheGuestReadsAllOnes() {
        var k = TestKernels.file("""
                    mov $0x510, %dx
                    mov $7, %ax
                    out %ax, %dx
                    mov $0xdead, %ax
                    out %ax, %dx
                    in %dx, %ax
                    cmp $7, %ax
                    jne bad
                """ + TestKernels.exit(0) + "bad:\n" + TestKernels.exit(1));
        VmRun r = VmRun.run(VmRun.config("flaky1", k, FLAKY));
        assertEquals(VmReport.Reason.GUEST_EXIT, r.report.reason(), r.report.message());
        assertEquals(1, r.report.guestStatus(), "the counter kept its value across the restart");
    }

    @Test
    void aDeviceThatKeepsFailingStopsTheVmWithAReport() {
        var k = TestKernels.file("""
                    mov $0x510, %dx
                    mov $0xdead, %ax
                1:  out %ax, %dx
                    jmp 1b
                """);
        VmRun r = VmRun.run(VmRun.config("flaky2", k, FLAKY));
        assertEquals(VmReport.Reason.VMM_ERROR, r.report.reason());
        assertTrue(r.report.message().contains("device flaky failed repeatedly"), r.report.message());
    }
}
