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
import org.symbiont.x86.mmu.NestedPager;
import org.symbiont.x86.mmu.PagingCosts;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowStrategy;

/**
 * The caches that decide whether an access walks the page tables (TLB, decoded blocks, code
 * pages, the nested table) travel with a snapshot, so that under the default paging costs a
 * restored VM continues cycle for cycle: same retired instructions, virtual cycles, registers,
 * memory, paging counters and caches as the uninterrupted run.
 */
class SnapshotCachesTest {
    static final String CPU = CpuState.sectionName(0);
    static final long RAM = 16 << 20;
    /** The VMM's default costs. */
    static final PagingCosts COSTS = new PagingCosts(20, 100);

    @BeforeAll
    static void gnuAs() {
        Asm.assumeAvailable();
    }

    /** A loop over data spread across pages, calls, CPUID exits and a TLB-flushing CR3 reload. */
    static final String PAGE_WALKING_PROGRAM = """
            .intel_syntax noprefix
                mov rcx, 600
                xor eax, eax
                mov r8, 0x200000
            l:  imul rax, rcx, 3
                mov rdx, rcx
                and edx, 63
                shl edx, 12
                add [r8 + rdx], rax
                call f
                test ecx, 127
                jnz skip
                mov rbx, cr3
                mov cr3, rbx
                push rcx
                mov eax, 1
                cpuid
                pop rcx
            skip:
                loop l
                hlt
            f:  add r9, rax
                ret
            """;

    /** Data next to code, and an instruction whose immediate the loop rewrites. */
    private static final String SELF_MODIFYING_PROGRAM = """
            .intel_syntax noprefix
                mov rcx, 1500
            l:  mov [rip + data], rcx
                add rax, [rip + data]
                inc dword ptr [rip + patch + 1]
            patch:
                mov ebx, 5
                add r11, rbx
                loop l
                hlt
            data: .quad 0
            """;

    private static final long[] CUTS = {1, 7, 40, 333, 1200, 2900};

    @Test
    void nativePagingWithCostsContinuesCycleForCycle() throws SnapshotException {
        for (String program : List.of(PAGE_WALKING_PROGRAM, SELF_MODIFYING_PROGRAM)) {
            for (long cut : CUTS) assertExactAfterRestore(PagingMode.NATIVE, program, cut);
        }
    }

    @Test
    void nestedPagingWithCostsContinuesCycleForCycle() throws SnapshotException {
        for (String program : List.of(PAGE_WALKING_PROGRAM, SELF_MODIFYING_PROGRAM)) {
            for (long cut : CUTS) assertExactAfterRestore(PagingMode.NESTED, program, cut);
        }
    }

    private static void assertExactAfterRestore(PagingMode mode, String program, long cut) throws SnapshotException {
        try (TestMachine original = TestMachine.longMode(RAM)) {
            original.virtualize(mode, ShadowStrategy.VTLB, COSTS);
            original.load(Asm.assemble(program, 64, TestMachine.CODE));
            assertEquals(Exit.BUDGET_EXHAUSTED, original.run(cut), "cut at " + cut);
            byte[] file = snapshot(original);
            try (TestMachine copy = restore(file)) {
                String where = mode + " paging, cut at " + cut;
                assertEquals(Exit.HALT, original.run(10_000_000), where);
                assertEquals(Exit.HALT, copy.run(10_000_000), where);
                assertArrayEquals(original.cpu.gpr, copy.cpu.gpr, where + ": registers");
                assertEquals(original.cpu.retired, copy.cpu.retired, where + ": retired instructions");
                assertEquals(original.cpu.virtualCycles(), copy.cpu.virtualCycles(), where + ": virtual cycles");
                assertEquals(original.cpu.mmu.stats(), copy.cpu.mmu.stats(), where + ": paging counters");
                // Whole state, the TLB and decoded blocks included.
                assertArrayEquals(CpuState.capture(original.cpu).encode(), CpuState.capture(copy.cpu).encode(), where + ": CPU state");
                assertArrayEquals(MemoryImage.capture(original.memory), MemoryImage.capture(copy.memory), where + ": memory");
                if (mode == PagingMode.NESTED) {
                    assertArrayEquals(original.nestedPager.saveState(), copy.nestedPager.saveState(), where + ": nested table");
                }
            }
        }
    }

    /** The file a VMM writes: memory, the nested table when there is one, the vCPU. */
    static byte[] snapshot(TestMachine m) {
        List<SnapshotFormat.Section> sections = new ArrayList<>();
        sections.add(new SnapshotFormat.Section(MemoryImage.SECTION, MemoryImage.capture(m.memory)));
        if (m.nestedPager != null) sections.add(new SnapshotFormat.Section(NestedPager.SECTION, m.nestedPager.saveState()));
        sections.add(new SnapshotFormat.Section(CPU, CpuState.capture(m.cpu).encode()));
        return SnapshotFormat.toBytes(sections);
    }

    /** Restores in the order a VMM must: MMU configured and pager attached, memory, nested table, vCPU. */
    static TestMachine restore(byte[] file) throws SnapshotException {
        SnapshotFormat.Contents contents = SnapshotFormat.read(file, name -> true);
        CpuState state = CpuState.decode(CPU, contents.require(CPU));
        TestMachine m = TestMachine.longMode(RAM);
        m.virtualize(state.pagingMode(), state.shadowStrategy(), state.pagingCosts());
        MemoryImage.restore(MemoryImage.SECTION, contents.require(MemoryImage.SECTION), m.memory, false);
        if (m.nestedPager != null) m.nestedPager.restoreState(contents.require(NestedPager.SECTION));
        state.restore(m.cpu);
        return m;
    }

    // ---- malformed sections ----

    private static TestMachine ranPartWay(PagingMode mode) {
        TestMachine m = TestMachine.longMode(RAM);
        m.virtualize(mode, ShadowStrategy.VTLB, COSTS);
        // Not the self-modifying program: its code page is unmarked by each write.
        m.load(Asm.assemble(PAGE_WALKING_PROGRAM, 64, TestMachine.CODE));
        assertEquals(Exit.BUDGET_EXHAUSTED, m.run(500));
        return m;
    }

    private static void assertRefused(String field, org.junit.jupiter.api.function.Executable restore) {
        SnapshotException x = assertThrows(SnapshotException.class, restore);
        assertTrue(x.getMessage().contains(field), x.getMessage());
    }

    /** Offset in {@code body} of the TLB entry for the first valid slot of {@code cpu}. */
    private static int firstTlbEntry(Cpu cpu, byte[] body) {
        int slot = 0;
        while (cpu.tlbRead[slot] == Cpu.TLB_INVALID) slot++;
        byte[] pattern = new SectionWriter().i32(slot).i64(cpu.tlbRead[slot]).toByteArray();
        outer:
        for (int at = body.length - pattern.length; at >= 0; at--) {
            for (int k = 0; k < pattern.length; k++) if (body[at + k] != pattern[k]) continue outer;
            return at;
        }
        throw new AssertionError("TLB entry of slot " + slot + " not in the encoding");
    }

    @Test
    void malformedTlbEntriesAreRefusedNamingTheField() {
        try (TestMachine m = ranPartWay(PagingMode.NATIVE)) {
            byte[] body = CpuState.capture(m.cpu).encode();
            int entry = firstTlbEntry(m.cpu, body);
            byte[] unaligned = body.clone();
            unaligned[entry + 4] |= 1;
            assertRefused("TLB read tag", () -> CpuState.decode(CPU, unaligned));
            byte[] badMask = body.clone();
            badMask[entry + 4 + 5 * 8 + 1] = 0x55;
            assertRefused("TLB mapping mask", () -> CpuState.decode(CPU, badMask));
            byte[] badSlot = body.clone();
            badSlot[entry + 3] = 0x7F;
            assertRefused("TLB slot", () -> CpuState.decode(CPU, badSlot));
            byte[] hostOutside = body.clone();
            hostOutside[entry + 4 + 3 * 8 + 5] = 0x40; // the addend, far beyond the memory
            assertRefused("TLB addend", () -> {
                try (TestMachine target = TestMachine.longMode(RAM)) {
                    target.virtualize(PagingMode.NATIVE, ShadowStrategy.VTLB, COSTS);
                    MemoryImage.restore(MemoryImage.SECTION, MemoryImage.capture(m.memory), target.memory, false);
                    CpuState.decode(CPU, hostOutside).restore(target.cpu);
                }
            });
        }
    }

    @Test
    void aTlbEntryOrBlockTheRestoredMemoryDoesNotBackIsRefused() throws SnapshotException {
        try (TestMachine m = ranPartWay(PagingMode.NATIVE); TestMachine holed = TestMachine.longMode(RAM);
             TestMachine unrestored = TestMachine.longMode(RAM)) {
            CpuState state = CpuState.decode(CPU, CpuState.capture(m.cpu).encode());
            // The data pages the program had cached became an MMIO hole.
            holed.virtualize(PagingMode.NATIVE, ShadowStrategy.VTLB, COSTS);
            MemoryImage.restore(MemoryImage.SECTION, MemoryImage.capture(m.memory), holed.memory, false);
            holed.memory.addMmioHole(0x200000, 64 << 12);
            assertRefused("TLB read/fetch tag", () -> state.restore(holed.cpu));
            // Memory not restored first: the blocks' pages are not marked as code.
            unrestored.virtualize(PagingMode.NATIVE, ShadowStrategy.VTLB, COSTS);
            long ripBefore = unrestored.cpu.rip;
            assertRefused("decoded block", () -> state.restore(unrestored.cpu));
            assertEquals(ripBefore, unrestored.cpu.rip, "the vCPU is left unchanged");
        }
    }

    @Test
    void malformedCodePagesAreRefusedNamingTheField() {
        try (TestMachine m = ranPartWay(PagingMode.NATIVE); TestMachine target = TestMachine.longMode(RAM)) {
            byte[] body = MemoryImage.capture(m.memory);
            byte[] beyond = body.clone();
            beyond[body.length - 2] = 0x7F; // the last code page number
            assertRefused("code page number", () -> MemoryImage.restore(MemoryImage.SECTION, beyond, target.memory, false));
            byte[] wrongLayout = body.clone();
            wrongLayout[0] = 1;
            assertRefused("layout", () -> MemoryImage.restore(MemoryImage.SECTION, wrongLayout, target.memory, false));
        }
    }

    @Test
    void malformedNestedTablesAreRefusedNamingTheField() throws SnapshotException {
        try (TestMachine m = ranPartWay(PagingMode.NESTED)) {
            byte[] body = m.nestedPager.saveState();
            assertTrue(body.length > 5 + 9, "some pages mapped");
            NestedPager target = new NestedPager(m.memory, false);
            byte[] large = body.clone();
            large[5 + 8] = 1; // the first leaf's level: 2 MiB, which a 4 KiB pager does not map
            assertRefused("leaf level", () -> target.restoreState(large));
            byte[] unaligned = body.clone();
            unaligned[5] |= 0x10;
            assertRefused("leaf address", () -> target.restoreState(unaligned));
            assertRefused("large pages", () -> new NestedPager(m.memory, true).restoreState(body));
            byte[] truncated = java.util.Arrays.copyOf(body, body.length - 1);
            assertRefused("leaf level", () -> target.restoreState(truncated));
            target.restoreState(body);
            assertArrayEquals(body, target.saveState());
        }
    }
}
