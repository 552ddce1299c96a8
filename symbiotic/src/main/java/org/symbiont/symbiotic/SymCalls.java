package org.symbiont.symbiotic;

import static org.symbiont.symbiotic.SymbioticAbi.*;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.symbiont.vmm.SymCallError;
import org.symbiont.vmm.SymCallRequest;
import org.symbiont.vmm.SymCallResult;
import org.symbiont.vmm.VcpuActor;
import org.symbiont.vmm.VirtualTime;
import org.symbiont.vmm.VmHandle;

/**
 * SymCalls into one VM's guest (Palacios 6.6-6.8) as asks to the vCPU actor. Usable from any
 * thread, in particular from a VMM handler while the vCPU waits for that handler's answer (the
 * case of SwapBypass asking MEM_LOOKUP during a paging exit): the handler must then answer its
 * exit only once the stage completed, never block its thread on it.
 *
 * <p>Every call ends with a {@link SymCallResult}: {@link SymCallResult.Ok} with RBX..RDI as
 * the guest returned them, or a {@link SymCallError} (not enabled on that vCPU, one already
 * running there, a bad registered entry, the budget spent, the guest's errno, a fault in the
 * handler, the VM stopped or reset). The interrupted context is restored in every case.
 */
public final class SymCalls {
    /**
     * Host time an ask may take before its stage fails with a timeout. The vCPU answers every
     * call (its budget is virtual time); this only bounds a VM that stops answering altogether.
     */
    private static final Duration ASK_TIMEOUT = Duration.ofMinutes(30);

    private final Symbiotic symbiotic;
    private final VmHandle vm;

    SymCalls(Symbiotic symbiotic, VmHandle vm) {
        this.symbiotic = symbiotic;
        this.vm = vm;
    }

    /** As {@link #call(int, long, long[], long)} with the configured budget ({@code symbiotic.symcall-budget}). */
    public CompletionStage<SymCallResult> call(int vcpu, long callNumber, long[] args) {
        return call(vcpu, callNumber, args, defaultBudgetCycles());
    }

    /**
     * Calls {@code callNumber} on {@code vcpu} with RBX..RDI = {@code args} (five of them), for
     * at most {@code budgetCycles} virtual cycles of the guest's handler.
     */
    public CompletionStage<SymCallResult> call(int vcpu, long callNumber, long[] args, long budgetCycles) {
        if (vcpu < 0 || vcpu >= vm.vcpuCount()) throw new IllegalArgumentException("no vCPU " + vcpu + " in " + vm.config().name());
        Symbiotic.SymCallEntry e = symbiotic.entry(vcpu);
        SymCallRequest request = new SymCallRequest(e.rip(), e.rsp(), (int) e.cs(), e.gsBase(), e.fsBase(), callNumber, args,
                budgetCycles, SYMCALL_RET_HCALL, SYMCALL_ERR_HCALL, flags(vcpu));
        CompletionStage<SymCallResult> asked = AskPattern.ask(vm.vcpu(vcpu),
                (ActorRef<SymCallResult> replyTo) -> new VcpuActor.SymCall(request, replyTo), ASK_TIMEOUT, vm.scheduler());
        // A VM that ended answers nothing more (an ask to its stopped vCPU fails at once): the call ends with it.
        SymCallError stopped = SymCallError.of(SymCallError.Reason.VM_STOPPED, "the VM " + vm.config().name() + " has ended");
        CompletableFuture<SymCallResult> result = new CompletableFuture<>();
        asked.whenComplete((r, failure) -> {
            if (failure == null) result.complete(r);
            else if (vm.whenEnded().toCompletableFuture().isDone()) result.complete(stopped);
            else result.completeExceptionally(failure);
        });
        vm.whenEnded().thenRun(() -> result.complete(stopped));
        return result;
    }

    /** TEST (call 1): returns RBX+1, RCX+2, RDX+3, RSI+4, RDI+5. */
    public CompletionStage<SymCallResult> test(int vcpu, long rbx, long rcx, long rdx, long rsi, long rdi) {
        return call(vcpu, SYMCALL_TEST, new long[] {rbx, rcx, rdx, rsi, rdi});
    }

    /**
     * MEM_LOOKUP (call 10, the paper's query_vaddr): what the guest knows of {@code vaddr} in its
     * current process given the swap PTE the VMM found. See symbiotic.h for the result registers.
     */
    public CompletionStage<SymCallResult> memLookup(int vcpu, long vaddr, long pte) {
        return call(vcpu, SYMCALL_MEM_LOOKUP, new long[] {vaddr, pte, 0, 0, 0});
    }

    /** The configured budget in virtual cycles. */
    public long defaultBudgetCycles() {
        return VirtualTime.nanosToCycles(vm.config().symbiotic().symcallBudgetNanos(), vm.tscHz());
    }

    /** The enabled check reads the guest's bit (and the configuration); active is the VMM's bit (6.3). */
    private SymCallRequest.Flags flags(int vcpu) {
        SymSpy spy = symbiotic.symSpy();
        boolean configured = symbiotic.enabled();
        return new SymCallRequest.Flags() {
            @Override
            public boolean enabled() {
                return configured && spy.symcallEnabled(vcpu);
            }

            @Override
            public void setActive(boolean active) {
                spy.setActive(vcpu, active);
            }
        };
    }

    /** Whether a result is the error {@code reason} (for callers that only branch on it). */
    public static boolean failedWith(SymCallResult r, SymCallError.Reason reason) {
        return r instanceof SymCallError e && e.reason() == reason;
    }
}
