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
