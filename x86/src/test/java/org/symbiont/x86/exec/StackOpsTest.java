package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/** ENTER (all nesting levels, 16/32/64-bit operands), PUSHA/POPA, and POPF's RIP. */
class StackOpsTest {
    private static final long FRAME = 0x7_F200;

    private static TestMachine machine(String source) {
        TestMachine m = TestMachine.longMode();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + source, 64, TestMachine.CODE));
        return m;
    }

    private static void runToHalt(TestMachine m) {
        assertEquals(Exit.HALT, m.run(1_000_000));
        assertEquals(List.of(), m.reports, "no exception expected");
    }

    private static void writeSized(TestMachine m, long gpa, int size, long v) {
        switch (size) {
            case 2 -> m.memory.writeU16(gpa, (int) v);
            case 4 -> m.memory.writeU32(gpa, v);
            default -> m.memory.writeU64(gpa, v);
        }
    }

    private static final long REGION = 0x7_0000;
    private static final int REGION_LENGTH = 0x1_0000;

    /**
     * Runs {@code enter allocation, level} with the given operand size and compares the stack
     * region and rBP/rSP with the SDM's pseudo-code run on a copy of the region: push rBP; for
     * k = 1 .. level-1 push [rBP - k * size], read after the pushes before it; push the frame
     * pointer; rBP = frame pointer; rSP -= allocation.
     */
    private static void checkEnter(TestMachine m, int size, int allocation, int level) {
        long oldBp = m.cpu.gpr[RBP];
        long sp = m.cpu.gpr[RSP];
        for (int k = 1; k < 32; k++) writeSized(m, oldBp - (long) k * size, size, 0x1000 + k);
        byte[] expected = m.memory.read(REGION, REGION_LENGTH);
        runToHalt(m);
        int effective = level & 31;
        long sizeMask = size == 8 ? -1L : (1L << (8 * size)) - 1;
        sp -= size;
        put(expected, sp, size, oldBp);
        long frame = sp;
        for (int k = 1; k < effective; k++) {
            sp -= size;
            put(expected, sp, size, get(expected, oldBp - (long) k * size, size));
        }
        if (effective > 0) {
            sp -= size;
            put(expected, sp, size, frame);
        }
        assertArrayEquals(expected, m.memory.read(REGION, REGION_LENGTH), "stack contents");
        assertEquals((oldBp & ~sizeMask) | (frame & sizeMask), m.reg(RBP), "rBP");
        assertEquals(sp - allocation, m.reg(RSP), "rSP");
    }

    private static void put(byte[] region, long address, int size, long v) {
        for (int k = 0; k < size; k++) region[(int) (address - REGION) + k] = (byte) (v >>> (8 * k));
    }

    private static long get(byte[] region, long address, int size) {
        long v = 0;
        for (int k = 0; k < size; k++) v |= (region[(int) (address - REGION) + k] & 0xFFL) << (8 * k);
        return v;
    }

    @ParameterizedTest(name = "enter {0}, {1} with rBP - rSP = {2}")
    @CsvSource({"0,0,0x400", "0x20,0,0x400", "0x18,1,0x400", "0x20,2,0x400", "0,3,0x400", "0x100,7,0x400",
        "8,31,0x400", "0x20,32,0x400", "0x10,33,0x400", "0xFFFF,4,0x400",
        // The enclosing frame overlaps the slots being pushed: later copies read earlier pushes.
        "0,31,0x40", "0x10,12,0x13", "0,8,0"})
    void enterIn64BitMode(int allocation, int level, int frameDistance) {
        try (TestMachine m = machine("enter " + allocation + ", " + level + "\nhlt")) {
            m.cpu.gpr[RSP] = FRAME - frameDistance;
            m.cpu.gpr[RBP] = FRAME;
            checkEnter(m, 8, allocation, level);
        }
    }

    @ParameterizedTest(name = "enter {0}, {1}")
    @CsvSource({"0x20,0", "0x10,1", "0x10,3", "0,31"})
    void enterWith16BitOperandIn64BitMode(int allocation, int level) {
        try (TestMachine m = machine("data16 enter " + allocation + ", " + level + "\nhlt")) {
            m.cpu.gpr[RSP] = FRAME - 0x40;
            m.cpu.gpr[RBP] = FRAME; // BP receives the 16-bit frame pointer; bits 16-63 stay
            checkEnter(m, 2, allocation, level);
        }
    }

    @ParameterizedTest(name = "{0}-bit operand, enter {1}, {2}")
    @CsvSource({"32,0x20,0", "32,0x10,1", "32,0x8,4", "32,0,31", "16,0x20,0", "16,0x10,2", "16,0x4,5", "16,0,31"})
    void enterInCompatibilityMode(int operandBits, int allocation, int level) {
        String prefix = operandBits == 16 ? "data16 " : "";
        try (TestMachine m = DataMoveTest.compatibilityMachine(prefix + "enter " + allocation + ", " + level + "\nhlt")) {
            m.cpu.gpr[RSP] = FRAME - 0x40;
            m.cpu.gpr[RBP] = FRAME;
            checkEnter(m, operandBits / 8, allocation, level);
        }
    }

    private static final long IST_STACK = TestMachine.STACK_TOP - 0x1000;

    /**
     * Makes page A0000H not present, and delivers #PF on IST1 (TSS + 24H) so that the exception
     * frame does not land on the stack under test.
     */
    private static void notPresentWithPageFaultsOnIst(TestMachine m) {
        m.memory.writeU64(TestMachine.PT0 + 8 * 0xA0, 0);
        m.memory.writeU64(TestMachine.TSS + 0x24, IST_STACK);
        long gate = TestMachine.IDT + 16 * EXC_PF;
        m.memory.writeU64(gate, m.memory.readU64(gate) | 1L << 32);
        m.cpu.mmu.flushAll();
    }

    /** The SDM's write check with the final stack pointer: a fault there leaves no trace. */
    @Test
    void enterFaultsOnTheFinalStackPointerBeforeWritingAnything() {
        try (TestMachine m = machine("enter 0x200, 2\nhlt")) {
            notPresentWithPageFaultsOnIst(m);
            m.cpu.gpr[RSP] = 0xA_1100;
            m.cpu.gpr[RBP] = 0xA_1200;
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(List.of((long) EXC_PF), m.reports);
            assertEquals(0xA_10E8 - 0x200, m.cpu.cr2);
            long frame = m.reg(RSP);
            assertEquals(IST_STACK - 48, frame, "delivered on IST1");
            assertEquals(PF_W, m.memory.readU64(frame), "error code: not present, write");
            assertEquals(TestMachine.CODE, m.memory.readU64(frame + 8));
            assertEquals(0xA_1100, m.memory.readU64(frame + 32), "RSP unchanged at the fault");
            assertEquals(0xA_1200, m.reg(RBP));
            assertEquals(0, m.memory.readU64(0xA_10F8), "rBP not pushed");
        }
    }

    @Test
    void pushadAndPopadInCompatibilityMode() {
        try (TestMachine m = DataMoveTest.compatibilityMachine("""
                mov eax, 1
                mov ecx, 2
                mov edx, 3
                mov ebx, 4
                mov ebp, 6
                mov esi, 7
                mov edi, 8
                pushad
                mov dword ptr [esp + 12], 0xDEAD
                xor eax, eax
                xor ecx, ecx
                xor edx, edx
                xor ebx, ebx
                xor ebp, ebp
                xor esi, esi
                xor edi, edi
                popad
                hlt
                """)) {
            runToHalt(m);
            long top = TestMachine.STACK_TOP;
            long[] expected = {8, 7, 6, 0xDEAD, 4, 3, 2, 1};
            for (int k = 0; k < 8; k++) assertEquals(expected[k], m.memory.readU32(top - 32 + 4L * k), "slot " + k);
            assertEquals(top, m.reg(RSP), "POPAD skips the saved ESP");
            long[] registers = {1, 2, 3, 4, top, 6, 7, 8};
            for (int r = 0; r < 8; r++) assertEquals(registers[r], m.reg(r), "register " + r);
        }
    }

    @Test
    void pushawSavesTheOriginalSpAndPopawRestoresLowHalves() {
        try (TestMachine m = DataMoveTest.compatibilityMachine("""
                mov eax, 0x11110001
                mov ecx, 0x22220002
                mov edx, 0x33330003
                mov ebx, 0x44440004
                mov ebp, 0x66660006
                mov esi, 0x77770007
                mov edi, 0x88880008
                pushaw
                mov eax, -1
                mov ecx, -1
                mov edx, -1
                mov ebx, -1
                mov ebp, -1
                mov esi, -1
                mov edi, -1
                popaw
                hlt
                """)) {
            runToHalt(m);
            long top = TestMachine.STACK_TOP;
            int[] expected = {8, 7, 6, (int) (top & 0xFFFF), 4, 3, 2, 1};
            for (int k = 0; k < 8; k++) assertEquals(expected[k], m.memory.readU16(top - 16 + 2L * k), "slot " + k);
            assertEquals(top, m.reg(RSP));
            for (int r : new int[] {RAX, RCX, RDX, RBX, RBP, RSI, RDI}) {
                assertEquals(0xFFFF_0000L | (r + 1), m.reg(r), "register " + r);
            }
        }
    }

    @Test
    void pushaFaultLeavesEspAndMemoryUntouched() {
        try (TestMachine m = DataMoveTest.compatibilityMachine("pushad\nhlt")) {
            notPresentWithPageFaultsOnIst(m);
            m.cpu.gpr[RSP] = 0xA_1010; // four slots in the present page, four below it
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(List.of((long) EXC_PF), m.reports);
            assertEquals(0xA_0FFC, m.cpu.cr2);
            assertEquals(IST_STACK - 48, m.reg(RSP), "delivered on IST1");
            assertEquals(0xA_1010, m.memory.readU64(m.reg(RSP) + 32), "ESP unchanged at the fault");
            assertEquals(0, m.memory.readU64(0xA_1008), "no slot written");
        }
    }

    @Test
    void pushaAndPopaAreInvalidIn64BitMode() {
        for (byte opcode : new byte[] {0x60, 0x61}) {
            try (TestMachine m = TestMachine.longMode()) {
                m.load(new byte[] {opcode, (byte) 0xF4});
                assertEquals(Exit.HALT, m.run(100));
                assertEquals(List.of((long) EXC_UD), m.reports);
            }
        }
    }

    @Test
    void popfContinuesWithTheNextInstruction() {
        try (TestMachine m = machine("push 0x8D7\npopfq\nmov eax, 5\nhlt")) {
            runToHalt(m);
            assertEquals(5, m.reg(RAX));
            assertEquals(CF | PF | AF | ZF | SF | OF, m.cpu.getRflags() & STATUS_FLAGS);
            assertEquals(4, m.cpu.retired);
        }
    }
}
