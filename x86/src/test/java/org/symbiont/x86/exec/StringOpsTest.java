package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS: every size and direction, REP/REPE/REPNE, address
 * sizes, budgets that split a REP instruction across slices, overlapping copies, MMIO and port
 * exits in the middle of a REP, page faults at an iteration, and writes into code.
 */
class StringOpsTest {
    private static final long DATA = 0x20_0000;
    private static final long SRC = DATA, DST = DATA + 0x1_0000;

    private static TestMachine machine(String source) {
        TestMachine m = TestMachine.longMode();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + source, 64, TestMachine.CODE));
        return m;
    }

    private static void runToHalt(TestMachine m) {
        assertEquals(Exit.HALT, m.run(10_000_000));
        assertEquals(List.of(), m.reports, "no exception expected");
    }

    private static long flags(TestMachine m) {
        return m.cpu.getRflags() & STATUS_FLAGS;
    }

    private static void setDirection(TestMachine m, boolean down) {
        if (down) m.cpu.rflags |= DF;
        else m.cpu.rflags &= ~DF;
    }

    private static String suffix(int size) {
        return switch (size) {
            case 1 -> "b";
            case 2 -> "w";
            case 4 -> "d";
            default -> "q";
        };
    }

    private static long mask(int size) {
        return size == 8 ? -1L : (1L << (8 * size)) - 1;
    }

    private static void writeSized(TestMachine m, long gpa, int size, long v) {
        for (int k = 0; k < size; k++) m.memory.writeU8(gpa + k, (int) (v >>> (8 * k)));
    }

    private static long readSized(TestMachine m, long gpa, int size) {
        long v = 0;
        for (int k = 0; k < size; k++) v |= (long) m.memory.readU8(gpa + k) << (8 * k);
        return v;
    }

    // ---- single iterations ----

    private static final long A = 0x1122_3344_5566_7701L, B = 0x1122_3344_5566_7702L;

    @ParameterizedTest(name = "size {0}, DF {1}")
    @CsvSource({"1,false", "2,false", "4,false", "8,false", "1,true", "2,true", "4,true", "8,true"})
    void singleIterationsInEverySizeAndDirection(int size, boolean down) {
        String s = suffix(size);
        try (TestMachine m = machine("""
                movs%1$s
                mov r8, rsi
                mov r9, rdi
                mov rsi, %2$d
                mov rdi, %3$d
                cmps%1$s
                pushfq
                pop r10
                mov rdi, %3$d + 64
                stos%1$s
                mov rsi, %3$d
                mov rax, -1
                lods%1$s
                mov r11, rax
                mov rdi, %2$d
                mov rax, %4$d
                scas%1$s
                hlt
                """.formatted(s, SRC, DST, A))) {
            writeSized(m, SRC, size, A);
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RAX] = 0x0807_0605_0403_0201L;
            setDirection(m, down);
            runToHalt(m);
            long step = down ? -size : size;
            // MOVS copied the element and stepped both indexes.
            assertEquals(A & mask(size), readSized(m, DST, size));
            assertEquals(SRC + step, m.reg(R8));
            assertEquals(DST + step, m.reg(R9));
            // CMPS compared [rSI] (A) with [rDI] (the copy of A): equal.
            assertEquals(ZF | PF, m.reg(R10) & STATUS_FLAGS);
            // STOS stored the low bytes of rAX.
            assertEquals(0x0807_0605_0403_0201L & mask(size), readSized(m, DST + 64, size));
            assertEquals(0, readSized(m, DST + 64 + size, 1), "no byte beyond the element");
            // LODS: 8- and 16-bit loads merge into RAX, 32-bit ones zero-extend.
            long loaded = A & mask(size);
            long expectedRax = size >= 4 ? loaded : (-1L & ~mask(size)) | loaded;
            assertEquals(expectedRax, m.reg(R11));
            // SCAS compared rAX (A) with [rDI] (A at SRC), then stepped rDI.
            assertEquals(ZF | PF, flags(m));
            assertEquals(SRC + step, m.reg(RDI));
        }
    }

    @ParameterizedTest(name = "size {0}")
    @CsvSource({"1", "2", "4", "8"})
    void compareFlagsAreThoseOfSourceMinusDestination(int size) {
        String s = suffix(size);
        try (TestMachine m = machine("cmps" + s + "\npushfq\npop r8\nmov rax, " + A + "\nmov rdi, " + DST + "\nscas" + s + "\nhlt")) {
            writeSized(m, SRC, size, A);
            writeSized(m, DST, size, B);
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            runToHalt(m);
            // A - B = -1 in every size: borrow, sign, even parity of FF, nibble borrow.
            assertEquals(CF | SF | PF | AF, m.reg(R8) & STATUS_FLAGS);
            assertEquals(CF | SF | PF | AF, flags(m), "SCAS: rAX - [rDI]");
        }
    }

    @Test
    void nonRepeatedStringInstructionsInsideABlock() {
        try (TestMachine m = machine("""
                mov rsi, 0x200000
                mov rdi, 0x210000
                movsb
                movsw
                movsd
                movsq
                mov eax, 0xAB
                stosb
                hlt
                """)) {
            for (int k = 0; k < 16; k++) m.memory.writeU8(SRC + k, k + 1);
            runToHalt(m);
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, (byte) 0xAB, 0},
                    m.memory.read(DST, 17));
            assertEquals(SRC + 15, m.reg(RSI));
            assertEquals(9, m.cpu.retired);
        }
    }

    @Test
    void sourceSegmentOverrideAndEsDestination() {
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {0x64, (byte) 0xF3, (byte) 0xA4, (byte) 0xF4}); // fs rep movsb
            m.memory.write(SRC + 0x500, new byte[] {9, 8, 7});
            m.cpu.segBase[FS] = SRC;
            Segmentation.refreshEffectiveSegments(m.cpu);
            m.cpu.gpr[RSI] = 0x500;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 3;
            runToHalt(m);
            assertArrayEquals(new byte[] {9, 8, 7}, m.memory.read(DST, 3));
            assertEquals(0x503, m.reg(RSI));
        }
    }

    // ---- REP ----

    @ParameterizedTest(name = "size {0}, DF {1}")
    @CsvSource({"1,false", "2,false", "4,false", "8,false", "1,true", "2,true", "4,true", "8,true"})
    void repMovsAndStosAcrossPages(int size, boolean down) {
        int count = 3000 / size;
        long bytes = (long) count * size;
        // The run starts inside a page and crosses several 4 KiB boundaries.
        long src = down ? SRC + 0x100 + bytes - size : SRC + 0x100;
        long dst = down ? DST + 0x33 + bytes - size : DST + 0x33;
        try (TestMachine m = TestMachine.longMode()) {
            String s = suffix(size);
            m.load(Asm.assemble(".intel_syntax noprefix\nrep movs" + s + "\nmov rcx, " + count + "\nrep stos" + s + "\nhlt", 64, TestMachine.CODE));
            byte[] data = new byte[(int) bytes];
            new Random(size).nextBytes(data);
            m.memory.write(SRC + 0x100, data);
            m.cpu.gpr[RSI] = src;
            m.cpu.gpr[RDI] = dst;
            m.cpu.gpr[RCX] = count;
            m.cpu.gpr[RAX] = 0x5A5A_5A5A_5A5A_5A5AL ^ size;
            setDirection(m, down);
            // Stop after the MOVS to check it.
            assertEquals(Exit.BUDGET_EXHAUSTED, m.cpu.run(count));
            assertArrayEquals(data, m.memory.read(DST + 0x33, (int) bytes));
            assertEquals(0, m.reg(RCX));
            assertEquals(down ? src - bytes : src + bytes, m.reg(RSI));
            assertEquals(down ? dst - bytes : dst + bytes, m.reg(RDI));
            assertEquals(count, m.cpu.retired);
            m.cpu.gpr[RDI] = dst;
            runToHalt(m);
            for (long k = 0; k < count; k++) {
                assertEquals((0x5A5A_5A5A_5A5A_5A5AL ^ size) & mask(size), readSized(m, DST + 0x33 + k * size, size));
            }
            assertEquals(0, m.memory.readU8(DST + 0x33 + bytes));
            assertEquals(0, m.memory.readU8(DST + 0x32));
            assertEquals(2L * count + 2, m.cpu.retired);
        }
    }

    @Test
    void repWithZeroCountDoesNothingAndCountsOne() {
        try (TestMachine m = machine("rep movsb\nrepne scasb\nhlt")) {
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            long before = flags(m);
            runToHalt(m);
            assertEquals(SRC, m.reg(RSI));
            assertEquals(DST, m.reg(RDI));
            assertEquals(before, flags(m));
            assertEquals(3, m.cpu.retired);
        }
    }

    @Test
    void repLodsLeavesTheLastElement() {
        try (TestMachine m = machine("rep lodsw\nhlt")) {
            m.memory.write(SRC, new byte[] {1, 0, 2, 0, 3, 0, 4, 0});
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RCX] = 4;
            runToHalt(m);
            assertEquals(4, m.reg(RAX));
            assertEquals(SRC + 8, m.reg(RSI));
            assertEquals(5, m.cpu.retired);
        }
    }

    @Test
    void f2PrefixRepeatsMovs() {
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {(byte) 0xF2, (byte) 0xA4, (byte) 0xF4}); // repne movsb
            m.memory.write(SRC, new byte[] {1, 2, 3, 4});
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 4;
            runToHalt(m);
            assertArrayEquals(new byte[] {1, 2, 3, 4}, m.memory.read(DST, 4));
            assertEquals(0, m.reg(RCX));
        }
    }

    @Test
    void addressSize32UsesEcxEsiEdi() {
        try (TestMachine m = machine("addr32 rep movsb\nhlt")) {
            m.memory.write(SRC, new byte[] {5, 6, 7});
            m.cpu.gpr[RSI] = 0xFFFF_FFFF_0000_0000L | SRC;
            m.cpu.gpr[RDI] = 0xFFFF_FFFF_0000_0000L | DST;
            m.cpu.gpr[RCX] = 0x7777_7777_0000_0003L;
            runToHalt(m);
            assertArrayEquals(new byte[] {5, 6, 7}, m.memory.read(DST, 3));
            assertEquals(0, m.reg(RCX), "ECX written zero-extends");
            assertEquals(SRC + 3, m.reg(RSI));
            assertEquals(DST + 3, m.reg(RDI));
        }
    }

    @Test
    void addressSize16WrapsSiAndLeavesTheUpperBits() {
        try (TestMachine m = DataMoveTest.compatibilityMachine("addr16 rep movsb\nhlt")) {
            m.memory.write(0xFFFE, new byte[] {1, 2, 3, 4});
            m.memory.write(0x0, new byte[] {7, 8});
            m.cpu.gpr[RSI] = 0x1234_FFFEL;
            m.cpu.gpr[RDI] = 0x9000;
            m.cpu.gpr[RCX] = 0x5555_0004L;
            runToHalt(m);
            assertArrayEquals(new byte[] {1, 2, 7, 8}, m.memory.read(0x9000, 4), "SI wraps to 0");
            assertEquals(0x1234_0002L, m.reg(RSI));
            assertEquals(0x5555_0000L, m.reg(RCX));
            assertEquals(0x9004, m.reg(RDI));
        }
    }

    @Test
    void repneScasFindsTheTerminator() {
        try (TestMachine m = machine("xor eax, eax\nmov rcx, -1\nrepne scasb\nhlt")) {
            m.memory.write(SRC, "hello\0world".getBytes());
            m.cpu.gpr[RDI] = SRC;
            runToHalt(m);
            assertEquals(5, ~m.reg(RCX) - 1, "strlen");
            assertEquals(SRC + 6, m.reg(RDI));
            assertEquals(ZF, flags(m) & ZF);
            assertEquals(2 + 6 + 1, m.cpu.retired);
        }
    }

    @Test
    void repeCmpsStopsAtTheFirstDifference() {
        try (TestMachine m = machine("repe cmpsb\nhlt")) {
            m.memory.write(SRC, "abcdef".getBytes());
            m.memory.write(DST, "abcxef".getBytes());
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 6;
            runToHalt(m);
            assertEquals(2, m.reg(RCX));
            assertEquals(SRC + 4, m.reg(RSI));
            assertEquals(DST + 4, m.reg(RDI));
            assertEquals(CF | SF | AF, flags(m) & (CF | ZF | SF | AF), "'d' - 'x'");
            assertEquals(5, m.cpu.retired);
        }
    }

    @Test
    void repeCmpsOverEqualDataRunsOutWithZfSet() {
        try (TestMachine m = machine("repe cmpsd\nhlt")) {
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 10;
            runToHalt(m);
            assertEquals(0, m.reg(RCX));
            assertEquals(ZF, flags(m) & ZF);
            assertEquals(11, m.cpu.retired);
        }
    }

    @Test
    void repneCmpsStopsAtTheFirstEqualElementAndRunsOutWithZfClear() {
        try (TestMachine m = machine("repne cmpsw\nmov r8, rcx\npushfq\npop r9\nmov rcx, 3\nrepne cmpsw\nhlt")) {
            m.memory.write(SRC, new byte[] {1, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0});
            m.memory.write(DST, new byte[] {9, 0, 9, 0, 3, 0, 1, 0, 1, 0, 1, 0});
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 6;
            runToHalt(m);
            assertEquals(3, m.reg(R8));
            assertEquals(ZF, m.reg(R9) & ZF);
            assertEquals(0, m.reg(RCX));
            assertEquals(0, flags(m) & ZF);
        }
    }

    @Test
    void repeScasWithF2AndF3TakesF3() {
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {(byte) 0xF2, (byte) 0xF3, (byte) 0xAE, (byte) 0xF4}); // repne repe scasb
            m.memory.write(SRC, new byte[] {4, 4, 5, 4});
            m.cpu.gpr[RAX] = 4;
            m.cpu.gpr[RDI] = SRC;
            m.cpu.gpr[RCX] = 4;
            runToHalt(m);
            assertEquals(1, m.reg(RCX), "stopped at the first difference (REPE)");
        }
    }

    // ---- budgets ----

    @Test
    void repSplitAcrossManySlicesOfSevenInstructions() {
        try (TestMachine m = machine("rep movsb\nmov ecx, 50\nrepne scasb\nmov ecx, 30\nrep stosq\nhlt")) {
            byte[] data = new byte[100];
            new Random(7).nextBytes(data);
            m.memory.write(SRC, data);
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 100;
            m.cpu.gpr[RAX] = 0x77;
            int slices = 0;
            long previousRcx = 100;
            Exit e;
            while ((e = m.cpu.run(7)) == Exit.BUDGET_EXHAUSTED) {
                slices++;
                if (m.cpu.retired <= 98) {
                    // Inside the REP MOVS: RIP stays at it, exactly seven more iterations each slice.
                    assertEquals(TestMachine.CODE, m.cpu.rip);
                    assertEquals(previousRcx - 7, m.reg(RCX));
                    assertEquals(7L * slices, m.cpu.retired);
                    previousRcx = m.reg(RCX);
                }
            }
            assertEquals(Exit.HALT, e);
            assertArrayEquals(data, m.memory.read(DST, 100));
            // REPNE SCASB over the copy (from DST + 100: zeroed) runs out after 50; then 30 STOSQ.
            assertEquals(0, m.reg(RCX));
            assertEquals(DST + 150 + 240, m.reg(RDI));
            for (int k = 0; k < 30; k++) assertEquals(0x77, m.memory.readU64(DST + 150 + 8L * k));
            long expected = 100 + 1 + 50 + 1 + 30 + 1;
            assertEquals(expected, m.cpu.retired);
            assertEquals((expected + 6) / 7 - 1, slices);
        }
    }

    @Test
    void singleStepTrapsAfterEachIteration() {
        try (TestMachine m = machine("rep movsb\nhlt")) {
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 3;
            m.cpu.rflags |= TF;
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(List.of((long) EXC_DB), m.reports);
            assertEquals(2, m.reg(RCX));
            assertEquals(TestMachine.CODE, m.memory.readU64(m.reg(RSP)), "the trap returns to the REP instruction");
        }
    }

    // ---- overlapping copies ----

    /** rep movs over source and destination ranges at every distance up to 9 bytes, against an element-by-element model. */
    @Test
    void overlappingCopiesMatchTheElementLoop() {
        byte[][] code = {
            {(byte) 0xF3, (byte) 0xA4, (byte) 0xF4}, {0x66, (byte) 0xF3, (byte) 0xA5, (byte) 0xF4},
            {(byte) 0xF3, (byte) 0xA5, (byte) 0xF4}, {(byte) 0xF3, 0x48, (byte) 0xA5, (byte) 0xF4}
        };
        int[] sizes = {1, 2, 4, 8};
        long window = DATA + 0x1000 - 0x200; // the copies cross the 4 KiB boundary at window + 0x200
        int n = 40;
        Random random = new Random(42);
        try (TestMachine m = TestMachine.longMode()) {
            for (int s = 0; s < 4; s++) {
                int size = sizes[s];
                m.memory.write(TestMachine.CODE, code[s]);
                for (boolean down : new boolean[] {false, true}) {
                    for (int distance = -9; distance <= 9; distance++) {
                        byte[] before = new byte[0x400];
                        random.nextBytes(before);
                        m.memory.write(window, before);
                        int src = down ? 0x280 : 0x180;
                        int dst = src + distance;
                        byte[] expected = before.clone();
                        for (int k = 0; k < n; k++) {
                            int off = down ? -k * size : k * size;
                            byte[] element = Arrays.copyOfRange(expected, src + off, src + off + size);
                            System.arraycopy(element, 0, expected, dst + off, size);
                        }
                        Cpu c = m.cpu;
                        c.halted = false;
                        c.rip = TestMachine.CODE;
                        c.gpr[RSI] = window + src;
                        c.gpr[RDI] = window + dst;
                        c.gpr[RCX] = n;
                        setDirection(m, down);
                        assertEquals(Exit.HALT, c.run(1000));
                        assertArrayEquals(expected, m.memory.read(window, 0x400),
                                "size " + size + (down ? " DF=1" : " DF=0") + " distance " + distance);
                    }
                }
            }
        }
    }

    @Test
    void forwardByteCopyOneAheadReplicatesTheFirstByte() {
        try (TestMachine m = machine("rep movsb\nhlt")) {
            m.memory.write(SRC, new byte[] {0x41, 0x42, 0x43, 0x44, 0x45, 0x46});
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = SRC + 1;
            m.cpu.gpr[RCX] = 5;
            runToHalt(m);
            assertArrayEquals(new byte[] {0x41, 0x41, 0x41, 0x41, 0x41, 0x41}, m.memory.read(SRC, 6));
        }
    }

    // ---- MMIO and port exits ----

    private static final long MMIO = 0x30_0000;

    private interface Answer {
        void answer(Exit e);
    }

    /** Runs to HLT, answering exits; returns them. */
    private static List<Exit> runAnswering(TestMachine m, Answer answer) {
        List<Exit> exits = new ArrayList<>();
        for (int guard = 0; guard < 1000; guard++) {
            Exit e = m.cpu.run(1_000_000);
            if (e == Exit.HALT) return exits;
            exits.add(e);
            answer.answer(e);
        }
        fail("the program did not halt: " + exits);
        return exits;
    }

    @Test
    void repMovsIntoMmioExitsPerElementAndCommitsEarlierIterations() {
        try (TestMachine m = machine("rep movsd\nhlt")) {
            m.memory.addMmioHole(MMIO, 0x1000);
            m.memory.write(SRC, new byte[] {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0});
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RDI] = MMIO + 0x10;
            m.cpu.gpr[RCX] = 3;
            List<Long> rcxAtExit = new ArrayList<>();
            List<Long> retiredAtExit = new ArrayList<>();
            List<Exit> exits = runAnswering(m, e -> {
                rcxAtExit.add(m.reg(RCX));
                retiredAtExit.add(m.cpu.retired);
                assertEquals(TestMachine.CODE, m.cpu.rip);
                m.cpu.completeWrite();
            });
            assertEquals(List.of(new Exit.MmioWrite(MMIO + 0x10, 4, 1), new Exit.MmioWrite(MMIO + 0x14, 4, 2),
                    new Exit.MmioWrite(MMIO + 0x18, 4, 3)), exits);
            assertEquals(List.of(3L, 2L, 1L), rcxAtExit);
            assertEquals(List.of(0L, 1L, 2L), retiredAtExit);
            assertEquals(0, m.reg(RCX));
            assertEquals(SRC + 12, m.reg(RSI));
            assertEquals(MMIO + 0x1C, m.reg(RDI));
            assertEquals(4, m.cpu.retired);
        }
    }

    @Test
    void repMovsFromMmioToMmioExitsTwicePerElement() {
        try (TestMachine m = machine("std\nrep movsw\nhlt")) {
            m.memory.addMmioHole(MMIO, 0x1000);
            m.cpu.gpr[RSI] = MMIO + 0x100;
            m.cpu.gpr[RDI] = MMIO + 0x200;
            m.cpu.gpr[RCX] = 2;
            List<Exit> exits = runAnswering(m, e -> {
                if (e instanceof Exit.MmioRead r) m.cpu.completeRead(0x1000 + r.address() - MMIO);
                else m.cpu.completeWrite();
            });
            assertEquals(List.of(new Exit.MmioRead(MMIO + 0x100, 2), new Exit.MmioWrite(MMIO + 0x200, 2, 0x1100),
                    new Exit.MmioRead(MMIO + 0xFE, 2), new Exit.MmioWrite(MMIO + 0x1FE, 2, 0x10FE)), exits);
            assertEquals(MMIO + 0xFC, m.reg(RSI));
            assertEquals(4, m.cpu.retired);
        }
    }

    @Test
    void repStosFromRamIntoMmio() {
        // The run starts in RAM and enters the MMIO page: only the MMIO elements exit.
        try (TestMachine m = machine("rep stosq\nhlt")) {
            m.memory.addMmioHole(MMIO, 0x1000);
            m.cpu.gpr[RDI] = MMIO - 16;
            m.cpu.gpr[RCX] = 4;
            m.cpu.gpr[RAX] = 0x99;
            List<Exit> exits = runAnswering(m, e -> m.cpu.completeWrite());
            assertEquals(List.of(new Exit.MmioWrite(MMIO, 8, 0x99), new Exit.MmioWrite(MMIO + 8, 8, 0x99)), exits);
            assertEquals(0x99, m.memory.readU64(MMIO - 16));
            assertEquals(0x99, m.memory.readU64(MMIO - 8));
            assertEquals(5, m.cpu.retired);
        }
    }

    @Test
    void repLodsFromMmio() {
        try (TestMachine m = machine("rep lodsb\nhlt")) {
            m.memory.addMmioHole(MMIO, 0x1000);
            m.cpu.gpr[RSI] = MMIO;
            m.cpu.gpr[RCX] = 3;
            int[] next = {0x40};
            List<Exit> exits = runAnswering(m, e -> m.cpu.completeRead(++next[0]));
            assertEquals(3, exits.size());
            assertEquals(0x43, m.reg(RAX) & 0xFF);
        }
    }

    @Test
    void repOutsProducesPortWrites() {
        try (TestMachine m = machine("mov dx, 0x3F8\nrep outsb\nmov dx, 0x1F0\nmov ecx, 2\nrep outsd\nhlt")) {
            m.memory.write(SRC, "ABCD".getBytes());
            m.memory.writeU64(SRC + 4, 0x2222_2222_1111_1111L);
            m.cpu.gpr[RSI] = SRC;
            m.cpu.gpr[RCX] = 4;
            List<Long> rsiAtExit = new ArrayList<>();
            List<Exit> exits = runAnswering(m, e -> {
                rsiAtExit.add(m.reg(RSI));
                m.cpu.completeWrite();
            });
            assertEquals(List.of(new Exit.PortOut(0x3F8, 1, 'A'), new Exit.PortOut(0x3F8, 1, 'B'),
                    new Exit.PortOut(0x3F8, 1, 'C'), new Exit.PortOut(0x3F8, 1, 'D'),
                    new Exit.PortOut(0x1F0, 4, 0x1111_1111L), new Exit.PortOut(0x1F0, 4, 0x2222_2222L)), exits);
            assertEquals(List.of(SRC, SRC + 1, SRC + 2, SRC + 3, SRC + 4, SRC + 8), rsiAtExit);
            assertEquals(SRC + 12, m.reg(RSI));
            assertEquals(1 + 4 + 2 + 2 + 1, m.cpu.retired);
        }
    }

    @Test
    void repInsStoresPortReadsAndResumesAfterEachExit() {
        try (TestMachine m = machine("mov dx, 0x60\nrep insw\nmov rdi, 0x210100\nstd\nmov ecx, 2\nrex.w insd\ninsd\nhlt")) {
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 3;
            int[] next = {0};
            List<Exit> exits = runAnswering(m, e -> m.cpu.completeRead(0x1111L * ++next[0] | 0xABCD_0000L));
            assertEquals(List.of(new Exit.PortIn(0x60, 2), new Exit.PortIn(0x60, 2), new Exit.PortIn(0x60, 2),
                    new Exit.PortIn(0x60, 4), new Exit.PortIn(0x60, 4)), exits);
            assertEquals(0x1111, m.memory.readU16(DST));
            assertEquals(0x2222, m.memory.readU16(DST + 2));
            assertEquals(0x3333, m.memory.readU16(DST + 4));
            assertEquals(0, m.memory.readU16(DST + 6), "the 16-bit port reads store 16 bits");
            // The doubleword reads (REX.W does not widen port I/O) go downwards from DST + 0x100.
            assertEquals(0xABCD_4444L, m.memory.readU32(DST + 0x100));
            assertEquals(0xABCD_5555L, m.memory.readU32(DST + 0xFC));
            assertEquals(0, m.memory.readU32(DST + 0x104));
            assertEquals(DST + 0xF8, m.reg(RDI));
            assertEquals(2, m.reg(RCX), "non-repeated INS leaves rCX");
        }
    }

    // ---- faults in the middle of a REP ----

    private static void makeNotPresent(TestMachine m, long page) {
        m.memory.writeU64(TestMachine.PT0 + 8 * (page >>> 12), 0);
        m.cpu.mmu.flushAll();
    }

    @Test
    void pageFaultInTheMiddleOfRepMovsCommitsTheCompletedIterations() {
        try (TestMachine m = machine("rep movsb\nhlt")) {
            makeNotPresent(m, 0xA0000);
            for (int k = 0; k < 16; k++) m.memory.writeU8(0x9_FFF0 + k, 0x30 + k);
            m.cpu.gpr[RSI] = 0x9_FFF0;
            m.cpu.gpr[RDI] = DST;
            m.cpu.gpr[RCX] = 0x40;
            assertEquals(Exit.HALT, m.run(1000));
            assertEquals(List.of((long) EXC_PF), m.reports);
            assertEquals(0xA_0000, m.cpu.cr2);
            assertEquals(0x30, m.reg(RCX));
            assertEquals(0xA_0000, m.reg(RSI));
            assertEquals(DST + 16, m.reg(RDI));
            long frame = m.reg(RSP);
            assertEquals(0, m.memory.readU64(frame), "error code: not present, read, supervisor");
            assertEquals(TestMachine.CODE, m.memory.readU64(frame + 8), "RIP at the REP instruction");
            assertEquals(0x3F, m.memory.readU8(DST + 15));
            assertEquals(16 + 1 + 3, m.cpu.retired, "16 iterations, the #PF delivery, then the stub's three instructions");
        }
    }

    @Test
    void pageFaultGoingDownAndOnTheDestination() {
        try (TestMachine m = machine("std\nrep movsq\nhlt")) {
            makeNotPresent(m, 0xA0000);
            m.cpu.gpr[RSI] = 0xA_1010;
            m.cpu.gpr[RDI] = DST + 0x100;
            m.cpu.gpr[RCX] = 10;
            assertEquals(Exit.HALT, m.run(1000));
            assertEquals(List.of((long) EXC_PF), m.reports);
            assertEquals(0xA_0FF8, m.cpu.cr2);
            assertEquals(7, m.reg(RCX));
            assertEquals(0xA_0FF8, m.reg(RSI));
            assertEquals(DST + 0x100 - 24, m.reg(RDI));
        }
        try (TestMachine m = machine("rep stosd\nhlt")) {
            DataMoveTest.makeReadOnly(m, 0xA0000);
            m.cpu.gpr[RDI] = 0x9_FFF8;
            m.cpu.gpr[RCX] = 5;
            assertEquals(Exit.HALT, m.run(1000));
            assertEquals(List.of((long) EXC_PF), m.reports);
            assertEquals(PF_P | PF_W, m.memory.readU64(m.reg(RSP)));
            assertEquals(3, m.reg(RCX));
            assertEquals(0xA_0000, m.reg(RDI));
        }
    }

    // ---- ROM and code ----

    @Test
    void repStosIntoRomIsDropped() {
        try (TestMachine m = machine("rep stosb\nhlt")) {
            m.memory.writeU8(0x3_0000, 0x11);
            m.memory.markReadOnly(0x3_0000, 0x1000);
            m.cpu.gpr[RDI] = 0x3_0000;
            m.cpu.gpr[RCX] = 4;
            m.cpu.gpr[RAX] = 0xEE;
            runToHalt(m);
            assertEquals(0x11, m.memory.readU8(0x3_0000));
            assertEquals(0x3_0004, m.reg(RDI));
        }
    }

    @Test
    void repMovsAndStosIntoCodeInvalidateIt() {
        try (TestMachine m = machine("""
                call patched
                mov ebx, eax
                lea rsi, [rip + replacement]
                lea rdi, [rip + patched]
                mov ecx, 6
                rep movsb
                call patched
                mov r8d, eax
                lea rdi, [rip + patched + 1]
                mov al, 0x42
                mov ecx, 1
                rep stosb
                call patched
                hlt
                patched: mov eax, 1
                ret
                replacement: mov eax, 2
                ret
                """)) {
            runToHalt(m);
            assertEquals(1, m.reg(RBX));
            assertEquals(2, m.reg(R8));
            assertEquals(0x42, m.reg(RAX));
        }
    }
}
