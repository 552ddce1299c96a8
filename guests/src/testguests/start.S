/*
 * Multiboot (v1) entry of the test guest, the IDT stubs and the application-processor trampoline.
 *
 * The loader (QEMU -kernel, or Symbiont) enters in 32-bit protected mode with paging off,
 * EAX = 0x2BADB002 and EBX = the multiboot information. This code identity-maps the first 4 GiB
 * with 2 MiB pages (the local APIC and I/O APIC pages uncacheable), enables PAE, long mode, paging
 * and SSE, and calls kmain(magic, info) in 64-bit mode.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003   /* page-aligned modules, memory info, load addresses below */
#define AP_TRAMPOLINE_BASE 0x8000
#define PDE_CACHE_DISABLE 0x18 /* PCD | PWT */

        .section .multiboot, "a"
        .align 4
mb_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
        .long mb_header         /* header_addr */
        .long __image_start     /* load_addr */
        .long __data_end        /* load_end_addr */
        .long __bss_end         /* bss_end_addr */
        .long _start            /* entry_addr */

/* From 32-bit protected mode with flat segments, onto the page tables in pml4: PAE, OSFXSR,
 * OSXMMEXCPT; EFER.LME; caches on, x87 emulation off, PG | MP | PE; then a far jump into
 * 64-bit code at `target`. Shared by the bootstrap processor and the application processors. */
.macro enter_long_mode target
        movl %cr4, %eax
        orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
        movl %eax, %cr4
        movl $pml4, %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx        /* EFER */
        rdmsr
        orl $(1 << 8), %eax           /* LME */
        wrmsr
        movl %cr0, %eax
        andl $~((1 << 30) | (1 << 29) | (1 << 2)), %eax   /* CD, NW (set after INIT), EM */
        orl $((1 << 31) | (1 << 1) | 1), %eax
        movl %eax, %cr0
        lgdt gdt_pointer
        ljmp $0x08, $\target
.endm

        .section .text.boot, "ax"
        .code32
        .globl _start
_start:
        cli
        movl $boot_stack_top, %esp
        movl %eax, multiboot_magic
        movl %ebx, multiboot_info

        /* PML4[0] -> PDPT; PDPT[0..3] -> 4 page directories of 2 MiB pages. */
        movl $pml4, %edi
        movl $pdpt, %eax
        orl $0x3, %eax
        movl %eax, (%edi)
        movl $pdpt, %edi
        movl $page_dirs, %eax
        orl $0x3, %eax
        movl $4, %ecx
1:      movl %eax, (%edi)
        addl $0x1000, %eax
        addl $8, %edi
        loop 1b
        movl $page_dirs, %edi
        xorl %eax, %eax
        movl $2048, %ecx
2:      movl %eax, %edx
        orl $0x83, %edx              /* present, writable, 2 MiB */
        movl %edx, (%edi)
        movl $0, 4(%edi)
        addl $0x200000, %eax
        addl $8, %edi
        loop 2b
        /* The 2 MiB pages holding the I/O APIC (0xFEC00000) and the local APIC (0xFEE00000). */
        orl $PDE_CACHE_DISABLE, page_dirs + (0xFEC00000 >> 21) * 8
        orl $PDE_CACHE_DISABLE, page_dirs + (0xFEE00000 >> 21) * 8

        enter_long_mode bsp_long_entry

        .code64
bsp_long_entry:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
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
 * starts here in real mode at CS:IP = 0800:0000; it loads the kernel GDT, enters 32-bit protected
 * mode, then long mode on the BSP's page tables, and calls ap_main on the stack in ap_boot_stack.
 */
        .section .text
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
        enter_long_mode ap_long_entry
        .align 4
ap_gdt_pointer:
        .word gdt_end - gdt - 1
        .long gdt
ap_trampoline_end:

        .code64
ap_long_entry:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw %ax, %fs
        movw %ax, %gs
        movq ap_boot_stack(%rip), %rsp
        call ap_main
4:      cli
        hlt
        jmp 4b

/*
 * Interrupt and exception entry: one stub per vector pushes a dummy error code where the CPU pushes
 * none (all vectors but 8, 10-14, 17, 21, 29, 30; SDM vol. 3 table 6-1), then the vector, and joins
 * interrupt_common, which saves the general registers and calls interrupt_dispatch(frame).
 */
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

interrupt_common:
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
        movq %rsp, %rdi
        cld
        call interrupt_dispatch
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
        addq $16, %rsp                /* vector and error code */
        iretq

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

gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF      /* 0x08: 64-bit code */
        .quad 0x00CF92000000FFFF      /* 0x10: data */
        .quad 0x00CF9A000000FFFF      /* 0x18: 32-bit code, for the AP trampoline */
gdt_end:
gdt_pointer:
        .word gdt_end - gdt - 1
        .long gdt

        .section .bss
        .align 4096
pml4:   .space 4096
pdpt:   .space 4096
page_dirs:
        .space 4 * 4096
boot_stack:
        .space 65536
boot_stack_top:
multiboot_magic:
        .space 4
multiboot_info:
        .space 4
        .globl ap_boot_stack
        .align 8
ap_boot_stack:
        .space 8
        .section .note.GNU-stack, "", @progbits
