package org.symbiont.x86.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.mmu.PagingCosts;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowPager;
import org.symbiont.x86.mmu.ShadowStrategy;

/**
 * Under shadow paging (VTLB and CACHED) with the VMM's default costs, a VM restored from memory,
 * the shadow pagers' state and the vCPU state (TLB included) continues cycle for cycle: same
 * retired instructions, virtual cycles, registers, memory, paging counters (shadow faults
 * included) and shadow tables as the uninterrupted run, with guests that switch CR3, write their
 * own page tables and use INVLPG; on two vCPUs, with a remote page-table write pending at the cut.
 */
class SnapshotShadowTest {
    static final String CPU = CpuState.sectionName(0);
    static final long RAM = 16 << 20;
    static final PagingCosts COSTS = SnapshotCachesTest.COSTS;
    static final long V = 0x80_0000_0000L;
    /** Root A: the machine's PML4, PML4[1] -> PDPT_A -> PD_A -> PT_A; root B at ROOT_B likewise. */
    static final long PDPT_A = 0x30000, PD_A = 0x31000, PT_A = 0x32000;
    static final long ROOT_B = 0x90000, PDPT_B = 0x91000, PD_B = 0x92000, PT_B = 0x93000;

    @BeforeAll
    static void gnuAs() {
        Asm.assumeAvailable();
    }

    /**
     * Touches 16 pages at V, switches between two address spaces every 8 rounds, and every 5
     * rewrites the PTE of the page it touched (flipping its frame by 1 MiB) and INVLPGs it.
     */
    static final String SWITCHING_PROGRAM = """
            .intel_syntax noprefix
                mov r12, 0x2000
                mov r13, 0x90000
                mov r14, 0x32000
                mov r15, 0x93000
                mov rsi, 0x8000000000
                mov ecx, 300
                xor edi, edi
            l:  mov eax, edi
                and eax, 15
                shl rax, 12
                add rax, rsi
                add qword ptr [rax], rdi
                mov rbx, [rax + 8]
                add r9, rbx
                test edi, 7
                jnz 1f
                xchg r12, r13
                xchg r14, r15
                mov cr3, r12
            1:  mov eax, edi
                xor edx, edx
                mov ebx, 5
                div ebx
                test edx, edx
                jnz 2f
                mov eax, edi
                and eax, 15
                mov rbx, [r14 + rax*8]
                xor rbx, 0x100000
                mov [r14 + rax*8], rbx
                shl rax, 12
                add rax, rsi
                invlpg [rax]
            2:  inc edi
                dec ecx
                jnz l
                hlt
            """;

    /** The two address spaces: V + 4 KiB * n to 0x600000 (A) or 0x400000 (B) + 4 KiB * n; page 3 global. */
    static void addressSpaces(TestMachine m) {
        m.memory.writeU64(ROOT_B, m.memory.readU64(TestMachine.PML4));
        long[][] chains = {{TestMachine.PML4, PDPT_A, PD_A, PT_A, 0x600000}, {ROOT_B, PDPT_B, PD_B, PT_B, 0x400000}};
        for (long[] c : chains) {
            m.memory.writeU64(c[0] + 8, c[1] | 7);
            m.memory.writeU64(c[1], c[2] | 7);
            m.memory.writeU64(c[2], c[3] | 7);
            for (int n = 0; n < 16; n++) m.memory.writeU64(c[3] + 8L * n, (c[4] + 0x1000L * n) | 3 | (n == 3 ? 0x100 : 0));
        }
    }

    static final long[] CUTS = {1, 9, 60, 200, 777, 1500, 2600};

    @Test
    void vtlbContinuesCycleForCycle() throws SnapshotException {
        assertExactAtEveryCut(ShadowStrategy.VTLB, true);
    }

    @Test
    void cachedContinuesCycleForCycle() throws SnapshotException {
        assertExactAtEveryCut(ShadowStrategy.CACHED, true);
    }

    /** Without the shadow pager's state the restored VM takes shadow faults the original did not. */
    @Test
    void withoutTheShadowStateTheRestoreIsInexact() throws SnapshotException {
        for (ShadowStrategy strategy : ShadowStrategy.values()) {
            int inexact = 0;
            for (long cut : CUTS) {
                try (TestMachine original = machine(strategy, SWITCHING_PROGRAM)) {
                    assertEquals(Exit.BUDGET_EXHAUSTED, original.run(cut));
                    try (TestMachine copy = restore(snapshot(original), false)) {
                        assertEquals(Exit.HALT, original.run(10_000_000));
                        assertEquals(Exit.HALT, copy.run(10_000_000));
                        assertArrayEquals(original.cpu.gpr, copy.cpu.gpr, "still correct");
                        if (original.cpu.virtualCycles() != copy.cpu.virtualCycles()) inexact++;
                    }
                }
            }
            assertTrue(inexact > 0, strategy + ": some cut differs without the shadow state");
        }
    }

    private static void assertExactAtEveryCut(ShadowStrategy strategy, boolean restorePager) throws SnapshotException {
        for (String program : List.of(SWITCHING_PROGRAM, SnapshotCachesTest.PAGE_WALKING_PROGRAM)) {
            for (long cut : CUTS) {
                try (TestMachine original = machine(strategy, program)) {
                    if (original.run(cut) != Exit.BUDGET_EXHAUSTED) continue;
                    String where = strategy + ", cut at " + cut + ": ";
                    byte[] file = snapshot(original);
                    try (TestMachine copy = restore(file, restorePager)) {
                        assertEquals(Exit.HALT, original.run(10_000_000), where);
                        assertEquals(Exit.HALT, copy.run(10_000_000), where);
                        assertSame(original, copy, where);
                    }
                    if (program == SWITCHING_PROGRAM) {
                        var stats = original.cpu.mmu.stats();
                        assertTrue(stats.shadowFaults() > 0 && stats.cr3Writes() > 0 && stats.invlpgs() > 0, where + stats);
                        assertEquals(strategy == ShadowStrategy.CACHED, stats.pageTableWrites() > 0, where + stats);
                    }
                }
            }
        }
    }

    static void assertSame(TestMachine original, TestMachine copy, String where) {
        assertArrayEquals(original.cpu.gpr, copy.cpu.gpr, where + "registers");
        assertEquals(original.cpu.retired, copy.cpu.retired, where + "retired instructions");
        assertEquals(original.cpu.mmu.stats(), copy.cpu.mmu.stats(), where + "paging counters");
        assertEquals(original.cpu.virtualCycles(), copy.cpu.virtualCycles(), where + "virtual cycles");
        assertArrayEquals(CpuState.capture(original.cpu).encode(), CpuState.capture(copy.cpu).encode(), where + "CPU state");
        assertArrayEquals(MemoryImage.capture(original.memory), MemoryImage.capture(copy.memory), where + "memory");
        assertArrayEquals(original.shadowPager.saveState(), copy.shadowPager.saveState(), where + "shadow pager state");
    }

    static TestMachine machine(ShadowStrategy strategy, String program) {
        TestMachine m = TestMachine.longMode(RAM);
        addressSpaces(m);
        m.virtualize(PagingMode.SHADOW, strategy, COSTS);
        m.load(Asm.assemble(program, 64, TestMachine.CODE));
        return m;
    }

    /** The file a VMM writes: memory, the shadow pager's state, the vCPU. */
    static byte[] snapshot(TestMachine m) {
        List<SnapshotFormat.Section> sections = new ArrayList<>();
        sections.add(new SnapshotFormat.Section(MemoryImage.SECTION, MemoryImage.capture(m.memory)));
        sections.add(new SnapshotFormat.Section(ShadowPager.sectionName(0), m.shadowPager.saveState()));
        sections.add(new SnapshotFormat.Section(CPU, CpuState.capture(m.cpu).encode()));
        return SnapshotFormat.toBytes(sections);
    }

    /** Restores in the documented order: memory, MMU configured and pager attached, pager state, vCPU. */
    static TestMachine restore(byte[] file, boolean restorePager) throws SnapshotException {
        SnapshotFormat.Contents contents = SnapshotFormat.read(file, name -> true);
        CpuState state = CpuState.decode(CPU, contents.require(CPU));
        TestMachine m = TestMachine.longMode(RAM);
        MemoryImage.restore(MemoryImage.SECTION, contents.require(MemoryImage.SECTION), m.memory, false);
        m.virtualize(state.pagingMode(), state.shadowStrategy(), state.pagingCosts());
        if (restorePager) m.shadowPager.restoreState(contents.require(ShadowPager.sectionName(0)));
        state.restore(m.cpu);
        return m;
    }

    // ---- two vCPUs sharing the write protection ----

    /** Runs {@code c} to HLT (or the budget), answering its shadow exits as the VMM's paging actor does. */
    static Exit run(Cpu c, ShadowPager pager, long budget) {
        long start = c.retired;
        while (c.retired - start < budget) {
            Exit e = c.run(budget - (c.retired - start));
            switch (e) {
                case Exit.ShadowFault f -> pager.handleFault(f.linear(), f.access(), f.user());
                case Exit.ShadowCr3Write w -> pager.cr3Written(w.cr3());
                case Exit.ShadowInvlpg i -> pager.invlpg(i.linear());
                case Exit.ShadowPageTableWrite w -> pager.pageTableWritten(w.guestPhysical(), w.size());
                case Exit.BudgetExhausted b -> { }
                case Exit.Halt h -> {
                    c.halted = false;
                    return e;
                }
                default -> fail("vCPU " + c.id + " stopped with " + e);
            }
            if (!(e instanceof Exit.BudgetExhausted)) c.completePagingFault();
        }
        return Exit.BUDGET_EXHAUSTED;
    }

    /** Two vCPUs: vCPU 0 reads V through root A, vCPU 1 rewrites A's PTEs; both INVLPG and reload CR3. */
    static final String READER = """
            .intel_syntax noprefix
                mov rsi, 0x8000000000
                mov ecx, 200
            l:  mov eax, ecx
                and eax, 15
                shl rax, 12
                add r9, [rsi + rax]
                test ecx, 15
                jnz 1f
                mov rdx, cr3
                mov cr3, rdx
            1:  test ecx, 7
                jnz 2f
                invlpg [rsi + rax]
            2:  dec ecx
                jnz l
                hlt
            """;
    static final String WRITER = """
            .intel_syntax noprefix
                mov r14, 0x32000
                mov ecx, 120
            l:  mov eax, ecx
                and eax, 15
                xor qword ptr [r14 + rax*8], 0x100000
                add r10, [0x200000 + rax*8]
                dec ecx
                jnz l
                hlt
            """;
    static final long WRITER_CODE = TestMachine.CODE + 0x1000;

    record Smp(TestMachine m, Cpu b, ShadowPager pa, ShadowPager pb) implements AutoCloseable {
        @Override
        public void close() {
            b.detach();
            m.close();
        }
    }

    static Smp smp(ShadowStrategy strategy) {
        TestMachine m = TestMachine.longMode(RAM);
        addressSpaces(m);
        m.load(Asm.assemble(READER, 64, TestMachine.CODE));
        m.memory.write(WRITER_CODE, Asm.assemble(WRITER, 64, WRITER_CODE));
        Cpu b = m.addCpu(1, TestMachine.STACK_TOP - 0x1000);
        b.rip = WRITER_CODE;
        m.cpu.mmu.configure(PagingMode.SHADOW, strategy, COSTS);
        b.mmu.configure(PagingMode.SHADOW, strategy, COSTS);
        // Every pager of the VM built before any is attached or restored: all share the watch.
        ShadowPager pa = new ShadowPager(m.cpu, strategy), pb = new ShadowPager(b, strategy);
        m.cpu.mmu.attach(pa);
        b.mmu.attach(pb);
        return new Smp(m, b, pa, pb);
    }

    /** Rounds of {@code slice} instructions each, vCPU 0 then vCPU 1, until both halted or {@code rounds} ran. */
    static int rounds(Smp s, long slice, int rounds) {
        boolean aDone = false, bDone = false;
        int n = 0;
        for (; n < rounds && !(aDone && bDone); n++) {
            if (!aDone) aDone = run(s.m().cpu, s.pa(), slice) == Exit.HALT;
            if (!bDone) bDone = run(s.b(), s.pb(), slice) == Exit.HALT;
        }
        return n;
    }

    @Test
    void twoVcpusWithRemoteWritesPendingContinueCycleForCycle() throws SnapshotException {
        int cutsWithNoticesPending = 0;
        for (ShadowStrategy strategy : ShadowStrategy.values()) {
            for (int cutRounds : new int[] {1, 2, 3, 5, 9, 20}) {
                String where = strategy + ", two vCPUs, cut after " + cutRounds + " rounds: ";
                try (Smp original = smp(strategy)) {
                    rounds(original, 37, cutRounds);
                    byte[] file = SnapshotFormat.toBytes(List.of(
                            new SnapshotFormat.Section(MemoryImage.SECTION, MemoryImage.capture(original.m().memory)),
                            new SnapshotFormat.Section(ShadowPager.sectionName(0), original.pa().saveState()),
                            new SnapshotFormat.Section(ShadowPager.sectionName(1), original.pb().saveState()),
                            new SnapshotFormat.Section(CpuState.sectionName(0), CpuState.capture(original.m().cpu).encode()),
                            new SnapshotFormat.Section(CpuState.sectionName(1), CpuState.capture(original.b()).encode())));
                    SnapshotFormat.Contents contents = SnapshotFormat.read(file, name -> true);
                    if (remoteNoticesPending(original.pa().saveState()) > 0) cutsWithNoticesPending++;
                    try (Smp copy = smp(strategy)) {
                        MemoryImage.restore(MemoryImage.SECTION, contents.require(MemoryImage.SECTION), copy.m().memory, false);
                        copy.pa().restoreState(contents.require(ShadowPager.sectionName(0)));
                        copy.pb().restoreState(contents.require(ShadowPager.sectionName(1)));
                        CpuState.decode(CpuState.sectionName(0), contents.require(CpuState.sectionName(0))).restore(copy.m().cpu);
                        CpuState.decode(CpuState.sectionName(1), contents.require(CpuState.sectionName(1))).restore(copy.b());
                        rounds(original, 37, 1000);
                        rounds(copy, 37, 1000);
                        Cpu[][] pairs = {{original.m().cpu, copy.m().cpu}, {original.b(), copy.b()}};
                        for (Cpu[] p : pairs) {
                            String who = where + "vCPU " + p[0].id + " ";
                            assertArrayEquals(p[0].gpr, p[1].gpr, who + "registers");
                            assertEquals(p[0].retired, p[1].retired, who + "retired");
                            assertEquals(p[0].mmu.stats(), p[1].mmu.stats(), who + "paging counters");
                            assertEquals(p[0].virtualCycles(), p[1].virtualCycles(), who + "virtual cycles");
                            assertArrayEquals(CpuState.capture(p[0]).encode(), CpuState.capture(p[1]).encode(), who + "CPU state");
                        }
                        assertArrayEquals(original.pa().saveState(), copy.pa().saveState(), where + "pager 0");
                        assertArrayEquals(original.pb().saveState(), copy.pb().saveState(), where + "pager 1");
                        assertArrayEquals(MemoryImage.capture(original.m().memory), MemoryImage.capture(copy.m().memory), where + "memory");
                        if (strategy == ShadowStrategy.CACHED) assertTrue(original.b().mmu.stats().pageTableWrites() > 0, where);
                    }
                }
            }
        }
        assertTrue(cutsWithNoticesPending > 0, "some cut falls with vCPU 1's page-table writes not yet acted on by vCPU 0");
    }

    /** The remote-write notices a saved pager state holds (its tail: overflow, pending, count, pages). */
    static int remoteNoticesPending(byte[] body) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int k = 1; k <= 256 && 9 + 8 * k <= body.length; k++) {
            int end = body.length - 8 * k;
            if (b.getInt(end - 4) == k && b.getInt(end - 8) == k && body[end - 9] == 0) return k;
        }
        return 0;
    }

    // ---- malformed sections ----

    private static void assertRefused(String field, org.junit.jupiter.api.function.Executable restore) {
        SnapshotException x = assertThrows(SnapshotException.class, restore);
        assertTrue(x.getMessage().contains(field), x.getMessage());
    }

    @Test
    void malformedShadowStateIsRefusedNamingTheFieldAndLeavesThePagerUnchanged() throws SnapshotException {
        try (TestMachine m = machine(ShadowStrategy.CACHED, SWITCHING_PROGRAM);
             TestMachine target = machine(ShadowStrategy.CACHED, SWITCHING_PROGRAM);
             TestMachine vtlb = machine(ShadowStrategy.VTLB, SWITCHING_PROGRAM)) {
            assertEquals(Exit.BUDGET_EXHAUSTED, m.run(500));
            assertEquals(Exit.BUDGET_EXHAUSTED, target.run(100));
            byte[] body = m.shadowPager.saveState();
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            // Layout: layout u32 @0, strategy u8 @4, table count u32 @5, first table's key u64 @9,
            // its entry count u32 @17, first entry: base @21, mask @29, physical @37, flags @45,
            // backing count @46, first backing page @50.
            assertTrue(b.getInt(5) >= 2 && b.getInt(17) > 0 && b.getInt(46) > 0, "tables, entries and backing pages saved");
            byte[] before = target.shadowPager.saveState();
            java.util.function.BiFunction<Integer, Long, byte[]> withLong = (at, v) -> {
                byte[] c = body.clone();
                java.nio.ByteBuffer.wrap(c).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(at, v);
                return c;
            };
            byte[] layout = body.clone();
            layout[0] = 9;
            assertRefused("layout", () -> target.shadowPager.restoreState(layout));
            assertRefused("strategy", () -> vtlb.shadowPager.restoreState(body));
            byte[] tables = body.clone();
            tables[8] = 0x7F;
            assertRefused("table count", () -> target.shadowPager.restoreState(tables));
            assertRefused("table context key", () -> target.shadowPager.restoreState(withLong.apply(9, b.getLong(9) | 1)));
            assertRefused("entry linear base", () -> target.shadowPager.restoreState(withLong.apply(21, b.getLong(21) | 0x10)));
            assertRefused("entry mask", () -> target.shadowPager.restoreState(withLong.apply(29, 0xFFFF_FFFF_FFF5_5000L)));
            assertRefused("entry physical", () -> target.shadowPager.restoreState(withLong.apply(37, b.getLong(37) | 0x10)));
            byte[] flags = body.clone();
            flags[45] = (byte) 0x80;
            assertRefused("entry flags", () -> target.shadowPager.restoreState(flags));
            byte[] backingCount = body.clone();
            backingCount[49] = 0x7F;
            assertRefused("entry backing count", () -> target.shadowPager.restoreState(backingCount));
            assertRefused("entry backing page", () -> target.shadowPager.restoreState(withLong.apply(50, 1L << 45)));
            assertRefused("truncated", () -> target.shadowPager.restoreState(java.util.Arrays.copyOf(body, body.length - 1)));
            assertRefused("unexpected bytes", () -> target.shadowPager.restoreState(java.util.Arrays.copyOf(body, body.length + 1)));
            assertArrayEquals(before, target.shadowPager.saveState(), "a refused restore leaves the pager unchanged");
            // VTLB keeps no CACHED-only state and one table.
            byte[] vtlbBody = vtlb.shadowPager.saveState();
            byte[] vtlbTables = vtlbBody.clone();
            vtlbTables[5] = 1;
            assertRefused("table count", () -> vtlb.shadowPager.restoreState(vtlbTables));
            target.shadowPager.restoreState(body);
            assertArrayEquals(body, target.shadowPager.saveState());
        }
    }

    /**
     * A TLB write tag on a page the restored shadow pagers write-protect would let guest writes
     * to a page table bypass the pager: the vCPU state is refused.
     */
    @Test
    void aTlbWriteTagOnAProtectedPageTablePageIsRefused() throws SnapshotException {
        try (TestMachine x = machine(ShadowStrategy.CACHED, SnapshotCachesTest.PAGE_WALKING_PROGRAM);
             TestMachine y = machine(ShadowStrategy.CACHED, ".intel_syntax noprefix\n mov rax, 0x8000000000\n mov rbx, [rax]\n hlt\n");
             TestMachine target = machine(ShadowStrategy.CACHED, "hlt")) {
            assertEquals(Exit.BUDGET_EXHAUSTED, x.run(500)); // x writes the data pages at 0x200000
            y.memory.writeU64(TestMachine.PML4 + 8, 0x200000 | 7); // y's tables for V live there
            y.memory.writeU64(0x200000, 0x201000 | 7);
            y.memory.writeU64(0x201000, 0x202000 | 7);
            y.memory.writeU64(0x202000, 0x400000 | 3);
            assertEquals(Exit.HALT, y.run(100));
            MemoryImage.restore(MemoryImage.SECTION, MemoryImage.capture(x.memory), target.memory, false);
            target.shadowPager.restoreState(y.shadowPager.saveState());
            CpuState state = CpuState.decode(CPU, CpuState.capture(x.cpu).encode());
            long ripBefore = target.cpu.rip;
            assertRefused("write-protect", () -> state.restore(target.cpu));
            assertEquals(ripBefore, target.cpu.rip, "the vCPU is left unchanged");
        }
    }

    /** A SwapBypass entry (VMM-private memory) survives the restore: dropped by the same CR3 write, or invalidated. */
    @Test
    void swapBypassEntriesAreRestored() throws SnapshotException {
        long slot = 3, privateBase = org.symbiont.x86.memory.PhysicalMemory.PRIVATE_BASE;
        String program = """
                .intel_syntax noprefix
                    mov rax, 0x8000000000
                    mov rbx, [rax]
                    mov qword ptr [rax + 8], 0x55
                    hlt
                    add rbx, [rax + 8]
                    mov rdx, cr3
                    mov cr3, rdx
                    hlt
                """;
        java.util.function.Supplier<TestMachine> fresh = () -> {
            TestMachine m = new TestMachine(RAM, 16 * 4096);
            m.setupLongMode();
            m.virtualize(PagingMode.SHADOW, ShadowStrategy.VTLB, COSTS);
            m.missingPte = (f, pte) -> m.shadowPager.bypass(f.linear(), privateBase + (pte >>> 9) * 4096, true, false);
            return m;
        };
        try (TestMachine original = fresh.get(); TestMachine copy = fresh.get(); TestMachine other = fresh.get()) {
            original.load(Asm.assemble(program, 64, TestMachine.CODE));
            original.memory.writeU64(TestMachine.PML4 + 8, PDPT_A | 7);
            original.memory.writeU64(PDPT_A, PD_A | 7);
            original.memory.writeU64(PD_A, PT_A | 7);
            original.memory.writeU64(PT_A, slot << 9); // a swap entry
            assertEquals(Exit.HALT, original.run(1000));
            original.cpu.halted = false;
            byte[] pager = original.shadowPager.saveState();
            byte[] memory = MemoryImage.capture(original.memory);
            byte[] cpu = CpuState.capture(original.cpu).encode();
            for (TestMachine m : new TestMachine[] {copy, other}) {
                MemoryImage.restore(MemoryImage.SECTION, memory, m.memory, false);
                m.shadowPager.restoreState(pager);
                CpuState.decode(CPU, cpu).restore(m.cpu);
            }
            assertEquals(1, other.shadowPager.invalidate((privateBase >>> 12) + slot), "the bypass entry is restored");
            assertEquals(Exit.HALT, original.run(1000));
            assertEquals(Exit.HALT, copy.run(1000));
            assertEquals(0x55, copy.cpu.gpr[org.symbiont.x86.Arch.RBX], "read through the bypass entry");
            assertEquals(1, original.shadowPager.bypassFlushed());
            assertEquals(1, copy.shadowPager.bypassFlushed());
            assertSame(original, copy, "SwapBypass: ");
        }
    }
}
