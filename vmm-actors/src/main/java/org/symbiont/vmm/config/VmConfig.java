package org.symbiont.vmm.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.symbiont.x86.CpuModel;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowStrategy;

/**
 * A VM's configuration, read from HOCON and validated as a whole before anything starts.
 *
 * @param cpuModel       the processor preset the guest sees
 * @param quantum        instructions a vCPU runs per scheduling turn
 * @param devices        the devices to create, in order
 * @param console        the back end devices name with {@code chardev = console} (COM1)
 * @param consoleInput   a file whose bytes the guest reads from the console instead of standard input, or null
 * @param paging         how the guest's paging is virtualized
 * @param symbiotic      Palacios' symbiotic interfaces (discovery, SymSpy, SymCall), module symbiotic
 * @param noise          periodic work that takes the vCPUs away from the guest: the configured
 *                       noise sources, then the VMM's own preemption when it is enabled
 * @param faults         faults to inject at virtual times ({@link Fault}), in the order given
 */
public record VmConfig(String name, long memoryBytes, int cpus, CpuModel cpuModel, String cpuModelName,
                       ExecutionMode mode, long seed, long quantum, long cyclesPerInstruction, CostModel costs,
                       Kernel kernel, List<DeviceSpec> devices, String console, Path consoleInput, Paging paging,
                       Symbiotic symbiotic, List<NoiseSource> noise, List<Fault> faults) {

    public enum ExecutionMode { DETERMINISTIC, PARALLEL }

    /** A Multiboot kernel with its command-line arguments and modules ("path args" each). */
    public record Kernel(Path file, String append, List<String> modules) {}

    /**
     * Virtual cycles the guest pays: per kind of device exit, per PAUSE, and for virtual paging —
     * an exit to the VMM and back ({@code vmExit}, paging exits only), the VMM's handling of a
     * shadow fault on top of that, one memory reference of a page walk, one TLB flush — and the
     * VMM's handling of an access to an emulated device or of an external interrupt
     * ({@code deviceTrap}; 0 models bare hardware).
     */
    public record CostModel(long portIo, long mmio, long otherExit, long pause, long vmExit, long shadowFault,
                            long walkReference, long tlbFlush, long deviceTrap) {}

    /**
     * Work that preempts the guest for {@code durationNanos} every {@code periodNanos} of virtual
     * time; with {@code synchronizedPhase} every VM's first period starts at time 0, otherwise
     * each VM's phase is drawn from its seed. {@code label} names it in reports.
     */
    public record NoiseSource(String label, long periodNanos, long durationNanos, boolean synchronizedPhase) {
        /** The share of the CPU it takes. */
        public double share() {
            return (double) durationNanos / periodNanos;
        }
    }

    /** Noise frequencies allowed: 1 Hz to 100 kHz. */
    public static final long MIN_NOISE_HZ = 1, MAX_NOISE_HZ = 100_000;

    /** The paging method (and, for shadow paging, its strategy). */
    public record Paging(PagingMode mode, ShadowStrategy strategy) {}

    /**
     * Whether the guest may discover and use the symbiotic interfaces, the virtual time a
     * SymCall may run before it is aborted, and whether SwapBypass (Palacios 6.11) maps swapped
     * pages straight to the memory-backed swap disk.
     */
    public record Symbiotic(boolean enabled, long symcallBudgetNanos, boolean swapBypass) {}

    /** SymCall budgets allowed: 1 us to 10 s of virtual time. */
    public static final long MIN_SYMCALL_BUDGET = 1_000, MAX_SYMCALL_BUDGET = 10_000_000_000L;

    /** A device to create: instance name, type, and the whole entry as its parameters. */
    public record DeviceSpec(String name, String type, Config params) {}

    public static final long MIN_MEMORY = 2L << 20;
    public static final long MAX_MEMORY = 1L << 40;
    public static final int MAX_CPUS = 255;

    /** The defaults alone (reference.conf). */
    public static VmConfig defaults() {
        return from(ConfigFactory.empty(), "defaults");
    }

    /** A configuration file (keys at its root) over the defaults. */
    public static VmConfig load(Path file) {
        return load(file, ConfigFactory.empty());
    }

    /** A configuration file over the defaults, with {@code overrides} (the command line's options) on top. */
    public static VmConfig load(Path file, Config overrides) {
        if (!Files.isRegularFile(file)) throw new VmConfigException(file + ": no such configuration file");
        Config c;
        try {
            c = ConfigFactory.parseFile(file.toFile(), com.typesafe.config.ConfigParseOptions.defaults().setAllowMissing(false));
        } catch (ConfigException e) {
            throw error(file.toString(), e);
        }
        return from(overrides.withFallback(c), file.toString());
    }

    /**
     * Reads a configuration whose keys are at the root of {@code overrides}, over the defaults;
     * {@code origin} names it in error messages.
     */
    public static VmConfig from(Config overrides, String origin) {
        Config c;
        try {
            c = overrides.withFallback(ConfigFactory.defaultReference().getConfig("symbiont.vm")).resolve();
        } catch (ConfigException e) {
            throw error(origin, e);
        }
        try {
            return read(c, origin);
        } catch (ConfigException e) {
            throw error(origin, e);
        }
    }

    private static VmConfig read(Config c, String origin) {
        String name = c.getString("name");
        if (name.isBlank() || !name.matches("[A-Za-z0-9_.-]+")) {
            throw bad(origin, "name", "letters, digits, '_', '.' or '-', got \"" + name + "\"");
        }
        long memory = c.getBytes("memory");
        if (memory < MIN_MEMORY || memory > MAX_MEMORY || (memory & 0xFFF) != 0) {
            throw bad(origin, "memory", "a multiple of 4K between 2M and 1T, got " + memory + " bytes");
        }
        int cpus = c.getInt("cpus");
        if (cpus < 1 || cpus > MAX_CPUS) throw bad(origin, "cpus", "1 to " + MAX_CPUS + ", got " + cpus);
        String modelName = c.getString("cpu-model").toLowerCase(Locale.ROOT);
        CpuModel model = CpuPresets.byName(modelName);
        if (model == null) throw bad(origin, "cpu-model", "one of " + CpuPresets.NAMES + ", got \"" + modelName + "\"");
        ExecutionMode mode;
        try {
            mode = ExecutionMode.valueOf(c.getString("mode").toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw bad(origin, "mode", "deterministic or parallel, got \"" + c.getString("mode") + "\"");
        }
        long quantum = c.getLong("quantum");
        if (quantum < 100 || quantum > 100_000_000) throw bad(origin, "quantum", "100 to 100000000 instructions, got " + quantum);
        long cpi = c.getLong("cycles-per-instruction");
        if (cpi < 1 || cpi > 1000) throw bad(origin, "cycles-per-instruction", "1 to 1000, got " + cpi);
        CostModel costs = new CostModel(cycles(c, origin, "cost-model.port-io"), cycles(c, origin, "cost-model.mmio"),
                cycles(c, origin, "cost-model.other-exit"), cycles(c, origin, "cost-model.pause"),
                cycles(c, origin, "cost-model.vm-exit"), cycles(c, origin, "cost-model.shadow-fault"),
                cycles(c, origin, "cost-model.walk-reference"), cycles(c, origin, "cost-model.tlb-flush"),
                cycles(c, origin, "cost-model.device-trap"));
        Paging paging = new Paging(choice(c, origin, "paging.mode", PagingMode.class), choice(c, origin, "paging.strategy", ShadowStrategy.class));
        long budget = c.getDuration("symbiotic.symcall-budget", java.util.concurrent.TimeUnit.NANOSECONDS);
        if (budget < MIN_SYMCALL_BUDGET || budget > MAX_SYMCALL_BUDGET) {
            throw bad(origin, "symbiotic.symcall-budget", "a duration from 1us to 10s, got " + c.getString("symbiotic.symcall-budget"));
        }
        Symbiotic symbiotic = new Symbiotic(c.getBoolean("symbiotic.enabled"), budget, c.getBoolean("symbiotic.swapbypass"));
        if (symbiotic.swapBypass()) {
            if (!symbiotic.enabled()) throw bad(origin, "symbiotic.swapbypass", "symbiotic.enabled = true (SwapBypass asks the guest by SymCall)");
            if (paging.mode() != PagingMode.SHADOW) {
                throw bad(origin, "symbiotic.swapbypass", "paging.mode = shadow (SwapBypass maps swapped pages in shadow page tables), got "
                        + paging.mode().name().toLowerCase(Locale.ROOT));
            }
            if (mode != ExecutionMode.DETERMINISTIC) {
                throw bad(origin, "symbiotic.swapbypass", "mode = deterministic (the swap disk invalidates other vCPUs' mappings directly)");
            }
        }
        Kernel kernel = null;
        if (c.hasPath("kernel.file")) {
            Path file = path(c, origin, "kernel.file");
            kernel = new Kernel(file, c.getString("kernel.append"), c.getStringList("kernel.modules"));
        }
        List<DeviceSpec> devices = new ArrayList<>();
        Set<String> names = new HashSet<>();
        List<? extends Config> list = c.getConfigList("devices");
        for (int k = 0; k < list.size(); k++) {
            Config d = list.get(k);
            String where = "devices[" + k + "]";
            if (!d.hasPath("name") || d.getValue("name").valueType() != ConfigValueType.STRING) {
                throw bad(origin, where + ".name", "a device name");
            }
            if (!d.hasPath("type") || d.getValue("type").valueType() != ConfigValueType.STRING) {
                throw bad(origin, where + ".type", "a device type");
            }
            String dn = d.getString("name");
            if (!names.add(dn)) throw bad(origin, where + ".name", "a name not used by another device, got \"" + dn + "\" twice");
            devices.add(new DeviceSpec(dn, d.getString("type"), d));
        }
        return new VmConfig(name, memory, cpus, model, modelName, mode, c.getLong("seed"), quantum, cpi, costs, kernel,
                List.copyOf(devices), c.getIsNull("console") ? "null" : c.getString("console"), consoleInput(c, origin), paging,
                symbiotic, noise(c, origin), Fault.read(c, origin, cpus, memory, devices));
    }

    /** This configuration with another device list (names must stay unique). */
    public VmConfig withDevices(List<DeviceSpec> list) {
        Set<String> names = new HashSet<>();
        for (DeviceSpec d : list) {
            if (!names.add(d.name())) throw new VmConfigException(name + ": two devices are named \"" + d.name() + "\"");
        }
        return new VmConfig(name, memoryBytes, cpus, cpuModel, cpuModelName, mode, seed, quantum, cyclesPerInstruction, costs,
                kernel, List.copyOf(list), console, consoleInput, paging, symbiotic, noise, faults);
    }

    /** This configuration with another fault list (the fault-free run of a scenario has none). */
    public VmConfig withFaults(List<Fault> list) {
        return new VmConfig(name, memoryBytes, cpus, cpuModel, cpuModelName, mode, seed, quantum, cyclesPerInstruction, costs,
                kernel, devices, console, consoleInput, paging, symbiotic, noise, List.copyOf(list));
    }

    /** {@code noise} (a list of sources) and {@code preemption} (one more source when enabled). */
    private static List<NoiseSource> noise(Config c, String origin) {
        List<NoiseSource> sources = new ArrayList<>();
        List<? extends Config> list = c.getConfigList("noise");
        for (int k = 0; k < list.size(); k++) {
            Config n = list.get(k);
            String where = "noise[" + k + "]";
            for (String key : List.of("frequency", "duration", "phase")) {
                if (!n.hasPath(key)) throw bad(origin, where + "." + key, "a value (noise sources have frequency, duration and phase)");
            }
            String phase = n.getString("phase");
            if (!phase.equals("random") && !phase.equals("synchronized")) {
                throw bad(origin, where + ".phase", "random or synchronized, got \"" + phase + "\"");
            }
            sources.add(noiseSource(n, origin, where, "noise", phase.equals("synchronized")));
        }
        if (c.getBoolean("preemption.enabled")) {
            sources.add(noiseSource(c.getConfig("preemption"), origin, "preemption", "preemption", false));
        }
        return List.copyOf(sources);
    }

    static NoiseSource noiseSource(Config n, String origin, String where, String label, boolean synchronizedPhase) {
        long hz = n.getLong("frequency");
        if (hz < MIN_NOISE_HZ || hz > MAX_NOISE_HZ) {
            throw bad(origin, where + ".frequency", MIN_NOISE_HZ + " to " + MAX_NOISE_HZ + " (Hz), got " + hz);
        }
        long period = 1_000_000_000L / hz;
        long duration = n.getDuration("duration", java.util.concurrent.TimeUnit.NANOSECONDS);
        if (duration < 1 || duration >= period) {
            throw bad(origin, where + ".duration", "a duration shorter than the period (" + period + " ns), got "
                    + n.getString("duration"));
        }
        return new NoiseSource(label + " " + hz + " Hz x " + duration / 1000.0 + " us", period, duration, synchronizedPhase);
    }

    private static Path consoleInput(Config c, String origin) {
        if (!c.hasPath("console-input")) return null;
        Path p = path(c, origin, "console-input");
        if (!Files.isReadable(p)) throw bad(origin, "console-input", "a readable file, got " + p);
        return p;
    }

    /** A file name; one the platform cannot name (a NUL character in it) is refused here rather than escaping as InvalidPathException. */
    private static Path path(Config c, String origin, String key) {
        String name = c.getString(key);
        try {
            return Path.of(name);
        } catch (java.nio.file.InvalidPathException e) {
            throw bad(origin, key, "a file name, got \"" + name.replace("\0", "\\0") + "\" (" + e.getReason() + ")");
        }
    }

    /** One of an enum's constants, named in lower case with '-' for '_'. */
    private static <E extends Enum<E>> E choice(Config c, String origin, String path, Class<E> type) {
        String v = c.getString(path);
        for (E e : type.getEnumConstants()) {
            if (e.name().toLowerCase(Locale.ROOT).replace('_', '-').equals(v)) return e;
        }
        List<String> names = java.util.Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT).replace('_', '-')).toList();
        throw bad(origin, path, "one of " + String.join(", ", names) + ", got \"" + v + "\"");
    }

    private static long cycles(Config c, String origin, String path) {
        long v = c.getLong(path);
        if (v < 0 || v > 10_000_000) throw bad(origin, path, "0 to 10000000 cycles, got " + v);
        return v;
    }

    /** Typesafe Config's messages name the file and line when it has them; otherwise the origin is added. */
    private static VmConfigException error(String origin, ConfigException e) {
        String m = e.getMessage();
        return new VmConfigException(m.startsWith(origin) ? m : origin + ": " + m);
    }

    private static VmConfigException bad(String origin, String path, String expected) {
        return new VmConfigException(origin + ": " + path + ": expected " + expected);
    }
}
