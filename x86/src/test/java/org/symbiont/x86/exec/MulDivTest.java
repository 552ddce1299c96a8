package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.HostCrossCheck.*;

import java.math.BigInteger;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

class MulDivTest {
    private static final long DATA = 0x20_0000;

    static TestMachine run(String body) {
        TestMachine m = TestMachine.longMode();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + body + "\nhlt\n", 64, TestMachine.CODE));
        assertEquals(Exit.HALT, m.run(10_000));
        return m;
    }

    static long flags(TestMachine m) {
        return m.cpu.getRflags() & STATUS_FLAGS;
    }

    // ---- MUL / IMUL ----

    @Test
    void mulByteWritesAxOnly() {
        try (TestMachine m = run("mov rax, 0x1234567890ABCD80; mov bl, 2; mul bl")) {
            assertEquals(0x1234_5678_90AB_0100L, m.reg(RAX));
            assertEquals(CF | OF, flags(m) & (CF | OF));
        }
        try (TestMachine m = run("mov eax, 0x10; mov bl, 0x0F; mul bl")) {
            assertEquals(0xF0, m.reg(RAX));
            assertEquals(0, flags(m) & (CF | OF));
        }
    }

    @Test
    void mulWordKeepsUpperRegisterBits() {
        try (TestMachine m = run("mov rax, 0x111111111111FFFF; mov rdx, 0x2222222222222222; mov bx, 0xFFFF; mul bx")) {
            assertEquals(0x1111_1111_1111_0001L, m.reg(RAX));
            assertEquals(0x2222_2222_2222_FFFEL, m.reg(RDX));
            assertEquals(CF | OF, flags(m) & (CF | OF));
        }
    }

    @Test
    void mulDwordZeroExtendsBothHalves() {
        try (TestMachine m = run("mov rax, 0x33333333FFFFFFFF; mov rdx, -1; mov ebx, 2; mul ebx")) {
            assertEquals(0xFFFF_FFFEL, m.reg(RAX));
            assertEquals(1, m.reg(RDX));
            assertEquals(CF | OF, flags(m) & (CF | OF));
        }
    }

    @Test
    void mulQwordGivesTheHigh64Bits() {
        try (TestMachine m = run("mov rax, -1; mov rbx, -1; mul rbx")) {
            assertEquals(1, m.reg(RAX));
            assertEquals(0xFFFF_FFFF_FFFF_FFFEL, m.reg(RDX));
            assertEquals(CF | OF, flags(m) & (CF | OF));
        }
        try (TestMachine m = run("mov rax, 0x100000000; mov rbx, 0xFFFFFFFF; mul rbx")) {
            assertEquals(0xFFFF_FFFF_0000_0000L, m.reg(RAX));
            assertEquals(0, m.reg(RDX));
            assertEquals(0, flags(m) & (CF | OF));
        }
    }

    @Test
    void imulOneOperandSignedOverflow() {
        try (TestMachine m = run("""
                mov eax, 0x80; mov bl, -1; imul bl
                pushfq; pop r8
                mov ecx, 0xFE; xchg eax, ecx; mov bl, 3; imul bl
                pushfq; pop r9
                mov rdx, 0x8000000000000000; xchg rax, rdx; mov rbx, -1; imul rbx
                pushfq; pop r10
                """)) {
            assertEquals(0x80, m.reg(RCX));                      // -128 * -1 = 128 in AX
            assertEquals(CF | OF, m.reg(R8) & (CF | OF));
            assertEquals(0x8000_0000_0000_0000L, m.reg(RAX));    // 2^63 in RDX:RAX
            assertEquals(0, m.reg(RDX));
            assertEquals(CF | OF, m.reg(R10) & (CF | OF));
            assertEquals(0, m.reg(R9) & (CF | OF));              // -2 * 3 = -6 fits
        }
        try (TestMachine m = run("mov eax, 0xFE; mov bl, 3; imul bl")) {
            assertEquals(0xFFFA, m.reg(RAX));
        }
    }

    @Test
    void imulTwoAndThreeOperands() {
        try (TestMachine m = run("""
                mov rdi, 0x200000
                mov qword ptr [rdi], 0x7FFFFFFF
                mov rax, -1; mov ebx, 0x10000; mov eax, 0x10000; imul eax, ebx
                pushfq; pop r8
                mov rbx, -7; mov ecx, 0; imul rcx, rbx, -3
                pushfq; pop r9
                imul rdx, qword ptr [rdi], 0x12345678
                mov si, 200; imul si, si, 300
                pushfq; pop r10
                """)) {
            assertEquals(0, m.reg(RAX));
            assertEquals(CF | OF, m.reg(R8) & (CF | OF));
            assertEquals(21, m.reg(RCX));
            assertEquals(0, m.reg(R9) & (CF | OF));
            assertEquals(0x7FFF_FFFFL * 0x1234_5678L, m.reg(RDX));
            assertEquals((60000 & 0xFFFF), m.reg(RSI) & 0xFFFF);
            assertEquals(CF | OF, m.reg(R10) & (CF | OF));
        }
    }

    // ---- DIV / IDIV ----

    @Test
    void divAtEverySize() {
        try (TestMachine m = run("""
                mov eax, 1000; mov bl, 7; div bl
                mov r8, rax
                mov edx, 1; mov eax, 5; mov bx, 16; div bx
                mov r9, rax; mov r10, rdx
                mov edx, 1; mov eax, 5; mov ebx, 3; div ebx
                mov r11, rax; mov r12, rdx
                mov edx, 1; xor eax, eax; mov ebx, 3; div rbx
                """)) {
            assertEquals(142 | 6 << 8, m.reg(R8) & 0xFFFF);
            assertEquals(0x1000, m.reg(R9) & 0xFFFF);             // 0x10005 / 16
            assertEquals(5, m.reg(R10) & 0xFFFF);
            assertEquals(0x5555_5557L, m.reg(R11));               // 0x100000005 / 3
            assertEquals(0, m.reg(R12));
            assertEquals(0x5555_5555_5555_5555L, m.reg(RAX));     // 2^64 / 3
            assertEquals(1, m.reg(RDX));
        }
    }

    @Test
    void idivRoundsTowardZero() {
        try (TestMachine m = run("""
                mov ax, -7; mov bl, 2; idiv bl
                mov r8, rax
                mov ax, -7; cwd; mov bx, 2; idiv bx
                mov r9, rax; mov r10, rdx
                mov eax, 7; cdq; mov ebx, -2; idiv ebx
                mov r11, rax; mov r12, rdx
                mov rax, -7; cqo; mov rbx, 2; idiv rbx
                """)) {
            assertEquals(0xFFFD, m.reg(R8) & 0xFFFF);             // AL = -3, AH = -1
            assertEquals(0xFFFD, m.reg(R9) & 0xFFFF);
            assertEquals(0xFFFF, m.reg(R10) & 0xFFFF);
            assertEquals(0xFFFF_FFFDL, m.reg(R11));
            assertEquals(1, m.reg(R12));
            assertEquals(-3, m.reg(RAX));
            assertEquals(-1, m.reg(RDX));
        }
    }

    @Test
    void idivOf128BitDividends() {
        try (TestMachine m = run("mov rdx, -1; xor eax, eax; mov rbx, 3; idiv rbx")) {
            // -2^64 / 3 = -6148914691236517205 remainder -1
            assertEquals(-6_148_914_691_236_517_205L, m.reg(RAX));
            assertEquals(-1, m.reg(RDX));
        }
        try (TestMachine m = run("mov rdx, -1; xor eax, eax; mov rbx, 2; idiv rbx")) {
            assertEquals(Long.MIN_VALUE, m.reg(RAX));             // -2^64 / 2 = -2^63 just fits
            assertEquals(0, m.reg(RDX));
        }
        try (TestMachine m = run("mov rdx, 1; mov rax, 5; mov rbx, -4; idiv rbx")) {
            assertEquals(-0x4000_0000_0000_0001L, m.reg(RAX));    // (2^64 + 5) / -4
            assertEquals(1, m.reg(RDX));
        }
    }

    @Test
    void divisionFlagsFollowAmd() {
        try (TestMachine m = run("push 0x8d5; popfq; mov eax, 10; mov bl, 3; div bl")) {
            assertEquals(CF | OF | AF, flags(m));
        }
        try (TestMachine m = run("push 0x0d4; popfq; mov rax, 10; cqo; push 0x0d4; popfq; mov rbx, 3; idiv rbx")) {
            assertEquals(AF, flags(m));
        }
    }

    @Test
    void memorySources() {
        try (TestMachine m = run("""
                mov rdi, 0x200000
                mov qword ptr [rdi], 10
                mov dword ptr [rdi + 8], 3
                mov eax, 7; mul qword ptr [rdi]
                mov r8, rax
                mov eax, 100; xor edx, edx; div dword ptr [rdi + 8]
                """)) {
            assertEquals(70, m.reg(R8));
            assertEquals(33, m.reg(RAX));
            assertEquals(1, m.reg(RDX));
        }
    }

    private static final Map<String, byte[]> DIVISION_PROGRAMS = new HashMap<>();

    /**
     * Runs, on a reused machine, a division that must raise #DE with RAX, RDX, RBX and the dword
     * at DATA loaded from memory (one assembled program per instruction): vector 0 is reported,
     * the frame's RIP is the division's, and RAX and RDX are unchanged.
     */
    private static void assertDivideError(TestMachine m, String division, long rax, long rdx, long rbx) {
        byte[] code = DIVISION_PROGRAMS.computeIfAbsent(division, d -> Asm.assemble("""
                .intel_syntax noprefix
                mov rdi, 0x200000
                mov rax, [rdi + 8]; mov rdx, [rdi + 16]; mov rbx, [rdi + 24]
                mov r12, rax; mov r13, rdx; lea r15, [rip + 1f]
                1: %s
                hlt
                """.formatted(d), 64, TestMachine.CODE));
        String what = String.format("%s rax=%x rdx=%x rbx=%x", division, rax, rdx, rbx);
        m.memory.writeU64(DATA, rbx);
        m.memory.writeU64(DATA + 8, rax);
        m.memory.writeU64(DATA + 16, rdx);
        m.memory.writeU64(DATA + 24, rbx);
        m.load(code);
        m.cpu.halted = false;
        m.cpu.gpr[RSP] = TestMachine.STACK_TOP;
        m.reports.clear();
        assertEquals(Exit.HALT, m.run(1000));
        assertEquals(List.of((long) EXC_DE), m.reports, what);
        assertEquals(m.reg(R15), m.memory.readU64(m.reg(RSP)), "#DE is a fault: RIP of " + what);
        // The exception stub overwrites AL with the vector; the rest of RAX and RDX are unchanged.
        assertEquals(m.reg(R12) >>> 8, m.reg(RAX) >>> 8, what);
        assertEquals(m.reg(R13), m.reg(RDX), what);
    }

    @Test
    void divideErrors() {
        try (TestMachine m = TestMachine.longMode()) {
            divideErrors(m);
        }
    }

    private static void divideErrors(TestMachine m) {
        for (String zero : List.of("div bl", "div bx", "div ebx", "div rbx", "idiv bl", "idiv rbx", "idiv dword ptr [rdi]")) {
            assertDivideError(m, zero, 5, 0, 0);
        }
        assertDivideError(m, "div ebx", 5, 0, 0xFFFF_FFFF_0000_0000L); // only EBX counts
        // Quotient overflow.
        assertDivideError(m, "div bl", 0x100, 0, 1);
        assertDivideError(m, "div bx", 0, 1, 1);
        assertDivideError(m, "div ebx", 0, 2, 2);
        assertDivideError(m, "div rbx", 0, 5, 5);
        assertDivideError(m, "div rbx", 0, -1, -1);
        // The most negative dividend divided by -1.
        assertDivideError(m, "idiv bl", 0x8000, 0, -1);
        assertDivideError(m, "idiv bx", 0x8000, 0xFFFF, -1);
        assertDivideError(m, "idiv ebx", 0x8000_0000L, -1, -1);
        assertDivideError(m, "idiv rbx", Long.MIN_VALUE, -1, -1);
        // Signed quotients just out of range: 128 at 8 bits, 2^63 and 2^64 at 64 bits.
        assertDivideError(m, "idiv bl", 128, 0, 1);
        assertDivideError(m, "idiv rbx", 0, 1, 2);
        assertDivideError(m, "idiv rbx", 0, -1, -2);
        assertDivideError(m, "idiv rbx", 0, 0x4000_0000_0000_0000L, 0x4000_0000_0000_0000L);
    }

    // ---- the 128-by-64 division ----

    @Test
    void divide128AgreesWithBigInteger() {
        SplittableRandom rnd = new SplittableRandom(128);
        long[] divisors = {1, 2, 3, 7, 0xFFFF_FFFFL, 0x1_0000_0000L, 0x1_0000_0001L, 0x8000_0000_0000_0000L, -1, -2,
            0x7FFF_FFFF_FFFF_FFFFL, 0x8000_0000_0000_0001L, 0xFFFF_FFFF_0000_0000L};
        for (int k = 0; k < 50_000; k++) {
            long pick = k < divisors.length * 8 ? divisors[k % divisors.length] : interesting(rnd);
            long d = pick == 0 ? 1 : pick;
            long hi = switch (rnd.nextInt(4)) {
                case 0 -> 0;
                case 1 -> d - 1; // the largest allowed high half
                default -> Long.remainderUnsigned(interesting(rnd), d);
            };
            long lo = rnd.nextInt(3) == 0 ? -1 : interesting(rnd);
            BigInteger n = unsigned(hi).shiftLeft(64).or(unsigned(lo));
            BigInteger[] qr = n.divideAndRemainder(unsigned(d));
            long q = MulDiv.divide128(hi, lo, d);
            assertEquals(qr[0].longValue(), q, () -> String.format("%x:%x / %x", hi, lo, d));
            assertEquals(qr[1].longValue(), lo - q * d, () -> String.format("%x:%x %% %x", hi, lo, d));
        }
    }

    private static BigInteger unsigned(long v) {
        return new BigInteger(Long.toUnsignedString(v));
    }

    // ---- random operands: the emulator against BigInteger and against the host CPU ----

    private static final String[] DIVS = {"div bl", "div bx", "div ebx", "div rbx", "idiv bl", "idiv bx", "idiv ebx", "idiv rbx"};

    /** Quotient and remainder of DIV/IDIV by the BigInteger model, or null for #DE. */
    static long[] expectedDivision(boolean signed, int size, long rax, long rdx, long src) {
        int bits = 8 * size;
        BigInteger dividend, divisor;
        if (size == 1) {
            dividend = signed ? BigInteger.valueOf((short) rax) : BigInteger.valueOf(rax & 0xFFFF);
        } else {
            dividend = field(rdx, bits).shiftLeft(bits).or(field(rax, bits));
            if (signed && dividend.testBit(2 * bits - 1)) dividend = dividend.subtract(BigInteger.ONE.shiftLeft(2 * bits));
        }
        divisor = field(src, bits);
        if (signed && divisor.testBit(bits - 1)) divisor = divisor.subtract(BigInteger.ONE.shiftLeft(bits));
        if (divisor.signum() == 0) return null;
        BigInteger[] qr = dividend.divideAndRemainder(divisor);
        BigInteger lowest = signed ? BigInteger.ONE.shiftLeft(bits - 1).negate() : BigInteger.ZERO;
        BigInteger limit = signed ? BigInteger.ONE.shiftLeft(bits - 1) : BigInteger.ONE.shiftLeft(bits);
        if (qr[0].compareTo(lowest) < 0 || qr[0].compareTo(limit) >= 0) return null;
        return new long[] {qr[0].longValue(), qr[1].longValue()};
    }

    private static BigInteger field(long v, int bits) {
        return unsigned(v).and(BigInteger.ONE.shiftLeft(bits).subtract(BigInteger.ONE));
    }

    /** Random division inputs that do not fault, half of them with a dividend near the quotient limit. */
    private static void addDivisionCases(HostCrossCheck x, SplittableRandom rnd, int n) {
        for (int d = 0; d < DIVS.length; d++) {
            int insn = x.instruction(DIVS[d], STATUS_FLAGS);
            int size = 1 << (d & 3);
            boolean signed = d >= 4;
            int added = 0;
            while (added < n) {
                long[] s = randomState(rnd);
                if (rnd.nextBoolean()) {
                    // Make the high half smaller than the divisor so that the quotient fits more often.
                    long divisor = s[RBX_W] & Flags.mask(size);
                    if (divisor != 0 && size > 1) s[RDX_W] = Long.remainderUnsigned(s[RDX_W] & Flags.mask(size), divisor) >>> 1;
                    if (signed && rnd.nextBoolean() && size > 1) s[RDX_W] = ~s[RDX_W];
                }
                if (expectedDivision(signed, size, s[RAX_W], s[RDX_W], s[RBX_W]) == null) continue;
                x.add(insn, s);
                added++;
            }
        }
    }

    @Test
    void randomDivisionsMatchBigInteger() {
        HostCrossCheck x = new HostCrossCheck();
        SplittableRandom rnd = new SplittableRandom(0xD1F);
        addDivisionCases(x, rnd, 500);
        long[][] out = x.runEmulator();
        int k = 0;
        for (int d = 0; d < DIVS.length; d++) {
            int size = 1 << (d & 3);
            for (int j = 0; j < 500; j++, k++) {
                long[] in = x.input(k);
                long[] e = expectedDivision(d >= 4, size, in[RAX_W], in[RDX_W], in[RBX_W]);
                String what = DIVS[d] + String.format(" rdx=%x rax=%x rbx=%x", in[RDX_W], in[RAX_W], in[RBX_W]);
                if (size == 1) {
                    assertEquals((e[0] & 0xFF) | (e[1] & 0xFF) << 8, out[k][RAX_W] & 0xFFFF, what);
                } else {
                    assertEquals(e[0] & Flags.mask(size), out[k][RAX_W] & Flags.mask(size), what);
                    assertEquals(e[1] & Flags.mask(size), out[k][RDX_W] & Flags.mask(size), what);
                }
            }
        }
    }

    @Test
    void randomDivideErrorsMatchBigInteger() {
        SplittableRandom rnd = new SplittableRandom(0xDE);
        try (TestMachine m = TestMachine.longMode()) {
            int found = 0;
            while (found < 200) {
                int d = rnd.nextInt(DIVS.length);
                int size = 1 << (d & 3);
                long rax = interesting(rnd), rdx = interesting(rnd), rbx = rnd.nextInt(4) == 0 ? 0 : interesting(rnd);
                if (expectedDivision(d >= 4, size, rax, rdx, rbx) != null) continue;
                found++;
                assertDivideError(m, DIVS[d], rax, rdx, rbx);
            }
        }
    }

    @Test
    void agreesWithTheHostCpu() {
        HostCrossCheck x = new HostCrossCheck();
        SplittableRandom rnd = new SplittableRandom(0x3D);
        // SF, ZF, AF, PF are undefined after multiplication and AMD leaves them unchanged; this
        // core computes them from the low half, so only CF and OF are compared.
        long mulFlags = CF | OF;
        for (String insn : List.of("mul bl", "mul bx", "mul ebx", "mul rbx", "imul bl", "imul bx", "imul ebx", "imul rbx",
                "mul byte ptr [rdi + 48]", "imul qword ptr [rdi + 48]", "imul ah",
                "imul ax, bx", "imul eax, ebx", "imul rax, rbx", "imul rsi, qword ptr [rdi + 48]",
                "imul ax, bx, -3", "imul eax, ebx, 77", "imul rax, rbx, -100", "imul cx, bx, 0x1234",
                "imul ecx, ebx, 0x12345678", "imul rcx, rbx, -0x12345678", "imul edx, dword ptr [rdi + 52], 1000")) {
            int n = x.instruction(insn, mulFlags);
            for (int k = 0; k < 300; k++) x.add(n, randomState(rnd));
        }
        addDivisionCases(x, rnd, 300);
        x.assertSameAsHost();
    }
}
