package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.SseFloatTest.run;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/** x87 control instructions and FXSAVE/FXRSTOR. */
class FpuTest {
    static final long DATA = 0x20_0000;

    @Test
    void initAndControlAndStatusWords() {
        try (TestMachine m = run("""
                mov rbx, 0x200000
                fninit
                fnstcw [rbx]
                fnstsw [rbx+2]
                fnstenv [rbx+0x10]
                mov word ptr [rbx+4], 0x0C7F
                fldcw [rbx+4]
                fnstcw [rbx+6]
                mov ax, 0x1234
                fnstsw ax
                """, mm -> {
                    mm.cpu.fpuStatus = 0x3800;
                    mm.cpu.fpuLastIp = 0x1234;
                })) {
            var mem = m.memory;
            assertEquals(0x037F, mem.readU16(DATA));
            assertEquals(0, mem.readU16(DATA + 2));
            assertEquals(0xFFFF_037FL, mem.readU32(DATA + 0x10));
            assertEquals(0xFFFF_0000L, mem.readU32(DATA + 0x14));
            assertEquals(0xFFFF_FFFFL, mem.readU32(DATA + 0x18)); // all registers empty
            assertEquals(0, mem.readU32(DATA + 0x1C));            // FIP cleared by FNINIT
            assertEquals(0, mem.readU32(DATA + 0x20));
            assertEquals(0, mem.readU32(DATA + 0x24));
            assertEquals(0xFFFF_0000L, mem.readU32(DATA + 0x28));
            assertEquals(0x0C7F, mem.readU16(DATA + 6));
            assertEquals(0, m.reg(RAX) & 0xFFFF);
            assertEquals(0x0C7F, m.cpu.fpuControl);
        }
    }

    /** An environment image (28-byte protected-mode form) with the given control and status words. */
    private static void environment(TestMachine m, long at, int cw, int sw) {
        m.memory.writeU32(at, cw);
        m.memory.writeU32(at + 4, sw);
        m.memory.writeU32(at + 8, 0xFFFF);
        for (int k = 12; k < 28; k += 4) m.memory.writeU32(at + k, 0);
    }

    @Test
    void pendingUnmaskedExceptionRaisesMfAtTheNextWaitingInstruction() {
        try (TestMachine m = run("""
                mov rbx, 0x200000
                fldenv [rbx]
                fnstsw [rbx+0x40]
                fnstcw [rbx+0x42]
                mov ecx, 1
                fwait
                mov ecx, 2
                """, mm -> environment(mm, DATA, 0x037E, 0x0001))) {
            assertEquals(List.of((long) EXC_MF), m.reports);
            assertEquals(0x8081, m.memory.readU16(DATA + 0x40)); // IE with ES and B
            assertEquals(1, m.reg(RCX));
        }
        // FNCLEX clears it; FLDCW unmasking a set flag makes it pending again, and FLDCW itself waits.
        try (TestMachine m = run("""
                mov rbx, 0x200000
                fldenv [rbx]
                fnclex
                fwait
                mov ecx, 1
                fldenv [rbx+0x20]
                mov word ptr [rbx+0x40], 0x037B
                fldcw [rbx+0x40]
                mov ecx, 2
                fldcw [rbx+0x40]
                mov ecx, 3
                """, mm -> {
                    environment(mm, DATA, 0x037E, 0x0001);
                    environment(mm, DATA + 0x20, 0x037F, 0x0004);
                })) {
            assertEquals(List.of((long) EXC_MF), m.reports);
            assertEquals(2, m.reg(RCX));
        }
        // With CR0.NE clear the error would go to the (unmodelled) FERR# pin: execution continues.
        try (TestMachine m = run("mov rbx, 0x200000\nfldenv [rbx]\nfwait\nmov ecx, 5", mm -> {
            environment(mm, DATA, 0x037E, 0x0001);
            mm.cpu.cr0 &= ~CR0_NE;
        })) {
            assertTrue(m.reports.isEmpty());
            assertEquals(5, m.reg(RCX));
        }
    }

    /** Writes an 80-bit register value: 64-bit significand and sign/exponent word. */
    private static void st(byte[] regs, int i, long significand, int signExponent) {
        for (int b = 0; b < 8; b++) regs[10 * i + b] = (byte) (significand >>> (8 * b));
        regs[10 * i + 8] = (byte) signExponent;
        regs[10 * i + 9] = (byte) (signExponent >>> 8);
    }

    @Test
    void fnsaveComputesTagsAndReinitializesAndFrstorRestores() {
        try (TestMachine m = run("""
                mov rbx, 0x200000
                fnsave [rbx]
                fnstcw [rbx+0x200]
                fnstenv [rbx+0x210]
                mov word ptr [rbx], 0x0360
                frstor [rbx]
                fnstenv [rbx+0x240]
                """, mm -> {
                    var c = mm.cpu;
                    c.fpuControl = 0x037F;
                    c.fpuStatus = 0x0000; // TOP = 0: ST(i) is physical register i
                    c.fpuTagWord = 0xC000; // physical 7 empty
                    byte[] r = c.fpuRegisters;
                    st(r, 0, 0x8000_0000_0000_0000L, 0x3FFF); // 1.0: valid
                    st(r, 1, 0, 0x8000);                     // -0: zero
                    st(r, 2, 0x8000_0000_0000_0000L, 0x7FFF); // infinity: special
                    st(r, 3, 0x0000_0000_0000_0001L, 0);      // denormal: special
                    st(r, 4, 0x4000_0000_0000_0000L, 0x4000); // unnormal: special
                    st(r, 5, 0xC000_0000_0000_0000L, 0x4000); // 3.0: valid
                    st(r, 6, 0x8000_0000_0000_0000L, 0xBFFE); // -0.5: valid
                })) {
            var mem = m.memory;
            assertEquals(0xC2A4, mem.readU16(DATA + 8));
            assertEquals(0x8000_0000_0000_0000L, mem.readU64(DATA + 28));
            assertEquals(0x3FFF, mem.readU16(DATA + 36));
            assertEquals(0xC000_0000_0000_0000L, mem.readU64(DATA + 28 + 50));
            assertEquals(0x037F, mem.readU16(DATA + 0x200));          // after FNSAVE's re-initialisation
            assertEquals(0xFFFF, mem.readU16(DATA + 0x210 + 8));
            assertEquals(0x0360, mem.readU16(DATA + 0x240));           // restored, with the edited control word
            assertEquals(0xC2A4, mem.readU16(DATA + 0x240 + 8));
            assertEquals(0x3FFF, ((m.cpu.fpuRegisters[9] & 0xFF) << 8) | (m.cpu.fpuRegisters[8] & 0xFF));
        }
    }

    @Test
    void sixteenBitEnvironmentForm() {
        try (TestMachine m = run("mov rbx, 0x200000\n.byte 0x66\nfnstenv [rbx]", mm -> {
            mm.cpu.fpuControl = 0x0240;
            mm.cpu.fpuStatus = 0x1000;
            mm.cpu.fpuTagWord = 0xFFFF;
            mm.cpu.fpuLastIp = 0x12345;
            mm.cpu.fpuLastDp = 0x6789A;
            for (int k = 0; k < 16; k++) mm.memory.writeU8(DATA + k, 0xEE);
        })) {
            var mem = m.memory;
            int[] words = {0x0240, 0x1000, 0xFFFF, 0x2345, 0, 0x789A, 0};
            for (int k = 0; k < words.length; k++) assertEquals(words[k], mem.readU16(DATA + 2L * k), "word " + k);
            assertEquals(0xEE, mem.readU8(DATA + 14));
            assertEquals(0x027F, m.cpu.fpuControl); // FNSTENV masks all exceptions afterwards
        }
    }

    @Test
    void realModeEnvironmentKeepsTwentyAndThirtyTwoBitPointers() {
        byte[] code = Asm.assemble("""
                .intel_syntax noprefix
                fldenv [0x2000]
                fnstenv [0x2100]
                .byte 0x66
                fnstenv [0x2200]
                hlt
                """, 16, 0);
        try (TestMachine m = new TestMachine(1 << 20)) {
            m.memory.write(0x1000, code);
            Segmentation.loadRealModeSegment(m.cpu, CS, 0x100);
            m.cpu.rip = 0;
            int[] image = {0x037F, 0x0000, 0xFFFF, 0x5678, 0x41EE, 0x9ABC, 0x7000};
            for (int k = 0; k < image.length; k++) m.memory.writeU16(0x2000 + 2L * k, image[k]);
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(0x45678, m.cpu.fpuLastIp);
            assertEquals(0x79ABC, m.cpu.fpuLastDp);
            assertEquals(0x1EE, m.cpu.fpuLastOpcode);
            for (int k = 0; k < image.length; k++) assertEquals(image[k], m.memory.readU16(0x2100 + 2L * k), "word " + k);
            long[] wide = {0xFFFF_037FL, 0xFFFF_0000L, 0xFFFF_FFFFL, 0xFFFF_5678L, 0x0000_41EEL, 0xFFFF_9ABCL, 0x0000_7000L};
            for (int k = 0; k < wide.length; k++) assertEquals(wide[k], m.memory.readU32(0x2200 + 4L * k), "dword " + k);
        }
    }

    @Test
    void deviceNotAvailableAndUnmodelledX87() {
        record Case(String insn, long cr0Set, long cr0Clear, Long vector) {}
        for (Case k : new Case[] {
            new Case("fninit", CR0_TS, 0, (long) EXC_NM),
            new Case("fnstcw [rsp]", CR0_EM, 0, (long) EXC_NM),
            new Case("fxsave [rsp]", CR0_TS, 0, (long) EXC_NM),
            new Case("fwait", CR0_TS, 0, (long) EXC_NM),          // MP is set by the test machine
            new Case("fwait", CR0_TS, CR0_MP, null),
            new Case("fwait", CR0_EM, 0, null),
            new Case("fld1", 0, 0, (long) EXC_UD)}) {
            try (TestMachine m = run(k.insn(), mm -> {
                mm.cpu.cr0 = (mm.cpu.cr0 | k.cr0Set()) & ~k.cr0Clear();
            })) {
                assertEquals(k.vector() == null ? List.of() : List.of(k.vector()), m.reports, k.toString());
            }
        }
    }

    @Test
    void fxsaveAndFxrstorRoundTrip() {
        try (TestMachine m = run("""
                mov rbx, 0x200000
                fxsave [rbx]
                fxsave64 [rbx+0x200]
                fninit
                pxor xmm0, xmm0
                pxor xmm15, xmm15
                ldmxcsr [rbx+0x400]
                fxrstor [rbx]
                """, mm -> {
                    var c = mm.cpu;
                    for (int k = 0; k < 32; k++) c.xmm[k] = 0x0101_0101_0101_0101L * k + k;
                    c.mxcsr = 0x9FC0 | Sse.PE;
                    c.fpuControl = 0x027F;
                    c.fpuStatus = 0x3820;
                    c.fpuTagWord = 0x3FFF;         // physical register 7 (= ST0 with TOP 7) in use
                    st(c.fpuRegisters, 0, 0x8000_0000_0000_0000L, 0x3FFF);
                    c.fpuLastIp = 0x1122_3344_5566_7788L;
                    c.fpuLastDp = 0x0000_0000_0BAD_F00DL;
                    c.fpuLastOpcode = 0x1EE;
                    for (int k = 0; k < 0x440; k++) mm.memory.writeU8(DATA + k, 0xEE);
                    mm.memory.writeU32(DATA + 0x400, 0x1F80);
                })) {
            var mem = m.memory;
            assertTrue(m.reports.isEmpty());
            assertEquals(0x027F, mem.readU16(DATA));
            assertEquals(0x3820, mem.readU16(DATA + 2));
            assertEquals(0x80, mem.readU8(DATA + 4));
            assertEquals(0x1EE, mem.readU16(DATA + 6));
            assertEquals(0x5566_7788L, mem.readU64(DATA + 8));      // FIP[31:0], FCS 0
            assertEquals(0x0BAD_F00DL, mem.readU64(DATA + 16));
            assertEquals(0x9FC0 | Sse.PE, mem.readU32(DATA + 24));
            assertEquals(0xFFFF, mem.readU32(DATA + 28));
            assertEquals(0x8000_0000_0000_0000L, mem.readU64(DATA + 32));
            assertEquals(0x3FFF, mem.readU16(DATA + 40));
            assertEquals(0, mem.readU16(DATA + 42));
            for (int k = 0; k < 16; k++) assertEquals(0x0101_0101_0101_0101L * (2 * k) + 2 * k, mem.readU64(DATA + 160 + 16L * k));
            assertEquals(0xEEEE_EEEE_EEEE_EEEEL, mem.readU64(DATA + 464)); // software-available area untouched
            assertEquals(0x1122_3344_5566_7788L, mem.readU64(DATA + 0x200 + 8)); // FXSAVE64: full FIP
            var c = m.cpu;
            for (int k = 0; k < 32; k++) assertEquals(0x0101_0101_0101_0101L * k + k, c.xmm[k], "xmm quadword " + k);
            assertEquals(0x9FC0 | Sse.PE, c.mxcsr);
            assertEquals(0x027F, c.fpuControl);
            assertEquals(0x3820, c.fpuStatus);
            assertEquals(0x3FFF, c.fpuTagWord);
            assertEquals(0x5566_7788L, c.fpuLastIp);
        }
    }

    @Test
    void fxsaveAlignmentAndFxrstorReservedMxcsrBits() {
        try (TestMachine m = run("mov rbx, 0x200008\nfxsave [rbx]")) {
            assertEquals(List.of((long) EXC_GP), m.reports);
        }
        try (TestMachine m = run("mov rbx, 0x200000\nfxrstor [rbx]", mm -> {
            mm.memory.writeU32(DATA + 24, 0x1_1F80);
            mm.memory.writeU16(DATA, 0x0000);
            mm.cpu.fpuControl = 0x037F;
        })) {
            assertEquals(List.of((long) EXC_GP), m.reports);
            assertEquals(0x037F, m.cpu.fpuControl);
            assertEquals(0x1F80, m.cpu.mxcsr);
        }
    }
}
