package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;

/** Self-modifying and cross-modifying code: whatever the guest writes is what runs next. */
class SmcTest {

    @Test
    void storeIntoTheNextInstructionOfTheCurrentBlock() {
        try (TestMachine m = longMode("""
                mov byte ptr [rip + target + 1], 42
            target:
                mov eax, 1
                mov ebx, eax
                hlt
                """)) {
            runToHalt(m);
            assertEquals(42, m.reg(RAX));
            assertEquals(42, m.reg(RBX));
        }
    }

    @Test
    void storeIntoAnotherAlreadyExecutedBlock() {
        try (TestMachine m = longMode("""
                call func
                mov ebx, eax
                mov byte ptr [rip + func + 1], 7
                call func
                hlt
            func:
                mov eax, 1
                ret
                """)) {
            runToHalt(m);
            assertEquals(1, m.reg(RBX));
            assertEquals(7, m.reg(RAX));
        }
    }

    @Test
    void storeThroughASecondMappingOfTheCodePage() {
        try (TestMachine m = PagingTest.withTestTables("""
            start:
                call func
                mov ebx, eax
                movabs rdi, 0x8000000000 + func - start + 1
                mov byte ptr [rdi], 9
                call func
                hlt
            func:
                mov eax, 1
                ret
                """)) {
            // V aliases the physical page holding the code.
            PagingTest.pte(m, 0, TestMachine.CODE | PagingTest.P | PagingTest.RW);
            runToHalt(m);
            assertEquals(1, m.reg(RBX));
            assertEquals(9, m.reg(RAX));
        }
    }

    @Test
    void storeThroughAnAliasIntoTheCurrentBlock() {
        try (TestMachine m = PagingTest.withTestTables("""
            start:
                movabs rdi, 0x8000000000 + target - start + 1
                mov byte ptr [rdi], 5
            target:
                mov eax, 1
                hlt
                """)) {
            PagingTest.pte(m, 0, TestMachine.CODE | PagingTest.P | PagingTest.RW);
            runToHalt(m);
            assertEquals(5, m.reg(RAX));
        }
    }

    @Test
    void codeWrittenByTheVmmBetweenRunsIsDecodedAgain() {
        try (TestMachine m = longMode("""
                mov eax, 1
                hlt
                """)) {
            runToHalt(m);
            assertEquals(1, m.reg(RAX));
            m.memory.writeU8(TestMachine.CODE + 1, 3);
            m.cpu.rip = TestMachine.CODE;
            m.cpu.halted = false;
            runToHalt(m);
            assertEquals(3, m.reg(RAX));
        }
    }

    @Test
    void lockedWriteIntoCodeIsSeen() {
        try (TestMachine m = longMode("""
                call func
                mov ebx, eax
                lock add byte ptr [rip + func + 1], 10
                call func
                hlt
            func:
                mov eax, 1
                ret
                """)) {
            runToHalt(m);
            assertEquals(1, m.reg(RBX));
            assertEquals(11, m.reg(RAX));
        }
    }
}
