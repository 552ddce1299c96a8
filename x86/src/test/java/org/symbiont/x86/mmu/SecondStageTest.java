package org.symbiont.x86.mmu;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * The second translation stage: every guest-physical address the MMU uses (page-table entries
 * and the final address) goes through it, and a missing mapping is a PagingFault exit that the
 * VMM completes after installing the mapping.
 */
class SecondStageTest {
    private static final long WINDOW = 0x60_0000;      // guest-physical window moved by the stage
    private static final long BACKING = 0x80_0000;     // where it really lives
    private static final long LAZY = 0xA0_0000;        // a guest-physical page mapped on demand

    /** Maps [WINDOW, WINDOW + 2 MiB) to BACKING; LAZY exits until {@link #installed} is set. */
    private static final class TestStage implements SecondStage {
        final List<Long> pageTableReads = new ArrayList<>();
        boolean installed;

        @Override
        public long map(Cpu cpu, long linear, long gpa, int access) {
            if (gpa >= TestMachine.PML4 && gpa < TestMachine.PD0 + 0x4000) pageTableReads.add(gpa);
            if (gpa >= WINDOW && gpa < WINDOW + 0x20_0000) return gpa - WINDOW + BACKING;
            if ((gpa & ~0xFFFL) == LAZY && !installed) {
                throw cpu.exit(new Exit.PagingFault(linear, gpa, access));
            }
            return gpa;
        }
    }

    @Test
    void guestPhysicalAddressesAreTranslatedAgain() {
        byte[] code = Asm.assemble("""
            .intel_syntax noprefix
                mov rax, [0x600010]
                mov qword ptr [0x600018], 0x55
                hlt
            """, 64, TestMachine.CODE);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(code);
            m.memory.writeU64(BACKING + 0x10, 0x1122_3344_5566_7788L);
            m.memory.writeU64(WINDOW + 0x10, 0xBADL);
            TestStage stage = new TestStage();
            m.cpu.mmu.setSecondStage(stage);
            assertEquals(Exit.HALT, m.run(100));
            assertEquals(0x1122_3344_5566_7788L, m.reg(RAX), "read through the second stage");
            assertEquals(0x55, m.memory.readU64(BACKING + 0x18), "written through it");
            assertEquals(0, m.memory.readU64(WINDOW + 0x18));
            assertFalse(stage.pageTableReads.isEmpty(), "the page walk's own references go through the stage too");
        }
    }

    @Test
    void aMissingMappingExitsAndTheAccessIsRetriedAfterTheVmmInstallsIt() {
        byte[] code = Asm.assemble("""
            .intel_syntax noprefix
                mov rbx, 7
                mov rax, [0xA00020]
                hlt
            """, 64, TestMachine.CODE);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(code);
            m.memory.writeU64(LAZY + 0x20, 42);
            TestStage stage = new TestStage();
            m.cpu.mmu.setSecondStage(stage);
            Exit e = m.cpu.run(100);
            Exit.PagingFault pf = assertInstanceOf(Exit.PagingFault.class, e);
            assertEquals(LAZY + 0x20, pf.guestPhysical());
            assertEquals(LAZY + 0x20, pf.linearAddress());
            assertEquals(Cpu.ACCESS_READ, pf.access());
            assertEquals(7, m.reg(RBX), "instructions before the access retired");
            assertEquals(0, m.reg(RAX), "the faulting instruction has no effect yet");
            assertThrows(IllegalStateException.class, () -> m.cpu.run(10), "the exit must be completed first");
            stage.installed = true;
            m.cpu.completePagingFault();
            assertEquals(Exit.HALT, m.cpu.run(100));
            assertEquals(42, m.reg(RAX));
        }
    }
}
