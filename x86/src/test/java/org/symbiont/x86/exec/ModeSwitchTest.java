package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.SystemTables.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.decode.Decoder;

/**
 * Mode switches as firmware and kernels perform them: real mode to protected mode to long mode
 * in one program (from 0000:7C00 and as an AP-startup trampoline at 9000:0000), and transfers
 * between 64-bit and compatibility mode.

 */
class ModeSwitchTest {
    /**
     * Real mode to long mode. {@code base} is the linear address of offset 0 of the code
     * segment the program starts in (the program is linked at its offset in that segment).
     */
    private static String switchProgram(long base, String startSegment) {
        return """
            .intel_syntax noprefix
            .code16
                mov ax, %2$s
                mov ds, ax
                mov ss, ax
                mov sp, 0xF000
                lgdt [gdtr]
                mov eax, cr0
                or eax, 1
                mov cr0, eax
            .att_syntax
                ljmpl $0x08, $(pm32 + %1$d)
            .intel_syntax noprefix
            .code32
            pm32:
                mov ax, 0x10
                mov ds, ax
                mov es, ax
                mov ss, ax
                mov esp, 0x8F000
                mov al, 1
                out 0x80, al
                mov dword ptr [0x20000], 0x21003
                mov dword ptr [0x20004], 0
                mov dword ptr [0x21000], 0x22003
                mov dword ptr [0x21004], 0
                mov dword ptr [0x22000], 0x83
                mov dword ptr [0x22004], 0
                mov eax, cr4
                or eax, 0x20
                mov cr4, eax
                mov eax, 0x20000
                mov cr3, eax
                mov ecx, 0xC0000080
                rdmsr
                or eax, 0x100
                wrmsr
                mov eax, cr0
                or eax, 0x80000000
                mov cr0, eax
            .att_syntax
                ljmp $0x18, $(lm64 + %1$d)
            .intel_syntax noprefix
            .code64
            lm64:
                mov ax, 0x10
                mov ds, ax
                mov ss, ax
                mov rsp, 0x8F000
                push 0x2A
                pop rbx
                mov al, 2
                out 0x80, al
                mov rax, 0x123456789
                hlt
            .align 8
            gdt:
                .quad 0
                .quad 0x00CF9A000000FFFF
                .quad 0x00CF92000000FFFF
                .quad 0x00AF9A000000FFFF
            gdtr:
                .word 31
                .long gdt + %1$d
            """.formatted(base, startSegment);
    }

    /** Runs, recording what the program reports on port 0x80, until another exit. */
    private static Exit runRecording(TestMachine m, List<Long> reports) {
        Cpu c = m.cpu;
        for (int exits = 0; exits < 100; exits++) {
            Exit e = c.run(100_000);
            if (!(e instanceof Exit.PortOut o) || o.port() != 0x80) return e;
            reports.add(o.value());
            c.completeWrite();
        }
        throw new AssertionError("too many exits");
    }

    private static TestMachine realModeMachine(String program, long base, int segment, long origin) {
        TestMachine m = new TestMachine(4 << 20);
        m.memory.write(base + origin, Asm.assemble(program, 64, origin));
        Segmentation.loadRealModeSegment(m.cpu, CS, segment);
        m.cpu.rip = origin;
        return m;
    }

    private static void assertInLongMode(TestMachine m, List<Long> reports) {
        assertEquals(List.of(1L, 2L), reports);
        assertEquals(0x1_2345_6789L, m.reg(RAX));
        assertEquals(0x2A, m.reg(RBX));
        assertEquals(Decoder.CODE64, m.cpu.codeMode);
        assertEquals(0x18, m.cpu.segSel[CS]);
        assertEquals(0, m.cpu.cpl);
        assertNotEquals(0, m.cpu.efer & EFER_LMA);
        assertEquals(0x8F000, m.reg(RSP));
    }

    @Test
    void realToProtectedToLongMode() {
        TestMachine m = realModeMachine(switchProgram(0, "0"), 0, 0, 0x7C00);
        List<Long> reports = new ArrayList<>();
        assertEquals(Exit.HALT, runRecording(m, reports));
        assertInLongMode(m, reports);
    }

    @Test
    void apStartupTrampolineAt9000() {
        TestMachine m = realModeMachine(switchProgram(0x9_0000, "cs"), 0x9_0000, 0x9000, 0);
        List<Long> reports = new ArrayList<>();
        assertEquals(Exit.HALT, runRecording(m, reports));
        assertInLongMode(m, reports);
    }

    // ---- compatibility mode ----

    @Test
    void farCallReturnAndIretqBetween64BitAndCompatibilityMode() {
        TestMachine m = lm64("""
                lea rax, [rip + compat1]
                mov [0x5000], eax
                mov word ptr [0x5004], 0x18
                call fword ptr [0x5000]
                mov r8, 1
                mov rax, rsp
                push 0x10
                push rax
                pushfq
                push 0x18
                lea rcx, [rip + compat2]
                push rcx
                iretq
            back64:
                mov r9, 2
                hlt
            .code32
            compat1:
                mov ebx, cs
                mov esi, esp
                retf
            compat2:
                mov edx, cs
                mov edi, esp
            .att_syntax
                ljmp $0x08, $back64
            .intel_syntax noprefix
            .code64
            """);
        assertEquals(-1, runToStub(m, 1000));
        assertEquals(0x18, m.reg(RBX), "far call entered compatibility mode");
        assertEquals(TestMachine.STACK_TOP - 8, m.reg(RSI), "m16:32 far call pushed 32-bit CS and EIP");
        assertEquals(1, m.reg(R8), "32-bit RETF returned to 64-bit code");
        assertEquals(0x18, m.reg(RDX), "IRETQ entered compatibility mode");
        assertEquals(TestMachine.STACK_TOP, m.reg(RDI), "IRETQ popped SS:RSP");
        assertEquals(2, m.reg(R9), "far JMP from compatibility mode to 64-bit code");
        assertEquals(Decoder.CODE64, m.cpu.codeMode);
        assertEquals(TestMachine.STACK_TOP, m.reg(RSP));
    }

    @Test
    void iretqToCompatibilityModeChecksTheLimitNotCanonicality() {
        TestMachine m = lm64("""
                push 0x10
                push 0x70000
                push 2
                push 0x48
                mov eax, 0x2000
                push rax
                iretq
            """);
        setGdt(m, 0x48, segment(0, 0xFFF, 0x9A, 0x4));
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(0, stack64(m, 0), "EIP beyond the 32-bit code segment's limit");
    }

    @Test
    void interruptFromCompatibilityModeUsesA64BitStack() {
        // Linear 0x1_0000_0000 (above 4 GiB) -> physical 0x400000, through PDPT[4].
        TestMachine m = lm64("""
                lea rax, [rip + compat]
                mov [0x5000], eax
                mov word ptr [0x5004], 0x18
                jmp fword ptr [0x5000]
            .code32
            compat:
                mov esi, offset after
                int3
            after:
                hlt
            .code64
            """);
        m.memory.writeU64(0x9_8000, 0x40_0000L | 0x87);
        m.memory.writeU64(TestMachine.PDPT + 8 * 4, 0x9_8000L | 0x7);
        m.cpu.mmu.flushAll();
        setIdt64(m, EXC_BP, STUBS + 8 * EXC_BP, 0x8E, 1);
        m.memory.writeU64(TestMachine.TSS + 0x24, 0x1_0001_0000L);
        assertEquals(EXC_BP, runToStub(m, 100));
        assertEquals(0x1_0001_0000L - 40, m.reg(RSP));
        assertEquals(m.reg(RSI), m.memory.readU64(0x41_0000 - 40), "RIP in the frame above 4 GiB");
        assertEquals(0x18, m.memory.readU64(0x41_0000 - 32), "CS of the compatibility-mode code");
    }
}
