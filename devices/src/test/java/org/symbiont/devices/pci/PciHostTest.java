package org.symbiont.devices.pci;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.TestDeviceContext;

/** The host bridge and configuration space as a guest's PCI code and firmware see them. */
class PciHostTest {
    /** A function with memory BARs and capabilities, which no device model here has. */
    static final class TestFunction implements PciFunction {
        final PciConfigSpace config = new PciConfigSpace(0x1234, 0x5678, 7, 0xFF0000, 0x1234, 0x0001);
        int rangeChanges;

        TestFunction(int pin) {
            config.defineMemoryBar32(0, 0x1000, false);
            config.defineIoBar(1, 16);
            config.defineMemoryBar64(2, 1 << 20, true);
            config.setInterruptPin(pin);
            config.connectRangesChanged(() -> rangeChanges++);
        }

        @Override public int configRead(int offset, int size) { return config.read(offset, size); }
        @Override public void configWrite(int offset, int size, int value) { config.write(offset, size, value); }
        @Override public void connectInterrupt(InterruptLine intx) { config.connectInterrupt(intx); }
        @Override public void connectRangesChanged(Runnable listener) { config.connectRangesChanged(listener); }
        @Override public OptionalInt requestedSlot() { return OptionalInt.empty(); }
    }

    static int configAddress(int bus, int device, int function, int register) {
        return 0x8000_0000 | bus << 16 | device << 11 | function << 8 | (register & 0xFC);
    }

    /** A guest's pci_conf1_read: CONFIG_ADDRESS by dword, then CONFIG_DATA at the register's lane. */
    static int read(PciHost host, int device, int register, int size) {
        host.ioWrite(PciHost.CONFIG_ADDRESS, 4, configAddress(0, device, 0, register));
        return (int) host.ioRead(PciHost.CONFIG_DATA + (register & 3), size);
    }

    static void write(PciHost host, int device, int register, int size, int value) {
        host.ioWrite(PciHost.CONFIG_ADDRESS, 4, configAddress(0, device, 0, register));
        host.ioWrite(PciHost.CONFIG_DATA + (register & 3), size, value & 0xFFFF_FFFFL);
    }

    static PciHost host(TestDeviceContext ctx) {
        return (PciHost) DeviceRegistry.load().factory("pci-host").create("pci", ConfigFactory.empty(), ctx);
    }

    static PciFunction plugFromConfig(PciHost host, TestDeviceContext ctx, String type, String params) {
        PciFunction fn = (PciFunction) DeviceRegistry.load().factory(type).create(type, ConfigFactory.parseString(params), ctx);
        host.plug(fn.requestedSlot().orElse(host.freeSlot()), fn);
        return fn;
    }

    @Test
    void enumerationOfBusZeroFindsTheHostBridgeAndThePluggedFunctions() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PciHost host = host(ctx);
            plugFromConfig(host, ctx, "virtio-blk", "size = 1M, pci-slot = 3");
            plugFromConfig(host, ctx, "virtio-net", "pci-slot = 5");
            List<Integer> found = new ArrayList<>();
            for (int d = 0; d < 32; d++) {
                if ((read(host, d, PciConfigSpace.VENDOR_ID, 2) & 0xFFFF) != 0xFFFF) found.add(d);
                else assertEquals(-1, read(host, d, 0, 4), "an empty slot reads all ones");
            }
            assertEquals(List.of(0, 3, 5), found);

            assertEquals(0x1237_8086, read(host, 0, 0, 4), "i440FX");
            assertEquals(0x0600, read(host, 0, 0x0A, 2), "host bridge class");
            assertEquals(0x02, read(host, 0, PciConfigSpace.REVISION_ID, 1));
            assertEquals(0x00, read(host, 0, PciConfigSpace.HEADER_TYPE, 1), "single-function type 0 header");
            assertEquals(0x0006, read(host, 0, PciConfigSpace.COMMAND, 2));
            assertEquals(0x0280, read(host, 0, PciConfigSpace.STATUS, 2));

            assertEquals(0x1001_1AF4, read(host, 3, 0, 4), "virtio-blk transitional ID");
            assertEquals(0x0002_1AF4, read(host, 3, PciConfigSpace.SUBSYSTEM_VENDOR_ID, 4), "subsystem = virtio device type 2");
            assertEquals(0x0100, read(host, 3, 0x0A, 2), "mass storage (SCSI) as QEMU");
            assertEquals(0x00, read(host, 3, PciConfigSpace.REVISION_ID, 1), "legacy ABI revision 0");
            assertEquals(1, read(host, 3, PciConfigSpace.INTERRUPT_PIN, 1), "INTA#");
            assertEquals(0, read(host, 3, PciConfigSpace.CAPABILITIES_POINTER, 1));
            assertEquals(0, read(host, 3, PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAPABILITIES);

            assertEquals(0x1000_1AF4, read(host, 5, 0, 4), "virtio-net transitional ID");
            assertEquals(0x0001, read(host, 5, PciConfigSpace.SUBSYSTEM_ID, 2));
            assertEquals(0x0200, read(host, 5, 0x0A, 2), "Ethernet controller");
        }
    }

    @Test
    void configAddressIsADwordRegisterWithReservedBitsZero() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PciHost host = host(ctx);
            assertEquals(List.of(new PortRange(0xCF8, 1), new PortRange(0xCFC, 4)), host.portRanges());
            // Linux's pci_check_type1
            host.ioWrite(0xCF8, 4, 0x8000_0000L);
            assertEquals(0x8000_0000L, host.ioRead(0xCF8, 4));
            host.ioWrite(0xCF8, 4, 0xFFFF_FFFFL);
            assertEquals(0x80FF_FFFCL, host.ioRead(0xCF8, 4), "bits 30-24 and 1-0 read 0");
            host.ioWrite(0xCF8, 1, 0);
            host.ioWrite(0xCF8, 2, 0);
            assertEquals(0x80FF_FFFCL, host.ioRead(0xCF8, 4), "byte and word writes are not CONFIG_ADDRESS's");
            assertEquals(0xFFFF_FFFFL, host.ioRead(0xCF8, 1) | 0xFFFF_FF00L);
            host.reset();
            assertEquals(0, host.ioRead(0xCF8, 4));
        }
    }

    @Test
    void withoutEnableOnOtherBusesAndOtherFunctionsReadsAreAllOnesAndWritesDropped() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PciHost host = host(ctx);
            TestFunction fn = new TestFunction(1);
            host.plug(2, fn);
            int[] addresses = {
                configAddress(0, 2, 0, 0x3C) & 0x7FFF_FFFF, configAddress(1, 2, 0, 0x3C), configAddress(0, 2, 1, 0x3C)
            };
            for (int address : addresses) {
                host.ioWrite(0xCF8, 4, address & 0xFFFF_FFFFL);
                assertEquals(0xFFFF_FFFFL, host.ioRead(0xCFC, 4));
                host.ioWrite(0xCFC, 1, 0x55);
            }
            assertEquals(0, fn.config.get(PciConfigSpace.INTERRUPT_LINE, 1));
            write(host, 2, PciConfigSpace.INTERRUPT_LINE, 1, 0x55);
            assertEquals(0x55, fn.config.get(PciConfigSpace.INTERRUPT_LINE, 1));
        }
    }

    @Test
    void configDataByteLanes() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PciHost host = host(ctx);
            host.ioWrite(0xCF8, 4, configAddress(0, 0, 0, 0));
            assertEquals(0x86, host.ioRead(0xCFC, 1));
            assertEquals(0x80, host.ioRead(0xCFD, 1));
            assertEquals(0x12, host.ioRead(0xCFF, 1));
            assertEquals(0x1237, host.ioRead(0xCFE, 2));
            assertEquals(0x3780, host.ioRead(0xCFD, 2), "a misaligned word takes bytes 1-2");
            assertEquals(0xFFFF_1237L, host.ioRead(0xCFE, 4), "bytes past 0CFFh read all ones");

            TestFunction fn = new TestFunction(1);
            host.plug(7, fn);
            host.ioWrite(0xCF8, 4, configAddress(0, 7, 0, PciConfigSpace.INTERRUPT_LINE));
            host.ioWrite(0xCFD, 2, 0xAB_CD);
            assertEquals(0x01, fn.config.get(PciConfigSpace.INTERRUPT_PIN, 1), "the pin is read-only");
            host.ioWrite(0xCFC, 4, 0xFFFF_FF42L);
            assertEquals(0x42, fn.config.get(PciConfigSpace.INTERRUPT_LINE, 1));
            assertEquals(0x0000_0142, read(host, 7, PciConfigSpace.INTERRUPT_LINE, 4), "MIN_GNT/MAX_LAT read 0");
        }
    }

    @Test
    void barsAnswerTheSizeProbeAndDecodeOnlyWhenEnabled() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PciHost host = host(ctx);
            TestFunction fn = new TestFunction(2);
            host.plug(4, fn);
            int[] probed = new int[6];
            for (int bar = 0; bar < 6; bar++) {
                int offset = PciConfigSpace.BAR0 + 4 * bar;
                int old = read(host, 4, offset, 4);
                write(host, 4, offset, 4, -1);
                probed[bar] = read(host, 4, offset, 4);
                write(host, 4, offset, 4, old);
            }
            assertEquals(0xFFFF_F000, probed[0], "4 KiB, 32-bit, not prefetchable");
            assertEquals(0xFFFF_FFF1, probed[1], "16 ports, I/O");
            assertEquals(0xFFF0_000C, probed[2], "1 MiB, 64-bit, prefetchable");
            assertEquals(0xFFFF_FFFF, probed[3], "upper half of a BAR below 4 GiB is all address bits");
            assertEquals(0, probed[4]);
            assertEquals(0, probed[5]);
            assertEquals(0, read(host, 4, PciConfigSpace.EXPANSION_ROM, 4), "no expansion ROM");
            assertEquals(0, fn.rangeChanges, "probing with decoding off changes nothing");

            write(host, 4, 0x10, 4, 0xFEB0_0000);
            write(host, 4, 0x14, 4, 0xD000);
            write(host, 4, 0x18, 4, 0);
            write(host, 4, 0x1C, 4, 0x1);
            assertEquals(0, fn.rangeChanges);
            write(host, 4, PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
            assertEquals(1, fn.rangeChanges);
            assertEquals(List.of(new MmioRange(0xFEB0_0000L, 0x1000), new MmioRange(0x1_0000_0000L, 1 << 20)), fn.config.mmioRanges());
            assertEquals(List.of(), fn.config.portRanges());
            write(host, 4, PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_IO);
            assertEquals(2, fn.rangeChanges);
            assertEquals(List.of(new PortRange(0xD000, 16)), fn.config.portRanges());
            write(host, 4, 0x14, 4, 0xD010);
            assertEquals(3, fn.rangeChanges);
            assertEquals(0xD010, fn.config.decodedBase(1));
            write(host, 4, 0x14, 4, 0);
            assertEquals(-1, fn.config.decodedBase(1), "address 0 decodes nothing");
            write(host, 4, 0x10, 4, -1);
            assertEquals(-1, fn.config.decodedBase(0), "a 32-bit BAR holding the probe pattern decodes nothing");
            write(host, 4, PciConfigSpace.COMMAND, 2, 0);
            assertEquals(List.of(), fn.config.mmioRanges());
            int before = fn.rangeChanges;
            write(host, 4, PciConfigSpace.COMMAND, 2, 0);
            assertEquals(before, fn.rangeChanges, "no change, no notification");

            write(host, 4, PciConfigSpace.VENDOR_ID, 4, 0);
            assertEquals(0x5678_1234, read(host, 4, 0, 4), "IDs are read-only");
            write(host, 4, PciConfigSpace.COMMAND, 2, 0xFFFF);
            assertEquals(0x0407, read(host, 4, PciConfigSpace.COMMAND, 2), "I/O, memory, bus master, INTx disable");
        }
    }

    @Test
    void capabilitiesFormAList() {
        PciConfigSpace config = new PciConfigSpace(0x1234, 0x5678, 0, 0xFF0000, 0, 0);
        assertEquals(0, config.read(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAPABILITIES);
        int first = config.addCapability(0x09, 6);
        int second = config.addCapability(0x05, 12);
        config.set(second + 2, 2, 0x0080);
        config.setWritable(second + 2, 2, 0x0001);
        assertEquals(PciConfigSpace.STATUS_CAPABILITIES, config.read(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAPABILITIES);
        List<Integer> ids = new ArrayList<>();
        for (int at = config.read(PciConfigSpace.CAPABILITIES_POINTER, 1); at != 0; at = config.read(at + 1, 1)) {
            assertEquals(0, at & 3, "capabilities are dword-aligned");
            ids.add(config.read(at, 1));
        }
        assertEquals(List.of(0x09, 0x05), ids);
        assertEquals(0x40, first);
        assertEquals(0x48, second);
        config.write(second + 2, 2, 0xFFFF);
        assertEquals(0x0081, config.read(second + 2, 2), "only the bits the function made writable change");
        config.write(PciConfigSpace.CAPABILITIES_POINTER, 1, 0);
        assertEquals(0x40, config.read(PciConfigSpace.CAPABILITIES_POINTER, 1));
        assertThrows(IllegalArgumentException.class, () -> config.addCapability(0x10, 200));
    }

    @Test
    void assignResourcesPlacesBarsAsFirmwareDoes() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PciHost host = host(ctx);
            TestFunction fn = new TestFunction(1);
            host.plug(2, fn);
            PciFunction blk = plugFromConfig(host, ctx, "virtio-blk", "size = 1M, pci-slot = 3");
            PciFunction net = plugFromConfig(host, ctx, "virtio-net", "pci-slot = 4");
            int[] netChanges = {0};
            net.connectRangesChanged(() -> netChanges[0]++);

            List<PciHost.Assignment> a = host.assignResources(new MmioRange(0xE000_0000L, 0xFEC0_0000L - 0xE000_0000L));
            assertEquals(List.of(
                    new PciHost.Assignment(2, 0, false, 0xE010_0000L, 0x1000),
                    new PciHost.Assignment(2, 1, true, 0xC060, 16),
                    new PciHost.Assignment(2, 2, false, 0xE000_0000L, 1 << 20),
                    new PciHost.Assignment(3, 0, true, 0xC000, 64),
                    new PciHost.Assignment(4, 0, true, 0xC040, 32)), a, "largest first, naturally aligned");

            assertEquals(0xC001, read(host, 3, 0x10, 4));
            assertEquals(0xE000_000C, read(host, 2, 0x18, 4));
            assertEquals(0, read(host, 2, 0x1C, 4));
            assertEquals(List.of(new PortRange(0xC000, 64)), ((PortIoDevice) blk).portRanges());
            assertEquals(List.of(new PortRange(0xC040, 32)), ((PortIoDevice) net).portRanges());
            assertEquals(1, netChanges[0], "the VMM hears about the new ranges");
            assertEquals(List.of(new MmioRange(0xE010_0000L, 0x1000), new MmioRange(0xE000_0000L, 1 << 20)), fn.config.mmioRanges());
            for (int d : new int[] {2, 3, 4}) {
                int command = read(host, d, PciConfigSpace.COMMAND, 2);
                assertEquals(PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_MEMORY, command, "decoding on, bus master left to the driver");
            }
            assertEquals(10, read(host, 2, PciConfigSpace.INTERRUPT_LINE, 1), "slot 2 INTA# -> PIRQB -> 10");
            assertEquals(11, read(host, 3, PciConfigSpace.INTERRUPT_LINE, 1), "slot 3 INTA# -> PIRQC -> 11");
            assertEquals(11, read(host, 4, PciConfigSpace.INTERRUPT_LINE, 1), "slot 4 INTA# -> PIRQD -> 11");
            assertEquals(0, read(host, 0, PciConfigSpace.INTERRUPT_LINE, 1), "the host bridge has no pin");

            var e = assertThrows(IllegalStateException.class, () -> host.assignResources(new MmioRange(0xE000_0000L, 1 << 20)));
            assertTrue(e.getMessage().contains("memory"), e.getMessage());
        }
    }

    @Test
    void intxFollowsThePiixSwizzleAndSharedLinesStayUpWhileAnyFunctionAsserts() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PciHost host = host(ctx);
            assertEquals(10, host.gsi(1, 1), "slot 1 INTA# -> PIRQA");
            assertEquals(11, host.gsi(1, 4), "slot 1 INTD# -> PIRQD");
            assertEquals(10, host.gsi(2, 1));
            assertEquals(11, host.gsi(3, 1));
            assertEquals(11, host.gsi(4, 1));
            assertEquals(10, host.gsi(5, 1), "the swizzle wraps every four slots");
            assertEquals(10, host.gsi(4, 2), "slot 4 INTB# -> PIRQA");

            TestFunction a = new TestFunction(1);
            TestFunction b = new TestFunction(1);
            host.plug(3, a);
            host.plug(4, b);
            TestDeviceContext.Line line = ctx.line(11);
            a.config.setInterruptRequest(true);
            assertTrue(line.level);
            b.config.setInterruptRequest(true);
            a.config.setInterruptRequest(false);
            assertTrue(line.level, "slot 4 still asserts");
            assertEquals(PciConfigSpace.STATUS_INTERRUPT, read(host, 4, PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT);
            assertEquals(0, read(host, 3, PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT);
            b.config.setInterruptRequest(false);
            assertFalse(line.level);
            assertEquals(1, line.rises);
            assertFalse(ctx.line(10).level);

            b.config.setInterruptRequest(true);
            write(host, 4, PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_INTX_DISABLE);
            assertFalse(line.level, "interrupt disable masks the pin");
            assertEquals(PciConfigSpace.STATUS_INTERRUPT, read(host, 4, PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT,
                    "but the status still shows the request");
            write(host, 4, PciConfigSpace.COMMAND, 2, 0);
            assertTrue(line.level);
            b.config.reset();
            assertFalse(line.level, "a reset withdraws the request");

            assertThrows(IllegalArgumentException.class, () -> host.plug(3, new TestFunction(1)));
            assertThrows(IllegalArgumentException.class, () -> host.plug(0, new TestFunction(1)));
            assertEquals(1, host.freeSlot());
        }
    }

    @Test
    void pirqTableComesFromConfiguration() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PciHost host = (PciHost) DeviceRegistry.load().factory("pci-host")
                    .create("pci", ConfigFactory.parseString("pirq-gsis = [5, 9, 16, 17]"), ctx);
            assertEquals(5, host.gsi(1, 1));
            assertEquals(9, host.gsi(2, 1));
            assertEquals(16, host.gsi(3, 1));
            assertEquals(17, host.gsi(4, 1));
            TestFunction fn = new TestFunction(3);
            host.plug(4, fn);
            fn.config.setInterruptRequest(true);
            assertTrue(ctx.line(9).level, "slot 4 INTC# -> PIRQB");

            for (String bad : new String[] {"pirq-gsis = [1, 2, 3]", "pirq-gsis = [1, 2, 3, -4]"}) {
                var e = assertThrows(ConfigException.class, () -> DeviceRegistry.load().factory("pci-host")
                        .create("pci", ConfigFactory.parseString(bad), ctx));
                assertTrue(e.getMessage().contains("pirq-gsis"), e.getMessage());
            }
        }
    }

    @Test
    void resetReturnsAFunctionToPowerOnState() {
        TestFunction fn = new TestFunction(1);
        fn.config.write(0x14, 4, 0xC100);
        fn.config.write(PciConfigSpace.INTERRUPT_LINE, 1, 11);
        fn.config.write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_BUS_MASTER);
        assertEquals(1, fn.rangeChanges);
        assertTrue(fn.config.busMasterEnabled());
        fn.config.reset();
        assertEquals(2, fn.rangeChanges);
        assertEquals(List.of(), fn.config.portRanges());
        assertEquals(0x1, fn.config.read(0x14, 4), "address cleared, type bit kept");
        assertEquals(0, fn.config.read(PciConfigSpace.INTERRUPT_LINE, 1));
        assertEquals(0, fn.config.command());
        assertEquals(0x5678_1234, fn.config.read(0, 4));
    }
}
