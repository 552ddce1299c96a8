package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;

import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * Descriptor builders and machine setups for the system-level tests: a 32-bit protected-mode
 * machine (no paging) with flat ring-0 and ring-3 segments, a 32-bit TSS and an IDT whose stubs
 * report the vector on port 0x80 and halt with the exception frame left on the stack; helpers
 * to add GDT and IDT entries to it or to {@link TestMachine#longMode()}.
 */
final class SystemTables {
    private SystemTables() {}

    // Legacy (32-bit protected mode) layout.
    static final int CODE32 = 0x08, DATA32 = 0x10, USER_CODE32 = 0x1B, USER_DATA32 = 0x23, TSS32_SEL = 0x28;
    /** First GDT slot free for a test's own descriptors, in both layouts. */
    static final int FREE_SLOT = 0x40;
    static final long GDT = TestMachine.GDT, IDT = TestMachine.IDT, TSS = TestMachine.TSS, STUBS = TestMachine.STUBS;
    static final long KERNEL_STACK = 0x8_0000, USER_STACK = 0x7_0000;
    static final int GDT_SLOTS = 64;

    /** An 8-byte code/data/system descriptor; {@code access} is P|DPL|S|type, {@code flags} is G|D/B|L|AVL. */
    static long segment(long base, long limit, int access, int flags) {
        return (limit & 0xFFFF) | ((base & 0xFF_FFFFL) << 16) | ((long) access << 40) | ((limit >>> 16 & 0xF) << 48)
                | ((long) flags << 52) | ((base >>> 24 & 0xFF) << 56);
    }

    /** An 8-byte gate (call, interrupt, trap, task): offset, selector, P|DPL|type, parameter count. */
    static long gate(long offset, int selector, int access, int params) {
        return (offset & 0xFFFF) | ((long) (selector & 0xFFFF) << 16) | ((long) (params & 0x1F) << 32)
                | ((long) access << 40) | ((offset >>> 16 & 0xFFFF) << 48);
    }

    static void setGdt(TestMachine m, int selector, long descriptor) {
        m.memory.writeU64(GDT + (selector & ~7), descriptor);
    }

    /** A 16-byte IA-32e gate (64-bit call gate, or interrupt/trap gate when written to the IDT). */
    static void set16(TestMachine m, long at, long offset, int selector, int access, int ist) {
        m.memory.writeU64(at, gate(offset, selector, access, 0) | ((long) ist << 32));
        m.memory.writeU64(at + 8, offset >>> 32);
    }

    /** Points a 64-bit IDT vector at a handler (and widens the IDT limit to cover it). */
    static void setIdt64(TestMachine m, int vector, long handler, int access, int ist) {
        set16(m, IDT + 16L * vector, handler, TestMachine.CODE64_SEL, access, ist);
        m.cpu.idtLimit = Math.max(m.cpu.idtLimit, 16 * vector + 15);
    }

    /** Widens the long-mode GDT to {@link #GDT_SLOTS} entries (the new ones start null). */
    static void growGdt(TestMachine m) {
        for (int k = 8; k < GDT_SLOTS; k++) m.memory.writeU64(GDT + 8L * k, 0);
        m.cpu.gdtLimit = 8 * GDT_SLOTS - 1;
    }

    /**
     * A machine in 32-bit protected mode at CPL 0 without paging: GDT with flat ring-0 and
     * ring-3 code and data, a 32-bit TSS (SS0:ESP0 = 0x10:0x80000); IDT vectors 0-31 are 32-bit
     * interrupt gates (DPL 0) to stubs that report the vector on port 0x80 and halt.
     */
    static TestMachine protected32() {
        TestMachine m = new TestMachine(16 << 20);
        long[] gdt = {
            0,
            segment(0, 0xFFFFF, 0x9A, 0xC),   // 0x08 code, DPL 0
            segment(0, 0xFFFFF, 0x92, 0xC),   // 0x10 data, DPL 0
            segment(0, 0xFFFFF, 0xFA, 0xC),   // 0x18 code, DPL 3
            segment(0, 0xFFFFF, 0xF2, 0xC),   // 0x20 data, DPL 3
            segment(TSS, 0x67, 0x89, 0),      // 0x28 32-bit TSS
        };
        for (int k = 0; k < GDT_SLOTS; k++) m.memory.writeU64(GDT + 8L * k, k < gdt.length ? gdt[k] : 0);
        m.memory.writeU32(TSS + 4, KERNEL_STACK);
        m.memory.writeU32(TSS + 8, DATA32);
        for (int v = 0; v < 32; v++) {
            long stub = STUBS + 8L * v;
            m.memory.write(stub, new byte[] {(byte) 0xB0, (byte) v, (byte) 0xE6, (byte) 0x80, (byte) 0xF4});
            m.memory.writeU64(IDT + 8L * v, gate(stub, CODE32, 0x8E, 0));
        }
        Cpu c = m.cpu;
        c.cr0 = CR0_PE | CR0_ET | CR0_NE;
        c.gdtBase = GDT;
        c.gdtLimit = 8 * GDT_SLOTS - 1;
        c.idtBase = IDT;
        c.idtLimit = 8 * 32 - 1;
        c.cpl = 0;
        Segmentation.loadCache(c, CS, CODE32, gdt[1]);
        for (int s : new int[] {ES, SS, DS, FS, GS}) Segmentation.loadCache(c, s, DATA32, gdt[2]);
        Segmentation.loadCache(c, TR, TSS32_SEL, gdt[5] | (0x2L << 40)); // busy
        c.gpr[RSP] = KERNEL_STACK;
        c.setRflags(RFLAGS_FIXED1);
        c.updateMode();
        c.mmu.flushAll();
        return m;
    }

    /** Points a 32-bit IDT vector at a handler with the given gate access byte. */
    static void setIdt32(TestMachine m, int vector, long handler, int selector, int access) {
        m.memory.writeU64(IDT + 8L * vector, gate(handler, selector, access, 0));
        m.cpu.idtLimit = Math.max(m.cpu.idtLimit, 8 * vector + 7);
    }

    /** Runs a program to its end and returns the vector the exception stub reported, or -1. */
    static int runToStub(TestMachine m, long maxInstructions) {
        Exit e = m.run(maxInstructions);
        if (e != Exit.HALT) throw new AssertionError("expected HLT, got " + e);
        return m.reports.isEmpty() ? -1 : m.reports.get(m.reports.size() - 1).intValue();
    }

    /** Reads a stack slot of the current stack (SS base + RSP + offset). */
    static long stack32(TestMachine m, int offset) {
        return m.memory.readU32(m.cpu.segBase[SS] + ((m.cpu.gpr[RSP] + offset) & 0xFFFF_FFFFL)) & 0xFFFF_FFFFL;
    }

    static long stack64(TestMachine m, int offset) {
        return m.memory.readU64(m.cpu.gpr[RSP] + offset);
    }

    /** IRETD from ring 0 to flat ring-3 code at the next label, stack at USER_STACK. */
    static final String RING3_32 = """
            push 0x23
            push 0x70000
            pushfd
            push 0x1B
            push offset 9f
            iretd
        9:
        """;

    /** IRETQ from ring 0 to ring-3 64-bit code at the next label, stack at USER_STACK. */
    static final String RING3_64 = """
            push 0x23
            push 0x70000
            push 2
            push 0x2B
            lea rax, [rip + 9f]
            push rax
            iretq
        9:
        """;

    /** A {@link #protected32()} machine running the given Intel-syntax 32-bit program at {@link TestMachine#CODE}. */
    static TestMachine pm32(String body) {
        TestMachine m = protected32();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + body, 32, TestMachine.CODE));
        return m;
    }

    /** A long-mode machine (GDT widened) running the given Intel-syntax 64-bit program. */
    static TestMachine lm64(String body) {
        TestMachine m = TestMachine.longMode();
        growGdt(m);
        m.load(Asm.assemble(".intel_syntax noprefix\n" + body, 64, TestMachine.CODE));
        return m;
    }
}
