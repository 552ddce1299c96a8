package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;

/** ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG, NOT: results and flags. */
class ArithTest {
    private static final String[] BINARY = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
    // Operand spellings per size: destination register, source register, memory operand.
    private static final String[][] SIZES = {
        {"al", "bl", "byte ptr [rdi + 48]"}, {"ah", "bh", "byte ptr [rdi + 49]"},
        {"ax", "bx", "word ptr [rdi + 48]"}, {"eax", "ebx", "dword ptr [rdi + 48]"}, {"rax", "rbx", "qword ptr [rdi + 48]"},
    };

    /** AF is undefined after AND, OR, XOR and TEST (SDM Vol. 2A); everything else is defined. */
    private static long definedFlags(String op) {
        return op.equals("and") || op.equals("or") || op.equals("xor") || op.equals("test") ? STATUS_FLAGS & ~AF : STATUS_FLAGS;
    }

    @Test
    void everyFormMatchesTheHostCpu() {
        HostCrossCheck x = new HostCrossCheck();
        SplittableRandom rnd = new SplittableRandom(11);
        for (String op : BINARY) {
            long flags = definedFlags(op);
            for (String[] s : SIZES) {
                add(x, rnd, x.instruction(op + " " + s[0] + ", " + s[1], flags));
                add(x, rnd, x.instruction(op + " " + s[0] + ", " + s[2], flags));
                add(x, rnd, x.instruction(op + " " + s[2] + ", " + s[1], flags));
                add(x, rnd, x.instruction(op + " " + s[0] + ", 0x7f", flags));
                add(x, rnd, x.instruction(op + " " + s[2] + ", -3", flags));
                if (!op.equals("cmp")) add(x, rnd, x.instruction("lock " + op + " " + s[2] + ", " + s[1], flags));
            }
            add(x, rnd, x.instruction(op + " rax, -0x12345678", flags));
            add(x, rnd, x.instruction(op + " eax, 0x89abcdef", flags));
            add(x, rnd, x.instruction(op + " ax, 0x8001", flags));
        }
        for (String[] s : SIZES) {
            add(x, rnd, x.instruction("test " + s[0] + ", " + s[1], definedFlags("test")));
            add(x, rnd, x.instruction("test " + s[2] + ", " + s[1], definedFlags("test")));
            add(x, rnd, x.instruction("test " + s[0] + ", 0x41", definedFlags("test")));
            for (String op : new String[] {"inc", "dec", "neg", "not"}) {
                add(x, rnd, x.instruction(op + " " + s[0], STATUS_FLAGS));
                add(x, rnd, x.instruction(op + " " + s[2], STATUS_FLAGS));
                add(x, rnd, x.instruction("lock " + op + " " + s[2], STATUS_FLAGS));
            }
        }
        // Multi-word arithmetic: carry and borrow chains.
        add(x, rnd, x.instruction("add rax, rbx; adc rcx, rdx; adc rsi, 0", STATUS_FLAGS));
        add(x, rnd, x.instruction("sub rax, rbx; sbb rcx, rdx; sbb rsi, 0", STATUS_FLAGS));
        x.assertSameAsHost();
    }

    private static void add(HostCrossCheck x, SplittableRandom rnd, int insn) {
        for (int k = 0; k < 80; k++) x.add(insn, HostCrossCheck.randomState(rnd));
    }

    @Test
    void lockWithARegisterDestinationIsUndefined() {
        // F0 01 D8: lock add eax, ebx
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {(byte) 0xF0, 0x01, (byte) 0xD8, (byte) 0xF4});
            runToFault(m, EXC_UD);
        }
        // LOCK on CMP (no write) is #UD as well: F0 39 07 = lock cmp [rdi], eax
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {(byte) 0xF0, 0x39, 0x07, (byte) 0xF4});
            m.cpu.gpr[RDI] = 0x20_0000;
            runToFault(m, EXC_UD);
        }
    }

    @Test
    void aFaultingDestinationLeavesFlagsAndRegistersAlone() {
        try (TestMachine m = longMode("""
                mov rdi, 0x1FF000
                mov eax, 5
                cmp eax, 5
                add dword ptr [rdi], eax
                hlt
                """)) {
            m.memory.writeU64(TestMachine.PT0 + 8 * 511, 0x1FF000 | 0x5); // present, read-only
            runToFault(m, EXC_PF);
            assertEquals(PF_P | PF_W, errorCode(m));
            assertEquals(ZF, m.cpu.getRflags() & ZF, "flags of the CMP survive the faulting ADD");
        }
    }
}
