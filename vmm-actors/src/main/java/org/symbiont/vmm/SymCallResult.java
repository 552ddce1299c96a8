package org.symbiont.vmm;

/** How a SymCall ended: {@link Ok} with the guest's results, or a {@link SymCallError}. */
public sealed interface SymCallResult permits SymCallResult.Ok, SymCallError {

    /**
     * The guest returned (hypercall SYMCALL_RET): RBX, RCX, RDX, RSI and RDI as it left them; the
     * call took {@code virtualCycles} of the vCPU's virtual time and {@code hostNanos} of host time
     * from its entry into the guest to the return (exits it made included).
     */
    record Ok(long rbx, long rcx, long rdx, long rsi, long rdi, long virtualCycles, long hostNanos) implements SymCallResult {
        /** The five result registers, RBX to RDI. */
        public java.util.List<Long> registers() {
            return java.util.List.of(rbx, rcx, rdx, rsi, rdi);
        }
    }
}
