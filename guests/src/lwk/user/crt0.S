/*
 * Start of every LWK user program: the struct lwk_user_header (include/lwk/abi.h), placed first
 * in the image by user.ld, then the entry point. The kernel enters _start with RSP at argc
 * (16-byte aligned), followed by argv[] and a NULL.
 */
        .section .lwk_header, "a"
        .long   0x554B574C              /* LWK_USER_MAGIC ("LWKU"); abi.h is C-only */
        .long   1                       /* version */
        .quad   _start                  /* entry */
        .quad   __image_end             /* end of the bytes the kernel copies */
        .quad   __bss_end               /* end of the demand-zero part */

        .text
        .globl  _start
        .type   _start, @function
_start:
        mov     (%rsp), %rdi            /* argc */
        lea     8(%rsp), %rsi           /* argv */
        call    rt_lwk_start            /* RSP is 16-byte aligned before the call, as the ABI wants */
        ud2                             /* rt_lwk_start never returns */
        .size   _start, . - _start

        .section .note.GNU-stack, "", @progbits
