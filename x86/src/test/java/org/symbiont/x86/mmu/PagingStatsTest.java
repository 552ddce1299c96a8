package org.symbiont.x86.mmu;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * What each paging mode counts and charges: walk references per TLB miss (4 native, 24 nested
 * with 4 KiB nested entries, 19 with 2 MiB ones, 4 for a shadow-table lookup), TLB flushes, and
 * the shadow pager's faults, fills, injected guest faults and page-table writes.
 */
class PagingStatsTest {
    static final long V = 0x80_0000_0000L;
    static final long PDPT_T = 0x30000, PD_T = 0x31000, PT_T = 0x32000, PAGES = 0x40_0000;

    /** Long mode with PML4[1] -> PDPT_T -> PD_T -> PT_T mapping V + 4 KiB * n to PAGES + 4 KiB * n. */
    static TestMachine machine(String intel) {
        TestMachine m = TestMachine.longMode();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + intel, 64, TestMachine.CODE));
        m.memory.writeU64(TestMachine.PML4 + 8, PDPT_T | 7);
        m.memory.writeU64(PDPT_T, PD_T | 7);
        m.memory.writeU64(PD_T, PT_T | 7);
        for (int n = 0; n < 64; n++) m.memory.writeU64(PT_T + 8L * n, (PAGES + 0x1000L * n) | 3);
        return m;
    }

    static final String TOUCH_8_RELOAD_TOUCH_8 = """
                mov rax, 0x8000000000
                mov ecx, 8
            1:  mov rbx, [rax]
                add rax, 0x1000
                dec ecx
                jnz 1b
                hlt
                mov rdx, cr3
                mov cr3, rdx
                mov rax, 0x8000000000
                mov ecx, 8
            2:  mov rbx, [rax]
                add rax, 0x1000
                dec ecx
                jnz 2b
                hlt
            """;

    @Test
    void aNativeFourLevelMissCostsFourReferences() {
        try (TestMachine m = machine("hlt")) {
            m.virtualize(PagingMode.NATIVE, ShadowStrategy.VTLB, new PagingCosts(10, 100));
            PagingStats before = m.cpu.mmu.stats();
            long cycles = m.cpu.extraCycles;
            m.cpu.mmu.translate(DS, V + 0x1234, Cpu.ACCESS_READ, false);
            PagingStats after = m.cpu.mmu.stats();
            assertEquals(1, after.walks() - before.walks());
            assertEquals(4, after.walkReferences() - before.walkReferences());
            assertEquals(40, m.cpu.extraCycles - cycles);
            m.cpu.mmu.flushNonGlobal();
            assertEquals(1, m.cpu.mmu.stats().tlbFlushes() - after.tlbFlushes());
            assertEquals(140, m.cpu.extraCycles - cycles);
        }
    }

    @Test
    void aNestedMissWalksInTwoDimensions() {
        for (boolean large : new boolean[] {false, true}) {
            try (TestMachine m = machine("mov rax, 0x8000000000\n mov rbx, [rax]\n hlt")) {
                m.cpu.mmu.configure(PagingMode.NESTED, ShadowStrategy.VTLB, new PagingCosts(1, 0));
                m.nestedPager = new NestedPager(m.memory, large);
                m.cpu.mmu.attach(m.nestedPager);
                assertEquals(Exit.HALT, m.run(1000));
                PagingStats ran = m.cpu.mmu.stats();
                assertTrue(ran.nestedFaults() > 0, "the nested table is filled lazily");
                assertEquals(0, ran.shadowFaults());
                m.cpu.mmu.flushAll();
                PagingStats before = m.cpu.mmu.stats();
                long cycles = m.cpu.extraCycles;
                assertEquals(PAGES + 0x234, m.cpu.mmu.translate(DS, V + 0x234, Cpu.ACCESS_READ, false));
                PagingStats after = m.cpu.mmu.stats();
                // 4 guest entries, each behind a nested walk, then the nested walk of the page itself.
                long expected = large ? 4 * (3 + 1) + 3 : 4 * (4 + 1) + 4;
                assertEquals(expected, after.walkReferences() - before.walkReferences(), "large nested pages: " + large);
                assertEquals(expected, m.cpu.extraCycles - cycles);
                assertEquals(ran.nestedFaults(), after.nestedFaults(), "no new nested fault");
            }
        }
    }

    @Test
    void nestedPagingHasNoExitsForCr3Writes() {
        try (TestMachine m = machine(TOUCH_8_RELOAD_TOUCH_8)) {
            m.virtualize(PagingMode.NESTED, ShadowStrategy.VTLB, PagingCosts.FREE);
            assertEquals(Exit.HALT, m.run(1000));
            long faults = m.cpu.mmu.stats().nestedFaults();
            m.cpu.halted = false;
            assertEquals(Exit.HALT, m.run(1000));
            PagingStats s = m.cpu.mmu.stats();
            assertEquals(faults, s.nestedFaults(), "the nested table outlives CR3 writes");
            assertEquals(1, s.cr3Writes());
            assertEquals(0, s.shadowFaults());
        }
    }

    /** Shadow faults of the second round (after the CR3 reload) of {@link #TOUCH_8_RELOAD_TOUCH_8}. */
    static long[] shadowRounds(ShadowStrategy strategy) {
        try (TestMachine m = machine(TOUCH_8_RELOAD_TOUCH_8)) {
            m.virtualize(PagingMode.SHADOW, strategy, new PagingCosts(1, 0));
            assertEquals(Exit.HALT, m.run(1000));
            PagingStats first = m.cpu.mmu.stats();
            m.cpu.halted = false;
            assertEquals(Exit.HALT, m.run(1000));
            PagingStats second = m.cpu.mmu.stats();
            assertEquals(1, second.cr3Writes());
            assertEquals(0, second.guestFaultsInjected());
            assertEquals(second.shadowFaults(), second.shadowFills(), "every fault filled an entry");
            return new long[] {first.shadowFaults(), second.shadowFaults() - first.shadowFaults()};
        }
    }

    @Test
    void aVirtualTlbRefaultsAfterACr3ReloadAndCachedShadowTablesDoNot() {
        long[] vtlb = shadowRounds(ShadowStrategy.VTLB);
        long[] cached = shadowRounds(ShadowStrategy.CACHED);
        // First round: the 8 pages, the code page and the stack... the same for both.
        assertTrue(vtlb[0] >= 9, "first round faults " + vtlb[0]);
        assertEquals(vtlb[0], cached[0]);
        // Second round: the VTLB was emptied by the CR3 write: the 8 pages and the code fault again.
        assertEquals(9, vtlb[1]);
        assertEquals(0, cached[1]);
    }

    @Test
    void aShadowTlbMissIsAShadowTableLookup() {
        try (TestMachine m = machine("mov rax, 0x8000000000\n mov rbx, [rax]\n hlt")) {
            m.virtualize(PagingMode.SHADOW, ShadowStrategy.VTLB, new PagingCosts(1, 0));
            assertEquals(Exit.HALT, m.run(1000));
            m.cpu.mmu.flushAll();    // also empties the shadow tables
            assertEquals(Exit.ShadowFault.class, exitOf(m, () -> m.cpu.mmu.translate(DS, V, Cpu.ACCESS_READ, false)));
            PagingStats before = m.cpu.mmu.stats();
            m.shadowPager.handleFault(V, Cpu.ACCESS_READ, false);
            PagingStats filled = m.cpu.mmu.stats();
            assertEquals(1, filled.shadowFaults() - before.shadowFaults());
            assertEquals(1, filled.shadowFills() - before.shadowFills());
            assertEquals(4, filled.walkReferences() - before.walkReferences(), "the VMM's walk of the guest tables");
            assertEquals(PAGES, m.cpu.mmu.translate(DS, V, Cpu.ACCESS_READ, false));
            PagingStats after = m.cpu.mmu.stats();
            assertEquals(4, after.walkReferences() - filled.walkReferences(), "a 4-level shadow-table lookup");
            assertEquals(1, after.walks() - filled.walks());
        }
    }

    /** The exit {@code r} leaves with (the VMM's view of it), or null. */
    private static Class<?> exitOf(TestMachine m, Runnable r) {
        try {
            r.run();
            return null;
        } catch (org.symbiont.x86.exec.ExitSignal x) {
            Exit e = m.cpu.takeExit();
            m.cpu.pendingExit = null;
            return e.getClass();
        }
    }

    @Test
    void guestFaultsAndPageTableWritesAreCounted() {
        String program = """
                mov rax, 0x8000000000
                mov rbx, [rax]
                mov qword ptr [0x32000], 0x401003
                invlpg [rax]
                mov rbx, [rax]
                mov rax, 0x8000100000
                mov rbx, [rax]            # not present: #PF
                hlt
                """;
        for (ShadowStrategy strategy : ShadowStrategy.values()) {
            try (TestMachine m = machine(program)) {
                m.virtualize(PagingMode.SHADOW, strategy, PagingCosts.FREE);
                assertEquals(Exit.HALT, m.run(1000));
                assertEquals(java.util.List.of((long) EXC_PF), m.reports);
                PagingStats s = m.cpu.mmu.stats();
                assertEquals(1, s.guestFaultsInjected());
                assertEquals(1, s.invlpgs());
                assertEquals(strategy == ShadowStrategy.CACHED ? 1 : 0, s.pageTableWrites(), strategy.name());
            }
        }
    }
}
