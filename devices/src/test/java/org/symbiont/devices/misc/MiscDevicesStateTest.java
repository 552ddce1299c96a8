package org.symbiont.devices.misc;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.TestDeviceContext;

class MiscDevicesStateTest {
    @Test
    void aRestoredPcTestdevHasTheScratchRegisterMemoryAndLineLevels() throws Exception {
        try (TestDeviceContext a = new TestDeviceContext(); TestDeviceContext b = new TestDeviceContext()) {
            PcTestdev original = new PcTestdev("testdev", a);
            original.ioWrite(PcTestdev.SCRATCH, 4, 0xCAFE_F00DL);
            original.mmioWrite(PcTestdev.IOMEM_BASE + 0xFFFC, 4, 0x1122_3344L);
            original.ioWrite(PcTestdev.IRQ_LINES + 5, 1, 1);
            original.ioWrite(PcTestdev.IRQ_LINES + 7, 1, 1);
            original.ioWrite(PcTestdev.IRQ_LINES + 7, 1, 0);
            PcTestdev twin = new PcTestdev("testdev", b);
            DeviceState.restore(twin, DeviceState.save(original));
            assertTrue(b.line(5).level);
            assertFalse(b.line(7).level);
            for (PcTestdev d : new PcTestdev[] {original, twin}) {
                assertEquals(0xCAFE_F00DL, d.ioRead(PcTestdev.SCRATCH, 4));
                assertEquals(0x1122_3344L, d.mmioRead(PcTestdev.IOMEM_BASE + 0xFFFC, 4));
                d.reset();
            }
            assertFalse(b.line(5).level, "reset lowers the restored level");
            DeviceStateAssertions.assertMalformedRefused(new PcTestdev("testdev", b), DeviceState.save(original), 8 + 0x10000, 2, "line 0 level");
        }
    }

    @Test
    void pcTestdevCorruptStateIsRefused() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            byte[] saved = DeviceState.save(new PcTestdev("testdev", ctx));
            // Every prefix would be 65 KiB of restores: check the interesting cuts.
            for (int length : new int[] {0, 3, 7, 8 + 0xFFFF, 8 + 0x10000 + 23}) {
                byte[] truncated = java.util.Arrays.copyOf(saved, length);
                var e = assertThrows(org.symbiont.x86.snapshot.SnapshotException.class,
                        () -> DeviceState.restore(new PcTestdev("testdev", ctx), truncated));
                assertTrue(e.getMessage().startsWith("truncated state of device 'testdev' (PcTestdev)"), e.getMessage());
            }
        }
    }

    @Test
    void theDebugPortsHaveAnEmptyStateAndRefuseAnyOther() throws Exception {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            DeviceRegistry registry = DeviceRegistry.load();
            for (String type : new String[] {"isa-debug-exit", "debugcon"}) {
                PortIoDevice original = (PortIoDevice) registry.factory(type).create("d", ConfigFactory.empty(), ctx);
                byte[] saved = DeviceState.save(original);
                assertArrayEquals(new byte[] {1, 0, 0, 0}, saved, "the state version only");
                PortIoDevice twin = (PortIoDevice) registry.factory(type).create("d", ConfigFactory.empty(), ctx);
                DeviceState.restore(twin, saved);
                DeviceStateAssertions.assertCorruptStateRefused(() -> registry.factory(type).create("d", ConfigFactory.empty(), ctx), saved);
            }
        }
    }
}
