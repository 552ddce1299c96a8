package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.RAX;
import static org.symbiont.x86.Arch.RBX;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.CharBackend;
import org.symbiont.x86.Exit;

/**
 * How a VM's supervisor answers the exits its vCPUs send it: {@link VmSupervisor.ExitRequest}s
 * sent straight to a real supervisor of a two-vCPU PC that was never started (no vCPU runs), each
 * answered to a probe standing in for the vCPU.
 */
class ExitRoutingSpec {
    private static final ActorTestKit kit = ActorTestKit.create();
    private static final String SPINNER = "1:  jmp 1b\n";
    private static final long DOUBLE_IT = 0x5000;
    private static final Duration VM_ENDS = Duration.ofSeconds(10);

    private static final CharBackends.Capture console = new CharBackends.Capture();
    private static final TestProbe<VmReport> reports = kit.createTestProbe();
    private static ActorRef<VmSupervisor.Command> vm;

    @BeforeAll
    static void createVm() {
        Extensions extensions = Extensions.none().hypercall(DOUBLE_IT, (vcpu, gprs) -> {
            gprs[RBX] *= 2;
            gprs[RAX] = 0;
            return null;
        });
        vm = spawnVm("routing", extensions, console, reports);
    }

    @AfterAll
    static void shutdown() {
        vm.tell(new VmSupervisor.Stop("specification over"));
        assertEquals(VmReport.Reason.STOPPED, reports.receiveMessage(VM_ENDS).reason());
        kit.shutdownTestKit();
    }

    private static ActorRef<VmSupervisor.Command> spawnVm(String name, Extensions extensions, CharBackend console,
                                                          TestProbe<VmReport> reports) {
        VmSpec spec = VmSpec.prepare(VmRun.config(name, TestKernels.file(SPINNER), "memory = 16M\ncpus = 2"), extensions, console);
        String dispatcher = "symbiont.test." + name;
        return kit.spawn(VmSupervisor.create(spec, dispatcher, new NetworkLinks(), reports.ref()), name,
                VmDispatchers.register(kit.system(), dispatcher));
    }

    /** The one answer vCPU {@code vcpu} gets for {@code exit}. */
    private static VcpuActor.Command exit(int vcpu, Exit exit) {
        return exit(vcpu, exit, new long[16]);
    }

    private static VcpuActor.Command exit(int vcpu, Exit exit, long[] gprs) {
        TestProbe<VcpuActor.Command> cpu = kit.createTestProbe();
        vm.tell(new VmSupervisor.ExitRequest(vcpu, exit, 0, gprs, cpu.ref()));
        return cpu.receiveMessage();
    }

    private static final VcpuActor.ExitDone DONE = new VcpuActor.ExitDone(0);
    /** What nothing on the bus answers: every data line pulled high. */
    private static final VcpuActor.ExitDone ALL_ONES = new VcpuActor.ExitDone(-1L);

    @Test
    void portsWithoutADeviceReadAllOnesAndTakeWrites() {
        assertEquals(ALL_ONES, exit(0, new Exit.PortIn(0x60, 1)));
        assertEquals(DONE, exit(0, new Exit.PortOut(0x60, 1, 0xAB)));
    }

    @Test
    void aPortWriteToTheDebugConsoleReachesTheConsole() {
        assertEquals(DONE, exit(0, new Exit.PortOut(0xE9, 1, 'Z')));
        assertEquals("Z", console.text());
    }

    @Test
    void portAccessesReachTheDeviceThatDecodesThem() {
        // CMOS 0x31: the high byte of the KiB above 1 MiB, (16 MiB - 1 MiB) / 1 KiB = 0x3C00.
        assertEquals(DONE, exit(0, new Exit.PortOut(0x70, 1, 0x31)));
        assertEquals(new VcpuActor.ExitDone(0x3C), exit(0, new Exit.PortIn(0x71, 1)));
        assertEquals(new VcpuActor.ExitDone(0xE9), exit(1, new Exit.PortIn(0xE9, 1)), "any vCPU reaches the shared devices");
    }

    @Test
    void theApicPageIsEachVcpusOwn() {
        // SDM Vol. 3A, 11.4.8: version 0x14, max LVT entry 5; 11.4.6: the APIC ID in bits 31:24.
        assertEquals(new VcpuActor.ExitDone(0x0005_0014), exit(0, new Exit.MmioRead(0xFEE0_0030L, 4)));
        assertEquals(new VcpuActor.ExitDone(0), exit(0, new Exit.MmioRead(0xFEE0_0020L, 4)), "vCPU 0's APIC ID");
        assertEquals(new VcpuActor.ExitDone(0x0100_0000), exit(1, new Exit.MmioRead(0xFEE0_0020L, 4)), "vCPU 1's APIC ID");
    }

    @Test
    void mmioReachesTheIoApicAndUnassignedAddressesReadAllOnes() {
        assertEquals(DONE, exit(0, new Exit.MmioWrite(0xFEC0_0000L, 4, 0x01)));
        assertEquals(new VcpuActor.ExitDone(0x0017_0020), exit(0, new Exit.MmioRead(0xFEC0_0010L, 4)), "I/O APIC version");
        assertEquals(ALL_ONES, exit(0, new Exit.MmioRead(0xFED0_0000L, 4)), "no HPET on this PC");
        assertEquals(DONE, exit(0, new Exit.MmioWrite(0xFED0_0000L, 4, 1)));
    }

    @Test
    void cpuidNamesTheHypervisorAndFlagsItInLeafOne() {
        VcpuActor.CpuidDone vendor = (VcpuActor.CpuidDone) exit(0, new Exit.Cpuid(0x4000_0000, 0));
        assertEquals(0x4000_0010, vendor.eax(), "the highest hypervisor leaf");
        byte[] name = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(vendor.ebx()).putInt(vendor.ecx()).putInt(vendor.edx()).array();
        assertEquals("SymbiontVMM\0", new String(name, StandardCharsets.US_ASCII));
        VcpuActor.CpuidDone features = (VcpuActor.CpuidDone) exit(1, new Exit.Cpuid(1, 0));
        assertNotEquals(0, features.ecx() & 1 << 31, "ECX bit 31: running under a hypervisor");
        VcpuActor.CpuidDone timing = (VcpuActor.CpuidDone) exit(0, new Exit.Cpuid(0x4000_0010, 0));
        assertEquals(2_000_000, timing.eax(), "the TSC's frequency in kHz");
        assertEquals(1_000_000, timing.ebx(), "the local APIC timer's bus clock in kHz");
    }

    @Test
    void msrsGoToTheLocalApicTheVmmsModelOrGeneralProtection() {
        // IA32_APIC_BASE (SDM Vol. 3A, 11.4.4): base 0xFEE00000, EN (bit 11), BSP (bit 8) on vCPU 0 only.
        assertEquals(new VcpuActor.ExitDone(0xFEE0_0900L), exit(0, new Exit.Rdmsr(0x1B)));
        assertEquals(new VcpuActor.ExitDone(0xFEE0_0800L), exit(1, new Exit.Rdmsr(0x1B)));
        assertEquals(new VcpuActor.ExitDone(1), exit(0, new Exit.Rdmsr(0x3A)), "IA32_FEATURE_CONTROL: locked");
        assertEquals(new VcpuActor.MsrRefused(), exit(0, new Exit.Rdmsr(0x1234)), "an MSR nobody holds");
        assertEquals(new VcpuActor.MsrRefused(), exit(0, new Exit.Wrmsr(0x1234, 1)));
        assertEquals(new VcpuActor.MsrRefused(), exit(0, new Exit.Wrmsr(0x1B, 0xFEE0_0400L)), "EXTD without EN");
    }

    @Test
    void hypercallsReachTheirHandlerAndUnknownNumbersReturnMinusOne() {
        long[] gprs = new long[16];
        gprs[RAX] = DOUBLE_IT;
        gprs[RBX] = 21;
        VcpuActor.HypercallDone done = (VcpuActor.HypercallDone) exit(0, new Exit.Hypercall(DOUBLE_IT), gprs);
        assertEquals(0, done.gprs()[RAX]);
        assertEquals(42, done.gprs()[RBX]);

        long[] unknown = new long[16];
        unknown[RAX] = 0x5001;
        unknown[RBX] = 7;
        done = (VcpuActor.HypercallDone) exit(0, new Exit.Hypercall(0x5001), unknown);
        assertEquals(-1L, done.gprs()[RAX]);
        assertEquals(7, done.gprs()[RBX], "the other registers are left alone");
    }

    @Test
    void aPagingExitThePagingMethodCannotRaiseEndsTheVmWithAVmmError() {
        TestProbe<VmReport> faultReports = kit.createTestProbe();
        ActorRef<VmSupervisor.Command> faulty = spawnVm("paging", Extensions.none(), CharBackends.NULL, faultReports);
        TestProbe<VcpuActor.Command> cpu = kit.createTestProbe();
        faulty.tell(new VmSupervisor.ExitRequest(0, new Exit.PagingFault(0x40_0000, 0x40_0000, 1), 0, new long[16], cpu.ref()));
        VmReport report = faultReports.receiveMessage(VM_ENDS);
        assertEquals(VmReport.Reason.VMM_ERROR, report.reason());
        assertTrue(report.message().contains("vCPU 0: paging exit PagingFault[") && report.message().contains("under native paging"),
                report.message());
        assertNull(report.guestStatus());
        assertEquals(2, report.vcpus().size(), "the report has every vCPU");
        cpu.expectNoMessage(Duration.ofMillis(100));
    }
}
