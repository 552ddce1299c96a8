package org.symbiont.vmm;

import java.util.Map;

/**
 * A vCPU's counters and state: retired instructions, virtual cycles, exits by reason with the
 * total host time spent handling them, and a register dump with its most recent exits.
 */
public record VcpuReport(int id, long retired, long virtualCycles, Map<String, ExitStats> exits, String state) {
    public record ExitStats(long count, long handlerNanos) {}

    public long totalExits() {
        return exits.values().stream().mapToLong(ExitStats::count).sum();
    }
}
