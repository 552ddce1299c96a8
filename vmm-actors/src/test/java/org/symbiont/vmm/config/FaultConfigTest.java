package org.symbiont.vmm.config;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@code faults} list: each kind read with its defaults, and mistakes refused naming the field and what was expected. */
class FaultConfigTest {
    private static final String DEVICES = """
            devices += { name = disk0, type = virtio-blk, size = 1M }
            devices += { name = image0, type = virtio-blk, file = "/tmp/some.img" }
            devices += { name = net0, type = virtio-net }
            """;

    private static List<Fault> faults(String list) {
        // The image file is only opened when the VM is built: reading the configuration does not need it.
        return VmConfig.from(ConfigFactory.parseString(DEVICES + "cpus = 2\nmemory = 16M\nfaults = [" + list + "]"), "vm.conf").faults();
    }

    private static String error(String fault) {
        return assertThrows(VmConfigException.class, () -> VmConfig.from(ConfigFactory.parseString(
                "cpus = 2\nmemory = 16M\n" + DEVICES + "faults = [" + fault + "]"), "vm.conf")).getMessage();
    }

    @Test
    void noFaultsByDefault() {
        assertEquals(List.of(), VmConfig.defaults().faults());
    }

    @Test
    void everyKindIsReadWithItsDefaults() {
        assertEquals(List.of(
                new Fault.FlipBit(5_000_000, 0x200000, 3, false),
                new Fault.FlipBit(0, 0, 0, true),
                new Fault.StallVcpu(1_000_000, 1, 250_000),
                new Fault.CrashDevice(2_000, "net0", false),
                new Fault.CrashDevice(2_000, "lapic1", true),
                new Fault.Interrupt(0, Fault.InterruptEffect.DROP, 4, 2, 0),
                new Fault.Interrupt(0, Fault.InterruptEffect.DUPLICATE, 11, 1, Fault.DEFAULT_DUPLICATE_GAP),
                new Fault.Interrupt(0, Fault.InterruptEffect.DELAY, 0, 1, 1_000_000),
                new Fault.CorruptDiskBlock(3_000_000, "disk0", 7, 1),
                new Fault.CorruptFrame(0, "net0", 3)), faults("""
                { at = 5ms, kind = flip-bit, address = 0x200000, bit = 3 }
                { at = 0, kind = flip-bit, random = true }
                { at = 1ms, kind = stall-vcpu, vcpu = 1, duration = 250us }
                { at = 2us, kind = crash-device, device = net0 }
                { at = 2us, kind = crash-device, device = lapic1, policy = stop }
                { at = 0, kind = drop-interrupt, line = 4, count = 2 }
                { at = 0, kind = duplicate-interrupt, line = 11 }
                { at = 0, kind = delay-interrupt, line = 0, delay = 1ms }
                { at = 3ms, kind = corrupt-disk-block, device = disk0, sector = 7 }
                { at = 0, kind = corrupt-frame, device = net0, count = 3 }
                """));
        Fault.Noise noise = (Fault.Noise) faults("{ at = 1ms, kind = noise, frequency = 100, duration = 50us, phase = random }").getFirst();
        assertEquals(10_000_000, noise.source().periodNanos());
        assertEquals(50_000, noise.source().durationNanos());
    }

    @Test
    void mistakesNameTheFieldAndWhatWasExpected() {
        assertEquals("vm.conf: faults[0].kind: expected one of flip-bit, stall-vcpu, crash-device, drop-interrupt, "
                + "duplicate-interrupt, delay-interrupt, corrupt-disk-block, corrupt-frame, noise, got \"melt\"", error("{ at = 0, kind = melt }"));
        assertEquals("vm.conf: faults[0].at: expected a virtual time (e.g. 5ms)", error("{ kind = flip-bit, random = true }"));
        assertEquals("vm.conf: faults[0].address: expected a guest-physical address in RAM", error("{ at = 0, kind = flip-bit, bit = 1 }"));
        assertEquals("vm.conf: faults[0].bit: expected 0 to 7, got 9", error("{ at = 0, kind = flip-bit, address = 4096, bit = 9 }"));
        assertEquals("vm.conf: faults[0].address: expected an address below the RAM size 16777216, got 4294967296",
                error("{ at = 0, kind = flip-bit, address = 0x100000000, bit = 1 }"));
        assertEquals("vm.conf: faults[0].vcpu: expected 0 to 1, got 2", error("{ at = 0, kind = stall-vcpu, vcpu = 2, duration = 1ms }"));
        assertEquals("vm.conf: faults[0].device: expected the name of a configured device, got \"disk9\"",
                error("{ at = 0, kind = crash-device, device = disk9 }"));
        assertEquals("vm.conf: faults[0].policy: expected restart or stop, got \"ignore\"",
                error("{ at = 0, kind = crash-device, device = net0, policy = ignore }"));
        assertEquals("vm.conf: faults[0].line: expected 0 to 23, got 24", error("{ at = 0, kind = drop-interrupt, line = 24 }"));
        assertEquals("vm.conf: faults[0].delay: expected a duration (e.g. 100us)", error("{ at = 0, kind = delay-interrupt, line = 1 }"));
        assertEquals("vm.conf: faults[0].device: expected a virtio-net device, got \"disk0\" (a virtio-blk)",
                error("{ at = 0, kind = corrupt-frame, device = disk0 }"));
        assertEquals("vm.conf: faults[0].device: expected a memory-backed virtio-blk disk (size = ...), got \"image0\" on the file /tmp/some.img",
                error("{ at = 0, kind = corrupt-disk-block, device = image0, sector = 0 }"));
        assertEquals("vm.conf: faults[1].at: expected a virtual time of 0 or more, got -1ms",
                error("{ at = 0, kind = noise, frequency = 10, duration = 1ms, phase = random }, { at = -1ms, kind = flip-bit, random = true }"));
        assertTrue(error("{ at = soon, kind = flip-bit, random = true }").startsWith("vm.conf: faults[0]: "),
                error("{ at = soon, kind = flip-bit, random = true }"));
    }
}
