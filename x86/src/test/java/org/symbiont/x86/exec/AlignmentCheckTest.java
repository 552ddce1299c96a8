package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;

/** #AC: misaligned data accesses at CPL 3 with CR0.AM and RFLAGS.AC set (SDM Vol. 3A, 6.15). */
class AlignmentCheckTest {
    private static final String PROGRAM = """
            mov rbx, rsp
            mov eax, [rbx - 16]        # aligned: fine
            mov ax, [rbx - 14]         # aligned word: fine
            mov byte ptr [rbx - 13], 1 # bytes are always aligned
            mov r8, 1
            mov eax, [rbx - 15]        # misaligned dword
            mov r9, 1
            hlt
            """;

    private static TestMachine user(boolean am, boolean ac) {
        TestMachine m = longMode(PROGRAM);
        enterUser(m);
        if (am) m.cpu.cr0 |= CR0_AM;
        m.cpu.updateMode();
        if (ac) m.cpu.setRflags(m.cpu.getRflags() | AC);
        return m;
    }

    @Test
    void aMisalignedUserAccessFaultsWhenAmAndAcAreSet() {
        try (TestMachine m = user(true, true)) {
            runToFault(m, EXC_AC);
            assertEquals(0, errorCode(m));
            assertEquals(1, m.reg(R8), "aligned accesses and byte accesses went through");
            assertEquals(0, m.reg(R9), "the misaligned load faulted");
        }
    }

    @Test
    void noCheckWithoutAmOrAcOrAtCpl0() {
        for (boolean[] bits : new boolean[][] {{true, false}, {false, true}}) {
            try (TestMachine m = user(bits[0], bits[1])) {
                runToFault(m, EXC_GP); // reaches HLT, which is privileged at CPL 3
                assertEquals(1, m.reg(R9));
            }
        }
        try (TestMachine m = longMode(PROGRAM)) {
            m.cpu.cr0 |= CR0_AM;
            m.cpu.setRflags(m.cpu.getRflags() | AC);
            runToHalt(m);
            assertEquals(1, m.reg(R9), "CPL 0 is never checked");
        }
    }

    @Test
    void popfTurnsCheckingOnAndOff() {
        try (TestMachine m = longMode("""
                mov rbx, rsp
                pushfq
                or qword ptr [rsp], 0x40000
                popfq
                mov eax, [rbx - 15]
                hlt
                """)) {
            enterUser(m);
            m.cpu.cr0 |= CR0_AM;
            m.cpu.updateMode();
            runToFault(m, EXC_AC);
        }
    }
}
