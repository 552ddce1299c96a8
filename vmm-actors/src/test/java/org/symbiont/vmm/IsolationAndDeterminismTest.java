package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.vmm.config.VmConfig;

/** Many VMs in one JVM do not see each other; one VM run twice does exactly the same. */
class IsolationAndDeterminismTest {

    /** Fills every byte of RAM below and above its own code, then writes past the end of RAM. */
    private static final String SCRIBBLER = """
                cld
                mov $0xcccccccc, %eax
                mov $0x1000, %edi
                mov $((0x100000 - 0x1000) / 4), %ecx
                rep stosl
                mov $0x110000, %edi
                mov $((0x1000000 - 0x110000) / 4), %ecx
                rep stosl
                mov $0x1000000, %edi
                mov $0x40000, %ecx
                rep stosl
                mov $0xfeedface, %eax
                mov %eax, 0x7ffffff0
                mov %eax, 0xfffffff0
            """ + TestKernels.exit(0);

    /** Sums 1..100000 in RAM it keeps at 0x200000 and prints the last digit of each step's sum now and then. */
    private static final String SUMMER = """
                movl $0, 0x200000
                mov $1, %ecx
            1:  add %ecx, 0x200000
                mov %ecx, %eax
                and $0x3fff, %eax
                jnz 2f
                mov 0x200000, %eax
                xor %edx, %edx
                mov $10, %ebx
                div %ebx
                add $'0', %dl
                mov %dl, %al
                out %al, $0xe9
            2:  inc %ecx
                cmp $100000, %ecx
                jbe 1b
                mov 0x200000, %eax
                cmp $705082704, %eax
                jne bad
            """ + TestKernels.exit(0) + "bad:\n" + TestKernels.exit(1);

    @Test
    void aGuestScribblingOverItsWholeRamLeavesOtherGuestsIntact() {
        var scribbler = TestKernels.file(SCRIBBLER);
        var summer = TestKernels.file(SUMMER);
        List<VmConfig> configs = new ArrayList<>();
        configs.add(VmRun.config("scribbler", scribbler, "memory = 32M"));
        for (int k = 0; k < 3; k++) configs.add(VmRun.config("summer" + k, summer, "memory = 32M"));
        List<VmRun> runs = VmRun.runAll(configs, Extensions.none());
        assertEquals(1, runs.getFirst().report.guestStatus(), runs.getFirst().report.message());
        for (VmRun r : runs.subList(1, runs.size())) {
            assertEquals(1, r.report.guestStatus(), r.report.vm() + ": " + r.report.message());
            assertEquals(runs.get(1).console, r.console);
            assertEquals(6, r.console.length());
        }
    }

    @Test
    void theSameImageAndConfigurationRunExactlyTheSameEveryTime() {
        var summer = TestKernels.file(SUMMER);
        List<VmRun> runs = new ArrayList<>();
        for (int k = 0; k < 3; k++) runs.add(VmRun.run(VmRun.config("again", summer, "quantum = 1000")));
        VmRun first = runs.getFirst();
        for (VmRun r : runs) {
            assertEquals(first.console, r.console);
            assertEquals(first.report.virtualNanos(), r.report.virtualNanos());
            assertEquals(first.report.retired(), r.report.retired());
            var a = first.report.vcpus().getFirst().exits();
            var b = r.report.vcpus().getFirst().exits();
            assertEquals(a.keySet(), b.keySet());
            for (var e : a.entrySet()) assertEquals(e.getValue().count(), b.get(e.getKey()).count(), e.getKey());
        }
    }
}
