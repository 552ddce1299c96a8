package org.symbiont.devices.misc;

import com.typesafe.config.Config;
import java.util.List;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.DeviceParams;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;

/**
 * QEMU's isa-debug-exit: a write of {@code value} to its port ends the machine with status
 * {@code (value << 1) | 1}, so a guest can report success or failure to the host. Reads return 0.
 */
public final class DebugExit implements PortIoDevice, Snapshottable.Stateless {
    private final String name;
    private final List<PortRange> ports;
    private final DeviceContext context;

    public DebugExit(String name, int base, int size, DeviceContext context) {
        this.name = name;
        this.ports = List.of(new PortRange(base, size));
        this.context = context;
    }

    @Override public String name() { return name; }
    @Override public void reset() { }
    @Override public List<PortRange> portRanges() { return ports; }
    @Override public long ioRead(int port, int size) { return 0; }

    @Override
    public void ioWrite(int port, int size, long value) {
        context.exitMachine((int) ((value << 1) | 1));
    }

    /** {@code type = isa-debug-exit}, parameters {@code iobase} (default 0xf4) and {@code iosize} (default 4). */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "isa-debug-exit"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            int base = DeviceParams.intIn(params, "iobase", 0, 0xFFFF, 0xF4);
            int size = DeviceParams.intIn(params, "iosize", 1, 4, 4);
            if (size != 1 && size != 2 && size != 4) {
                throw new com.typesafe.config.ConfigException.BadValue(params.origin(), "iosize", "must be 1, 2 or 4, got " + size);
            }
            return new DebugExit(name, base, size, context);
        }
    }
}
