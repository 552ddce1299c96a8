package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;
import static org.symbiont.x86.exec.PagingTest.*;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.mmu.PagingCosts;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowStrategy;

/**
 * The same guest programs under native paging, shadow paging (virtual TLB and cached shadow
 * tables) and nested paging, with the test machine answering the paging exits as the VMM does:
 * the guest must see identical results (values, A/D bits, #PF error codes and CR2). The programs
 * invalidate what they change (INVLPG, CR3 loads): what a stale translation shows differs between
 * the modes, as it may between processors.
 */
class VirtualPagingTest {
    enum Config {
        NATIVE(PagingMode.NATIVE, ShadowStrategy.VTLB),
        SHADOW_VTLB(PagingMode.SHADOW, ShadowStrategy.VTLB),
        SHADOW_CACHED(PagingMode.SHADOW, ShadowStrategy.CACHED),
        NESTED(PagingMode.NESTED, ShadowStrategy.VTLB);

        final PagingMode mode;
        final ShadowStrategy strategy;

        Config(PagingMode mode, ShadowStrategy strategy) {
            this.mode = mode;
            this.strategy = strategy;
        }
    }

    static TestMachine machine(Config config, String intel) {
        return withTestTables(intel).virtualize(config.mode, config.strategy, PagingCosts.FREE);
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void editedPteTakesEffectAfterInvlpg(Config config) {
        try (TestMachine m = machine(config, """
                mov rax, 0x8000000000
                mov rbx, [rax]
                mov qword ptr [0x32000], 0x401003     # PTE -> PAGE_B
                invlpg [rax]
                mov rdx, [rax]
                mov qword ptr [rax], 0x1234
                mov rsi, [0x32000]
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            runToHalt(m);
            assertEquals(0xAAAA, m.reg(RBX));
            assertEquals(0xBBBB, m.reg(RDX));
            assertEquals(0x1234, m.memory.readU64(PAGE_B));
            assertEquals(0xAAAA, m.memory.readU64(PAGE_A));
            assertEquals(PAGE_B | P | RW | A | D, m.reg(RSI));
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void editedPteTakesEffectAfterCr3Reload(Config config) {
        try (TestMachine m = machine(config, """
                mov rax, 0x8000000000
                mov rbx, [rax]
                mov rsi, 0x8000001000
                mov qword ptr [rsi], 0x77
                mov qword ptr [0x32000], 0x401003     # PTE 0 -> PAGE_B
                mov qword ptr [0x32008], 0            # PTE 1 not present
                mov rdx, cr3
                mov cr3, rdx
                mov rcx, [rax]
                mov rdi, [rsi]                        # #PF: not present
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            pte(m, 1, PAGE_C | P | RW);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            runToFault(m, EXC_PF);
            assertEquals(0xAAAA, m.reg(RBX));
            assertEquals(0xBBBB, m.reg(RCX));
            assertEquals(0x77, m.memory.readU64(PAGE_C));
            assertEquals(0, errorCode(m));
            assertEquals(V + 0x1000, m.cpu.cr2);
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void accessedAndDirtyBitsAreExact(Config config) {
        try (TestMachine m = machine(config, """
                mov rax, 0x8000000000
                mov rbx, [rax]            # read: A only
                mov rsi, [0x32000]
                mov qword ptr [rax], 5    # write: D
                mov rdi, [0x32000]
                mov rax, 0x8000001000
                mov qword ptr [rax], 6    # first access a write: A and D at once
                mov r8, [0x32008]
                mov rax, 0x8000000000
                mov qword ptr [0x32000], 0x400023     # guest clears D (and R/W for a moment)
                mov qword ptr [0x32000], 0x400023 | 2 # R/W back, D still clear
                invlpg [rax]
                mov rbx, [rax]            # read again: D stays clear
                mov r9, [0x32000]
                mov qword ptr [rax], 7    # write: D set again
                mov r10, [0x32000]
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            pte(m, 1, PAGE_B | P | RW);
            runToHalt(m);
            assertEquals(PAGE_A | P | RW | A, m.reg(RSI));
            assertEquals(PAGE_A | P | RW | A | D, m.reg(RDI));
            assertEquals(PAGE_B | P | RW | A | D, m.reg(R8));
            assertEquals(PAGE_A | P | RW | A, m.reg(R9));
            assertEquals(PAGE_A | P | RW | A | D, m.reg(R10));
            assertEquals(7, m.memory.readU64(PAGE_A));
            assertEquals(A, m.memory.readU64(PD_T) & (A | D), "A in the PDE, no D in a non-leaf entry");
            assertEquals(A, m.memory.readU64(PDPT_T) & (A | D));
            assertEquals(A, m.memory.readU64(TestMachine.PML4 + 8) & (A | D));
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void largePages(Config config) {
        try (TestMachine m = machine(config, """
                mov rax, 0x8000000123
                mov qword ptr [rax], 0x11
                mov rax, 0x8000200456
                mov qword ptr [rax], 0x22
                mov rbx, 0x80001FF000
                mov rbx, [rbx + 0x1456]
                mov rax, 0x8040500789
                mov qword ptr [rax], 0x33
                mov rcx, 0x8040000000
                mov rcx, [rcx + 0x500789]
                mov rdx, [0x31008]
                mov rsi, [0x30008]
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            m.memory.writeU64(PD_T + 8, 0x60_0000 | P | RW | PS);
            m.memory.writeU64(PDPT_T + 8, P | RW | PS);
            runToHalt(m);
            assertEquals(0x11, m.memory.readU64(PAGE_A + 0x123));
            assertEquals(0x22, m.memory.readU64(0x60_0456));
            assertEquals(0x22, m.reg(RBX));
            assertEquals(0x33, m.memory.readU64(0x50_0789));
            assertEquals(0x33, m.reg(RCX));
            assertEquals(0x60_0000 | P | RW | PS | A | D, m.reg(RDX));
            assertEquals(P | RW | PS | A | D, m.reg(RSI));
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void userSupervisorAndWriteFaultsHaveExactErrorCodes(Config config) {
        String[] programs = {
            "mov rax, 0x8000000010\n mov rbx, [rax]",            // supervisor page read from CPL 3
            "mov rax, 0x8000001010\n mov qword ptr [rax], 1",    // read-only user page written
            "mov rax, 0x8000002010\n mov qword ptr [rax], 1",    // not present, write
            "mov rax, 0x8000001010\n mov rbx, [rax]\n mov rax, 0x8000000010\n mov qword ptr [rax], 1",
            "mov rax, 0x8000001010\n mov rbx, [rax]\n mov qword ptr [rax], 1", // read allowed, then write refused
        };
        long[] codes = {PF_P | PF_U, PF_P | PF_W | PF_U, PF_W | PF_U, PF_P | PF_W | PF_U, PF_P | PF_W | PF_U};
        long[] cr2 = {V + 0x10, V + 0x1010, V + 0x2010, V + 0x10, V + 0x1010};
        for (int k = 0; k < programs.length; k++) {
            try (TestMachine m = machine(config, programs[k] + "\n hlt")) {
                pte(m, 0, PAGE_A | P | RW);
                pte(m, 1, PAGE_B | P | US);
                enterUser(m);
                runToFault(m, EXC_PF);
                assertEquals(codes[k], errorCode(m), programs[k]);
                assertEquals(cr2[k], m.cpu.cr2, programs[k]);
                assertEquals(0, m.memory.readU64(PAGE_B + 0x10), programs[k]);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void noExecuteFetchFaults(Config config) {
        try (TestMachine m = machine(config, """
                mov rax, 0x8000001000
                call rax                  # executable page: returns
                mov rax, 0x8000000000
                mov rbx, [rax]            # readable
                call rax                  # #PF: NX
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW | NX);
            pte(m, 1, PAGE_B | P | RW);
            m.memory.writeU8(PAGE_A, 0xC3);
            m.memory.writeU8(PAGE_B, 0xC3);
            runToFault(m, EXC_PF);
            assertEquals(PF_P | PF_I, errorCode(m));
            assertEquals(V, m.cpu.cr2);
            assertEquals(V, faultRipWithError(m));
            assertEquals(0xC3, m.reg(RBX) & 0xFF);
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void guestEditsItsPageTablesThroughARecursiveMapping(Config config) {
        try (TestMachine m = machine(config, """
                mov rax, 0x8000000000
                mov rbx, [rax]
                mov rdi, 0xFFFFFF8040000000           # the PTE of V through PML4[511] -> PML4
                mov rsi, [rdi]
                mov qword ptr [rdi], 0x401003
                invlpg [rax]
                mov rcx, [rax]
                mov rdx, 0xFFFFFFFFFFFFF008           # PML4[1] through the recursive slot, 4 times
                mov r8, [rdx]
                mov r9, 0xFFFFFFFFFFFFF010
                mov qword ptr [r9], 0x30007           # PML4[2] -> PDPT_T as well
                mov r10, 0x10000000000
                mov r10, [r10]                        # V + 1 TiB: same tables, PAGE_B
                hlt
                """)) {
            m.memory.writeU64(TestMachine.PML4 + 511 * 8, TestMachine.PML4 | P | RW);
            pte(m, 0, PAGE_A | P | RW);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            runToHalt(m);
            assertEquals(0xAAAA, m.reg(RBX));
            assertEquals(PAGE_A | P | RW | A, m.reg(RSI));
            assertEquals(0xBBBB, m.reg(RCX));
            assertEquals(PDPT_T | P | RW | US | A, m.reg(R8));
            assertEquals(0xBBBB, m.reg(R10));
            assertEquals(PAGE_B | P | RW, m.memory.readU64(PT_T) & ~(A | D));
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void writeProtectGovernsSupervisorWrites(Config config) {
        try (TestMachine m = machine(config, """
                mov rax, 0x8000000000
                mov rbx, [rax]            # read-only page, read
                mov rcx, cr0
                and ecx, ~0x10000
                mov cr0, rcx              # WP off: supervisor writes to read-only pages allowed
                mov qword ptr [rax], 0x77
                mov rsi, [0x32000]
                or ecx, 0x10000
                mov cr0, rcx              # WP on again
                mov qword ptr [rax], 0x88 # #PF(P|W)
                hlt
                """)) {
            pte(m, 0, PAGE_A | P);
            m.memory.writeU64(PAGE_A, 0x55);
            runToFault(m, EXC_PF);
            assertEquals(0x55, m.reg(RBX));
            assertEquals(0x77, m.memory.readU64(PAGE_A));
            assertEquals(PAGE_A | P | A | D, m.reg(RSI));
            assertEquals(PF_P | PF_W, errorCode(m));
            assertEquals(V, m.cpu.cr2);
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void lockedAndStringWritesToPageTables(Config config) {
        try (TestMachine m = machine(config, """
                mov rax, 0x8000000000
                mov rbx, [rax]
                lock and qword ptr [0x32000], ~0x20   # clear A
                invlpg [rax]
                mov r8, [0x32000]
                mov rbx, [rax]                        # sets A again
                mov r9, [0x32000]
                mov rcx, 0x402003
                xchg [0x32008], rcx                   # PTE 1 -> PAGE_C, old value back
                mov r12, rcx
                mov rsi, 0x8000001000
                invlpg [rsi]
                mov r10, [rsi]
                mov rdi, 0x32010                      # PTEs 2..5 -> PAGE_A with a string store
                mov rax, 0x400003
                mov ecx, 4
                rep stosq
                mov rax, 0x8000005000
                mov r11, [rax]
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            pte(m, 1, PAGE_B | P | RW);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_C, 0xCCCC);
            runToHalt(m);
            assertEquals(PAGE_A | P | RW, m.reg(R8));
            assertEquals(PAGE_A | P | RW | A, m.reg(R9));
            assertEquals(PAGE_B | P | RW, m.reg(R12));
            assertEquals(0xCCCC, m.reg(R10));
            assertEquals(0xAAAA, m.reg(R11));
            assertEquals(PAGE_A | P | RW | A, m.memory.readU64(PT_T + 5 * 8));
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void smepBlocksSupervisorFetchesFromUserPages(Config config) {
        try (TestMachine m = supervisorIdentityMap("""
                mov rax, 0x8000000000
                call rax                  # allowed without SMEP
                mov rbx, cr4
                or ebx, 1 << 20
                mov cr4, rbx
                call rax
                hlt
                """).virtualize(config.mode, config.strategy, PagingCosts.FREE)) {
            runToFault(m, EXC_PF);
            assertEquals(PF_P | PF_I, errorCode(m));
            assertEquals(V, m.cpu.cr2);
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void smapBlocksSupervisorDataAccessesUnlessAcIsSet(Config config) {
        try (TestMachine m = supervisorIdentityMap("""
                mov rax, cr4
                or eax, 1 << 21
                mov cr4, rax
                mov rax, 0x8000000008
                mov rbx, [rax]
                mov qword ptr [rax], 0x66
                hlt
                mov rcx, [rax]
                hlt
                """).virtualize(config.mode, config.strategy, PagingCosts.FREE)) {
            m.cpu.rflags |= AC;                // explicit supervisor accesses allowed
            runToHalt(m);
            assertEquals(0x5555, m.reg(RBX));
            assertEquals(0x66, m.memory.readU64(PAGE_A + 8));
            m.cpu.rflags &= ~AC;
            m.cpu.halted = false;
            runToFault(m, EXC_PF);
            assertEquals(PF_P, errorCode(m));
            assertEquals(V + 8, m.cpu.cr2);
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void anInstructionCrossingIntoAnotherPage(Config config) {
        for (boolean secondPresent : new boolean[] {true, false}) {
            try (TestMachine m = machine(config, "mov rax, 0x8000000FFA\n jmp rax")) {
                pte(m, 0, PAGE_A | P | RW);
                pte(m, 1, secondPresent ? PAGE_B | P | RW : 0);
                // mov rbx, 0x1122334455667788 (10 bytes from V + 0xFFA to V + 0x1003), then hlt
                byte[] insn = {0x48, (byte) 0xBB, (byte) 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
                m.memory.write(PAGE_A + 0xFFA, insn, 0, 6);
                m.memory.write(PAGE_B, insn, 6, 4);
                m.memory.writeU8(PAGE_B + 4, 0xF4);
                if (secondPresent) {
                    runToHalt(m);
                    assertEquals(0x1122_3344_5566_7788L, m.reg(RBX));
                } else {
                    runToFault(m, EXC_PF);
                    assertEquals(PF_I, errorCode(m));
                    assertEquals(V + 0x1000, m.cpu.cr2);
                    assertEquals(V + 0xFFA, faultRipWithError(m));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void twoAddressSpacesAndAnEditToTheOneNotRunning(Config config) {
        long pml4b = 0x20000, pdptb = 0x21000, pdb = 0x22000, ptb = 0x23000;
        try (TestMachine m = machine(config, """
                mov rax, 0x8000000000
                mov rbx, [rax]                        # space A: PAGE_A
                mov rdx, cr3
                mov rsi, 0x20000
                mov cr3, rsi
                mov rcx, [rax]                        # space B: PAGE_C
                mov qword ptr [0x32000], 0x401003     # A's PTE -> PAGE_B while B runs
                mov qword ptr [rax], 0xC0C0           # a write in B
                mov cr3, rdx
                mov rdi, [rax]                        # A again: PAGE_B
                mov cr3, rsi
                mov r8, [rax]                         # B again: PAGE_C
                mov r9, [0x23000]                     # B's PTE
                mov cr3, rdx
                hlt
                """)) {
            byte[] pml4 = new byte[4096];
            m.memory.read(TestMachine.PML4, pml4, 0, 4096);
            m.memory.write(pml4b, pml4);
            m.memory.writeU64(pml4b + 8, pdptb | P | RW | US);
            m.memory.writeU64(pdptb, pdb | P | RW | US);
            m.memory.writeU64(pdb, ptb | P | RW | US);
            m.memory.writeU64(ptb, PAGE_C | P | RW);
            pte(m, 0, PAGE_A | P | RW);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            m.memory.writeU64(PAGE_C, 0xCCCC);
            runToHalt(m);
            assertEquals(0xAAAA, m.reg(RBX));
            assertEquals(0xCCCC, m.reg(RCX));
            assertEquals(0xBBBB, m.reg(RDI));
            assertEquals(0xC0C0, m.reg(R8));
            assertEquals(PAGE_C | P | RW | A | D, m.reg(R9));
            assertEquals(TestMachine.PML4, m.cpu.cr3);
        }
    }

    // ---- 32-bit paging and PAE paging in 32-bit protected mode, paging turned on by the guest ----

    @ParameterizedTest
    @EnumSource(Config.class)
    void thirtyTwoBitPagingWithFourMegabytePages(Config config) {
        long pd = 0x30000, pt = 0x31000;
        try (TestMachine m = protectedMode("""
                mov eax, cr4
                or eax, 0x10              # PSE
                mov cr4, eax
                mov eax, 0x30000
                mov cr3, eax
                mov eax, cr0
                or eax, 0x80010000        # PG, WP
                mov cr0, eax
                mov dword ptr [0x400010], 0x1234      # 4 KiB page -> 0x801000
                mov dword ptr [0x800020], 0x5678      # 4 MiB page -> 0xC00000
                mov ebx, [0x31004]
                mov ecx, [0x30008]
                mov dword ptr [0x401000], 1           # read-only 4 KiB page
                hlt
                """).virtualize(config.mode, config.strategy, PagingCosts.FREE)) {
            m.memory.writeU32(pd, 0 | P | RW | PS);              // 0-4 MiB identity (code, stack, tables)
            m.memory.writeU32(pd + 4, pt | P | RW);
            m.memory.writeU32(pd + 8, 0xC0_0000 | P | RW | PS);
            m.memory.writeU32(pt, 0x80_1000 | P | RW);
            m.memory.writeU32(pt + 4, 0x80_2000 | P);
            runToFault(m, EXC_PF);
            assertEquals(0x1234, m.memory.readU32(0x80_1010));
            assertEquals(0x5678, m.memory.readU32(0xC0_0020));
            assertEquals(0x80_1000 | P | RW | A | D, m.memory.readU32(pt));
            assertEquals(0x80_2000 | P, m.reg(RBX), "not accessed yet");
            assertEquals(0xC0_0000 | P | RW | PS | A | D, m.reg(RCX));
            assertEquals(PF_P | PF_W, errorCode(m));
            assertEquals(0x40_1000, m.cpu.cr2);
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void paePagingInProtectedMode(Config config) {
        long pdpt = 0x30000, pd = 0x31000, pt = 0x32000;
        try (TestMachine m = protectedMode("""
                mov ecx, 0xC0000080
                rdmsr
                or eax, 0x800             # NXE
                wrmsr
                mov eax, cr4
                or eax, 0x20              # PAE
                mov cr4, eax
                mov eax, 0x30000
                mov cr3, eax
                mov eax, cr0
                or eax, 0x80000000
                mov cr0, eax
                mov dword ptr [0x200010], 0x1234      # 4 KiB page -> 0x801000
                mov dword ptr [0x400020], 0x5678      # 2 MiB page -> 0xA00000
                mov ebx, [0x40000010]                 # through PDPTE 1 -> PD 0x33000
                mov dword ptr [0x30008], 0x35001      # PDPTE 1 edited in memory: no effect until CR3 is loaded
                invlpg [0x40000010]
                mov edx, [0x40000010]
                mov eax, cr3
                mov cr3, eax
                mov ecx, [0x40000010]                 # now through the new PDPTE
                mov eax, 0x201000
                call eax                              # execute-disable page
                hlt
                """).virtualize(config.mode, config.strategy, PagingCosts.FREE)) {
            m.memory.writeU64(pdpt, pd | P);
            m.memory.writeU64(pd, 0 | P | RW | PS);
            m.memory.writeU64(pd + 8, pt | P | RW);
            m.memory.writeU64(pd + 16, 0xA0_0000 | P | RW | PS);
            m.memory.writeU64(pt, 0x80_1000 | P | RW);
            m.memory.writeU64(pt + 8, 0x80_2000 | P | RW | NX);
            m.memory.writeU8(0x80_2000, 0xC3);
            m.memory.writeU64(pdpt + 8, 0x33000 | P);          // 1-2 GiB: PD 0x33000, entry 0 -> 0x800000
            m.memory.writeU64(0x33000, 0x80_0000 | P | RW | PS);
            m.memory.writeU64(0x35000, 0xE0_0000 | P | RW | PS);  // the replacement PD: entry 0 -> 0xE00000
            m.memory.writeU32(0x80_0010, 0x4242);
            m.memory.writeU32(0xE0_0010, 0x4343);
            runToFault(m, EXC_PF);
            assertEquals(0x1234, m.memory.readU32(0x80_1010));
            assertEquals(0x5678, m.memory.readU32(0xA0_0020));
            assertEquals(0x4242, m.reg(RBX));
            assertEquals(0x4242, m.reg(RDX), "the PDPTE registers, not memory, are used");
            assertEquals(0x4343, m.reg(RCX));
            assertEquals(PF_P | PF_I, errorCode(m));
            assertEquals(0x20_1000, m.cpu.cr2);
        }
    }

    // ---- events and exits around the paging exits ----

    @ParameterizedTest
    @EnumSource(Config.class)
    void anEventIsDeliveredThroughPagesTheVmmMustMapFirst(Config config) {
        try (TestMachine m = machine(config, "mov rbx, 1\n hlt")) {
            m.cpu.injectNmi();        // IDT, stub and stack pages are touched first by the delivery
            Exit e = m.run(1000);
            assertEquals(Exit.HALT, e);
            assertEquals(java.util.List.of(2L), m.reports);
            assertEquals(0, m.reg(RBX));
            assertEquals(TestMachine.CODE, m.memory.readU64(m.reg(RSP)), "the return RIP pushed once");
        }
    }

    @ParameterizedTest
    @EnumSource(Config.class)
    void anMmioReadIsNotRepeatedWhenTheSameInstructionThenNeedsTheVmmForPaging(Config config) {
        try (TestMachine m = machine(config, """
                mov rsi, 0xF0000000                   # not RAM: device memory
                mov rdi, 0x8000000000
                movsq
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            int mmioReads = 0;
            Exit e;
            while ((e = m.run(1000)) instanceof Exit.MmioRead r) {
                assertEquals(0xF000_0000L, r.address());
                mmioReads++;
                m.cpu.completeRead(0x4242);
            }
            assertEquals(Exit.HALT, e);
            assertEquals(1, mmioReads);
            assertEquals(0x4242, m.memory.readU64(PAGE_A));
            assertEquals(0xF000_0008L, m.reg(RSI));
        }
    }
}
