package org.symbiont.vmm;

/** How a SymCall ended: {@link Ok} with the guest's results, or a {@link SymCallError}. */
public sealed interface SymCallResult permits SymCallResult.Ok, SymCallError {

    /** The guest returned (hypercall SYMCALL_RET): RBX, RCX, RDX, RSI and RDI as it left them. */
    record Ok(long rbx, long rcx, long rdx, long rsi, long rdi) implements SymCallResult {}
}
