package org.symbiont.devices;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Random register accesses to every device type in the {@link DeviceRegistry}, on the model
 * itself: port and MMIO reads and writes of every size with random and boundary values at random
 * offsets of the device's ranges (as they are after each access: a PCI BAR may move them), MSR
 * accesses for MSR devices, with virtual time advancing and machine resets in between. A model
 * may ignore an access or refuse an MSR (the guest's #GP), but a Java exception out of it would
 * be a device failure the guest caused. Sequences per device type: system property
 * {@code symbiont.hostile.devices} (the soak profile raises it), seed {@code symbiont.hostile.seed}.
 */
class DeviceRegisterFuzzTest {
    private static final int SEQUENCES = Integer.getInteger("symbiont.hostile.devices", 100);
    private static final long SEED = parseSeed(System.getProperty("symbiont.hostile.seed", "0x5EEDF022"));
    private static final int ACCESSES_PER_SEQUENCE = 400;

    @Test
    void randomRegisterAccessesNeverThrowOutOfAModel() {
        DeviceRegistry registry = DeviceRegistry.load();
        SplittableRandom seeds = new SplittableRandom(SEED);
        long accesses = 0;
        int crashes = 0;
        List<String> firstCrashes = new ArrayList<>();
        for (String type : registry.types()) {
            for (int s = 0; s < SEQUENCES; s++) {
                long seed = seeds.nextLong();
                try {
                    accesses += runSequence(registry.factory(type), type, seed);
                } catch (RuntimeException | StackOverflowError e) {
                    if (crashes++ < 20) firstCrashes.add(String.format("%s (seed %#x): %s", type, seed, e));
                }
            }
        }
        System.out.printf("FUZZ device registers: %d inputs (%d types x %d sequences), %d crashes, 0 hangs%n",
                accesses, registry.types().size(), SEQUENCES, crashes);
        assertEquals(List.of(), firstCrashes, crashes + " sequences crashed a model");
        assertTrue(accesses >= (long) SEQUENCES * registry.types().size() * ACCESSES_PER_SEQUENCE / 2,
                "most accesses reach a device: " + accesses);
    }

    /** One device, a fresh machine, {@value #ACCESSES_PER_SEQUENCE} accesses; returns how many reached it. */
    private static int runSequence(DeviceFactory factory, String type, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        try (TestDeviceContext context = new TestDeviceContext(16 << 20, 2)) {
            Device device = factory.create("dev", ConfigFactory.parseString("name = dev, type = " + type + requiredParameters(type)), context);
            int reached = 0;
            for (int k = 0; k < ACCESSES_PER_SEQUENCE; k++) {
                int choice = r.nextInt(100);
                if (choice < 3) {
                    context.advance(r.nextLong(1, 50_000_000));
                } else if (choice < 4) {
                    device.reset();
                } else if (choice < 12 && device instanceof MsrDevice msrs) {
                    int msr = r.nextBoolean() ? 0x800 + r.nextInt(0x100) : r.nextInt();
                    if (!msrs.handlesMsr(msr)) continue;
                    try {
                        if (r.nextBoolean()) msrs.rdmsr(msr);
                        else msrs.wrmsr(msr, value(r, 8));
                    } catch (MsrDevice.MsrAccessRefused refused) {
                        // The guest's #GP: an answer, not a failure.
                    }
                    reached++;
                } else if (choice < 56 && device instanceof PortIoDevice ports && !ports.portRanges().isEmpty()) {
                    PortRange range = ports.portRanges().get(r.nextInt(ports.portRanges().size()));
                    int port = range.first() + r.nextInt(range.count());
                    int size = 1 << r.nextInt(3);
                    if (r.nextBoolean()) ports.ioRead(port, size);
                    else ports.ioWrite(port, size, value(r, size));
                    reached++;
                } else if (device instanceof MmioDevice mmio && !mmio.mmioRanges().isEmpty()) {
                    MmioRange range = mmio.mmioRanges().get(r.nextInt(mmio.mmioRanges().size()));
                    int size = 1 << r.nextInt(4);
                    long offset = r.nextLong(Math.max(1, range.length() - size + 1));
                    if (r.nextInt(4) == 0) offset &= ~(size - 1L);
                    else offset &= ~0xFL; // register-aligned, where most registers are
                    long address = range.base() + offset;
                    if (r.nextBoolean()) mmio.mmioRead(address, size);
                    else mmio.mmioWrite(address, size, value(r, size));
                    reached++;
                }
            }
            return reached;
        }
    }

    /** What a type cannot be created without: a virtio-blk disk needs a backing (a memory-backed one here). */
    private static String requiredParameters(String type) {
        return type.equals("virtio-blk") ? ", size = 1M" : "";
    }

    /** A decimal seed, or {@code 0x} and up to 16 hex digits (as the x86 module's tests print them). */
    private static long parseSeed(String text) {
        String t = text.trim().replace("_", "");
        return t.startsWith("0x") || t.startsWith("0X") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseLong(t);
    }

    /** A value of {@code size} bytes: random, or one of the boundaries registers tend to care about. */
    private static long value(SplittableRandom r, int size) {
        long v = switch (r.nextInt(6)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> 1L << r.nextInt(64);
            case 3 -> r.nextInt(256);
            default -> r.nextLong();
        };
        return size == 8 ? v : v & ((1L << (8 * size)) - 1);
    }
}
