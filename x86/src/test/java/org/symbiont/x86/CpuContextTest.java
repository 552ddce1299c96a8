package org.symbiont.x86;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Nested calls into the guest (Palacios' SymCall, 6.7): the context saved in the middle of an
 * exit, a handler entered through the GDT and run to its return hypercall, the context restored,
 * and the interrupted instruction completed as if nothing had happened.
 */
class CpuContextTest {
    private static final long HANDLER = 0x20_0000, HANDLER_STACK = 0x30_0000;

    @BeforeAll
    static void gnuAs() {
        Asm.assumeAvailable();
    }

    /** The interrupted program: sets registers and flags, reads port 0x70, records what it sees. */
    private static TestMachine machine(String handler) {
        TestMachine m = TestMachine.longMode();
        m.load(Asm.assemble("""
                .intel_syntax noprefix
                mov rbx, 0x1111
                mov rcx, 0x2222
                mov rsi, 0x3333
                mov rdi, 0x4444
                mov r8, 0x5555
                stc
                in al, 0x70
                setc r12b
                hlt
                """, 64, TestMachine.CODE));
        m.memory.write(HANDLER, Asm.assemble(".intel_syntax noprefix\n" + handler, 64, HANDLER));
        return m;
    }

    private static void enter(TestMachine m) {
        assertNull(m.cpu.enterNested(HANDLER, HANDLER_STACK, TestMachine.CODE64_SEL, 0x7000, 0x8000));
        m.cpu.exceptionExiting = true;
    }

    @Test
    void aCallInTheMiddleOfAnExitLeavesTheInstructionToComplete() {
        try (TestMachine m = machine("""
                add rbx, 1
                add rcx, 2
                mov r8, 0x99
                xor eax, eax
                push rax
                pop rax
                mov eax, 0x535
                vmcall
                """)) {
            Exit in = m.cpu.run(100);
            assertInstanceOf(Exit.PortIn.class, in);
            long rip = m.cpu.rip, rsp = m.cpu.gpr[RSP];
            CpuContext saved = m.cpu.saveContext();
            enter(m);
            assertEquals(0, m.cpu.cpl);
            assertEquals(TestMachine.DATA_SEL, m.cpu.segSel[SS]);
            assertEquals(0x7000, m.cpu.segBase[GS]);
            m.cpu.gpr[RBX] = 10;
            m.cpu.gpr[RCX] = 20;
            assertEquals(new Exit.Hypercall(0x535), m.cpu.run(100));
            assertEquals(11, m.cpu.gpr[RBX]);
            assertEquals(22, m.cpu.gpr[RCX]);
            assertFalse(m.cpu.getRflags() == 0, "the handler changed the flags");
            m.cpu.restoreContext(saved);
            assertEquals(rip, m.cpu.rip);
            assertEquals(rsp, m.cpu.gpr[RSP]);
            assertEquals(in, m.cpu.pendingExit);
            assertFalse(m.cpu.exceptionExiting);
            m.cpu.completeRead(0x42);
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(0x42, m.reg(RAX) & 0xFF);
            assertEquals(0x1111, m.reg(RBX));
            assertEquals(0x2222, m.reg(RCX));
            assertEquals(0x5555, m.reg(R8));
            assertEquals(1, m.reg(R12) & 0xFF, "CF set before the exit survives the call");
        }
    }

    @Test
    void aFaultInTheCallIsInterceptedNotDelivered() {
        try (TestMachine m = machine("mov rax, 1\nud2\n")) {
            Exit in = m.cpu.run(100);
            CpuContext saved = m.cpu.saveContext();
            enter(m);
            Exit e = m.cpu.run(100);
            assertEquals(new Exit.ExceptionIntercepted(EXC_UD, 0, HANDLER + 7), e);
            assertNull(m.cpu.pendingExit);
            assertTrue(m.reports.isEmpty(), "no IDT stub ran");
            m.cpu.restoreContext(saved);
            assertEquals(in, m.cpu.pendingExit);
            m.cpu.completeRead(7);
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(7, m.reg(RAX) & 0xFF);
            assertTrue(m.reports.isEmpty());
        }
    }

    @Test
    void pendingEventsWaitOutTheCall() {
        try (TestMachine m = machine("mov eax, 0x535\nvmcall\n")) {
            m.cpu.run(100);
            m.cpu.injectInterrupt(0x30);
            m.cpu.halted = true;
            CpuContext saved = m.cpu.saveContext();
            assertFalse(m.cpu.hasPendingInterrupt());
            assertFalse(m.cpu.halted);
            enter(m);
            assertEquals(new Exit.Hypercall(0x535), m.cpu.run(100));
            m.cpu.restoreContext(saved);
            assertEquals(0x30, m.cpu.pendingVector);
            assertTrue(m.cpu.halted);
        }
    }

    @Test
    void anEntryThroughABadSelectorIsRefusedAndChangesNothing() {
        try (TestMachine m = machine("hlt\n")) {
            m.cpu.run(100);
            long rip = m.cpu.rip;
            assertNotNull(m.cpu.enterNested(HANDLER, HANDLER_STACK, 0x400, 0, 0), "beyond the GDT limit");
            assertNotNull(m.cpu.enterNested(HANDLER, HANDLER_STACK, TestMachine.DATA_SEL, 0, 0), "a data segment as CS");
            assertNotNull(m.cpu.enterNested(HANDLER, HANDLER_STACK, TestMachine.CODE64_SEL | 4, 0, 0), "an LDT selector");
            assertEquals(rip, m.cpu.rip);
            assertEquals(TestMachine.CODE64_SEL, m.cpu.segSel[CS]);
        }
    }
}
