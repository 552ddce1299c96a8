package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each kind of injected fault, with what the guest observed: a flipped bit in the data it reads
 * back, a stalled vCPU's stolen time, a crashed device that comes back with its state (or stops
 * the VM), interrupts dropped, duplicated and delayed, a noise source that starts late; and a
 * faulted run replayed with its seed is identical.
 */
class FaultInjectionTest {
    /** 5,000,000 iterations of a two-instruction loop: 10 M instructions, 5 ms at 2 GHz. */
    private static final Path LOOP = TestKernels.file("""
                mov $5000000, %ecx
            1:  dec %ecx
                jnz 1b
            """ + TestKernels.exit(0));

    /** Writes 0 at 0x200000, works 2 ms, exits with the byte it reads back there. */
    private static final Path READ_BACK = TestKernels.file("""
                movl $0, 0x200000
                mov $2000000, %ecx
            1:  dec %ecx
                jnz 1b
                movzbl 0x200000, %eax
                out %al, $0xf4
            """);

    /** Puts 0x1234 in pc-testdev's scratch register, works 2 ms, exits with 0 if it is still there, else 1. */
    private static final Path SCRATCH = TestKernels.file("""
                mov $0x1234, %eax
                out %eax, $0xe0
                mov $2000000, %ecx
            1:  dec %ecx
                jnz 1b
                in $0xe0, %eax
                cmp $0x1234, %eax
                jne 2f
            """ + TestKernels.exit(0) + "2:\n" + TestKernels.exit(1));

    /**
     * With interrupts off, pulses IRQ 5 once (pc-testdev) and counts what the 8259 reports by
     * polling: until TSC 2 M (1 ms) in A, then until TSC 20 M (10 ms) in B; exits with A | B << 4.
     */
    private static final Path IRQ5_COUNT = TestKernels.file("""
                cli
                mov $0x90000, %esp
                mov $0x11, %al
                out %al, $0x20
                mov $0x20, %al
                out %al, $0x21
                mov $0x04, %al
                out %al, $0x21
                mov $0x01, %al
                out %al, $0x21
                mov $0xdf, %al
                out %al, $0x21
                mov $1000, %ecx
            0:  dec %ecx
                jnz 0b
                mov $0x2005, %dx
                mov $1, %al
                out %al, %dx
                mov $0, %al
                out %al, %dx
                xor %ebx, %ebx
                mov $2000000, %edi
                call 5f
                mov %ebx, %esi
                xor %ebx, %ebx
                mov $20000000, %edi
                call 5f
                shl $4, %ebx
                or %esi, %ebx
                mov %bl, %al
                out %al, $0xf4
            5:  mov $0x0c, %al
                out %al, $0x20
                in $0x20, %al
                test $0x80, %al
                jz 6f
                inc %ebx
                mov $0x20, %al
                out %al, $0x20
            6:  rdtsc
                cmp %edi, %eax
                jb 5b
                ret
            """);

    private static final String TESTDEV = "devices += { name = testdev, type = pc-testdev }\n";

    private static VmReport run(Path kernel, String hocon) {
        return VmRun.run(VmRun.pcConfig("faults", kernel, "memory = 16M\n" + hocon)).report;
    }

    private static int exitValue(VmReport r) {
        assertEquals(VmReport.Reason.GUEST_EXIT, r.reason(), r.message());
        return r.guestStatus() >>> 1;
    }

    @Test
    void aFlippedBitIsWhatTheGuestReadsBack() {
        assertEquals(0, exitValue(run(READ_BACK, "")));
        VmReport r = run(READ_BACK, "faults = [{ at = 500us, kind = flip-bit, address = 0x200000, bit = 3 }]");
        assertEquals(8, exitValue(r));
        assertEquals(List.of(new VmReport.AppliedFault(500_000, "flip-bit", "bit 3 of 0x200000: 0x00 -> 0x08")), r.faults());
        assertTrue(r.toJson().contains("\"kind\": \"flip-bit\""), r.toJson());
    }

    @Test
    void aStalledVcpuLosesExactlyTheStall() {
        VmReport quiet = run(LOOP, "");
        VmReport stalled = run(LOOP, "faults = [{ at = 1ms, kind = stall-vcpu, vcpu = 0, duration = 300us }]");
        assertEquals(0, exitValue(stalled));
        assertEquals(600_000, stalled.vcpus().getFirst().stolenCycles(), "300 us at 2 GHz");
        assertEquals(quiet.vcpus().getFirst().retired(), stalled.vcpus().getFirst().retired(), "the guest does the same work");
        assertEquals(quiet.virtualNanos() + 300_000, stalled.virtualNanos(), 1);
    }

    @Test
    void aCrashedDeviceIsRestartedWithItsState() {
        VmReport r = run(SCRATCH, TESTDEV + "faults = [{ at = 1ms, kind = crash-device, device = testdev }]");
        assertEquals(0, exitValue(r), "the scratch register survived the restart");
        assertEquals("crash-device", r.faults().getFirst().kind());
    }

    @Test
    void aCrashedDeviceWithPolicyStopEndsTheVmWithAReport() {
        VmReport r = run(SCRATCH, TESTDEV + "faults = [{ at = 1ms, kind = crash-device, device = testdev, policy = stop }]");
        assertEquals(VmReport.Reason.VMM_ERROR, r.reason());
        assertTrue(r.message().contains("device testdev crashed"), r.message());
        assertTrue(r.virtualNanos() < 2_000_000, "it stopped before the guest finished: " + r.virtualNanos());
    }

    @Test
    void interruptsAreDroppedDuplicatedAndDelayed() {
        assertEquals(1, exitValue(run(IRQ5_COUNT, TESTDEV)), "one interrupt, seen in the first millisecond");
        VmReport dropped = run(IRQ5_COUNT, TESTDEV + "faults = [{ at = 0, kind = drop-interrupt, line = 5 }]");
        assertEquals(0, exitValue(dropped));
        assertEquals("drop-interrupt", dropped.faults().getLast().kind());
        assertEquals(2, exitValue(run(IRQ5_COUNT, TESTDEV + "faults = [{ at = 0, kind = duplicate-interrupt, line = 5 }]")));
        assertEquals(1 << 4, exitValue(run(IRQ5_COUNT, TESTDEV + "faults = [{ at = 0, kind = delay-interrupt, line = 5, delay = 3ms }]")),
                "the interrupt arrives after the first millisecond");
        assertEquals(1, exitValue(run(IRQ5_COUNT, TESTDEV + "faults = [{ at = 0, kind = drop-interrupt, line = 4 }]")),
                "another line is not affected");
    }

    @Test
    void aNoiseSourceStartsAtItsTime() {
        VmReport r = run(LOOP, "faults = [{ at = 2ms, kind = noise, frequency = 1000, duration = 100us, phase = synchronized }]");
        assertEquals(0, exitValue(r));
        // Events at 3, 4 and 5 ms of the 5.3 ms run, 100 us each.
        assertEquals(3 * 200_000, r.vcpus().getFirst().stolenCycles());
    }

    @Test
    void aFaultedRunReplaysIdenticallyFromItsSeed() {
        String faults = TESTDEV + """
                faults = [
                  { at = 100us, kind = flip-bit, random = true }
                  { at = 200us, kind = flip-bit, random = true }
                  { at = 0, kind = delay-interrupt, line = 5, delay = 1500us }
                  { at = 1ms, kind = noise, frequency = 2000, duration = 20us, phase = random }
                ]
                """;
        VmRun first = VmRun.run(VmRun.pcConfig("replay", IRQ5_COUNT, "memory = 16M\nseed = 7\n" + faults));
        VmRun second = VmRun.run(VmRun.pcConfig("replay", IRQ5_COUNT, "memory = 16M\nseed = 7\n" + faults));
        assertEquals(first.report.faults(), second.report.faults());
        assertEquals(first.report.virtualNanos(), second.report.virtualNanos());
        assertEquals(first.report.vcpus().getFirst().retired(), second.report.vcpus().getFirst().retired());
        assertEquals(first.console, second.console);
        VmRun other = VmRun.run(VmRun.pcConfig("replay", IRQ5_COUNT, "memory = 16M\nseed = 8\n" + faults));
        assertNotEquals(flips(first.report), flips(other.report), "another seed flips other bits");
        assertEquals(2, flips(first.report).size());
    }

    private static List<VmReport.AppliedFault> flips(VmReport r) {
        return r.faults().stream().filter(f -> f.kind().equals("flip-bit")).toList();
    }
}
