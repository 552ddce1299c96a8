package org.symbiont.x86.mmu;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * SwapBypass at the MMU (Palacios 6.11): a guest fault on a non-present PTE is reported to the
 * VMM, which may map the page to VMM-private memory instead of injecting #PF; such mappings go
 * when their slot is invalidated or at the next CR3 write, and the guest cannot name that memory.
 */
class SwapBypassTest {
    static final long V = 0x80_0000_0000L;
    static final long PDPT_T = 0x30000, PD_T = 0x31000, PT_T = 0x32000;
    static final long SLOT = 3, SWAP_PTE = SLOT << 9;

    static TestMachine machine(String intel) {
        TestMachine m = new TestMachine(64 << 20, 16 * PhysicalMemory.PAGE_SIZE);
        m.setupLongMode();
        m.load(Asm.assemble(".intel_syntax noprefix\n" + intel, 64, TestMachine.CODE));
        m.memory.writeU64(TestMachine.PML4 + 8, PDPT_T | 7);
        m.memory.writeU64(PDPT_T, PD_T | 7);
        m.memory.writeU64(PD_T, PT_T | 7);
        m.memory.writeU64(PT_T, SWAP_PTE);
        m.memory.privateRegion().set(ValueLayout.JAVA_LONG_UNALIGNED, SLOT * PhysicalMemory.PAGE_SIZE, 0x1122_3344_5566_7788L);
        m.virtualize(PagingMode.SHADOW, ShadowStrategy.VTLB, PagingCosts.FREE);
        return m;
    }

    @Test
    void aBypassedSwapEntryReadsAndWritesTheVmmCopyUntilTheNextCr3Write() {
        try (TestMachine m = machine("""
                mov rax, 0x8000000000
                mov rbx, [rax]
                mov qword ptr [rax + 8], 0x55
                hlt
                mov rdx, cr3
                mov cr3, rdx
                hlt
                """)) {
            long[] seen = new long[1];
            m.missingPte = (f, pte) -> {
                seen[0] = pte;
                m.shadowPager.bypass(f.linear(), PhysicalMemory.PRIVATE_BASE + (pte >>> 9) * PhysicalMemory.PAGE_SIZE,
                        true, false);
            };
            long injectedBefore = m.cpu.mmu.stats().guestFaultsInjected();
            assertEquals(Exit.HALT, m.run(1000));
            assertEquals(SWAP_PTE, seen[0]);
            assertEquals(0x1122_3344_5566_7788L, m.reg(RBX));
            assertEquals(0x55, m.memory.privateRegion().get(ValueLayout.JAVA_LONG_UNALIGNED, SLOT * PhysicalMemory.PAGE_SIZE + 8));
            assertEquals(injectedBefore, m.cpu.mmu.stats().guestFaultsInjected());
            assertEquals(0, m.shadowPager.bypassFlushed());
            m.cpu.halted = false;
            assertEquals(Exit.HALT, m.run(1000));
            assertEquals(1, m.shadowPager.bypassFlushed(), "the CR3 write dropped the bypass entry");
            assertEquals(0, m.shadowPager.invalidate((PhysicalMemory.PRIVATE_BASE >>> 12) + SLOT));
        }
    }

    @Test
    void invalidatingTheSlotDropsTheMappingAndItsTlbEntry() {
        try (TestMachine m = machine("mov rax, 0x8000000000\n mov rbx, [rax]\n hlt")) {
            m.missingPte = (f, pte) -> m.shadowPager.bypass(f.linear(),
                    PhysicalMemory.PRIVATE_BASE + (pte >>> 9) * PhysicalMemory.PAGE_SIZE, false, false);
            assertEquals(Exit.HALT, m.run(1000));
            assertEquals(PhysicalMemory.PRIVATE_BASE + SLOT * PhysicalMemory.PAGE_SIZE,
                    m.cpu.mmu.translate(DS, V, Cpu.ACCESS_READ, false));
            assertEquals(1, m.shadowPager.invalidate((PhysicalMemory.PRIVATE_BASE >>> 12) + SLOT));
            assertThrows(org.symbiont.x86.exec.ExitSignal.class, () -> m.cpu.mmu.translate(DS, V, Cpu.ACCESS_READ, false),
                    "the next access misses and exits to the VMM");
        }
    }

    @Test
    void guestPageTablesCannotNameVmmPrivateMemory() {
        try (TestMachine m = machine("hlt")) {
            assertEquals(-1, m.memory.hostOffsetForRead(PhysicalMemory.PRIVATE_BASE - PhysicalMemory.PAGE_SIZE));
            assertEquals(64L << 20, m.memory.hostOffsetForRead(PhysicalMemory.PRIVATE_BASE));
            assertEquals(-1, m.memory.hostOffsetForWrite(PhysicalMemory.PRIVATE_BASE + 16 * PhysicalMemory.PAGE_SIZE));
            assertTrue(PhysicalMemory.PRIVATE_BASE >= 1L << m.cpu.model.physicalAddressBits());
        }
    }
}
