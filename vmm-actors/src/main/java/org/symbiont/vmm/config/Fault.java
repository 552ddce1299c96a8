package org.symbiont.vmm.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A fault the VMM injects at virtual time {@code atNanos} ({@code faults} in the configuration).
 * Every random choice a fault makes is drawn from the VM's seed, so a faulted run replays.
 */
public sealed interface Fault {
    long atNanos();

    /** The kind as written in the configuration. */
    String kind();

    /** Flips bit {@code bit} of the byte at guest-physical {@code address}; {@code random}: both drawn from the seed. */
    record FlipBit(long atNanos, long address, int bit, boolean random) implements Fault {
        @Override public String kind() { return "flip-bit"; }
    }

    /** vCPU {@code vcpu} loses {@code durationNanos} of virtual time, as to noise. */
    record StallVcpu(long atNanos, int vcpu, long durationNanos) implements Fault {
        @Override public String kind() { return "stall-vcpu"; }
    }

    /** The actor of {@code device} fails as on a model exception; {@code stopVm}: the VM ends with a report instead of running on. */
    record CrashDevice(long atNanos, String device, boolean stopVm) implements Fault {
        @Override public String kind() { return "crash-device"; }
    }

    /** What happens to the next {@code count} assertions of interrupt line {@code line} from {@code atNanos} on. */
    enum InterruptEffect { DROP, DUPLICATE, DELAY }

    /**
     * {@code delayNanos}: how late a delayed assertion arrives, or how long after the original a
     * duplicate follows (a controller that latched the first edge sees the second only once it
     * acknowledged the first).
     */
    record Interrupt(long atNanos, InterruptEffect effect, int line, int count, long delayNanos) implements Fault {
        @Override public String kind() { return effect.name().toLowerCase(java.util.Locale.ROOT) + "-interrupt"; }
    }

    /** {@code bits} bits of sector {@code sector} of the virtio-blk disk {@code device}, drawn from the seed, are flipped. */
    record CorruptDiskBlock(long atNanos, String device, long sector, int bits) implements Fault {
        @Override public String kind() { return "corrupt-disk-block"; }
    }

    /** The next {@code count} frames the virtio-net NIC {@code device} receives each get one bit flipped (drawn from the seed). */
    record CorruptFrame(long atNanos, String device, int count) implements Fault {
        @Override public String kind() { return "corrupt-frame"; }
    }

    /** A noise source that starts at {@code atNanos}. */
    record Noise(long atNanos, VmConfig.NoiseSource source) implements Fault {
        @Override public String kind() { return "noise"; }
    }

    List<String> KINDS = List.of("flip-bit", "stall-vcpu", "crash-device", "drop-interrupt", "duplicate-interrupt",
            "delay-interrupt", "corrupt-disk-block", "corrupt-frame", "noise");

    /** How long after the original a duplicated interrupt follows unless {@code delay} says. */
    long DEFAULT_DUPLICATE_GAP = 10_000;

    /** Interrupt lines: ISA IRQs 0-15 and I/O APIC pins up to 23. */
    int MAX_LINE = 23;

    /**
     * The {@code faults} list of a configuration, checked against the machine it will run on
     * ({@code cpus}, {@code memoryBytes}, {@code devices}); errors name the origin, the field and
     * what was expected.
     */
    static List<Fault> read(Config c, String origin, int cpus, long memoryBytes, List<VmConfig.DeviceSpec> devices) {
        List<Fault> faults = new ArrayList<>();
        List<? extends Config> list = c.getConfigList("faults");
        for (int k = 0; k < list.size(); k++) {
            Config f = list.get(k);
            String where = "faults[" + k + "]";
            try {
                faults.add(readOne(f, origin, where, cpus, memoryBytes, devices));
            } catch (ConfigException.WrongType | ConfigException.BadValue e) {
                throw new VmConfigException(origin + ": " + where + ": " + e.getMessage());
            }
        }
        return List.copyOf(faults);
    }

    private static Fault readOne(Config f, String origin, String where, int cpus, long memoryBytes, List<VmConfig.DeviceSpec> devices) {
        if (!f.hasPath("kind")) throw bad(origin, where + ".kind", "one of " + String.join(", ", KINDS));
        String kind = f.getString("kind");
        if (!f.hasPath("at")) throw bad(origin, where + ".at", "a virtual time (e.g. 5ms)");
        long at = f.getDuration("at", TimeUnit.NANOSECONDS);
        if (at < 0) throw bad(origin, where + ".at", "a virtual time of 0 or more, got " + f.getString("at"));
        return switch (kind) {
            case "flip-bit" -> {
                boolean random = f.hasPath("random") && f.getBoolean("random");
                if (random) yield new FlipBit(at, 0, 0, true);
                long address = address(required(f, origin, where, "address", "a guest-physical address in RAM"), origin, where);
                if (address < 0 || address >= memoryBytes) {
                    throw bad(origin, where + ".address", "an address below the RAM size " + memoryBytes + ", got " + address);
                }
                int bit = required(f, origin, where, "bit", "a bit number 0-7").getInt("bit");
                if (bit < 0 || bit > 7) throw bad(origin, where + ".bit", "0 to 7, got " + bit);
                yield new FlipBit(at, address, bit, false);
            }
            case "stall-vcpu" -> {
                int vcpu = required(f, origin, where, "vcpu", "a vCPU index").getInt("vcpu");
                if (vcpu < 0 || vcpu >= cpus) throw bad(origin, where + ".vcpu", "0 to " + (cpus - 1) + ", got " + vcpu);
                yield new StallVcpu(at, vcpu, positiveDuration(f, origin, where, "duration"));
            }
            case "crash-device" -> {
                String device = device(f, origin, where, devices, null, cpus);
                String policy = f.hasPath("policy") ? f.getString("policy") : "restart";
                if (!policy.equals("restart") && !policy.equals("stop")) {
                    throw bad(origin, where + ".policy", "restart or stop, got \"" + policy + "\"");
                }
                yield new CrashDevice(at, device, policy.equals("stop"));
            }
            case "drop-interrupt", "duplicate-interrupt", "delay-interrupt" -> {
                int line = required(f, origin, where, "line", "an interrupt line (GSI) 0-" + MAX_LINE).getInt("line");
                if (line < 0 || line > MAX_LINE) throw bad(origin, where + ".line", "0 to " + MAX_LINE + ", got " + line);
                InterruptEffect effect = InterruptEffect.valueOf(kind.substring(0, kind.indexOf('-')).toUpperCase(java.util.Locale.ROOT));
                long delay = switch (effect) {
                    case DELAY -> positiveDuration(f, origin, where, "delay");
                    case DUPLICATE -> f.hasPath("delay") ? positiveDuration(f, origin, where, "delay") : DEFAULT_DUPLICATE_GAP;
                    case DROP -> 0;
                };
                yield new Interrupt(at, effect, line, count(f, origin, where), delay);
            }
            case "corrupt-disk-block" -> {
                String device = device(f, origin, where, devices, "virtio-blk", cpus);
                for (VmConfig.DeviceSpec d : devices) {
                    if (d.name().equals(device) && d.params().hasPath("file")) {
                        // Corrupting an image file would change it for every later run, replays included.
                        throw bad(origin, where + ".device", "a memory-backed virtio-blk disk (size = ...), got \"" + device
                                + "\" on the file " + d.params().getString("file"));
                    }
                }
                long sector = required(f, origin, where, "sector", "a sector number").getLong("sector");
                if (sector < 0) throw bad(origin, where + ".sector", "0 or more, got " + sector);
                int bits = f.hasPath("bits") ? f.getInt("bits") : 1;
                if (bits < 1 || bits > 4096) throw bad(origin, where + ".bits", "1 to 4096, got " + bits);
                yield new CorruptDiskBlock(at, device, sector, bits);
            }
            case "corrupt-frame" -> new CorruptFrame(at, device(f, origin, where, devices, "virtio-net", cpus), count(f, origin, where));
            case "noise" -> {
                for (String key : List.of("frequency", "duration", "phase")) required(f, origin, where, key, "a value (noise has frequency, duration and phase)");
                String phase = f.getString("phase");
                if (!phase.equals("random") && !phase.equals("synchronized")) {
                    throw bad(origin, where + ".phase", "random or synchronized, got \"" + phase + "\"");
                }
                yield new Noise(at, VmConfig.noiseSource(f, origin, where, "fault noise", phase.equals("synchronized")));
            }
            default -> throw bad(origin, where + ".kind", "one of " + String.join(", ", KINDS) + ", got \"" + kind + "\"");
        };
    }

    private static Config required(Config f, String origin, String where, String key, String expected) {
        if (!f.hasPath(key)) throw bad(origin, where + "." + key, expected);
        return f;
    }

    /** A guest-physical address: a number, hexadecimal as "0x...", or a size such as 2M. */
    private static long address(Config f, String origin, String where) {
        String text = f.getValue("address").unwrapped().toString().trim();
        try {
            return text.startsWith("0x") || text.startsWith("0X") ? Long.parseUnsignedLong(text.substring(2), 16) : f.getBytes("address");
        } catch (NumberFormatException | ConfigException.BadValue e) {
            throw bad(origin, where + ".address", "a guest-physical address (e.g. 0x200000 or 2M), got \"" + text + "\"");
        }
    }

    private static long positiveDuration(Config f, String origin, String where, String key) {
        long nanos = required(f, origin, where, key, "a duration (e.g. 100us)").getDuration(key, TimeUnit.NANOSECONDS);
        if (nanos < 1) throw bad(origin, where + "." + key, "a positive duration, got " + f.getString(key));
        return nanos;
    }

    private static int count(Config f, String origin, String where) {
        int n = f.hasPath("count") ? f.getInt("count") : 1;
        if (n < 1 || n > 1_000_000) throw bad(origin, where + ".count", "1 to 1000000, got " + n);
        return n;
    }

    /** The configured device {@code device} names, of {@code type} when given; without a type also a vCPU's local APIC. */
    private static String device(Config f, String origin, String where, List<VmConfig.DeviceSpec> devices, String type, int cpus) {
        String name = required(f, origin, where, "device", "a device name").getString("device");
        for (VmConfig.DeviceSpec d : devices) {
            if (!d.name().equals(name)) continue;
            if (type != null && !d.type().equals(type)) {
                throw bad(origin, where + ".device", "a " + type + " device, got \"" + name + "\" (a " + d.type() + ")");
            }
            return name;
        }
        if (type == null && name.matches("lapic\\d{1,3}") && Integer.parseInt(name.substring(5)) < cpus) return name;
        throw bad(origin, where + ".device", "the name of a configured device, got \"" + name + "\"");
    }

    private static VmConfigException bad(String origin, String path, String expected) {
        return new VmConfigException(origin + ": " + path + ": expected " + expected);
    }
}
