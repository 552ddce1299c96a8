/*
 * Entry points: the multiboot header and 32-bit entry, the switch to long mode, the application
 * processors' real-mode trampoline, the interrupt stubs, SYSCALL entry and the context switch.
 *
 * The loader enters _start in 32-bit protected mode with paging off, EAX = 0x2BADB002 and EBX =
 * the multiboot information (Multiboot 0.6.96 section 3.2). The boot page tables identity-map
 * the low 4 GiB (for this code and the trampoline) and map the first GiB again at KERNEL_VMA,
 * where the kernel is linked; kmain then builds the kernel's own tables (mm.c).
 */
#define KERNEL_VMA 0xFFFFFFFF80000000
#define PHYS(x) ((x) - KERNEL_VMA)
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003   /* page-aligned modules, memory info, load addresses (a.out kludge) */
#define AP_TRAMPOLINE_BASE 0x8000

        .section .multiboot, "a"
        .align 4
mb_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
        .long PHYS(mb_header)           /* header_addr */
        .long PHYS(__image_start)       /* load_addr */
        .long PHYS(__data_end)          /* load_end_addr */
        .long PHYS(__bss_end)           /* bss_end_addr */
        .long PHYS(_start)              /* entry_addr */

/* From 32-bit protected mode with flat segments onto boot_pml4: CR4.PAE, OSFXSR, OSXMMEXCPT;
 * EFER.LME; CR0.PG, NE, MP, PE with CD, NW (set after INIT) and EM clear (SDM vol. 3A 9.8.5,
 * 13.1.3); then a far jump into 64-bit code at the physical address of `target`. */
.macro enter_long_mode target
        movl %cr4, %eax
        orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
        movl %eax, %cr4
        movl $PHYS(boot_pml4), %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx
        rdmsr
        orl $(1 << 8), %eax
        wrmsr
        movl %cr0, %eax
        andl $~((1 << 30) | (1 << 29) | (1 << 2)), %eax
        orl $((1 << 31) | (1 << 5) | (1 << 1) | 1), %eax
        movl %eax, %cr0
        lgdt PHYS(boot_gdt_pointer)
        ljmp $0x08, $PHYS(\target)
.endm

        .section .text.boot, "ax"
        .code32
        .globl _start
_start:
        cli
        cld
        movl $PHYS(boot_stack_top), %esp
        movl %eax, PHYS(multiboot_magic)
        movl %ebx, PHYS(multiboot_info)

        /* boot_pml4[0] -> boot_pdpt_low, whose 4 entries -> boot_pd (2048 2 MiB pages, 4 GiB);
         * boot_pml4[256] -> the same at DIRECT_MAP_BASE (the APs' stacks from kalloc_pages);
         * boot_pml4[511] -> boot_pdpt_high, whose entry 510 -> the first GiB again. */
        movl $PHYS(boot_pdpt_low) + 3, PHYS(boot_pml4)
        movl $PHYS(boot_pdpt_low) + 3, PHYS(boot_pml4) + 256 * 8
        movl $PHYS(boot_pdpt_high) + 3, PHYS(boot_pml4) + 511 * 8
        movl $PHYS(boot_pd) + 3, PHYS(boot_pdpt_high) + 510 * 8
        movl $PHYS(boot_pdpt_low), %edi
        movl $PHYS(boot_pd) + 3, %eax
        movl $4, %ecx
1:      movl %eax, (%edi)
        addl $0x1000, %eax
        addl $8, %edi
        loop 1b
        movl $PHYS(boot_pd), %edi
        movl $0x83, %eax                /* present, writable, 2 MiB */
        xorl %edx, %edx
        movl $2048, %ecx
2:      movl %eax, (%edi)
        movl %edx, 4(%edi)
        addl $0x200000, %eax
        adcl $0, %edx
        addl $8, %edi
        loop 2b

        enter_long_mode bsp_long_low

        .code64
bsp_long_low:
        movabsq $bsp_long_high, %rax
        jmp *%rax
bsp_long_high:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        xorl %eax, %eax
        movw %ax, %fs
        movw %ax, %gs
        movabsq $boot_stack_top, %rsp
        movl multiboot_magic(%rip), %edi
        movl multiboot_info(%rip), %esi
        call kmain
3:      cli
        hlt
        jmp 3b

/*
 * Application-processor trampoline, copied to AP_TRAMPOLINE_BASE (STARTUP IPI vector 0x08). An AP
 * starts here in real mode at CS:IP = 0800:0000 (SDM vol. 3A 9.4.4.1 / MP spec B.4), loads the
 * boot GDT, enters protected mode, then long mode on the boot tables, jumps to the kernel's
 * address space and calls ap_main on the stack in ap_boot_stack.
 */
        .code16
        .globl ap_trampoline, ap_trampoline_end
ap_trampoline:
        cli
        cld
        xorw %ax, %ax
        movw %ax, %ds
        lgdtl AP_TRAMPOLINE_BASE + (ap_gdt_pointer - ap_trampoline)
        movl %cr0, %eax
        orl $1, %eax
        movl %eax, %cr0
        ljmpl $0x18, $(AP_TRAMPOLINE_BASE + (ap_protected - ap_trampoline))
        .code32
ap_protected:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        enter_long_mode ap_long_low
        .align 4
ap_gdt_pointer:
        .word boot_gdt_end - boot_gdt - 1
        .long PHYS(boot_gdt)
ap_trampoline_end:

        .code64
ap_long_low:
        movabsq $ap_long_high, %rax
        jmp *%rax
ap_long_high:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movq ap_boot_stack(%rip), %rsp
        call ap_main
4:      cli
        hlt
        jmp 4b

/*
 * Interrupts and exceptions: one stub per vector pushes a zero error code where the CPU pushes
 * none (all but 8, 10-14, 17, 21, 29, 30; SDM vol. 3A table 6-1), then the vector. interrupt_common
 * switches GS to the kernel's per-CPU data when it came from ring 3 (SWAPGS, SDM vol. 2B), saves
 * the general registers as struct frame and calls interrupt_dispatch(frame).
 */
        .text
        .altmacro
.macro interrupt_stub vector
interrupt_stub_\vector:
        .if (\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
        .else
        pushq $0
        .endif
        pushq $\vector
        jmp interrupt_common
.endm
.macro interrupt_stub_address vector
        .quad interrupt_stub_\vector
.endm
        .set vector, 0
        .rept 256
        interrupt_stub %vector
        .set vector, vector + 1
        .endr

.macro save_registers
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
.endm
.macro restore_registers
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
.endm

interrupt_common:
        testb $3, 24(%rsp)              /* CS of the interrupted code */
        jz 1f
        swapgs
1:      save_registers
        movq %rsp, %rdi
        cld
        call interrupt_dispatch
/* Also where a new process starts: its kernel stack holds a frame for ring 3. */
        .globl interrupt_return
interrupt_return:
        restore_registers
        testb $3, 24(%rsp)
        jz 2f
        swapgs
2:      addq $16, %rsp                  /* vector and error code */
        iretq

/*
 * SYSCALL (SDM vol. 2B, AMD APM vol. 2 6.1.1): RCX = user RIP, R11 = user RFLAGS, IF etc. cleared
 * by SFMASK, RSP still the user's. Builds a struct frame on the process's kernel stack. The way
 * back is SYSRET unless the frame's RIP is not canonical: Intel CPUs raise that #GP in ring 0 on
 * the user stack, so such a return goes through IRETQ (whose #GP is taken in ring 3).
 */
        .globl syscall_entry
syscall_entry:
        swapgs
        movq %rsp, %gs:16
        movq %gs:8, %rsp
        pushq $0x1B                     /* SS */
        pushq %gs:16                    /* RSP */
        pushq %r11                      /* RFLAGS */
        pushq $0x23                     /* CS */
        pushq %rcx                      /* RIP */
        pushq $0                        /* error code */
        pushq $0x100                    /* "vector": a system call */
        save_registers
        movq %rsp, %rdi
        cld
        call syscall_dispatch
        cli
        movq 17 * 8(%rsp), %rcx         /* frame RIP */
        movq %rcx, %rax
        sarq $47, %rax                  /* canonical lower half: bits 63..47 all zero */
        jnz 3f
        restore_registers
        movq 16(%rsp), %rcx             /* RIP */
        movq 32(%rsp), %r11             /* RFLAGS */
        movq 40(%rsp), %rsp             /* RSP */
        swapgs
        sysretq
3:      jmp interrupt_return

/* void switch_context(uint64_t *save_rsp, uint64_t rsp): saves the callee-saved registers on this
 * stack, stores its pointer in *save_rsp and resumes the context whose stack pointer is rsp. */
        .globl switch_context
switch_context:
        pushq %rbp
        pushq %rbx
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, (%rdi)
        movq %rsi, %rsp
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbx
        popq %rbp
        ret

        .section .rodata
        .align 8
        .globl interrupt_stubs
interrupt_stubs:
        .set vector, 0
        .rept 256
        interrupt_stub_address %vector
        .set vector, vector + 1
        .endr
        .noaltmacro

/* The boot GDT (also the trampoline's): 64-bit code, data, 32-bit code for the trampoline. */
        .align 8
boot_gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF
        .quad 0x00CF92000000FFFF
        .quad 0x00CF9A000000FFFF
boot_gdt_end:
boot_gdt_pointer:
        .word boot_gdt_end - boot_gdt - 1
        .long PHYS(boot_gdt)

        .section .bss
        .align 4096
        .globl boot_pml4
boot_pml4:      .space 4096
boot_pdpt_low:  .space 4096
boot_pdpt_high: .space 4096
boot_pd:        .space 4 * 4096
boot_stack:     .space 16384
boot_stack_top:
multiboot_magic: .space 4
multiboot_info:  .space 4
        .globl ap_boot_stack
        .align 8
ap_boot_stack:  .space 8
        .section .note.GNU-stack, "", @progbits
