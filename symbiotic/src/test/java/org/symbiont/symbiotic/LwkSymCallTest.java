package org.symbiont.symbiotic;

import static org.junit.jupiter.api.Assertions.*;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
 * the committed one, which must enable SymCalls on every CPU before its program runs.
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

    /** A running LWK with the symbiotic extensions, once it has registered. */
    private record Lwk(ActorRef<Hypervisor.Command> hypervisor, Symbiotic symbiotic, CharBackends.Capture console,
                       TestProbe<VmReport> reports) {}

    private static Lwk boot(String name, Path dir, String hocon) throws Exception {
        VmConfig config = VmConfig.from(ConfigFactory.parseString(hocon + """

                name = %s
                symbiotic.enabled = true
                kernel.file = "%s"
                """.formatted(name, image(dir))), "test " + name);
        Extensions ext = Extensions.none();
        Symbiotic sym = Symbiotic.install(ext);
        CharBackends.Capture console = new CharBackends.Capture();
        TestProbe<VmReport> reports = kit.createTestProbe();
        ActorRef<Hypervisor.Command> hv = kit.spawn(Hypervisor.create(), "hv-" + name);
        hv.tell(new Hypervisor.CreateVm(VmSpec.prepare(config, ext, console), reports.ref()));
        sym.started().toCompletableFuture().get(30, TimeUnit.SECONDS);
        SymSpy spy = sym.symSpy();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        // The kernel registers every CPU before it starts its program ("lwk: running").
        while (System.nanoTime() < deadline && !console.text().contains("lwk: running")) Thread.sleep(2);
        if (!spy.symcallEnabled(0)) hv.tell(new Hypervisor.StopVm(name, "no symbiotic guest side"));
        assertTrue(spy.symcallEnabled(0), "the LWK enabled no SymCalls before its program ran: " + console.text());
        return new Lwk(hv, sym, console, reports);
    }

    private static SymCallResult await(java.util.concurrent.CompletionStage<SymCallResult> s) throws Exception {
        return s.toCompletableFuture().get(1, TimeUnit.MINUTES);
    }

    private static boolean stopped(SymCallResult r) {
        return SymCalls.failedWith(r, org.symbiont.vmm.SymCallError.Reason.VM_STOPPED);
    }

    @Test
    void theVmmCallsTestAndMemLookupWhileTheLwkSwaps(@TempDir Path dir) throws Exception {
        Path disk = dir.resolve("swap.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(128L << 20);
        }
        Lwk lwk = boot("lwk-swap", dir, """
                memory = 32M
                kernel.append = "memperf mb=48 symtest"
                devices += { name = swap0, type = virtio-blk, file = "%s" }
                """.formatted(disk));
        SymSpy spy = lwk.symbiotic().symSpy();
        CharBackends.Capture console = lwk.console();
        assertEquals(1, spy.guestVersion());
        assertTrue(spy.swapPages() > 0, "the LWK published its swap area");

        SymCalls calls = lwk.symbiotic().symCalls();
        int tests = 0, lookups = 0, inProcess = 0;
        while (!console.text().contains("RESULT") && tests < 2000) {
            SymCallResult r = await(calls.test(0, tests, 1, 2, 3, 4));
            if (stopped(r)) break;
            assertEquals(List.of(tests + 1L, 3L, 5L, 7L, 9L), assertInstanceOf(SymCallResult.Ok.class, r).registers());
            tests++;
            long pid = spy.currentPid(0);
            SymCallResult m = await(calls.memLookup(0, 0x40_0000, 0));
            if (m instanceof SymCallResult.Ok ok) {
                lookups++;
                assertEquals(0, ok.rbx(), "not a swapped page: the VMM must not map it");
                if (ok.rdx() != 0) {
                    inProcess++;
                    assertEquals(SymbioticAbi.SYM_PERM_PRESENT | SymbioticAbi.SYM_PERM_WRITE | SymbioticAbi.SYM_PERM_USER, ok.rcx(),
                            "the program's image is a region of its process");
                    // SymSpy is read from this thread while the guest runs: compare when no switch came in between.
                    if (pid == spy.currentPid(0)) assertEquals(pid, ok.rdx(), "the process SymSpy shows");
                }
            }
        }
        VmReport report = lwk.reports().receiveMessage(java.time.Duration.ofMinutes(5));
        assertTrue(console.text().contains("RESULT name=memperf mb=48 passes=3 errors=0 ok=1 checksum=0xcb5ffe3d0a1bee00"),
                "the workload's result is unchanged by the calls:\n" + console.text());
        assertEquals(VmReport.Reason.GUEST_EXIT, report.reason(), report.message());
        assertTrue(tests >= 10 && lookups >= 10 && inProcess >= 1, tests + " TESTs, " + lookups + " lookups, " + inProcess + " in the process");
    }

    @Test
    void eachCpuOfAnSmpLwkAnswersOnItsOwnVcpu(@TempDir Path dir) throws Exception {
        Lwk lwk = boot("lwk-smp", dir, """
                memory = 64M
                cpus = 2
                kernel.append = "sieve n=1000000 procs=2 symtest"
                """);
        SymSpy spy = lwk.symbiotic().symSpy();
        assertTrue(spy.symcallEnabled(1), "the second CPU registered too");
        assertNotEquals(spy.localPage(0), spy.localPage(1));
        SymCalls calls = lwk.symbiotic().symCalls();
        int[] answered = new int[2];
        for (int k = 0; !lwk.console().text().contains("RESULT") && k < 1000; k++) {
            int vcpu = k & 1;
            SymCallResult r = await(calls.test(vcpu, k, vcpu, 0, 0, 0));
            if (stopped(r)) break;
            assertEquals(List.of(k + 1L, vcpu + 2L, 3L, 4L, 5L), assertInstanceOf(SymCallResult.Ok.class, r).registers(), "vCPU " + vcpu);
            answered[vcpu]++;
        }
        VmReport report = lwk.reports().receiveMessage(java.time.Duration.ofMinutes(5));
        assertTrue(lwk.console().text().contains("RESULT name=sieve n=1000000 primes=78498 largest=999983 ok=1"), lwk.console().text());
        assertEquals(VmReport.Reason.GUEST_EXIT, report.reason(), report.message());
        assertTrue(answered[0] >= 5 && answered[1] >= 5, answered[0] + " and " + answered[1] + " calls answered");
        assertEquals(answered[0], report.vcpus().get(0).symcalls().calls());
    }
}
