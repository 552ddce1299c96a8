package org.symbiont.symbiotic;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.SymCallResult;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSnapshot;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * A VM with the symbiotic interfaces saved and restored: the SymSpy pages the guest named and its
 * SymCall registrations come back with it, so the VMM reads what the guest publishes and calls
 * into it after the restore as before, and the rest of its run prints what an uninterrupted one does.
 */
class SymbioticSnapshotTest {
    @TempDir
    static Path dir;

    /**
     * SwapBypass under cached shadow tables while memperf swaps: saved and restored in the middle,
     * the rest of the run prints what the uninterrupted one does (the bypassed mappings, the shadow
     * tables and the swap disk in VMM memory all come back) and ends at the same virtual time.
     */
    @Test
    void swapBypassContinuesExactlyAfterARestore() throws Exception {
        VmConfig config = swapBypassConfig();
        CharBackends.Capture whole = new CharBackends.Capture();
        VmReport uninterrupted = Vms.run(VmSpec.prepare(config, symbiotic(), whole), null, Duration.ofMinutes(3));
        assertEquals(VmReport.Reason.GUEST_EXIT, uninterrupted.reason(), uninterrupted::message);

        CharBackends.Capture before = new CharBackends.Capture();
        VmSnapshot snapshot;
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, symbiotic(), before))) {
            vm.pauseAt(uninterrupted.virtualNanos() * 2 / 3, Duration.ofMinutes(2));
            snapshot = VmSnapshot.fromBytes(vm.snapshot(Duration.ofMinutes(1)).toBytes());
        }
        CharBackends.Capture after = new CharBackends.Capture();
        VmReport end = Vms.run(VmSpec.prepare(config, symbiotic(), after), snapshot, Duration.ofMinutes(3));
        assertEquals(VmReport.Reason.GUEST_EXIT, end.reason(), end::message);
        assertEquals(whole.text(), before.text() + after.text());
        // The paging counters go on from the snapshot: the restored run took the shadow faults the uninterrupted one did.
        assertEquals(uninterrupted.vcpus().getFirst().paging(), end.vcpus().getFirst().paging());
        assertEquals(uninterrupted.virtualNanos(), end.virtualNanos());
    }

    /**
     * Taking a snapshot reads the swap disk in VMM memory: no guest request, so the VM it was
     * taken of keeps its bypassed mappings and, resumed, ends as if it had not been saved.
     */
    @Test
    void takingASnapshotLeavesSwapBypassAlone() throws Exception {
        VmConfig config = swapBypassConfig();
        VmReport uninterrupted = Vms.run(VmSpec.prepare(config, symbiotic(), new CharBackends.Capture()), null, Duration.ofMinutes(3));
        assertEquals(VmReport.Reason.GUEST_EXIT, uninterrupted.reason(), uninterrupted::message);

        VmReport resumed;
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, symbiotic(), new CharBackends.Capture()))) {
            vm.pauseAt(uninterrupted.virtualNanos() * 2 / 3, Duration.ofMinutes(2));
            vm.snapshot(Duration.ofMinutes(1));
            vm.resume();
            resumed = vm.report().get(3, TimeUnit.MINUTES);
        }
        assertEquals(VmReport.Reason.GUEST_EXIT, resumed.reason(), resumed::message);
        assertEquals(uninterrupted.swapBypass(), resumed.swapBypass());
        assertEquals(uninterrupted.vcpus().getFirst().paging(), resumed.vcpus().getFirst().paging());
        assertEquals(uninterrupted.virtualNanos(), resumed.virtualNanos());
    }

    /** LWK memperf mb=48 in 32 MiB under cached shadow tables, swapping to a memory-backed disk with SwapBypass on. */
    private static VmConfig swapBypassConfig() throws Exception {
        Path kernel = dir.resolve("lwk-swap.bin");
        Files.write(kernel, GuestImages.lwk());
        return VmConfig.from(ConfigFactory.parseString("""
                name = bypass
                memory = 32M
                paging { mode = shadow, strategy = cached }
                symbiotic { enabled = true, swapbypass = true }
                kernel.file = "%s"
                kernel.append = "memperf mb=48"
                devices += { name = swap0, type = virtio-blk, size = 64M }
                """.formatted(kernel)), "test");
    }

    private static Extensions symbiotic() {
        Extensions extensions = Extensions.none();
        Symbiotic.install(extensions);
        return extensions;
    }

    @Test
    void symSpyAndSymCallsWorkAfterARestoreAndTheRunContinuesExactly() throws Exception {
        Path kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
        VmConfig config = VmConfig.from(ConfigFactory.parseString("""
                name = sym
                memory = 64M
                symbiotic.enabled = true
                kernel.file = "%s"
                kernel.append = "stream n=100000 ntimes=3 procs=3 slice=1000"
                """.formatted(kernel)), "test");
        CharBackends.Capture whole = new CharBackends.Capture();
        VmReport uninterrupted = Vms.run(VmSpec.prepare(config, symbiotic(), whole), null, Duration.ofMinutes(2));
        assertEquals(VmReport.Reason.GUEST_EXIT, uninterrupted.reason(), uninterrupted::message);

        CharBackends.Capture before = new CharBackends.Capture();
        VmSnapshot snapshot;
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, symbiotic(), before))) {
            vm.pauseAt(uninterrupted.virtualNanos() / 2, Duration.ofMinutes(1));
            snapshot = VmSnapshot.fromBytes(vm.snapshot(Duration.ofMinutes(1)).toBytes());
        }
        assertTrue(snapshot.sections().stream().anyMatch(s -> s.name().equals("ext.symbiotic")));

        // Left alone, the restored VM prints the rest of the uninterrupted run.
        CharBackends.Capture after = new CharBackends.Capture();
        VmReport end = Vms.run(VmSpec.prepare(config, symbiotic(), after), snapshot, Duration.ofMinutes(2));
        assertEquals(VmReport.Reason.GUEST_EXIT, end.reason(), end::message);
        assertEquals(uninterrupted.virtualNanos(), end.virtualNanos());

        // Restored again, the VMM finds what the guest named and registered, and calls into it.
        Extensions extensions = Extensions.none();
        Symbiotic restored = Symbiotic.install(extensions);
        try (Vms.Running vm = Vms.restore(VmSpec.prepare(config, extensions, new CharBackends.Capture()), snapshot)) {
            // Once it runs past the snapshot's time, everything was restored.
            vm.pauseAt(snapshot.virtualNanos() + 1, Duration.ofMinutes(1));
            vm.resume();
            assertNotEquals(0, restored.symSpy().globalPage(), "the global SymSpy page the guest named before the snapshot");
            assertTrue(restored.symSpy().symcallEnabled(0), "SymCalls enabled before the snapshot stay enabled");
            assertNotEquals(0, restored.entry(0).rip(), "the SymCall entry the guest registered");
            SymCallResult r = restored.symCalls().test(0, 1, 2, 3, 4, 5).toCompletableFuture().get(1, TimeUnit.MINUTES);
            assertInstanceOf(SymCallResult.Ok.class, r, r::toString);
        }
        assertEquals(whole.text(), before.text() + after.text());
    }
}
