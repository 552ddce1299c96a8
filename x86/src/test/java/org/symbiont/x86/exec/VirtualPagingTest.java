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
 * the guest must see identical results (values, A/D bits, #PF error codes and CR2).
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
}
