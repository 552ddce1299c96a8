/*
 * Layout shared by the differential-test harness (difftest_harness.c), its entry/exit code
 * (difftest_entry.S) and, by value, the Java side (org.symbiont.x86.difftest.Layout).
 *
 * Fixed addresses, chosen free in both worlds: a gcc PIE binary, its heap and its libraries live
 * far above 4 GiB, and the emulator maps exactly these pages for its user-mode test program.
 *   DT_CODE_PAGE  one page of test code; the sequence ends exactly at DT_CODE_END
 *   DT_CODE_END   natively: a jump to dt_exit; in the emulator: not mapped (the fetch #PF there
 *                 is how the emulator recognises that the sequence completed)
 *   DT_DATA       the data region (one page, user read/write); its neighbours are not mapped
 *   DT_CTRL       native only: the state block dt_enter/dt_exit load and store, and a private
 *                 stack for dt_exit (below 2 GiB so that absolute disp32 addressing reaches it).
 *                 It must not be reachable from the test pages by the address arithmetic random
 *                 instructions do: a single bit flip (BTC on a pointer) of 0x2000xxxx once
 *                 landed on 0x3000xxxx, readable natively but unmapped in the emulator. The
 *                 address differs from both test pages in many bits.
 */
#ifndef DIFFTEST_H
#define DIFFTEST_H

#define DT_CODE_PAGE 0x10000000
#define DT_CODE_END  0x10001000
#define DT_DATA      0x20000000
#define DT_DATA_SIZE 0x1000
#define DT_CTRL      0x6B5C0000

/* Offsets in the control block at DT_CTRL. */
#define CT_IN_GPR      0x000   /* 16 x u64, in ModRM order (RAX, RCX, RDX, RBX, RSP, ...) */
#define CT_IN_RFLAGS   0x080
#define CT_ENTRY       0x088   /* first instruction of the sequence */
#define CT_IN_MXCSR    0x090
#define CT_HOST_MXCSR  0x094
#define CT_HOST_RSP    0x098
#define CT_OUT_GPR     0x100   /* 16 x u64 */
#define CT_OUT_RFLAGS  0x180
#define CT_OUT_MXCSR   0x188
#define CT_IN_XMM      0x200   /* 16 x 16 bytes */
#define CT_OUT_XMM     0x300   /* 16 x 16 bytes */
#define CT_STACK_TOP   0x1000  /* dt_exit's private stack grows down from here */

#endif
