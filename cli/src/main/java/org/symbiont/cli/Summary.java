package org.symbiont.cli;

import java.util.Map;
import java.util.TreeMap;
import org.symbiont.vmm.VcpuReport;
import org.symbiont.vmm.VmReport;
import org.symbiont.x86.mmu.PagingStats;

/** The per-guest summary printed at the end of a run: instructions, speed, exits by reason, virtual time, paging. */
final class Summary {
    private Summary() {}

    static String of(VmReport r) {
        StringBuilder b = new StringBuilder();
        b.append(String.format("%s: %s; %,d instructions", r.vm(), describe(r), r.retired()));
        if (r.wallNanos() > 0) b.append(String.format(" in %.2f s (%.0f MIPS)", r.wallNanos() / 1e9, r.mips()));
        b.append(String.format(", virtual time %.6f s%n", r.virtualNanos() / 1e9));
        Map<String, long[]> exits = new TreeMap<>();
        for (VcpuReport v : r.vcpus()) {
            v.exits().forEach((reason, s) -> {
                long[] t = exits.computeIfAbsent(reason, k -> new long[2]);
                t[0] += s.count();
                t[1] += s.handlerNanos();
            });
        }
        if (!exits.isEmpty()) {
            b.append("  exits:");
            exits.forEach((reason, t) -> {
                b.append(String.format(" %s %,d", reason, t[0]));
                if (t[1] > 0 && t[0] > 0) b.append(String.format(" (%,d ns each)", t[1] / t[0]));
                b.append(';');
            });
            b.setLength(b.length() - 1);
            b.append('\n');
        }
        if (!r.vcpus().isEmpty()) {
            PagingStats p = r.paging();
            b.append(String.format("  paging: %,d walks (%,d references), %,d TLB flushes, %,d CR3 writes", p.walks(), p.walkReferences(),
                    p.tlbFlushes(), p.cr3Writes()));
            if (p.shadowFaults() > 0) {
                b.append(String.format(", %,d shadow faults (%,d guest #PF injected, %,d page-table writes)", p.shadowFaults(),
                        p.guestFaultsInjected(), p.pageTableWrites()));
            }
            if (p.nestedFaults() > 0) b.append(String.format(", %,d nested faults", p.nestedFaults()));
            b.append('\n');
        }
        return b.toString();
    }

    private static String describe(VmReport r) {
        return switch (r.reason()) {
            case GUEST_EXIT -> "guest exited with status " + r.guestStatus();
            case STOPPED -> "stopped (" + r.message() + ")";
            case TRIPLE_FAULT -> "triple fault";
            case HALTED -> "halted with interrupts off";
            case VMM_ERROR -> "VMM error";
            case CONFIG_ERROR -> "configuration error";
            case RUNNING -> "running";
            case PAUSED -> "paused";
        };
    }
}
