package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.SystemTables.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.decode.Decoder;

/**
 * Far JMP/CALL/RET, call gates, IRET, INTO, SYSCALL/SYSRET and SYSENTER/SYSEXIT in real,
 * protected and IA-32e mode. Handlers placed with {@code .org} sit at fixed offsets from
 * {@link TestMachine#CODE}.
 */
class FarTransferTest {
    private static final long KERNEL = TestMachine.CODE + 0x800;
    private static final long DATA = 0x6000;

    private static long u32(TestMachine m, long at) {
        return m.memory.readU32(at);
    }

    private static long u64(TestMachine m, long at) {
        return m.memory.readU64(at);
    }

    // ---- real mode ----

    @Test
    void realModeFarJumpCallReturnAndIret() {
        TestMachine m = new TestMachine(2 << 20);
        byte[] code = Asm.assemble("""
                    xor %ax, %ax
                    mov %ax, %ss
                    mov $0x7000, %sp
                    ljmp $0x07C0, $(1f - 0x7C00)
                1:  mov %cs, %bx
                    lcall $0, $far
                    mov %cs, %dx
                    pushf
                    pushw $0
                    pushw $2f
                    iret
                2:  mov %cs, %si
                    hlt
                far:
                    mov %cs, %cx
                    mov %sp, %bp
                    mov 2(%bp), %di
                    lret
                """, 16, 0x7C00);
        m.memory.write(0x7C00, code);
        Segmentation.loadRealModeSegment(m.cpu, CS, 0);
        m.cpu.rip = 0x7C00;
        assertEquals(Exit.HALT, m.run(1000));
        assertEquals(0x07C0, m.reg(RBX) & 0xFFFF, "JMP ptr16:16 loaded CS");
        assertEquals(0, m.reg(RCX) & 0xFFFF, "CALL ptr16:16 loaded CS");
        assertEquals(0x07C0, m.reg(RDI) & 0xFFFF, "the caller's CS was pushed");
        assertEquals(0x07C0, m.reg(RDX) & 0xFFFF, "RETF restored CS");
        assertEquals(0, m.reg(RSI) & 0xFFFF, "IRET loaded CS");
        assertEquals(0x7000, m.reg(RSP) & 0xFFFF);
        assertEquals(Decoder.CODE16, m.cpu.codeMode);
    }

    // ---- protected mode: code segments ----

    @Test
    void farCallAndReturnAtTheSamePrivilege() {
        TestMachine m = pm32("""
                mov esi, offset 1f
                call 0x08:fn
            1:  mov edx, esp
                mov ebp, ebx
                mov dword ptr [0x5000], offset 2f
                mov word ptr [0x5004], 0x08
                jmp fword ptr [0x5000]
                hlt
            2:  mov dword ptr [0x5000], offset fn
                call fword ptr [0x5000]
                hlt
            fn:
                mov ebx, [esp]
                mov ecx, [esp + 4]
                inc edi
                retf
            """);
        assertEquals(-1, runToStub(m, 1000));
        assertEquals(m.reg(RSI), m.reg(RBP), "return EIP pushed");
        assertEquals(CODE32, m.reg(RCX));
        assertEquals(KERNEL_STACK, m.reg(RDX));
        assertEquals(2, m.reg(RDI), "called directly and through the memory far pointer");
        assertEquals(KERNEL_STACK, m.reg(RSP));
    }

    /** Code segment 0x48 is 32-bit code based at {@link TestMachine#CODE}, so that 16-bit offsets reach the program. */
    private static final String ENTER_SEGMENT_AT_CODE = """
            start:
            .att_syntax
                ljmp $0x48, $(1f - start)
            .intel_syntax noprefix
            1:
            """;

    private static TestMachine inSegmentAtCode(String body) {
        TestMachine m = pm32(ENTER_SEGMENT_AT_CODE + body);
        setGdt(m, 0x48, segment(TestMachine.CODE, 0xFFFFF, 0x9A, 0xC));
        return m;
    }

    @Test
    void sixteenBitOperandSizeFarTransfersAndRetfImmediate() {
        TestMachine m = inSegmentAtCode("""
                push 0x99
                .byte 0x66, 0x9a
                .word fn - start, 0x48
                mov edi, esp
                mov word ptr [0x5000], offset 2f - start
                mov word ptr [0x5002], 0x48
                .byte 0x66, 0xff, 0x2d
                .long 0x5000
                hlt
            2:  mov ecx, cs
                hlt
            fn: mov ebx, [esp]
                .byte 0x66, 0xca, 0x04, 0x00
            """);
        assertEquals(-1, runToStub(m, 100));
        assertEquals(0x48, m.reg(RBX) >>> 16, "16-bit CS slot above the 16-bit IP");
        assertEquals(KERNEL_STACK, m.reg(RDI), "RETF 4 popped 2 + 2 bytes and released 4");
        assertEquals(0x48, m.reg(RCX) & 0xFFFF, "JMP m16:16");
    }

    @Test
    void sixteenBitCallGate() {
        TestMachine m = inSegmentAtCode("""
                call 0x40:0
                mov edx, esp
                hlt
            .org 0x800
                mov ebx, [esp]
                .byte 0x66, 0xcb
            """);
        setGdt(m, 0x40, gate(0x800, 0x48, 0x84, 0));
        assertEquals(-1, runToStub(m, 100));
        assertEquals(0x48, m.reg(RBX) >>> 16, "16-bit gate pushed CS:IP as words");
        assertEquals(KERNEL_STACK, m.reg(RDX));
    }

    @Test
    void directFarTransferChecks() {
        record Case(String code, int vector, long error) {}
        for (Case k : new Case[] {
            new Case("call 0x00:0", EXC_GP, 0),
            new Case("jmp 0x10:0", EXC_GP, 0x10),          // data segment
            new Case("jmp 0x40:0", EXC_NP, 0x40),          // code, not present
            new Case("jmp 0x48:0x2000", EXC_GP, 0),        // beyond the limit
            new Case("jmp 0x28:0", EXC_GP, TSS32_SEL),     // TSS: task switch not modelled
            new Case("jmp 0x50:0", EXC_GP, 0x50),          // task gate: not modelled
        }) {
            TestMachine m = pm32(k.code() + "\n hlt");
            setGdtForChecks(m);
            assertEquals(k.vector(), runToStub(m, 100), k.code());
            assertEquals(k.error(), stack32(m, 0), k.code());
            assertEquals(CODE32, stack32(m, 8), k.code());
        }
        TestMachine ring3 = pm32(RING3_32 + "call 0x08:0\n hlt");
        assertEquals(EXC_GP, runToStub(ring3, 100));
        assertEquals(CODE32, stack32(ring3, 0), "non-conforming code of another privilege");
    }

    private static void setGdtForChecks(TestMachine m) {
        setGdt(m, 0x40, segment(0, 0xFFFFF, 0x1A, 0xC));
        setGdt(m, 0x48, segment(0, 0xFFF, 0x9A, 0x4));
        setGdt(m, 0x50, gate(0, TSS32_SEL, 0x85, 0));
    }

    @Test
    void conformingCodeKeepsTheCallersPrivilege() {
        TestMachine m = pm32(RING3_32 + """
                call 0x40:fn
                ud2
            fn: mov ebx, cs
                retf
            """);
        setGdt(m, 0x40, segment(0, 0xFFFFF, 0x9E, 0xC));
        assertEquals(EXC_UD, runToStub(m, 100));
        assertEquals(0x43, m.reg(RBX) & 0xFFFF, "CS.RPL stays 3");
        assertEquals(USER_CODE32, stack32(m, 4), "RETF returned to ring 3 code");
    }

    // ---- call gates ----

    @Test
    void callGateToRing0CopiesParametersAndRetfReturnsToRing3() {
        TestMachine m = pm32(RING3_32 + """
                push 0x1111
                push 0x2222
                mov esi, offset 1f
                call 0x43:0
            1:  mov edi, esp
                ud2
            .org 0x800
                mov ax, 0x10
                mov ds, ax
                mov ax, 0x23
                mov es, ax
                mov eax, [esp]
                mov [0x6000], eax
                mov eax, [esp + 4]
                mov [0x6004], eax
                mov eax, [esp + 8]
                mov [0x6008], eax
                mov eax, [esp + 12]
                mov [0x600C], eax
                mov eax, [esp + 16]
                mov [0x6010], eax
                mov eax, [esp + 20]
                mov [0x6014], eax
                mov [0x6018], esp
                mov [0x601C], ss
                retf 8
            """);
        setGdt(m, 0x40, gate(KERNEL, CODE32, 0xEC, 2));
        assertEquals(EXC_UD, runToStub(m, 1000));
        assertEquals(m.reg(RSI), u32(m, DATA), "return EIP");
        assertEquals(USER_CODE32, u32(m, DATA + 4));
        assertEquals(0x2222, u32(m, DATA + 8), "parameters copied in order");
        assertEquals(0x1111, u32(m, DATA + 12));
        assertEquals(USER_STACK - 8, u32(m, DATA + 16), "caller's ESP");
        assertEquals(USER_DATA32, u32(m, DATA + 20), "caller's SS");
        assertEquals(KERNEL_STACK - 24, u32(m, DATA + 24), "ESP0 from the TSS minus the frame");
        assertEquals(DATA32, m.memory.readU16(DATA + 28));
        assertEquals(USER_STACK, m.reg(RDI), "RETF 8 released the parameters on the caller's stack");
        assertEquals(USER_CODE32, stack32(m, 4), "back at CPL 3");
        assertEquals(0, m.cpu.segSel[DS], "DS of DPL 0 nulled on the return to CPL 3");
        assertEquals(USER_DATA32, m.cpu.segSel[ES], "ES of DPL 3 kept");
    }

    @Test
    void jumpThroughCallGate() {
        TestMachine same = pm32("""
                jmp 0x40:0
            .org 0x800
                mov ebx, cs
                mov ecx, esp
                hlt
            """);
        setGdt(same, 0x40, gate(KERNEL, CODE32, 0x8C, 0));
        assertEquals(-1, runToStub(same, 100));
        assertEquals(CODE32, same.reg(RBX) & 0xFFFF);
        assertEquals(KERNEL_STACK, same.reg(RCX));

        TestMachine inward = pm32(RING3_32 + "jmp 0x43:0\n hlt");
        setGdt(inward, 0x40, gate(KERNEL, CODE32, 0xEC, 0));
        assertEquals(EXC_GP, runToStub(inward, 100));
        assertEquals(CODE32, stack32(inward, 0), "JMP cannot enter more privileged code");

        TestMachine gateDpl = pm32(RING3_32 + "call 0x43:0\n hlt");
        setGdt(gateDpl, 0x40, gate(KERNEL, CODE32, 0x8C, 0));
        assertEquals(EXC_GP, runToStub(gateDpl, 100));
        assertEquals(0x40, stack32(gateDpl, 0), "gate DPL below CPL");
    }

    @Test
    void retfToOuterLevelChecksTheStackSegment() {
        TestMachine m = pm32("""
                push 0x13
                push 0x70000
                push 0x1B
                push offset 1f
                mov ebx, esp
                retf
            1:  hlt
            """);
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(0x10, stack32(m, 0));
        assertEquals(m.reg(RBX) - 16, m.reg(RSP), "nothing was popped");
        assertEquals(0, m.cpu.cpl);
    }

    // ---- IRET ----

    @Test
    void iretAtCpl3CannotChangeIoplOrIf() {
        TestMachine m = pm32(RING3_32 + """
                push 0x3203
                push 0x1B
                push offset 1f
                iretd
            1:  pushfd
                pop ebx
                ud2
            """);
        assertEquals(EXC_UD, runToStub(m, 100));
        assertEquals(CF | RFLAGS_FIXED1, m.reg(RBX) & (CF | IF | IOPL | RFLAGS_FIXED1));
    }

    @Test
    void iretWithNestedTaskFlagIsRefused() {
        TestMachine m = pm32("iretd");
        m.cpu.setRflags(RFLAGS_FIXED1 | NT);
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(0, stack32(m, 0));
    }

    @Test
    void iretToVirtual8086ModeIsRefused() {
        TestMachine m = pm32("""
                push 0
                push 0
                push 0
                push 0
                push 0x23
                push 0x1000
                push 0x20002
                push 0x1000
                push 0x100
                iretd
            """);
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(0, m.cpu.rflags & VM);
    }

    @Test
    void iretqToNonCanonicalRipRaisesGp0WithoutPopping() {
        TestMachine m = lm64("""
                push 0x10
                push 0x70000
                push 2
                push 0x08
                mov rax, 0x800000000000
                push rax
                mov rbx, rsp
                iretq
            """);
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(0, stack64(m, 0));
        assertEquals(m.reg(RBX), stack64(m, 32), "RSP still points at the IRET frame");
    }

    @Test
    void iretqAtTheSamePrivilegePopsSsAndRsp() {
        TestMachine m = lm64("""
                push 0
                push 0x12340
                push 2
                push 0x08
                lea rax, [rip + 1f]
                push rax
                iretq
            1:  mov rbx, rsp
                hlt
            """);
        assertEquals(-1, runToStub(m, 100));
        assertEquals(0x12340, m.reg(RBX));
        assertEquals(0, m.cpu.segSel[SS], "a null SS is allowed at CPL 0");
        assertEquals(0, m.cpu.cpl);
    }

    @Test
    void intoRaisesOverflowOnlyWhenOfIsSet() {
        TestMachine m = pm32("""
                mov al, 1
                add al, 1
                into
                mov ebx, 1
                mov al, 0x7F
                add al, 1
                mov esi, offset 1f
                into
            1:  hlt
            """);
        assertEquals(EXC_OF, runToStub(m, 100));
        assertEquals(1, m.reg(RBX));
        assertEquals(m.reg(RSI), stack32(m, 0), "INTO saves the next EIP");
        TestMachine in64 = lm64(".byte 0xCE\n hlt");
        assertEquals(EXC_UD, runToStub(in64, 100));
    }

    // ---- IA-32e far transfers ----

    @Test
    void farJumpThroughM16Colon64AndM16Colon32() {
        TestMachine m = lm64("""
                lea rax, [rip + 1f]
                mov [0x5000], rax
                mov word ptr [0x5008], 0x08
                .byte 0x48, 0xff, 0x2c, 0x25, 0x00, 0x50, 0x00, 0x00
                hlt
            1:  inc ebx
                lea rax, [rip + 2f]
                mov [0x5010], eax
                mov word ptr [0x5014], 0x08
                jmp fword ptr [0x5010]
                hlt
            2:  inc ebx
                hlt
            """);
        assertEquals(-1, runToStub(m, 100));
        assertEquals(2, m.reg(RBX));
        assertEquals(Decoder.CODE64, m.cpu.codeMode);
    }

    @Test
    void callGate64ToRing0AndRetfqBack() {
        TestMachine m = lm64(RING3_64 + """
                mov dword ptr [0x5000], 0
                mov word ptr [0x5004], 0x43
                lea rsi, [rip + 1f]
                call fword ptr [0x5000]
            1:  mov rdi, rsp
                ud2
            .org 0x800
                mov rax, [rsp]
                mov [0x6000], rax
                mov rax, [rsp + 8]
                mov [0x6008], rax
                mov rax, [rsp + 16]
                mov [0x6010], rax
                mov rax, [rsp + 24]
                mov [0x6018], rax
                mov [0x6020], rsp
                mov [0x6028], ss
                .byte 0x48, 0xcb
            """);
        set16(m, GDT + 0x40, KERNEL, TestMachine.CODE64_SEL, 0xEC, 0);
        assertEquals(EXC_UD, runToStub(m, 1000));
        assertEquals(m.reg(RSI), u64(m, DATA));
        assertEquals(TestMachine.USER_CODE64, u64(m, DATA + 8));
        assertEquals(USER_STACK, u64(m, DATA + 16));
        assertEquals(TestMachine.USER_DATA, u64(m, DATA + 24));
        assertEquals(TestMachine.STACK_TOP - 32, u64(m, DATA + 32), "RSP0 from the 64-bit TSS");
        assertEquals(0, m.memory.readU16(DATA + 40), "null SS in the called ring-0 code");
        assertEquals(USER_STACK, m.reg(RDI), "RETFQ popped SS:RSP of ring 3");
        assertEquals(TestMachine.USER_CODE64, stack64(m, 8));
    }

    @Test
    void callGate64RejectsANonZeroUpperType() {
        TestMachine m = lm64("""
                mov dword ptr [0x5000], 0
                mov word ptr [0x5004], 0x40
                call fword ptr [0x5000]
                hlt
            """);
        set16(m, GDT + 0x40, KERNEL, TestMachine.CODE64_SEL, 0x8C, 0);
        m.memory.writeU8(GDT + 0x40 + 13, 0x0C);
        assertEquals(EXC_GP, runToStub(m, 100));
        assertEquals(0x40, stack64(m, 0));
    }

    // ---- SYSCALL / SYSRET ----

    private static TestMachine syscallMachine(String user, String kernel) {
        TestMachine m = lm64(RING3_64 + user + "\n.org 0x800\n" + kernel);
        m.cpu.star = 0x0018_0008_0000_0000L;
        m.cpu.lstar = KERNEL;
        m.cpu.sfmask = DF;
        return m;
    }

    @Test
    void syscallAndSysretRoundTrip() {
        TestMachine m = syscallMachine("""
                std
                mov rbx, 42
                lea rsi, [rip + 1f]
                syscall
            1:  pushfq
                pop rdx
                ud2
            """, """
                mov [0x6000], rcx
                mov [0x6008], r11
                pushfq
                pop qword ptr [0x6010]
                mov [0x6018], cs
                mov [0x601A], ss
                inc rbx
                .byte 0x48, 0x0f, 0x07
            """);
        assertEquals(EXC_UD, runToStub(m, 1000));
        assertEquals(43, m.reg(RBX));
        assertEquals(m.reg(RSI), u64(m, DATA), "RCX = next RIP");
        assertEquals(DF, u64(m, DATA + 8) & DF, "R11 = RFLAGS");
        assertEquals(0, u64(m, DATA + 16) & DF, "SFMASK cleared DF");
        assertEquals(TestMachine.CODE64_SEL, m.memory.readU16(DATA + 24));
        assertEquals(TestMachine.DATA_SEL, m.memory.readU16(DATA + 26));
        assertEquals(DF, m.reg(RDX) & DF, "SYSRET restored RFLAGS from R11");
        assertEquals(TestMachine.USER_CODE64, stack64(m, 8));
        assertEquals(TestMachine.USER_DATA, stack64(m, 32));
    }

    @Test
    void singleStepTrapsFollowTfAsSyscallAndSysretLeaveIt() {
        // TF set by POPFQ would trap after the SYSCALL, but SYSCALL clears it through IA32_FMASK
        // and so takes no #DB on the kernel's first instruction; SYSRET loading TF = 1 from R11
        // traps at once, at the user's return address.
        TestMachine m = syscallMachine("""
                lea rsi, [rip + 1f]
                pushfq
                or qword ptr [rsp], 0x100
                popfq
                syscall
            1:  hlt
            """, """
                mov [0x6000], cs
                .byte 0x48, 0x0f, 0x07
            """);
        m.cpu.sfmask = TF | DF;
        assertEquals(EXC_DB, runToStub(m, 1000));
        assertEquals(TestMachine.CODE64_SEL, m.memory.readU16(DATA), "the kernel ran");
        assertEquals(m.reg(RSI), stack64(m, 0), "trapped after SYSRET, before the user's next instruction");
        assertEquals(TestMachine.USER_CODE64, stack64(m, 8));
    }

    @Test
    void sysretToCompatibilityMode() {
        TestMachine m = syscallMachine("""
                lea rcx, [rip + 1f]
                syscall
            .code32
            1:  mov ebx, cs
                mov edx, ss
                ud2
            .code64
            """, """
                .byte 0x0f, 0x07
            """);
        assertEquals(EXC_UD, runToStub(m, 1000));
        assertEquals(0x1B, m.reg(RBX));
        assertEquals(0x23, m.reg(RDX));
        assertEquals(0x1B, stack64(m, 8), "faulted in compatibility mode at CPL 3");
    }

    @Test
    void syscallFromCompatibilityModeUsesCstar() {
        // SYSRETL from ring 0 enters compatibility mode at CPL 3; SYSCALL from there goes to CSTAR.
        TestMachine m = lm64(".byte 0x0f, 0x07");
        m.memory.write(0x9000, Asm.assemble(".intel_syntax noprefix\n mov esi, 0x9123\n syscall\n", 32, 0x9000));
        m.memory.write(0xA000, new byte[] {(byte) 0xF4});
        m.cpu.star = 0x0018_0008_0000_0000L;
        m.cpu.cstar = 0xA000;
        m.cpu.gpr[RCX] = 0x9000;
        assertEquals(Exit.HALT, m.run(100));
        assertEquals(0x9123, m.reg(RSI), "ran the compatibility-mode code");
        assertEquals(0x9000 + 7, m.reg(RCX), "RCX = EIP after the SYSCALL");
        assertEquals(TestMachine.CODE64_SEL, m.cpu.segSel[CS]);
        assertEquals(Decoder.CODE64, m.cpu.codeMode);
        assertEquals(0, m.cpu.cpl);
    }

    @Test
    void sysretChecks() {
        TestMachine nonCanonical = lm64("mov rcx, 0x800000000000\n .byte 0x48, 0x0f, 0x07");
        nonCanonical.cpu.star = 0x0018_0008_0000_0000L;
        assertEquals(EXC_GP, runToStub(nonCanonical, 100));
        assertEquals(TestMachine.CODE64_SEL, stack64(nonCanonical, 16), "the #GP is taken at CPL 0");

        TestMachine atCpl3 = syscallMachine(".byte 0x48, 0x0f, 0x07", "");
        assertEquals(EXC_GP, runToStub(atCpl3, 100));
        assertEquals(TestMachine.USER_CODE64, stack64(atCpl3, 16));

        TestMachine disabled = syscallMachine("syscall", "");
        disabled.cpu.efer &= ~EFER_SCE;
        assertEquals(EXC_UD, runToStub(disabled, 100));
    }

    // ---- SYSENTER / SYSEXIT ----

    @Test
    void sysenterAndSysexitIn64BitMode() {
        TestMachine m = lm64(RING3_64 + """
                lea rsi, [rip + 1f]
                sysenter
                hlt
            1:  mov rdi, rsp
                ud2
            .org 0x800
                mov [0x6000], rsp
                mov [0x6008], cs
                mov [0x600A], ss
                pushfq
                pop qword ptr [0x6010]
                mov rcx, 0x6FF00
                mov rdx, rsi
                .byte 0x48, 0x0f, 0x35
            """);
        m.cpu.sysenterCs = TestMachine.CODE64_SEL;
        m.cpu.sysenterEsp = 0x6_0000;
        m.cpu.sysenterEip = KERNEL;
        assertEquals(EXC_UD, runToStub(m, 1000));
        assertEquals(0x6_0000, u64(m, DATA));
        assertEquals(TestMachine.CODE64_SEL, m.memory.readU16(DATA + 8));
        assertEquals(TestMachine.DATA_SEL, m.memory.readU16(DATA + 10));
        assertEquals(0, u64(m, DATA + 16) & IF);
        assertEquals(0x6FF00, m.reg(RDI), "SYSEXIT: RSP = RCX");
        assertEquals(TestMachine.USER_CODE64, stack64(m, 8), "SYSENTER_CS + 32, RPL 3");
    }

    @Test
    void sysenterAndSysexitInProtectedMode() {
        TestMachine m = pm32(RING3_32 + """
                mov esi, offset 1f
                sysenter
            1:  mov ebx, cs
                mov edi, esp
                ud2
            .org 0x800
                mov ax, 0x10
                mov ds, ax
                mov [0x6000], esp
                mov ecx, 0x6FF00
                mov edx, esi
                sysexit
            """);
        m.cpu.sysenterCs = CODE32;
        m.cpu.sysenterEsp = 0x6_0000;
        m.cpu.sysenterEip = KERNEL;
        assertEquals(EXC_UD, runToStub(m, 1000));
        assertEquals(0x6_0000, u32(m, DATA));
        assertEquals(USER_CODE32, m.reg(RBX), "SYSENTER_CS + 16, RPL 3");
        assertEquals(USER_DATA32, stack32(m, 16), "SS = CS + 8");
        assertEquals(0x6FF00, m.reg(RDI));
    }

    @Test
    void sysenterAndSysexitChecks() {
        TestMachine nullCs = pm32("sysenter");
        assertEquals(EXC_GP, runToStub(nullCs, 100));
        TestMachine atCpl3 = pm32(RING3_32 + "sysexit");
        atCpl3.cpu.sysenterCs = CODE32;
        assertEquals(EXC_GP, runToStub(atCpl3, 100));
        assertEquals(USER_CODE32, stack32(atCpl3, 8));
    }
}
