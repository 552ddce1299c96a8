/*
 * dt_enter: saves the host's callee-saved registers and stack pointer, loads the complete test
 * state from the control block (XMM0-15, MXCSR, RFLAGS, all sixteen GPRs) and jumps to the
 * sequence. dt_exit: reached by the jump at DT_CODE_END when the sequence runs off its end;
 * stores the complete state back (RSP first, then switches to a private stack so the test's
 * stack and data region stay untouched), restores the host context and returns from dt_enter.
 */
#include "difftest.h"

#define C(off) (DT_CTRL + (off))

    .text
    .globl dt_enter
    .type dt_enter, @function
dt_enter:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, C(CT_HOST_RSP)
    stmxcsr C(CT_HOST_MXCSR)
    movdqu C(CT_IN_XMM + 0x00), %xmm0
    movdqu C(CT_IN_XMM + 0x10), %xmm1
    movdqu C(CT_IN_XMM + 0x20), %xmm2
    movdqu C(CT_IN_XMM + 0x30), %xmm3
    movdqu C(CT_IN_XMM + 0x40), %xmm4
    movdqu C(CT_IN_XMM + 0x50), %xmm5
    movdqu C(CT_IN_XMM + 0x60), %xmm6
    movdqu C(CT_IN_XMM + 0x70), %xmm7
    movdqu C(CT_IN_XMM + 0x80), %xmm8
    movdqu C(CT_IN_XMM + 0x90), %xmm9
    movdqu C(CT_IN_XMM + 0xa0), %xmm10
    movdqu C(CT_IN_XMM + 0xb0), %xmm11
    movdqu C(CT_IN_XMM + 0xc0), %xmm12
    movdqu C(CT_IN_XMM + 0xd0), %xmm13
    movdqu C(CT_IN_XMM + 0xe0), %xmm14
    movdqu C(CT_IN_XMM + 0xf0), %xmm15
    ldmxcsr C(CT_IN_MXCSR)
    pushq C(CT_IN_RFLAGS)
    popfq
    mov C(CT_IN_GPR + 0x00), %rax
    mov C(CT_IN_GPR + 0x08), %rcx
    mov C(CT_IN_GPR + 0x10), %rdx
    mov C(CT_IN_GPR + 0x18), %rbx
    mov C(CT_IN_GPR + 0x28), %rbp
    mov C(CT_IN_GPR + 0x30), %rsi
    mov C(CT_IN_GPR + 0x38), %rdi
    mov C(CT_IN_GPR + 0x40), %r8
    mov C(CT_IN_GPR + 0x48), %r9
    mov C(CT_IN_GPR + 0x50), %r10
    mov C(CT_IN_GPR + 0x58), %r11
    mov C(CT_IN_GPR + 0x60), %r12
    mov C(CT_IN_GPR + 0x68), %r13
    mov C(CT_IN_GPR + 0x70), %r14
    mov C(CT_IN_GPR + 0x78), %r15
    mov C(CT_IN_GPR + 0x20), %rsp
    jmp *C(CT_ENTRY)
    .size dt_enter, . - dt_enter

    .globl dt_exit
    .type dt_exit, @function
dt_exit:
    mov %rax, C(CT_OUT_GPR + 0x00)
    mov %rcx, C(CT_OUT_GPR + 0x08)
    mov %rdx, C(CT_OUT_GPR + 0x10)
    mov %rbx, C(CT_OUT_GPR + 0x18)
    mov %rsp, C(CT_OUT_GPR + 0x20)
    mov %rbp, C(CT_OUT_GPR + 0x28)
    mov %rsi, C(CT_OUT_GPR + 0x30)
    mov %rdi, C(CT_OUT_GPR + 0x38)
    mov %r8, C(CT_OUT_GPR + 0x40)
    mov %r9, C(CT_OUT_GPR + 0x48)
    mov %r10, C(CT_OUT_GPR + 0x50)
    mov %r11, C(CT_OUT_GPR + 0x58)
    mov %r12, C(CT_OUT_GPR + 0x60)
    mov %r13, C(CT_OUT_GPR + 0x68)
    mov %r14, C(CT_OUT_GPR + 0x70)
    mov %r15, C(CT_OUT_GPR + 0x78)
    mov $C(CT_STACK_TOP), %rsp
    pushfq
    popq C(CT_OUT_RFLAGS)
    stmxcsr C(CT_OUT_MXCSR)
    movdqu %xmm0, C(CT_OUT_XMM + 0x00)
    movdqu %xmm1, C(CT_OUT_XMM + 0x10)
    movdqu %xmm2, C(CT_OUT_XMM + 0x20)
    movdqu %xmm3, C(CT_OUT_XMM + 0x30)
    movdqu %xmm4, C(CT_OUT_XMM + 0x40)
    movdqu %xmm5, C(CT_OUT_XMM + 0x50)
    movdqu %xmm6, C(CT_OUT_XMM + 0x60)
    movdqu %xmm7, C(CT_OUT_XMM + 0x70)
    movdqu %xmm8, C(CT_OUT_XMM + 0x80)
    movdqu %xmm9, C(CT_OUT_XMM + 0x90)
    movdqu %xmm10, C(CT_OUT_XMM + 0xa0)
    movdqu %xmm11, C(CT_OUT_XMM + 0xb0)
    movdqu %xmm12, C(CT_OUT_XMM + 0xc0)
    movdqu %xmm13, C(CT_OUT_XMM + 0xd0)
    movdqu %xmm14, C(CT_OUT_XMM + 0xe0)
    movdqu %xmm15, C(CT_OUT_XMM + 0xf0)
    pushq $0x202
    popfq
    ldmxcsr C(CT_HOST_MXCSR)
    mov C(CT_HOST_RSP), %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .size dt_exit, . - dt_exit

    .section .note.GNU-stack, "", @progbits
