package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.SseFloatTest.run;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;

/**
 * SSE2 integer SIMD: memory operands, alignment, high registers, shift counts, word insert and
 * extract, undefined encodings. (The lane arithmetic of every operation is compared with the
 * host processor in {@link SseHostComparisonTest}.)
 */
class SseIntegerTest {
    static final long DATA = 0x20_0000;

    @Test
    void memoryOperandsAndHighRegisters() {
        try (TestMachine m = run("""
                mov rax, 0x200000
                paddb xmm10, [rax]
                pcmpeqd xmm11, [rax]
                pshufd xmm12, [rax], 0x1B
                paddw xmm13, [rax+8]
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[20] = 0x1010_1010_1010_1010L; x[21] = 0x1010_1010_1010_1010L;
                    x[22] = 0x0101_0101_0000_0000L; x[23] = 0x0202_0202_0202_0202L;
                    x[26] = 0x5555;
                    mm.memory.writeU64(DATA, 0x0101_0101_0101_0101L);
                    mm.memory.writeU64(DATA + 8, 0x0202_0202_0202_0202L);
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x1111_1111_1111_1111L, x[20]);
            assertEquals(0x1212_1212_1212_1212L, x[21]);
            assertEquals(0xFFFF_FFFF_0000_0000L, x[22]);
            assertEquals(-1L, x[23]);
            assertEquals(0x0202_0202_0202_0202L, x[24]);
            assertEquals(0x0101_0101_0101_0101L, x[25]);
            assertEquals(List.of((long) EXC_GP), m.reports); // misaligned m128
            assertEquals(0x5555, x[26]);
        }
    }

    @Test
    void shiftsByMemoryCountByImmediateAndWholeRegisterByteShifts() {
        try (TestMachine m = run("""
                mov rax, 0x200000
                psllw xmm0, [rax]
                psraw xmm1, [rax+16]
                psrlq xmm2, 64
                psrldq xmm9, 3
                pslldq xmm14, 9
                psrad xmm3, 31
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[0] = 0x0001_0002_0003_8001L; x[1] = 0xFFFF;
                    x[2] = 0x8000_7FFF_0001_FFFFL;
                    x[4] = -1L; x[5] = -1L;
                    x[6] = 0x8000_0000_7FFF_FFFFL;
                    x[18] = 0x0807_0605_0403_0201L; x[19] = 0x100F_0E0D_0C0B_0A09L;
                    x[28] = 0x0807_0605_0403_0201L; x[29] = 0x100F_0E0D_0C0B_0A09L;
                    mm.memory.writeU64(DATA, 4);
                    mm.memory.writeU64(DATA + 8, 0xFFFF);     // the count is the whole low quadword; the high one is ignored
                    mm.memory.writeU64(DATA + 16, 20);        // beyond 15: arithmetic shifts fill with the sign
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x0010_0020_0030_0010L, x[0]);
            assertEquals(0xFFF0L, x[1]);
            assertEquals(0xFFFF_0000_0000_FFFFL, x[2]);
            assertEquals(0, x[4]);
            assertEquals(0, x[5]);
            assertEquals(0xFFFF_FFFF_0000_0000L, x[6]);
            assertEquals(0x0B0A_0908_0706_0504L, x[18]);
            assertEquals(0x0000_0010_0F0E_0D0CL, x[19]);
            assertEquals(0, x[28]);
            assertEquals(0x0706_0504_0302_0100L, x[29]);
        }
    }

    @Test
    void wordInsertAndExtract() {
        try (TestMachine m = run("""
                mov rax, 0x200000
                pinsrw xmm3, word ptr [rax+1], 5
                mov ecx, 0x12345678
                pinsrw xmm3, ecx, 8
                pextrw r8, xmm3, 5
                pextrw edx, xmm3, 0
                """, mm -> {
                    mm.memory.writeU16(DATA + 1, 0xBEEF); // an m16 operand needs no alignment
                    mm.cpu.xmm[6] = 0x1111_2222_3333_4444L;
                    mm.cpu.gpr[R8] = -1L;
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x1111_2222_3333_5678L, x[6]); // imm8 selects word 8 & 7 = 0
            assertEquals(0x0000_0000_BEEF_0000L, x[7]);
            assertEquals(0xBEEF, m.reg(R8));
            assertEquals(0x5678, m.reg(RDX));
        }
    }

    @Test
    void interleaveWithAlignedMemorySource() {
        try (TestMachine m = run("mov rax, 0x200000\npunpcklbw xmm0, [rax]\npackuswb xmm1, xmm1", mm -> {
            mm.cpu.xmm[0] = 0x0706_0504_0302_0100L;
            mm.cpu.xmm[2] = 0x0100_00FF_8000_7FFFL;
            mm.cpu.xmm[3] = 0x0001_0002_0003_0004L;
            mm.memory.writeU64(DATA, 0x1716_1514_1312_1110L);
        })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x1303_1202_1101_1000L, x[0]);
            assertEquals(0x1707_1606_1505_1404L, x[1]);
            // 0x7FFF -> 0xFF, 0x8000 (negative) -> 0, 0x00FF -> 0xFF, 0x0100 -> 0xFF
            assertEquals(0x0102_0304_FFFF_00FFL, x[2]);
            assertEquals(x[2], x[3]);
        }
    }

    @Test
    void undefinedEncodingsRaiseUd() {
        for (String bytes : new String[] {
            ".byte 0x0f, 0xfc, 0xc1",             // PADDB mm0, mm1: MMX registers are not modelled
            ".byte 0x66, 0x0f, 0x71, 0x10, 0x01",  // shift group 12 with a memory operand
            ".byte 0x66, 0x0f, 0x73, 0xc8, 0x01",  // group 14 /1
            ".byte 0x66, 0x0f, 0xc5, 0x00, 0x01",  // PEXTRW with a memory operand (SSE4.1 only)
            ".byte 0xf0, 0x66, 0x0f, 0xfc, 0x00"}) { // LOCK PADDB
            try (TestMachine m = run(bytes)) {
                assertEquals(List.of((long) EXC_UD), m.reports, bytes);
            }
        }
    }
}
