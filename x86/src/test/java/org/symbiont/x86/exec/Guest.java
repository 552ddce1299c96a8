package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.symbiont.x86.Arch.*;

import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * Helpers for the system-instruction tests: assembling Intel-syntax guest code into a
 * {@link TestMachine}, switching to user mode or 32-bit protected mode, and reading what the
 * TestMachine's exception stubs leave behind (the vector on port 0x80, the frame on the stack).
 */
final class Guest {
    private Guest() {}

    /** 32-bit IDT (8-byte gates to the same stubs) for the protected-mode fixture. */
    static final long IDT32 = 0x1800;
    static final long USER_STACK = 0x7_0000;

    static byte[] assemble64(String intel) {
        return Asm.assemble(".intel_syntax noprefix\n" + intel, 64, TestMachine.CODE);
    }

    static byte[] assemble32(String intel) {
        return Asm.assemble(".intel_syntax noprefix\n" + intel, 32, TestMachine.CODE);
    }

    /** A 64-bit machine at CPL 0 with {@code intel} loaded at {@link TestMachine#CODE}. */
    static TestMachine longMode(String intel) {
        byte[] code = assemble64(intel);
        TestMachine m = TestMachine.longMode();
        m.load(code);
        return m;
    }

    /**
     * A machine in 32-bit protected mode without paging (flat CS 0x18, data 0x10, EFER = 0),
     * exceptions through 32-bit interrupt gates to the reporting stubs.
     */
    static TestMachine protectedMode(String intel) {
        byte[] code = assemble32(intel);
        TestMachine m = TestMachine.longMode();
        Cpu c = m.cpu;
        for (int v = 0; v < 32; v++) {
            long stub = TestMachine.STUBS + 8L * v;
            long gate = (stub & 0xFFFF) | ((long) TestMachine.CODE32_SEL << 16) | (0x8EL << 40) | ((stub >>> 16 & 0xFFFF) << 48);
            m.memory.writeU64(IDT32 + 8L * v, gate);
        }
        c.efer = 0;
        c.cr0 = CR0_PE | CR0_ET | CR0_NE;
        c.cr4 = 0;
        c.cr3 = 0;
        c.idtBase = IDT32;
        c.idtLimit = 8 * 32 - 1;
        Segmentation.loadCache(c, CS, TestMachine.CODE32_SEL, 0x00CF_9A00_0000_FFFFL);
        Segmentation.loadCache(c, TR, TestMachine.TSS_SEL, 0x0000_8B00_0700_0067L);
        c.updateMode();
        c.mmu.flushAll();
        m.load(code);
        return m;
    }

    /** Points IDT vector {@code vector} of the 64-bit machine at {@code handler} (DPL 0 interrupt gate). */
    static void setGate64(TestMachine m, int vector, long handler) {
        long low = (handler & 0xFFFF) | ((long) TestMachine.CODE64_SEL << 16) | (0x8EL << 40) | ((handler >>> 16 & 0xFFFF) << 48);
        m.memory.writeU64(TestMachine.IDT + 16L * vector, low);
        m.memory.writeU64(TestMachine.IDT + 16L * vector + 8, handler >>> 32);
        m.cpu.idtLimit = Math.max(m.cpu.idtLimit, 16 * (vector + 1) - 1);
    }

    /** Low quadword of a system descriptor (LDT, TSS) with a 32-bit base and byte-granular limit. */
    static long systemDescriptor(long base, long limit, int type, boolean present) {
        return (limit & 0xFFFF) | ((base & 0xFF_FFFFL) << 16) | ((long) type << 40) | (present ? 1L << 47 : 0)
                | ((limit >>> 16 & 0xF) << 48) | ((base >>> 24 & 0xFF) << 56);
    }

    /** Drops the current 64-bit machine to CPL 3 (user code 0x2B, user data 0x23). */
    static void enterUser(TestMachine m) {
        Cpu c = m.cpu;
        Segmentation.loadCache(c, CS, TestMachine.USER_CODE64, 0x00AF_FA00_0000_FFFFL);
        Segmentation.loadCache(c, SS, TestMachine.USER_DATA, 0x00CF_F200_0000_FFFFL);
        c.cpl = 3;
        c.gpr[RSP] = USER_STACK;
        c.updateMode();
    }

    /** Runs and expects the guest to halt without any exception. */
    static void runToHalt(TestMachine m) {
        Exit e = m.run(1_000_000);
        assertEquals(Exit.HALT, e, "exit");
        assertTrue(m.reports.isEmpty(), () -> "unexpected exception, vector " + m.reports);
    }

    /** Runs and expects exception {@code vector}, reported by the stub; returns the machine for more checks. */
    static void runToFault(TestMachine m, int vector) {
        Exit e = m.run(1_000_000);
        assertEquals(Exit.HALT, e, "exit");
        assertEquals(java.util.List.of((long) vector), m.reports, "exception vectors reported");
    }

    /** The error code the CPU pushed (the stub leaves it at the top of the stack). */
    static long errorCode(TestMachine m) {
        return stackSlot(m, 0);
    }

    /** The saved RIP of a fault with an error code. */
    static long faultRipWithError(TestMachine m) {
        return stackSlot(m, 1);
    }

    /** The saved RIP of a fault without error code. */
    static long faultRip(TestMachine m) {
        return stackSlot(m, 0);
    }

    private static long stackSlot(TestMachine m, int n) {
        Cpu c = m.cpu;
        int width = (c.efer & EFER_LMA) != 0 ? 8 : 4;
        long at = c.gpr[RSP] + (long) n * width;
        return width == 8 ? m.memory.readU64(at) : m.memory.readU32(at);
    }
}
