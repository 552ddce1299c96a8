package org.symbiont.x86.difftest;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Assumptions;

/**
 * The two sides of the differential test on hand-written cases with known outcomes: the native
 * harness and the emulator runner must report completion, faults, registers and memory as the
 * architecture defines them, and the comparison must see (only) real differences.
 */
class HarnessTest {
    private static NativeHarness host;
    private static EmulatorRunner emulator;

    @BeforeAll
    static void start() throws Exception {
        boolean gcc = NativeHarness.gccAvailable();
        if (!gcc) System.out.println("SKIPPED: gcc not found: native harness tests do not run");
        Assumptions.assumeTrue(gcc, "gcc not found");
        host = NativeHarness.start();
        emulator = new EmulatorRunner();
    }

    @AfterAll
    static void stop() throws Exception {
        if (host != null) host.close();
        if (emulator != null) emulator.close();
    }

    private static MachineState[] both(TestCase c) throws Exception {
        host.submit(List.of(c));
        MachineState n = host.collect(List.of(c)).get(0);
        MachineState e = emulator.run(c);
        assertEquals(List.of(), DifferentialRun.differences(n, e, 0, 0), "native and emulated results differ");
        return new MachineState[] {n, e};
    }

    private static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int k = 0; k < b.length; k++) out[k] = (byte) b[k];
        return out;
    }

    @Test
    void addCompletesWithTheSum() throws Exception {
        // add rax, rbx
        for (MachineState s : both(TestCase.handWritten(bytes(0x48, 0x01, 0xD8), 1, 5, 0, 0, 7))) {
            assertEquals(MachineState.Outcome.COMPLETED, s.outcome);
            assertEquals(Layout.CODE_END, s.rip);
            assertEquals(12, s.gpr[0]);
            assertEquals(0x206, s.rflags & 0xFFF, "PF set, others clear");
        }
    }

    @Test
    void storeShowsInTheDataRegion() throws Exception {
        // mov [0x20000100], rax (absolute disp32)
        TestCase c = TestCase.handWritten(bytes(0x48, 0x89, 0x04, 0x25, 0x00, 0x01, 0x00, 0x20), 2, 0x1122_3344_5566_7788L);
        byte[] before = c.initialData();
        for (MachineState s : both(c)) {
            assertEquals(0x88, s.data[0x100] & 0xFF);
            assertEquals(0x11, s.data[0x107] & 0xFF);
            assertEquals(before[0x108], s.data[0x108]);
        }
    }

    @Test
    void nonCanonicalAddressIsGeneralProtectionAtTheInstruction() throws Exception {
        // mov rax, [rbx] with RBX non-canonical
        TestCase c = TestCase.handWritten(bytes(0x48, 0x8B, 0x03), 3, 100, 0, 0, 0x8000_0000_0000_0000L);
        for (MachineState s : both(c)) {
            assertEquals(MachineState.Outcome.FAULT, s.outcome);
            assertEquals(13, s.vector);
            assertEquals(c.codeAddress(), s.rip);
            assertEquals(100, s.gpr[0], "no register changes");
        }
    }

    @Test
    void accessBeyondTheRegionIsPageFaultWithItsAddress() throws Exception {
        // mov rax, [0x20000ffc] (8 bytes, the last 4 beyond the region)
        for (MachineState s : both(TestCase.handWritten(bytes(0x48, 0x8B, 0x04, 0x25, 0xFC, 0x0F, 0x00, 0x20), 4))) {
            assertEquals(14, s.vector);
            assertEquals(Layout.DATA + Layout.DATA_SIZE, s.faultAddress);
        }
    }

    @Test
    void invalidOpcodeIsUd() throws Exception {
        // nop; ud2
        TestCase c = TestCase.handWritten(bytes(0x90, 0x0F, 0x0B), 5);
        for (MachineState s : both(c)) {
            assertEquals(6, s.vector);
            assertEquals(c.codeAddress() + 1, s.rip);
        }
    }

    @Test
    void pushAndCallLeaveTheirTraceOnTheStack() throws Exception {
        // push rbx; call next; next: pop rcx
        TestCase c = TestCase.handWritten(bytes(0x53, 0xE8, 0, 0, 0, 0, 0x59), 6, 0, 0, 0, 0xABCDL);
        for (MachineState s : both(c)) {
            assertEquals(c.codeAddress() + 6, s.gpr[1], "the return address");
            assertEquals(Layout.DATA + 0xC00 - 8, s.gpr[4]);
            assertEquals(0xCD, s.data[0xC00 - 8] & 0xFF);
        }
    }

    @Test
    void comparisonSeesDifferencesButNotMaskedFlagsOrRegisters() throws Exception {
        TestCase c = TestCase.handWritten(bytes(0x48, 0x01, 0xD8), 7, 5, 0, 0, 7);
        host.submit(List.of(c));
        MachineState n = host.collect(List.of(c)).get(0);
        MachineState e = emulator.run(c);
        e.gpr[0] ^= 1;
        e.rflags ^= Generator.AF;
        e.data[17] ^= 1;
        List<String> d = DifferentialRun.differences(n, e, 0, 0);
        assertEquals(3, d.size(), d.toString());
        assertTrue(d.get(0).startsWith("RAX"), d.toString());
        assertEquals(List.of("memory 0x20000010: native " + String.format("%016x", quad(n.data, 2)) + ", emulator "
                + String.format("%016x", quad(e.data, 2))), d.subList(2, 3));
        assertEquals(1, DifferentialRun.differences(n, e, Generator.AF, 1).size(), "AF and RAX masked");
    }

    private static long quad(byte[] b, int q) {
        long v = 0;
        for (int k = 7; k >= 0; k--) v = v << 8 | (b[8 * q + k] & 0xFF);
        return v;
    }

    @Test
    void signalsMapToVectors() {
        assertEquals(0, NativeHarness.vectorOf(8, 1));
        assertEquals(13, NativeHarness.vectorOf(11, 0x80));
        assertEquals(14, NativeHarness.vectorOf(11, 1));
        assertEquals(12, NativeHarness.vectorOf(7, 0x80));
        assertEquals(6, NativeHarness.vectorOf(4, 2));
    }
}
