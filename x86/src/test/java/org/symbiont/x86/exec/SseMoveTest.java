package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.SseFloatTest.run;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;

/** SSE data movement: whole and partial register moves, MOVD/MOVQ, masks, non-temporal stores. */
class SseMoveTest {
    static final long DATA = 0x20_0000;

    /** Fills XMM0-XMM7 with recognisable quadwords: xmm[k] = 0x1111111111111111 * (k + 1). */
    static void fill(TestMachine m) {
        for (int k = 0; k < 16; k++) m.cpu.xmm[k] = 0x1111_1111_1111_1111L * (k + 1);
    }

    @Test
    void scalarMovesZeroOnLoadAndMergeBetweenRegisters() {
        try (TestMachine m = run("""
                mov rax, 0x200000
                movss xmm0, [rax]
                movsd xmm1, [rax]
                movss xmm2, xmm3
                movsd xmm4, xmm5
                movss [rax+0x20], xmm3
                movsd [rax+0x30], xmm5
                """, mm -> {
                    fill(mm);
                    mm.memory.writeU64(DATA, 0xAAAA_BBBB_CCCC_DDDDL);
                    mm.memory.writeU64(DATA + 0x20, -1L);
                    mm.memory.writeU64(DATA + 0x30, -1L);
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0xCCCC_DDDDL, x[0]);
            assertEquals(0, x[1]);
            assertEquals(0xAAAA_BBBB_CCCC_DDDDL, x[2]);
            assertEquals(0, x[3]);
            assertEquals(0x5555_5555_7777_7777L, x[4]);
            assertEquals(0x6666_6666_6666_6666L, x[5]);
            assertEquals(0xBBBB_BBBB_BBBB_BBBBL, x[8]);
            assertEquals(0xAAAA_AAAA_AAAA_AAAAL, x[9]);
            assertEquals(0xFFFF_FFFF_7777_7777L, m.memory.readU64(DATA + 0x20));
            assertEquals(0xBBBB_BBBB_BBBB_BBBBL, m.memory.readU64(DATA + 0x30));
        }
    }

    @Test
    void wholeRegisterMovesAndAlignment() {
        try (TestMachine m = run("""
                mov rax, 0x200000
                movaps xmm0, [rax]
                movups xmm1, [rax+1]
                movdqa [rax+0x20], xmm0
                movdqu [rax+0x31], xmm0
                movapd xmm9, xmm0
                movntdq [rax+0x60], xmm9
                movaps xmm2, [rax+8]
                """, mm -> {
                    for (int k = 0; k < 32; k++) mm.memory.writeU8(DATA + k, k);
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x0706_0504_0302_0100L, x[0]);
            assertEquals(0x0F0E_0D0C_0B0A_0908L, x[1]);
            assertEquals(0x0807_0605_0403_0201L, x[2]);
            assertEquals(0x100F_0E0D_0C0B_0A09L, x[3]);
            assertEquals(x[0], m.memory.readU64(DATA + 0x20));
            assertEquals(x[1], m.memory.readU64(DATA + 0x39));
            assertEquals(x[0], x[18]);
            assertEquals(x[1], m.memory.readU64(DATA + 0x68));
            assertEquals(List.of((long) EXC_GP), m.reports); // the misaligned MOVAPS
            assertEquals(0, x[4]);
        }
    }

    @Test
    void aStoreThatFaultsOnItsSecondPageWritesNothing() {
        long page = 0x1FF000; // last 4 KiB page of the first 2 MiB, mapped through PT0
        try (TestMachine m = run("mov rax, 0x1FEFF8\nmovups [rax], xmm0", mm -> {
            mm.memory.writeU64(TestMachine.PT0 + 8 * 511, 0); // not present
            mm.memory.writeU64(page - 8, 0x1234);
            mm.cpu.xmm[0] = -1L;
            mm.cpu.xmm[1] = -1L;
        })) {
            assertEquals(List.of((long) EXC_PF), m.reports);
            assertEquals(page, m.cpu.cr2, "CR2 is the first byte of the faulting page, as on hardware");
            assertEquals(0x1234, m.memory.readU64(page - 8));
        }
    }

    @Test
    void halfRegisterMoves() {
        try (TestMachine m = run("""
                mov rax, 0x200000
                movlps xmm0, [rax]
                movhpd xmm1, [rax+8]
                movlpd [rax+0x20], xmm2
                movhps [rax+0x28], xmm2
                movhlps xmm3, xmm4
                movlhps xmm5, xmm6
                """, mm -> {
                    fill(mm);
                    mm.memory.writeU64(DATA, 0xA0A0L);
                    mm.memory.writeU64(DATA + 8, 0xB0B0L);
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0xA0A0L, x[0]);
            assertEquals(0x2222_2222_2222_2222L, x[1]);
            assertEquals(0x3333_3333_3333_3333L, x[2]);
            assertEquals(0xB0B0L, x[3]);
            assertEquals(0x5555_5555_5555_5555L, m.memory.readU64(DATA + 0x20));
            assertEquals(0x6666_6666_6666_6666L, m.memory.readU64(DATA + 0x28));
            assertEquals(0xAAAA_AAAA_AAAA_AAAAL, x[6]); // low <- xmm4 high
            assertEquals(0x8888_8888_8888_8888L, x[7]);
            assertEquals(0xBBBB_BBBB_BBBB_BBBBL, x[10]);
            assertEquals(0xDDDD_DDDD_DDDD_DDDDL, x[11]); // high <- xmm6 low
        }
    }

    @Test
    void movdAndMovq() {
        try (TestMachine m = run("""
                mov rax, 0x200000
                mov rbx, 0x8877665544332211
                movd xmm0, ebx
                movq xmm1, rbx
                movd xmm2, [rax]
                movq xmm3, [rax]
                movq xmm4, xmm5
                movd ecx, xmm1
                movq rdx, xmm1
                movd [rax+0x20], xmm1
                movq [rax+0x30], xmm1
                movq xmm6, xmm7
                .byte 0x66, 0x0f, 0xd6, 0xc7
                """, mm -> {
                    fill(mm);
                    mm.memory.writeU64(DATA, 0x0102_0304_0506_0708L);
                    mm.memory.writeU64(DATA + 0x20, -1L);
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x4433_2211L, x[0]);
            assertEquals(0, x[1]);
            assertEquals(0x8877_6655_4433_2211L, x[2]);
            assertEquals(0, x[3]);
            assertEquals(0x0506_0708L, x[4]);
            assertEquals(0, x[5]);
            assertEquals(0x0102_0304_0506_0708L, x[6]);
            assertEquals(0, x[7]);
            assertEquals(0xBBBB_BBBB_BBBB_BBBBL, x[8]);
            assertEquals(0, x[9]);
            assertEquals(0x4433_2211L, m.reg(RCX));
            assertEquals(0x8877_6655_4433_2211L, m.reg(RDX));
            assertEquals(0xFFFF_FFFF_4433_2211L, m.memory.readU64(DATA + 0x20));
            assertEquals(0x8877_6655_4433_2211L, m.memory.readU64(DATA + 0x30));
            // 66 0F D6 C7: MOVQ xmm7, xmm0 copies the low quadword and zeroes the high one.
            assertEquals(x[0], x[14]);
            assertEquals(0, x[15]);
        }
    }

    @Test
    void signMasks() {
        try (TestMachine m = run("""
                movmskps eax, xmm0
                movmskpd ebx, xmm0
                pmovmskb ecx, xmm1
                movmskps r9, xmm0
                """, mm -> {
                    mm.cpu.xmm[0] = 0x8000_0000_0000_0000L;
                    mm.cpu.xmm[1] = 0x0000_0000_8000_0000L;
                    mm.cpu.xmm[2] = 0x8000_0080_0000_8001L;
                    mm.cpu.xmm[3] = 0xFF00_0000_0000_00FFL;
                    mm.cpu.gpr[R9] = -1;
                })) {
            assertEquals(0b0110, m.reg(RAX));
            assertEquals(0b01, m.reg(RBX));
            assertEquals(0b1000_0001_1001_0010L, m.reg(RCX));
            assertEquals(0b0110, m.reg(R9));
        }
    }

    @Test
    void logicShufflesAndInterleaves() {
        try (TestMachine m = run("""
                andnps xmm0, xmm1
                xorpd xmm2, xmm2
                shufps xmm4, xmm5, 0x1B
                shufpd xmm6, xmm7, 1
                unpcklps xmm8, xmm9
                unpckhpd xmm10, xmm11
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[0] = 0xFF00_FF00_FF00_FF00L; x[1] = 0;
                    x[2] = -1L; x[3] = -1L;
                    x[4] = 0x1234L; x[5] = 0x5678L;
                    x[8] = 0x0000_0001_0000_0000L; x[9] = 0x0000_0003_0000_0002L;
                    x[10] = 0x0000_0005_0000_0004L; x[11] = 0x0000_0007_0000_0006L;
                    x[12] = 10; x[13] = 11; x[14] = 12; x[15] = 13;
                    x[16] = 0x0000_0001_0000_0000L; x[17] = 0x0000_0003_0000_0002L;
                    x[18] = 0x0000_0011_0000_0010L; x[19] = 0x0000_0013_0000_0012L;
                    x[20] = 100; x[21] = 101; x[22] = 102; x[23] = 103;
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x00FF_00FF_00FF_00FFL, x[0]);
            assertEquals(-1L, x[1]);
            assertEquals(0, x[4]);
            assertEquals(0, x[5]);
            assertEquals(0x0000_0002_0000_0003L, x[8]); // a[3], a[2]
            assertEquals(0x0000_0004_0000_0005L, x[9]); // b[1], b[0]
            assertEquals(11, x[12]);
            assertEquals(12, x[13]);
            assertEquals(0x0000_0010_0000_0000L, x[16]);
            assertEquals(0x0000_0011_0000_0001L, x[17]);
            assertEquals(101, x[20]);
            assertEquals(103, x[21]);
        }
    }

    @Test
    void maskedByteStoreAndNonTemporalIntegerStore() {
        try (TestMachine m = run("""
                mov rdi, 0x200003
                maskmovdqu xmm0, xmm1
                mov rax, 0x200040
                mov rbx, 0x1122334455667788
                movnti [rax], rbx
                movnti [rax+8], ebx
                """, mm -> {
                    mm.cpu.xmm[0] = 0x0807_0605_0403_0201L;
                    mm.cpu.xmm[1] = 0x0F0E_0D0C_0B0A_0908L;
                    mm.cpu.xmm[2] = 0x0000_0000_8000_8080L; // bytes 0, 1, 3
                    mm.cpu.xmm[3] = 0x8000_0000_0000_0000L; // byte 15
                    for (int k = 0; k < 0x50; k++) mm.memory.writeU8(DATA + k, 0xEE);
                })) {
            long[] expect = new long[0x14];
            for (int k = 0; k < expect.length; k++) expect[k] = 0xEE;
            expect[3] = 0x01;
            expect[4] = 0x02;
            expect[6] = 0x04;
            expect[3 + 15] = 0x0F;
            for (int k = 0; k < expect.length; k++) assertEquals(expect[k], m.memory.readU8(DATA + k), "byte " + k);
            assertEquals(0x1122_3344_5566_7788L, m.memory.readU64(DATA + 0x40));
            assertEquals(0xEEEE_EEEE_5566_7788L, m.memory.readU64(DATA + 0x48));
        }
    }

    @Test
    void maskedStoreRunsAcrossTheQuadwordBoundary() {
        try (TestMachine m = run("mov rdi, 0x200100\nmaskmovdqu xmm0, xmm1", mm -> {
            mm.cpu.xmm[0] = 0x0807_0605_0403_0201L;
            mm.cpu.xmm[1] = 0x100F_0E0D_0C0B_0A09L;
            mm.cpu.xmm[2] = 0x8080_8000_0000_0000L; // bytes 5-7
            mm.cpu.xmm[3] = 0x0000_0080_8080_8080L; // bytes 8-12
            for (int k = 0; k < 16; k++) mm.memory.writeU8(DATA + 0x100 + k, 0xEE);
        })) {
            assertEquals(0x0807_06EE_EEEE_EEEEL, m.memory.readU64(DATA + 0x100));
            assertEquals(0xEEEE_EE0D_0C0B_0A09L, m.memory.readU64(DATA + 0x108));
        }
    }

    @Test
    void movntiIgnoresTheSseStateChecksButRegisterFormsAreUndefined() {
        try (TestMachine m = run("mov rax, 0x200000\nmov ebx, 7\nmovnti [rax], ebx", mm -> mm.cpu.cr0 |= CR0_TS | CR0_EM)) {
            assertTrue(m.reports.isEmpty());
            assertEquals(7, m.memory.readU32(DATA));
        }
        for (String bytes : new String[] {
            ".byte 0x66, 0x0f, 0x12, 0xc1",  // MOVLPD with a register operand
            ".byte 0x0f, 0x2b, 0xc1",        // MOVNTPS to a register
            ".byte 0x0f, 0xc3, 0xc3",        // MOVNTI to a register
            ".byte 0x0f, 0x6f, 0xc1",        // MMX MOVQ mm0, mm1 (not modelled)
            ".byte 0xf3, 0x0f, 0x12, 0xc1"}) { // MOVSLDUP (SSE3, not advertised)
            try (TestMachine m = run(bytes)) {
                assertEquals(List.of((long) EXC_UD), m.reports, bytes);
            }
        }
    }
}
