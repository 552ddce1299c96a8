package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.SystemTables.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/** Segment-register loads and segment limit/type checks in protected and 64-bit mode. */
class SegmentationTest {
    /** Runs to the exception stub; returns {vector, error code} (the code of a vector that pushes one). */
    static long[] fault32(TestMachine m) {
        int vector = runToStub(m, 10_000);
        return new long[] {vector, stack32(m, 0)};
    }

    @Test
    void baseAndLimitApplyToDataAccesses() {
        TestMachine m = pm32("""
                mov ax, 0x40
                mov ds, ax
                mov dword ptr [0x10], 0x12345678
                mov eax, dword ptr [0xFFC]
                mov ebx, 0x55
                hlt
            """);
        setGdt(m, 0x40, segment(0x20_0000, 0xFFF, 0x92, 0x4));
        m.memory.writeU32(0x20_0FFC, 0xA5A5_A5A5L);
        assertEquals(-1, runToStub(m, 100));
        assertEquals(0x1234_5678L, m.memory.readU32(0x20_0010));
        assertEquals(0xA5A5_A5A5L, m.reg(RAX));
        assertEquals(0x55, m.reg(RBX));
        assertEquals(0x20_0000, m.cpu.segBase[DS]);
        assertEquals(0xFFF, m.cpu.segLimit[DS]);
        assertEquals(1, m.memory.readU8(GDT + 0x40 + 5) & 1, "descriptor marked accessed");
    }

    @Test
    void accessBeyondTheLimitRaisesGp0AtTheFaultingInstruction() {
        TestMachine m = pm32("""
                mov ax, 0x40
                mov ds, ax
                mov esi, offset 1f
            1:  mov eax, dword ptr [0xFFD]
                hlt
            """);
        setGdt(m, 0x40, segment(0x20_0000, 0xFFF, 0x92, 0x4));
        long[] f = fault32(m);
        assertEquals(EXC_GP, f[0]);
        assertEquals(0, f[1]);
        assertEquals(m.reg(RSI), stack32(m, 4), "saved EIP is the faulting instruction");
        assertEquals(CODE32, stack32(m, 8));
    }

    @Test
    void stackSegmentLimitViolationRaisesSs0() {
        TestMachine m = pm32("""
                mov ax, 0x48
                mov ss, ax
                mov esp, 0x1000
                xor ebp, ebp
                mov esi, offset 1f
            1:  mov eax, [ebp + 0x2000]
                hlt
            """);
        setGdt(m, 0x48, segment(0x30_0000, 0x1FFF, 0x92, 0x4));
        long[] f = fault32(m);
        assertEquals(EXC_SS, f[0]);
        assertEquals(0, f[1]);
        assertEquals(0x1000 - 16, m.reg(RSP), "frame pushed on the same stack segment");
        assertEquals(m.reg(RSI), m.memory.readU32(0x30_0000 + 0x1000 - 12));
    }

    @Test
    void expandDownSegmentAcceptsOffsetsAboveTheLimitOnly() {
        TestMachine m = pm32("""
                mov ax, 0x50
                mov ds, ax
                mov dword ptr [0x1000], 0xCAFE
                mov dword ptr [0xFFFFFFFC], 0xBEEF
                mov esi, offset 1f
            1:  mov eax, dword ptr [0xFFE]
                hlt
            """);
        setGdt(m, 0x50, segment(0x20_0000, 0xFFF, 0x96, 0x4));
        long[] f = fault32(m);
        assertEquals(0xCAFE, m.memory.readU32(0x20_1000));
        assertEquals(0xBEEF, m.memory.readU32(0x1F_FFFC), "offset 0xFFFFFFFC wraps the 32-bit linear address");
        assertEquals(EXC_GP, f[0]);
        assertEquals(0, f[1]);
        assertEquals(m.reg(RSI), stack32(m, 4));
    }

    @Test
    void sixteenBitExpandDownSegmentEndsAt64K() {
        TestMachine m = pm32("""
                mov ax, 0x50
                mov ds, ax
                mov word ptr [0xFFFE], 7
                mov esi, offset 1f
            1:  mov eax, dword ptr [0xFFFE]
                hlt
            """);
        setGdt(m, 0x50, segment(0x20_0000, 0xFFF, 0x96, 0x0));
        long[] f = fault32(m);
        assertEquals(7, m.memory.readU16(0x20_FFFE));
        assertEquals(EXC_GP, f[0]);
        assertEquals(m.reg(RSI), stack32(m, 4));
    }

    @Test
    void writeToReadOnlyDataSegmentRaisesGp0() {
        TestMachine m = pm32("""
                mov ax, 0x40
                mov es, ax
                mov eax, es:[0x10]
                mov es:[0x10], eax
                hlt
            """);
        setGdt(m, 0x40, segment(0x20_0000, 0xFFFF, 0x90, 0x4));
        long[] f = fault32(m);
        assertEquals(EXC_GP, f[0]);
        assertEquals(0, f[1]);
    }

    @Test
    void selectorBeyondTheGdtLimitRaisesGpWithTheSelector() {
        TestMachine m = pm32("mov ax, 0x200\n mov ds, ax\n hlt");
        assertArrayEquals(new long[] {EXC_GP, 0x200}, fault32(m));
    }

    @Test
    void ldtSelectorWithoutAnLdtRaisesGp() {
        TestMachine m = pm32("mov ax, 0x44\n mov fs, ax\n hlt");
        assertArrayEquals(new long[] {EXC_GP, 0x44}, fault32(m));
    }

    @Test
    void notPresentDataSegmentRaisesNp() {
        TestMachine m = pm32("mov ax, 0x40\n mov gs, ax\n hlt");
        setGdt(m, 0x40, segment(0, 0xFFFFF, 0x12, 0xC));
        assertArrayEquals(new long[] {EXC_NP, 0x40}, fault32(m));
        TestMachine rpl = pm32("mov ax, 0x43\n mov gs, ax\n hlt");
        setGdt(rpl, 0x40, segment(0, 0xFFFFF, 0x12, 0xC));
        assertArrayEquals(new long[] {EXC_GP, 0x40}, fault32(rpl), "privilege is checked before presence");
    }

    @Test
    void notPresentStackSegmentRaisesSs() {
        TestMachine m = pm32("mov ax, 0x40\n mov ss, ax\n hlt");
        setGdt(m, 0x40, segment(0, 0xFFFFF, 0x12, 0xC));
        assertArrayEquals(new long[] {EXC_SS, 0x40}, fault32(m));
    }

    @Test
    void stackSegmentMustMatchCplAndBeWritable() {
        TestMachine rpl = pm32("mov ax, 0x13\n mov ss, ax\n hlt");
        assertArrayEquals(new long[] {EXC_GP, 0x10}, fault32(rpl));
        TestMachine readOnly = pm32("mov ax, 0x40\n mov ss, ax\n hlt");
        setGdt(readOnly, 0x40, segment(0, 0xFFFFF, 0x90, 0xC));
        assertArrayEquals(new long[] {EXC_GP, 0x40}, fault32(readOnly));
        TestMachine nullSs = pm32("xor eax, eax\n mov ss, ax\n hlt");
        assertArrayEquals(new long[] {EXC_GP, 0}, fault32(nullSs));
    }

    @Test
    void dataSegmentRegistersTakeReadableCodeButNotExecuteOnlyCode() {
        TestMachine m = pm32("""
                mov ax, 0x08
                mov es, ax
                mov eax, es:[0x500]
                mov ax, 0x40
                mov ds, ax
                hlt
            """);
        setGdt(m, 0x40, segment(0, 0xFFFFF, 0x98, 0xC));
        assertArrayEquals(new long[] {EXC_GP, 0x40}, fault32(m));
        assertEquals(CODE32, m.cpu.segSel[ES]);
    }

    @Test
    void nullDataSegmentLoadsButFaultsOnUse() {
        TestMachine m = pm32("""
                xor eax, eax
                mov ds, ax
                mov ebx, 1
                mov eax, [0x500]
                hlt
            """);
        long[] f = fault32(m);
        assertEquals(1, m.reg(RBX), "the null load itself does not fault");
        assertArrayEquals(new long[] {EXC_GP, 0}, f);
    }

    @Test
    void ring3CannotLoadRing0Data() {
        TestMachine m = pm32(RING3_32 + """
                mov ax, 0x23
                mov es, ax
                mov ax, 0x10
                mov ds, ax
                hlt
            """);
        assertArrayEquals(new long[] {EXC_GP, 0x10}, fault32(m));
        assertEquals(USER_DATA32, m.cpu.segSel[ES]);
    }

    @Test
    void movToCsAndUndefinedSegmentRegistersAreUndefined() {
        TestMachine cs = pm32(".byte 0x8e, 0xc8\n hlt");
        assertEquals(EXC_UD, runToStub(cs, 100));
        TestMachine six = pm32(".byte 0x8e, 0xf0\n hlt");
        assertEquals(EXC_UD, runToStub(six, 100));
        TestMachine storeSeven = pm32(".byte 0x8c, 0xf8\n hlt");
        assertEquals(EXC_UD, runToStub(storeSeven, 100));
    }

    @Test
    void loadFarPointerInstructions() {
        TestMachine m = pm32("""
                mov dword ptr [0x5000], 0x00001234
                mov word ptr [0x5004], 0x40
                mov dword ptr [0x5008], 0x0007F000
                mov word ptr [0x500C], 0x10
                mov dword ptr [0x5020], 0x00405678
                mov ecx, 0xFFFFFFFF
                les edi, fword ptr [0x5000]
                lfs cx, dword ptr [0x5020]
                lgs edx, fword ptr [0x5000]
                lss esp, fword ptr [0x5008]
                lds esi, fword ptr [0x5000]
                hlt
            """);
        setGdt(m, 0x40, segment(0x20_0000, 0xFFFFF, 0x92, 0xC));
        assertEquals(-1, runToStub(m, 100));
        assertEquals(0x1234, m.reg(RDI));
        assertEquals(0xFFFF_5678L, m.reg(RCX), "m16:16 form: CX only, selector at offset 2");
        assertEquals(0x1234, m.reg(RDX));
        assertEquals(0x1234, m.reg(RSI));
        assertEquals(0x7F000, m.reg(RSP));
        for (int s : new int[] {ES, FS, GS, DS}) {
            assertEquals(0x40, m.cpu.segSel[s], "segment " + s);
            assertEquals(0x20_0000, m.cpu.segBase[s]);
        }
        assertEquals(DATA32, m.cpu.segSel[SS]);
    }

    @Test
    void loadFarPointerFaultLeavesTheRegisterUnchanged() {
        TestMachine m = pm32("""
                mov dword ptr [0x5000], 0x1234
                mov word ptr [0x5004], 0x48
                mov esi, 0x77
                lds esi, fword ptr [0x5000]
                hlt
            """);
        setGdt(m, 0x48, segment(0, 0xFFFFF, 0x12, 0xC));
        assertArrayEquals(new long[] {EXC_NP, 0x48}, fault32(m));
        assertEquals(0x77, m.reg(RSI));
        assertEquals(DATA32, m.cpu.segSel[DS]);
    }

    @Test
    void pushAndPopSegmentRegisters() {
        TestMachine m = pm32("""
                mov dword ptr [0x7FFFC], 0xAAAAAAAA
                mov ax, 0x23
                mov fs, ax
                push fs
                mov ebx, esp
                mov edx, [esp]
                pop es
                pushw ds
                mov ecx, esp
                popw gs
                push cs
                pop eax
                push ss
                pop ss
                hlt
            """);
        assertEquals(-1, runToStub(m, 100));
        assertEquals(0xAAAA_0023L, m.reg(RDX), "a 32-bit push writes only the 16-bit selector");
        assertEquals(0x7FFFC, m.reg(RBX));
        assertEquals(0x7FFFE, m.reg(RCX));
        assertEquals(USER_DATA32, m.cpu.segSel[ES]);
        assertEquals(DATA32, m.cpu.segSel[GS]);
        assertEquals(CODE32, m.reg(RAX) & 0xFFFF);
        assertEquals(KERNEL_STACK, m.reg(RSP));
    }

    @Test
    void popSsFaultLeavesTheStackPointer() {
        TestMachine m = pm32("""
                push 0x13
                mov ebx, esp
                pop ss
                hlt
            """);
        assertArrayEquals(new long[] {EXC_GP, 0x10}, fault32(m));
        // The #GP frame sits directly below the unpopped selector.
        assertEquals(m.reg(RBX) - 16, m.reg(RSP));
        assertEquals(0x13, m.memory.readU32(m.reg(RBX)));
    }

    @Test
    void moveFromSegmentRegisterZeroExtendsRegistersAndStores16Bits() {
        TestMachine m = pm32("""
                mov eax, 0xFFFFFFFF
                mov eax, ds
                mov ebx, 0xFFFFFFFF
                mov bx, ss
                mov dword ptr [0x6000], 0xFFFFFFFF
                mov [0x6000], cs
                hlt
            """);
        assertEquals(-1, runToStub(m, 100));
        assertEquals(DATA32, m.reg(RAX));
        assertEquals(0xFFFF_0010L, m.reg(RBX));
        assertEquals(0xFFFF_0008L, m.memory.readU32(0x6000));
    }

    /**
     * The selector comes from an MMIO page: the instruction exits, the interrupt is injected
     * while it waits, and it then completes; the interrupt is taken at the next boundary that is
     * not in an interrupt shadow.
     */
    @Test
    void movSsInhibitsInterruptsForOneInstruction() {
        for (boolean viaSs : new boolean[] {true, false}) {
            TestMachine m = lm64((viaSs ? "mov ss, [0x400000]\n" : "mov ds, [0x400000]\n") + """
                    inc ebx
                    inc ebx
                    hlt
                """);
            m.memory.addMmioHole(0x40_0000, 0x1000);
            m.cpu.setRflags(RFLAGS_FIXED1 | IF);
            assertInstanceOf(Exit.MmioRead.class, m.run(100));
            m.cpu.injectInterrupt(0x13); // vector 19's stub reports 19
            m.cpu.completeRead(TestMachine.DATA_SEL);
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(java.util.List.of(19L), m.reports);
            assertEquals(viaSs ? 1 : 0, m.reg(RBX), viaSs ? "one instruction runs in the MOV SS shadow" : "no shadow");
        }
    }

    @Test
    void popSsAlsoInhibitsInterrupts() {
        TestMachine m = pm32(RING3_32 + """
                mov esp, 0x400000
                pop ss
                inc ebx
                inc ebx
                hlt
            """);
        m.memory.addMmioHole(0x40_0000, 0x1000);
        m.cpu.setRflags(RFLAGS_FIXED1 | IF);
        assertInstanceOf(Exit.MmioRead.class, m.run(100));
        m.cpu.injectInterrupt(0x13);
        m.cpu.completeRead(USER_DATA32);
        assertEquals(19, runToStub(m, 100));
        assertEquals(1, m.reg(RBX));
        assertEquals(0x40_0004, stack32(m, 12), "the interrupted ESP is after the pop");
    }

    // ---- 64-bit mode ----

    @Test
    void nullSsIsAllowedAtCpl0In64BitMode() {
        TestMachine m = lm64("""
                xor eax, eax
                mov ss, eax
                push 5
                pop rbx
                mov eax, 3
                mov ss, eax
                hlt
            """);
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(5, m.reg(RBX));
        assertEquals(0, stack64(m, 0), "null SS with RPL != CPL: #GP(0)");
        assertEquals(0, m.cpu.segSel[SS]);
        assertNotEquals(0, m.cpu.segAttr[SS] & Segmentation.AR_UNUSABLE);
    }

    @Test
    void nullSsIsRefusedAtCpl3() {
        TestMachine m = lm64(RING3_64 + """
                xor eax, eax
                mov ss, eax
                hlt
            """);
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(0, stack64(m, 0));
        assertEquals(TestMachine.USER_DATA, stack64(m, 40), "faulted at CPL 3 with SS unchanged");
    }

    @Test
    void ring3DataSegmentsOfRing0AreNulledByIretq() {
        TestMachine m = lm64(RING3_64 + "hlt");
        m.cpu.segSel[FS] = 0; // a null FS with a base set through the MSR keeps its base
        m.cpu.segBase[FS] = 0x1234_5000L;
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(TestMachine.USER_CODE64, stack64(m, 16), "faulted at CPL 3");
        assertEquals(0, m.cpu.segSel[DS]);
        assertEquals(0, m.cpu.segSel[ES]);
        assertEquals(0, m.cpu.segSel[GS]);
        assertEquals(0x1234_5000L, m.cpu.segBase[FS]);
    }

    @Test
    void rexWMoveFromSegmentRegisterAndLoadFarPointer() {
        TestMachine m = lm64("""
                mov rax, -1
                .byte 0x48, 0x8c, 0xd8
                mov rcx, 0x123456789ABC
                mov [0x5000], rcx
                mov word ptr [0x5008], 0x10
                .byte 0x48, 0x0f, 0xb4, 0x1c, 0x25, 0x00, 0x50, 0x00, 0x00
                mov dword ptr [0x5010], 0x9000
                mov word ptr [0x5014], 0x10
                lgs edx, [0x5010]
                hlt
            """);
        assertEquals(-1, runToStub(m, 100));
        assertEquals(TestMachine.DATA_SEL, m.reg(RAX));
        assertEquals(0x1234_5678_9ABCL, m.reg(RBX), "REX.W LFS reads m16:64");
        assertEquals(0x9000, m.reg(RDX));
        assertEquals(0x10, m.cpu.segSel[FS]);
    }

    @Test
    void pushFsIn64BitModeMovesRspByEight() {
        TestMachine m = lm64("""
                mov qword ptr [0x7FFF8], -1
                push fs
                mov rbx, rsp
                mov rdx, [rsp]
                pop gs
                pushw fs
                mov rcx, rsp
                popw gs
                hlt
            """);
        assertEquals(-1, runToStub(m, 100));
        assertEquals(0x7FFF8, m.reg(RBX));
        assertEquals(0xFFFF_FFFF_FFFF_0010L, m.reg(RDX));
        assertEquals(0x7FFFE, m.reg(RCX));
        assertEquals(TestMachine.STACK_TOP, m.reg(RSP));
    }
}
