/*
 * SymCall entry (include/lwk/symbiotic.h; Palacios, ../shared/reference/palacios.md 6.4-6.8).
 *
 * The VMM enters at CPL 0 with RSP = this CPU's symcall stack top (SYMCALL_RSP_MSR), GS base =
 * its struct cpu, in the address space of whatever it interrupted, RAX = call number, RBX, RCX,
 * RDX, RSI, RDI = arguments, and injects no interrupt until the return hypercall. RFLAGS is as
 * the guest left it: nothing here sets IF, and DF is cleared for C (and restored).
 *
 * The stub saves RFLAGS, RBP and R8-R11 (what the C code may clobber beyond the result
 * registers; it keeps RBX, RBP, R12-R15 itself), passes the six registers to
 * symcall_dispatch(struct symcall_regs *) on a 16-byte aligned stack, which turns them into the
 * hypercall number (RAX) and results (RBX..RDI), and executes the return hypercall with every
 * other register, RSP and RFLAGS as at entry. The VMM does not resume after it: it restores the
 * context it interrupted (6.7 step 6).
 */
.macro symcall_entry name, hypercall
        .globl \name
\name:
        pushfq
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        movq %rsp, %rbp
        subq $48, %rsp
        andq $-16, %rsp
        movq %rax, 0(%rsp)
        movq %rbx, 8(%rsp)
        movq %rcx, 16(%rsp)
        movq %rdx, 24(%rsp)
        movq %rsi, 32(%rsp)
        movq %rdi, 40(%rsp)
        movq %rsp, %rdi
        cld
        call symcall_dispatch
        movq 0(%rsp), %rax
        movq 8(%rsp), %rbx
        movq 16(%rsp), %rcx
        movq 24(%rsp), %rdx
        movq 32(%rsp), %rsi
        movq 40(%rsp), %rdi
        movq %rbp, %rsp
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popfq
        \hypercall
        ud2                             /* not reached: a VMM that resumed here gets a fault report */
.endm

        .text
        symcall_entry symcall_entry_vmcall, vmcall
        symcall_entry symcall_entry_vmmcall, vmmcall

        .section .note.GNU-stack, "", @progbits
