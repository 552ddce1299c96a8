package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/** Near Jcc, JMP, CALL, RET, LOOPcc, JrCXZ, and the conditions they test. */
class ControlTransferTest {
    private static final String[] CONDITIONS = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"};

    @Test
    void everyConditionAfterEveryKindOfFlagProducerMatchesTheHost() {
        // SETcc reads conditions the way Jcc does (Flags.cond); each producer leaves its flags in a
        // different lazy form: CMP/SUB and TEST read from operands, others from flags.
        String[] producers = {
            "cmp rax, rbx", "cmp eax, ebx", "cmp al, bl", "cmp ax, bx", "sub rax, rbx", "test rax, rbx", "and ecx, edx",
            "add rax, rbx", "adc eax, ebx", "sbb ax, bx", "inc rax", "dec ecx", "neg rax", "xor al, bl",
            "shl rax, cl", "sar eax, 1", "imul rax, rbx", "popf",
        };
        HostCrossCheck x = new HostCrossCheck();
        SplittableRandom rnd = new SplittableRandom(3);
        for (String p : producers) {
            String setup = p.equals("popf") ? "push rsi; popf" : p;
            // After IMUL only CF and OF are defined; after shifts AF (and OF for counts above 1)
            // is not. Only conditions built from defined flags are compared.
            String usable = p.startsWith("imul") ? "b ae o no" : p.startsWith("shl") || p.startsWith("sar")
                    ? "b ae e ne be a s ns p np" : null;
            long defined = p.startsWith("imul") ? CF | OF : usable != null ? CF | ZF | SF | PF : STATUS_FLAGS;
            for (String cc : CONDITIONS) {
                if (usable != null && !(" " + usable + " ").contains(" " + cc + " ")) continue;
                int insn = x.instruction(setup + "; set" + cc + " dl", defined);
                for (int k = 0; k < 60; k++) {
                    long[] s = HostCrossCheck.randomState(rnd);
                    if (rnd.nextBoolean()) s[HostCrossCheck.RBX_W] = s[HostCrossCheck.RAX_W] + rnd.nextInt(3) - 1;
                    s[HostCrossCheck.RSI_W] &= STATUS_FLAGS | 2;
                    x.add(insn, s);
                }
            }
        }
        x.assertSameAsHost();
    }

    @Test
    void callAndReturnUseTheStackAndRetImmPopsMore() {
        try (TestMachine m = longMode("""
                mov rbx, rsp
                push 0x1234
                call f
                mov rcx, rsp
                hlt
            f:  mov rax, [rsp]
                ret 8
                """)) {
            runToHalt(m);
            long start = m.reg(RBX);
            assertEquals(start, m.reg(RCX), "RET 8 popped the return address and the pushed word");
            assertEquals(TestMachine.CODE + 3 + 5 + 5, m.reg(RAX), "return address is the instruction after CALL");
        }
    }

    @Test
    void indirectJumpsAndCallsThroughRegistersAndMemory() {
        try (TestMachine m = longMode("""
                lea rax, [rip + t1]
                jmp rax
                hlt
            t1: lea rbx, [rip + t2]
                mov [rip + slot], rbx
                call qword ptr [rip + slot]
                mov r9, 1
                hlt
            t2: mov r8, 2
                ret
            slot: .quad 0
                """)) {
            runToHalt(m);
            assertEquals(2, m.reg(R8));
            assertEquals(1, m.reg(R9));
        }
    }

    @Test
    void loopVariantsAndJrcxzCountWithTheAddressSize() {
        try (TestMachine m = longMode("""
                mov rcx, 0x100000003
                xor eax, eax
            1:  inc eax
                .byte 0x67               # address size 32: LOOP counts ECX
                loop 1b
                mov r8, rcx
                mov ecx, 5
            4:  inc eax
                loop 4b
                mov ecx, 0x10
                xor ebx, ebx
            2:  inc ebx
                cmp ebx, 3
                loopne 2b
                mov r9, rcx
                mov rcx, 0x100000000
                jecxz 3f
                mov r10, 1
            3:  hlt
                """)) {
            runToHalt(m);
            assertEquals(3 + 5, m.reg(RAX), "LOOP with a 32-bit address size counts ECX only");
            assertEquals(0, m.reg(R8), "and writes ECX, zero-extended");
            assertEquals(3, m.reg(RBX), "LOOPNE stops when ZF is set");
            assertEquals(0xD, m.reg(R9));
            assertEquals(0, m.reg(R10), "JECXZ tests only ECX");
        }
    }

    @Test
    void aNonCanonicalTargetFaultsAtTheBranch() {
        try (TestMachine m = longMode("""
                mov rax, 0x0000800000000000
                jmp rax
                """)) {
            runToFault(m, EXC_GP);
            assertEquals(TestMachine.CODE + 10, faultRipWithError(m), "#GP reported at the JMP, not at the target");
        }
    }

    @Test
    void a16BitOperandBranchInCompatibilityCodeWrapsTheTarget() {
        // 66 E9 rel16 in 32-bit code: EIP is truncated to 16 bits (SDM Vol. 2A, JMP).
        try (TestMachine m = TestMachine.longMode()) {
            m.memory.write(0x1000 - 6, new byte[] {0x66, (byte) 0xE9, 0x02, 0x00}); // jmp 0x1000 (16-bit)
            m.memory.write(0x1000, new byte[] {(byte) 0xF4});
            Segmentation.loadCache(m.cpu, CS, TestMachine.CODE32_SEL, 0x00CF_9A00_0000_FFFFL);
            m.cpu.updateMode();
            m.cpu.rip = 0x1000 - 6;
            assertEquals(Exit.HALT, m.run(10));
            assertEquals(0x1001, m.cpu.rip);
        }
    }
}
