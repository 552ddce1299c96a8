package org.symbiont.vmm;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * VMM extensions a VM is created with: hypercall handlers by number (VMCALL/VMMCALL with the
 * number in RAX; an unknown number returns -1 in RAX) and CPUID leaves answered in place of the
 * CPU model. The symbiotic interfaces plug in here.
 */
public final class Extensions {
    /** Handles one hypercall: reads and updates the vCPU's general registers (RAX..R15 by number). */
    @FunctionalInterface
    public interface HypercallHandler {
        void handle(int vcpu, long[] gprs);
    }

    /** Answers a CPUID leaf as {eax, ebx, ecx, edx}, or returns null to leave it to the model. */
    @FunctionalInterface
    public interface CpuidHook {
        int[] answer(int vcpu, int leaf, int subleaf);
    }

    private final Map<Long, HypercallHandler> hypercalls = new HashMap<>();
    private final List<CpuidHook> cpuidHooks = new ArrayList<>();

    public static Extensions none() {
        return new Extensions();
    }

    public Extensions hypercall(long number, HypercallHandler handler) {
        if (hypercalls.putIfAbsent(number, handler) != null) {
            throw new IllegalArgumentException("hypercall " + number + " already has a handler");
        }
        return this;
    }

    public Extensions cpuid(CpuidHook hook) {
        cpuidHooks.add(hook);
        return this;
    }

    HypercallHandler hypercall(long number) {
        return hypercalls.get(number);
    }

    int[] cpuidOverride(int vcpu, int leaf, int subleaf) {
        for (CpuidHook h : cpuidHooks) {
            int[] r = h.answer(vcpu, leaf, subleaf);
            if (r != null) return r;
        }
        return null;
    }
}
