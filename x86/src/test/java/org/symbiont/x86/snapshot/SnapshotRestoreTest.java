package org.symbiont.x86.snapshot;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.exec.Segmentation;
import org.symbiont.x86.mmu.PagingCosts;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowStrategy;

/**
 * A program run part way, snapshotted to bytes, restored into a new vCPU and memory, and both
 * run to the end: the restored machine ends in the same state (registers, memory, retired
 * instructions, virtual cycles, reported values) as the one that ran uninterrupted.
 */
class SnapshotRestoreTest {
    static final String CPU = CpuState.sectionName(0);
    static final long LONG_MODE_RAM = 16 << 20;

    @BeforeAll
    static void gnuAs() {
        Asm.assumeAvailable();
    }

    /** The file a VMM would write: guest memory and the one vCPU. */
    static byte[] snapshot(TestMachine m) {
        return SnapshotFormat.toBytes(List.of(
                new SnapshotFormat.Section(MemoryImage.SECTION, MemoryImage.capture(m.memory)),
                new SnapshotFormat.Section(CPU, CpuState.capture(m.cpu).encode())));
    }

    /** A new machine restored from {@code file}, its MMU set up as the snapshot says. */
    static TestMachine restore(byte[] file, long ram) throws SnapshotException {
        SnapshotFormat.Contents contents = SnapshotFormat.read(file, name -> name.equals(CPU) || name.equals(MemoryImage.SECTION));
        CpuState state = CpuState.decode(CPU, contents.require(CPU));
        TestMachine m = new TestMachine(ram);
        m.virtualize(state.pagingMode(), state.shadowStrategy(), state.pagingCosts());
        MemoryImage.restore(MemoryImage.SECTION, contents.require(MemoryImage.SECTION), m.memory, false);
        state.restore(m.cpu);
        return m;
    }

    /**
     * Snapshots {@code original} where it stands, restores a copy, runs both to their HLT and
     * compares them. What the original reported before the snapshot is forgotten, so both
     * report lists hold what came after.
     */
    static void assertContinuesIdentically(TestMachine original, long ram) throws SnapshotException {
        byte[] file = snapshot(original);
        original.reports.clear();
        original.console.reset();
        try (TestMachine copy = restore(file, ram)) {
            assertEquals(Exit.HALT, original.run(10_000_000));
            assertEquals(Exit.HALT, copy.run(10_000_000));
            assertSameState(original, copy);
        }
    }

    static void assertSameState(TestMachine a, TestMachine b) {
        assertArrayEquals(a.cpu.gpr, b.cpu.gpr, "general registers");
        assertEquals(a.cpu.rip, b.cpu.rip, "RIP");
        assertEquals(a.cpu.getRflags(), b.cpu.getRflags(), "RFLAGS");
        assertEquals(a.cpu.retired, b.cpu.retired, "retired instructions");
        assertEquals(a.cpu.virtualCycles(), b.cpu.virtualCycles(), "virtual cycles");
        assertEquals(a.reports, b.reports, "values reported on port 0x80");
        assertArrayEquals(a.console.toByteArray(), b.console.toByteArray(), "console output");
        // The whole state, caches included. Under shadow paging, and nested paging whose table
        // these tests do not restore, the paging counters differ (tables were refilled), so
        // they are compared only under native paging (SnapshotCachesTest covers the rest).
        if (a.cpu.mmu.mode() == PagingMode.NATIVE) assertEquals(a.cpu.mmu.stats(), b.cpu.mmu.stats(), "paging counters");
        else b.cpu.mmu.restoreStats(a.cpu.mmu.stats());
        assertArrayEquals(CpuState.capture(a.cpu).encode(), CpuState.capture(b.cpu).encode(), "CPU state");
        assertArrayEquals(MemoryImage.capture(a.memory), MemoryImage.capture(b.memory), "guest memory");
    }

    private static final String LONG_MODE_PROGRAM = """
            .intel_syntax noprefix
                mov rcx, 300
                xor eax, eax
                mov r8, 0x200000
            l:  imul rax, rcx, 3
                mov rdx, rcx
                and edx, 511
                add [r8 + rdx*8], rax
                movq xmm0, rax
                paddq xmm1, xmm0
                call f
                test ecx, 63
                jnz skip
                push rcx
                mov eax, 1
                cpuid
                pop rcx
                mov eax, ecx
                out 0x80, al
            skip:
                loop l
                movq rax, xmm1
                hlt
            f:  add r9, rax
                pushfq
                pop r10
                ret
            """;

    @Test
    void longModeWithPagingContinuesExactlyFromAnyPoint() throws SnapshotException {
        byte[] code = Asm.assemble(LONG_MODE_PROGRAM, 64, TestMachine.CODE);
        for (long cut : new long[] {1, 2, 5, 13, 100, 1001, 2500, 4000}) {
            try (TestMachine m = TestMachine.longMode(LONG_MODE_RAM)) {
                m.load(code);
                assertEquals(Exit.BUDGET_EXHAUSTED, m.run(cut), "cut at " + cut);
                assertContinuesIdentically(m, LONG_MODE_RAM);
            }
        }
    }

    @Test
    void realModeContinuesExactly() throws SnapshotException {
        byte[] code = Asm.assemble("""
                .intel_syntax noprefix
                    xor ax, ax
                    mov ds, ax
                    mov ss, ax
                    mov sp, 0x7000
                    mov cx, 500
                    mov bx, 0x600
                l:  mov ax, cx
                    imul ax, ax, 7
                    add [bx], ax
                    push ax
                    pop dx
                    add bx, 2
                    cmp bx, 0x700
                    jb ok
                    mov bx, 0x600
                ok: loop l
                    hlt
                """, 16, 0x7C00);
        for (long cut : new long[] {1, 3, 7, 400, 2999}) {
            try (TestMachine m = realMode(code)) {
                assertEquals(Exit.BUDGET_EXHAUSTED, m.run(cut));
                assertContinuesIdentically(m, 1 << 20);
            }
        }
    }

    private static TestMachine realMode(byte[] code) {
        TestMachine m = new TestMachine(1 << 20);
        m.memory.write(0x7C00, code);
        m.cpu.segSel[CS] = 0;
        m.cpu.segBase[CS] = 0;
        m.cpu.rip = 0x7C00;
        m.cpu.updateMode();
        return m;
    }

    /**
     * 32-bit protected mode that turns on PAE paging and then clears its PDPT entry in memory: the
     * processor keeps translating through the PDPTE register it loaded, so the restored vCPU
     * must have that register too (re-reading the PDPT would fault).
     */
    @Test
    void protectedModeWithPaePagingKeepsThePdpteRegisters() throws SnapshotException {
        byte[] code = Asm.assemble("""
                .intel_syntax noprefix
                    mov eax, 0x3000
                    mov cr3, eax
                    mov eax, cr4
                    or eax, 0x20
                    mov cr4, eax
                    mov eax, cr0
                    or eax, 0x80000000
                    mov cr0, eax
                    mov dword ptr [0x3000], 0
                    mov ecx, 3000
                    xor eax, eax
                l:  mov edx, ecx
                    and edx, 255
                    shl edx, 12
                    add [0x400000 + edx], eax
                    add eax, ecx
                    loop l
                    hlt
                """, 32, TestMachine.CODE);
        for (long cut : new long[] {2, 8, 9, 10, 500, 12000}) {
            try (TestMachine m = protectedMode(code)) {
                assertEquals(Exit.BUDGET_EXHAUSTED, m.run(cut));
                assertContinuesIdentically(m, 16 << 20);
                assertEquals(List.of(), m.reports, "no exception");
            }
        }
    }

    /** Flat 32-bit protected mode at CPL 0, no paging; exception stubs as in {@link TestMachine}. */
    private static TestMachine protectedMode(byte[] code) {
        TestMachine m = new TestMachine(16 << 20);
        long code32 = 0x00CF_9A00_0000_FFFFL, data32 = 0x00CF_9200_0000_FFFFL;
        m.memory.writeU64(TestMachine.GDT + 8, code32);
        m.memory.writeU64(TestMachine.GDT + 16, data32);
        for (int v = 0; v < 32; v++) {
            long stub = TestMachine.STUBS + 8L * v;
            m.memory.write(stub, new byte[] {(byte) 0xB0, (byte) v, (byte) 0xE6, (byte) 0x80, (byte) 0xF4});
            m.memory.writeU64(TestMachine.IDT + 8L * v, (stub & 0xFFFF) | 0x08L << 16 | 0x8EL << 40 | (stub >>> 16) << 48);
        }
        // The PAE tables the program switches to: PDPT[0] -> a directory of 2 MiB identity pages.
        m.memory.writeU64(0x3000, 0x4000 | 1);
        for (int e = 0; e < 8; e++) m.memory.writeU64(0x4000 + 8L * e, ((long) e << 21) | 0x83);
        Cpu c = m.cpu;
        c.cr0 = CR0_PE | CR0_ET | CR0_NE;
        c.gdtBase = TestMachine.GDT;
        c.gdtLimit = 23;
        c.idtBase = TestMachine.IDT;
        c.idtLimit = 8 * 32 - 1;
        Segmentation.loadCache(c, CS, 0x08, code32);
        for (int s : new int[] {ES, SS, DS, FS, GS}) Segmentation.loadCache(c, s, 0x10, data32);
        c.gpr[RSP] = TestMachine.STACK_TOP;
        c.rip = TestMachine.CODE;
        c.updateMode();
        c.mmu.flushAll();
        m.memory.write(TestMachine.CODE, code);
        return m;
    }

    @Test
    void inTheMiddleOfRepStringInstructions() throws SnapshotException {
        byte[] code = Asm.assemble("""
                .intel_syntax noprefix
                    mov rdi, 0x200000
                    mov rcx, 5000
                    mov eax, 0x11223344
                    rep stosd
                    mov rsi, 0x200000
                    mov rdi, 0x300001
                    mov rcx, 20000
                    rep movsb
                    hlt
                """, 64, TestMachine.CODE);
        for (long cut : new long[] {2500, 5010, 17000}) {
            try (TestMachine m = TestMachine.longMode(LONG_MODE_RAM)) {
                m.load(code);
                assertEquals(Exit.BUDGET_EXHAUSTED, m.run(cut));
                assertEquals(0xF3, m.memory.readU8(m.cpu.rip), "stopped at a REP prefix");
                assertNotEquals(0, m.cpu.gpr[RCX], "with iterations left");
                assertContinuesIdentically(m, LONG_MODE_RAM);
            }
        }
    }

    /**
     * Stopped right after STI with an interrupt injected: the snapshot holds the interrupt shadow
     * and the pending vector, and both machines take the interrupt after the next instruction.
     */
    @Test
    void withAnInterruptShadowAndAPendingInterrupt() throws SnapshotException {
        byte[] code = Asm.assemble("""
                .intel_syntax noprefix
                    mov eax, 5
                    sti
                    add eax, eax
                    add eax, 1
                    mov ecx, 100
                l:  add ebx, eax
                    loop l
                    cli
                    hlt
                """, 64, TestMachine.CODE);
        long handler = 0x18_0000;
        byte[] handlerCode = Asm.assemble("""
                .intel_syntax noprefix
                    add r15, 1
                    mov [0x200000], rax
                    iretq
                """, 64, handler);
        try (TestMachine m = TestMachine.longMode(LONG_MODE_RAM)) {
            m.load(code);
            m.memory.write(handler, handlerCode);
            m.memory.writeU64(TestMachine.IDT + 16L * 0x40, (handler & 0xFFFF) | (long) TestMachine.CODE64_SEL << 16
                    | 0x8EL << 40 | (handler >>> 16 & 0xFFFF) << 48);
            m.memory.writeU64(TestMachine.IDT + 16L * 0x40 + 8, handler >>> 32);
            m.cpu.idtLimit = 16 * 0x41 - 1;
            assertEquals(Exit.BUDGET_EXHAUSTED, m.cpu.run(2));
            m.cpu.injectInterrupt(0x40);
            assertTrue(m.cpu.interruptShadow);
            assertContinuesIdentically(m, LONG_MODE_RAM);
            assertEquals(1, m.reg(R15), "the interrupt was taken once");
            assertEquals(10, m.memory.readU64(0x200000), "after the instruction in the shadow");
        }
    }

    /** An exit answered but its instruction not yet re-executed: the replay log is state. */
    @Test
    void afterACompletedExitTheInstructionCompletesFromTheReplayLog() throws SnapshotException {
        byte[] code = Asm.assemble(LONG_MODE_PROGRAM, 64, TestMachine.CODE);
        try (TestMachine m = TestMachine.longMode(LONG_MODE_RAM)) {
            m.load(code);
            Exit e;
            while (!((e = m.cpu.run(1000)) instanceof Exit.Cpuid)) assertEquals(Exit.BUDGET_EXHAUSTED, e);
            m.cpu.completeCpuid(0x1234, 0x5678, 0x9ABC, 0xDEF0);
            assertEquals(2, m.cpu.replayLength);
            assertContinuesIdentically(m, LONG_MODE_RAM);
        }
    }

    @Test
    void anUncompletedExitIsRefusedWithTheReason() {
        try (TestMachine m = TestMachine.longMode(LONG_MODE_RAM)) {
            m.load(Asm.assemble(".intel_syntax noprefix\nin al, 0x70\nhlt\n", 64, TestMachine.CODE));
            assertInstanceOf(Exit.PortIn.class, m.cpu.run(10));
            IllegalStateException x = assertThrows(IllegalStateException.class, () -> CpuState.capture(m.cpu));
            assertTrue(x.getMessage().contains("in flight") && x.getMessage().contains("PortIn"), x.getMessage());
        }
    }

    /** Shadow and nested paging rebuild their tables after a restore; with free costs nothing differs. */
    @Test
    void shadowAndNestedPagingContinueWithRebuiltTables() throws SnapshotException {
        byte[] code = Asm.assemble(LONG_MODE_PROGRAM, 64, TestMachine.CODE);
        for (PagingMode mode : new PagingMode[] {PagingMode.SHADOW, PagingMode.NESTED}) {
            for (long cut : new long[] {50, 3000}) {
                try (TestMachine m = TestMachine.longMode(LONG_MODE_RAM)) {
                    m.virtualize(mode, ShadowStrategy.CACHED, PagingCosts.FREE);
                    m.load(code);
                    assertEquals(Exit.BUDGET_EXHAUSTED, m.run(cut));
                    assertContinuesIdentically(m, LONG_MODE_RAM);
                }
            }
        }
    }

    @Test
    void pageKindsAndPrivateMemoryAreRestored() throws SnapshotException {
        try (TestMachine m = new TestMachine(1 << 20, 64 << 10); TestMachine target = new TestMachine(1 << 20, 64 << 10)) {
            m.memory.addMmioHole(0xA0000, 0x20000);
            m.memory.markReadOnly(0xF0000, 0x10000);
            m.memory.writeU32(0xF0010, 0xCAFE);
            m.memory.privateRegion().set(java.lang.foreign.ValueLayout.JAVA_LONG, 8192, 0x1122334455667788L);
            target.memory.writeU32(0x5000, 7); // absent from the image: zeroed
            target.memory.addMmioHole(0x8000, 0x1000); // RAM in the image
            MemoryImage.restore(MemoryImage.SECTION, MemoryImage.capture(m.memory), target.memory, false);
            assertTrue(target.memory.isMmio(0xA0000) && target.memory.isMmio(0xBF000) && !target.memory.isMmio(0xC0000));
            assertTrue(target.memory.isReadOnly(0xF0000) && !target.memory.isMmio(0x8000));
            assertEquals(0xCAFE, target.memory.readU32(0xF0010));
            assertEquals(0, target.memory.readU32(0x5000));
            assertEquals(0x1122334455667788L, target.memory.privateRegion().get(java.lang.foreign.ValueLayout.JAVA_LONG, 8192));
            assertArrayEquals(MemoryImage.capture(m.memory), MemoryImage.capture(target.memory));
        }
    }
}
