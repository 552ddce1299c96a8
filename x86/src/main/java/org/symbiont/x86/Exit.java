package org.symbiont.x86;

/**
 * Why {@link Cpu#run(long)} returned. Exits that need an answer from the VMM (port and MMIO
 * reads, CPUID, MSR accesses the core does not implement, hypercalls) leave RIP at the exiting
 * instruction; the VMM completes them through the matching {@code Cpu.complete...} method and the
 * instruction then finishes on the next {@code run}, so a guest never observes the exit.
 */
public sealed interface Exit {

    /** IN or INS: the VMM answers with {@link Cpu#completeRead(long)}. */
    record PortIn(int port, int size) implements Exit {}

    /** OUT or OUTS: the VMM acknowledges with {@link Cpu#completeWrite()}. */
    record PortOut(int port, int size, long value) implements Exit {}

    /** A read of guest-physical memory that is not RAM: answered with {@link Cpu#completeRead(long)}. */
    record MmioRead(long address, int size) implements Exit {}

    /** A write of guest-physical memory that is not RAM: acknowledged with {@link Cpu#completeWrite()}. */
    record MmioWrite(long address, int size, long value) implements Exit {}

    /** CPUID: answered with {@link Cpu#completeCpuid(int, int, int, int)}. */
    record Cpuid(int leaf, int subleaf) implements Exit {}

    /** RDMSR of an MSR the core does not hold: {@link Cpu#completeRead(long)} or {@link Cpu#failMsr()}. */
    record Rdmsr(int msr) implements Exit {}

    /** WRMSR of an MSR the core does not hold: {@link Cpu#completeWrite()} or {@link Cpu#failMsr()}. */
    record Wrmsr(int msr, long value) implements Exit {}

    /**
     * VMCALL or VMMCALL with the call number in RAX. The VMM reads and sets registers, then calls
     * {@link Cpu#completeHypercall()}.
     */
    record Hypercall(long number) implements Exit {}

    /**
     * MOV to CR8 when the VMM keeps the task priority in a local APIC ({@link Cpu#cr8Exits}):
     * the new priority (TPR bits 7:4, SDM Vol. 3A 11.8.6); acknowledged with
     * {@link Cpu#completeWrite()}, after which the core holds the value in CR8 as well.
     */
    record Cr8Write(long priority) implements Exit {}

    /** HLT retired; the vCPU sleeps until an interrupt is injected. */
    record Halt() implements Exit {}

    /** The guest became interruptible while the VMM asked to be told ({@link Cpu#setInterruptWindowExiting}). */
    record InterruptWindow() implements Exit {}

    /** The instruction budget given to {@code run} is spent. */
    record BudgetExhausted() implements Exit {}

    /**
     * The second translation stage (shadow or nested paging) has no mapping for a guest access.
     * The VMM installs one, or injects a fault, then runs again; the access is retried.
     */
    record PagingFault(long linearAddress, long guestPhysical, int access) implements Exit {}

    /**
     * Shadow paging: no shadow entry permits this access ({@code access} is one of
     * {@link Cpu#ACCESS_READ}, {@link Cpu#ACCESS_WRITE}, {@link Cpu#ACCESS_FETCH}; {@code user}
     * whether it is made at user privilege). The VMM calls
     * {@link org.symbiont.x86.mmu.ShadowPager#handleFault} then {@link Cpu#completePagingFault()};
     * the access is retried, or raises the guest's #PF if the pager found the guest faults.
     */
    record ShadowFault(long linear, int access, boolean user) implements Exit {}

    /**
     * Shadow paging: MOV to CR3 took effect ({@code cr3} is the new value). The VMM calls
     * {@link org.symbiont.x86.mmu.ShadowPager#cr3Written} then {@link Cpu#completePagingFault()}.
     */
    record ShadowCr3Write(long cr3) implements Exit {}

    /**
     * Shadow paging: INVLPG (or INVPCID for one address) of {@code linear}, already done in the
     * TLB. The VMM calls {@link org.symbiont.x86.mmu.ShadowPager#invlpg} then
     * {@link Cpu#completePagingFault()}.
     */
    record ShadowInvlpg(long linear) implements Exit {}

    /**
     * Cached shadow paging: a guest write of {@code size} bytes at {@code guestPhysical} hit a guest
     * page-table page the VMM write-protected. The VMM calls
     * {@link org.symbiont.x86.mmu.ShadowPager#pageTableWritten} then {@link Cpu#completePagingFault()},
     * and the write is done.
     */
    record ShadowPageTableWrite(long guestPhysical, int size) implements Exit {}

    /**
     * An exception the guest raised while {@link Cpu#exceptionExiting} was set, not delivered
     * (as a VMX exception bitmap would exit, SDM Vol. 3C, 25.2): RIP is the faulting instruction.
     * Not a pending exit: nothing completes it.
     */
    record ExceptionIntercepted(int vector, int errorCode, long rip) implements Exit {}

    /** A fault while delivering a double fault: the processor shuts down (SDM Vol. 3A, 6.15, #DF). */
    record TripleFault(String reason) implements Exit {}

    Halt HALT = new Halt();
    InterruptWindow INTERRUPT_WINDOW = new InterruptWindow();
    BudgetExhausted BUDGET_EXHAUSTED = new BudgetExhausted();
}
