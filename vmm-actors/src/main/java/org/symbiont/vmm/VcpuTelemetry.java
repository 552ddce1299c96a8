package org.symbiont.vmm;

import java.util.Map;
import java.util.TreeMap;
import org.symbiont.x86.Exit;

/**
 * Per-vCPU exit counts by reason and the host time their handling took (never guest-visible).
 * Counted on every exit, so kept in arrays indexed by the kind of exit, named only for a report.
 */
final class VcpuTelemetry {
    private static final String[] NAMES = {"PortIn", "PortOut", "MmioRead", "MmioWrite", "Cpuid", "Rdmsr", "Wrmsr", "Hypercall",
        "Halt", "InterruptWindow", "BudgetExhausted", "PagingFault", "TripleFault", "Cr8Write", "ShadowFault", "ShadowCr3Write",
        "ShadowInvlpg", "ShadowPageTableWrite", "ExceptionIntercepted"};
    private final long[] counts = new long[NAMES.length];
    private final long[] handlerNanos = new long[NAMES.length];

    private static int kind(Exit e) {
        return switch (e) {
            case Exit.PortIn x -> 0;
            case Exit.PortOut x -> 1;
            case Exit.MmioRead x -> 2;
            case Exit.MmioWrite x -> 3;
            case Exit.Cpuid x -> 4;
            case Exit.Rdmsr x -> 5;
            case Exit.Wrmsr x -> 6;
            case Exit.Hypercall x -> 7;
            case Exit.Halt x -> 8;
            case Exit.InterruptWindow x -> 9;
            case Exit.BudgetExhausted x -> 10;
            case Exit.PagingFault x -> 11;
            case Exit.TripleFault x -> 12;
            case Exit.Cr8Write x -> 13;
            case Exit.ShadowFault x -> 14;
            case Exit.ShadowCr3Write x -> 15;
            case Exit.ShadowInvlpg x -> 16;
            case Exit.ShadowPageTableWrite x -> 17;
            case Exit.ExceptionIntercepted x -> 18;
        };
    }

    private long symcalls, symcallCycles, symcallMaxCycles;
    private final Map<SymCallError.Reason, Long> symcallErrors = new java.util.EnumMap<>(SymCallError.Reason.class);

    /** A SymCall ended after {@code cycles} virtual cycles (refused ones count with 0). */
    void symcall(SymCallResult result, long cycles) {
        symcalls++;
        symcallCycles += cycles;
        symcallMaxCycles = Math.max(symcallMaxCycles, cycles);
        if (result instanceof SymCallError e) symcallErrors.merge(e.reason(), 1L, Long::sum);
    }

    VcpuReport.SymCallStats symcalls() {
        Map<String, Long> errors = new TreeMap<>();
        symcallErrors.forEach((r, n) -> errors.put(r.name(), n));
        return new VcpuReport.SymCallStats(symcalls, symcallCycles, symcallMaxCycles, errors);
    }

    void count(Exit e) {
        counts[kind(e)]++;
    }

    void handled(Exit e, long nanos) {
        handlerNanos[kind(e)] += nanos;
    }

    Map<String, VcpuReport.ExitStats> snapshot() {
        Map<String, VcpuReport.ExitStats> m = new TreeMap<>();
        for (int k = 0; k < NAMES.length; k++) {
            if (counts[k] > 0) m.put(NAMES[k], new VcpuReport.ExitStats(counts[k], handlerNanos[k]));
        }
        return m;
    }
}
