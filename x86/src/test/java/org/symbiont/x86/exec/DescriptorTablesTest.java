package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;

class DescriptorTablesTest {
    static final long LDT = 0x20000, NEW_TSS = 0x21000;
    static final int LDT_SEL = 0x40, TSS64_SEL = 0x50, ABSENT_TSS_SEL = 0x60, TSS16_SEL = 0x70, BAD_LDT_SEL = 0x80;

    /** Adds system descriptors to the TestMachine's GDT and a data descriptor at LDT index 1. */
    private static TestMachine withSystemDescriptors(TestMachine m) {
        long gdt = TestMachine.GDT;
        m.memory.writeU64(gdt + LDT_SEL, systemDescriptor(LDT, 0xF, 2, true));
        m.memory.writeU64(gdt + LDT_SEL + 8, 0);
        m.memory.writeU64(gdt + TSS64_SEL, systemDescriptor(NEW_TSS, 0x67, 9, true));
        m.memory.writeU64(gdt + TSS64_SEL + 8, 0);
        m.memory.writeU64(gdt + ABSENT_TSS_SEL, systemDescriptor(NEW_TSS, 0x67, 9, false));
        m.memory.writeU64(gdt + ABSENT_TSS_SEL + 8, 0);
        m.memory.writeU64(gdt + TSS16_SEL, systemDescriptor(NEW_TSS, 0x2B, 1, true));
        m.memory.writeU64(gdt + TSS16_SEL + 8, 0);
        m.memory.writeU64(gdt + BAD_LDT_SEL, systemDescriptor(LDT, 0xF, 2, true));
        m.memory.writeU64(gdt + BAD_LDT_SEL + 8, 0x8000);   // base bits 63:32 = 0x8000: not canonical
        m.cpu.gdtLimit = BAD_LDT_SEL + 15;
        m.memory.writeU64(LDT + 8, 0x00CF_F200_0000_FFFFL);  // LDT index 1: data, DPL 3
        return m;
    }

    @Test
    void storeAndLoadTableRegisters() {
        try (TestMachine m = longMode("""
                sgdt [0x90000]
                sidt [0x90010]
                mov word ptr [0x90020], 0x7F
                mov rax, 0xFFFF800012345678
                mov [0x90022], rax
                lidt [0x90020]
                sidt [0x90030]
                lidt [0x90010]
                hlt
                """)) {
            runToHalt(m);
            assertEquals(8 * 8 - 1, m.memory.readU16(0x90000));
            assertEquals(TestMachine.GDT, m.memory.readU64(0x90002));
            assertEquals(16 * 32 - 1, m.memory.readU16(0x90010));
            assertEquals(TestMachine.IDT, m.memory.readU64(0x90012));
            assertEquals(0x7F, m.memory.readU16(0x90030));
            assertEquals(0xFFFF_8000_1234_5678L, m.memory.readU64(0x90032));
            assertEquals(TestMachine.IDT, m.cpu.idtBase);
        }
    }

    @Test
    void sixteenBitLgdtLoadsA24BitBaseAndSgdtStoresFourBytes() {
        try (TestMachine m = protectedMode("""
                mov word ptr [0x90000], 0x1234
                mov dword ptr [0x90002], 0xAB345678
                .byte 0x66
                lgdt [0x90000]
                mov dword ptr [0x90010], 0xFFFFFFFF
                mov dword ptr [0x90014], 0xFFFFFFFF
                sgdt [0x90010]
                hlt
                """)) {
            runToHalt(m);
            assertEquals(0x34_5678L, m.cpu.gdtBase);
            assertEquals(0x1234, m.cpu.gdtLimit);
            assertEquals(0x0034_5678_1234L, m.memory.readU64(0x90010) & 0xFFFF_FFFF_FFFFL);
            assertEquals(0xFFFF, m.memory.readU16(0x90016), "only 6 bytes stored");
        }
    }

    @Test
    void lgdtNeedsCpl0() {
        try (TestMachine m = longMode("lgdt [0x90000]\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
    }

    @Test
    void lldtAndLtrLoadSixteenByteDescriptors() {
        try (TestMachine m = withSystemDescriptors(longMode("""
                mov ax, 0x40
                lldt ax
                sldt rbx
                mov ax, 0x50
                ltr ax
                str ecx
                mov dx, 0x0F              # LDT index 1, RPL 3
                lsl esi, dx
                verr dx
                setz r8b
                hlt
                """))) {
            runToHalt(m);
            var c = m.cpu;
            assertEquals(LDT_SEL, m.reg(RBX));
            assertEquals(LDT, c.segBase[LDTR]);
            assertEquals(0xF, c.segLimit[LDTR]);
            assertEquals(TSS64_SEL, m.reg(RCX));
            assertEquals(NEW_TSS, c.segBase[TR]);
            assertEquals(0x67, c.segLimit[TR]);
            assertEquals(0x8B, c.segAttr[TR] & 0xFF, "busy 64-bit TSS in the cache");
            assertEquals(0x8B, m.memory.readU8(TestMachine.GDT + TSS64_SEL + 5), "marked busy in the GDT");
            assertEquals(0xFFFF_FFFFL, m.reg(RSI), "LSL through the new LDT");
            assertEquals(1, m.reg(R8) & 0xFF);
        }
    }

    @Test
    void lldtAndLtrFaults() {
        Object[][] cases = {
            {"mov ax, 0x50\n ltr ax\n ltr ax", EXC_GP, (long) TSS64_SEL},     // already busy
            {"xor eax, eax\n ltr ax", EXC_GP, 0L},                            // null selector
            {"mov ax, 0x60\n ltr ax", EXC_NP, (long) ABSENT_TSS_SEL},
            {"mov ax, 0x70\n ltr ax", EXC_GP, (long) TSS16_SEL},             // 16-bit TSS in IA-32e mode
            {"mov ax, 0x54\n ltr ax", EXC_GP, 0x54L},                        // TI = 1
            {"mov ax, 0x10\n lldt ax", EXC_GP, 0x10L},                       // not an LDT
            {"mov ax, 0x50\n lldt ax", EXC_GP, (long) TSS64_SEL},
            {"mov ax, 0x80\n lldt ax", EXC_GP, (long) BAD_LDT_SEL},          // non-canonical base
            {"mov ax, 0x1F8\n lldt ax", EXC_GP, 0x1F8L},                     // beyond the GDT limit
        };
        for (Object[] k : cases) {
            try (TestMachine m = withSystemDescriptors(longMode(k[0] + "\n hlt"))) {
                runToFault(m, (Integer) k[1]);
                assertEquals((long) k[2], errorCode(m), (String) k[0]);
            }
        }
        try (TestMachine m = withSystemDescriptors(longMode("mov ax, 0x50\n ltr ax\n hlt"))) {
            enterUser(m);
            runToFault(m, EXC_GP);
            assertEquals(0x89, m.memory.readU8(TestMachine.GDT + TSS64_SEL + 5), "not marked busy");
        }
        try (TestMachine m = withSystemDescriptors(longMode("xor eax, eax\n lldt ax\n hlt"))) {
            runToHalt(m);
            assertTrue((m.cpu.segAttr[LDTR] & Segmentation.AR_UNUSABLE) != 0, "null LDT selector");
        }
    }

    @Test
    void verrAndVerw() {
        try (TestMachine m = withSystemDescriptors(longMode("""
                mov ax, 0x08
                verr ax
                setz r8b
                verw ax
                setz r9b
                mov ax, 0x10
                verr ax
                setz r10b
                verw ax
                setz r11b
                xor eax, eax
                verr ax
                setz r12b
                mov ax, 0x1F8
                verr ax
                setz r13b
                mov ax, 0x50
                verr ax
                setz r14b
                hlt
                """))) {
            runToHalt(m);
            assertEquals(1, m.reg(R8) & 0xFF, "readable code");
            assertEquals(0, m.reg(R9) & 0xFF, "code is never writable");
            assertEquals(1, m.reg(R10) & 0xFF);
            assertEquals(1, m.reg(R11) & 0xFF);
            assertEquals(0, m.reg(R12) & 0xFF, "null");
            assertEquals(0, m.reg(R13) & 0xFF, "beyond the limit");
            assertEquals(0, m.reg(R14) & 0xFF, "system descriptor");
        }
        try (TestMachine m = longMode("""
                mov ax, 0x10
                verr ax
                setz r8b
                mov ax, 0x23
                verw ax
                setz r9b
                mov ax, 0x08
                verr ax
                setz r10b
                hlt
                """)) {
            enterUser(m);
            runToFault(m, EXC_GP);   // the HLT
            assertEquals(0, m.reg(R8) & 0xFF, "DPL 0 data from CPL 3");
            assertEquals(1, m.reg(R9) & 0xFF);
            assertEquals(0, m.reg(R10) & 0xFF, "DPL 0 non-conforming code from CPL 3");
        }
    }

    @Test
    void larAndLsl() {
        try (TestMachine m = withSystemDescriptors(longMode("""
                mov rbx, -1
                mov rcx, -1
                mov rdx, -1
                mov rsi, -1
                mov rdi, -1
                mov ax, 0x10
                lar rbx, ax
                lsl rcx, ax
                mov ax, 0x08
                lar dx, ax
                mov ax, 0x30
                lsl esi, ax
                lar r8, ax
                setz r9b
                mov ax, 0x70
                lar rdi, ax
                setz r10b
                hlt
                """))) {
            runToHalt(m);
            assertEquals(0x00CF_9200L, m.reg(RBX));
            assertEquals(0xFFFF_FFFFL, m.reg(RCX));
            assertEquals(0xFFFF_FFFF_FFFF_9A00L, m.reg(RDX), "16-bit LAR leaves the upper bits");
            assertEquals(0x67, m.reg(RSI), "LSL of the 64-bit TSS");
            assertEquals(0x8900, m.reg(R8), "LAR of the 64-bit TSS");
            assertEquals(1, m.reg(R9) & 0xFF);
            assertEquals(-1L, m.reg(RDI), "16-bit TSS is not valid in IA-32e mode: destination unchanged");
            assertEquals(0, m.reg(R10) & 0xFF);
        }
    }

    @Test
    void segmentInstructionsAreUndefinedInRealMode() {
        try (TestMachine m = protectedMode("hlt")) {
            m.cpu.cr0 &= ~CR0_PE;
            m.cpu.idtBase = 0x9000;   // real-mode IVT entry 6 -> a HLT
            m.memory.writeU32(0x9000 + 4 * 6, 0x0000_9100);
            m.memory.writeU8(0x9100, 0xF4);
            Segmentation.loadRealModeSegment(m.cpu, CS, 0);
            m.cpu.rip = TestMachine.CODE & 0xFFFF;
            m.memory.write(TestMachine.CODE & 0xFFFF, new byte[] {0x0F, 0x00, (byte) 0xC0, (byte) 0xF4});   // sldt ax
            assertEquals(org.symbiont.x86.Exit.HALT, m.run(100));
            assertEquals(0x9101, m.cpu.rip, "halted in the #UD handler");
        }
    }
}
