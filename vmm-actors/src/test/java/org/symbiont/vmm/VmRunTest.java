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

    @Test
    void tripleFaultEndsTheVmWithTheRegisters() {
        Path k = TestKernels.file("""
                    lidt idt0
                    mov $0x1234abcd, %edx
                    int3
                idt0: .word 0
                      .long 0
                """);
        VmRun r = VmRun.run(VmRun.config("faulty", k, ""));
        assertEquals(VmReport.Reason.TRIPLE_FAULT, r.report.reason());
        assertTrue(r.report.message().contains("vCPU 0: triple fault"), r.report.message());
        assertTrue(r.report.message().contains("000000001234abcd"), r.report.message());
        assertNull(r.report.guestStatus());
    }

    @Test
    void haltWithInterruptsOffEndsTheVm() {
        Path k = TestKernels.file("    cli\n    hlt\n    jmp .\n");
        VmRun r = VmRun.run(VmRun.config("stuck", k, ""));
        assertEquals(VmReport.Reason.HALTED, r.report.reason());
        assertEquals(1, r.report.vcpus().getFirst().exits().get("Halt").count());
    }

    @Test
    void portsWithoutADeviceReadAllOnesAndIgnoreWrites() {
        Path k = TestKernels.file("""
                    out %al, $0x60
                    in $0x60, %al
                    cmp $0xff, %al
                    jne bad
                    in $0x62, %ax
                    cmp $0xffff, %ax
                    jne bad
                """ + TestKernels.exit(0) + "bad:\n" + TestKernels.exit(1));
        VmRun r = VmRun.run(VmRun.config("ports", k, ""));
        assertEquals(1, r.report.guestStatus(), r.report.message());
    }

    @Test
    void cpuidNamesTheHypervisorAndSetsTheHypervisorBit() {
        Path k = TestKernels.file("""
                    mov $1, %eax
                    cpuid
                    bt $31, %ecx
                    jnc bad
                    mov $0x40000000, %eax
                    cpuid
                    mov %ebx, name
                    mov %ecx, name+4
                    mov %edx, name+8
                """ + TestKernels.print("name") + TestKernels.exit(0) + "bad:\n" + TestKernels.exit(1) + """
                name: .space 16
                """);
        VmRun r = VmRun.run(VmRun.config("cpuid", k, ""));
        assertEquals(1, r.report.guestStatus(), r.report.message());
        assertEquals("SymbiontVMM", r.console);
    }

    @Test
    void hypercallsReachTheirHandlerAndUnknownNumbersReturnMinusOne() {
        String body = """
                    mov $0x5000, %eax
                    mov $21, %ebx
                    vmcall
                    cmp $42, %ebx
                    jne bad
                    cmp $0, %eax
                    jne bad
                    mov $0x5001, %eax
                    vmcall
                    cmp $-1, %eax
                    jne bad
                """ + TestKernels.exit(0) + "bad:\n" + TestKernels.exit(1);
        Extensions ext = Extensions.none().hypercall(0x5000, (vcpu, gprs) -> {
            gprs[org.symbiont.x86.Arch.RBX] *= 2;
            gprs[org.symbiont.x86.Arch.RAX] = 0;
            return null;
        });
        VmRun r = VmRun.runAll(java.util.List.of(VmRun.config("hcall", TestKernels.file(body), "")), ext).getFirst();
        assertEquals(1, r.report.guestStatus(), r.report.message());
        assertEquals(2, r.report.vcpus().getFirst().exits().get("Hypercall").count());
    }

    @Test
    void theReportIsAvailableAsJson() {
        Path k = TestKernels.file(TestKernels.exit(3));
        VmRun r = VmRun.run(VmRun.config("json", k, ""));
        String json = r.report.toJson();
        assertTrue(json.contains("\"reason\": \"guest_exit\""), json);
        assertTrue(json.contains("\"guestStatus\": 7"), json);
        assertTrue(json.contains("\"PortOut\": {\"count\": 1"), json);
    }
}
