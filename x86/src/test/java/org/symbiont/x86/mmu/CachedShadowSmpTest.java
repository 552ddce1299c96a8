package org.symbiont.x86.mmu;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * Cached shadow tables on two vCPUs: a guest page-table page one vCPU's pager protects is
 * protected on the other too, and the other's write reaches the first pager, which drops the
 * entries it backs before the guest's shootdown (a CR3 reload or INVLPG) completes.
 */
class CachedShadowSmpTest {
    static final long V = PagingStatsTest.V, PAGES = PagingStatsTest.PAGES, PT_T = PagingStatsTest.PT_T;

    /** Runs {@code c} to HLT, answering its shadow exits with {@code pager}. */
    static void runToHalt(Cpu c, ShadowPager pager) {
        while (true) {
            Exit e = c.run(10_000);
            switch (e) {
                case Exit.ShadowFault f -> pager.handleFault(f.linear(), f.access(), f.user());
                case Exit.ShadowCr3Write w -> pager.cr3Written(w.cr3());
                case Exit.ShadowInvlpg i -> pager.invlpg(i.linear());
                case Exit.ShadowPageTableWrite w -> pager.pageTableWritten(w.guestPhysical(), w.size());
                case Exit.Halt h -> {
                    c.halted = false;
                    return;
                }
                default -> fail("vCPU " + c.id + " stopped with " + e);
            }
            c.completePagingFault();
        }
    }

    @Test
    void aPteWrittenOnOneVcpuIsSeenOnTheOtherAfterItsShootdown() {
        for (String shootdown : new String[] {"mov rdx, cr3\n mov cr3, rdx", "invlpg [rax]"}) {
            try (TestMachine m = PagingStatsTest.machine("""
                    mov rax, 0x8000000000
                    mov rbx, [rax]
                    hlt
                    %s
                    mov rcx, [rax]
                    hlt
                    """.formatted(shootdown))) {
                m.memory.write(TestMachine.CODE + 0x1000, Asm.assemble("""
                        .intel_syntax noprefix
                        mov qword ptr [0x32000], 0x405003
                        hlt
                        """, 64, TestMachine.CODE + 0x1000));
                m.memory.writeU64(PAGES, 0xAAAA);
                m.memory.writeU64(PAGES + 0x5000, 0x5555);
                Cpu a = m.cpu, b = m.addCpu(1, TestMachine.STACK_TOP - 0x1000);
                b.rip = TestMachine.CODE + 0x1000;
                a.mmu.configure(PagingMode.SHADOW, ShadowStrategy.CACHED, PagingCosts.FREE);
                b.mmu.configure(PagingMode.SHADOW, ShadowStrategy.CACHED, PagingCosts.FREE);
                ShadowPager pa = new ShadowPager(a, ShadowStrategy.CACHED), pb = new ShadowPager(b, ShadowStrategy.CACHED);
                a.mmu.attach(pa);
                b.mmu.attach(pb);

                runToHalt(a, pa);                   // A caches V -> PAGES, protecting the guest tables
                assertEquals(0xAAAA, a.gpr[RBX]);
                runToHalt(b, pb);                   // B edits the PTE: an exit on B
                assertEquals(1, b.mmu.stats().pageTableWrites());
                assertEquals(PAGES + 0x5000 | 3, m.memory.readU64(PT_T));
                runToHalt(a, pa);                   // A's shootdown, then the new translation
                assertEquals(0x5555, a.gpr[RCX], shootdown);
                b.detach();
            }
        }
    }
}
