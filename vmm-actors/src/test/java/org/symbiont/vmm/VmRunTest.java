package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Whole VMs from boot to their end: exits routed, statuses and reports as a user sees them. */
class VmRunTest {

    @Test
    void guestPrintsOnTheDebugConsoleAndExitsWithItsStatus() {
        Path k = TestKernels.file(TestKernels.print("msg") + TestKernels.exit(5) + """
                    hlt
                msg: .asciz "hello from the guest\\n"
                """);
        VmRun r = VmRun.run(VmRun.config("hello", k, ""));
        assertEquals(VmReport.Reason.GUEST_EXIT, r.report.reason(), r.report.message());
        assertEquals(11, r.report.guestStatus());
        assertEquals("hello from the guest\n", r.console);
        assertTrue(r.report.retired() > 20);
        assertEquals(22, r.report.vcpus().getFirst().exits().get("PortOut").count());
    }
}
