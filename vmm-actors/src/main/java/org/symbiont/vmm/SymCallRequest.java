package org.symbiont.vmm;

/**
 * A SymCall as the symbiotic extension describes it to the vCPU (Palacios 6.6-6.7): the entry the
 * guest registered, the call number and arguments, the virtual-time budget, the hypercalls that
 * end it, and the guest's flags for this vCPU (whether the guest enabled SymCalls, checked when
 * the vCPU takes the call; the active flag it raises while the call runs).
 *
 * @param cs              the registered code selector; SS is {@code cs + 8}
 * @param args            RBX, RCX, RDX, RSI, RDI on entry
 * @param budgetCycles    virtual cycles the call may run before it is aborted
 * @param returnHypercall the hypercall number of a normal return (results in RBX..RDI)
 * @param errorHypercall  the hypercall number of an error return (RBX = errno)
 */
public record SymCallRequest(long rip, long rsp, int cs, long gsBase, long fsBase, long callNumber, long[] args,
                             long budgetCycles, long returnHypercall, long errorHypercall, Flags flags) {

    public SymCallRequest {
        if (args.length != 5) throw new IllegalArgumentException("a SymCall takes 5 arguments, got " + args.length);
        if (budgetCycles <= 0) throw new IllegalArgumentException("budget must be positive, got " + budgetCycles);
        args = args.clone();
    }

    /** The guest-visible flags of the vCPU (the local SymSpy page's enabled and active bits). */
    public interface Flags {
        boolean enabled();

        void setActive(boolean active);
    }
}
