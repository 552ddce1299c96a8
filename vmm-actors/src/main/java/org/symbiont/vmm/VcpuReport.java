package org.symbiont.vmm;

import java.util.Map;
import org.symbiont.x86.mmu.PagingStats;

/**
 * A vCPU's counters and state: retired instructions, virtual cycles, exits by reason with the
 * total host time spent handling them, its MMU's paging counters, and a register dump with its
 * most recent exits.
 */
public record VcpuReport(int id, long retired, long virtualCycles, Map<String, ExitStats> exits, PagingStats paging, String state) {
    public record ExitStats(long count, long handlerNanos) {}

    public long totalExits() {
        return exits.values().stream().mapToLong(ExitStats::count).sum();
    }
}
