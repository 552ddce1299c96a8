package org.symbiont.symbiotic;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import com.typesafe.config.ConfigFactory;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.Hypervisor;
import org.symbiont.vmm.SymCallResult;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.config.VmConfig;

/**
 * The LWK's guest side (kernel/symbiotic.c, symcall.S) against the VMM's: the LWK swaps under
 * memperf while the VMM calls TEST and MEM_LOOKUP on it. The image is the one in
 * {@code -Dsymbiont.lwk=PATH} (e.g. built with {@code make -C guests/src/lwk OUT=/tmp/symg}), else
 * the committed one; skipped when that kernel never enables SymCalls (built without the guest
 * side).
 */
class LwkSymCallTest {
    private static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    private static Path image(Path dir) throws Exception {
        String given = System.getProperty("symbiont.lwk");
        if (given != null && !given.isBlank()) return Path.of(given);
        Path p = dir.resolve("lwk.bin");
        Files.write(p, GuestImages.lwk());
        return p;
    }

    @Test
    void theVmmCallsTestAndMemLookupWhileTheLwkSwaps(@TempDir Path dir) throws Exception {
        Path disk = dir.resolve("swap.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(128L << 20);
        }
        VmConfig config = VmConfig.from(ConfigFactory.parseString("""
                name = lwk-sym
                memory = 32M
                symbiotic.enabled = true
                kernel.file = "%s"
                kernel.append = "memperf mb=48 symtest"
                devices += { name = swap0, type = virtio-blk, file = "%s" }
                """.formatted(image(dir), disk)), "test lwk-sym");
        Extensions ext = Extensions.none();
        Symbiotic sym = Symbiotic.install(ext);
        CharBackends.Capture console = new CharBackends.Capture();
        TestProbe<VmReport> reports = kit.createTestProbe();
        ActorRef<Hypervisor.Command> hv = kit.spawn(Hypervisor.create(), "hv");
        hv.tell(new Hypervisor.CreateVm(VmSpec.prepare(config, ext, console), reports.ref()));
        sym.started().toCompletableFuture().get(30, TimeUnit.SECONDS);
        SymSpy spy = sym.symSpy();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        // The kernel registers before it starts its program ("lwk: running").
        while (!spy.symcallEnabled(0) && System.nanoTime() < deadline && !console.text().contains("lwk: running")) Thread.sleep(2);
        if (!spy.symcallEnabled(0)) hv.tell(new Hypervisor.StopVm("lwk-sym", "no symbiotic guest side"));
        assumeTrue(spy.symcallEnabled(0), "this LWK image has no symbiotic guest side: " + console.text());
        assertEquals(1, spy.guestVersion());
        assertTrue(spy.swapPages() > 0, "the LWK published its swap area");

        SymCalls calls = sym.symCalls();
        int tests = 0, lookups = 0, inProcess = 0;
        while (!console.text().contains("RESULT") && tests < 2000) {
            SymCallResult r = calls.test(0, tests, 1, 2, 3, 4).toCompletableFuture().get(1, TimeUnit.MINUTES);
            if (r instanceof org.symbiont.vmm.SymCallError e && e.reason() == org.symbiont.vmm.SymCallError.Reason.VM_STOPPED) break;
            assertEquals(new SymCallResult.Ok(tests + 1, 3, 5, 7, 9), r);
            tests++;
            long pid = spy.currentPid(0);
            SymCallResult m = calls.memLookup(0, 0x40_0000, 0).toCompletableFuture().get(1, TimeUnit.MINUTES);
            if (m instanceof SymCallResult.Ok ok) {
                lookups++;
                assertEquals(0, ok.rbx(), "not a swapped page: the VMM must not map it");
                if (ok.rdx() != 0) {
                    inProcess++;
                    assertEquals(SymbioticAbi.SYM_PERM_PRESENT | SymbioticAbi.SYM_PERM_WRITE | SymbioticAbi.SYM_PERM_USER, ok.rcx(),
                            "the program's image is a region of its process");
                    assertEquals(pid, ok.rdx(), "the process SymSpy shows");
                }
            }
        }
        VmReport report = reports.receiveMessage(java.time.Duration.ofMinutes(5));
        assertTrue(console.text().contains("RESULT name=memperf mb=48 passes=3 errors=0 ok=1 checksum=0xcb5ffe3d0a1bee00"),
                "the workload's result is unchanged by the calls:\n" + console.text());
        assertEquals(VmReport.Reason.GUEST_EXIT, report.reason(), report.message());
        assertTrue(tests >= 10 && lookups >= 10 && inProcess >= 1, tests + " TESTs, " + lookups + " lookups, " + inProcess + " in the process");
    }
}
