package org.symbiont.symbiotic;

/**
 * A tiny symbiotic guest kernel (32-bit protected mode, GNU as at test time through the
 * vmm-actors test kernels): it discovers the VMM by CPUID, names its SymSpy pages, registers a
 * SymCall entry, and runs a script of hypercalls whose handlers (in the specification) make
 * SymCalls back into it while its hypercall waits, checking after each that its registers came
 * back intact. Then it computes in a loop until SymCall 7 tells it to stop, and prints what it
 * computed.
 *
 * <p>SymCall handlers, by call number: 1 TEST (RBX+1, RCX+2, RDX+3, RSI+4, RDI+5); 2 loops
 * forever; 3 executes UD2; 4 sends itself an IPI and returns the interrupt count it sees; 5
 * writes 'S' to the debug console (an exit inside the call); 6 returns its local SymSpy flags;
 * 7 stops the loop; anything else returns errno 38 (ENOSYS).
 *
 * <p>Hypercall 0x5000 + n asks the VMM to make SymCall n; the VMM answers RAX = 0 and the results
 * in RBX..RDI, or RAX = 0x100 + the error's ordinal | its code << 16 with the registers untouched.
 */
final class SymGuest {
    private SymGuest() {}

    static final long GLOBAL = 0x20_0000, LOCAL = 0x20_1000, COUNTER = 0x20_2000, STOP = 0x20_2004;
    static final long IDT = 0x20_3000, SYMSTACK = 0x21_0000, STACK = 0x22_0000;
    static final int IPI_VECTOR = 0x40;

    /** The result code of a SymCall error as the guest sees it in RAX. */
    static long errorCode(org.symbiont.vmm.SymCallError e) {
        return 0x100 + e.reason().ordinal() | e.code() << 16;
    }

    static String source(long notEnabled, long budget, long fault, long enosys) {
        return """
                .macro PRINT s
                    jmp 9f
                8:  .asciz "\\s"
                9:  push %%esi
                    mov $8b, %%esi
                    call puts
                    pop %%esi
                .endm
                    lgdt gdtr
                    ljmp $0x08, $1f
                1:  mov $0x10, %%ax
                    mov %%ax, %%ds
                    mov %%ax, %%es
                    mov %%ax, %%ss
                    mov %%ax, %%fs
                    mov %%ax, %%gs
                    mov $STACK, %%esp
                    mov $0x90000000, %%eax
                    cpuid
                    cmp $0x00563356, %%eax
                    jne fail
                    cmp $0x00584D56, %%ebx
                    jne fail
                    xor %%edx, %%edx
                    mov $0x534, %%ecx
                    mov $GLOBAL, %%eax
                    wrmsr
                    mov $0x535, %%ecx
                    mov $LOCAL, %%eax
                    wrmsr
                    cmpl $0x00563356, GLOBAL
                    jne fail
                    cmpl $0x2e563356, LOCAL
                    jne fail
                    mov $0x536, %%ecx
                    mov $handler, %%eax
                    wrmsr
                    mov $0x537, %%ecx
                    mov $SYMSTACK, %%eax
                    wrmsr
                    mov $0x538, %%ecx
                    mov $0x08, %%eax
                    wrmsr
                    mov $0x536, %%ecx
                    rdmsr
                    cmp $handler, %%eax
                    jne fail
                    # the IPI handler and the local APIC on
                    mov $isr, %%eax
                    mov %%ax, IDT + IPI * 8
                    movw $0x08, IDT + IPI * 8 + 2
                    movw $0x8E00, IDT + IPI * 8 + 4
                    shr $16, %%eax
                    mov %%ax, IDT + IPI * 8 + 6
                    lidt idtr
                    movl $0x1ff, 0xfee000f0
                    # only the IPI: the 8259s masked
                    mov $0xff, %%al
                    out %%al, $0x21
                    out %%al, $0xa1
                    sti

                    # not enabled yet
                    call regs
                    mov $0x5001, %%eax
                    vmcall
                    cmp $NOT_ENABLED, %%eax
                    jne fail
                    call same
                    orl $2, LOCAL + 8

                    # TEST
                    call regs
                    mov $0x5001, %%eax
                    vmcall
                    test %%eax, %%eax
                    jne fail
                    cmp $11, %%ebx
                    jne fail
                    cmp $22, %%ecx
                    jne fail
                    cmp $33, %%edx
                    jne fail
                    cmp $44, %%esi
                    jne fail
                    cmp $55, %%edi
                    jne fail
                    cmp $0x1234, %%ebp
                    jne fail
                    cmp $STACK, %%esp
                    jne fail
                    PRINT "test ok\\n"

                    # a handler that never returns: aborted, registers as they were
                    call regs
                    mov $0x5002, %%eax
                    vmcall
                    cmp $BUDGET, %%eax
                    jne fail
                    call same
                    PRINT "budget ok\\n"

                    # a handler that faults
                    call regs
                    mov $0x5003, %%eax
                    vmcall
                    cmp $FAULT, %%eax
                    jne fail
                    call same
                    PRINT "fault ok\\n"

                    # an unknown call: the guest's errno
                    call regs
                    mov $0x5009, %%eax
                    vmcall
                    cmp $ENOSYS, %%eax
                    jne fail
                    call same
                    PRINT "errno ok\\n"

                    # an interrupt raised during the call waits for its end
                    mov $0x5004, %%eax
                    vmcall
                    test %%eax, %%eax
                    jne fail
                    test %%ebx, %%ebx
                    jne fail
                    mov $100000, %%ecx
                2:  cmpl $1, COUNTER
                    je 3f
                    dec %%ecx
                    jnz 2b
                    jmp fail
                3:  PRINT "deferred ok\\n"

                    # exits inside the call flow as usual
                    mov $0x5005, %%eax
                    vmcall
                    test %%eax, %%eax
                    jne fail
                    PRINT "\\nio ok\\n"

                    # the active flag while the call runs, cleared after
                    mov $0x5006, %%eax
                    vmcall
                    test %%eax, %%eax
                    jne fail
                    cmp $3, %%ebx
                    jne fail
                    cmpl $2, LOCAL + 8
                    jne fail
                    PRINT "flags ok\\n"
                    PRINT "phase1 ok\\n"

                    # the workload: runs until SymCall 7
                    xor %%edx, %%edx
                    xor %%ebx, %%ebx
                    xor %%esi, %%esi
                    xor %%edi, %%edi
                work:
                    inc %%edx
                    add %%edx, %%ebx
                    add %%ebx, %%esi
                    lea (%%edi,%%edx,2), %%edi
                    cmpl $0, STOP
                    je work
                    mov %%edx, %%eax
                    call hex
                    mov %%ebx, %%eax
                    call hex
                    mov %%esi, %%eax
                    call hex
                    mov %%edi, %%eax
                    call hex
                    mov $10, %%al
                    out %%al, $0xe9
                    mov $0, %%al
                    out %%al, $0xf4
                fail:
                    PRINT "FAIL\\n"
                    mov $1, %%al
                    out %%al, $0xf4

                # known registers before a call, and their check after
                regs:
                    mov $10, %%ebx
                    mov $20, %%ecx
                    mov $30, %%edx
                    mov $40, %%esi
                    mov $50, %%edi
                    mov $0x1234, %%ebp
                    ret
                same:
                    cmp $10, %%ebx
                    jne fail
                    cmp $20, %%ecx
                    jne fail
                    cmp $30, %%edx
                    jne fail
                    cmp $40, %%esi
                    jne fail
                    cmp $50, %%edi
                    jne fail
                    cmp $0x1234, %%ebp
                    jne fail
                    cmp $STACK - 4, %%esp
                    jne fail
                    ret

                # the NUL-terminated string at ESI to the debug console
                puts:
                    push %%eax
                6:  lodsb
                    test %%al, %%al
                    jz 7f
                    out %%al, $0xe9
                    jmp 6b
                7:  pop %%eax
                    ret

                # EAX as 8 hex digits and a space
                hex:
                    push %%ecx
                    push %%edx
                    mov %%eax, %%edx
                    mov $8, %%ecx
                4:  rol $4, %%edx
                    mov %%edx, %%eax
                    and $15, %%eax
                    mov digits(%%eax), %%al
                    out %%al, $0xe9
                    dec %%ecx
                    jnz 4b
                    mov $0x20, %%al
                    out %%al, $0xe9
                    pop %%edx
                    pop %%ecx
                    ret

                isr:
                    incl COUNTER
                    movl $0, 0xfee000b0
                    iret

                handler:
                    cmp $1, %%eax
                    je s_test
                    cmp $2, %%eax
                    je s_loop
                    cmp $3, %%eax
                    je s_fault
                    cmp $4, %%eax
                    je s_ipi
                    cmp $5, %%eax
                    je s_io
                    cmp $6, %%eax
                    je s_flags
                    cmp $7, %%eax
                    je s_stop
                    mov $38, %%ebx
                    mov $0x536, %%eax
                    vmcall
                    ud2
                s_test:
                    push %%ebx
                    pop %%ebx
                    add $1, %%ebx
                    add $2, %%ecx
                    add $3, %%edx
                    add $4, %%esi
                    add $5, %%edi
                s_ret:
                    mov $0x535, %%eax
                    vmcall
                    ud2
                s_loop:
                    jmp s_loop
                s_fault:
                    ud2
                s_ipi:
                    movl $0x40000 + IPI, 0xfee00300
                    mov $2000, %%ecx
                5:  dec %%ecx
                    jnz 5b
                    mov COUNTER, %%ebx
                    jmp s_ret
                s_io:
                    mov $0x53, %%al
                    out %%al, $0xe9
                    jmp s_ret
                s_flags:
                    mov LOCAL + 8, %%ebx
                    jmp s_ret
                s_stop:
                    movl $1, STOP
                    jmp s_ret

                digits: .ascii "0123456789abcdef"
                .p2align 3
                gdt:
                    .quad 0
                    .quad 0x00CF9A000000FFFF
                    .quad 0x00CF92000000FFFF
                gdtr:
                    .word gdtr - gdt - 1
                    .long gdt
                idtr:
                    .word IPI * 8 + 7
                    .long IDT
                """
                .formatted()
                .replace("GLOBAL", hex(GLOBAL)).replace("LOCAL", hex(LOCAL)).replace("COUNTER", hex(COUNTER))
                .replace("STOP", hex(STOP)).replace("SYMSTACK", hex(SYMSTACK)).replace("STACK", hex(STACK))
                .replace("IDT", hex(IDT)).replace("IPI", hex(IPI_VECTOR))
                .replace("NOT_ENABLED", hex(notEnabled)).replace("BUDGET", hex(budget)).replace("FAULT", hex(fault))
                .replace("ENOSYS", hex(enosys));
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
