package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.LwkCase;
import org.symbiont.guests.ResultLine;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * Whole-VM snapshots: a VM paused at some virtual time, saved, and restored into a fresh machine
 * built from the same configuration prints exactly the rest of what the uninterrupted run
 * printed — timings read from the TSC included — and ends at the same virtual time with the same
 * status. A snapshot of another machine is refused, naming what differs.
 */
class VmSnapshotTest {
    @TempDir
    static Path dir;
    private static Path kernel;

    @BeforeAll
    static void writeKernel() throws IOException {
        kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
    }

    private static VmConfig lwk(String caseName, String extra) {
        LwkCase c = LwkCase.named(caseName);
        return VmRun.pcConfig(caseName, kernel, "memory = " + c.memoryMiB() + "M\ncpus = " + c.cpus()
                + "\nconsole = null\nkernel.append = \"" + c.cmdline(0) + "\"\n" + extra);
    }

    /** Runs {@code config} uninterrupted, then again paused at {@code fraction} of its time, saved and restored. */
    private static void assertRestoredRunContinuesExactly(VmConfig config, double fraction) throws SnapshotException {
        VmRun whole = VmRun.run(config);
        assertEquals(VmReport.Reason.GUEST_EXIT, whole.report.reason(), () -> whole.report.message() + "\n" + whole.console);

        CharBackends.Capture before = new CharBackends.Capture();
        VmSnapshot snapshot;
        long pausedAt;
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, Extensions.none(), before))) {
            pausedAt = vm.pauseAt((long) (whole.report.virtualNanos() * fraction), Duration.ofMinutes(2));
            snapshot = vm.snapshot(Duration.ofMinutes(1));
        }
        // Through the file format and back, as a snapshot file would be.
        VmSnapshot reread = VmSnapshot.fromBytes(snapshot.toBytes());
        assertEquals(pausedAt, reread.virtualNanos());

        CharBackends.Capture after = new CharBackends.Capture();
        VmReport report;
        try (Vms.Running vm = Vms.restore(VmSpec.prepare(config, Extensions.none(), after), reread)) {
            report = vm.report().join();
        }
        assertEquals(VmReport.Reason.GUEST_EXIT, report.reason(), () -> report.message() + "\n" + after.text());
        assertTrue(before.text().length() < whole.console.length(), "the snapshot was taken before the end");
        assertEquals(whole.console, before.text() + after.text(), () -> "console before the snapshot:\n" + before.text()
                + "\n--- after the restore:\n" + after.text());
        assertEquals(whole.report.guestStatus(), report.guestStatus());
        assertEquals(whole.report.virtualNanos(), report.virtualNanos(), "the restored run ends at the same virtual time");
    }

    @ParameterizedTest
    @ValueSource(strings = {"stream-timesliced", "hpccg", "smp4"})
    void aRestoredLwkRunPrintsTheRestOfTheUninterruptedRunExactly(String caseName) throws SnapshotException {
        assertRestoredRunContinuesExactly(lwk(caseName, ""), 0.5);
    }

    @ParameterizedTest
    @ValueSource(strings = {"paging { mode = nested }", "paging { mode = shadow, strategy = vtlb }", "paging { mode = shadow, strategy = cached }"})
    void everyVirtualPagingMethodContinuesExactly(String paging) throws SnapshotException {
        assertRestoredRunContinuesExactly(lwk("stream-timesliced", paging), 0.6);
    }

    /**
     * Parallel mode: the vCPUs stop at the ends of their slices (at different virtual times) and
     * are saved there; the restored VM finishes with the same result. Its timings are not compared:
     * parallel runs are not reproducible.
     */
    @Test
    void aParallelModeVmIsSavedAndRestoredWithItsResult() throws SnapshotException {
        VmConfig config = lwk("smp4", "mode = parallel");
        VmRun whole = VmRun.run(config);
        assertEquals(VmReport.Reason.GUEST_EXIT, whole.report.reason(), whole.report::message);
        CharBackends.Capture before = new CharBackends.Capture();
        VmSnapshot snapshot;
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, Extensions.none(), before))) {
            vm.pauseAt(whole.report.virtualNanos() / 2, Duration.ofMinutes(2));
            snapshot = VmSnapshot.fromBytes(vm.snapshot(Duration.ofMinutes(1)).toBytes());
        }
        CharBackends.Capture after = new CharBackends.Capture();
        VmReport report = Vms.run(VmSpec.prepare(config, Extensions.none(), after), snapshot, Duration.ofMinutes(2));
        assertEquals(VmReport.Reason.GUEST_EXIT, report.reason(), () -> report.message() + "\n" + after.text());
        assertEquals(ResultLine.find(whole.console).map(ResultLine::exact).orElseThrow(),
                ResultLine.find(before.text() + after.text()).map(ResultLine::exact).orElse("(no result line)"));
    }

    @Test
    void pendingFaultsNoiseAndDelayedInterruptsCarryOverTheSnapshot() throws SnapshotException {
        // A noise source and faults both before the snapshot (armed, under way) and after it.
        assertRestoredRunContinuesExactly(lwk("stream-timesliced",
                "noise = [{ frequency = 1000, duration = 20us, phase = random }]\n"
                        + "faults = [{ at = 1ms, kind = stall-vcpu, vcpu = 0, duration = 300us },"
                        + " { at = 2ms, kind = flip-bit, address = 0x1000, bit = 1 },"
                        + " { at = 25ms, kind = stall-vcpu, vcpu = 0, duration = 500us }]\n"), 0.4);
    }

    @Test
    void aSnapshotIsRefusedByAMachineBuiltDifferently() throws SnapshotException {
        VmConfig config = lwk("hello", "");
        VmSnapshot snapshot;
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, Extensions.none(), new CharBackends.Capture()))) {
            vm.pauseAt(1_000_000, Duration.ofMinutes(1));
            snapshot = vm.snapshot(Duration.ofMinutes(1));
        }
        VmConfig bigger = lwk("hello", "memory = 128M");
        VmReport report;
        try (Vms.Running vm = Vms.restore(VmSpec.prepare(bigger, Extensions.none(), new CharBackends.Capture()), snapshot)) {
            report = vm.report().join();
        }
        assertEquals(VmReport.Reason.CONFIG_ERROR, report.reason());
        assertTrue(report.message().contains("memory = 67108864") && report.message().contains("134217728"), report.message());
    }

    @Test
    void aRestoreMayGiveDevicesOtherBackEnds() throws SnapshotException {
        VmSnapshot snapshot;
        try (Vms.Running vm = Vms.start(VmSpec.prepare(lwk("hello", "devices += { name = dbg, type = debugcon, chardev = null }"),
                Extensions.none(), new CharBackends.Capture()))) {
            vm.pauseAt(1_000_000, Duration.ofMinutes(1));
            snapshot = vm.snapshot(Duration.ofMinutes(1));
        }
        VmConfig elsewhere = lwk("hello", "devices += { name = dbg, type = debugcon, chardev = console }");
        VmReport report;
        try (Vms.Running vm = Vms.restore(VmSpec.prepare(elsewhere, Extensions.none(), new CharBackends.Capture()), snapshot)) {
            report = vm.report().join();
        }
        assertEquals(VmReport.Reason.GUEST_EXIT, report.reason(), report::message);
    }

    @Test
    void aRunningVmIsNotSaved() {
        try (Vms.Running vm = Vms.start(VmSpec.prepare(lwk("stream-timesliced", ""), Extensions.none(), new CharBackends.Capture()))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> vm.snapshot(Duration.ofMinutes(1)));
            assertTrue(e.getMessage().contains("pause it first"), e.getMessage());
        }
    }

    @Test
    void allVcpusParkedOrHaltedStillSave() throws SnapshotException {
        // A snapshot right after boot, while the application processors wait for their start-up IPI.
        VmConfig config = lwk("smp2", "");
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, Extensions.none(), new CharBackends.Capture()))) {
            long pausedAt = vm.pauseAt(0, Duration.ofMinutes(1));
            VmSnapshot s = vm.snapshot(Duration.ofMinutes(1));
            assertEquals(pausedAt, s.virtualNanos());
            assertTrue(List.of("cpu.0", "cpu.1", "vcpu.1", "memory", "device.lapic1").stream().allMatch(n -> s.section(n) != null));
        }
    }
}
