package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * Two vCPUs on two threads sharing guest memory: LOCK-prefixed and XCHG operations are atomic
 * against each other, and plain loads and stores keep x86-TSO order (a reader that sees a flag
 * also sees the data written before it).
 */
class SmpMemoryTest {
    private static final long COUNTER = 0x30_0000, LOCK = 0x30_0040, PLAIN = 0x30_0080;
    private static final long DATA = 0x30_1000, FLAG = 0x30_2000;
    private static final int N = 200_000;

    /** Runs both vCPUs to HLT on their own threads; fails on any other exit or exception. */
    private static void runBoth(Cpu a, Cpu b) throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread[] threads = new Thread[2];
        Cpu[] cpus = {a, b};
        for (int k = 0; k < 2; k++) {
            Cpu c = cpus[k];
            threads[k] = new Thread(() -> {
                try {
                    Exit e;
                    do {
                        e = c.run(1_000_000);
                    } while (e instanceof Exit.BudgetExhausted);
                    if (!(e instanceof Exit.Halt)) throw new AssertionError("vCPU " + c.id + " stopped with " + e);
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            threads[k].start();
        }
        for (Thread t : threads) t.join();
        if (failure.get() != null) throw new AssertionError(failure.get());
    }

    @Test
    void lockedAddAndXchgSpinlockAreAtomicAcrossThreads() throws InterruptedException {
        byte[] code = Asm.assemble("""
            .intel_syntax noprefix
                mov rcx, %d
            1:  lock add qword ptr [%d], 1
                # spinlock around a plain read-modify-write
            2:  mov eax, 1
                xchg eax, dword ptr [%d]
                test eax, eax
                jnz 2b
                mov rdx, qword ptr [%d]
                inc rdx
                mov qword ptr [%d], rdx
                mov dword ptr [%d], 0
                dec rcx
                jnz 1b
                hlt
            """.formatted(N, COUNTER, LOCK, PLAIN, PLAIN, LOCK), 64, TestMachine.CODE);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(code);
            Cpu b = m.addCpu(1, TestMachine.STACK_TOP - 0x1000);
            b.rip = TestMachine.CODE;
            runBoth(m.cpu, b);
            assertEquals(2L * N, m.memory.readU64(COUNTER), "lock add lost updates");
            assertEquals(2L * N, m.memory.readU64(PLAIN), "xchg spinlock did not exclude");
            b.detach();
        }
    }

    @Test
    void storesAreSeenInProgramOrder() throws InterruptedException {
        // vCPU 0 writes data = i then flag = i; vCPU 1 reads flag then data and counts the times it
        // saw a flag newer than the data (impossible under TSO) in RBX.
        byte[] writer = Asm.assemble("""
            .intel_syntax noprefix
                mov rcx, 1
            1:  mov qword ptr [%d], rcx
                mov qword ptr [%d], rcx
                inc rcx
                cmp rcx, %d
                jbe 1b
                hlt
            """.formatted(DATA, FLAG, N), 64, TestMachine.CODE);
        byte[] reader = Asm.assemble("""
            .intel_syntax noprefix
                xor ebx, ebx
            1:  mov rax, qword ptr [%d]
                mov rdx, qword ptr [%d]
                cmp rdx, rax
                jae 2f
                inc rbx
            2:  cmp rax, %d
                jb 1b
                hlt
            """.formatted(FLAG, DATA, N), 64, TestMachine.CODE + 0x1000);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(writer);
            m.memory.write(TestMachine.CODE + 0x1000, reader);
            Cpu b = m.addCpu(1, TestMachine.STACK_TOP - 0x1000);
            b.rip = TestMachine.CODE + 0x1000;
            runBoth(m.cpu, b);
            assertEquals(N, m.memory.readU64(FLAG));
            assertEquals(0, b.gpr[RBX], "reader saw the flag before the data it guards");
            b.detach();
        }
    }
}
