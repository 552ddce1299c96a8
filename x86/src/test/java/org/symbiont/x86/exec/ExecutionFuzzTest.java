package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.Seeds;
import org.symbiont.x86.TestMachine;

/**
 * Random bytes executed as guest code, in every processor mode, with random register contents
 * and random answers to exits: whatever the guest does, {@link Cpu#run} only ever returns exits.
 * A Java exception escaping it would be a VMM crash caused by a guest. Cases: system property
 * {@code symbiont.fuzz.cases} (default 3000; the soak profile raises it), fixed seed
 * {@code symbiont.fuzz.seed}.
 */
class ExecutionFuzzTest {
    private static final int CASES = Integer.getInteger("symbiont.fuzz.cases", 3000);
    private static final long SEED = Seeds.parse(System.getProperty("symbiont.fuzz.seed", "0x5EEDF022"));
    private static final int BUDGET = 4000;

    private enum Mode { LONG64, COMPAT32, PROTECTED32, REAL16 }

    @Test
    void randomCodeNeverEscapesAsAJavaException() {
        SplittableRandom seeds = new SplittableRandom(SEED);
        int[] outcomes = new int[4];
        try (TestMachine m = TestMachine.longMode(16 << 20)) {
            for (int k = 0; k < CASES; k++) {
                long seed = seeds.nextLong();
                Mode mode = Mode.values()[k % 4];
                try {
                    outcomes[runCase(m, mode, seed)]++;
                } catch (Throwable t) {
                    fail(String.format("case %d (mode %s, seed %#x): %s escaped Cpu.run", k, mode, seed, t), t);
                }
            }
        }
        System.out.printf("execution fuzz: %d cases; budget spent %d, halted %d, triple fault %d, other exits %d%n",
                CASES, outcomes[0], outcomes[1], outcomes[2], outcomes[3]);
        assertEquals(CASES, outcomes[0] + outcomes[1] + outcomes[2] + outcomes[3]);
    }

    /** Returns 0 budget spent, 1 halted, 2 triple fault, 3 stopped on another exit. */
    private static int runCase(TestMachine m, Mode mode, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        m.cpu.reset();
        m.setupLongMode();
        Cpu c = m.cpu;
        byte[] code = new byte[8192];
        r.nextBytes(code);
        long codeAt = 0x20_0000;
        m.memory.write(codeAt, code);
        for (int g = 0; g < 16; g++) c.gpr[g] = interesting(r);
        c.gpr[RSP] = 0x30_0000 + r.nextInt(0x1000);
        c.setRflags((r.nextLong() & (STATUS_FLAGS | DF)) | RFLAGS_FIXED1);
        c.mxcsr = 0x1F80;
        switch (mode) {
            case LONG64 -> c.rip = codeAt;
            case COMPAT32 -> {
                Segmentation.loadCache(c, CS, TestMachine.CODE32_SEL, 0x00CF_9A00_0000_FFFFL);
                c.updateMode();
                c.rip = codeAt;
                c.gpr[RSP] &= 0xFFFF_FFFFL;
            }
            case PROTECTED32 -> {
                c.cr0 = CR0_PE | CR0_ET | CR0_NE;
                c.efer = 0;
                c.cr4 = CR4_OSFXSR;
                Segmentation.loadCache(c, CS, TestMachine.CODE32_SEL, 0x00CF_9A00_0000_FFFFL);
                c.updateMode();
                c.mmu.flushAll();
                c.rip = codeAt;
            }
            case REAL16 -> {
                c.cr0 = CR0_ET;
                c.efer = 0;
                c.cr4 = 0;
                c.idtBase = 0;
                c.idtLimit = 0x3FF;
                for (int s = ES; s <= GS; s++) {
                    c.segAttr[s] = s == CS ? 0x9B : 0x93;
                    c.segLimit[s] = 0xFFFF;
                    Segmentation.loadRealModeSegment(c, s, s == CS ? (int) (codeAt >>> 4) : 0x3000);
                }
                c.rip = 0;
                c.gpr[RSP] = 0x8000;
                c.mmu.flushAll();
            }
        }
        c.blocks.flushAll();
        long spent = 0;
        while (spent < BUDGET) {
            long before = c.retired;
            Exit e = c.run(BUDGET - spent);
            spent += Math.max(1, c.retired - before);
            switch (e) {
                case Exit.BudgetExhausted b -> { return 0; }
                case Exit.Halt h -> { return 1; }
                case Exit.TripleFault t -> { return 2; }
                case Exit.PortIn p -> c.completeRead(r.nextLong());
                case Exit.MmioRead p -> c.completeRead(r.nextLong());
                case Exit.Rdmsr p -> { if (r.nextBoolean()) c.completeRead(r.nextLong()); else c.failMsr(); }
                case Exit.PortOut p -> c.completeWrite();
                case Exit.MmioWrite p -> c.completeWrite();
                case Exit.Wrmsr p -> { if (r.nextBoolean()) c.completeWrite(); else c.failMsr(); }
                case Exit.Cr8Write p -> c.completeWrite();
                case Exit.Cpuid q -> {
                    int[] v = c.model.cpuid(q.leaf(), q.subleaf(), 0, false);
                    c.completeCpuid(v[0], v[1], v[2], v[3]);
                }
                case Exit.Hypercall h -> {
                    c.gpr[RAX] = r.nextLong();
                    c.completeHypercall();
                }
                case Exit.InterruptWindow w -> { return 3; }
                case Exit.PagingFault _, Exit.ShadowFault _, Exit.ShadowCr3Write _, Exit.ShadowInvlpg _,
                     Exit.ShadowPageTableWrite _, Exit.ExceptionIntercepted _ -> { return 3; }
            }
        }
        return 0;
    }

    private static long interesting(SplittableRandom r) {
        return switch (r.nextInt(6)) {
            case 0 -> 0;
            case 1 -> r.nextLong();
            case 2 -> r.nextInt(0x100_0000);
            case 3 -> 0x20_0000 + r.nextInt(0x20_0000);
            case 4 -> -1L;
            default -> 1L << r.nextInt(64);
        };
    }
}
