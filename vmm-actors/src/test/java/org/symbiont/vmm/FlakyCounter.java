package org.symbiont.vmm;

import com.typesafe.config.Config;
import java.util.List;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;

/**
 * A test device at port 0x510: writes add to a counter, reads return it, and writing 0xDEAD
 * makes the model throw, as a buggy device model would. Tests the VMM's supervision of devices.
 */
final class FlakyCounter implements PortIoDevice {
    static final int PORT = 0x510;
    private final String name;
    private long count;

    FlakyCounter(String name) {
        this.name = name;
    }

    @Override public String name() { return name; }
    @Override public void reset() { count = 0; }
    @Override public List<PortRange> portRanges() { return List.of(new PortRange(PORT, 1)); }
    @Override public long ioRead(int port, int size) { return count; }

    @Override
    public void ioWrite(int port, int size, long value) {
        if (value == 0xDEAD) throw new IllegalStateException("flaky device model failed");
        count += value;
    }

    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "test-flaky-counter"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            return new FlakyCounter(name);
        }
    }
}
