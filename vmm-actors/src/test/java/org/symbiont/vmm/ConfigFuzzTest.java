package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.vmm.boot.BootImageException;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.vmm.config.VmConfigException;
import org.symbiont.x86.Seeds;

/**
 * Malformed configuration files and fault scenarios: the VM's keys (its faults list included)
 * with values of the wrong type or out of range,
 * device lists with unknown types and wrong parameters, and garbage text. Each file is read with
 * {@link VmConfig#load}, which either accepts it or throws a {@link VmConfigException} whose
 * message starts with the file's name; an accepted one goes through {@link VmSpec#prepare} (only
 * {@link VmConfigException} or {@link BootImageException} may refuse it) and is then run, with a
 * kernel that exits at once (or halts, when its devices have no isa-debug-exit), in batches in one
 * actor system: each VM must end with its guest's exit, halted, or a CONFIG_ERROR report, never VMM_ERROR, an exception out of {@link Vms#runAll}, or not
 * at all. Files: system property {@code symbiont.hostile.configs}, seed {@code symbiont.hostile.seed}.
 */
class ConfigFuzzTest {
    private static final int CASES = Integer.getInteger("symbiont.hostile.configs", 1500);
    private static final long SEED = Seeds.parse(System.getProperty("symbiont.hostile.seed", "0x5EEDF022"));
    private static final int BATCH = 24;
    /** Hang detector only: VMs of a batch not reporting within it are counted as hangs. */
    private static final Duration BATCH_LIMIT = Duration.ofSeconds(20);

    /** Values of every type and none: numbers in and out of range, strings, sizes, durations, lists, objects. */
    private static final String[] WRONG = {
        "-1", "0", "1", "1.5", "4096", "99999999999999999999", "\"abc\"", "\"\"", "true", "null", "[1, 2]", "{ a = 1 }",
        "\"0x10\"", "\"0xzz\"", "10us", "0s", "4K", "3000", "-4M", "2T", "${undefined}", "\"x y\"", "[]", "{}", "\"\\u0000\""
    };
    /** Every parameter some device factory reads, except {@code file} (a disk image path). */
    private static final String[] DEVICE_PARAMETERS = {
        "iobase", "irq", "base", "size", "chardev", "port", "pci-slot", "mac", "link", "id", "timer-hz", "timer-bits",
        "reset-register", "read-only", "pirq-gsis", "physical-address-bits", "apic-id", "bsp", "serial", "uuid",
        "machine-id", "dma", "iosize", "base-time", "passthrough", "nographic"
    };

    /** A key, values it accepts, and values it should refuse. */
    private record Key(String path, String[] valid, String[] invalid) {}

    private static final Key[] KEYS = {
        new Key("memory", new String[] {"2M", "4M", "16M", "8192K"}, new String[] {"1K", "3000", "2T", "-4M", "abc", "1M"}),
        new Key("cpus", new String[] {"1", "2", "4"}, new String[] {"0", "256", "-1", "\"two\"", "1.5"}),
        new Key("cpu-model", new String[] {"intel", "amd", "AMD"}, new String[] {"\"pentium\"", "\"\"", "3"}),
        new Key("mode", new String[] {"deterministic", "parallel"}, new String[] {"fast", "\"\"", "[deterministic]"}),
        new Key("seed", new String[] {"7", "-3"}, new String[] {"\"x\"", "1e40"}),
        new Key("quantum", new String[] {"100", "5000", "100000"}, new String[] {"99", "0", "200000000", "-5"}),
        new Key("cycles-per-instruction", new String[] {"1", "3"}, new String[] {"0", "1001"}),
        new Key("cost-model.port-io", new String[] {"0", "2000"}, new String[] {"-1", "10000001"}),
        new Key("cost-model.device-trap", new String[] {"0", "4000"}, new String[] {"-1", "\"4000x\""}),
        new Key("paging.mode", new String[] {"shadow", "nested", "direct"}, new String[] {"\"none\"", "SHADOW"}),
        new Key("paging.strategy", new String[] {"cached", "simple"}, new String[] {"\"lazy\""}),
        new Key("symbiotic.enabled", new String[] {"true", "false"}, new String[] {"\"maybe\""}),
        new Key("symbiotic.symcall-budget", new String[] {"1ms", "10us"}, new String[] {"0s", "1h", "\"soon\""}),
        new Key("symbiotic.swapbypass", new String[] {"false", "true"}, new String[] {"\"yes please\""}),
        new Key("preemption.enabled", new String[] {"true", "false"}, new String[] {"\"no\""}),
        new Key("preemption.frequency", new String[] {"100", "1000"}, new String[] {"0", "1000000"}),
        new Key("preemption.duration", new String[] {"10us"}, new String[] {"1s", "0s"}),
        new Key("noise", new String[] {"[{ frequency = 10, duration = 100us, phase = random }]", "[]"},
                new String[] {"[{ frequency = 10 }]", "[{ frequency = 10, duration = 1s, phase = random }]",
                    "[{ frequency = 10, duration = 1us, phase = sometimes }]", "[1]"}),
        // Fault scenarios: a VM's faults list, as `symbiont faults` reads it.
        new Key("faults", new String[] {"[{ at = 1ms, kind = stall-vcpu, vcpu = 0, duration = 10us }]",
                "[{ at = 0, kind = flip-bit, random = true }]", "[{ at = 2ms, kind = drop-interrupt, line = 0, count = 1 }]",
                "[{ at = 1ms, kind = noise, frequency = 100, duration = 10us, phase = random }]",
                "[{ at = 1ms, kind = crash-device, device = com1 }]"},
                new String[] {"[{ kind = flip-bit }]", "[{ at = 1ms, kind = explode }]", "[{ at = -1ms, kind = stall-vcpu, vcpu = 0, duration = 1us }]",
                    "[{ at = 1ms, kind = stall-vcpu, vcpu = 9, duration = 1us }]", "[{ at = 1ms, kind = flip-bit, address = 0x100000000000, bit = 0 }]",
                    "[{ at = 1ms, kind = flip-bit, address = 0x1000, bit = 8 }]", "[{ at = 1ms, kind = crash-device, device = nothing }]",
                    "[{ at = 1ms, kind = corrupt-frame, device = com1 }]", "[{ at = soon, kind = noise }]", "\"faults\""}),
        new Key("kernel.append", new String[] {"\"console=ttyS0\"", "\"\""}, new String[] {"[1]"}),
        new Key("kernel.modules", new String[] {"[]"}, new String[] {"[\"/nonexistent/module arg\"]", "[\"\"]", "\"m\""}),
        new Key("console-input", new String[] {}, new String[] {"\"/nonexistent/input\""}),
        new Key("name", new String[] {}, new String[] {"\"\"", "\"a b\"", "\"../x\""}),
        new Key("kernel.file", new String[] {}, new String[] {"\"\\u0000\"", "\"/nonexistent/kernel\"", "\"/tmp\"", "[1]"}),
    };

    @Test
    void malformedConfigurationsAreRefusedWithAClearErrorAndNeverCrashTheVmm() throws IOException {
        SplittableRandom seeds = new SplittableRandom(SEED);
        List<String> types = new ArrayList<>(DeviceRegistry.load().types());
        types.add("no-such-device");
        // Without isa-debug-exit in its device list the guest halts instead.
        Path kernel = TestKernels.file(TestKernels.exit(0) + "    cli\n    hlt\n");
        Path file = Files.createTempFile("symbiont-fuzz", ".conf");
        file.toFile().deleteOnExit();
        int refused = 0, refusedAtPrepare = 0, configErrors = 0, ran = 0, crashes = 0, hangs = 0;
        List<String> firstFailures = new ArrayList<>();
        List<VmSpec> batch = new ArrayList<>();
        List<String> batchLabels = new ArrayList<>();
        for (int k = 0; k < CASES; k++) {
            long seed = seeds.nextLong();
            String text = configuration(new SplittableRandom(seed), k, kernel, types);
            String label = String.format("seed %#x:%n%s", seed, text);
            Files.writeString(file, text);
            try {
                VmConfig config = VmConfig.load(file);
                batch.add(VmSpec.prepare(config, Extensions.none(), new CharBackends.Capture()));
                batchLabels.add(label);
            } catch (VmConfigException | BootImageException e) {
                boolean fromLoad = e instanceof VmConfigException && e.getMessage() != null && e.getMessage().startsWith(file.toString());
                if (fromLoad) refused++;
                else refusedAtPrepare++;
                if (e.getMessage() == null || e.getMessage().isBlank()) {
                    crashes++;
                    if (firstFailures.size() < 10) firstFailures.add(label + ": refused without a message: " + e);
                }
            } catch (RuntimeException e) {
                crashes++;
                if (firstFailures.size() < 10) firstFailures.add(label + ": " + e);
            }
            if (batch.size() == BATCH || k == CASES - 1 && !batch.isEmpty()) {
                try {
                    List<VmReport> reports = Vms.runAll(batch, BATCH_LIMIT);
                    for (int v = 0; v < reports.size(); v++) {
                        VmReport r = reports.get(v);
                        switch (r.reason()) {
                            case GUEST_EXIT, HALTED -> ran++;
                            case CONFIG_ERROR -> {
                                configErrors++;
                                if (r.message() == null || r.message().isBlank()) {
                                    crashes++;
                                    if (firstFailures.size() < 10) firstFailures.add(batchLabels.get(v) + ": CONFIG_ERROR without a message");
                                }
                            }
                            case STOPPED -> {
                                hangs++;
                                if (firstFailures.size() < 10) firstFailures.add(batchLabels.get(v) + ": did not end within " + BATCH_LIMIT);
                            }
                            default -> {
                                crashes++;
                                if (firstFailures.size() < 10) firstFailures.add(batchLabels.get(v) + ": " + r.reason() + ": " + r.message());
                            }
                        }
                    }
                } catch (RuntimeException e) {
                    crashes += batch.size();
                    if (firstFailures.size() < 10) firstFailures.add("a batch: " + e);
                }
                batch.clear();
                batchLabels.clear();
            }
        }
        System.out.printf("FUZZ configs: %d inputs, %d crashes, %d hangs (%d refused when read, %d when prepared, "
                + "%d CONFIG_ERROR when created, %d ran)%n", CASES, crashes, hangs, refused, refusedAtPrepare, configErrors, ran);
        assertEquals(List.of(), firstFailures, crashes + " crashes, " + hangs + " hangs");
        assertEquals(CASES, refused + refusedAtPrepare + configErrors + ran);
        assertTrue(refused > CASES / 10 && ran > CASES / 20 && configErrors > 0,
                "the inputs reach every outcome: " + refused + " refused, " + configErrors + " config errors, " + ran + " ran");
    }

    /** One file: garbage text now and then, else a few keys set (valid or not) and a device list. */
    private static String configuration(SplittableRandom r, int index, Path kernel, List<String> types) {
        if (r.nextInt(10) == 0) return garbage(r);
        StringBuilder s = new StringBuilder();
        // Names repeat within a batch now and then: a second VM of a name must be refused, not crash the VMM.
        s.append("name = cfg").append(r.nextInt(8) == 0 ? 0 : index).append('\n');
        s.append("memory = 16M\nkernel.file = \"").append(kernel).append("\"\n");
        for (int n = r.nextInt(0, 5); n > 0; n--) {
            Key key = KEYS[r.nextInt(KEYS.length)];
            boolean valid = key.valid().length > 0 && r.nextInt(3) > 0;
            String[] pool = valid ? key.valid() : r.nextBoolean() || key.invalid().length == 0 ? WRONG : key.invalid();
            s.append(key.path()).append(" = ").append(pool[r.nextInt(pool.length)]).append('\n');
        }
        if (r.nextInt(3) > 0) s.append(devices(r, types));
        return s.toString();
    }

    /** The default devices and one to three more, of any type (or none known), with random parameters. */
    private static String devices(SplittableRandom r, List<String> types) {
        StringBuilder s = new StringBuilder();
        if (r.nextInt(4) == 0) s.append("devices = ").append(WRONG[r.nextInt(WRONG.length)]).append('\n');
        for (int d = r.nextInt(1, 4); d > 0; d--) {
            s.append("devices += { name = extra").append(d);
            if (r.nextInt(10) > 0) s.append(", type = ").append(types.get(r.nextInt(types.size())));
            for (int p = r.nextInt(0, 4); p > 0; p--) {
                String parameter = DEVICE_PARAMETERS[r.nextInt(DEVICE_PARAMETERS.length)];
                s.append(", ").append(parameter).append(" = ").append(parameterValue(r, parameter));
            }
            s.append(" }\n");
        }
        return s.toString();
    }

    private static String parameterValue(SplittableRandom r, String parameter) {
        return switch (parameter) {
            // Back ends that write nowhere or refuse: never a file the campaign would create.
            case "chardev" -> new String[] {"console", "null", "\"tcp:1\"", "\"\"", "3"}[r.nextInt(5)];
            // Memory-backed disks stay small.
            case "size" -> new String[] {"1M", "4K", "3000", "-1", "abc", "0", "\"1M\""}[r.nextInt(7)];
            default -> r.nextBoolean() ? WRONG[r.nextInt(WRONG.length)] : Integer.toString(r.nextInt(-2, 0x10000));
        };
    }

    /** Random text in HOCON's alphabet: braces, brackets, separators, quotes, substitutions, words. */
    private static String garbage(SplittableRandom r) {
        String alphabet = "{}[]=:,\"$ \n#.-+abcmemorydevicesnametype0123456789";
        StringBuilder s = new StringBuilder();
        for (int n = r.nextInt(1, 200); n > 0; n--) s.append(alphabet.charAt(r.nextInt(alphabet.length())));
        return s.toString();
    }
}
