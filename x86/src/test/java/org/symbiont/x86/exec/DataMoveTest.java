package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * XADD, CMPXCHG, CMPXCHG8B/16B, LAHF/SAHF, XLAT, MOVBE and the decimal adjustments. Programs end
 * in HLT; faults show up as the vector the TestMachine's IDT stubs report.
 */
class DataMoveTest {
    private static final long DATA = 0x20_0000;
    /** A page in the 4 KiB-mapped first 2 MiB that tests make read-only. */
    private static final long READ_ONLY_PAGE = 0xA_0000;

    private static TestMachine machine(String source) {
        TestMachine m = TestMachine.longMode();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + source, 64, TestMachine.CODE));
        return m;
    }

    /** Switches the machine to compatibility mode (32-bit code segment under long mode) and loads 32-bit code. */
    static TestMachine compatibilityMachine(String source) {
        TestMachine m = TestMachine.longMode();
        Segmentation.loadCache(m.cpu, CS, TestMachine.CODE32_SEL, 0x00CF_9A00_0000_FFFFL);
        m.cpu.updateMode();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + source, 32, TestMachine.CODE));
        return m;
    }

    private static long flags(TestMachine m) {
        return m.cpu.getRflags() & STATUS_FLAGS;
    }

    private static void assertHalted(TestMachine m) {
        assertEquals(Exit.HALT, m.run(1_000_000));
        assertEquals(List.of(), m.reports, "no exception expected");
    }

    private static void assertFault(TestMachine m, int vector) {
        assertEquals(Exit.HALT, m.run(1_000_000));
        assertEquals(List.of((long) vector), m.reports);
    }

    // ---- XADD ----

    @Test
    void xaddRegisterForms() {
        try (TestMachine m = machine("""
                mov rcx, 0x7FFFFFFFFFFFFFFF
                mov rdx, 1
                xadd rcx, rdx
                mov r8, rcx
                mov esi, 0x80
                xadd esi, esi
                mov eax, 0x0000F000
                mov ebx, 0x00002000
                xadd ah, bh
                hlt
                """)) {
            assertHalted(m);
            assertEquals(0x8000_0000_0000_0000L, m.reg(R8));
            assertEquals(0x7FFF_FFFF_FFFF_FFFFL, m.reg(RDX));
            assertEquals(0x100, m.reg(RSI), "xadd r, r leaves the sum");
            assertEquals(0x1000, m.reg(RAX), "AH = F0 + 20");
            assertEquals(0xF000, m.reg(RBX), "BH = old AH");
            assertEquals(CF, flags(m) & (CF | OF | ZF), "byte addition carries");
        }
    }

    @Test
    void xaddThirtyTwoBitRegistersZeroExtend() {
        try (TestMachine m = machine("""
                mov rax, 0x1111111100000003
                mov rbx, 0x2222222200000004
                xadd ebx, eax
                hlt
                """)) {
            assertHalted(m);
            assertEquals(7, m.reg(RBX));
            assertEquals(4, m.reg(RAX));
        }
    }

    @Test
    void xaddMemoryPlainAndLocked() {
        try (TestMachine m = machine("""
                mov rdi, 0x200000
                mov qword ptr [rdi], 40
                mov rax, 2
                xadd qword ptr [rdi], rax
                mov rbx, rax
                mov rax, -42
                lock xadd qword ptr [rdi], rax
                mov word ptr [rdi+8], 0x7FFF
                mov cx, 1
                lock xadd word ptr [rdi+8], cx
                hlt
                """)) {
            assertHalted(m);
            assertEquals(40, m.reg(RBX));
            assertEquals(42, m.reg(RAX), "locked xadd returns the old value");
            assertEquals(0, m.memory.readU64(DATA));
            assertEquals(0x8000, m.memory.readU16(DATA + 8));
            assertEquals(0x7FFF, m.reg(RCX) & 0xFFFF);
            assertEquals(OF | SF | AF | PF, flags(m), "7FFF + 1 overflows");
        }
    }

    @Test
    void lockWithRegisterDestinationIsUndefinedOpcode() {
        // F0 0F C1 C3: lock xadd ebx, eax
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {(byte) 0xF0, 0x0F, (byte) 0xC1, (byte) 0xC3, (byte) 0xF4});
            assertFault(m, EXC_UD);
        }
    }

    // ---- CMPXCHG ----

    @Test
    void cmpxchgRegisterEqualAndUnequal() {
        try (TestMachine m = machine("""
                mov rax, 0xAAAAAAAA00000001
                mov rbx, 0xBBBBBBBB00000001
                mov rcx, 0xCCCCCCCC00000005
                cmpxchg ebx, ecx
                pushfq
                pop r8
                mov r9, rax
                mov r10, rbx
                mov rax, 0xAAAAAAAA00000002
                mov rbx, 0xBBBBBBBB00000001
                cmpxchg ebx, ecx
                hlt
                """)) {
            assertHalted(m);
            // Equal: the destination is written (zero-extended), the accumulator untouched.
            assertEquals(ZF, m.reg(R8) & (ZF | CF));
            assertEquals(0xAAAA_AAAA_0000_0001L, m.reg(R9));
            assertEquals(5, m.reg(R10));
            // Unequal: the accumulator is loaded (zero-extended), the destination keeps all 64 bits.
            assertEquals(1, m.reg(RAX));
            assertEquals(0xBBBB_BBBB_0000_0001L, m.reg(RBX));
            assertEquals(0, flags(m) & (ZF | CF | SF), "flags of CMP 2, 1");
        }
    }

    @Test
    void cmpxchgFlagsAreThoseOfCompareAccumulatorWithDestination() {
        try (TestMachine m = machine("""
                mov al, 0x10
                mov bl, 0x20
                mov cl, 0x77
                cmpxchg bl, cl
                hlt
                """)) {
            assertHalted(m);
            assertEquals(CF | SF | PF, flags(m), "10 - 20 borrows, F0 is negative with even parity");
            assertEquals(0x20, m.reg(RAX) & 0xFF);
            assertEquals(0x20, m.reg(RBX) & 0xFF);
        }
    }

    @Test
    void cmpxchgMemoryPlainAndLocked() {
        try (TestMachine m = machine("""
                mov rdi, 0x200000
                mov dword ptr [rdi], 7
                mov eax, 7
                mov ecx, 9
                cmpxchg dword ptr [rdi], ecx
                setz r8b
                mov eax, 3
                lock cmpxchg dword ptr [rdi], ecx
                setz r9b
                mov r10, rax
                mov rax, 9
                mov rcx, -1
                lock cmpxchg qword ptr [rdi+8], rcx
                setz r11b
                mov qword ptr [rdi+16], 0
                xor eax, eax
                lock cmpxchg qword ptr [rdi+16], rcx
                hlt
                """)) {
            assertHalted(m);
            assertEquals(1, m.reg(R8) & 0xFF);
            assertEquals(0, m.reg(R9) & 0xFF);
            assertEquals(9, m.reg(R10), "unequal: EAX receives the destination");
            assertEquals(9, m.memory.readU32(DATA));
            assertEquals(0, m.reg(R11) & 0xFF);
            assertEquals(-1L, m.memory.readU64(DATA + 16));
            assertEquals(ZF, flags(m) & ZF);
        }
    }

    /** A failing non-locked CMPXCHG still writes its destination back, so a read-only page faults. */
    @Test
    void cmpxchgOnReadOnlyPageFaultsEvenWhenUnequal() {
        try (TestMachine m = machine("""
                mov rdi, 0xA0000
                mov eax, 1
                mov ecx, 2
                cmpxchg dword ptr [rdi], ecx
                hlt
                """)) {
            m.memory.writeU32(READ_ONLY_PAGE, 5);
            makeReadOnly(m, READ_ONLY_PAGE);
            assertFault(m, EXC_PF);
            long frame = m.reg(RSP);
            assertEquals(PF_P | PF_W, m.memory.readU64(frame), "error code: present, write");
            assertEquals(READ_ONLY_PAGE, m.cpu.cr2);
            assertEquals(5, m.memory.readU32(READ_ONLY_PAGE));
        }
    }

    static void makeReadOnly(TestMachine m, long page) {
        long pte = TestMachine.PT0 + 8 * (page >>> 12);
        m.memory.writeU64(pte, page | 0x5);
        m.cpu.mmu.flushAll();
    }

    // ---- CMPXCHG8B / CMPXCHG16B ----

    @Test
    void cmpxchg8bEqualUnequalAndLocked() {
        try (TestMachine m = machine("""
                mov rdi, 0x200000
                mov rax, 0xAAAAAAAA33221100
                mov rdx, 0xDDDDDDDD77665544
                mov rbx, 0x00000000DDCCBBAA
                mov rcx, 0x0000000011FFEEDD
                cmpxchg8b qword ptr [rdi]
                setz r8b
                mov r9, rax
                mov r10, rdx
                lock cmpxchg8b qword ptr [rdi]
                setz r11b
                hlt
                """)) {
            m.memory.writeU64(DATA, 0x7766_5544_3322_1100L);
            assertHalted(m);
            assertEquals(1, m.reg(R8) & 0xFF);
            assertEquals(0xAAAA_AAAA_3322_1100L, m.reg(R9), "equal: EDX:EAX untouched");
            assertEquals(0xDDDD_DDDD_7766_5544L, m.reg(R10));
            assertEquals(0, m.reg(R11) & 0xFF, "the quadword changed, the locked compare fails");
            assertEquals(0xDDCC_BBAAL, m.reg(RAX), "unequal: EAX/EDX loaded, zero-extended");
            assertEquals(0x11FF_EEDDL, m.reg(RDX));
            assertEquals(0x11FF_EEDD_DDCC_BBAAL, m.memory.readU64(DATA));
        }
    }

    @Test
    void cmpxchg8bOnlyChangesZf() {
        try (TestMachine m = machine("""
                mov rdi, 0x200000
                xor eax, eax
                xor edx, edx
                mov al, 0x80
                add al, al
                cmpxchg8b qword ptr [rdi]
                hlt
                """)) {
            m.memory.writeU64(DATA, 1);
            assertHalted(m);
            assertEquals(CF | OF | PF, flags(m), "CF, OF, PF of the ADD survive; ZF cleared");
        }
    }

    @Test
    void cmpxchg16bEqualUnequalAndLocked() {
        try (TestMachine m = machine("""
                mov rdi, 0x200010
                mov rax, 0x1111111111111111
                mov rdx, 0x2222222222222222
                mov rbx, 0x3333333333333333
                mov rcx, 0x4444444444444444
                lock cmpxchg16b xmmword ptr [rdi]
                setz r8b
                cmpxchg16b xmmword ptr [rdi]
                setz r9b
                hlt
                """)) {
            m.memory.writeU64(DATA + 16, 0x1111_1111_1111_1111L);
            m.memory.writeU64(DATA + 24, 0x2222_2222_2222_2222L);
            assertHalted(m);
            assertEquals(1, m.reg(R8) & 0xFF);
            assertEquals(0x3333_3333_3333_3333L, m.memory.readU64(DATA + 16));
            assertEquals(0x4444_4444_4444_4444L, m.memory.readU64(DATA + 24));
            assertEquals(0, m.reg(R9) & 0xFF);
            assertEquals(0x3333_3333_3333_3333L, m.reg(RAX));
            assertEquals(0x4444_4444_4444_4444L, m.reg(RDX));
        }
    }

    @Test
    void cmpxchg16bHalfMismatchFails() {
        try (TestMachine m = machine("""
                mov rdi, 0x200000
                xor eax, eax
                mov edx, 1
                mov ebx, 5
                mov ecx, 6
                cmpxchg16b xmmword ptr [rdi]
                hlt
                """)) {
            m.memory.writeU64(DATA + 8, 2);
            assertHalted(m);
            assertEquals(0, flags(m) & ZF);
            assertEquals(0, m.reg(RAX));
            assertEquals(2, m.reg(RDX));
            assertEquals(0, m.memory.readU64(DATA));
            assertEquals(2, m.memory.readU64(DATA + 8));
        }
    }

    @Test
    void cmpxchg16bMisalignedRaisesGeneralProtection() {
        try (TestMachine m = machine("""
                mov rdi, 0x200008
                xor eax, eax
                lock cmpxchg16b xmmword ptr [rdi]
                hlt
                """)) {
            assertFault(m, EXC_GP);
            assertEquals(0, m.memory.readU64(m.reg(RSP)), "error code 0");
        }
    }

    @Test
    void cmpxchg8bRegisterFormIsUndefinedOpcode() {
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {0x0F, (byte) 0xC7, (byte) 0xC8, (byte) 0xF4}); // 0F C7 /1 with mod = 3
            assertFault(m, EXC_UD);
        }
    }

    // ---- LAHF / SAHF / XLAT / MOVBE ----

    @Test
    void lahfAndSahf() {
        try (TestMachine m = machine("""
                mov al, 0x7F
                add al, 1
                lahf
                mov bl, ah
                mov ah, 0xFF
                sahf
                pushfq
                pop rcx
                mov ah, 0x00
                sahf
                hlt
                """)) {
            assertHalted(m);
            // 7F + 1 = 80: SF, AF, OF; PF clear (one bit set); bit 1 always reads 1.
            assertEquals(SF | AF | 0x2, m.reg(RBX) & 0xFF);
            assertEquals(SF | ZF | AF | PF | CF | OF, m.reg(RCX) & STATUS_FLAGS, "SAHF keeps OF");
            assertEquals(OF, flags(m));
        }
    }

    @Test
    void xlatUsesBxPlusAlWithOverrideAndAddressSize() {
        try (TestMachine m = machine("""
                mov rbx, 0x200000
                mov al, 5
                xlatb
                mov cl, al
                mov rbx, 0xFFFFFFFF00000100
                mov al, 6
                addr32 xlat byte ptr fs:[ebx]
                hlt
                """)) {
            for (int k = 0; k < 16; k++) m.memory.writeU8(DATA + k, 0xA0 + k);
            m.cpu.segBase[FS] = DATA - 0x100;
            Segmentation.refreshEffectiveSegments(m.cpu);
            assertHalted(m);
            assertEquals(0xA5, m.reg(RCX) & 0xFF);
            assertEquals(0xA6, m.reg(RAX) & 0xFF);
        }
    }

    @Test
    void movbeLoadsAndStoresByteSwapped() {
        try (TestMachine m = machine("""
                mov rdi, 0x200000
                mov rax, -1
                movbe eax, dword ptr [rdi]
                mov rbx, -1
                movbe bx, word ptr [rdi]
                movbe rcx, qword ptr [rdi]
                mov rdx, 0x0102030405060708
                movbe qword ptr [rdi+8], rdx
                movbe dword ptr [rdi+16], edx
                movbe word ptr [rdi+20], dx
                hlt
                """)) {
            m.memory.writeU64(DATA, 0x8877_6655_4433_2211L);
            assertHalted(m);
            assertEquals(0x1122_3344L, m.reg(RAX), "32-bit load zero-extends");
            assertEquals(0xFFFF_FFFF_FFFF_1122L, m.reg(RBX), "16-bit load merges");
            assertEquals(0x1122_3344_5566_7788L, m.reg(RCX));
            assertEquals(0x0807_0605_0403_0201L, m.memory.readU64(DATA + 8));
            assertEquals(0x0807_0605L, m.memory.readU32(DATA + 16));
            assertEquals(0x0807, m.memory.readU16(DATA + 20));
        }
    }

    @Test
    void crc32EncodingOfMovbeIsUndefined() {
        // F2 0F 38 F0 07: crc32 eax, byte ptr [rdi] (CRC32 is not advertised)
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {(byte) 0xF2, 0x0F, 0x38, (byte) 0xF0, 0x07, (byte) 0xF4});
            assertFault(m, EXC_UD);
        }
    }

    @Test
    void movbeRegisterFormIsUndefined() {
        try (TestMachine m = TestMachine.longMode()) {
            m.load(new byte[] {0x0F, 0x38, (byte) 0xF0, (byte) 0xC0, (byte) 0xF4});
            assertFault(m, EXC_UD);
        }
    }

    // ---- decimal adjustments (compatibility mode) ----

    /** {instruction, AX in, status flags in, AX out, status flags out}, measured on an AMD Zen 4 host. */
    private static final Object[][] BCD_VECTORS = {
        {"daa", 0x007F, 0x000, 0x0085, 0x890},
        {"daa", 0x009A, 0x000, 0x0000, 0x055},
        {"daa", 0x0045, 0x011, 0x00AB, 0x891},
        {"daa", 0x0000, 0x010, 0x0006, 0x014},
        {"das", 0x0080, 0x010, 0x007A, 0x810},
        {"das", 0x0005, 0x010, 0x00FF, 0x095},
        {"das", 0x009A, 0x000, 0x0034, 0x811},
        {"das", 0x0010, 0x001, 0x00B0, 0x081},
        {"aaa", 0x000A, 0x000, 0x0100, 0x011},
        {"aaa", 0x7FFA, 0x000, 0x8100, 0x895},
        {"aaa", 0xFF05, 0x010, 0x000B, 0x011},
        {"aaa", 0x1205, 0x000, 0x1205, 0x004},
        {"aaa", 0x0000, 0x881, 0x0000, 0x044},
        {"aas", 0x000A, 0x000, 0xFF04, 0x091},
        {"aas", 0x8003, 0x010, 0x7E0D, 0x811},
        {"aas", 0x0005, 0x000, 0x0005, 0x004},
        {"aam 10", 0x1263, 0x811, 0x0909, 0x004},
        {"aam 16", 0x00FF, 0x000, 0x0F0F, 0x004},
        {"aam 3", 0x0000, 0x001, 0x0000, 0x044},
        {"aad 10", 0x7F05, 0x000, 0x00FB, 0x080},
        {"aad 10", 0x1209, 0x801, 0x00BD, 0x084},
        {"aad 255", 0xFF01, 0x000, 0x0002, 0x000},
        {"aad 16", 0x8090, 0x000, 0x0090, 0x084},
    };

    @Test
    void decimalAdjustmentsMatchMeasuredVectors() {
        StringBuilder src = new StringBuilder("mov edi, 0x200000\n");
        for (Object[] v : BCD_VECTORS) {
            src.append(String.format("push 0x%x\npopfd\nmov eax, 0x%x\n%s\npushfd\npop edx\nmov [edi], ax\nmov [edi+2], dx\nadd edi, 4\n",
                    0x202 | (int) v[2], (int) v[1], v[0]));
        }
        src.append("hlt\n");
        try (TestMachine m = compatibilityMachine(src.toString())) {
            assertHalted(m);
            for (int k = 0; k < BCD_VECTORS.length; k++) {
                Object[] v = BCD_VECTORS[k];
                String what = v[0] + " with AX=" + Integer.toHexString((int) v[1]) + " flags=" + Integer.toHexString((int) v[2]);
                assertEquals((int) v[3], m.memory.readU16(DATA + 4L * k), what + ": AX");
                assertEquals((int) v[4], m.memory.readU16(DATA + 4L * k + 2) & (int) STATUS_FLAGS, what + ": flags");
            }
        }
    }

    @Test
    void aamWithZeroBaseRaisesDivideError() {
        try (TestMachine m = compatibilityMachine("mov eax, 0x1234\naam 0\nhlt\n")) {
            assertFault(m, EXC_DE);
            assertEquals(0x12, m.reg(RAX) >>> 8 & 0xFF, "AH unchanged (the stub reports through AL)");
        }
    }

    @Test
    void decimalAdjustmentsAreInvalidIn64BitMode() {
        for (byte[] code : new byte[][] {{0x27}, {0x2F}, {0x37}, {0x3F}, {(byte) 0xD4, 10}, {(byte) 0xD5, 10}}) {
            try (TestMachine m = TestMachine.longMode()) {
                byte[] program = java.util.Arrays.copyOf(code, code.length + 1);
                program[code.length] = (byte) 0xF4;
                m.load(program);
                assertFault(m, EXC_UD);
            }
        }
    }

    // ---- decimal adjustments against the host processor ----

    private static final String[] BCD_SWEEP = {
        "daa", "das", "aaa", "aas", "aam 10", "aam 3", "aam 16", "aam 255", "aad 10", "aad 3", "aad 16", "aad 255"
    };
    private static final int[] SWEEP_AH = {0x00, 0x12, 0x7F, 0x80, 0xFF};
    private static final int[] FLAG_BITS = {0, 2, 4, 6, 7, 11};
    /** Flags each instruction defines (SDM); the rest are undefined. */
    private static final long[] DEFINED = {
        CF | AF | SF | ZF | PF, CF | AF | SF | ZF | PF, CF | AF, CF | AF,
        SF | ZF | PF, SF | ZF | PF, SF | ZF | PF, SF | ZF | PF, SF | ZF | PF, SF | ZF | PF, SF | ZF | PF, SF | ZF | PF
    };

    /**
     * The same 32-bit program runs on the host (as a freestanding Linux i386 executable) and in
     * the guest: each instruction over every AL, several AH and all 64 combinations of the six
     * input status flags, recording AX and FLAGS. Defined results must match any x86 host; the
     * undefined flags, which the implementation takes from AMD processors, are compared on AMD
     * hosts. Skipped where the host cannot run 32-bit x86 code.
     */
    @Test
    void decimalAdjustmentsMatchTheHostProcessor() throws Exception {
        Asm.assumeAvailable();
        byte[] host = runOnHost(sweepProgram(true));
        Assumptions.assumeTrue(host != null, "the host cannot run 32-bit x86 Linux executables: test skipped");
        boolean amd = Files.readString(Path.of("/proc/cpuinfo")).contains("AuthenticAMD");
        int perInstruction = SWEEP_AH.length * 256 * 64;
        assertEquals(BCD_SWEEP.length * perInstruction * 4, host.length);
        try (TestMachine m = compatibilityMachine(sweepProgram(false))) {
            assertEquals(Exit.HALT, m.run(100_000_000));
            assertEquals(List.of(), m.reports);
            byte[] guest = m.memory.read(0x40_0000, host.length);
            for (int k = 0; k < host.length / 4; k++) {
                int n = k / perInstruction;
                long compared = amd ? STATUS_FLAGS : DEFINED[n];
                int hostAx = u16(host, 4 * k), guestAx = u16(guest, 4 * k);
                long hostFlags = u16(host, 4 * k + 2) & compared, guestFlags = u16(guest, 4 * k + 2) & compared;
                if (hostAx != guestAx || hostFlags != guestFlags) {
                    int inFlags = k / (SWEEP_AH.length * 256) % 64;
                    int ax = SWEEP_AH[k / 256 % SWEEP_AH.length] << 8 | k % 256;
                    fail(String.format("%s with AX=%04x, flag set %d: host AX=%04x flags=%03x, guest AX=%04x flags=%03x",
                            BCD_SWEEP[n], ax, inFlags, hostAx, hostFlags, guestAx, guestFlags));
                }
            }
        }
    }

    private static int u16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    private static String sweepProgram(boolean host) {
        StringBuilder s = new StringBuilder(".intel_syntax noprefix\n");
        s.append(host ? ".globl _start\n_start:\nmov edi, offset buf\n" : "mov edi, 0x400000\n");
        for (int n = 0; n < BCD_SWEEP.length; n++) {
            s.append(String.format("""
                    xor esi, esi
                    f%1$d: xor ebp, ebp
                    h%1$d: xor ecx, ecx
                    a%1$d: mov eax, ecx
                    mov ah, byte ptr [ahtab + ebp]
                    push dword ptr [flagtab + esi*4]
                    popfd
                    %2$s
                    pushfd
                    pop edx
                    mov [edi], ax
                    mov [edi+2], dx
                    add edi, 4
                    inc ecx
                    cmp ecx, 256
                    jb a%1$d
                    inc ebp
                    cmp ebp, %3$d
                    jb h%1$d
                    inc esi
                    cmp esi, 64
                    jb f%1$d
                    """, n, BCD_SWEEP[n], SWEEP_AH.length));
        }
        if (host) {
            // write(1, buf, edi - buf) until done, then exit(0)
            s.append("""
                    mov esi, edi
                    sub esi, offset buf
                    mov ecx, offset buf
                    w: mov eax, 4
                    mov ebx, 1
                    mov edx, esi
                    int 0x80
                    test eax, eax
                    jle x
                    add ecx, eax
                    sub esi, eax
                    jnz w
                    x: mov eax, 1
                    xor ebx, ebx
                    int 0x80
                    """);
        } else {
            s.append("hlt\n");
        }
        s.append("flagtab:\n");
        for (int k = 0; k < 64; k++) {
            int v = 0x202;
            for (int b = 0; b < FLAG_BITS.length; b++) if ((k >>> b & 1) != 0) v |= 1 << FLAG_BITS[b];
            s.append(".long ").append(v).append('\n');
        }
        s.append("ahtab:\n");
        for (int ah : SWEEP_AH) s.append(".byte ").append(ah).append('\n');
        if (host) s.append(".bss\nbuf: .space 0x400000\n");
        return s.toString();
    }

    /** Assembles, links and runs a freestanding i386 Linux program; its standard output, or null if it cannot run here. */
    private static byte[] runOnHost(String source) throws IOException, InterruptedException {
        if (!System.getProperty("os.name").startsWith("Linux") || !System.getProperty("os.arch").equals("amd64")) return null;
        Path dir = Files.createTempDirectory("symbiont-bcd");
        try {
            Path src = dir.resolve("t.s"), obj = dir.resolve("t.o"), exe = dir.resolve("t"), out = dir.resolve("out");
            Files.writeString(src, ".code32\n" + source);
            if (!exec(List.of("as", "--32", "-o", obj.toString(), src.toString()), null)) return null;
            if (!exec(List.of("ld", "-m", "elf_i386", "-o", exe.toString(), obj.toString()), null)) return null;
            if (!exec(List.of(exe.toString()), out)) return null;
            return Files.readAllBytes(out);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) Files.deleteIfExists(p);
            }
            Files.deleteIfExists(dir);
        }
    }

    private static boolean exec(List<String> command, Path stdout) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command);
        if (stdout != null) pb.redirectOutput(stdout.toFile());
        else pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return false;
        }
        return p.waitFor() == 0;
    }
}
