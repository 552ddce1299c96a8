package org.symbiont.x86;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import org.junit.jupiter.api.Test;

/** The interface a VMM drives the core through: running, exits, interrupts, virtual time. */
class CpuApiTest {

    private static TestMachine machine(String intel) {
        TestMachine m = TestMachine.longMode();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + intel, 64, TestMachine.CODE));
        return m;
    }

    /** Points vector 0x30 at a handler that records the vector in R15 and returns. */
    private static void handler(TestMachine m, int vector, long at) {
        m.memory.write(at, Asm.assemble(".intel_syntax noprefix\nmov r15, " + vector + "\niretq", 64, at));
        m.memory.writeU64(TestMachine.IDT + 16L * vector, (at & 0xFFFF) | ((long) TestMachine.CODE64_SEL << 16) | (0x8EL << 40)
                | ((at >>> 16 & 0xFFFF) << 48));
        m.memory.writeU64(TestMachine.IDT + 16L * vector + 8, at >>> 32);
        m.cpu.idtLimit = Math.max(m.cpu.idtLimit, 16 * (vector + 1) - 1);
    }

    @Test
    void resetStartsInRealModeAtTheResetVector() {
        try (TestMachine m = TestMachine.longMode()) {
            m.cpu.reset();
            assertEquals(0xF000, m.cpu.segSel[CS]);
            assertEquals(0xFFFF_0000L, m.cpu.segBase[CS]);
            assertEquals(0xFFF0, m.cpu.rip);
            assertEquals(0, m.cpu.cr0 & CR0_PE);
            assertEquals(RFLAGS_FIXED1, m.cpu.getRflags());
        }
    }

    @Test
    void aPendingInterruptWaitsForIfAndAHigherClassReplacesIt() {
        try (TestMachine m = machine("cli\nmov eax, 1\nsti\nnop\nnop\nhlt")) {
            handler(m, 0x30, 0x20_0000);
            handler(m, 0x51, 0x20_1000);
            m.cpu.injectInterrupt(0x30);
            m.cpu.injectInterrupt(0x51);   // priority class 5 beats class 3
            m.cpu.injectInterrupt(0x40);   // class 4 does not displace class 5
            assertTrue(m.cpu.hasPendingInterrupt());
            assertFalse(m.cpu.interruptible(), "IF is clear after reset of the test machine");
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(0x51, m.reg(R15));
            assertFalse(m.cpu.hasPendingInterrupt());
            assertEquals(1, m.reg(RAX), "taken after STI and the instruction in its shadow");
        }
    }

    @Test
    void interruptWindowExitWhenTheGuestBecomesInterruptible() {
        try (TestMachine m = machine("cli\nmov eax, 1\nsti\nmov ebx, 2\nmov ecx, 3\nhlt")) {
            m.cpu.setInterruptWindowExiting(true);
            Exit e = m.cpu.run(100);
            assertEquals(Exit.INTERRUPT_WINDOW, e);
            assertEquals(2, m.reg(RBX), "the window opens after the instruction in the STI shadow");
            assertEquals(0, m.reg(RCX));
            assertTrue(m.cpu.interruptible());
        }
    }

    @Test
    void anInterruptWakesAHaltedCpuAndNmisAreNotMaskedByIf() {
        try (TestMachine m = machine("cli\nhlt\nmov eax, 7\nhlt")) {
            handler(m, EXC_NMI, 0x20_0000);
            assertEquals(Exit.HALT, m.cpu.run(100));
            assertEquals(Exit.HALT, m.cpu.run(100), "stays halted");
            m.cpu.injectNmi();
            assertEquals(Exit.HALT, m.cpu.run(100));
            assertEquals(EXC_NMI, m.reg(R15));
            assertEquals(7, m.reg(RAX), "resumed after the HLT");
        }
    }

    @Test
    void virtualTimeCountsInstructionsAndChargedCycles() {
        try (TestMachine m = machine("nop\nnop\nnop\nrdtsc\nshl rdx, 32\nor rax, rdx\nhlt")) {
            m.cpu.cyclesPerInstruction = 3;
            m.cpu.chargeCycles(1000);
            m.cpu.tscOffset = 5;
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(5 + 1000 + 3 * 3, m.reg(RAX), "TSC at RDTSC: offset + charged + 3 instructions x CPI");
            assertEquals(7, m.cpu.retired);
            assertEquals(7 * 3 + 1000, m.cpu.virtualCycles());
        }
    }

    @Test
    void pauseCostsItsCyclesAndShortensTheBudget() {
        try (TestMachine m = machine("1: pause\ninc rax\njmp 1b")) {
            m.cpu.pauseCycles = 97;
            assertEquals(Exit.BUDGET_EXHAUSTED, m.cpu.run(3000));
            long charged = m.cpu.virtualCycles() - m.cpu.retired;
            assertEquals(0, charged % 97, "instructions plus 97 cycles per PAUSE");
            long pauses = charged / 97;
            assertTrue(pauses == m.reg(RAX) || pauses == m.reg(RAX) + 1, "one charge per PAUSE executed");
            assertTrue(m.cpu.virtualCycles() >= 3000 && m.cpu.virtualCycles() < 3000 + 97 + 3,
                    "the run ends once its 3000 cycles are spent: " + m.cpu.virtualCycles());
        }
        try (TestMachine m = machine("1: nop\ninc rax\njmp 1b")) {
            m.cpu.pauseCycles = 97;
            assertEquals(Exit.BUDGET_EXHAUSTED, m.cpu.run(3000));
            assertEquals(1000, m.reg(RAX), "a NOP without F3 is free");
        }
    }

    @Test
    void cr8WritesExitWhenTheVmmKeepsTheTaskPriority() {
        try (TestMachine m = machine("mov eax, 9\nmov cr8, rax\nmov rbx, cr8\nhlt")) {
            m.cpu.cr8Exits = true;
            assertEquals(new Exit.Cr8Write(9), m.cpu.run(100));
            assertEquals(0, m.cpu.cr8, "nothing changes before the VMM answers");
            m.cpu.completeWrite();
            assertEquals(Exit.HALT, m.cpu.run(100));
            assertEquals(9, m.cpu.cr8);
            assertEquals(9, m.reg(RBX), "reads of CR8 stay in the core");
        }
        try (TestMachine m = machine("mov eax, 5\nmov cr8, rax\nhlt")) {
            assertEquals(Exit.HALT, m.cpu.run(100), "without a VMM asking, CR8 is the core's alone");
            assertEquals(5, m.cpu.cr8);
        }
    }

    @Test
    void theBudgetIsExactAndRunsAreDeterministic() {
        try (TestMachine m = machine("1: inc rax\njmp 1b")) {
            assertEquals(Exit.BUDGET_EXHAUSTED, m.cpu.run(1001));
            assertEquals(1001, m.cpu.retired);
            assertEquals(501, m.reg(RAX));
        }
    }

    @Test
    void misuseByTheVmmIsReportedNotIgnored() {
        try (TestMachine m = machine("in al, 0x60\nhlt")) {
            assertThrows(IllegalArgumentException.class, () -> m.cpu.run(0));
            assertThrows(IllegalArgumentException.class, () -> m.cpu.injectInterrupt(256));
            assertThrows(IllegalStateException.class, () -> m.cpu.completeRead(1), "nothing to complete yet");
            assertInstanceOf(Exit.PortIn.class, m.cpu.run(10));
            assertThrows(IllegalStateException.class, () -> m.cpu.run(10), "the exit is not completed");
            assertThrows(IllegalStateException.class, () -> m.cpu.completeCpuid(0, 0, 0, 0), "wrong kind of answer");
            m.cpu.completeRead(0x42);
            assertEquals(Exit.HALT, m.cpu.run(10));
            assertEquals(0x42, m.reg(RAX));
        }
    }
}
