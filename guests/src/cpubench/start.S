/*
 * Multiboot (v1) entry of the CPU benchmark guest. The loader (QEMU -kernel, or Symbiont)
 * enters in 32-bit protected mode with paging off, EAX = 0x2BADB002 and EBX = the multiboot
 * information. This code identity-maps the first 4 GiB with 2 MiB pages, enables PAE, long mode
 * and paging, SSE, and calls kmain(info) in 64-bit mode.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003   /* page-aligned modules, memory info, load addresses below */

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

        .section .text.boot, "ax"
        .code32
        .globl _start
_start:
        cli
        movl $boot_stack_top, %esp
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

        movl %cr4, %eax
        orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax   /* PAE, OSFXSR, OSXMMEXCPT */
        movl %eax, %cr4
        movl $pml4, %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx        /* EFER */
        rdmsr
        orl $(1 << 8), %eax           /* LME */
        wrmsr
        movl %cr0, %eax
        andl $~(1 << 2), %eax         /* EM off */
        orl $((1 << 31) | (1 << 1) | 1), %eax   /* PG, MP, PE */
        movl %eax, %cr0
        lgdt gdt_pointer
        ljmp $0x08, $long_entry

        .code64
long_entry:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw %ax, %fs
        movw %ax, %gs
        movabsq $boot_stack_top, %rsp
        movl multiboot_info(%rip), %edi
        call kmain
3:      hlt
        jmp 3b

        .section .rodata
        .align 8
gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF      /* 0x08: 64-bit code */
        .quad 0x00CF92000000FFFF      /* 0x10: data */
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
        .globl page_dirs
boot_stack:
        .space 65536
boot_stack_top:
        .globl multiboot_info
multiboot_info:
        .space 8
        .section .note.GNU-stack, "", @progbits
