package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

class MsrTest {

    /** Guest code writing {@code value} to {@code msr} then reading it back into EDX:EAX. */
    private static String writeRead(int msr, long value) {
        return String.format("""
                mov ecx, %d
                mov eax, %d
                mov edx, %d
                wrmsr
                xor eax, eax
                xor edx, edx
                rdmsr
                hlt
                """, msr, (int) value, (int) (value >>> 32));
    }

    private static void assertRoundTrip(int msr, long value) {
        try (TestMachine m = longMode(writeRead(msr, value))) {
            runToHalt(m);
            long got = (m.reg(RDX) << 32) | (m.reg(RAX) & 0xFFFF_FFFFL);
            assertEquals(value, got, String.format("MSR %#x", msr));
        }
    }

    private static void assertWriteFaults(int msr, long value) {
        try (TestMachine m = longMode(writeRead(msr, value))) {
            runToFault(m, EXC_GP);
            assertEquals(0, errorCode(m));
            assertEquals(TestMachine.CODE + 15, faultRipWithError(m), String.format("fault at WRMSR of %#x", msr));
        }
    }

    @Test
    void eferChecks() {
        try (TestMachine m = longMode(writeRead(MSR_EFER, EFER_SCE | EFER_LME | EFER_NXE))) {
            runToHalt(m);
            // LMA is read-only: writing it as 0 leaves it set.
            assertEquals(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE, m.reg(RAX));
        }
        assertWriteFaults(MSR_EFER, EFER_LME | EFER_LMA | EFER_NXE | (1L << 1));   // reserved bit
        assertWriteFaults(MSR_EFER, EFER_LMA | EFER_NXE);                          // LME change with PG = 1
        assertWriteFaults(MSR_EFER, EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME);   // SVM is not offered
    }

    @Test
    void syscallAndSysenterMsrs() {
        assertRoundTrip(MSR_STAR, 0x0023_0010_1234_5678L);
        assertRoundTrip(MSR_LSTAR, 0xFFFF_8000_0000_1000L);
        assertRoundTrip(MSR_CSTAR, 0x0000_7FFF_FFFF_F000L);
        assertRoundTrip(MSR_SFMASK, 0x4_7700L);
        assertRoundTrip(MSR_SYSENTER_CS, 0x10);
        assertRoundTrip(MSR_SYSENTER_ESP, 0xFFFF_8000_0000_2000L);
        assertRoundTrip(MSR_SYSENTER_EIP, 0x1234_5678L);
        assertWriteFaults(MSR_LSTAR, 0x0000_8000_0000_0000L);
        assertWriteFaults(MSR_CSTAR, 0x1234_0000_0000_0000L);
        assertWriteFaults(MSR_SFMASK, 1L << 32);
        assertWriteFaults(MSR_SYSENTER_EIP, 0x0001_0000_0000_0000L);
    }

    @Test
    void fsAndGsBasesMoveTheSegments() {
        try (TestMachine m = longMode("""
                mov qword ptr [0x300010], 0x1111
                mov qword ptr [0x400020], 0x2222
                mov ecx, 0xC0000100
                mov eax, 0x300000
                xor edx, edx
                wrmsr
                mov ecx, 0xC0000101
                mov eax, 0x400000
                wrmsr
                mov rbx, fs:[0x10]
                mov rsi, gs:[0x20]
                mov ecx, 0xC0000102
                mov eax, 0x500000
                wrmsr
                swapgs
                mov ecx, 0xC0000101
                rdmsr
                mov rdi, rax
                mov ecx, 0xC0000102
                rdmsr
                hlt
                """)) {
            runToHalt(m);
            assertEquals(0x1111, m.reg(RBX));
            assertEquals(0x2222, m.reg(RSI));
            assertEquals(0x500000, m.reg(RDI), "GS base after SWAPGS");
            assertEquals(0x400000, m.reg(RAX), "kernel GS base after SWAPGS");
        }
        assertWriteFaults(MSR_FS_BASE, 0x0000_9000_0000_0000L);
        assertWriteFaults(MSR_KERNEL_GS_BASE, 0x0000_9000_0000_0000L);
    }

    @Test
    void tscWriteAndTscAux() {
        try (TestMachine m = longMode("""
                mov ecx, 0x10
                mov eax, 1000000
                xor edx, edx
                wrmsr
                nop
                rdtsc
                mov rsi, rax
                mov ecx, 0xC0000103
                mov eax, 7
                wrmsr
                rdtscp
                hlt
                """)) {
            runToHalt(m);
            // One instruction (NOP) between WRMSR and RDTSC, one cycle per instruction: the RDTSC
            // sees the written value plus the two instructions retired since the WRMSR started.
            assertEquals(1_000_002, m.reg(RSI));
            assertEquals(1_000_007, m.reg(RAX));
            assertEquals(7, m.reg(RCX));
        }
        assertWriteFaults(MSR_TSC_AUX, 1L << 32);
    }

    @Test
    void apicBaseBelongsToTheVmmsLocalApic() {
        // IA32_APIC_BASE relocates the local APIC and switches x2APIC mode: the VMM's APIC model
        // holds it, so both accesses exit.
        try (TestMachine m = longMode("mov ecx, 0x1b\n rdmsr\n hlt")) {
            Exit e = m.run(100);
            assertEquals(new Exit.Rdmsr(MSR_APIC_BASE), e);
        }
    }

    @Test
    void patAndMiscEnable() {
        assertRoundTrip(MSR_PAT, 0x0007_0106_0504_0100L);
        assertWriteFaults(MSR_PAT, 0x0007_0406_0007_0402L);                  // type 2 is reserved
        assertWriteFaults(MSR_PAT, 0x0007_0406_0007_0408L);                  // type 8 is reserved
        assertRoundTrip(MSR_MISC_ENABLE, 0x0085_0089L);
    }

    @Test
    void mtrrs() {
        try (TestMachine m = longMode("mov ecx, 0xFE\n rdmsr\n hlt")) {
            runToHalt(m);
            assertEquals(0x508, m.reg(RAX));
        }
        assertWriteFaults(MSR_MTRRCAP, 0x508);
        assertRoundTrip(MSR_MTRR_DEF_TYPE, 0xC06);
        assertWriteFaults(MSR_MTRR_DEF_TYPE, 0xC02);
        assertWriteFaults(MSR_MTRR_DEF_TYPE, 0x1006);
        assertRoundTrip(MSR_MTRR_FIX64K, 0x0606_0606_0606_0606L);
        assertRoundTrip(MSR_MTRR_FIX4K_F8000, 0x0500_0104_0600_0105L);
        assertWriteFaults(MSR_MTRR_FIX16K_A0000, 0x0606_0606_0606_0607L);
        assertRoundTrip(MSR_MTRR_PHYSBASE0 + 2, 0x80_0000_0006L);
        assertRoundTrip(MSR_MTRR_PHYSBASE0 + 3, 0xFF_C000_0800L);
        assertWriteFaults(MSR_MTRR_PHYSBASE0 + 2, 0x80_0000_0106L);          // bits 11:8 reserved
        assertWriteFaults(MSR_MTRR_PHYSBASE0 + 3, 0xFF_C000_0801L);          // bits 10:0 reserved
        assertWriteFaults(MSR_MTRR_PHYSMASK7, 1L << 45);                     // beyond MAXPHYADDR
    }

    @Test
    void otherMsrsGoToTheVmm() {
        try (TestMachine m = longMode("""
                mov ecx, 0x3A
                rdmsr
                mov rsi, rax
                mov rdi, rdx
                mov ecx, 0x8B
                mov eax, 5
                mov edx, 6
                wrmsr
                mov ecx, 0x3B
                rdmsr
                hlt
                """)) {
            Exit e = m.cpu.run(100);
            assertEquals(new Exit.Rdmsr(0x3A), e);
            m.cpu.completeRead(0x1_0000_0005L);
            e = m.cpu.run(100);
            assertEquals(new Exit.Wrmsr(0x8B, 0x6_0000_0005L), e);
            m.cpu.completeWrite();
            e = m.cpu.run(100);
            assertEquals(new Exit.Rdmsr(0x3B), e);
            m.cpu.failMsr();
            runToFault(m, EXC_GP);
            assertEquals(5, m.reg(RSI));
            assertEquals(1, m.reg(RDI));
        }
    }

    @Test
    void msrAccessNeedsCpl0() {
        try (TestMachine m = longMode("mov ecx, 0xC0000080\n rdmsr\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
        try (TestMachine m = longMode("xor eax, eax\n xor edx, edx\n mov ecx, 0x10\n wrmsr\n hlt")) {
            enterUser(m);
            runToFault(m, EXC_GP);
        }
    }
}
