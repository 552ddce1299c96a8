package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.HostCrossCheck.*;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

class BitOpsTest {
    private static final long DATA = 0x20_0000;
    /** The last page of the 4 KiB-mapped first 2 MiB that tests leave present; the next one they unmap. */
    private static final long BEFORE_HOLE = 0x1F_0000, HOLE = 0x1F_1000;

    static TestMachine run(String body) {
        return run(body, false);
    }

    static TestMachine run(String body, boolean unmapHole) {
        TestMachine m = TestMachine.longMode();
        if (unmapHole) m.memory.writeU64(TestMachine.PT0 + 8 * (HOLE >>> 12), 0);
        m.load(Asm.assemble(".intel_syntax noprefix\n" + body + "\nhlt\n", 64, TestMachine.CODE));
        assertEquals(Exit.HALT, m.run(10_000));
        return m;
    }

    static long flags(TestMachine m) {
        return m.cpu.getRflags() & STATUS_FLAGS;
    }

    // ---- BT, BTS, BTR, BTC ----

    @Test
    void registerOffsetsAreTakenModuloTheOperandSize() {
        try (TestMachine m = run("""
                mov eax, 2; mov ebx, 17; bt ax, bx
                pushfq; pop r8
                mov ecx, 0; mov edx, 33; bts ecx, edx
                mov rsi, -1; mov rdi, 65; btr rsi, rdi
                pushfq; pop r9
                mov r10, 0x10; mov r11, 4; btc r10, r11
                """)) {
            assertEquals(CF, m.reg(R8) & CF);
            assertEquals(2, m.reg(RCX));
            assertEquals(-3L, m.reg(RSI));
            assertEquals(CF, m.reg(R9) & CF);
            assertEquals(0, m.reg(R10));
        }
    }

    @Test
    void onlyCarryChanges() {
        try (TestMachine m = run("push 0x8d4; popfq; mov eax, 1; bts eax, 0")) {
            assertEquals(CF | OF | SF | ZF | AF | PF, flags(m));
            assertEquals(1, m.reg(RAX));
        }
        try (TestMachine m = run("push 0x001; popfq; xor eax, eax; push 0x001; popfq; btc eax, 63")) {
            assertEquals(0, flags(m));
            assertEquals(0x8000_0000L, m.reg(RAX));  // 63 mod 32 = 31
        }
    }

    @Test
    void immediateOffsetsOnMemory() {
        try (TestMachine m = run("""
                mov rdi, 0x200000
                bts word ptr [rdi], 20
                bts dword ptr [rdi + 4], 35
                btc qword ptr [rdi + 8], 127
                bt qword ptr [rdi + 8], 63
                """)) {
            assertEquals(0x10, m.memory.readU16(DATA));
            assertEquals(0x8, m.memory.readU32(DATA + 4));
            assertEquals(0x8000_0000_0000_0000L, m.memory.readU64(DATA + 8));
            assertEquals(CF, flags(m) & CF);
        }
    }

    @Test
    void registerOffsetsReachFarFromTheMemoryOperand() {
        try (TestMachine m = run("""
                mov rdi, 0x200000
                mov ebx, 1000; bts dword ptr [rdi], ebx
                mov rbx, -1; btc qword ptr [rdi + 0x100], rbx
                mov bx, -17; bts word ptr [rdi + 0x200], bx
                mov rbx, 0xFFFF000000000011; bts word ptr [rdi + 0x300], bx
                mov rbx, 0x800000; bts qword ptr [rdi], rbx
                lea rsi, [rdi + 0x100000]; mov ebx, -0x7FFFF8; bts dword ptr [rsi], ebx
                """)) {
            assertEquals(1, m.memory.readU8(DATA + 125));                      // byte 1000 / 8, bit 0
            assertEquals(0x80, m.memory.readU8(DATA + 0xFF));                  // bit -1: top bit of the byte before
            assertEquals(0x80, m.memory.readU8(DATA + 0x200 - 3));             // word at -4, bit 15
            assertEquals(2, m.memory.readU16(DATA + 0x302));                   // only BX counts: 17
            assertEquals(1, m.memory.readU8(DATA + 0x10_0000));                // 2^23 bits = 1 MiB away
            assertEquals(1, m.memory.readU8(DATA + 1));                        // 1 MiB below, bit 8 of the dword
        }
    }

    @Test
    void registerOffsetsAccessAWholeOperandSizedUnit() {
        // The dword holding bit 0 spans into an unmapped page although bit 0 lies in the first byte.
        try (TestMachine m = run("mov rdi, 0x1F0FFF; xor ebx, ebx; bt dword ptr [rdi], ebx", true)) {
            assertEquals(List.of((long) EXC_PF), m.reports);
            assertEquals(HOLE, m.cpu.cr2);
        }
        // The unit is EA + 2 * floor(offset / 16): bit 15 of the word at 0x1F0FFE stays in the page.
        try (TestMachine m = run("mov rdi, 0x1F0FFE; mov byte ptr [rdi + 1], 0x80; mov ebx, 15; bt word ptr [rdi], bx", true)) {
            assertEquals(List.of(), m.reports);
            assertEquals(CF, flags(m) & CF);
        }
        // A negative offset steps back by whole units: bit -1 lies in the qword at EA - 8, which
        // reaches into the unmapped page although the byte holding the bit does not.
        try (TestMachine m = run("mov rdi, 0x1F2001; mov rbx, -1; bt qword ptr [rdi], rbx", true)) {
            assertEquals(List.of((long) EXC_PF), m.reports);
            assertEquals(0x1F_1FF9L, m.cpu.cr2);
        }
    }

    @Test
    void lockedBitModifications() {
        try (TestMachine m = run("""
                mov rdi, 0x200000
                mov ebx, 70
                lock bts qword ptr [rdi], rbx
                lock btc dword ptr [rdi + 16], 3
                mov word ptr [rdi + 24], -1; mov ebx, 6
                lock btr word ptr [rdi + 24], bx
                """)) {
            assertEquals(0x40, m.memory.readU64(DATA + 8));
            assertEquals(8, m.memory.readU32(DATA + 16));
            assertEquals(0xFFBF, m.memory.readU16(DATA + 24));
        }
    }

    @Test
    void lockIsUndefinedOnBtAndRegisterDestinations() {
        for (String insn : List.of(".byte 0xF0; bt dword ptr [rdi], ebx", ".byte 0xF0; bts eax, ebx",
                ".byte 0xF0; bt dword ptr [rdi], 1")) {
            try (TestMachine m = run("mov rdi, 0x200000; " + insn)) {
                assertEquals(List.of((long) EXC_UD), m.reports, insn);
            }
        }
    }

    @Test
    void groupEightSlashZeroToThreeAreUndefined() {
        for (int reg = 0; reg < 4; reg++) {
            try (TestMachine m = run(".byte 0x0F, 0xBA, " + (0xC0 | reg << 3) + ", 1")) {
                assertEquals(List.of((long) EXC_UD), m.reports, "/" + reg);
            }
        }
    }

    // ---- BSF, BSR, TZCNT, LZCNT, POPCNT ----

    @Test
    void bitScans() {
        try (TestMachine m = run("""
                mov ebx, 0x00F0; bsf ax, bx; bsr cx, bx
                mov rbx, 0x8000000000000001; bsf rdx, rbx; bsr rsi, rbx
                pushfq; pop r8
                mov ebx, 1; bsf edi, ebx
                pushfq; pop r9
                """)) {
            assertEquals(4, m.reg(RAX));
            assertEquals(7, m.reg(RCX));
            assertEquals(0, m.reg(RDX));
            assertEquals(63, m.reg(RSI));
            assertEquals(0, m.reg(R8) & ZF);
            assertEquals(0, m.reg(RDI));
            assertEquals(PF, m.reg(R9) & STATUS_FLAGS); // index 0: ZF clear, PF of the index
        }
    }

    @Test
    void bitScanOfZeroLeavesTheWholeDestination() {
        try (TestMachine m = run("mov rax, -1; mov rcx, -1; xor ebx, ebx; bsf eax, ebx; bsr rcx, rbx")) {
            assertEquals(-1L, m.reg(RAX));
            assertEquals(-1L, m.reg(RCX));
            assertEquals(ZF | PF, flags(m));
        }
    }

    @Test
    void trailingAndLeadingZeroCounts() {
        try (TestMachine m = run("""
                xor ebx, ebx; push 0x800; popfq
                tzcnt ax, bx
                pushfq; pop r8
                lzcnt rcx, rbx
                mov ebx, 1; lzcnt dx, bx
                tzcnt esi, ebx
                pushfq; pop r9
                mov rbx, 0x0000F00000000000; lzcnt rdi, rbx
                tzcnt r10, rbx
                """)) {
            assertEquals(16, m.reg(RAX) & 0xFFFF);
            assertEquals(CF | OF, m.reg(R8) & STATUS_FLAGS);   // OF kept as on AMD
            assertEquals(64, m.reg(RCX));
            assertEquals(15, m.reg(RDX) & 0xFFFF);
            assertEquals(0, m.reg(RSI));
            assertEquals(ZF | OF, m.reg(R9) & STATUS_FLAGS);
            assertEquals(16, m.reg(RDI));
            assertEquals(44, m.reg(R10));
        }
    }

    @Test
    void f3SelectsTheZeroCountsOverTheBitScans() {
        // 0F BC without F3 is BSF (a zero source leaves the destination alone); F3 0F BD is LZCNT.
        try (TestMachine m = run("mov eax, 7; xor ebx, ebx; .byte 0x0F, 0xBC, 0xC3; mov ecx, 7; .byte 0xF3, 0x0F, 0xBD, 0xCB")) {
            assertEquals(7, m.reg(RAX));
            assertEquals(32, m.reg(RCX));
        }
    }

    @Test
    void popcount() {
        try (TestMachine m = run("""
                push 0x8d5; popfq
                mov rbx, -1; popcnt rax, rbx
                pushfq; pop r8
                mov ebx, 0x10000; popcnt cx, bx
                pushfq; pop r9
                mov rdi, 0x200000; mov dword ptr [rdi], 0xF0F0; popcnt edx, dword ptr [rdi]
                """)) {
            assertEquals(64, m.reg(RAX));
            assertEquals(0, m.reg(R8) & STATUS_FLAGS);
            assertEquals(0, m.reg(RCX));
            assertEquals(ZF, m.reg(R9) & STATUS_FLAGS);
            assertEquals(8, m.reg(RDX));
        }
    }

    @Test
    void opcodeB8WithoutF3IsUndefined() {
        try (TestMachine m = run(".byte 0x0F, 0xB8, 0xC3")) {
            assertEquals(List.of((long) EXC_UD), m.reports);
        }
    }

    // ---- BSWAP ----

    @Test
    void byteSwaps() {
        try (TestMachine m = run("""
                mov rax, 0x1122334455667788; bswap eax
                mov rbx, 0x1122334455667788; bswap rbx
                mov r9, 0x1122334455667788; bswap r9
                mov rcx, 0x1122334455667788; .byte 0x66, 0x0F, 0xC9
                """)) {
            assertEquals(0x8877_6655L, m.reg(RAX));
            assertEquals(0x8877_6655_4433_2211L, m.reg(RBX));
            assertEquals(0x8877_6655_4433_2211L, m.reg(R9));
            assertEquals(0x1122_3344_5566_0000L, m.reg(RCX)); // 16-bit: low word cleared (AMD)
        }
    }

    // ---- against the host CPU ----

    @Test
    void agreesWithTheHostCpu() {
        HostCrossCheck x = new HostCrossCheck();
        SplittableRandom rnd = new SplittableRandom(0xB175);
        String[][] regs = {{"ax", "bx", "word"}, {"eax", "ebx", "dword"}, {"rax", "rbx", "qword"}};
        for (String op : List.of("bt", "bts", "btr", "btc")) {
            for (int s = 0; s < 3; s++) {
                String[] r = regs[s];
                int bits = 16 << s;
                add(x, rnd, x.instruction(op + " " + r[0] + ", " + r[1], STATUS_FLAGS), 100, 0);
                add(x, rnd, x.instruction(op + " " + r[0] + ", 45", STATUS_FLAGS), 50, 0);
                add(x, rnd, x.instruction(op + " " + r[2] + " ptr [rdi + 64], 13", STATUS_FLAGS), 50, 0);
                add(x, rnd, x.instruction(op + " " + r[2] + " ptr [rdi + 64], " + r[1], STATUS_FLAGS), 200, bits);
                if (!op.equals("bt")) {
                    add(x, rnd, x.instruction("lock " + op + " " + r[2] + " ptr [rdi + 64], " + r[1], STATUS_FLAGS), 100, bits);
                }
            }
        }
        for (String op : List.of("bsf", "bsr", "tzcnt", "lzcnt", "popcnt")) {
            for (String[] r : regs) {
                add(x, rnd, x.instruction(op + " " + r[0] + ", " + r[1], STATUS_FLAGS), 150, 0);
                add(x, rnd, x.instruction(op + " " + r[0] + ", " + r[2] + " ptr [rdi + 48]", STATUS_FLAGS), 50, 0);
            }
        }
        for (String insn : List.of("bswap eax", "bswap rax", "bswap esi", ".byte 0x66, 0x0F, 0xC8", ".byte 0x66, 0x0F, 0xCE")) {
            add(x, rnd, x.instruction(insn, STATUS_FLAGS), 20, 0);
        }
        x.assertSameAsHost();
    }

    /**
     * Adds random cases. With {@code offsetBits} (16, 32 or 64) RBX holds a bit offset in
     * -128..127, with garbage above the operand size, so that memory stays inside the record.
     */
    private static void add(HostCrossCheck x, SplittableRandom rnd, int insn, int n, int offsetBits) {
        for (int k = 0; k < n; k++) {
            long[] s = randomState(rnd);
            if (rnd.nextInt(5) == 0) s[RBX_W] = 0; // zero sources for the scans and counts
            if (offsetBits != 0) {
                long offset = rnd.nextInt(256) - 128;
                long garbage = offsetBits == 64 || rnd.nextBoolean() ? 0 : rnd.nextLong() << offsetBits;
                s[RBX_W] = garbage | (offset & Flags.mask(offsetBits / 8));
            }
            x.add(insn, s);
        }
    }
}
