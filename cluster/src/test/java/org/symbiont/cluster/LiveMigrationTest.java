package org.symbiont.cluster;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * Live migration between two cluster members in this JVM: the serial output the VM printed on
 * the sending member, followed by what it printed on the receiving one, is byte for byte that of
 * a run never moved, and it ends at the same virtual time; pages were copied while it ran.
 */
class LiveMigrationTest {
    @TempDir
    static Path dir;

    private static VmConfig config(Path kernel, String append) {
        return VmConfig.from(ConfigFactory.parseString("name = mover\nmemory = 64M\nconsole = null\nkernel.file = \"" + kernel
                + "\"\nkernel.append = \"" + append + "\"\n"), "test");
    }

    /** What a migration did, next to a run of the same VM never moved. */
    private record Moved(String unmoved, long unmovedEnd, String before, String after, LiveMigration.Outcome outcome, VmReport end) {}

    /** Runs {@code config} unmoved, then again moved between two members at {@code fraction} of its run. */
    private static Moved move(VmConfig config, double fraction, LiveMigration.Settings settings) throws Exception {
        CharBackends.Capture unmoved = new CharBackends.Capture();
        VmReport whole = Vms.run(VmSpec.prepare(config, Extensions.none(), unmoved), null, Duration.ofMinutes(2));
        assertEquals(VmReport.Reason.GUEST_EXIT, whole.reason(), whole::message);
        int port = freePort();
        ActorSystem<Void> source = SymbiontCluster.startMember("127.0.0.1", port, List.of("127.0.0.1:" + port));
        ActorSystem<Void> receiver = SymbiontCluster.startMember("127.0.0.1", 0, List.of("127.0.0.1:" + port));
        try {
            SymbiontCluster.awaitMembers(source, 2, Duration.ofSeconds(60));
            CharBackends.Capture there = new CharBackends.Capture(), here = new CharBackends.Capture();
            CompletableFuture<VmReport> moved = LiveMigration.accept(receiver, VmSpec.prepare(config, Extensions.none(), there));
            LiveMigration.Outcome outcome = LiveMigration.migrate(source, VmSpec.prepare(config, Extensions.none(), here),
                    (long) (whole.virtualNanos() * fraction), settings, Duration.ofMinutes(2));
            VmReport end = moved.get(2, TimeUnit.MINUTES);
            System.out.println(outcome.migration().summary());
            return new Moved(unmoved.text(), whole.virtualNanos(), here.text(), there.text(), outcome, end);
        } finally {
            SymbiontCluster.stop(receiver);
            SymbiontCluster.stop(source);
        }
    }

    private static void assertUnmovedOutput(Moved m) {
        assertNull(m.outcome().failure());
        assertEquals(VmReport.Reason.STOPPED, m.outcome().source().reason());
        assertTrue(m.outcome().source().message().contains("migrated to"), m.outcome().source().message());
        assertEquals(VmReport.Reason.GUEST_EXIT, m.end().reason(), m.end()::message);
        assertEquals(m.unmoved(), m.before() + m.after());
        assertFalse(m.after().isEmpty(), "the guest went on printing on the receiving member");
        assertEquals(m.unmovedEnd(), m.end().virtualNanos());
    }

    @Test
    void aMigratedVmPrintsWhatAnUnmovedOneDoes() throws Exception {
        Path kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
        Moved moved = move(config(kernel, "stream n=400000 ntimes=4"), 1.0 / 3, new LiveMigration.Settings(64, 4, 256, 6));
        assertUnmovedOutput(moved);
        LiveMigration.Report m = moved.outcome().migration();
        assertTrue(m.pagesPerPass().getFirst() > 1000, "the first pass copies the memory in use: " + m.pagesPerPass());
        assertTrue(m.pausedAtNanos() > m.startedAtNanos(), "the guest ran while its memory was copied");
        assertTrue(m.downtimeNanos() > 0 && m.downtimeNanos() < m.totalNanos());
    }

    @Test
    void aFourVcpuVmUnderNestedPagingMovesLiveToo() throws Exception {
        Path kernel = dir.resolve("lwk-smp.bin");
        Files.write(kernel, GuestImages.lwk());
        VmConfig config = VmConfig.from(ConfigFactory.parseString("cpus = 4\npaging { mode = nested }").withFallback(
                ConfigFactory.parseString("name = mover\nmemory = 64M\nconsole = null\nkernel.file = \"" + kernel
                        + "\"\nkernel.append = \"hpccg nx=8 ny=8 nz=8 procs=4\"\n")), "test");
        Moved moved = move(config, 0.5, new LiveMigration.Settings(64, 4, 256, 6));
        assertUnmovedOutput(moved);
        assertFalse(moved.outcome().migration().pagesPerPass().isEmpty(), "pages were copied while it ran");
    }

    @Test
    void coldMigrationCopiesEverythingPausedAndTheGuestStillSeesNothing() throws Exception {
        Path kernel = dir.resolve("lwk-cold.bin");
        Files.write(kernel, GuestImages.lwk());
        Moved moved = move(config(kernel, "hpccg nx=12 ny=12 nz=12 max_iter=60"), 0.5, LiveMigration.Settings.COLD);
        assertUnmovedOutput(moved);
        LiveMigration.Report m = moved.outcome().migration();
        assertEquals(List.of(), m.pagesPerPass(), "nothing is copied while the VM runs");
        assertEquals(m.startedAtNanos(), m.pausedAtNanos());
        assertTrue(m.stopAndCopyPages() > 100, "all memory in use is copied paused: " + m.stopAndCopyPages());
        assertEquals(m.totalNanos(), m.downtimeNanos(), "cold: the VM is down for the whole migration");
    }

    @Test
    void aVmTheReceiverRefusesRunsOnWhereItWasAndLosesNothing() throws Exception {
        Path kernel = dir.resolve("lwk-refused.bin");
        Files.write(kernel, GuestImages.lwk());
        VmConfig config = config(kernel, "sieve n=1000000");
        CharBackends.Capture unmoved = new CharBackends.Capture();
        VmReport whole = Vms.run(VmSpec.prepare(config, Extensions.none(), unmoved), null, Duration.ofMinutes(2));
        int port = freePort();
        ActorSystem<Void> source = SymbiontCluster.startMember("127.0.0.1", port, List.of("127.0.0.1:" + port));
        ActorSystem<Void> receiver = SymbiontCluster.startMember("127.0.0.1", 0, List.of("127.0.0.1:" + port));
        try {
            SymbiontCluster.awaitMembers(source, 2, Duration.ofSeconds(60));
            // The receiver was started with another command line: it refuses the state.
            CompletableFuture<VmReport> refused = LiveMigration.accept(receiver,
                    VmSpec.prepare(config(kernel, "sieve n=2000000"), Extensions.none(), new CharBackends.Capture()));
            CharBackends.Capture here = new CharBackends.Capture();
            LiveMigration.Outcome outcome = LiveMigration.migrate(source, VmSpec.prepare(config, Extensions.none(), here),
                    whole.virtualNanos() / 2, LiveMigration.Settings.LIVE, Duration.ofMinutes(2));
            assertNull(outcome.migration());
            assertTrue(outcome.failure().contains("kernel.append = sieve n=1000000"), outcome.failure());
            assertEquals(VmReport.Reason.CONFIG_ERROR, refused.get(1, TimeUnit.MINUTES).reason());
            assertEquals(VmReport.Reason.GUEST_EXIT, outcome.source().reason(), outcome.source()::message);
            assertEquals(unmoved.text(), here.text(), "the VM ran on to its end where it was");
            assertEquals(whole.virtualNanos(), outcome.source().virtualNanos());
        } finally {
            SymbiontCluster.stop(receiver);
            SymbiontCluster.stop(source);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
