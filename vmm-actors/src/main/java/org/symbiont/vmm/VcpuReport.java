package org.symbiont.vmm;

import java.util.Map;
import org.symbiont.x86.mmu.PagingStats;

/**
 * A vCPU's counters and state: retired instructions, virtual cycles (of which {@code stolenCycles}
 * were taken by noise), exits by reason with the
 * total host time spent handling them, its MMU's paging counters, its SymCalls, and a register
 * dump with its most recent exits.
 */
public record VcpuReport(int id, long retired, long virtualCycles, long stolenCycles, Map<String, ExitStats> exits, PagingStats paging,
                         SymCallStats symcalls, String state) {
    public record ExitStats(long count, long handlerNanos) {}

    /**
     * SymCalls made on this vCPU: how many (refused ones included), the virtual cycles they ran
     * in total and the longest, and how many ended with each {@link SymCallError.Reason}.
     */
    public record SymCallStats(long calls, long cycles, long maxCycles, Map<String, Long> errors) {}

    public long totalExits() {
        return exits.values().stream().mapToLong(ExitStats::count).sum();
    }
}
