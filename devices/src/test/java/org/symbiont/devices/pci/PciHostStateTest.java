package org.symbiont.devices.pci;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.pci.PciHostTest.read;
import static org.symbiont.devices.pci.PciHostTest.write;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

class PciHostStateTest {
    /** A host bridge with a test function (memory, I/O and 64-bit BARs, INTB#) in slot 4. */
    static final class Machine {
        final TestDeviceContext ctx = new TestDeviceContext();
        final PciHost host = PciHostTest.host(ctx);
        final PciHostTest.TestFunction fn = new PciHostTest.TestFunction(2);

        Machine() {
            host.plug(4, fn);
        }

        /** A guest reading through the CONFIG_ADDRESS left selected, then reprogramming the function. */
        List<String> drive() {
            List<String> trace = new ArrayList<>();
            trace.add("data " + Long.toHexString(host.ioRead(PciHost.CONFIG_DATA, 4)) + " address "
                    + Long.toHexString(host.ioRead(PciHost.CONFIG_ADDRESS, 4)));
            for (int reg = 0; reg < 0x40; reg += 4) trace.add("bridge " + reg + " " + Integer.toHexString(read(host, 0, reg, 4)));
            for (int reg = 0; reg < 0x40; reg += 4) trace.add("fn " + reg + " " + Integer.toHexString(read(host, 4, reg, 4)));
            trace.add("ports " + fn.config.portRanges() + " mmio " + fn.config.mmioRanges() + " gsi " + ctx.line(host.gsi(4, 2)).level);
            fn.config.setInterruptRequest(false);
            write(host, 4, PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_IO);
            trace.add("ports " + fn.config.portRanges() + " mmio " + fn.config.mmioRanges() + " gsi changes " + ctx.line(host.gsi(4, 2)).changes);
            return trace;
        }
    }

    final List<Machine> machines = new ArrayList<>();

    Machine machine() {
        Machine m = new Machine();
        machines.add(m);
        return m;
    }

    @AfterEach
    void close() {
        machines.forEach(m -> m.ctx.close());
    }

    /** Resources assigned as firmware does, the function requesting an interrupt, the bridge's registers written. */
    Machine busyBus() {
        Machine m = machine();
        m.host.assignResources(new org.symbiont.devices.MmioRange(0xC000_0000L, 0x1000_0000L));
        write(m.host, 0, PciConfigSpace.CACHE_LINE_SIZE, 1, 0x10);
        write(m.host, 0, PciConfigSpace.INTERRUPT_LINE, 1, 0x0B);
        m.fn.config.setInterruptRequest(true);
        m.host.ioWrite(PciHost.CONFIG_ADDRESS, 4, PciHostTest.configAddress(0, 4, 0, 0x10));
        return m;
    }

    /** The function's configuration space saved as a device model embeds it. */
    static byte[] saveFunction(PciConfigSpace config) {
        SectionWriter out = new SectionWriter();
        config.saveState(out);
        return out.toByteArray();
    }

    @Test
    void aRestoredBusDecodesAndInterruptsAsTheOriginal() throws Exception {
        Machine original = busyBus();
        byte[] host = DeviceState.save(original.host);
        byte[] function = saveFunction(original.fn.config);
        Machine twin = machine();
        DeviceState.restore(twin.host, host);
        SectionReader in = new SectionReader("state of test function", function);
        twin.fn.config.restoreState(in);
        in.end();
        assertEquals(1, twin.fn.rangeChanges, "the decoded BARs are reported once");
        assertTrue(twin.ctx.line(twin.host.gsi(4, 2)).level, "the INTx# request drives the shared GSI");
        original.ctx.line(original.host.gsi(4, 2)).changes.clear();
        twin.ctx.line(twin.host.gsi(4, 2)).changes.clear();
        List<String> expected = original.drive();
        assertTrue(expected.get(0).startsWith("data "), expected.get(0));
        assertEquals(expected, twin.drive());
    }

    @Test
    void aFunctionWithOtherReadOnlyBitsIsRefused() {
        byte[] function = saveFunction(busyBus().fn.config);
        function[PciConfigSpace.DEVICE_ID] ^= 1;
        SnapshotException e = assertThrows(SnapshotException.class,
                () -> machine().fn.config.restoreState(new SectionReader("state of test function", function)));
        assertTrue(e.getMessage().contains("malformed") && e.getMessage().contains("configuration byte 0x02"), e.getMessage());
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        byte[] saved = DeviceState.save(busyBus().host);
        DeviceStateAssertions.assertCorruptStateRefused(() -> machine().host, saved);
        // Layout: version (4), CONFIG_ADDRESS (4), the bridge's 256 bytes.
        DeviceStateAssertions.assertMalformedRefused(machine().host, saved, 4, 0x11, "CONFIG_ADDRESS");
        DeviceStateAssertions.assertMalformedRefused(machine().host, saved, 8 + PciConfigSpace.VENDOR_ID, 0x87, "configuration byte 0x00");
        DeviceStateAssertions.assertMalformedRefused(machine().host, saved, 8 + PciConfigSpace.COMMAND, 0x07, "configuration byte 0x04");
    }
}
