package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.MachineInfo;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.pc.Pic8259;
import org.symbiont.devices.pci.PciFunction;
import org.symbiont.devices.pci.PciHost;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Every device type hosted in a {@link DeviceActor} and driven through messages exactly as a vCPU
 * drives it: port, MMIO and MSR accesses answered to the asking vCPU, timers and interrupt lines
 * and machine exits reported to the VM supervisor, the virtual time of each request reaching the
 * model. The models' own behaviour is specified by their unit tests in the devices module; these
 * cases check that each one is reachable and answers correctly through its actor.
 */
class DeviceProtocolSpec {
    private static final ActorTestKit kit = ActorTestKit.create();
    private static final DeviceRegistry REGISTRY = DeviceRegistry.load();
    /** Registered by this module's tests for the supervision specs; not a device of the PC. */
    private static final String TEST_ONLY_TYPE = "test-flaky-counter";
    private static final long RAM_BYTES = 32L << 20;
    private static final long TSC_HZ = 2_000_000_000L;
    private static final long SECOND = 1_000_000_000L;
    /**
     * What a device actor posts to the vCPU probe after a case, behind every answer it sent: if it
     * is the next message the vCPU sees, no access was answered twice. No device sends it.
     */
    private static final VcpuActor.Command END_OF_ANSWERS = new VcpuActor.ExtIntVector(-1);

    @FunctionalInterface
    private interface ProtocolCase {
        void run(Bench bench);
    }

    private static final Map<String, ProtocolCase> CASES = Map.ofEntries(
            Map.entry("uart16550", DeviceProtocolSpec::uart16550),
            Map.entry("pit8254", DeviceProtocolSpec::pit8254),
            Map.entry("pic8259", DeviceProtocolSpec::pic8259),
            Map.entry("cmos-rtc", DeviceProtocolSpec::cmosRtc),
            Map.entry("lapic", DeviceProtocolSpec::localApic),
            Map.entry("ioapic", DeviceProtocolSpec::ioApic),
            Map.entry("fw_cfg", DeviceProtocolSpec::fwCfg),
            Map.entry("acpi-pm", DeviceProtocolSpec::acpiPm),
            Map.entry("pci-host", DeviceProtocolSpec::pciHost),
            Map.entry("virtio-blk", DeviceProtocolSpec::virtioBlock),
            Map.entry("virtio-net", DeviceProtocolSpec::virtioNet),
            Map.entry("isa-debug-exit", DeviceProtocolSpec::isaDebugExit),
            Map.entry("debugcon", DeviceProtocolSpec::debugcon),
            Map.entry("pc-testdev", DeviceProtocolSpec::pcTestdev));

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    @TestFactory
    Stream<DynamicTest> everyRegisteredDeviceTypeAnswersItsProtocolThroughItsActor() {
        return REGISTRY.types().stream().filter(type -> !type.equals(TEST_ONLY_TYPE)).map(type ->
                DynamicTest.dynamicTest(type, () -> {
                    ProtocolCase c = CASES.get(type);
                    if (c == null) fail("device type " + type + " has no protocol case in DeviceProtocolSpec");
                    try (Bench bench = new Bench()) {
                        c.run(bench);
                    }
                }));
    }

    @Test
    void everyProtocolCaseIsForARegisteredDeviceType() {
        Set<String> stale = new TreeSet<>(CASES.keySet());
        stale.removeAll(REGISTRY.types());
        assertEquals(Set.of(), stale, "protocol cases for device types the registry does not know");
    }

    @Test
    void aReadIsAnsweredExactlyOnce() {
        try (Bench bench = new Bench()) {
            Hosted con = bench.host("debugcon", "debugcon", "chardev = console");
            con.actor.tell(new DeviceActor.PortRead(0xE9, 1, 0, bench.vcpu.ref()));
            assertEquals(new VcpuActor.ExitDone(0xE9), bench.vcpu.receiveMessage());
            con.assertNoFurtherAnswers();
        }
    }

    @Test
    void theVirtualTimeOfEachRequestReachesTheModelAndNeverRunsBack() throws Exception {
        try (Bench bench = new Bench()) {
            Hosted pm = bench.host("acpi-pm", "acpi", "");
            pm.at(2 * SECOND);
            assertEquals(pmTimerTicks(2 * SECOND), pm.in(0x608, 4));
            // A vCPU behind the others in the round asks later with an older time.
            pm.at(SECOND);
            assertEquals(pmTimerTicks(2 * SECOND), pm.in(0x608, 4), "the device's clock does not run back");
            assertEquals(2 * SECOND, modelTime(pm, 0));
            assertEquals(3 * SECOND, modelTime(pm, 3 * SECOND));
        }
    }

    /** What {@link DeviceActor.HostedContext#nanos()} says inside a call made at {@code nanos}. */
    private static long modelTime(Hosted device, long nanos) throws Exception {
        CompletableFuture<Long> seen = new CompletableFuture<>();
        device.actor.tell(new DeviceActor.Call(d -> seen.complete(device.context.nanos()), nanos));
        return seen.get(5, TimeUnit.SECONDS);
    }

    // =====================================================================================
    // The protocol cases, one per device type
    // =====================================================================================

    /** COM1 (PC16550D datasheet, table 2 and section 8.6). */
    private static void uart16550(Bench bench) {
        Hosted com1 = bench.host("uart16550", "com1", "port = 1, chardev = console");
        com1.out(0x3FF, 1, 0x5A);
        assertEquals(0x5A, com1.in(0x3FF, 1), "scratch register");
        assertEquals(0x60, com1.in(0x3FD, 1), "LSR: THRE | TEMT, transmission is instantaneous");
        assertEquals(0x01, com1.in(0x3FA, 1), "IIR: no interrupt pending with IER clear");
        com1.out(0x3F8, 1, 'A');
        assertEquals("A", bench.console.text());
    }

    /**
     * Counter 0 in mode 2, the rate generator (82C54 datasheet): OUT0 falls N clocks after the
     * count is written (one clock to load it, N - 1 to count down to 1), stays low for one clock,
     * and falls again N clocks later. Each OUT0 transition is a virtual-time timer.
     */
    private static void pit8254(Bench bench) {
        Hosted pit = bench.host("pit8254", "pit", "");
        // QEMU's power-on state: mode 3 with count 65536, OUT0 high until the half-period ends.
        bench.supervisor.expectMessage(new VmSupervisor.IrqChanged(0, true, 0));
        bench.supervisor.expectMessage(new VmSupervisor.ScheduleTimer("pit", 0, pitClockEdge(1 + 32768)));

        pit.out(0x43, 1, 0x34);   // counter 0, LSB then MSB, mode 2, binary
        bench.supervisor.expectMessage(new VmSupervisor.CancelTimer("pit", 0));
        pit.out(0x40, 1, 1000 & 0xFF);
        pit.out(0x40, 1, 1000 >> 8);
        bench.supervisor.expectMessage(new VmSupervisor.ScheduleTimer("pit", 1, pitClockEdge(1000)));

        pit.at(pitClockEdge(501));
        pit.out(0x43, 1, 0x00);   // latch counter 0
        assertEquals(500 & 0xFF, pit.in(0x40, 1), "count 500 clocks after loading, LSB");
        assertEquals(500 >> 8, pit.in(0x40, 1), "MSB");

        pit.actor.tell(new DeviceActor.FireTimer(1, pitClockEdge(1000)));
        bench.supervisor.expectMessage(new VmSupervisor.IrqChanged(0, false, pitClockEdge(1000)));
        bench.supervisor.expectMessage(new VmSupervisor.ScheduleTimer("pit", 2, pitClockEdge(1001)));
        pit.actor.tell(new DeviceActor.FireTimer(2, pitClockEdge(1001)));
        bench.supervisor.expectMessage(new VmSupervisor.IrqChanged(0, true, pitClockEdge(1001)));
        bench.supervisor.expectMessage(new VmSupervisor.ScheduleTimer("pit", 3, pitClockEdge(2000)));
    }

    /** The virtual time of PIT clock edge {@code tick}: the first nanosecond at or after it (1.193182 MHz). */
    private static long pitClockEdge(long tick) {
        return Math.ceilDiv(tick * SECOND, 1_193_182L);
    }

    /**
     * The 8259A pair initialised as a PC BIOS does (8259A datasheet, ICW1-ICW4), then an IRQ raised
     * and acknowledged as the VMM does it, with an observer posting INT to the vCPU as
     * {@link Platform} posts it to LINT0.
     */
    private static void pic8259(Bench bench) {
        boolean[] intr = {false};
        Hosted pic = bench.host("pic8259", "pic", "", d -> {
            boolean level = ((Pic8259) d).outputAsserted();
            if (level != intr[0]) {
                intr[0] = level;
                bench.vcpu.ref().tell(new VcpuActor.ExtIntPending(level));
            }
        });
        pic.out(0x20, 1, 0x11);   // ICW1: edge, cascade, ICW4 needed
        pic.out(0x21, 1, 0x20);   // ICW2: vectors 0x20-0x27
        pic.out(0x21, 1, 0x04);   // ICW3: slave on IR2
        pic.out(0x21, 1, 0x01);   // ICW4: 8086 mode
        pic.out(0x21, 1, 0xF9);   // OCW1: IRQ1 and the cascade unmasked
        pic.out(0xA0, 1, 0x11);
        pic.out(0xA1, 1, 0x28);
        pic.out(0xA1, 1, 0x02);   // slave identity 2
        pic.out(0xA1, 1, 0x01);
        pic.out(0xA1, 1, 0xFF);
        assertEquals(0xF9, pic.in(0x21, 1), "master IMR");
        assertEquals(0xFF, pic.in(0xA1, 1), "slave IMR");

        pic.actor.tell(new DeviceActor.Call(d -> ((Pic8259) d).setIrq(1, true), 0));
        assertEquals(new VcpuActor.ExtIntPending(true), bench.vcpu.receiveMessage(), "the observer saw INT rise");
        pic.actor.tell(new DeviceActor.Call(d -> bench.vcpu.ref().tell(new VcpuActor.ExtIntVector(((Pic8259) d).acknowledge())), 0));
        assertEquals(new VcpuActor.ExtIntVector(0x21), bench.vcpu.receiveMessage(), "INTA: vector base 0x20 + IRQ1");
        assertEquals(new VcpuActor.ExtIntPending(false), bench.vcpu.receiveMessage(), "the observer runs after the call");
        pic.out(0x20, 1, 0x0B);   // OCW3: read ISR
        assertEquals(0x02, pic.in(0x20, 1), "IRQ1 in service");
        pic.out(0x20, 1, 0x20);   // non-specific EOI
        assertEquals(0x00, pic.in(0x20, 1), "nothing in service after the EOI");
    }

    /**
     * MC146818A registers A-D (datasheet, "Register A" to "Register D") and the memory-size bytes
     * PC firmware reads (IBM AT layout, as QEMU's pc_cmos_init fills them).
     */
    private static void cmosRtc(Bench bench) {
        Hosted rtc = bench.host("cmos-rtc", "rtc", "");
        assertEquals(0x26, rtc.cmos(0x0A), "A: 32.768 kHz time base, 1024 Hz rate, no update in progress");
        assertEquals(0x02, rtc.cmos(0x0B), "B: 24-hour mode, BCD");
        assertEquals(0x80, rtc.cmos(0x0D), "D: valid RAM and time");
        assertEquals(0x80, rtc.cmos(0x15), "base memory 640 KiB, low byte");
        assertEquals(0x02, rtc.cmos(0x16), "base memory, high byte");
        assertEquals(0x00, rtc.cmos(0x30), "31 MiB above 1 MiB = 0x7C00 KiB, low byte");
        assertEquals(0x7C, rtc.cmos(0x31), "high byte");
        assertEquals(0x00, rtc.cmos(0x34), "16 MiB above 16 MiB = 0x100 64 KiB units, low byte");
        assertEquals(0x01, rtc.cmos(0x35), "high byte");
        assertEquals(0x01, rtc.cmos(0x5F), "CPUs minus one");
        rtc.at(12 * SECOND + SECOND / 2);
        assertEquals(0x12, rtc.cmos(0x00), "seconds in BCD, as of the request's virtual time");
        rtc.out(0x70, 1, 0x0B);
        rtc.out(0x71, 1, 0x06);   // B: binary, 24-hour mode
        assertEquals(0x06, rtc.cmos(0x0B), "B reads back");
        assertEquals(12, rtc.cmos(0x00), "seconds in binary");
        rtc.out(0x70, 1, 0x0A);
        rtc.out(0x71, 1, 0x2A);   // A: 32.768 kHz time base, periodic rate 64 Hz
        assertEquals(0x2A, rtc.cmos(0x0A), "A reads back");
    }

    /** The xAPIC page (SDM Vol. 3A, 11.4.6 and table 11-1) and IA32_APIC_BASE (11.4.4, 11.12.1). */
    private static void localApic(Bench bench) {
        Hosted apic = bench.host("lapic", "lapic1", "apic-id = 1");
        assertEquals(0x0100_0000L, apic.mmioRead(0xFEE0_0020L, 4), "ID register: APIC ID in bits 31:24");
        assertEquals(0x0005_0014L, apic.mmioRead(0xFEE0_0030L, 4), "version 0x14, max LVT entry 5");
        assertEquals(new VcpuActor.ExitDone(0xFEE0_0800L), apic.rdmsr(0x1B), "IA32_APIC_BASE: base, enabled, not the BSP");
        assertEquals(new VcpuActor.MsrRefused(), apic.rdmsr(0x802), "x2APIC ID register outside x2APIC mode: #GP");
        assertEquals(new VcpuActor.ExitDone(0), apic.wrmsr(0x1B, 0xFEE0_0C00L), "into x2APIC mode (EN | EXTD)");
        assertEquals(new VcpuActor.ExitDone(1), apic.rdmsr(0x802), "x2APIC ID");
        assertEquals(new VcpuActor.MsrRefused(), apic.wrmsr(0x1B, 0xFEE0_0800L), "x2APIC back to xAPIC is illegal: #GP");
    }

    /** IOREGSEL/IOWIN (82093AA datasheet 3.1; version 0x20 and 24 pins, as QEMU's I/O APIC). */
    private static void ioApic(Bench bench) {
        Hosted ioapic = bench.host("ioapic", "ioapic", "");
        ioapic.mmioWrite(0xFEC0_0000L, 4, 0x01);
        assertEquals(0x0017_0020L, ioapic.mmioRead(0xFEC0_0010L, 4), "version: max redirection entry 23, version 0x20");
        ioapic.mmioWrite(0xFEC0_0000L, 4, 0x10);
        assertEquals(0x0001_0000L, ioapic.mmioRead(0xFEC0_0010L, 4), "redirection entry 0 is masked after reset");
    }

    /** The traditional interface (QEMU docs/specs/fw_cfg.rst): a 16-bit selector write, then data bytes. */
    private static void fwCfg(Bench bench) {
        Hosted fw = bench.host("fw_cfg", "fw_cfg", "");
        fw.out(0x510, 2, 0x0000);   // FW_CFG_SIGNATURE
        StringBuilder signature = new StringBuilder();
        for (int k = 0; k < 4; k++) signature.append((char) fw.in(0x511, 1));
        assertEquals("QEMU", signature.toString());
        assertEquals(0, fw.in(0x511, 1), "past the item's end");
        fw.out(0x510, 2, 0x0005);   // FW_CFG_NB_CPUS, 16-bit little-endian
        assertEquals(2, fw.in(0x511, 1));
        assertEquals(0, fw.in(0x511, 1));
    }

    /** The PM timer (ACPI 6.5, 4.8.3.3: 3.579545 MHz) and the two ways out of the machine it offers. */
    private static void acpiPm(Bench bench) {
        Hosted pm = bench.host("acpi-pm", "acpi", "");
        bench.supervisor.expectMessage(new VmSupervisor.IrqChanged(9, false, 0));
        assertEquals(0, pm.in(0x608, 4), "PM_TMR at time 0");
        pm.at(SECOND);
        assertEquals(pmTimerTicks(SECOND), pm.in(0x608, 4));
        pm.at(2 * SECOND);
        assertEquals(pmTimerTicks(2 * SECOND), pm.in(0x608, 4));
        assertEquals(0x0001, pm.in(0x604, 2), "PM1_CNT: SCI_EN");

        pm.actor.tell(new DeviceActor.PortWrite(0x604, 2, 0x2000, pm.nanos, bench.vcpu.ref()));   // SLP_EN, SLP_TYP = S5
        bench.vcpu.expectMessage(new VcpuActor.Hold());
        bench.vcpu.expectMessage(new VcpuActor.ExitDone(0));
        bench.supervisor.expectMessage(new VmSupervisor.MachineExit("acpi", 0));
        pm.actor.tell(new DeviceActor.PortWrite(0xCF9, 1, 0x06, pm.nanos, bench.vcpu.ref()));    // RST_CPU | SYS_RST
        bench.vcpu.expectMessage(new VcpuActor.Hold());
        bench.vcpu.expectMessage(new VcpuActor.ExitDone(0));
        bench.supervisor.expectMessage(new VmSupervisor.MachineReset("acpi"));
    }

    /** The 24-bit PM timer's value at {@code nanos}. */
    private static long pmTimerTicks(long nanos) {
        return (nanos / SECOND * 3_579_545L + nanos % SECOND * 3_579_545L / SECOND) & 0xFF_FFFF;
    }

    /** Configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2) to the i440FX host bridge at 00:00.0. */
    private static void pciHost(Bench bench) {
        Hosted pci = bench.host("pci-host", "pci", "");
        pci.out(0xCF8, 4, 0x8000_0000L);
        assertEquals(0x8000_0000L, pci.in(0xCF8, 4), "CONFIG_ADDRESS reads back");
        assertEquals(0x1237_8086L, pci.in(0xCFC, 4), "vendor 8086h, device 1237h");
        pci.out(0xCF8, 4, 0x8000_0008L);
        assertEquals(0x0600_0002L, pci.in(0xCFC, 4), "class 060000h (host bridge), revision 02h");
        pci.out(0xCF8, 4, 0x8000_1000L);
        assertEquals(0xFFFF_FFFFL, pci.in(0xCFC, 4), "an empty slot: no device");
    }

    /** virtio-blk (legacy transport, virtio 1.x 4.1.4.8 and 5.2.4): its capacity in sectors at config offset 0. */
    private static void virtioBlock(Bench bench) {
        Hosted disk = pluggedVirtio(bench, "virtio-blk", "disk", "size = 64K", 0x1001, 2, 64);
        assertEquals(128, disk.in(0xC000 + 0x14, 4), "capacity: 64 KiB is 128 sectors");
        assertEquals(0, disk.in(0xC000 + 0x18, 4), "capacity, high half");
        disk.out(0xC000 + 0x0E, 2, 0);   // queue select 0
        assertEquals(256, disk.in(0xC000 + 0x0C, 2), "queue size");
    }

    /** virtio-net (virtio 1.x 5.1.4): VIRTIO_NET_F_MAC offered and the MAC at config offset 0. */
    private static void virtioNet(Bench bench) {
        Hosted nic = pluggedVirtio(bench, "virtio-net", "nic", "mac = \"52:54:00:12:34:56\"", 0x1000, 1, 32);
        assertEquals(1L << 5, nic.in(0xC000, 4) & 1L << 5, "host features: VIRTIO_NET_F_MAC");
        assertEquals(0x1200_5452L, nic.in(0xC000 + 0x14, 4), "MAC bytes 0-3");
        assertEquals(0x5634, nic.in(0xC000 + 0x18, 2), "MAC bytes 4-5");
    }

    /**
     * A virtio function plugged into a PCI host bridge, both hosted, as {@link Platform} wires
     * them: the guest finds it by configuration cycles through the bridge's actor, places BAR0 at
     * 0xC000 and turns on I/O decoding, which the supervisor hears of as changed ranges; the
     * function's own actor then answers at the new ports.
     */
    private static Hosted pluggedVirtio(Bench bench, String type, String name, String params, int deviceId,
                                        int virtioType, int barSize) {
        Hosted pci = bench.host("pci-host", "pci", "");
        Hosted fn = bench.host(type, name, params);
        PciFunction function = (PciFunction) fn.model;
        function.connectRangesChanged(() -> bench.supervisor.ref().tell(new VmSupervisor.RangesChanged(name)));
        PciHost host = (PciHost) pci.model;
        int slot = host.freeSlot();
        host.plug(slot, function);
        long address = 0x8000_0000L | (long) slot << 11;

        pci.out(0xCF8, 4, address);
        assertEquals((long) deviceId << 16 | 0x1AF4, pci.in(0xCFC, 4), "vendor 1AF4h and the transitional device ID");
        pci.out(0xCF8, 4, address | 0x2C);
        assertEquals((long) virtioType << 16 | 0x1AF4, pci.in(0xCFC, 4), "subsystem: the virtio device type");
        pci.out(0xCF8, 4, address | 0x10);
        pci.out(0xCFC, 4, 0xC000);
        assertEquals(0xC001L, pci.in(0xCFC, 4), "BAR0: an I/O BAR at 0xC000");
        pci.out(0xCF8, 4, address | 0x04);
        pci.out(0xCFC, 2, 0x0001);   // command: I/O space
        bench.supervisor.expectMessage(new VmSupervisor.RangesChanged(name));
        assertEquals(List.of(new PortRange(0xC000, barSize)), ((PortIoDevice) fn.model).portRanges());
        assertEquals(0, fn.in(0xC000 + 0x12, 1), "device status after reset");
        return fn;
    }

    /** QEMU's isa-debug-exit: status (value << 1) | 1, and the writing vCPU runs no further. */
    private static void isaDebugExit(Bench bench) {
        Hosted exit = bench.host("isa-debug-exit", "debug-exit", "");
        assertEquals(0, exit.in(0xF4, 1), "reads return 0 and stop nothing");
        exit.actor.tell(new DeviceActor.PortWrite(0xF4, 1, 5, exit.nanos, bench.vcpu.ref()));
        bench.vcpu.expectMessage(new VcpuActor.Hold());
        bench.vcpu.expectMessage(new VcpuActor.ExitDone(0));
        bench.supervisor.expectMessage(new VmSupervisor.MachineExit("debug-exit", 11));
    }

    /** The Bochs debug console: bytes to the back end, 0xE9 read back. */
    private static void debugcon(Bench bench) {
        Hosted con = bench.host("debugcon", "debugcon", "chardev = console");
        assertEquals(0xE9, con.in(0xE9, 1), "how guests detect the port");
        for (char c : "hi\n".toCharArray()) con.out(0xE9, 1, c);
        assertEquals("hi\n", bench.console.text());
    }

    /** QEMU's pc-testdev: a scratch register, interrupt lines driven by port writes, MMIO memory. */
    private static void pcTestdev(Bench bench) {
        Hosted dev = bench.host("pc-testdev", "testdev", "");
        dev.out(0xE0, 4, 0xCAFE_F00DL);
        assertEquals(0xCAFE_F00DL, dev.in(0xE0, 4));
        assertEquals(0xCA, dev.in(0xE3, 1), "the top byte lane");
        assertFalse(dev.settled, "no interrupt line moved");
        dev.out(0x2000 + 5, 1, 1);
        assertTrue(dev.settled, "the vCPU settles after an access that raised a line, to take its interrupt next");
        bench.supervisor.expectMessage(new VmSupervisor.IrqChanged(5, true, dev.nanos));
        dev.mmioWrite(0xFF00_0010L, 4, 0x1234_5678L);
        assertEquals(0x5678, dev.mmioRead(0xFF00_0010L, 2));
    }

    // =====================================================================================
    // The bench: a VM's services around hosted devices, with probes for supervisor and vCPU
    // =====================================================================================

    /** What the device actors of one VM share, with the supervisor and the asking vCPU as probes. */
    private static final class Bench implements AutoCloseable {
        final TestProbe<VmSupervisor.Command> supervisor = kit.createTestProbe();
        final TestProbe<VcpuActor.Command> vcpu = kit.createTestProbe();
        final CharBackends.Capture console = new CharBackends.Capture();
        final PhysicalMemory memory = PhysicalMemory.allocate(RAM_BYTES);
        private final List<Hosted> hosted = new ArrayList<>();
        private final VmServices services = new VmServices() {
            private final MachineInfo machine = new MachineInfo(RAM_BYTES, List.of(0, 1), TSC_HZ);

            @Override public ActorRef<VmSupervisor.Command> supervisor() { return supervisor.ref(); }
            @Override public PhysicalMemory memory() { return memory; }
            @Override public MachineInfo machine() { return machine; }
            @Override public long seed() { return 1; }
            @Override public void lineChanged() { lineChanges++; }
            @Override public long lineChanges() { return lineChanges; }

            @Override
            public CharBackend charBackend(String spec) {
                return spec.equals("console") ? console : CharBackends.open(spec);
            }
        };
        private long lineChanges;

        Hosted host(String type, String name, String params) {
            return host(type, name, params, DeviceActor.Observer.NONE);
        }

        /** Creates the model with its type's factory, as {@link Platform} does, and spawns its actor. */
        Hosted host(String type, String name, String params, DeviceActor.Observer observer) {
            DeviceActor.HostedContext context = new DeviceActor.HostedContext(name, services, 0);
            Device model = REGISTRY.factory(type).create(name, ConfigFactory.parseString(params), context);
            Hosted h = new Hosted(context, model, kit.spawn(DeviceActor.create(model, context, observer)), vcpu);
            hosted.add(h);
            return h;
        }

        @Override
        public void close() {
            try {
                for (Hosted h : hosted) h.assertNoFurtherAnswers();
            } finally {
                for (Hosted h : hosted) {
                    kit.stop(h.actor);
                    if (h.model instanceof AutoCloseable c) {
                        try {
                            c.close();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }
                memory.close();
            }
        }
    }

    /** One hosted device, accessed as a vCPU accesses it: every answer is checked for its type. */
    private static final class Hosted {
        final DeviceActor.HostedContext context;
        final Device model;
        final ActorRef<DeviceActor.Command> actor;
        private final TestProbe<VcpuActor.Command> vcpu;
        /** The virtual time the next request carries. */
        long nanos;

        Hosted(DeviceActor.HostedContext context, Device model, ActorRef<DeviceActor.Command> actor,
               TestProbe<VcpuActor.Command> vcpu) {
            this.context = context;
            this.model = model;
            this.actor = actor;
            this.vcpu = vcpu;
        }

        void at(long nanos) {
            this.nanos = nanos;
        }

        /** Whether the last access's answer came after a {@link VcpuActor.Settle} (it changed an interrupt line). */
        boolean settled;

        /** The answer to an access, after the Settle that precedes it when the access changed a line. */
        private VcpuActor.Command answer() {
            VcpuActor.Command m = vcpu.receiveMessage();
            settled = m instanceof VcpuActor.Settle;
            return settled ? vcpu.receiveMessage() : m;
        }

        /** An IN: the answer must be an {@link VcpuActor.ExitDone}, whose value is returned. */
        long in(int port, int size) {
            actor.tell(new DeviceActor.PortRead(port, size, nanos, vcpu.ref()));
            return assertInstanceOf(VcpuActor.ExitDone.class, answer()).value();
        }

        /** An OUT: acknowledged with ExitDone(0), no Hold. */
        void out(int port, int size, long value) {
            actor.tell(new DeviceActor.PortWrite(port, size, value, nanos, vcpu.ref()));
            assertEquals(new VcpuActor.ExitDone(0), answer());
        }

        long mmioRead(long address, int size) {
            actor.tell(new DeviceActor.MmioRead(address, size, nanos, vcpu.ref()));
            return assertInstanceOf(VcpuActor.ExitDone.class, answer()).value();
        }

        void mmioWrite(long address, int size, long value) {
            actor.tell(new DeviceActor.MmioWrite(address, size, value, nanos, vcpu.ref()));
            assertEquals(new VcpuActor.ExitDone(0), answer());
        }

        VcpuActor.Command rdmsr(int msr) {
            actor.tell(new DeviceActor.MsrRead(msr, nanos, vcpu.ref()));
            return vcpu.receiveMessage();
        }

        VcpuActor.Command wrmsr(int msr, long value) {
            actor.tell(new DeviceActor.MsrWrite(msr, value, nanos, vcpu.ref()));
            return vcpu.receiveMessage();
        }

        /** A CMOS register through the index and data ports. */
        long cmos(int index) {
            out(0x70, 1, index);
            return in(0x71, 1);
        }

        /** Every answer this device sent has been taken: the end marker it posts now comes next. */
        void assertNoFurtherAnswers() {
            actor.tell(new DeviceActor.Call(d -> vcpu.ref().tell(END_OF_ANSWERS), nanos));
            assertEquals(END_OF_ANSWERS, vcpu.receiveMessage(Duration.ofSeconds(5)), "an access was answered more than once");
        }
    }
}
