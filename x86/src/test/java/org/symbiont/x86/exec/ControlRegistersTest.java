package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.decode.Decoder;

class ControlRegistersTest {

    @Test
    void cr0ReadWriteKeepsEtAndIgnoresReservedLowBits() {
        try (TestMachine m = longMode("""
                mov rax, cr0
                mov rbx, rax
                and eax, ~(1 << 16)        # clear WP
                and eax, ~(1 << 4)         # try to clear ET
                or eax, 1 << 8             # reserved bit: ignored
                mov cr0, rax
                mov rcx, cr0
                hlt
                """)) {
            runToHalt(m);
            long before = m.reg(RBX);
            assertEquals(before & ~CR0_WP, m.reg(RCX));
            assertEquals(m.cpu.cr0, m.reg(RCX));
            assertTrue((m.reg(RCX) & CR0_ET) != 0);
        }
    }

    @Test
    void cr0InvalidCombinationsFault() {
        String[] bad = {
            "mov rax, cr0\n and rax, -2\n mov cr0, rax",                            // PG without PE
            "mov rax, cr0\n and eax, ~(1 << 30)\n or eax, 1 << 29\n mov cr0, rax", // NW without CD
            "mov rax, cr0\n and eax, 0x7FFFFFFF\n mov cr0, rax",                    // clearing PG in 64-bit mode
            "mov rax, cr0\n mov rbx, 0x100000000\n or rax, rbx\n mov cr0, rax",    // upper half reserved
        };
        for (String s : bad) {
            try (TestMachine m = longMode(s + "\n hlt")) {
                runToFault(m, EXC_GP);
                assertEquals(0, errorCode(m), s);
                assertTrue((m.cpu.cr0 & CR0_PG) != 0 && (m.cpu.efer & EFER_LMA) != 0, "state unchanged: " + s);
            }
        }
    }

    @Test
    void nonexistentControlRegistersAreUndefined() {
        // mov rax, cr1 (0F 20 C8), mov cr5, rax (0F 22 E8), mov rax, cr9 (44 0F 20 C8)
        String[] bad = {".byte 0x0f, 0x20, 0xc8", ".byte 0x0f, 0x22, 0xe8", ".byte 0x44, 0x0f, 0x20, 0xc8"};
        for (String s : bad) {
            try (TestMachine m = longMode(s + "\n hlt")) {
                runToFault(m, EXC_UD);
                assertEquals(TestMachine.CODE, faultRip(m));
            }
        }
    }

    @Test
    void modFieldIsIgnored() {
        // 0F 20 18 would be "[rax]" with a memory ModRM; MOV CR treats it as mov rax, cr3.
        try (TestMachine m = longMode(".byte 0x0f, 0x20, 0x18\n hlt")) {
            runToHalt(m);
            assertEquals(TestMachine.PML4, m.reg(RAX));
        }
    }

    @Test
    void cr8IsTheTaskPriority() {
        try (TestMachine m = longMode("""
                mov eax, 9
                mov cr8, rax
                mov rbx, cr8
                mov eax, 0x10
                mov cr8, rax
                hlt
                """)) {
            runToFault(m, EXC_GP);
            assertEquals(9, m.reg(RBX));
            assertEquals(9, m.cpu.cr8);
        }
    }

    @Test
    void controlRegistersNeedCpl0() {
        try (TestMachine m = longMode("mov rax, cr0\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
            assertEquals(0, errorCode(m));
        }
    }

    @Test
    void cr4RejectsUnsupportedBitsAndClearingPaeInLongMode() {
        int[] bits = {0, 1, 11, 12, 13, 14, 22, 23, 32};   // VME, PVI, UMIP, LA57, VMXE, SMXE, PKE, CET, upper half
        for (int bit : bits) {
            try (TestMachine m = longMode("mov rax, cr4\n mov rbx, " + (1L << bit) + "\n or rax, rbx\n mov cr4, rax\n hlt")) {
                runToFault(m, EXC_GP);
                assertEquals(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_PGE, m.cpu.cr4, "bit " + bit);
            }
        }
        try (TestMachine m = longMode("mov rax, cr4\n and rax, -33\n mov cr4, rax\n hlt")) {
            runToFault(m, EXC_GP);
        }
        try (TestMachine m = longMode("""
                mov rax, cr4
                or eax, (1 << 16) | (1 << 18) | (1 << 2) | (1 << 3)
                mov cr4, rax
                mov rbx, cr4
                hlt
                """)) {
            runToHalt(m);
            assertEquals(m.cpu.cr4, m.reg(RBX));
            long set = CR4_FSGSBASE | CR4_OSXSAVE | CR4_TSD | CR4_DE;
            assertEquals(set, m.reg(RBX) & set);
        }
    }

    @Test
    void pcideRules() {
        // CR3 with a nonzero PCID field: enabling PCIDE faults.
        try (TestMachine m = longMode("""
                mov rax, cr3
                or eax, 5
                mov cr3, rax
                mov rax, cr4
                or eax, 1 << 17
                mov cr4, rax
                hlt
                """)) {
            runToFault(m, EXC_GP);
            assertEquals(0, m.cpu.cr4 & CR4_PCIDE);
        }
        // With CR3[11:0] = 0 it works; then a CR3 write with bit 63 (no flush) and a PCID is
        // accepted and bit 63 is not stored; clearing PG with PCIDE would fault.
        try (TestMachine m = longMode("""
                mov rax, cr4
                or eax, 1 << 17
                mov cr4, rax
                mov rax, cr3
                or rax, 7
                mov rbx, 0x8000000000000000
                or rax, rbx
                mov cr3, rax
                mov rbx, cr3
                mov qword ptr [0x200000], 42
                mov rcx, [0x200000]
                hlt
                """)) {
            runToHalt(m);
            assertEquals(TestMachine.PML4 | 7, m.reg(RBX));
            assertEquals(42, m.reg(RCX));
        }
    }

    @Test
    void cr3ReservedBitsFault() {
        try (TestMachine m = longMode("mov rax, cr3\n mov rbx, 0x10000000000\n or rax, rbx\n mov cr3, rax\n hlt")) {
            runToFault(m, EXC_GP);
            assertEquals(TestMachine.PML4, m.cpu.cr3);
        }
    }

    @Test
    void lmswSetsButNeverClearsPeAndSmswReads() {
        try (TestMachine m = longMode("""
                mov rax, cr0
                mov ebx, eax
                and ebx, 0xFFF0
                or ebx, 0x8              # TS on, PE off requested
                lmsw bx
                smsw rcx
                smsw word ptr [0x90000]
                clts
                mov rdx, cr0
                hlt
                """)) {
            runToHalt(m);
            assertEquals(1, m.reg(RCX) & CR0_PE, "PE cannot be cleared");
            assertEquals(CR0_TS, m.reg(RCX) & CR0_TS);
            assertEquals(m.reg(RCX) & 0xFFFF, m.memory.readU16(0x90000));
            assertEquals(0, m.reg(RDX) & CR0_TS, "CLTS");
        }
    }

    @Test
    void longModeActivationAndDeactivationFromProtectedMode() {
        try (TestMachine m = protectedMode("""
                mov eax, cr4
                or eax, 1 << 5           # PAE
                mov cr4, eax
                mov ecx, 0xC0000080
                rdmsr
                or eax, 1 << 8           # LME
                wrmsr
                mov eax, 0x2000
                mov cr3, eax
                mov eax, cr0
                or eax, 0x80000000       # PG: activates IA-32e mode (compatibility mode, CS.L = 0)
                mov cr0, eax
                mov ecx, 0xC0000080
                rdmsr
                mov esi, eax             # EFER with LMA
                mov eax, cr0
                and eax, 0x7FFFFFFF      # leaving IA-32e mode from compatibility mode
                mov cr0, eax
                mov ecx, 0xC0000080
                rdmsr
                mov edi, eax
                mov eax, cr4
                and eax, ~(1 << 5)       # PAE off, LME still on
                mov cr4, eax
                mov eax, cr0
                or eax, 0x80000000       # PG with LME and no PAE: #GP
                mov cr0, eax
                hlt
                """)) {
            runToFault(m, EXC_GP);
            assertEquals(EFER_LME | EFER_LMA, m.reg(RSI) & (EFER_LME | EFER_LMA));
            assertEquals(EFER_LME, m.reg(RDI) & (EFER_LME | EFER_LMA));
            assertEquals(0, m.cpu.cr0 & CR0_PG);
            assertEquals(Decoder.CODE32, m.cpu.codeMode);
        }
    }

    @Test
    void compatibilityModeIsActiveAfterEnablingPaging() {
        try (TestMachine m = protectedMode("""
                mov eax, cr4
                or eax, 1 << 5
                mov cr4, eax
                mov ecx, 0xC0000080
                rdmsr
                or eax, 1 << 8
                wrmsr
                mov eax, 0x2000
                mov cr3, eax
                mov eax, cr0
                or eax, 0x80000000
                mov cr0, eax
                hlt
                """)) {
            runToHalt(m);
            assertTrue((m.cpu.efer & EFER_LMA) != 0);
            assertEquals(Decoder.CODE32, m.cpu.codeMode, "compatibility mode until a far jump loads a 64-bit CS");
        }
    }

    @Test
    void debugRegisters() {
        try (TestMachine m = longMode("""
                mov rax, 0x123456789A
                mov dr0, rax
                mov rbx, dr0
                xor eax, eax
                mov dr6, rax
                mov rcx, dr6
                mov eax, 0xFFFFDFFF      # all but GD
                mov dr7, rax
                mov rdx, dr7
                mov eax, 0x400
                mov dr7, rax
                mov rsi, dr4             # alias of DR6 while CR4.DE = 0
                hlt
                """)) {
            runToHalt(m);
            assertEquals(0x123456789AL, m.reg(RBX));
            assertEquals(0xFFFF0FF0L, m.reg(RCX));
            assertEquals(0xFFFF03FFL | 0x400, m.reg(RDX));
            assertEquals(0xFFFF0FF0L, m.reg(RSI));
        }
        try (TestMachine m = longMode("mov rax, cr4\n or eax, 8\n mov cr4, rax\n mov rax, dr5\n hlt")) {
            runToFault(m, EXC_UD);
        }
        try (TestMachine m = longMode("mov rax, 0x100000400\n mov dr7, rax\n hlt")) {
            runToFault(m, EXC_GP);
        }
        try (TestMachine m = longMode("mov rax, dr0\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
    }

    @Test
    void generalDetectRaisesDebugException() {
        try (TestMachine m = longMode("""
                mov eax, 0x2400          # GD
                mov dr7, rax
                mov rbx, dr0
                hlt
                """)) {
            runToFault(m, EXC_DB);
            assertEquals(TestMachine.CODE + 8, faultRip(m), "fault at the MOV DR that hit GD");
            assertEquals(1L << 13, m.cpu.dr[6] & (1L << 13), "DR6.BD");
            assertEquals(0, m.cpu.dr[7] & (1L << 13), "GD cleared for the handler");
        }
    }
}
