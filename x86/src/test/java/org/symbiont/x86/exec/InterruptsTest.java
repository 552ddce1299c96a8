package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.SystemTables.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * Exception and interrupt delivery: error codes, CR2, frames, IST and privilege-change stacks,
 * the double-fault rules, triple fault, NMI blocking, 16-bit and conforming legacy handlers, and
 * the real-mode IVT.
 */
class InterruptsTest {
    private static final long TOP = TestMachine.STACK_TOP;

    /** Runs to an exception stub and checks the reported vector. */
    private static void expectStub(TestMachine m, int vector) {
        assertEquals(vector, runToStub(m, 10_000));
    }

    private static void setPte(TestMachine m, long page, long entry) {
        m.memory.writeU64(TestMachine.PT0 + 8 * (page >>> 12), entry);
        m.cpu.mmu.flushAll();
    }

    // ---- 64-bit frames and error codes ----

    @Test
    void generalProtectionFrameWithSelectorErrorCode() {
        TestMachine m = lm64("""
                mov ax, 0x200
                lea rsi, [rip + 1f]
            1:  mov ds, ax
                hlt
            """);
        expectStub(m, EXC_GP);
        assertEquals(TOP - 48, m.reg(RSP));
        assertEquals(0x200, stack64(m, 0));
        assertEquals(m.reg(RSI), stack64(m, 8));
        assertEquals(TestMachine.CODE64_SEL, stack64(m, 16));
        assertEquals(RFLAGS_FIXED1 | RF, stack64(m, 24) & ~STATUS_FLAGS);
        assertEquals(TOP, stack64(m, 32));
        assertEquals(TestMachine.DATA_SEL, stack64(m, 40));
    }

    @Test
    void faultFramesHoldRfSetWhileTrapAndInterruptFramesHoldItAsItWas() {
        // SDM Vol. 3A 17.3.1.1: RF is pushed as 1 for every fault-class exception (other than an
        // instruction-breakpoint #DB), and as RFLAGS.RF for traps and interrupts.
        TestMachine fault = lm64("ud2");
        expectStub(fault, EXC_UD);
        assertEquals(RF, stack64(fault, 16) & RF, "#UD");

        TestMachine faultInDelivery = lm64("int 0x20");
        faultInDelivery.cpu.idtLimit = 16 * 0x20 - 1;
        expectStub(faultInDelivery, EXC_GP);
        assertEquals(RF, stack64(faultInDelivery, 24) & RF, "a #GP raised by the delivery of INT n");

        TestMachine trap = lm64("int3");
        expectStub(trap, EXC_BP);
        assertEquals(0, stack64(trap, 16) & RF, "#BP is a trap");

        TestMachine external = lm64("1: jmp 1b");
        external.cpu.setRflags(RFLAGS_FIXED1 | IF);
        external.cpu.injectInterrupt(EXC_GP);
        expectStub(external, EXC_GP);
        assertEquals(0, stack64(external, 16) & RF, "an external interrupt");
    }

    @Test
    void rfLoadedByIretLastsUntilTheNextInstructionStarts() {
        TestMachine m = lm64("""
                mov rcx, rsp
                mov ax, ss
                push rax
                push rcx
                pushfq
                or qword ptr [rsp], 0x10000
                mov ax, cs
                push rax
                lea rax, [rip + 1f]
                push rax
                iretq
            1:  nop
                int3
            """);
        expectStub(m, EXC_BP);
        assertEquals(0, stack64(m, 16) & RF, "cleared as the NOP started, so the trap frame holds 0");
    }

    @Test
    void invalidOpcodePushesNoErrorCode() {
        TestMachine m = lm64("""
                lea rsi, [rip + 1f]
            1:  ud2
            """);
        expectStub(m, EXC_UD);
        assertEquals(TOP - 40, m.reg(RSP));
        assertEquals(m.reg(RSI), stack64(m, 0));
    }

    @Test
    void pageFaultErrorCodesAndCr2() {
        record Case(String code, long page, long pte, int cpl, long errorCode) {}
        List<Case> cases = List.of(
                new Case("mov rax, [0x1F0010]", 0x1F_0000, 0, 0, 0),
                new Case("mov [0x1F0010], eax", 0x1F_0000, 0, 0, PF_W),
                new Case("mov [0x1F0010], eax", 0x1F_0000, 0x1F_0000 | 0x5, 0, PF_P | PF_W),
                new Case("mov rax, [0x1F0010]", 0x1F_0000, 0x1F_0000 | 0x3, 3, PF_P | PF_U),
                new Case("mov [0x1F0010], eax", 0x1F_0000, 0x1F_0000 | 0x5, 3, PF_P | PF_W | PF_U),
                new Case("mov rax, [0x1F0010]", 0x1F_0000, 0x1F_0000 | 0x7 | 1L << 45, 0, PF_P | PF_RSVD),
                new Case("mov eax, 0x1F0010\n jmp rax", 0x1F_0000, 0x1F_0000 | 0x7 | 1L << 63, 0, PF_P | PF_I));
        for (Case k : cases) {
            TestMachine m = lm64((k.cpl() == 3 ? RING3_64 : "") + "lea rsi, [rip + 1f]\n1: " + k.code() + "\n hlt");
            setPte(m, k.page(), k.pte());
            expectStub(m, EXC_PF);
            assertEquals(k.errorCode(), stack64(m, 0), k.toString());
            assertEquals(0x1F_0010, m.cpu.cr2, k.toString());
            long rip = k.errorCode() == (PF_P | PF_I) ? 0x1F_0010 : m.reg(RSI);
            assertEquals(rip, stack64(m, 8), "saved RIP: " + k);
        }
    }

    @Test
    void istStackSwitchAtTheSamePrivilege() {
        TestMachine m = lm64("""
                lea rsi, [rip + 1f]
                int3
            1:  hlt
            """);
        setIdt64(m, EXC_BP, STUBS + 8 * EXC_BP, 0x8E, 2);
        m.memory.writeU64(TestMachine.TSS + 0x24 + 8, 0x6_0008L); // IST2, not 16-byte aligned
        expectStub(m, EXC_BP);
        assertEquals(0x6_0000 - 40, m.reg(RSP), "IST2 stack, aligned down to 16 bytes");
        assertEquals(m.reg(RSI), stack64(m, 0), "INT3 saves the next RIP");
        assertEquals(TOP, stack64(m, 24));
        assertEquals(TestMachine.DATA_SEL, stack64(m, 32), "SS unchanged without a privilege change");
        assertEquals(TestMachine.DATA_SEL, m.cpu.segSel[SS]);
    }

    @Test
    void stackIsAlignedTo16BytesWithoutAStackSwitch() {
        TestMachine m = lm64("sub rsp, 8\n int3\n hlt");
        expectStub(m, EXC_BP);
        assertEquals(TOP - 16 - 40, m.reg(RSP));
        assertEquals(TOP - 8, stack64(m, 24));
    }

    @Test
    void faultAtCpl3SwitchesToRsp0WithNullSs() {
        TestMachine m = lm64(RING3_64 + """
                mov rsp, 0x6FFF8
                lea rsi, [rip + 1f]
            1:  hlt
            """);
        expectStub(m, EXC_GP);
        assertEquals(TOP - 48, m.reg(RSP));
        assertEquals(0, stack64(m, 0));
        assertEquals(m.reg(RSI), stack64(m, 8));
        assertEquals(TestMachine.USER_CODE64, stack64(m, 16));
        assertEquals(RFLAGS_FIXED1 | RF, stack64(m, 24) & ~STATUS_FLAGS);
        assertEquals(0x6FFF8, stack64(m, 32));
        assertEquals(TestMachine.USER_DATA, stack64(m, 40));
        assertEquals(0, m.cpu.cpl);
        assertEquals(0, m.cpu.segSel[SS], "SS is the null selector with RPL 0");
        assertEquals(TestMachine.CODE64_SEL, m.cpu.segSel[CS]);
    }

    @Test
    void softwareInterruptFromCpl3ChecksTheGateDpl() {
        TestMachine denied = lm64(RING3_64 + "lea rsi, [rip + 1f]\n1: int 0x10\n hlt");
        expectStub(denied, EXC_GP);
        assertEquals(0x10 * 8 + 2, stack64(denied, 0), "error code: IDT index, IDT bit, EXT clear");
        assertEquals(denied.reg(RSI), stack64(denied, 8), "the fault is reported at the INT instruction");

        TestMachine int3 = lm64(RING3_64 + "int3\n hlt");
        expectStub(int3, EXC_GP);
        assertEquals(EXC_BP * 8 + 2, stack64(int3, 0));

        TestMachine allowed = lm64(RING3_64 + "lea rsi, [rip + 1f]\n int 0x80\n1: hlt");
        allowed.memory.write(0x9000, new byte[] {(byte) 0xB0, (byte) 0x80, (byte) 0xE6, (byte) 0x80, (byte) 0xF4});
        setIdt64(allowed, 0x80, 0x9000, 0xEE, 0);
        assertEquals(0x80, runToStub(allowed, 1000));
        assertEquals(allowed.reg(RSI), stack64(allowed, 0));
        assertEquals(TestMachine.USER_CODE64, stack64(allowed, 8));
    }

    @Test
    void int1IgnoresTheGateDplAndSavesTheNextRip() {
        TestMachine m = lm64(RING3_64 + "lea rsi, [rip + 1f]\n int1\n1: hlt");
        expectStub(m, EXC_DB);
        assertEquals(TOP - 40, m.reg(RSP), "no error code");
        assertEquals(m.reg(RSI), stack64(m, 0));
        assertEquals(TestMachine.USER_CODE64, stack64(m, 8));

        TestMachine notPresent = lm64("int1\n hlt");
        notPresent.memory.writeU64(IDT + 16 * EXC_DB, notPresent.memory.readU64(IDT + 16 * EXC_DB) & ~(1L << 47));
        expectStub(notPresent, EXC_NP);
        assertEquals(EXC_DB * 8 + 2 + 1, stack64(notPresent, 0), "INT1 delivery faults with EXT set, unlike INT n");
    }

    @Test
    void nonCanonicalHandlerRaisesGp0() {
        TestMachine m = lm64("int3\n hlt");
        setIdt64(m, EXC_BP, 0x8000_0000_0000L, 0x8E, 0);
        expectStub(m, EXC_GP);
        assertEquals(0, stack64(m, 0));
    }

    // ---- double and triple faults ----

    /** #PF whose delivery pushes onto an unmapped stack: a #PF while delivering #PF is a #DF. */
    private static TestMachine pageFaultOnUnmappedStack(int doubleFaultIst) {
        TestMachine m = lm64("""
                mov rsp, 0x71000
                lea rsi, [rip + 1f]
            1:  mov rax, [0x1F0000]
                hlt
            """);
        setPte(m, 0x1F_0000, 0);
        setPte(m, 0x7_0000, 0);
        setIdt64(m, EXC_DF, STUBS + 8 * EXC_DF, 0x8E, doubleFaultIst);
        m.memory.writeU64(TestMachine.TSS + 0x24, 0x6_0000);
        return m;
    }

    @Test
    void pageFaultWhileDeliveringAPageFaultIsADoubleFault() {
        TestMachine m = pageFaultOnUnmappedStack(1);
        expectStub(m, EXC_DF);
        assertEquals(0x6_0000 - 48, m.reg(RSP));
        assertEquals(0, stack64(m, 0), "#DF error code is 0");
        assertEquals(0x71000, stack64(m, 32));
        assertEquals(0x70FF8, m.cpu.cr2, "CR2 from the page fault during delivery");
    }

    @Test
    void faultWhileDeliveringADoubleFaultIsATripleFault() {
        TestMachine m = pageFaultOnUnmappedStack(0);
        Exit e = m.run(10_000);
        assertInstanceOf(Exit.TripleFault.class, e);
        assertEquals(m.reg(RSI), m.cpu.rip, "the interrupted state is intact");
        assertEquals(0x71000, m.reg(RSP));
        assertEquals(TestMachine.CODE64_SEL, m.cpu.segSel[CS]);
        assertEquals(0, m.cpu.cpl);
    }

    @Test
    void contributoryFaultWhileDeliveringAContributoryFaultIsADoubleFault() {
        TestMachine m = lm64("mov ax, 0x200\n mov ds, ax\n hlt");
        m.memory.writeU64(IDT + 16 * EXC_GP, m.memory.readU64(IDT + 16 * EXC_GP) & ~(1L << 47));
        expectStub(m, EXC_DF);
        assertEquals(0, stack64(m, 0));
    }

    @Test
    void faultWhileDeliveringABenignExceptionIsDeliveredSerially() {
        TestMachine m = lm64("ud2");
        m.memory.writeU64(IDT + 16 * EXC_UD, m.memory.readU64(IDT + 16 * EXC_UD) & ~(1L << 47));
        expectStub(m, EXC_NP);
        assertEquals(EXC_UD * 8 + 2 + 1, stack64(m, 0), "IDT index, IDT bit and EXT");
    }

    @Test
    void faultWhileDeliveringAnExternalInterruptIsDeliveredSerially() {
        // Vector 13 as an external interrupt is not a contributory exception.
        TestMachine m = lm64("1: jmp 1b");
        m.memory.writeU64(IDT + 16 * EXC_GP, m.memory.readU64(IDT + 16 * EXC_GP) & ~(1L << 47));
        m.cpu.setRflags(RFLAGS_FIXED1 | IF);
        m.cpu.injectInterrupt(EXC_GP);
        expectStub(m, EXC_NP);
        assertEquals(EXC_GP * 8 + 2 + 1, stack64(m, 0));

        TestMachine beyond = lm64("1: jmp 1b");
        beyond.cpu.setRflags(RFLAGS_FIXED1 | IF);
        beyond.cpu.injectInterrupt(0x40);
        expectStub(beyond, EXC_GP);
        assertEquals(0x40 * 8 + 2 + 1, stack64(beyond, 0), "vector beyond the IDT limit, EXT set");
    }

    // ---- NMI ----

    @Test
    void nmiIsBlockedUntilIret() {
        TestMachine m = lm64("""
                mov ecx, 100000
            1:  dec ecx
                jnz 1b
                hlt
            nmi:
                mov al, 2
                out 0x80, al
                inc r15
                iretq
            """);
        long nmiHandler = TestMachine.CODE + indexOf(m, new byte[] {(byte) 0xB0, 2, (byte) 0xE6, (byte) 0x80});
        setIdt64(m, EXC_NMI, nmiHandler, 0x8E, 0);
        Cpu c = m.cpu;
        c.injectNmi();
        Exit e = c.run(1000);
        assertEquals(new Exit.PortOut(0x80, 1, 2), e);
        assertTrue(c.nmiBlocked);
        c.injectNmi(); // arrives while the first handler runs
        c.completeWrite();
        e = c.run(1000);
        assertEquals(new Exit.PortOut(0x80, 1, 2), e, "the second NMI is delivered after the IRETQ");
        assertEquals(1, m.reg(R15), "first handler finished before the second started");
        c.completeWrite();
        assertEquals(Exit.HALT, m.run(1_000_000));
        assertEquals(2, m.reg(R15));
        assertFalse(c.nmiBlocked);
    }

    private static int indexOf(TestMachine m, byte[] pattern) {
        for (int k = 0; k < 4096; k++) {
            boolean match = true;
            for (int j = 0; j < pattern.length && match; j++) {
                match = (byte) m.memory.readU8(TestMachine.CODE + k + j) == pattern[j];
            }
            if (match) return k;
        }
        throw new AssertionError("pattern not found");
    }

    // ---- legacy protected mode ----

    @Test
    void legacyFaultAtCpl3SwitchesToSs0Esp0() {
        TestMachine m = pm32(RING3_32 + """
                mov esp, 0x6FFF0
                mov esi, offset 1f
            1:  hlt
            """);
        expectStub(m, EXC_GP);
        assertEquals(KERNEL_STACK - 24, m.reg(RSP));
        assertEquals(DATA32, m.cpu.segSel[SS]);
        assertEquals(0, stack32(m, 0));
        assertEquals(m.reg(RSI), stack32(m, 4));
        assertEquals(USER_CODE32, stack32(m, 8));
        assertEquals(0x6FFF0, stack32(m, 16));
        assertEquals(USER_DATA32, stack32(m, 20));
    }

    @Test
    void sixteenBitInterruptGatePushesWords() {
        TestMachine m = pm32("mov esi, offset 1f\n int3\n1: hlt");
        setIdt32(m, EXC_BP, STUBS + 8 * EXC_BP, CODE32, 0x86);
        expectStub(m, EXC_BP);
        assertEquals(KERNEL_STACK - 6, m.reg(RSP));
        assertEquals(m.reg(RSI) & 0xFFFF, m.memory.readU16(KERNEL_STACK - 6));
        assertEquals(CODE32, m.memory.readU16(KERNEL_STACK - 4));
        assertEquals(0, m.cpu.rflags & IF);
    }

    @Test
    void conformingHandlerRunsAtTheCurrentPrivilegeOnTheCurrentStack() {
        TestMachine m = pm32(RING3_32 + "int 0x21\n hlt");
        setGdt(m, FREE_SLOT, segment(0, 0xFFFFF, 0x9E, 0xC));
        // Handler: record CS and ESP, then spin.
        m.memory.write(0x9000, new byte[] {(byte) 0x8C, (byte) 0xCB, (byte) 0x89, (byte) 0xE1, (byte) 0xEB, (byte) 0xFE});
        setIdt32(m, 0x21, 0x9000, FREE_SLOT, 0xEE);
        assertEquals(Exit.BUDGET_EXHAUSTED, m.run(50));
        assertEquals(FREE_SLOT | 3, m.reg(RBX) & 0xFFFF, "CS.RPL is the unchanged CPL 3");
        assertEquals(USER_STACK - 12, m.reg(RCX));
        assertEquals(3, m.cpu.cpl);
    }

    @Test
    void invalidTssStackSegmentRaisesTs() {
        TestMachine m = pm32(RING3_32 + "int 0x21\n hlt");
        m.memory.writeU32(TSS + 8, USER_DATA32); // SS0 with RPL 3
        setIdt32(m, 0x21, STUBS, CODE32, 0xEE);
        // #TS goes to a conforming handler, which runs at CPL 3 without a stack switch: mov ebx, [esp]; spin.
        setGdt(m, FREE_SLOT, segment(0, 0xFFFFF, 0x9E, 0xC));
        m.memory.write(0x9000, new byte[] {(byte) 0x8B, 0x1C, 0x24, (byte) 0xEB, (byte) 0xFE});
        setIdt32(m, EXC_TS, 0x9000, FREE_SLOT, 0x8E);
        assertEquals(Exit.BUDGET_EXHAUSTED, m.run(50));
        assertEquals(USER_DATA32 & 0xFFFC, m.reg(RBX), "#TS(SS selector), EXT clear for INT n");
        assertEquals(USER_STACK - 16, m.reg(RSP), "the INT left the user stack untouched");
    }

    @Test
    void legacyTaskGateIsRefused() {
        TestMachine m = pm32("int 0x05\n hlt");
        setIdt32(m, 5, 0, TSS32_SEL, 0x85);
        expectStub(m, EXC_GP);
        assertEquals(5 * 8 + 2, stack32(m, 0));
    }

    // ---- real mode ----

    @Test
    void realModeIvtDelivery() {
        TestMachine m = new TestMachine(2 << 20);
        byte[] code = Asm.assemble("""
                .intel_syntax noprefix
                    xor ax, ax
                    mov ds, ax
                    mov ss, ax
                    mov sp, 0x7000
                    mov word ptr [0x21 * 4], offset handler
                    mov word ptr [0x21 * 4 + 2], 0
                    mov word ptr [13 * 4], offset gp
                    mov word ptr [13 * 4 + 2], 0
                    stc
                    int 0x21
                after:
                    mov di, offset fault
                fault:
                    mov bx, [0xFFFF]
                    hlt
                handler:
                    mov bp, sp
                    mov ax, [bp]
                    mov cx, [bp + 2]
                    mov dx, [bp + 4]
                    iret
                gp:
                    mov bp, sp
                    mov si, [bp]
                    hlt
                """, 16, 0x7C00);
        m.memory.write(0x7C00, code);
        Segmentation.loadRealModeSegment(m.cpu, CS, 0);
        m.cpu.rip = 0x7C00;
        assertEquals(Exit.HALT, m.run(1000));
        long after = m.reg(RDI) - 3; // "mov di, imm16" is 3 bytes
        assertEquals(after, m.reg(RAX) & 0xFFFF, "IP of the next instruction");
        assertEquals(0, m.reg(RCX) & 0xFFFF, "CS");
        assertEquals(CF, m.reg(RDX) & CF, "FLAGS image");
        assertEquals(m.reg(RDI) & 0xFFFF, m.reg(RSI) & 0xFFFF, "#GP in real mode: IVT entry 13, IP of the fault");
        assertEquals(0x7000 - 6, m.reg(RSP) & 0xFFFF, "a 16-bit frame without error code");
    }
}
