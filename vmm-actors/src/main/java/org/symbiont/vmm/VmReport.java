package org.symbiont.vmm;

import java.util.List;
import java.util.Locale;
import org.symbiont.x86.mmu.PagingStats;

/**
 * How a VM ended and what it did: the reason, the guest's exit status (isa-debug-exit), a
 * message, each vCPU's counters and state, the final virtual time, and the host (wall-clock)
 * time it ran, which the guest never sees; SwapBypass's counters when the VM uses it, else null;
 * the faults injected into it, in the order applied.
 */
public record VmReport(String vm, Reason reason, Integer guestStatus, String message, List<VcpuReport> vcpus,
                       long virtualNanos, long wallNanos, SwapBypassStats swapBypass, List<AppliedFault> faults) {

    /** A report of a VM without SwapBypass or faults. */
    public VmReport(String vm, Reason reason, Integer guestStatus, String message, List<VcpuReport> vcpus,
                    long virtualNanos, long wallNanos) {
        this(vm, reason, guestStatus, message, vcpus, virtualNanos, wallNanos, null, List.of());
    }

    /** A fault the VMM injected: when (virtual time), its kind, and what exactly it did. */
    public record AppliedFault(long nanos, String kind, String detail) {
        @Override
        public String toString() {
            return nanos + " ns " + kind + ": " + detail;
        }
    }

    public enum Reason {
        /** The guest wrote to isa-debug-exit or powered off. */
        GUEST_EXIT,
        /** Stopped by the VMM or the user. */
        STOPPED,
        TRIPLE_FAULT,
        /** Every vCPU halted with interrupts disabled: nothing can wake it. */
        HALTED,
        /** A device failed repeatedly, the core failed, or an exit could not be handled. */
        VMM_ERROR,
        /** The configuration or the kernel image was unusable. */
        CONFIG_ERROR,
        /** Not ended: a snapshot of a running VM. */
        RUNNING,
        /** Not ended: a snapshot of a paused VM. */
        PAUSED
    }

    public long retired() {
        return vcpus.stream().mapToLong(VcpuReport::retired).sum();
    }

    /** Millions of guest instructions per host second, or 0 before the VM ran. */
    public double mips() {
        return wallNanos == 0 ? 0 : retired() * 1e3 / wallNanos;
    }

    /** The report as JSON (the --stats file). */
    public String toJson() {
        StringBuilder b = new StringBuilder();
        b.append("{\n  \"vm\": ").append(quote(vm))
                .append(",\n  \"reason\": ").append(quote(reason.name().toLowerCase(Locale.ROOT)))
                .append(",\n  \"guestStatus\": ").append(guestStatus)
                .append(",\n  \"message\": ").append(quote(message))
                .append(",\n  \"virtualNanos\": ").append(virtualNanos)
                .append(",\n  \"wallNanos\": ").append(wallNanos)
                .append(",\n  \"retired\": ").append(retired())
                .append(",\n  \"paging\": ").append(pagingJson(paging()))
                .append(",\n  \"swapBypass\": ").append(swapBypassJson(swapBypass))
                .append(",\n  \"faults\": [");
        for (int k = 0; k < faults.size(); k++) {
            AppliedFault f = faults.get(k);
            b.append(k == 0 ? "\n" : ",\n").append("    {\"nanos\": ").append(f.nanos()).append(", \"kind\": ").append(quote(f.kind()))
                    .append(", \"detail\": ").append(quote(f.detail())).append('}');
        }
        b.append(faults.isEmpty() ? "]" : "\n  ]")
                .append(",\n  \"vcpus\": [");
        for (int k = 0; k < vcpus.size(); k++) {
            VcpuReport v = vcpus.get(k);
            b.append(k == 0 ? "\n" : ",\n").append("    {\"id\": ").append(v.id())
                    .append(", \"retired\": ").append(v.retired())
                    .append(", \"virtualCycles\": ").append(v.virtualCycles())
                    .append(", \"stolenCycles\": ").append(v.stolenCycles())
                    .append(", \"paging\": ").append(pagingJson(v.paging()))
                    .append(", \"symcalls\": ").append(symcallJson(v.symcalls()))
                    .append(", \"exits\": {");
            int n = 0;
            for (var e : v.exits().entrySet()) {
                b.append(n++ == 0 ? "" : ", ").append(quote(e.getKey())).append(": {\"count\": ").append(e.getValue().count())
                        .append(", \"handlerNanos\": ").append(e.getValue().handlerNanos()).append('}');
            }
            b.append("}}");
        }
        b.append("\n  ]\n}\n");
        return b.toString();
    }

    /** The paging counters of every vCPU added up. */
    public PagingStats paging() {
        return vcpus.stream().map(VcpuReport::paging).reduce(PagingStats.NONE, PagingStats::plus);
    }

    private static String pagingJson(PagingStats p) {
        return "{\"walks\": " + p.walks() + ", \"walkReferences\": " + p.walkReferences() + ", \"tlbFlushes\": " + p.tlbFlushes()
                + ", \"cr3Writes\": " + p.cr3Writes() + ", \"invlpgs\": " + p.invlpgs() + ", \"shadowFaults\": " + p.shadowFaults()
                + ", \"shadowFills\": " + p.shadowFills() + ", \"guestFaultsInjected\": " + p.guestFaultsInjected()
                + ", \"pageTableWrites\": " + p.pageTableWrites() + ", \"nestedFaults\": " + p.nestedFaults() + "}";
    }

    private static String swapBypassJson(SwapBypassStats s) {
        if (s == null) return "null";
        return "{\"bypassedFaults\": " + s.bypassedFaults() + ", \"symcalls\": " + s.symcalls() + ", \"symcallsFailed\": "
                + s.symcallsFailed() + ", \"invalidatedBySwap\": " + s.invalidatedBySwap() + ", \"invalidatedByFlush\": "
                + s.invalidatedByFlush() + "}";
    }

    private static String symcallJson(VcpuReport.SymCallStats s) {
        StringBuilder b = new StringBuilder("{\"calls\": ").append(s.calls()).append(", \"cycles\": ").append(s.cycles())
                .append(", \"maxCycles\": ").append(s.maxCycles()).append(", \"errors\": {");
        int n = 0;
        for (var e : s.errors().entrySet()) b.append(n++ == 0 ? "" : ", ").append(quote(e.getKey())).append(": ").append(e.getValue());
        return b.append("}}").toString();
    }

    private static String quote(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
                    else b.append(ch);
                }
            }
        }
        return b.append('"').toString();
    }
}
