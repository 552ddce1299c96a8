package org.symbiont.devices.misc;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.TestDeviceContext;

class DebugDevicesTest {
    @Test
    void debugExitEndsTheMachineWithQemusStatus() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PortIoDevice d = (PortIoDevice) DeviceRegistry.load().factory("isa-debug-exit")
                    .create("exit", ConfigFactory.empty(), ctx);
            assertEquals(0xF4, d.portRanges().getFirst().first());
            assertEquals(4, d.portRanges().getFirst().count());
            d.ioWrite(0xF4, 1, 0x10);
            assertEquals(0x21, ctx.exitStatus, "(value << 1) | 1");
        }
    }

    @Test
    void debugConsoleWritesBytesAndIdentifiesItself() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PortIoDevice d = (PortIoDevice) DeviceRegistry.load().factory("debugcon")
                    .create("dbg", ConfigFactory.parseString("chardev = buf"), ctx);
            for (char ch : "hi\n".toCharArray()) d.ioWrite(0xE9, 1, ch);
            assertEquals("hi\n", ctx.buffer("buf").text());
            assertEquals(0xE9, d.ioRead(0xE9, 1));
        }
    }

    @Test
    void pcTestdevHasQemusScratchRegisterInterruptLinesAndMemory() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            PcTestdev d = (PcTestdev) DeviceRegistry.load().factory("pc-testdev").create("testdev", ConfigFactory.empty(), ctx);
            d.ioWrite(0xE0, 4, 0x1234_5678);
            assertEquals(0x1234_5678L, d.ioRead(0xE0, 4));
            assertEquals(0x34, d.ioRead(0xE2, 1), "byte lanes");
            d.ioWrite(0xE1, 2, 0xABCD);
            assertEquals(0x12AB_CD78L, d.ioRead(0xE0, 4), "a word written at lane 1");
            assertEquals(0x12AB_CD78L, d.ioRead(0xE8, 4), "0xE8 reaches the same register");
            d.ioWrite(0xE4, 4, 0x1000);
            assertEquals(0x12AB_CD78L, d.ioRead(0xE0, 4), "the flush register leaves the scratch register alone");

            d.ioWrite(0x2000 + 10, 1, 1);
            assertTrue(ctx.line(10).level, "line 10 driven high");
            d.ioWrite(0x2000 + 10, 1, 0);
            assertFalse(ctx.line(10).level);

            assertEquals(PcTestdev.IOMEM_BASE, d.mmioRanges().getFirst().base());
            d.mmioWrite(PcTestdev.IOMEM_BASE + 0x100, 8, 0x0102_0304_0506_0708L);
            assertEquals(0x0102_0304_0506_0708L, d.mmioRead(PcTestdev.IOMEM_BASE + 0x100, 8));
            assertEquals(0x0506, d.mmioRead(PcTestdev.IOMEM_BASE + 0x102, 2), "little-endian memory");
            d.reset();
            assertEquals(0, d.ioRead(0xE0, 4));
            assertEquals(0, d.mmioRead(PcTestdev.IOMEM_BASE + 0x100, 8));
        }
    }

    @Test
    void badParametersAndUnknownTypesAreClearErrors() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            var e = assertThrows(com.typesafe.config.ConfigException.class, () -> DeviceRegistry.load()
                    .factory("isa-debug-exit").create("exit", ConfigFactory.parseString("iosize = 3"), ctx));
            assertTrue(e.getMessage().contains("iosize"), e.getMessage());
            var u = assertThrows(IllegalArgumentException.class, () -> DeviceRegistry.load().factory("sound-blaster"));
            assertTrue(u.getMessage().contains("known types"), u.getMessage());
        }
    }
}
