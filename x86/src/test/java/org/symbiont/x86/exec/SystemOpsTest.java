package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;

class SystemOpsTest {

    @Test
    void stiDelaysInterruptsByOneInstruction() {
        try (TestMachine m = longMode("""
                sti
                mov r14, 1
                mov r14, 2
                hlt
                .org 0x100
                mov r13, [rsp]
                hlt
                """)) {
            setGate64(m, 0x20, TestMachine.CODE + 0x100);
            m.cpu.injectInterrupt(0x20);
            runToHalt(m);
            assertEquals(1, m.reg(R14), "the instruction after STI runs before the interrupt");
            assertEquals(TestMachine.CODE + 8, m.reg(R13), "interrupt taken before the second MOV");
        }
    }

    @Test
    void cliAndStiFollowIopl() {
        try (TestMachine m = longMode("cli\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
        try (TestMachine m = longMode("sti\n cli\n mov ebx, 1\n hlt")) {
            enterUser(m);
            m.cpu.rflags |= IOPL;   // IOPL 3 lets CPL 3 change IF
            m.cpu.rflags &= ~1L;
            // HLT at CPL 3 is #GP: the flags were changed before it.
            runToFault(m, EXC_GP);
            assertEquals(1, m.reg(RBX));
            assertEquals(0, m.cpu.getRflags() & IF, "CLI cleared IF (the #GP handler's gate clears it too)");
        }
    }

    @Test
    void clacAndStacToggleAcAtCpl0Only() {
        try (TestMachine m = longMode("stac\n pushfq\n pop rbx\n clac\n pushfq\n pop rcx\n hlt")) {
            runToHalt(m);
            assertEquals(AC, m.reg(RBX) & AC);
            assertEquals(0, m.reg(RCX) & AC);
        }
        try (TestMachine m = longMode("stac\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_UD);
        }
    }

    @Test
    void swapgsIsPrivilegedAnd64BitOnly() {
        try (TestMachine m = longMode("swapgs\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
        try (TestMachine m = protectedMode(".byte 0x0f, 0x01, 0xf8\n hlt")) {
            runToFault(m, EXC_UD);
        }
    }

    @Test
    void hypercallExitsAndCompletes() {
        try (TestMachine m = longMode("mov eax, 0x77\n vmcall\n inc rcx\n vmmcall\n inc rcx\n hlt")) {
            Exit e = m.cpu.run(100);
            assertEquals(new Exit.Hypercall(0x77), e);
            m.cpu.gpr[RBX] = 99;
            m.cpu.completeHypercall();
            e = m.cpu.run(100);
            assertEquals(new Exit.Hypercall(0x77), e);
            assertEquals(1, m.reg(RCX));
            m.cpu.completeHypercall();
            runToHalt(m);
            assertEquals(99, m.reg(RBX));
            assertEquals(2, m.reg(RCX));
        }
    }

    @Test
    void xcr0() {
        try (TestMachine m = longMode("xor ecx, ecx\n xgetbv\n hlt")) {
            runToFault(m, EXC_UD);   // CR4.OSXSAVE clear
        }
        String enable = "mov rax, cr4\n or eax, 1 << 18\n mov cr4, rax\n xor ecx, ecx\n";
        try (TestMachine m = longMode(enable + "xgetbv\n mov esi, eax\n mov eax, 3\n xor edx, edx\n xsetbv\n xgetbv\n hlt")) {
            runToHalt(m);
            assertEquals(1, m.reg(RSI));
            assertEquals(3, m.reg(RAX));
            assertEquals(3, m.cpu.xcr0);
        }
        for (String bad : new String[] {"mov eax, 2\n xor edx, edx", "mov eax, 7\n xor edx, edx", "mov eax, 1\n mov edx, 1",
                                        "mov eax, 1\n xor edx, edx\n mov ecx, 1"}) {
            try (TestMachine m = longMode(enable + bad + "\n xsetbv\n hlt")) {
                runToFault(m, EXC_GP);
                assertEquals(1, m.cpu.xcr0, bad);
            }
        }
        try (TestMachine m = longMode(enable + "mov ecx, 1\n xgetbv\n hlt")) {
            runToFault(m, EXC_GP);
        }
        try (TestMachine m = longMode(enable + "mov eax, 1\n xor edx, edx\n xsetbv\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
    }

    private static final String XSAVE_PROGRAM = """
            mov rax, cr4
            or eax, 1 << 18
            mov cr4, rax
            mov eax, 3
            xor edx, edx
            xor ecx, ecx
            xsetbv
            mov rdi, 0x300000
            xsave [rdi]
            hlt
            xrstor [rdi]
            hlt
            """;

    @Test
    void xsaveAndXrstorRoundTrip() {
        try (TestMachine m = longMode(XSAVE_PROGRAM)) {
            var c = m.cpu;
            for (int k = 0; k < 32; k++) c.xmm[k] = 0x0101_0101_0101_0101L * (k + 1);
            c.mxcsr = 0x1F80 | 0x40;          // DAZ
            c.fpuControl = 0x027F;
            c.fpuStatus = 0x3800;             // TOP = 7
            c.fpuTagWord = 0x3FFF;            // R7 valid, others empty
            c.fpuLastOpcode = 0x123;
            c.fpuLastIp = 0xFFFF_8000_0012_3456L;
            c.fpuLastDp = 0x0000_7000_0065_4321L;
            byte[] one = {0, 0, 0, 0, 0, 0, 0, (byte) 0x80, (byte) 0xFF, 0x3F};   // 1.0 in ST0
            System.arraycopy(one, 0, c.fpuRegisters, 0, 10);
            m.memory.writeU64(0x300000 + 512, 0x4);   // a foreign XSTATE_BV bit is kept
            runToHalt(m);
            long a = 0x300000;
            assertEquals(0x027F, m.memory.readU16(a));
            assertEquals(0x3800, m.memory.readU16(a + 2));
            assertEquals(0x80, m.memory.readU8(a + 4), "abridged tag: R7 not empty");
            assertEquals(0x123, m.memory.readU16(a + 6));
            assertEquals(0x0012_3456L, m.memory.readU32(a + 8), "32-bit layout (no REX.W): FIP low half");
            assertEquals(0, m.memory.readU16(a + 12), "FCS");
            assertEquals(0x0065_4321L, m.memory.readU32(a + 16));
            assertEquals(0x1FC0, m.memory.readU32(a + 24));
            assertEquals(Sse.MXCSR_MASK, m.memory.readU32(a + 28));
            assertEquals(0x8000_0000_0000_0000L, m.memory.readU64(a + 32));
            assertEquals(0x3FFF, m.memory.readU16(a + 40));
            assertEquals(c.xmm[0], m.memory.readU64(a + 160));
            assertEquals(c.xmm[31], m.memory.readU64(a + 160 + 15 * 16 + 8));
            assertEquals(0x7, m.memory.readU64(a + 512), "XSTATE_BV");

            for (int k = 0; k < 32; k++) c.xmm[k] = 0;
            c.mxcsr = 0x1F80;
            c.fpuControl = 0x037F;
            c.fpuTagWord = 0xFFFF;
            java.util.Arrays.fill(c.fpuRegisters, (byte) 0);
            m.memory.writeU64(a + 512, 0x3);
            c.halted = false;
            runToHalt(m);
            assertEquals(0x0101_0101_0101_0101L, c.xmm[0]);
            assertEquals(0x2020_2020_2020_2020L, c.xmm[31]);
            assertEquals(0x1FC0, c.mxcsr);
            assertEquals(0x027F, c.fpuControl);
            assertEquals(0x3FFF, c.fpuTagWord, "R7 (= ST0 with TOP 7) valid, recomputed from its contents");
            assertEquals(0x0012_3456L, c.fpuLastIp);
            assertEquals((byte) 0x3F, c.fpuRegisters[9]);
        }
    }

    @Test
    void xrstorInitializesComponentsAbsentFromXstateBv() {
        try (TestMachine m = longMode(XSAVE_PROGRAM)) {
            var c = m.cpu;
            runToHalt(m);
            for (int k = 0; k < 32; k++) c.xmm[k] = -1;
            c.fpuControl = 0x0000;
            c.fpuTagWord = 0;
            m.memory.writeU64(0x300000 + 512, 0);         // both components in their initial state
            m.memory.writeU32(0x300000 + 24, 0x1F00);     // MXCSR is still loaded from memory
            c.halted = false;
            runToHalt(m);
            for (int k = 0; k < 32; k++) assertEquals(0, c.xmm[k]);
            assertEquals(0x037F, c.fpuControl);
            assertEquals(0xFFFF, c.fpuTagWord);
            assertEquals(0x1F00, c.mxcsr);
        }
    }

    @Test
    void xsave64UsesTheWideLayout() {
        try (TestMachine m = longMode(XSAVE_PROGRAM.replace("xsave [rdi]", "xsave64 [rdi]"))) {
            m.cpu.fpuLastIp = 0xFFFF_8000_0012_3456L;
            runToHalt(m);
            assertEquals(0xFFFF_8000_0012_3456L, m.memory.readU64(0x300008));
        }
    }

    @Test
    void xsaveFaults() {
        try (TestMachine m = longMode(XSAVE_PROGRAM.replace("mov rdi, 0x300000", "mov rdi, 0x300020"))) {
            runToFault(m, EXC_GP);   // not 64-byte aligned
        }
        try (TestMachine m = longMode(XSAVE_PROGRAM.replace("or eax, 1 << 18", "or eax, 0"))) {
            runToFault(m, EXC_UD);   // no CR4.OSXSAVE: already XSETBV faults
        }
        try (TestMachine m = longMode(XSAVE_PROGRAM.replace("mov rdi, 0x300000", "mov rdi, 0x300000\n clts\n mov rax, cr0\n or eax, 8\n mov cr0, rax"))) {
            runToFault(m, EXC_NM);
        }
        // XRSTOR: XSTATE_BV outside XCR0, XCOMP_BV set, reserved MXCSR bits.
        long[][] corrupt = {{512, 0x4}, {520, 1L << 63}, {24, 0x10000}};
        for (long[] k : corrupt) {
            try (TestMachine m = longMode(XSAVE_PROGRAM)) {
                runToHalt(m);
                m.memory.writeU64(0x300000 + k[0], k[1] | (k[0] == 24 ? 0xFFFFL << 32 : 0));
                m.cpu.xmm[0] = 5;
                m.cpu.halted = false;
                runToFault(m, EXC_GP);
                assertEquals(5, m.cpu.xmm[0], "no state changed");
            }
        }
    }

    @Test
    void fsGsBaseInstructions() {
        try (TestMachine m = longMode("rdfsbase rax\n hlt")) {
            runToFault(m, EXC_UD);
        }
        try (TestMachine m = longMode("""
                mov rax, cr4
                or eax, 1 << 16
                mov cr4, rax
                mov rax, 0x300000
                wrfsbase rax
                mov qword ptr [0x300008], 77
                mov rbx, fs:[8]
                rdfsbase rcx
                mov rax, 0x123456789
                wrgsbase rax
                rdgsbase edx
                mov rax, 0x800000000000
                wrfsbase rax
                hlt
                """)) {
            runToFault(m, EXC_GP);
            assertEquals(77, m.reg(RBX));
            assertEquals(0x300000, m.reg(RCX));
            assertEquals(0x23456789, m.reg(RDX));
            assertEquals(0x123456789L, m.cpu.segBase[GS]);
            assertEquals(0x300000, m.cpu.segBase[FS]);
        }
    }

    @Test
    void cacheAndFenceInstructions() {
        try (TestMachine m = longMode("""
                lfence
                mfence
                sfence
                clflush [0x200000]
                clflushopt [0x200000]
                wbinvd
                invd
                mov rax, 0x100000000
                clflush [rax]
                hlt
                """)) {
            runToFault(m, EXC_PF);
            assertEquals(0, errorCode(m), "not-present read");
            assertEquals(0x1_0000_0000L, m.cpu.cr2);
        }
        try (TestMachine m = longMode("wbinvd\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
    }

    @Test
    void undefinedOpcodesRaiseUdWithTheirLengths() {
        int[][] encodings = {{0x0F, 0x0B}, {0x0F, 0xB9, 0x04, 0x24}, {0x0F, 0xFF, 0x80, 1, 2, 3, 4}, {0x0F, 0xB9, 0xC0}};
        int[] lengths = {2, 4, 7, 3};
        for (int k = 0; k < encodings.length; k++) {
            int[] bytes = encodings[k];
            Insn in = new Insn();
            int len = Decoder.decode(Families.TABLE, Decoder.CODE64, rip -> rip < bytes.length ? bytes[(int) rip] : 0x90, 0, in);
            assertEquals(lengths[k], len);
            StringBuilder src = new StringBuilder(".byte ");
            for (int b = 0; b < bytes.length; b++) src.append(b == 0 ? "" : ",").append(bytes[b]);
            try (TestMachine m = longMode(src + "\n hlt")) {
                runToFault(m, EXC_UD);
                assertEquals(TestMachine.CODE, faultRip(m));
            }
        }
    }

    @Test
    void rdtscRespectsTsdAndRdpmcIsNotModelled() {
        try (TestMachine m = longMode("rdtsc\n mov rbx, rax\n hlt")) {
            enterUser(m);
            m.cpu.tscOffset = 5000;
            runToFault(m, EXC_GP);   // HLT at CPL 3
            assertEquals(5000, m.reg(RBX));
        }
        try (TestMachine m = longMode("rdtsc\n hlt")) {
            m.cpu.cr4 |= CR4_TSD;
            enterUser(m);
            runToFault(m, EXC_GP);
            assertEquals(TestMachine.CODE, faultRipWithError(m));
        }
        try (TestMachine m = longMode("xor ecx, ecx\n rdpmc\n hlt")) {
            runToFault(m, EXC_GP);
        }
    }

    @Test
    void hltNeedsCpl0() {
        try (TestMachine m = longMode("hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
    }
}
