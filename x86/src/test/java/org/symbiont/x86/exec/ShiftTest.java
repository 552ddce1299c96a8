package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

class ShiftTest {
    private static final long DATA = 0x20_0000;
    /** A 4 KiB page (in the 4 KiB-mapped first 2 MiB) that tests make read-only. */
    private static final long READ_ONLY = 0x1F_0000;

    static TestMachine run(String body) {
        return run(body, false);
    }

    static TestMachine run(String body, boolean readOnlyPage) {
        TestMachine m = TestMachine.longMode();
        if (readOnlyPage) m.memory.writeU64(TestMachine.PT0 + 8 * (READ_ONLY >>> 12), READ_ONLY | 0x5);
        m.load(Asm.assemble(".intel_syntax noprefix\n" + body + "\nhlt\n", 64, TestMachine.CODE));
        assertEquals(Exit.HALT, m.run(10_000));
        return m;
    }

    static long flags(TestMachine m) {
        return m.cpu.getRflags() & STATUS_FLAGS;
    }

    // ---- SHL, SHR, SAR ----

    @Test
    void shlByOneSetsCarryAndOverflow() {
        try (TestMachine m = run("mov eax, 0x81; shl al, 1")) {
            assertEquals(0x02, m.reg(RAX));
            assertEquals(CF | OF | AF, flags(m));
        }
    }

    @Test
    void shrByOneTakesOverflowFromTheOldSign() {
        try (TestMachine m = run("mov eax, 0x8001; shr ax, 1")) {
            assertEquals(0x4000, m.reg(RAX));
            assertEquals(CF | OF | PF | AF, flags(m));
        }
    }

    @Test
    void sarOf32BitRegisterFillsSignAndZeroExtends() {
        try (TestMachine m = run("mov rax, 0xFFFFFFFF80000010; sar eax, 4")) {
            assertEquals(0xF800_0001L, m.reg(RAX));
            assertEquals(SF | AF, flags(m));
        }
    }

    @Test
    void sarOf64BitRegisterBy63() {
        try (TestMachine m = run("mov rax, 0x8000000000000000; mov cl, 63; sar rax, cl")) {
            assertEquals(-1L, m.reg(RAX));
            assertEquals(SF | PF | AF, flags(m));
        }
    }

    @Test
    void countZeroChangesNoFlagButWritesTheRegister() {
        try (TestMachine m = run("""
                push 0x8d5; popfq
                mov rbx, -1; mov ecx, 0x100
                shl ebx, cl
                mov rdx, -1; mov cl, 32
                sar edx, cl
                mov rsi, 0x1234; mov cl, 64
                rcl rsi, cl
                """)) {
            assertEquals(0xFFFF_FFFFL, m.reg(RBX));
            assertEquals(0xFFFF_FFFFL, m.reg(RDX));
            assertEquals(0x1234, m.reg(RSI));
            assertEquals(STATUS_FLAGS, flags(m));
        }
    }

    @Test
    void byteAndWordCountsBeyondTheOperandSize() {
        try (TestMachine m = run("""
                mov al, 0xFF; mov cl, 9; shl al, cl
                pushfq; pop r8
                mov bl, 0x81; mov cl, 8; shl bl, cl
                pushfq; pop r9
                mov dx, 0xFFFF; mov cl, 17; shr dx, cl
                pushfq; pop r10
                mov sil, 0x80; sar sil, 20
                pushfq; pop r11
                mov di, 1; mov cl, 16; shl di, cl
                pushfq; pop r12
                """)) {
            assertEquals(0, m.reg(RAX) & 0xFF);
            assertEquals(ZF | PF | AF, m.reg(R8) & STATUS_FLAGS);
            assertEquals(0, m.reg(RBX) & 0xFF);
            assertEquals(CF | OF | ZF | PF | AF, m.reg(R9) & STATUS_FLAGS);
            assertEquals(0, m.reg(RDX) & 0xFFFF);
            assertEquals(ZF | PF | AF, m.reg(R10) & STATUS_FLAGS);
            assertEquals(0xFF, m.reg(RSI) & 0xFF);
            assertEquals(CF | SF | PF | AF, m.reg(R11) & STATUS_FLAGS);
            assertEquals(0, m.reg(RDI) & 0xFFFF);
            assertEquals(CF | OF | ZF | PF | AF, m.reg(R12) & STATUS_FLAGS);
        }
    }

    @Test
    void countIsMaskedToFiveOrSixBits() {
        try (TestMachine m = run("""
                mov eax, 1; mov cl, 33; shl eax, cl
                mov rbx, 1; mov cl, 65; shl rbx, cl
                mov rdx, 1; mov cl, 0xC1; shl rdx, cl
                """)) {
            assertEquals(2, m.reg(RAX));
            assertEquals(2, m.reg(RBX));
            assertEquals(2, m.reg(RDX));
        }
    }

    @Test
    void highByteRegisters() {
        try (TestMachine m = run("mov eax, 0x8100; shl ah, 1; mov ebx, 0x0300; ror bh, 1")) {
            assertEquals(0x0200, m.reg(RAX));
            assertEquals(0x8100, m.reg(RBX));
        }
    }

    @Test
    void salSlashSixIsAnAliasOfShl() {
        // D0 /6 and C1 /6: the undocumented SAL encodings.
        try (TestMachine m = run("mov eax, 0x81; .byte 0xD0, 0xF0; mov ebx, 3; .byte 0xC1, 0xF3, 4")) {
            assertEquals(0x02, m.reg(RAX));
            assertEquals(0x30, m.reg(RBX));
        }
    }

    // ---- rotates ----

    @Test
    void rotatesChangeOnlyCarryAndOverflow() {
        try (TestMachine m = run("push 0xd4; popfq; mov eax, 0x81; rol al, 1")) {
            assertEquals(0x03, m.reg(RAX));
            assertEquals(CF | OF | SF | ZF | AF | PF, flags(m));
        }
    }

    @Test
    void rotateByAMultipleOfTheSizeStillSetsCarry() {
        try (TestMachine m = run("push 0; popfq; mov eax, 0x81; mov cl, 8; rol al, cl")) {
            assertEquals(0x81, m.reg(RAX));
            assertEquals(CF, flags(m)); // CF = bit 0, OF = MSB xor CF = 0
        }
    }

    @Test
    void rorByOne() {
        try (TestMachine m = run("push 0; popfq; mov eax, 1; ror ax, 1")) {
            assertEquals(0x8000, m.reg(RAX));
            assertEquals(CF | OF, flags(m));
        }
    }

    @Test
    void rclAndRcrWrapModuloSizePlusOne() {
        try (TestMachine m = run("""
                stc; mov eax, 0x80; mov cl, 9; rcl al, cl
                pushfq; pop r8
                stc; mov ebx, 0x80; rcl bl, 1
                pushfq; pop r9
                clc; mov edx, 1; mov cl, 18; rcr dx, cl
                pushfq; pop r10
                clc; mov esi, 0x5555; mov cl, 17; rcr si, cl
                """)) {
            assertEquals(0x80, m.reg(RAX));                       // 9 mod 9 = 0: unchanged
            assertEquals(CF, m.reg(R8) & (CF | OF));              // CF kept, OF = MSB xor CF = 0
            assertEquals(0x01, m.reg(RBX));                       // CF rotated into bit 0
            assertEquals(CF | OF, m.reg(R9) & (CF | OF));
            assertEquals(0, m.reg(RDX) & 0xFFFF);                 // 18 mod 17 = 1
            assertEquals(CF, m.reg(R10) & (CF | OF));
            assertEquals(0x5555, m.reg(RSI));
        }
    }

    @Test
    void rclAndRcrAt32And64Bits() {
        try (TestMachine m = run("""
                clc; mov eax, 1; mov cl, 31; rcl eax, cl
                pushfq; pop r8
                stc; mov ebx, 1; mov cl, 63; rcl rbx, cl
                pushfq; pop r9
                stc; xor edx, edx; stc; rcr rdx, 1
                pushfq; pop r10
                """)) {
            assertEquals(0x8000_0000L, m.reg(RAX));
            assertEquals(OF, m.reg(R8) & (CF | OF));
            assertEquals(0xC000_0000_0000_0000L, m.reg(RBX));
            assertEquals(OF, m.reg(R9) & (CF | OF));
            assertEquals(0x8000_0000_0000_0000L, m.reg(RDX));
            assertEquals(OF, m.reg(R10) & (CF | OF));
        }
    }

    // ---- SHLD, SHRD ----

    @Test
    void shldAndShrd() {
        try (TestMachine m = run("""
                mov eax, 0x12345678; mov ebx, 0x9ABCDEF0; shld eax, ebx, 4
                pushfq; pop r8
                mov rcx, 0x1122334455667788; mov rdx, 0xAA; shrd rcx, rdx, 8
                pushfq; pop r9
                """)) {
            assertEquals(0x2345_6789L, m.reg(RAX));
            assertEquals(CF | OF | AF, m.reg(R8) & STATUS_FLAGS);
            assertEquals(0xAA11_2233_4455_6677L, m.reg(RCX));
            assertEquals(CF | OF | SF | PF | AF, m.reg(R9) & STATUS_FLAGS);
        }
    }

    @Test
    void sixteenBitDoubleShiftsBeyondSixteenFollowAmd() {
        try (TestMachine m = run("""
                mov eax, 0x1234; mov ebx, 0xABCD; mov cl, 20; shld ax, bx, cl
                pushfq; pop r8
                mov edx, 0x1235; mov cl, 16; shld dx, bx, cl
                pushfq; pop r9
                mov esi, 0x1234; mov cl, 20; shrd si, bx, cl
                pushfq; pop r10
                """)) {
            assertEquals(0xBCDA, m.reg(RAX));
            assertEquals(SF | AF, m.reg(R8) & STATUS_FLAGS);
            assertEquals(0xABCD, m.reg(RDX));
            assertEquals(CF | OF | SF | AF, m.reg(R9) & STATUS_FLAGS);
            assertEquals(0xDABC, m.reg(RSI));
            assertEquals(SF | AF, m.reg(R10) & STATUS_FLAGS);
        }
    }

    @Test
    void doubleShiftByZeroKeepsFlagsAndZeroExtends() {
        try (TestMachine m = run("push 0x8d5; popfq; mov rax, -1; xor ecx, ecx; push 0x8d5; popfq; shld eax, ebx, cl")) {
            assertEquals(0xFFFF_FFFFL, m.reg(RAX));
            assertEquals(STATUS_FLAGS, flags(m));
        }
    }

    // ---- memory operands and faults ----

    @Test
    void memoryDestinations() {
        try (TestMachine m = run("""
                mov rdi, 0x200000
                mov qword ptr [rdi], 0x81
                shl qword ptr [rdi], 3
                mov word ptr [rdi + 8], 1
                mov cl, 18; clc
                rcr word ptr [rdi + 8], cl
                mov dword ptr [rdi + 16], 0x12345678; mov ebx, 0x9ABCDEF0; mov cl, 8
                shrd dword ptr [rdi + 16], ebx, cl
                mov byte ptr [rdi + 24], 0x81
                rol byte ptr [rdi + 24], 1
                """)) {
            assertEquals(0x408, m.memory.readU64(DATA));
            assertEquals(0, m.memory.readU16(DATA + 8));
            assertEquals(0xF012_3456L, m.memory.readU32(DATA + 16));
            assertEquals(0x03, m.memory.readU8(DATA + 24));
        }
    }

    @Test
    void readOnlyDestinationFaultsWithoutEffectEvenForCountZero() {
        for (String insn : List.of("shl dword ptr [rdi], 1", "shl dword ptr [rdi], cl", "shld dword ptr [rdi], ebx, cl",
                "rcl byte ptr [rdi], cl")) {
            try (TestMachine m = run("mov rdi, 0x1F0000; mov ebx, -1; xor ecx, ecx; push 0x8d5; popfq; " + insn, true)) {
                assertEquals(List.of((long) EXC_PF), m.reports, insn);
                assertEquals(0, m.memory.readU32(READ_ONLY), insn);
                // The exception frame holds the RFLAGS of the faulting instruction: unchanged.
                assertEquals(STATUS_FLAGS, m.memory.readU64(m.reg(RSP) + 24) & STATUS_FLAGS, insn);
            }
        }
    }

    @Test
    void lockPrefixIsUndefined() {
        try (TestMachine m = run("mov rdi, 0x200000; .byte 0xF0; shl dword ptr [rdi], 1")) {
            assertEquals(List.of((long) EXC_UD), m.reports);
        }
    }

    // ---- against the host CPU ----

    @Test
    void agreesWithTheHostCpu() {
        HostCrossCheck x = new HostCrossCheck();
        SplittableRandom rnd = new SplittableRandom(0x5417);
        String[] kinds = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sar"};
        String[] regs = {"al", "ax", "eax", "rax"};
        String[] mems = {"byte ptr [rdi + 48]", "word ptr [rdi + 48]", "dword ptr [rdi + 48]", "qword ptr [rdi + 48]"};
        for (String kind : kinds) {
            for (int s = 0; s < 4; s++) {
                for (String count : List.of("cl", "1", "3", "9", "17", "31", "33")) {
                    addCases(x, rnd, x.instruction(kind + " " + regs[s] + ", " + count, STATUS_FLAGS), 40);
                }
                addCases(x, rnd, x.instruction(kind + " " + mems[s] + ", cl", STATUS_FLAGS), 40);
            }
            addCases(x, rnd, x.instruction(kind + " ah, cl", STATUS_FLAGS), 40);
        }
        addCases(x, rnd, x.instruction(".byte 0xD3, 0xF0", STATUS_FLAGS), 40); // sal eax, cl (/6)
        String[][] pairs = {{"ax", "bx"}, {"eax", "ebx"}, {"rax", "rbx"}};
        String[] dmem = {"word ptr [rdi + 48]", "dword ptr [rdi + 48]", "qword ptr [rdi + 48]"};
        for (String op : List.of("shld", "shrd")) {
            for (int s = 0; s < 3; s++) {
                for (String count : List.of("cl", "1", "7", "16", "19", "31")) {
                    addCases(x, rnd, x.instruction(op + " " + pairs[s][0] + ", " + pairs[s][1] + ", " + count, STATUS_FLAGS), 60);
                }
                addCases(x, rnd, x.instruction(op + " " + dmem[s] + ", " + pairs[s][1] + ", cl", STATUS_FLAGS), 60);
            }
        }
        x.assertSameAsHost();
    }

    private static void addCases(HostCrossCheck x, SplittableRandom rnd, int insn, int n) {
        for (int k = 0; k < n; k++) {
            long[] s = HostCrossCheck.randomState(rnd);
            if (rnd.nextInt(4) != 0) s[HostCrossCheck.RCX_W] = (s[HostCrossCheck.RCX_W] & ~0xFFL) | rnd.nextInt(72);
            x.add(insn, s);
        }
    }
}
