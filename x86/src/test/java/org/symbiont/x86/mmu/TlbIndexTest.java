package org.symbiont.x86.mmu;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

class TlbIndexTest {

    @Test
    void consecutivePagesNeverShareASlot() {
        // The accessors' single-compare hit test depends on it: an access spanning pages p and
        // p+1 must not match a tag for p+1 stored in p's slot.
        SplittableRandom r = new SplittableRandom(7);
        for (int k = 0; k < 1_000_000; k++) {
            long la = r.nextLong() & ~0xFFFL;
            assertNotEquals(Cpu.tlbIndex(la), Cpu.tlbIndex(la + 0x1000), () -> Long.toHexString(la));
        }
        for (long p = 0; p < (1L << 22); p++) {
            long la = p << 12;
            assertNotEquals(Cpu.tlbIndex(la), Cpu.tlbIndex(la + 0x1000));
        }
    }

    @Test
    void arraysAPowerOfTwoApartDoNotEvictEachOther() {
        // a[i] = b[i] + c[i] over arrays 8 MiB apart: with slots taken from the low page-number
        // bits alone all three would share a slot and every access would walk the page tables.
        byte[] code = Asm.assemble("""
            .intel_syntax noprefix
                mov rsi, 0x1000000
                mov rdi, 0x1800000
                mov rdx, 0x2000000
                xor ecx, ecx
            1:  mov rax, [rdi + rcx*8]
                add rax, [rdx + rcx*8]
                mov [rsi + rcx*8], rax
                inc rcx
                cmp rcx, 8192
                jb 1b
                hlt
            """, 64, TestMachine.CODE);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(code);
            long walksBefore = m.cpu.mmu.walks;
            assertEquals(Exit.HALT, m.run(1_000_000));
            long walks = m.cpu.mmu.walks - walksBefore;
            // 3 arrays x 16 pages, plus code and a few first touches; 24,576 accesses in all.
            assertTrue(walks < 120, "page walks: " + walks);
        }
    }
}
