package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.MachineInfo;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.vmm.config.VmConfigException;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Supervision and failure reports: configurations the VMM refuses, a device model that throws
 * (restarted with its state, up to a limit), and a VM that fails next to one that does not,
 * driven through the {@link Hypervisor} as a user's VMs are.
 */
class VmSupervisionSpec {
    private static final ActorTestKit kit = ActorTestKit.create();
    private static final ActorRef<Hypervisor.Command> hypervisor = kit.spawn(Hypervisor.create(), "hypervisor");
    private static final Duration VM_ENDS = Duration.ofSeconds(30);
    private static final String SMALL = "memory = 16M\n";
    private static final Path SPINNER = TestKernels.file("1:  jmp 1b\n");

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    private static VmReport runToItsEnd(VmSpec spec) {
        TestProbe<VmReport> done = kit.createTestProbe();
        hypervisor.tell(new Hypervisor.CreateVm(spec, done.ref()));
        return done.receiveMessage(VM_ENDS);
    }

    private static List<String> runningVms() {
        TestProbe<List<String>> names = kit.createTestProbe();
        hypervisor.tell(new Hypervisor.ListVms(names.ref()));
        return names.receiveMessage();
    }

    // =====================================================================================
    // Configurations the VMM refuses
    // =====================================================================================

    private static final String UNKNOWN_DEVICE = SMALL + "devices = [{ name = gizmo, type = no-such-device }]";

    @Test
    void anUnknownDeviceTypeIsRefusedWhenTheVmIsPrepared() {
        VmConfig config = VmRun.config("unknown-type", SPINNER, UNKNOWN_DEVICE);
        VmConfigException e = assertThrows(VmConfigException.class,
                () -> VmSpec.prepare(config, Extensions.none(), CharBackends.NULL));
        assertTrue(e.getMessage().contains("device gizmo: unknown type \"no-such-device\""), e.getMessage());
    }

    @Test
    void anUnknownDeviceTypeThatReachesTheSupervisorEndsTheVmWithAConfigurationError() {
        // A VmSpec made without prepare(): the platform refuses the type itself.
        VmSpec checked = VmSpec.prepare(VmRun.config("unchecked", SPINNER, SMALL), Extensions.none(), CharBackends.NULL);
        VmSpec unchecked = new VmSpec(VmRun.config("unchecked", SPINNER, UNKNOWN_DEVICE), checked.kernel(),
                checked.kernelName(), checked.modules(), checked.extensions(), checked.console());
        VmReport report = runToItsEnd(unchecked);
        assertEquals(VmReport.Reason.CONFIG_ERROR, report.reason());
        assertTrue(report.message().contains("device gizmo: unknown device type 'no-such-device'"), report.message());
        assertFalse(runningVms().contains("unchecked"), "a refused VM is not kept");
    }

    @Test
    void aBadDeviceParameterEndsTheVmWithAConfigurationErrorNamingTheDevice() {
        VmConfig config = VmRun.config("bad-param", SPINNER, SMALL + "devices = [{ name = com9, type = uart16550, port = 9 }]");
        VmSpec spec = VmSpec.prepare(config, Extensions.none(), CharBackends.NULL);   // parameters are the factories' to check
        VmReport report = runToItsEnd(spec);
        assertEquals(VmReport.Reason.CONFIG_ERROR, report.reason());
        assertTrue(report.message().contains("device com9"), report.message());
        assertTrue(report.message().contains("port"), report.message());
        assertNull(report.guestStatus());
        assertFalse(runningVms().contains("bad-param"), "a refused VM is not kept");
    }

    @Test
    void swapBypassWithoutAMemoryBackedDiskOrTheSymbioticExtensionEndsTheVmWithAConfigurationError() {
        String bypass = SMALL + "paging.mode = shadow, symbiotic { enabled = true, swapbypass = true }\n";
        VmReport noDisk = runToItsEnd(VmSpec.prepare(VmRun.config("bypass-no-disk", SPINNER, bypass), Extensions.none(), CharBackends.NULL));
        assertEquals(VmReport.Reason.CONFIG_ERROR, noDisk.reason());
        assertTrue(noDisk.message().contains("no memory-backed virtio-blk disk"), noDisk.message());
        VmReport noGuest = runToItsEnd(VmSpec.prepare(VmRun.config("bypass-no-ext", SPINNER,
                bypass + "devices = [{ name = pci, type = pci-host }, { name = swap0, type = virtio-blk, size = 1M }]"), Extensions.none(), CharBackends.NULL));
        assertEquals(VmReport.Reason.CONFIG_ERROR, noGuest.reason());
        assertTrue(noGuest.message().contains("without the symbiotic extension"), noGuest.message());
    }

    // =====================================================================================
    // A device model that throws
    // =====================================================================================

    @Test
    void aFailingDeviceAnswersAllOnesIsReportedAndKeepsItsStateAcrossTheRestart() {
        TestProbe<VmSupervisor.Command> supervisor = kit.createTestProbe();
        TestProbe<VcpuActor.Command> vcpu = kit.createTestProbe();
        try (PhysicalMemory memory = PhysicalMemory.allocate(1 << 20)) {
            DeviceActor.HostedContext context = new DeviceActor.HostedContext("flaky", services(supervisor, memory), 0);
            ActorRef<DeviceActor.Command> flaky = kit.spawn(DeviceActor.create(new FlakyCounter("flaky"), context, DeviceActor.Observer.NONE));
            int port = FlakyCounter.PORT;

            flaky.tell(new DeviceActor.PortWrite(port, 2, 7, 0, vcpu.ref()));
            vcpu.expectMessage(new VcpuActor.ExitDone(0));
            flaky.tell(new DeviceActor.PortWrite(port, 2, 0xDEAD, 0, vcpu.ref()));
            vcpu.expectMessage(new VcpuActor.ExitDone(-1L));
            VmSupervisor.DeviceFailed failed = supervisor.expectMessageClass(VmSupervisor.DeviceFailed.class);
            assertEquals("flaky", failed.device());
            assertEquals("flaky device model failed", failed.cause().getMessage());
            flaky.tell(new DeviceActor.PortRead(port, 2, 0, vcpu.ref()));
            assertEquals(new VcpuActor.ExitDone(7), vcpu.receiveMessage(), "restarted with its count, the failed access answered once");

            // Pekko's restart limit (5 within an hour): the sixth failure stops the actor.
            for (int k = 2; k <= 6; k++) {
                flaky.tell(new DeviceActor.PortWrite(port, 2, 0xDEAD, 0, vcpu.ref()));
                vcpu.expectMessage(new VcpuActor.ExitDone(-1L));
                assertEquals("flaky", supervisor.expectMessageClass(VmSupervisor.DeviceFailed.class).device());
            }
            supervisor.expectTerminated(flaky, Duration.ofSeconds(5));
        }
    }

    private static VmServices services(TestProbe<VmSupervisor.Command> supervisor, PhysicalMemory memory) {
        MachineInfo machine = new MachineInfo(memory.size(), List.of(0), 1_000_000_000L);
        return new VmServices() {
            @Override public ActorRef<VmSupervisor.Command> supervisor() { return supervisor.ref(); }
            @Override public PhysicalMemory memory() { return memory; }
            @Override public MachineInfo machine() { return machine; }
            @Override public CharBackend charBackend(String spec) { return CharBackends.NULL; }
            @Override public long seed() { return 1; }
            @Override public void lineChanged() { }
            @Override public long lineChanges() { return 0; }
        };
    }

    private static final String FLAKY_DEVICES = SMALL + """
            devices = [
              { name = debug-exit, type = isa-debug-exit }
              { name = debugcon, type = debugcon, chardev = console }
              { name = flaky, type = test-flaky-counter }
            ]
            """;

    /** Adds 1 to the flaky counter and makes it fail, {@code failures} times; prints '+' after each; exits 1 if it counts them all. */
    private static Path failingGuest(int failures) {
        return TestKernels.file("""
                    mov $%d, %%ecx
                1:  mov $0x510, %%dx
                    mov $1, %%ax
                    out %%ax, %%dx
                    mov $0xdead, %%ax
                    out %%ax, %%dx
                    mov $'+', %%al
                    out %%al, $0xe9
                    loop 1b
                    mov $0x510, %%dx
                    in %%dx, %%ax
                    cmp $%d, %%ax
                    jne bad
                """.formatted(failures, failures) + TestKernels.exit(0) + "bad:\n" + TestKernels.exit(1));
    }

    @Test
    void aVmOutlivesFiveDeviceFailuresWithTheDevicesStateAndEndsAtTheSixth() {
        CharBackends.Capture fiveConsole = new CharBackends.Capture(), sixConsole = new CharBackends.Capture();
        VmSpec five = VmSpec.prepare(VmRun.config("five-failures", failingGuest(5), FLAKY_DEVICES), Extensions.none(), fiveConsole);
        VmSpec six = VmSpec.prepare(VmRun.config("six-failures", failingGuest(6), FLAKY_DEVICES), Extensions.none(), sixConsole);
        TestProbe<VmReport> fiveDone = kit.createTestProbe(), sixDone = kit.createTestProbe();
        hypervisor.tell(new Hypervisor.CreateVm(five, fiveDone.ref()));
        hypervisor.tell(new Hypervisor.CreateVm(six, sixDone.ref()));

        VmReport survived = fiveDone.receiveMessage(VM_ENDS);
        assertEquals(VmReport.Reason.GUEST_EXIT, survived.reason(), survived.message());
        assertEquals(1, survived.guestStatus(), "the counter kept every increment across five restarts");
        assertEquals("+++++", fiveConsole.text());

        VmReport stopped = sixDone.receiveMessage(VM_ENDS);
        assertEquals(VmReport.Reason.VMM_ERROR, stopped.reason());
        assertEquals("device flaky failed repeatedly and was stopped", stopped.message());
        assertTrue(sixConsole.text().startsWith("+++++"), "the guest ran on after each of the first five: " + sixConsole.text());
    }

    // =====================================================================================
    // One VM failing next to another
    // =====================================================================================

    /** Sums 1..100000 in ESI, printing the sum's last digit every 2^14 steps, and exits 1 if the sum is right. */
    private static final Path SUMMER = TestKernels.file("""
                xor %esi, %esi
                mov $1, %ecx
            1:  add %ecx, %esi
                test $0x3fff, %ecx
                jnz 2f
                mov %esi, %eax
                xor %edx, %edx
                mov $10, %ebx
                div %ebx
                add $'0', %dl
                mov %dl, %al
                out %al, $0xe9
            2:  inc %ecx
                cmp $100000, %ecx
                jbe 1b
                cmp $705082704, %esi
                jne bad
            """ + TestKernels.exit(0) + "bad:\n" + TestKernels.exit(1));   // 5000050000 modulo 2^32

    /** Loads an empty IDT and raises #BP: #BP, #GP and #DF all fail to deliver (SDM Vol. 3A, 6.15). */
    private static final Path TRIPLE_FAULTER = TestKernels.file("""
                lidt idt0
                int3
            idt0: .word 0
                  .long 0
            """);

    @Test
    void aVmThatTripleFaultsLeavesAnotherVmsRunAndReportUnchanged() {
        CharBackends.Capture aloneConsole = new CharBackends.Capture();
        VmReport alone = runToItsEnd(VmSpec.prepare(VmRun.config("summer-alone", SUMMER, SMALL), Extensions.none(), aloneConsole));
        assertEquals(VmReport.Reason.GUEST_EXIT, alone.reason(), alone.message());
        assertEquals(1, alone.guestStatus(), "the guest computed the right sum");

        CharBackends.Capture besideConsole = new CharBackends.Capture();
        TestProbe<VmReport> faulterDone = kit.createTestProbe(), summerDone = kit.createTestProbe();
        hypervisor.tell(new Hypervisor.CreateVm(VmSpec.prepare(VmRun.config("faulter", TRIPLE_FAULTER, SMALL),
                Extensions.none(), CharBackends.NULL), faulterDone.ref()));
        hypervisor.tell(new Hypervisor.CreateVm(VmSpec.prepare(VmRun.config("summer-beside", SUMMER, SMALL),
                Extensions.none(), besideConsole), summerDone.ref()));

        VmReport faulted = faulterDone.receiveMessage(VM_ENDS);
        assertEquals(VmReport.Reason.TRIPLE_FAULT, faulted.reason(), faulted.message());
        VmReport beside = summerDone.receiveMessage(VM_ENDS);
        assertEquals(VmReport.Reason.GUEST_EXIT, beside.reason(), beside.message());
        assertEquals(alone.guestStatus(), beside.guestStatus());
        assertEquals(aloneConsole.text(), besideConsole.text());
        assertEquals(alone.retired(), beside.retired(), "instruction for instruction the same run");
        assertEquals(alone.virtualNanos(), beside.virtualNanos());
        assertEquals(List.of(), runningVms(), "both VMs are gone from the hypervisor");
    }
}
