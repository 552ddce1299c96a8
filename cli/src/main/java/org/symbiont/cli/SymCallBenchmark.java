package org.symbiont.cli;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.symbiont.guests.GuestImages;
import org.symbiont.symbiotic.Symbiotic;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.SymCallResult;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;

/**
 * The latency of a SymCall into the lightweight kernel: TEST and MEM_LOOKUP, each called many
 * times from the VMM while the guest runs a swapping workload. Per call: the virtual cycles the
 * guest spent in it and the host time from its entry into the guest to its return (what a VMM
 * handler waiting on it pays), and the round trip seen by the caller, which also waits for the
 * vCPU to reach the end of the slice it is running.
 */
final class SymCallBenchmark {
    private SymCallBenchmark() {}

    /** A user address the kernel's MEM_LOOKUP resolves through the current process's regions. */
    private static final long LOOKUP_ADDRESS = 0x0000_0100_0000_0000L;

    static void run(int calls) throws IOException, InterruptedException {
        Path kernel = Files.createTempFile("lwk", ".bin");
        kernel.toFile().deleteOnExit();
        Files.write(kernel, GuestImages.lwk());
        VmConfig config = VmConfig.from(ConfigFactory.parseString("""
                name = symcall-bench
                memory = 32M
                symbiotic.enabled = true
                devices += { name = swap0, type = virtio-blk, size = 64M }
                kernel.file = "%s"
                kernel.append = "memperf mb=48 passes=1000 quiet"
                """.formatted(kernel)), "symcall benchmark");
        Extensions extensions = Extensions.none();
        Symbiotic symbiotic = Symbiotic.install(extensions);
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, extensions, new CharBackends.Capture()))) {
            await(symbiotic.started());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!symbiotic.symSpy().symcallEnabled(0)) {
                if (System.nanoTime() > deadline || vm.report().isDone()) {
                    throw new IllegalStateException("the LWK did not enable SymCalls within 60 s");
                }
                Thread.sleep(1);
            }
            System.out.printf(Locale.ROOT, "SymCall latency: %,d calls of each kind into the LWK on vCPU 0 while it swaps (memperf mb=48 in 32 MiB),"
                    + " after %,d warm-up calls.%n%n", calls, calls / 5);
            System.out.println("| call | virtual cycles: median | p99 | max | host ns in the guest: median | p99 | max | caller's round trip ns: median | p99 |");
            System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            measure("TEST", calls, k -> symbiotic.symCalls().test(0, k, 2, 3, 4, 5));
            measure("MEM_LOOKUP", calls, k -> symbiotic.symCalls().memLookup(0, LOOKUP_ADDRESS + ((long) k << 12), 0));
        }
    }

    private static void measure(String name, int calls, IntFunction<CompletionStage<SymCallResult>> call) throws InterruptedException {
        for (int k = 0; k < calls / 5; k++) ok(name, await(call.apply(k)));
        long[] cycles = new long[calls], inGuest = new long[calls], roundTrip = new long[calls];
        for (int k = 0; k < calls; k++) {
            long t0 = System.nanoTime();
            SymCallResult.Ok r = ok(name, await(call.apply(k)));
            roundTrip[k] = System.nanoTime() - t0;
            cycles[k] = r.virtualCycles();
            inGuest[k] = r.hostNanos();
        }
        System.out.printf(Locale.ROOT, "| %s | %,d | %,d | %,d | %,d | %,d | %,d | %,d | %,d |%n", name, pct(cycles, 50), pct(cycles, 99), pct(cycles, 100),
                pct(inGuest, 50), pct(inGuest, 99), pct(inGuest, 100), pct(roundTrip, 50), pct(roundTrip, 99));
    }

    private static SymCallResult.Ok ok(String name, SymCallResult r) {
        if (r instanceof SymCallResult.Ok ok) return ok;
        throw new IllegalStateException(name + " failed: " + r);
    }

    private static long pct(long[] values, int percentile) {
        long[] s = values.clone();
        Arrays.sort(s);
        int i = (int) Math.ceil(percentile / 100.0 * s.length) - 1;
        return s[Math.clamp(i, 0, s.length - 1)];
    }

    private static <T> T await(CompletionStage<T> stage) throws InterruptedException {
        try {
            return stage.toCompletableFuture().get(1, TimeUnit.MINUTES);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("a SymCall did not complete: " + e, e);
        }
    }
}
