package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.TestDeviceContext;

/** Whatever a guest writes or reads, at any size and any time, the models answer and never throw. */
class LegacyDevicesFuzzTest {
    @Test
    void randomAccessesNeverThrowAndAreDeterministic() {
        assertEquals(run(42), run(42), "same accesses, same answers");
    }

    private static List<Long> run(long seed) {
        List<Long> answers = new ArrayList<>();
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            DeviceRegistry registry = DeviceRegistry.load();
            List<PortIoDevice> devices = new ArrayList<>();
            for (String type : List.of("uart16550", "pit8254", "pic8259", "cmos-rtc")) {
                devices.add((PortIoDevice) registry.factory(type).create(type, ConfigFactory.parseString("chardev = fuzz"), ctx));
            }
            Pic8259 pic = (Pic8259) devices.get(2);
            ctx.buffer("fuzz").type("some input for the serial port\n");
            SplittableRandom random = new SplittableRandom(seed);
            int[] sizes = {1, 1, 1, 2, 4};
            for (int i = 0; i < 200_000; i++) {
                PortIoDevice d = devices.get(random.nextInt(devices.size()));
                List<PortRange> ranges = d.portRanges();
                PortRange r = ranges.get(random.nextInt(ranges.size()));
                int port = r.first() + random.nextInt(r.count());
                int size = sizes[random.nextInt(sizes.length)];
                switch (random.nextInt(5)) {
                    case 0, 1 -> d.ioWrite(port, size, random.nextLong());
                    case 2, 3 -> answers.add(d.ioRead(port, size));
                    default -> {
                        if (random.nextBoolean()) pic.setIrq(random.nextInt(16), random.nextBoolean());
                        if (pic.outputAsserted()) answers.add((long) pic.acknowledge());
                        ctx.advance(random.nextLong(2_000_000));
                    }
                }
                if (random.nextInt(20_000) == 0) d.reset();
            }
            answers.add(ctx.nanos());
        }
        return answers;
    }
}
