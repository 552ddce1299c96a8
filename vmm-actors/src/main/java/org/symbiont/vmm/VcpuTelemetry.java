package org.symbiont.vmm;

import java.util.Map;
import java.util.TreeMap;
import org.symbiont.x86.Exit;

/** Per-vCPU exit counts by reason and the wall time their handling took (never guest-visible). */
final class VcpuTelemetry {
    private final Map<String, long[]> byReason = new TreeMap<>();

    private static String reason(Exit e) {
        return e.getClass().getSimpleName();
    }

    void count(Exit e) {
        byReason.computeIfAbsent(reason(e), k -> new long[2])[0]++;
    }

    void handled(Exit e, long nanos) {
        byReason.computeIfAbsent(reason(e), k -> new long[2])[1] += nanos;
    }

    Map<String, VcpuReport.ExitStats> snapshot() {
        Map<String, VcpuReport.ExitStats> m = new TreeMap<>();
        byReason.forEach((k, v) -> m.put(k, new VcpuReport.ExitStats(v[0], v[1])));
        return m;
    }
}
