package org.symbiont.symbiotic;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.LwkCase;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.Hypervisor;
import org.symbiont.vmm.SwapBypassStats;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.config.VmConfig;

/**
 * SwapBypass (Palacios 6.11) with the LWK: memperf over more memory than the VM has, its swap
 * disk memory-backed, under shadow paging with and without SwapBypass (memperf, and STREAM and
 * GUPS sized over RAM), and every single-node LWK case with SwapBypass on. The program's exact
 * result is the same; with SwapBypass shadow faults on swapped
 * pages are served from the disk's copy, so fewer page faults reach the guest and it swaps in less.
 */
class LwkSwapBypassTest {
    private static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    private record Run(String result, String console, VmReport report) {}

    private static Run run(String name, Path dir, String paging, String program, boolean swapBypass) throws Exception {
        return run(name, dir, paging, program, swapBypass, 32, 1);
    }

    private static Run run(String name, Path dir, String paging, String program, boolean swapBypass, int memoryMiB, int cpus)
            throws Exception {
        Path image = dir.resolve("lwk.bin");
        if (!Files.exists(image)) Files.write(image, GuestImages.lwk());
        VmConfig config = VmConfig.from(ConfigFactory.parseString("""
                name = %s
                memory = %dM
                cpus = %d
                paging { mode = shadow, strategy = %s }
                symbiotic { enabled = true, swapbypass = %s }
                kernel.file = "%s"
                kernel.append = "%s"
                devices += { name = swap0, type = virtio-blk, size = 64M }
                """.formatted(name, memoryMiB, cpus, paging, swapBypass, image, program)), "test " + name);
        Extensions ext = Extensions.none();
        Symbiotic.install(ext);
        CharBackends.Capture console = new CharBackends.Capture();
        TestProbe<VmReport> reports = kit.createTestProbe();
        ActorRef<Hypervisor.Command> hv = kit.spawn(Hypervisor.create(), "hv-" + name);
        hv.tell(new Hypervisor.CreateVm(VmSpec.prepare(config, ext, console), reports.ref()));
        VmReport report = reports.receiveMessage(Duration.ofMinutes(5));
        Matcher m = Pattern.compile("RESULT [^\\n]*").matcher(console.text());
        assertTrue(m.find(), "no result: " + report.reason() + " " + report.message() + "\n" + console.text());
        return new Run(m.group(), console.text(), report);
    }

    @Test
    void memperfGivesTheSameResultWithSwapBypass(@TempDir Path dir) throws Exception {
        sameResultWithFewerSwapIns(dir, "memperf", "vtlb", "memperf mb=48");
    }

    /** The bypass mappings live in the current table of cached shadow tables, and CR3 writes still drop them. */
    @Test
    void memperfUnderCachedShadowTablesGivesTheSameResultWithSwapBypass(@TempDir Path dir) throws Exception {
        sameResultWithFewerSwapIns(dir, "memperf-cached", "cached", "memperf mb=48");
    }

    /** STREAM's three arrays (36 MB) over 32 MiB of RAM. */
    @Test
    void streamOverRamGivesTheSameResultWithSwapBypass(@TempDir Path dir) throws Exception {
        sameResultWithFewerSwapIns(dir, "stream", "vtlb", "stream n=1500000 ntimes=2");
    }

    /** GUPS' table (32 MiB) over 32 MiB of RAM: random updates fault swapped pages back all the time. */
    @Test
    void gupsOverRamGivesTheSameResultWithSwapBypass(@TempDir Path dir) throws Exception {
        sameResultWithFewerSwapIns(dir, "gups", "vtlb", "gups logn=22 updates=200000");
    }

    static List<String> singleNodeCases() {
        return LwkCase.all().stream().filter(c -> c.nodes() == 1).map(LwkCase::name).toList();
    }

    /** Every single-node LWK case, with a swap disk and SwapBypass on: the result line it always prints. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("singleNodeCases")
    void everyWorkloadGivesItsResultUnderSwapBypass(String name, @TempDir Path dir) throws Exception {
        LwkCase c = LwkCase.named(name);
        Run r = run("case-" + name, dir, "vtlb", c.cmdline(), true, c.memoryMiB(), c.cpus());
        assertEquals(c.expected(), exact(r.result()), r.console());
        assertEquals(c.vmExitStatus(), r.report().guestStatus(), r.console());
    }

    private static void sameResultWithFewerSwapIns(Path dir, String name, String paging, String program) throws Exception {
        Run plain = run(name + "-noswapbypass", dir, paging, program, false);
        Run bypass = run(name + "-swapbypass", dir, paging, program, true);
        assertTrue(plain.result().contains(" ok=1"), plain.result());
        // The exact part of the line (before " | ") is the program's; the rest is timing and counters.
        assertEquals(exact(plain.result()), exact(bypass.result()));
        assertNull(plain.report().swapBypass());
        SwapBypassStats s = bypass.report().swapBypass();
        assertTrue(s.bypassedFaults() > 0, bypass.report().toJson());
        assertEquals(0, s.symcallsFailed(), bypass.report().toJson());
        assertTrue(s.symcalls() >= s.bypassedFaults());
        assertTrue(s.invalidatedByFlush() + s.invalidatedBySwap() > 0, bypass.report().toJson());
        assertTrue(bypass.report().paging().guestFaultsInjected() < plain.report().paging().guestFaultsInjected(),
                "fewer #PF reach the guest: " + plain.report().paging() + "\n" + bypass.report().paging());
        if (plain.result().contains("swap_ins=")) {
            assertTrue(swapIns(bypass.result()) < swapIns(plain.result()), plain.result() + "\n" + bypass.result());
        }
        assertTrue(bypass.report().toJson().contains("\"swapBypass\": {\"bypassedFaults\": " + s.bypassedFaults()));
    }

    private static String exact(String result) {
        int bar = result.indexOf(" | ");
        return bar < 0 ? result.trim() : result.substring(0, bar);
    }

    private static long swapIns(String result) {
        Matcher m = Pattern.compile("swap_ins=(\\d+)").matcher(result);
        assertTrue(m.find(), result);
        return Long.parseLong(m.group(1));
    }
}
