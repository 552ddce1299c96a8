package org.symbiont.vmm;

/**
 * A SymCall that did not return normally. In every case the interrupted context was restored
 * (or never left) and the guest kernel goes on as if no call had been made.
 *
 * @param code   the guest's errno for {@link Reason#GUEST_ERROR}, the exception vector for
 *               {@link Reason#GUEST_FAULT}, otherwise 0
 * @param detail what happened, for logs and reports
 */
public record SymCallError(Reason reason, long code, String detail) implements SymCallResult {

    public enum Reason {
        /** The guest has not enabled SymCalls on this vCPU (no local SymSpy page, enabled bit clear, no entry registered). */
        NOT_ENABLED,
        /** A SymCall is already running on this vCPU (one at a time, no nesting: Palacios 6.8). */
        ALREADY_ACTIVE,
        /** The registered entry cannot be loaded: its CS (or SS = CS + 8) is not a usable GDT descriptor. */
        BAD_ENTRY,
        /** The handler ran past its virtual-time budget (or halted, which no interrupt may end) and was aborted. */
        BUDGET_EXCEEDED,
        /** The handler returned an error (hypercall SYMCALL_ERR, {@code code} = errno). */
        GUEST_ERROR,
        /** The handler raised an exception that would have needed delivery through the IDT ({@code code} = vector). */
        GUEST_FAULT,
        /** The VM stopped before the call returned. */
        VM_STOPPED,
        /** The machine was reset before the call returned. */
        VM_RESET
    }

    public static SymCallError of(Reason reason, String detail) {
        return new SymCallError(reason, 0, detail);
    }
}
