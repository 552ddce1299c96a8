package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.snapshot.MemoryImage;

/**
 * A guest with more memory in use than one snapshot section holds (a Java array: 2 GiB): 2.5 GiB
 * filled with a pattern, saved part-way through checking it, written to a file of about 2.7 GB,
 * read back section by section and restored; the guest finds its whole pattern. Needs several GiB
 * of memory and disk: it runs with {@code -P soak} ({@code symbiont.snapshot.large}).
 */
class LargeSnapshotTest {
    @Test
    void aGuestWithMoreThanTwoGibInUseIsSavedInPartsAndRestored() throws Exception {
        boolean enabled = Boolean.getBoolean("symbiont.snapshot.large");
        if (!enabled) System.err.println("SKIPPED: LargeSnapshotTest needs several GiB; it runs with -P soak");
        assumeTrue(enabled, "runs with -P soak");
        // Fills 2.5 GiB from 16 MiB with a pattern (about 335 ms of virtual time), spins 10 ms, then
        // checks a word in every page and exits with 0 when each holds the pattern, else 1.
        Path kernel = TestKernels.file("""
                    mov $0x1000000, %edi
                    mov $0x28000000, %ecx
                    mov $0x5a5a5a5a, %eax
                    cld
                    rep stosl
                    mov $20000000, %ecx
                1:  dec %ecx
                    jnz 1b
                    mov $0x1000000, %esi
                    mov $0x28000000, %ecx
                2:  cmpl $0x5a5a5a5a, (%esi)
                    jne 3f
                    add $4096, %esi
                    sub $1024, %ecx
                    jnz 2b
                """ + TestKernels.exit(0) + "3:\n" + TestKernels.exit(1));
        var config = VmRun.config("large", kernel, "memory = 3G");
        VmSnapshot snapshot;
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, Extensions.none(), new CharBackends.Capture()))) {
            vm.pauseAt(340_000_000, Duration.ofMinutes(5));
            snapshot = vm.snapshot(Duration.ofMinutes(5));
        }
        assertTrue(snapshot.sections().stream().anyMatch(s -> s.name().equals(MemoryImage.SECTION + ".1")), "memory in two parts");
        Path file = Files.createTempFile("symbiont-large", ".snap");
        try {
            snapshot.write(file);
            snapshot = null;
            assertTrue(Files.size(file) > (2L << 30), "a file larger than one Java array");
            VmReport r = Vms.run(VmSpec.prepare(config, Extensions.none(), new CharBackends.Capture()), VmSnapshot.read(file),
                    Duration.ofMinutes(5));
            assertEquals(VmReport.Reason.GUEST_EXIT, r.reason(), r.message());
            assertEquals(1, r.guestStatus(), "the guest found its pattern in every page: (0 << 1) | 1");
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
