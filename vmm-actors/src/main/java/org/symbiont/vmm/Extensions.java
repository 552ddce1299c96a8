package org.symbiont.vmm;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.symbiont.devices.MsrDevice.MsrAccessRefused;

/**
 * VMM extensions a VM is created with: hypercall handlers by number (VMCALL/VMMCALL with the
 * number in RAX; an unknown number returns -1 in RAX), CPUID leaves answered in place of the CPU
 * model, MSRs the VMM holds (after the local APIC's), and hooks run once the machine exists. The
 * symbiotic interfaces (module symbiotic) plug in here. Hooks that keep per-VM state need an
 * instance per VM.
 */
public final class Extensions {
    /**
     * Handles one hypercall: reads and updates the vCPU's general registers (RAX..R15 by number).
     * Returns null when done, or a stage whose completion lets the vCPU go on (a handler that asks
     * the guest something first, by a SymCall); the registers are written back then.
     */
    @FunctionalInterface
    public interface HypercallHandler {
        CompletionStage<?> handle(int vcpu, long[] gprs);
    }

    /** Answers a CPUID leaf as {eax, ebx, ecx, edx}, or returns null to leave it to the model. */
    @FunctionalInterface
    public interface CpuidHook {
        int[] answer(int vcpu, int leaf, int subleaf);
    }

    /** An MSR held by the VMM; either access may throw {@link MsrAccessRefused} (the guest gets #GP). */
    public interface MsrHook {
        long read(int vcpu);

        void write(int vcpu, long value);
    }

    /** Run on the VM's thread once its machine is built, before the first instruction. */
    @FunctionalInterface
    public interface StartHook {
        void started(VmHandle vm);
    }

    private final Map<Long, HypercallHandler> hypercalls = new HashMap<>();
    private final List<CpuidHook> cpuidHooks = new ArrayList<>();
    private final Map<Integer, MsrHook> msrs = new HashMap<>();
    private final List<StartHook> startHooks = new ArrayList<>();

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

    public Extensions msr(int number, MsrHook hook) {
        if (msrs.putIfAbsent(number, hook) != null) {
            throw new IllegalArgumentException(String.format("MSR %#x already has a hook", number));
        }
        return this;
    }

    public Extensions onStart(StartHook hook) {
        startHooks.add(hook);
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

    MsrHook msr(int number) {
        return msrs.get(number);
    }

    void started(VmHandle vm) {
        for (StartHook h : startHooks) h.started(vm);
    }
}
