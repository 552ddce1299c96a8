package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;

/**
 * The MMU exercised by guest code under native paging: page sizes, accessed and dirty bits, TLB
 * maintenance (INVLPG, CR3 loads, global pages, INVPCID) including stale translations,
 * protection (NX, U/S, R/W with CR0.WP) with exact error codes and CR2, PAE CR3 loads, and a
 * guest editing its page tables through a recursive mapping. {@link VirtualPagingTest} runs
 * programs like these, SMEP, SMAP, and 32-bit and PAE paging turned on by the guest, under
 * native, shadow and nested paging alike.
 */
class PagingTest {
    /** Linear base of the test mappings: PML4 entry 1. */
    static final long V = 0x80_0000_0000L;
    static final long PDPT_T = 0x30000, PD_T = 0x31000, PT_T = 0x32000;
    static final long PAGE_A = 0x40_0000, PAGE_B = 0x40_1000, PAGE_C = 0x40_2000;
    static final long P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100, NX = 1L << 63;

    /** A 64-bit machine whose PML4 entry 1 leads to PDPT_T -> PD_T -> PT_T (all U/S and R/W). */
    static TestMachine withTestTables(String intel) {
        TestMachine m = longMode(intel);
        m.memory.writeU64(TestMachine.PML4 + 8, PDPT_T | P | RW | US);
        m.memory.writeU64(PDPT_T, PD_T | P | RW | US);
        m.memory.writeU64(PD_T, PT_T | P | RW | US);
        return m;
    }

    static void pte(TestMachine m, int index, long value) {
        m.memory.writeU64(PT_T + 8L * index, value);
    }

    @Test
    void fourKilobyteTwoMegabyteAndOneGigabytePages() {
        try (TestMachine m = withTestTables("""
                mov rax, 0x8000000123
                mov qword ptr [rax], 0x11
                mov rax, 0x8000200456
                mov qword ptr [rax], 0x22
                mov rax, 0x8040500789
                mov qword ptr [rax], 0x33
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);                                   // V + 0       -> PAGE_A (4 KiB)
            m.memory.writeU64(PD_T + 8, 0x60_0000 | P | RW | PS);         // V + 2 MiB   -> 0x600000 (2 MiB)
            m.memory.writeU64(PDPT_T + 8, P | RW | PS);                   // V + 1 GiB   -> 0 (1 GiB)
            runToHalt(m);
            assertEquals(0x11, m.memory.readU64(PAGE_A + 0x123));
            assertEquals(0x22, m.memory.readU64(0x60_0456));
            assertEquals(0x33, m.memory.readU64(0x50_0789));
        }
    }

    @Test
    void accessedAndDirtyBitsAreSetByTheWalkAndVisibleToTheGuest() {
        try (TestMachine m = withTestTables("""
                mov rax, 0x8000000000
                mov rbx, [rax]            # read: A
                mov rsi, [0x32000]        # the PTE as the guest sees it
                mov qword ptr [rax], 5    # write: D
                mov rdi, [0x32000]
                mov rax, 0x8000001000
                mov qword ptr [rax], 6    # first access is a write: A and D at once
                mov r8, [0x32008]
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            pte(m, 1, PAGE_B | P | RW);
            runToHalt(m);
            assertEquals(PAGE_A | P | RW | A, m.reg(RSI));
            assertEquals(PAGE_A | P | RW | A | D, m.reg(RDI));
            assertEquals(PAGE_B | P | RW | A | D, m.reg(R8));
            assertEquals(A, m.memory.readU64(PD_T) & (A | D), "A in the PDE, no D in a non-leaf entry");
            assertEquals(A, m.memory.readU64(PDPT_T) & (A | D));
            assertEquals(A, m.memory.readU64(TestMachine.PML4 + 8) & (A | D));
        }
    }

    @Test
    void invlpgMakesAnEditedPteTakeEffect() {
        try (TestMachine m = withTestTables("""
                mov rax, 0x8000000000
                mov rbx, [rax]
                mov qword ptr [0x32000], 0x401003     # PTE -> PAGE_B
                mov rcx, [rax]                        # the TLB still holds PAGE_A
                invlpg [rax]
                mov rdx, [rax]
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            runToHalt(m);
            assertEquals(0xAAAA, m.reg(RBX));
            assertEquals(0xAAAA, m.reg(RCX), "stale translation until INVLPG");
            assertEquals(0xBBBB, m.reg(RDX));
        }
    }

    @Test
    void cr3ReloadFlushesNonGlobalButKeepsGlobalPages() {
        try (TestMachine m = withTestTables("""
                mov rax, 0x8000000000
                mov rbx, [rax]                        # non-global page
                mov rsi, 0x8000001000
                mov r8, [rsi]                         # global page
                mov qword ptr [0x32000], 0x402003     # both PTEs -> PAGE_C
                mov qword ptr [0x32008], 0x402103
                mov rdx, cr3
                mov cr3, rdx
                mov rcx, [rax]                        # new translation
                mov r9, [rsi]                         # global entry survived the CR3 load
                invlpg [rsi]
                mov r10, [rsi]                        # INVLPG drops global entries too
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            pte(m, 1, PAGE_B | P | RW | G);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            m.memory.writeU64(PAGE_C, 0xCCCC);
            runToHalt(m);
            assertEquals(0xAAAA, m.reg(RBX));
            assertEquals(0xCCCC, m.reg(RCX));
            assertEquals(0xBBBB, m.reg(R8));
            assertEquals(0xBBBB, m.reg(R9));
            assertEquals(0xCCCC, m.reg(R10));
        }
    }

    @Test
    void togglingPgeFlushesGlobalPages() {
        try (TestMachine m = withTestTables("""
                mov rsi, 0x8000001000
                mov r8, [rsi]
                mov qword ptr [0x32008], 0x402103
                mov rax, cr4
                and rax, ~0x80
                mov cr4, rax
                or rax, 0x80
                mov cr4, rax
                mov r9, [rsi]
                hlt
                """)) {
            pte(m, 1, PAGE_B | P | RW | G);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            m.memory.writeU64(PAGE_C, 0xCCCC);
            runToHalt(m);
            assertEquals(0xBBBB, m.reg(R8));
            assertEquals(0xCCCC, m.reg(R9));
        }
    }

    @Test
    void noExecuteFetchFaultsWithInstructionFetchBit() {
        try (TestMachine m = withTestTables("""
                mov rax, 0x8000000000
                call rax
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW | NX);
            m.memory.writeU8(PAGE_A, 0xC3);   // ret
            runToFault(m, EXC_PF);
            assertEquals(PF_P | PF_I, errorCode(m));
            assertEquals(V, m.cpu.cr2);
            assertEquals(V, faultRipWithError(m));
        }
    }

    @Test
    void reservedBitsAreReportedWithRsvd() {
        // Bit 45 is beyond the 40-bit physical-address width.
        try (TestMachine m = withTestTables("mov rax, 0x8000000008\n mov rbx, [rax]\n hlt")) {
            pte(m, 0, PAGE_A | P | RW | (1L << 45));
            runToFault(m, EXC_PF);
            assertEquals(PF_P | PF_RSVD, errorCode(m));
            assertEquals(V + 8, m.cpu.cr2);
        }
        // With EFER.NXE clear, bit 63 is reserved.
        try (TestMachine m = withTestTables("""
                mov ecx, 0xC0000080
                rdmsr
                and eax, ~0x800
                wrmsr
                mov rax, 0x8000000000
                mov qword ptr [rax], 1
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW | NX);
            runToFault(m, EXC_PF);
            assertEquals(PF_P | PF_RSVD | PF_W, errorCode(m));
        }
    }

    @Test
    void userAccessesAndErrorCodes() {
        String[] programs = {
            "mov rax, 0x8000000010\n mov rbx, [rax]",            // supervisor page read from CPL 3
            "mov rax, 0x8000001010\n mov qword ptr [rax], 1",    // read-only user page written
            "mov rax, 0x8000002010\n mov qword ptr [rax], 1",    // not present, write
            "mov rax, 0x8000001010\n mov rbx, [rax]\n mov rax, 0x8000000010\n mov qword ptr [rax], 1",
        };
        long[] codes = {PF_P | PF_U, PF_P | PF_W | PF_U, PF_W | PF_U, PF_P | PF_W | PF_U};
        for (int k = 0; k < programs.length; k++) {
            try (TestMachine m = withTestTables(programs[k] + "\n hlt")) {
                pte(m, 0, PAGE_A | P | RW);
                pte(m, 1, PAGE_B | P | US);
                enterUser(m);
                runToFault(m, EXC_PF);
                assertEquals(codes[k], errorCode(m), programs[k]);
                assertEquals(programs[k].contains("0x8000000010") ? V + 0x10 : programs[k].contains("0x8000002010") ? V + 0x2010 : V + 0x1010,
                        m.cpu.cr2, programs[k]);
            }
        }
    }

    @Test
    void writeProtectGovernsSupervisorWrites() {
        try (TestMachine m = withTestTables("mov rax, 0x8000000000\n mov qword ptr [rax], 1\n hlt")) {
            pte(m, 0, PAGE_A | P);
            runToFault(m, EXC_PF);
            assertEquals(PF_P | PF_W, errorCode(m));
        }
        try (TestMachine m = withTestTables("""
                mov rax, cr0
                and eax, ~0x10000
                mov cr0, rax
                mov rax, 0x8000000000
                mov qword ptr [rax], 0x77
                hlt
                """)) {
            pte(m, 0, PAGE_A | P);
            runToHalt(m);
            assertEquals(0x77, m.memory.readU64(PAGE_A));
        }
    }

    /** Makes the identity map supervisor-only, so that SMEP/SMAP allow the kernel to run. */
    static TestMachine supervisorIdentityMap(String intel) {
        TestMachine m = withTestTables(intel);
        m.memory.writeU64(TestMachine.PML4, TestMachine.PDPT | P | RW);
        pte(m, 0, PAGE_A | P | RW | US);
        m.memory.writeU8(PAGE_A, 0xC3);
        m.memory.writeU64(PAGE_A + 8, 0x5555);
        return m;
    }

    @Test
    void guestEditsItsPageTablesThroughARecursiveMapping() {
        try (TestMachine m = withTestTables("""
                mov rax, 0x8000000000
                mov rbx, [rax]
                mov rdi, 0xFFFFFF8040000000           # the PTE of V through PML4[511] -> PML4
                mov rsi, [rdi]
                mov qword ptr [rdi], 0x401003
                invlpg [rax]
                mov rcx, [rax]
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
            assertEquals(PAGE_B | P | RW, m.memory.readU64(PT_T) & ~(A | D));
        }
    }

    @Test
    void invpcidTypes() {
        // Descriptor at 0x90000: PCID 0, address V + 0x1000. Type 0 drops that page (global or
        // not); type 3 drops the non-global entries; type 2 drops everything.
        try (TestMachine m = withTestTables("""
                mov qword ptr [0x90000], 0
                mov rax, 0x8000001000
                mov [0x90008], rax
                mov rsi, 0x8000000000
                mov rbx, [rsi]
                mov rbx, [rax]
                mov qword ptr [0x32000], 0x402003
                mov qword ptr [0x32008], 0x402103
                xor ecx, ecx
                invpcid rcx, [0x90000]             # type 0: V + 0x1000 only
                mov r8, [rsi]
                mov r9, [rax]
                mov qword ptr [0x32008], 0x401103
                mov ecx, 3
                invpcid rcx, [0x90000]             # type 3: the global page survives
                mov r10, [rax]
                mov r11, [rsi]
                mov ecx, 2
                invpcid rcx, [0x90000]             # type 2: everything
                mov r12, [rax]
                mov ecx, 4
                invpcid rcx, [0x90000]             # invalid type
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            pte(m, 1, PAGE_B | P | RW | G);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            m.memory.writeU64(PAGE_C, 0xCCCC);
            runToFault(m, EXC_GP);
            assertEquals(0xAAAA, m.reg(R8), "type 0 left the other page");
            assertEquals(0xCCCC, m.reg(R9));
            assertEquals(0xCCCC, m.reg(R10), "global entry kept by type 3");
            assertEquals(0xCCCC, m.reg(R11));
            assertEquals(0xBBBB, m.reg(R12));
        }
        // A nonzero PCID needs CR4.PCIDE for types 0 and 1; bits 63:12 of the descriptor are reserved.
        for (long descriptor : new long[] {5, 1L << 12}) {
            try (TestMachine m = longMode("mov ecx, 1\n invpcid rcx, [0x90000]\n hlt")) {
                m.memory.writeU64(0x90000, descriptor);
                runToFault(m, EXC_GP);
            }
        }
        try (TestMachine m = longMode("xor ecx, ecx\n invpcid rcx, [0x90000]\n hlt")) {
            m.memory.writeU64(0x90008, 0x0000_8000_0000_0000L);   // non-canonical address
            runToFault(m, EXC_GP);
        }
        try (TestMachine m = longMode("xor ecx, ecx\n invpcid rcx, [0x90000]\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
    }

    @Test
    void cr3LoadWithPcidAndNoFlushBitStillSwitchesAddressSpaces() {
        long pml4b = 0x33000, pdptB = 0x34000, pdB = 0x35000, ptB = 0x36000;
        try (TestMachine m = withTestTables("""
                mov rax, cr4
                or eax, 1 << 17
                mov cr4, rax
                mov rsi, 0x8000000000
                mov rbx, [rsi]                        # address space A, PCID 0
                mov rax, 0x8000000000033001           # address space B, PCID 1, keep its entries
                mov cr3, rax
                mov rcx, [rsi]
                mov rax, 0x8000000000002000           # back to A
                mov cr3, rax
                mov rdx, [rsi]
                hlt
                """)) {
            pte(m, 0, PAGE_A | P | RW);
            m.memory.writeU64(pml4b, m.memory.readU64(TestMachine.PML4));
            m.memory.writeU64(pml4b + 8, pdptB | P | RW);
            m.memory.writeU64(pdptB, pdB | P | RW);
            m.memory.writeU64(pdB, ptB | P | RW);
            m.memory.writeU64(ptB, PAGE_B | P | RW);
            m.memory.writeU64(PAGE_A, 0xAAAA);
            m.memory.writeU64(PAGE_B, 0xBBBB);
            runToHalt(m);
            assertEquals(0xAAAA, m.reg(RBX));
            assertEquals(0xBBBB, m.reg(RCX));
            assertEquals(0xAAAA, m.reg(RDX));
        }
    }

    // ---- PAE paging in 32-bit protected mode (32-bit and PAE paging at work: VirtualPagingTest) ----

    @Test
    void paeCr3LoadChecksPdpteReservedBits() {
        try (TestMachine m = protectedMode("""
                mov eax, cr4
                or eax, 0x20
                mov cr4, eax
                mov eax, 0x30000
                mov cr3, eax
                mov eax, cr0
                or eax, 0x80000000
                mov cr0, eax
                mov dword ptr [0x30008], 0x33007      # PDPTE with the reserved U/S and R/W bits
                mov eax, 0x30000
                mov cr3, eax
                hlt
                """)) {
            m.memory.writeU64(0x30000, 0x31000 | P);
            m.memory.writeU64(0x31000, 0 | P | RW | PS);
            runToFault(m, EXC_GP);
            assertEquals(0, errorCode(m));
        }
    }
}
