package org.symbiont.symbiotic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.SymCallError;
import org.symbiont.vmm.SymCallResult;
import org.symbiont.vmm.VcpuReport;
import org.symbiont.vmm.VmReport;
import org.symbiont.x86.Asm;

/**
 * SymCall as a nested ask, against {@link SymGuest}: every restriction (not enabled, already
 * active, budget exceeded, a fault in the handler, injection deferred) and the interrupted context
 * restored on success, error and abort, both when the call comes from the handler of a pending
 * exit (the guest's hypercalls) and between slices while the guest computes.
 */
class SymCallSpec {
    private static final ActorTestKit kit = ActorTestKit.create();

    @BeforeAll
    static void gnuAs() {
        Asm.assumeAvailable();
    }

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    private static long code(SymCallError.Reason r, long detail) {
        return SymGuest.errorCode(new SymCallError(r, detail, ""));
    }

    private static SymbioticVm start(String name, String hocon) {
        Extensions ext = Extensions.none();
        Symbiotic sym = Symbiotic.install(ext);
        // Hypercall 0x5000 + n: SymCall n from the handler while the hypercall waits (SymGuest's contract).
        for (int n = 1; n <= 9; n++) {
            int call = n;
            ext.hypercall(0x5000 + n, (vcpu, gprs) -> sym.symCalls()
                    .call(vcpu, call, new long[] {gprs[RBX], gprs[RCX], gprs[RDX], gprs[RSI], gprs[RDI]})
                    .thenAccept(r -> {
                        switch (r) {
                            case SymCallResult.Ok ok -> {
                                gprs[RAX] = 0;
                                gprs[RBX] = ok.rbx();
                                gprs[RCX] = ok.rcx();
                                gprs[RDX] = ok.rdx();
                                gprs[RSI] = ok.rsi();
                                gprs[RDI] = ok.rdi();
                            }
                            case SymCallError e -> gprs[RAX] = SymGuest.errorCode(e);
                        }
                    }));
        }
        String source = SymGuest.source(code(SymCallError.Reason.NOT_ENABLED, 0), code(SymCallError.Reason.BUDGET_EXCEEDED, 0),
                code(SymCallError.Reason.GUEST_FAULT, EXC_UD), code(SymCallError.Reason.GUEST_ERROR, SymbioticAbi.SYM_ENOSYS));
        return SymbioticVm.start(kit, name, hocon, source, ext, sym);
    }

    private static SymCallResult await(CompletionStage<SymCallResult> s) throws Exception {
        return s.toCompletableFuture().get(1, TimeUnit.MINUTES);
    }

    private static final String ENABLED = "symbiotic { enabled = true, symcall-budget = 1ms }";

    @Test
    void everyRestrictionFromAPendingExitAndTheGuestComputesCorrectlyUnderCalls() throws Exception {
        restrictionsAndLoad("restrictions", ENABLED);
    }

    @Test
    void theSameWithTheVcpuOnAThreadOfItsOwn() throws Exception {
        restrictionsAndLoad("restrictions-parallel", ENABLED + "\nmode = parallel");
    }

    private static void restrictionsAndLoad(String name, String hocon) throws Exception {
        SymbioticVm vm = start(name, hocon);
        vm.awaitConsole("phase1 ok");
        SymCalls calls = vm.calls();
        assertTrue(vm.symbiotic().symSpy().symcallEnabled(0));
        assertFalse(vm.symbiotic().symSpy().symcallActive(0));
        assertEquals(SymGuest.LOCAL, vm.symbiotic().symSpy().localPage(0));
        assertEquals(SymGuest.GLOBAL, vm.symbiotic().symSpy().globalPage());

        // One call at a time per vCPU: the second arrives while the first loops.
        CompletionStage<SymCallResult> looping = calls.call(0, 2, new long[5]);
        CompletionStage<SymCallResult> second = calls.test(0, 1, 2, 3, 4, 5);
        SymCallResult first = await(looping);
        assertTrue(SymCalls.failedWith(first, SymCallError.Reason.BUDGET_EXCEEDED), first.toString());
        SymCallResult refused = await(second);
        assertTrue(SymCalls.failedWith(refused, SymCallError.Reason.ALREADY_ACTIVE), refused.toString());

        // The VMM calls TEST over and over while the guest computes.
        for (int k = 0; k < 200; k++) {
            SymCallResult r = await(calls.test(0, k, 2L * k, 3L * k, 4L * k, 0xFFFF_FFF0L));
            // A 32-bit guest: results are 32 bits wide.
            assertEquals(List.of(k + 1L, 2L * k + 2, 3L * k + 3, 4L * k + 4, 0xFFFF_FFF5L), assertInstanceOf(SymCallResult.Ok.class, r).registers(), "call " + k);
        }
        SymCallResult fault = await(calls.call(0, 3, new long[5]));
        assertEquals(new SymCallError(SymCallError.Reason.GUEST_FAULT, EXC_UD, ((SymCallError) fault).detail()), fault);
        SymCallResult enosys = await(calls.call(0, 99, new long[5]));
        assertEquals(SymCallError.Reason.GUEST_ERROR, ((SymCallError) enosys).reason());
        assertEquals(SymbioticAbi.SYM_ENOSYS, ((SymCallError) enosys).code());
        assertInstanceOf(SymCallResult.Ok.class, await(calls.call(0, 7, new long[5])), "stop the workload");

        VmReport report = vm.reports().receiveMessage(SymbioticVm.VM_ENDS);
        assertEquals(1, report.guestStatus(), report.message() + "\n" + vm.console().text());
        String[] lines = vm.console().text().strip().split("\n");
        String[] f = lines[lines.length - 1].trim().split(" ");
        long n = Long.parseUnsignedLong(f[0], 16);
        long mask = 0xFFFF_FFFFL;
        assertTrue(n > 0);
        assertEquals(n * (n + 1) / 2 & mask, Long.parseLong(f[1], 16), "sum of 1..n");
        assertEquals(java.math.BigInteger.valueOf(n).multiply(java.math.BigInteger.valueOf(n + 1))
                .multiply(java.math.BigInteger.valueOf(n + 2)).divide(java.math.BigInteger.valueOf(6)).longValue() & mask,
                Long.parseLong(f[2], 16), "sum of the sums");
        assertEquals(n * (n + 1) & mask, Long.parseLong(f[3], 16), "sum of 2k");

        VcpuReport.SymCallStats stats = report.vcpus().getFirst().symcalls();
        // The guest's script: 8 calls; here: 2 + 200 + 3.
        assertEquals(8 + 205, stats.calls());
        assertEquals(1, stats.errors().get("NOT_ENABLED"));
        assertEquals(1, stats.errors().get("ALREADY_ACTIVE"));
        assertEquals(2, stats.errors().get("BUDGET_EXCEEDED"));
        assertEquals(2, stats.errors().get("GUEST_FAULT"));
        assertEquals(2, stats.errors().get("GUEST_ERROR"));
        assertTrue(stats.maxCycles() >= 2_000_000, "a budget of 1 ms at 2 GHz: " + stats.maxCycles());
        assertTrue(report.toJson().contains("\"symcalls\": {\"calls\": 213"), report.toJson());
    }

    @Test
    void withTheInterfacesOffTheLeafAndMsrsAreAbsent() throws Exception {
        SymbioticVm vm = start("off", "");
        VmReport report = vm.reports().receiveMessage(SymbioticVm.VM_ENDS);
        assertEquals(3, report.guestStatus(), "discovery fails: " + vm.console().text());
        assertTrue(vm.console().text().contains("FAIL"));
        SymCallResult r = await(vm.calls().test(0, 0, 0, 0, 0, 0));
        assertTrue(SymCalls.failedWith(r, SymCallError.Reason.VM_STOPPED), r.toString());
    }
}
