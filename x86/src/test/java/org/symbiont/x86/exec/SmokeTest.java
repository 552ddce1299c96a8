package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

class SmokeTest {
    @Test
    void addsAndHalts() {
        try (TestMachine m = TestMachine.longMode()) {
            // mov rax, 5; mov rbx, 7; add rax, rbx; hlt
            m.load(new byte[] {0x48, (byte) 0xC7, (byte) 0xC0, 5, 0, 0, 0, 0x48, (byte) 0xC7, (byte) 0xC3, 7, 0, 0, 0,
                0x48, 0x01, (byte) 0xD8, (byte) 0xF4});
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(12, m.reg(RAX));
            assertEquals(4, m.cpu.retired);
        }
    }

    @Test
    void sieveCountsPrimes() {
        byte[] code = Asm.assemble("""
            .intel_syntax noprefix
                mov rdi, 0x200000        # flags array
                mov rcx, 10000
                mov rsi, rdi
            1:  mov byte ptr [rsi], 1
                inc rsi
                dec rcx
                jnz 1b
                mov rbx, 2
            2:  mov rax, rbx
                add rax, rbx             # start at 2*i (no multiply needed)
                cmp rax, 10000
                jae 4f
                cmp byte ptr [rdi+rbx], 0
                je 3f
            5:  mov byte ptr [rdi+rax], 0
                add rax, rbx
                cmp rax, 10000
                jb 5b
            3:  inc rbx
                jmp 2b
            4:  xor eax, eax
                mov rbx, 2
            6:  movzx rdx, byte ptr [rdi+rbx]
                add rax, rdx
                inc rbx
                cmp rbx, 10000
                jb 6b
                hlt
            """, 64, TestMachine.CODE);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(code);
            assertEquals(Exit.HALT, m.run(10_000_000));
            assertEquals(1229, m.reg(RAX));
        }
    }
}
