package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/** SSE/SSE2 floating point: arithmetic, rounding, MXCSR, exceptions, conversions, compares. */
class SseFloatTest {
    static final long DATA = 0x20_0000;

    /** Runs Intel-syntax 64-bit code (a final hlt is appended) on a fresh long-mode machine. */
    static TestMachine run(String asm, Consumer<TestMachine> setup) {
        byte[] code = Asm.assemble(".intel_syntax noprefix\n" + asm + "\nhlt\n", 64, TestMachine.CODE);
        TestMachine m = TestMachine.longMode();
        m.load(code);
        setup.accept(m);
        assertEquals(Exit.HALT, m.run(10_000));
        return m;
    }

    static TestMachine run(String asm) {
        return run(asm, m -> { });
    }

    /** Two singles packed into a quadword (lane 0 low). */
    static long f(float lo, float hi) {
        return (Float.floatToRawIntBits(lo) & 0xFFFF_FFFFL) | (long) Float.floatToRawIntBits(hi) << 32;
    }

    static long d(double v) {
        return Double.doubleToRawLongBits(v);
    }

    @Test
    void scalarOperationsMergeAndPackedOperationsCoverAllLanes() {
        try (TestMachine m = run("""
                addps xmm0, xmm1
                addss xmm2, xmm3
                mulpd xmm4, xmm5
                sqrtsd xmm6, xmm7
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[0] = f(1, 2); x[1] = f(3, 4);
                    x[2] = f(3, 4); x[3] = f(5, 6);
                    x[4] = f(10, 20); x[5] = f(30, 40);
                    x[6] = f(30, 40); x[7] = f(50, 60);
                    x[8] = d(2); x[9] = d(-3);
                    x[10] = d(4); x[11] = d(0.5);
                    x[12] = d(1); x[13] = 0x1234_5678_9ABC_DEF0L;
                    x[14] = d(16); x[15] = 0x0BAD_F00DL;
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(f(4, 6), x[0]);
            assertEquals(f(8, 10), x[1]);
            assertEquals(f(40, 20), x[4]); // lane 0 added, lanes 1-3 kept
            assertEquals(f(30, 40), x[5]);
            assertEquals(d(8), x[8]);
            assertEquals(d(-1.5), x[9]);
            assertEquals(d(4), x[12]);
            assertEquals(0x1234_5678_9ABC_DEF0L, x[13]);
            assertEquals(0x1F80, m.cpu.mxcsr); // everything exact
        }
    }

    @Test
    void memoryOperandsAndHighRegisters() {
        try (TestMachine m = run("""
                mov rax, 0x200000
                mulps xmm8, [rax]
                subpd xmm15, [rax+16]
                divsd xmm9, qword ptr [rax+36]
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[16] = f(10, 20); x[17] = f(30, 40);
                    x[30] = d(5); x[31] = d(7);
                    x[18] = d(9); x[19] = 77;
                    mm.memory.writeU64(DATA, f(2, 0.5f));
                    mm.memory.writeU64(DATA + 8, f(-1, 4));
                    mm.memory.writeU64(DATA + 16, d(1));
                    mm.memory.writeU64(DATA + 24, d(3));
                    mm.memory.writeU64(DATA + 36, d(3)); // scalar memory operands need no alignment
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(f(20, 10), x[16]);
            assertEquals(f(-30, 160), x[17]);
            assertEquals(d(4), x[30]);
            assertEquals(d(4), x[31]);
            assertEquals(d(3), x[18]);
            assertEquals(77, x[19]);
            assertTrue(m.reports.isEmpty());
        }
    }

    @Test
    void divisionRoundsInAllFourModes() {
        double third = 1.0 / 3.0; // round-to-nearest rounds down here
        long[] positive = {d(third), d(third), d(Math.nextUp(third)), d(third)};
        long[] negative = {d(-third), d(Math.nextDown(-third)), d(-third), d(-third)};
        for (int rc = 0; rc < 4; rc++) {
            int mx = 0x1F80 | rc << Sse.RC_SHIFT;
            try (TestMachine m = run("""
                    ldmxcsr [rip+mx]
                    divsd xmm0, xmm3
                    divsd xmm2, xmm3
                    divss xmm4, xmm5
                    hlt
                    mx: .long %d
                    """.formatted(mx), mm -> {
                        long[] x = mm.cpu.xmm;
                        x[0] = d(1); x[4] = d(-1); x[6] = d(3);
                        x[8] = f(2, 0); x[10] = f(3, 0);
                    })) {
                assertEquals(positive[rc], m.cpu.xmm[0], "mode " + rc);
                assertEquals(negative[rc], m.cpu.xmm[4], "mode " + rc);
                float twoThirds = 2f / 3f; // rounds up to nearest
                float expected = rc == Sse.RC_DOWN || rc == Sse.RC_ZERO ? Math.nextDown(twoThirds) : twoThirds;
                assertEquals(Float.floatToRawIntBits(expected), (int) m.cpu.xmm[8], "mode " + rc);
                assertEquals(mx | Sse.PE, m.cpu.mxcsr);
            }
        }
    }

    @Test
    void exactCancellationGivesMinusZeroOnlyWhenRoundingDown() {
        for (int rc = 0; rc < 4; rc++) {
            int mx = 0x1F80 | rc << Sse.RC_SHIFT;
            try (TestMachine m = run("ldmxcsr [rip+mx]\nsubsd xmm0, xmm1\nsubss xmm2, xmm3\nhlt\nmx: .long " + mx, mm -> {
                long[] x = mm.cpu.xmm;
                x[0] = d(1.25); x[2] = d(1.25);
                x[4] = f(7, 0); x[6] = f(7, 0);
            })) {
                long sign = rc == Sse.RC_DOWN ? Long.MIN_VALUE : 0;
                assertEquals(sign, m.cpu.xmm[0]);
                assertEquals(rc == Sse.RC_DOWN ? 0x8000_0000L : 0, m.cpu.xmm[4] & 0xFFFF_FFFFL);
            }
        }
    }

    @Test
    void maskedExceptionsProduceDefaultResultsAndStickyFlags() {
        try (TestMachine m = run("""
                divss xmm0, xmm1
                sqrtsd xmm2, xmm3
                addsd xmm4, xmm5
                mulsd xmm6, xmm7
                stmxcsr [rip+out]
                mov eax, [rip+out]
                hlt
                out: .long 0
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[0] = f(1, 0); x[2] = f(0, 0);      // 1/0: ZE, +inf
                    x[6] = d(-4);                        // sqrt(-4): IE, default NaN
                    x[8] = d(Double.MAX_VALUE); x[10] = d(Double.MAX_VALUE); // overflow: OE PE, +inf
                    x[12] = d(Double.MIN_NORMAL); x[14] = d(0.75);            // tiny but exact: no UE when masked
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x7F80_0000L, x[0] & 0xFFFF_FFFFL);
            assertEquals(SoftFloat.DEFAULT_NAN64, x[4]);
            assertEquals(d(Double.POSITIVE_INFINITY), x[8]);
            assertEquals(d(Double.MIN_NORMAL * 0.75), x[12]);
            int flags = Sse.ZE | Sse.IE | Sse.OE | Sse.PE;
            assertEquals(0x1F80 | flags, m.cpu.mxcsr);
            assertEquals(0x1F80 | flags, m.reg(RAX));
        }
    }

    @Test
    void flushToZeroAndDenormalsAreZero() {
        double tiny = Double.MIN_NORMAL * 0.75;
        // FTZ flushes a tiny result (even an exact one) with UE and PE; DAZ reads a denormal as zero.
        try (TestMachine m = run("""
                ldmxcsr [rip+mx]
                mulsd xmm0, xmm1
                addsd xmm2, xmm3
                hlt
                mx: .long 0x9FC0
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[0] = d(Double.MIN_NORMAL); x[2] = d(0.75);
                    x[4] = d(1.0); x[6] = d(tiny);
                })) {
            assertEquals(0, m.cpu.xmm[0]);
            assertEquals(d(1.0), m.cpu.xmm[4]);
            assertEquals(0x9FC0 | Sse.UE | Sse.PE, m.cpu.mxcsr);
        }
        try (TestMachine m = run("addsd xmm2, xmm3", mm -> {
            mm.cpu.xmm[4] = d(1.0);
            mm.cpu.xmm[6] = d(tiny);
        })) {
            assertEquals(d(1.0), m.cpu.xmm[4]); // the denormal only makes the sum inexact
            assertEquals(0x1F80 | Sse.DE | Sse.PE, m.cpu.mxcsr);
        }
    }

    @Test
    void nanRulesFollowTheFirstSourceOperand() {
        long qnanA = 0x7FF8_0000_0000_1111L, snanB = 0x7FF0_0000_0000_2222L;
        try (TestMachine m = run("addsd xmm0, xmm1\naddsd xmm2, xmm3\nminsd xmm4, xmm5", mm -> {
            long[] x = mm.cpu.xmm;
            x[0] = qnanA; x[2] = snanB;        // first operand's NaN wins, IE from the SNaN
            x[4] = d(1); x[6] = snanB;         // the SNaN is quieted
            x[8] = qnanA; x[10] = d(2);        // MIN returns the second operand when either is NaN
        })) {
            assertEquals(qnanA, m.cpu.xmm[0]);
            assertEquals(snanB | 0x0008_0000_0000_0000L, m.cpu.xmm[4]);
            assertEquals(d(2), m.cpu.xmm[8]);
            assertEquals(0x1F80 | Sse.IE, m.cpu.mxcsr);
        }
    }

    @Test
    void unmaskedExceptionRaisesXmAndLeavesTheDestination() {
        try (TestMachine m = run("""
                ldmxcsr [rip+mx]
                divps xmm0, [rip+data]
                mov eax, 1
                hlt
                .balign 16
                data: .float 1, 0, 1, 1
                mx: .long 0x1D80
                """, mm -> {
                    mm.cpu.xmm[0] = f(5, 6);
                    mm.cpu.xmm[1] = f(7, 8);
                })) {
            assertEquals(List.of((long) EXC_XM), m.reports);
            assertEquals(f(5, 6), m.cpu.xmm[0]);
            assertEquals(f(7, 8), m.cpu.xmm[1]);
            assertEquals(0x1D80 | Sse.ZE, m.cpu.mxcsr);
        }
        // Without CR4.OSXMMEXCPT the same condition raises #UD.
        try (TestMachine m = run("divss xmm0, xmm1", mm -> {
            mm.cpu.cr4 &= ~CR4_OSXMMEXCPT;
            mm.cpu.mxcsr = 0x1D80;
            mm.cpu.xmm[0] = f(1, 0);
        })) {
            assertEquals(List.of((long) EXC_UD), m.reports);
            assertEquals(f(1, 0), m.cpu.xmm[0]);
        }
    }

    @Test
    void availabilityChecks() {
        record Case(long cr0Set, long cr4Clear, int vector) {}
        for (Case k : new Case[] {
            new Case(CR0_EM, 0, EXC_UD), new Case(0, CR4_OSFXSR, EXC_UD), new Case(CR0_TS, 0, EXC_NM)}) {
            for (String insn : new String[] {"addps xmm0, xmm1", "paddb xmm0, xmm1", "movaps xmm0, xmm1", "ldmxcsr [rsp]"}) {
                try (TestMachine m = run(insn, mm -> {
                    mm.cpu.cr0 |= k.cr0Set();
                    mm.cpu.cr4 &= ~k.cr4Clear();
                })) {
                    assertEquals(List.of((long) k.vector()), m.reports, insn + " " + k);
                }
            }
        }
    }

    @Test
    void packedMemoryOperandsMustBeAligned() {
        for (String insn : new String[] {"addps xmm0, [rax]", "cmppd xmm0, [rax], 1", "cvtdq2ps xmm0, [rax]", "sqrtpd xmm1, [rax]"}) {
            try (TestMachine m = run("mov rax, 0x200008\n" + insn)) {
                assertEquals(List.of((long) EXC_GP), m.reports, insn);
            }
        }
        for (String insn : new String[] {"addss xmm0, [rax]", "comisd xmm0, [rax]", "cvtps2pd xmm0, [rax]", "cvtsd2si eax, [rax]"}) {
            try (TestMachine m = run("mov rax, 0x200004\n" + insn)) {
                assertTrue(m.reports.isEmpty(), insn);
            }
        }
    }

    @Test
    void ldmxcsrAndStmxcsr() {
        try (TestMachine m = run("""
                ldmxcsr [rip+good]
                stmxcsr [rip+out]
                mov ebx, [rip+out]
                ldmxcsr [rip+bad]
                hlt
                good: .long 0xFFFF
                bad: .long 0x10000
                out: .long 0
                """)) {
            assertEquals(0xFFFF, m.reg(RBX));
            assertEquals(List.of((long) EXC_GP), m.reports);
            assertEquals(0xFFFF, m.cpu.mxcsr);
        }
    }

    @Test
    void conversionsToIntegerRoundAndSaturateToIndefinite() {
        try (TestMachine m = run("""
                cvtsd2si eax, xmm0
                cvttsd2si ebx, xmm0
                cvtsd2si rcx, xmm1
                cvttss2si edx, xmm2
                cvtss2si rsi, xmm2
                cvtsd2si edi, xmm3
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[0] = d(-2.5);
                    x[2] = d(1e19);
                    x[4] = f(Float.NaN, 0);
                    x[6] = d(2147483647.4);
                })) {
            assertEquals(0xFFFF_FFFEL, m.reg(RAX)); // -2 (ties to even)
            assertEquals(0xFFFF_FFFEL, m.reg(RBX)); // truncation: -2
            assertEquals(Long.MIN_VALUE, m.reg(RCX));
            assertEquals(0x8000_0000L, m.reg(RDX));
            assertEquals(Long.MIN_VALUE, m.reg(RSI));
            assertEquals(0x7FFF_FFFFL, m.reg(RDI));
            assertEquals(0x1F80 | Sse.IE | Sse.PE, m.cpu.mxcsr);
        }
    }

    @Test
    void conversionsBetweenFormatsAndFromIntegers() {
        try (TestMachine m = run("""
                mov rax, -3
                cvtsi2sd xmm0, rax
                cvtsi2ss xmm1, eax
                cvtss2sd xmm2, xmm1
                cvtpd2ps xmm3, xmm4
                cvtdq2pd xmm5, xmm6
                mov rbx, 0x7FFFFFFFFFFFFFFF
                cvtsi2sd xmm7, rbx
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[1] = 0x55; x[3] = 0x66; x[5] = 0x77; x[7] = 0x88;
                    x[8] = d(0.1); x[9] = d(1e300);
                    x[12] = (-7L & 0xFFFF_FFFFL) | 9L << 32;
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(d(-3), x[0]);
            assertEquals(0x55, x[1]);
            assertEquals(Float.floatToRawIntBits(-3f) & 0xFFFF_FFFFL, x[2] & 0xFFFF_FFFFL);
            assertEquals(d(-3), x[4]);
            assertEquals(f(0.1f, Float.POSITIVE_INFINITY), x[6]);
            assertEquals(0, x[7]); // CVTPD2PS zeroes the upper half
            assertEquals(d(-7), x[10]);
            assertEquals(d(9), x[11]);
            assertEquals(d(0x1p63), x[14]);
            assertEquals(0x1F80 | Sse.OE | Sse.PE, m.cpu.mxcsr);
        }
    }

    @Test
    void comparesAndOrderedFlags() {
        try (TestMachine m = run("""
                cmpltps xmm0, xmm1
                cmpunordsd xmm2, xmm3
                comisd xmm4, xmm5
                setb al
                sete bl
                setp cl
                ucomisd xmm4, xmm6
                setp dl
                """, mm -> {
                    long[] x = mm.cpu.xmm;
                    x[0] = f(1, 5); x[1] = f(-1, Float.NaN);
                    x[2] = f(2, 5); x[3] = f(-2, 1);
                    x[4] = d(Double.NaN); x[6] = d(1);
                    x[8] = d(1); x[10] = d(2);
                    x[12] = 0x7FF8_0000_0000_0001L;
                })) {
            long[] x = m.cpu.xmm;
            assertEquals(0x0000_0000_FFFF_FFFFL, x[0]);
            assertEquals(0, x[1]);
            assertEquals(-1L, x[4]);
            assertEquals(1, m.reg(RAX) & 0xFF);
            assertEquals(0, m.reg(RBX) & 0xFF);
            assertEquals(0, m.reg(RCX) & 0xFF);
            assertEquals(1, m.reg(RDX) & 0xFF);
            assertEquals(0x1F80 | Sse.IE, m.cpu.mxcsr); // LT with a QNaN signals; UNORD and UCOMISD do not
        }
    }

    @Test
    void reciprocalApproximationsStayWithinTheArchitecturalBound() {
        Random r = new Random(7);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(Asm.assemble(".intel_syntax noprefix\nrcpps xmm0, xmm2\nrsqrtps xmm1, xmm2\nhlt\n", 64, TestMachine.CODE));
            for (int k = 0; k < 2000; k++) {
                float a = Float.intBitsToFloat(r.nextInt(2) << 31 | (r.nextInt(250) + 2) << 23 | r.nextInt(1 << 23));
                float b = Math.abs(Float.intBitsToFloat((r.nextInt(250) + 2) << 23 | r.nextInt(1 << 23)));
                m.cpu.xmm[4] = f(a, b);
                m.cpu.xmm[5] = f(-0f, Float.intBitsToFloat(1));
                m.cpu.rip = TestMachine.CODE;
                m.cpu.halted = false;
                assertEquals(Exit.HALT, m.run(10));
                long rcp = m.cpu.xmm[0], rsq = m.cpu.xmm[2];
                assertClose(1.0 / a, Float.intBitsToFloat((int) rcp));
                assertClose(1.0 / b, Float.intBitsToFloat((int) (rcp >>> 32)));
                assertEquals(Float.floatToRawIntBits(Float.NEGATIVE_INFINITY), (int) m.cpu.xmm[1]);
                assertEquals(Float.floatToRawIntBits(Float.POSITIVE_INFINITY), (int) (m.cpu.xmm[1] >>> 32)); // denormal as zero
                if (a < 0) assertEquals((int) SoftFloat.DEFAULT_NAN32, (int) rsq);
                else assertClose(1.0 / Math.sqrt(a), Float.intBitsToFloat((int) rsq));
                assertClose(1.0 / Math.sqrt(b), Float.intBitsToFloat((int) (rsq >>> 32)));
            }
            assertEquals(0x1F80, m.cpu.mxcsr);
        }
    }

    private static void assertClose(double exact, float approx) {
        if (Math.abs(exact) < Float.MIN_NORMAL) {
            assertEquals(0f, Math.abs(approx));
            return;
        }
        assertTrue(Math.abs(approx - exact) <= 1.5 * 0x1p-12 * Math.abs(exact), exact + " vs " + approx);
    }
}
