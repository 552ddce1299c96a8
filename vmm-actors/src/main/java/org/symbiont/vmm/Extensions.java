package org.symbiont.vmm;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.symbiont.devices.MsrDevice.MsrAccessRefused;
import org.symbiont.x86.snapshot.SnapshotException;

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

    /** The guest's side of SwapBypass (Palacios 6.11), from the symbiotic interfaces. */
    public interface SwapGuest {
        /** The swap area the guest published (SymSpy), or null before it did or without swap. */
        SwapArea swapArea();

        /** The MEM_LOOKUP SymCall on {@code vcpu} for user address {@code vaddr} whose PTE is swap entry {@code pte}. */
        CompletionStage<SymCallResult> memLookup(int vcpu, long vaddr, long pte);
    }

    /**
     * State a hook keeps beyond the machine (registrations the guest made through MSRs, pages it
     * named), saved in a VM snapshot as section {@code ext.<name>} and put back, after the
     * machine's, when the VM is restored; a malformed body is a {@link SnapshotException}.
     */
    public interface StateHook {
        byte[] save();

        void restore(byte[] body) throws SnapshotException;
    }

    /** A guest swap area: the type field of its swap entries, its first disk sector, and its slots. */
    public record SwapArea(long type, long firstSector, long pages) {}

    private final Map<Long, HypercallHandler> hypercalls = new HashMap<>();
    private SwapGuest swapGuest;
    private final List<CpuidHook> cpuidHooks = new ArrayList<>();
    private final Map<Integer, MsrHook> msrs = new HashMap<>();
    private final List<StartHook> startHooks = new ArrayList<>();
    private final Map<String, StateHook> states = new LinkedHashMap<>();

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

    public Extensions swapGuest(SwapGuest guest) {
        if (swapGuest != null) throw new IllegalArgumentException("the swap guest is already set");
        swapGuest = guest;
        return this;
    }

    SwapGuest swapGuest() {
        return swapGuest;
    }

    public Extensions state(String name, StateHook hook) {
        if (states.putIfAbsent(name, hook) != null) throw new IllegalArgumentException("state " + name + " already has a hook");
        return this;
    }

    /** The state hooks by name, in the order added. */
    Map<String, StateHook> states() {
        return states;
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
