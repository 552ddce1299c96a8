package org.symbiont.devices.misc;

import com.typesafe.config.Config;
import java.util.List;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.DeviceParams;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;

/**
 * The Bochs/QEMU debug console (port 0xE9): every byte written goes to the back end; reading the
 * port returns 0xE9, which is how guests detect it.
 */
public final class DebugConsole implements PortIoDevice, Snapshottable.Stateless {
    private final String name;
    private final List<PortRange> ports;
    private final CharBackend out;

    public DebugConsole(String name, int port, CharBackend out) {
        this.name = name;
        this.ports = List.of(new PortRange(port, 1));
        this.out = out;
    }

    @Override public String name() { return name; }
    @Override public void reset() { }
    @Override public List<PortRange> portRanges() { return ports; }
    @Override public long ioRead(int port, int size) { return 0xE9; }

    @Override
    public void ioWrite(int port, int size, long value) {
        out.write((int) value & 0xFF);
        if ((value & 0xFF) == '\n') out.flush();
    }

    /** {@code type = debugcon}, parameters {@code iobase} (default 0xe9) and {@code chardev} (default stdio). */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "debugcon"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            int port = DeviceParams.intIn(params, "iobase", 0, 0xFFFF, 0xE9);
            String chardev = DeviceParams.string(params, "chardev", "stdio");
            return new DebugConsole(name, port, context.charBackend(chardev));
        }
    }
}
