package org.symbiont.x86.mmu;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/** One nested table for the VM, filled lazily by two vCPUs on two threads touching the same pages. */
class NestedPagerSmpTest {
    private static final long REGION = 0x100_0000;
    private static final int PAGES = 2048;

    @Test
    void twoVcpusFillTheSharedNestedTableConcurrently() throws InterruptedException {
        byte[] code = Asm.assemble("""
            .intel_syntax noprefix
                mov rax, %d
                xor ecx, ecx
            1:  mov qword ptr [rax + rdi], rcx
                add rax, 0x1000
                inc ecx
                cmp ecx, %d
                jb 1b
                hlt
            """.formatted(REGION, PAGES), 64, TestMachine.CODE);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(code);
            Cpu b = m.addCpu(1, TestMachine.STACK_TOP - 0x1000);
            b.rip = TestMachine.CODE;
            b.gpr[RDI] = 8;
            NestedPager pager = new NestedPager(m.memory, false);
            Cpu[] cpus = {m.cpu, b};
            for (Cpu c : cpus) {
                c.mmu.configure(PagingMode.NESTED, ShadowStrategy.VTLB, PagingCosts.FREE);
                c.mmu.attach(pager);
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread[] threads = new Thread[2];
            for (int k = 0; k < 2; k++) {
                Cpu c = cpus[k];
                threads[k] = new Thread(() -> {
                    try {
                        Exit e;
                        while (true) {
                            e = c.run(1_000_000);
                            if (e instanceof Exit.PagingFault f) {
                                pager.handleFault(c, f.guestPhysical(), f.access());
                                c.completePagingFault();
                            } else if (!(e instanceof Exit.BudgetExhausted)) {
                                break;
                            }
                        }
                        if (!(e instanceof Exit.Halt)) throw new AssertionError("vCPU " + c.id + " stopped with " + e);
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                });
                threads[k].start();
            }
            for (Thread t : threads) t.join();
            if (failure.get() != null) throw new AssertionError(failure.get());
            for (int p = 0; p < PAGES; p++) {
                assertEquals(p, m.memory.readU64(REGION + 0x1000L * p));
                assertEquals(p, m.memory.readU64(REGION + 0x1000L * p + 8));
            }
            long faults = m.cpu.mmu.stats().nestedFaults() + b.mmu.stats().nestedFaults();
            assertTrue(faults >= PAGES, "each page was mapped on a fault: " + faults);
            b.detach();
        }
    }
}
