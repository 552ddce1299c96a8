package org.symbiont.symbiotic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.symbiotic.SymbioticAbi.*;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmReport;
import org.symbiont.x86.Asm;

/**
 * Discovery and SymSpy as a guest sees them (Palacios 6.2-6.4): a probe kernel prints what CPUID
 * 0x90000000 answers and which MSR accesses raise #GP, names its SymSpy pages (one with an offset
 * in the page, one outside RAM), fills in the state the LWK publishes, and waits while the
 * VMM's typed view reads it.
 */
class SymSpySpec {
    private static final ActorTestKit kit = ActorTestKit.create();
    private static final long GLOBAL = 0x30_0000, LOCAL = 0x30_1000, GP_COUNT = 0x30_2000, IDT = 0x30_3000;

    @BeforeAll
    static void gnuAs() {
        Asm.assumeAvailable();
    }

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    /**
     * Prints, separated by spaces: CPUID 0x90000000 EAX and EBX; #GPs after writing a non-RAM page
     * to 0x534; #GPs after writing GLOBAL + 0x123; RDMSR 0x534; the global magic; the word at
     * offset 100 the guest had written before (zeroed); #GPs after RDMSR 0x53A; the local magic
     * (two words); then "ready" and spins.
     */
    private static final String PROBE = """
                lgdt gdtr
                ljmp $0x08, $1f
            1:  mov $0x10, %ax
                mov %ax, %ds
                mov %ax, %es
                mov %ax, %ss
                mov $0x220000, %esp
                mov $gp, %eax
                mov %ax, IDT + 13 * 8
                movw $0x08, IDT + 13 * 8 + 2
                movw $0x8E00, IDT + 13 * 8 + 4
                shr $16, %eax
                mov %ax, IDT + 13 * 8 + 6
                lidt idtr
                mov $0x90000000, %eax
                cpuid
                push %ebx
                call hex
                pop %eax
                call hex
                xor %edx, %edx
                mov $0x534, %ecx
                mov $0xfee00000, %eax
                wrmsr
                mov GP, %eax
                call hex
                movl $0xdeadbeef, GLOBAL + 100
                mov $0x534, %ecx
                mov $GLOBAL + 0x123, %eax
                wrmsr
                mov GP, %eax
                call hex
                mov $0x534, %ecx
                rdmsr
                call hex
                mov GLOBAL, %eax
                call hex
                mov GLOBAL + 100, %eax
                call hex
                mov $0x53a, %ecx
                rdmsr
                mov GP, %eax
                call hex
                mov $0x535, %ecx
                mov $LOCAL, %eax
                xor %edx, %edx
                wrmsr
                mov LOCAL, %eax
                call hex
                mov LOCAL + 4, %eax
                call hex
                # what the LWK publishes
                movl $2, LOCAL + 8
                movl $42, LOCAL + 64
                movl $0x123000, LOCAL + 72
                movl $7, LOCAL + 80
                movl $1, GLOBAL + 256
                movl $3, GLOBAL + 260
                movl $1000, GLOBAL + 264
                movl $8, GLOBAL + 272
                movl $5, GLOBAL + 280
                movl $4, GLOBAL + 288
                mov $'r', %al
                out %al, $0xe9
                mov $'d', %al
                out %al, $0xe9
                mov $'y', %al
                out %al, $0xe9
            2:  jmp 2b

            # #GP: count it and skip the 2-byte RDMSR/WRMSR
            gp: add $4, %esp
                addl $2, (%esp)
                incl GP
                iret

            hex:
                push %ecx
                push %edx
                mov %eax, %edx
                mov $8, %ecx
            4:  rol $4, %edx
                mov %edx, %eax
                and $15, %eax
                mov digits(%eax), %al
                out %al, $0xe9
                dec %ecx
                jnz 4b
                mov $0x20, %al
                out %al, $0xe9
                pop %edx
                pop %ecx
                ret

            digits: .ascii "0123456789abcdef"
            .p2align 3
            gdt:
                .quad 0
                .quad 0x00CF9A000000FFFF
                .quad 0x00CF92000000FFFF
            gdtr:
                .word gdtr - gdt - 1
                .long gdt
            idtr:
                .word 14 * 8 - 1
                .long IDT
            """.replace("GLOBAL", "0x300000").replace("LOCAL", "0x301000").replace("GP,", "0x302000,").replace("incl GP", "incl 0x302000")
            .replace("IDT", "0x303000").replace("$'r'", "$0x72").replace("$'d'", "$0x64").replace("$'y'", "$0x79");

    private static SymbioticVm start(String name, String hocon) throws InterruptedException {
        Extensions ext = Extensions.none();
        SymbioticVm vm = SymbioticVm.start(kit, name, hocon, PROBE, ext, Symbiotic.install(ext));
        vm.awaitConsole("rdy");
        return vm;
    }

    private static long[] printed(SymbioticVm vm) {
        String text = vm.console().text();
        String[] f = text.substring(0, text.indexOf("rdy")).trim().split(" ");
        long[] v = new long[f.length];
        for (int k = 0; k < f.length; k++) v[k] = Long.parseLong(f[k], 16);
        return v;
    }

    @Test
    void theGuestDiscoversTheVmmNamesItsPagesAndTheVmmReadsThem() throws Exception {
        SymbioticVm vm = start("spy", "symbiotic.enabled = true");
        long[] p = printed(vm);
        assertEquals(CPUID_MAGIC, p[0], "V3V");
        assertEquals(CPUID_VMX, p[1], "VMX on the Intel model");
        assertEquals(1, p[2], "a page outside RAM: #GP");
        assertEquals(1, p[3], "a RAM page, the offset masked: no #GP");
        assertEquals(GLOBAL, p[4], "RDMSR returns the page");
        assertEquals(CPUID_MAGIC, p[5], "\"V3V\" at 0");
        assertEquals(0, p[6], "the guest's earlier contents are gone");
        assertEquals(2, p[7], "0x53A is not one of Palacios' MSRs: #GP");
        assertEquals(0x2E56_3356L, p[8], "\"V3V.\"");
        assertEquals('0', p[9], "vCPU 0");

        SymSpy spy = vm.symbiotic().symSpy();
        assertEquals(GLOBAL, spy.globalPage());
        assertEquals(LOCAL, spy.localPage(0));
        assertTrue(spy.symcallEnabled(0));
        assertFalse(spy.symcallActive(0));
        assertEquals(42, spy.currentPid(0));
        assertEquals(0x123000, spy.currentCr3(0));
        assertEquals(7, spy.contextSwitches(0));
        assertEquals(1, spy.guestVersion());
        assertEquals(3, spy.swapType());
        assertEquals(1000, spy.swapPages());
        assertEquals(8, spy.swapSector());
        assertEquals(5, spy.swapOuts());
        assertEquals(4, spy.swapIns());
        assertEquals(0, spy.featureFlags());
        assertEquals(VmReport.Reason.STOPPED, vm.stop().reason());
    }

    @Test
    void anAmdModelAnswersSvm() throws Exception {
        SymbioticVm vm = start("spy-amd", "symbiotic.enabled = true\ncpu-model = amd");
        assertEquals(CPUID_SVM, printed(vm)[1]);
        vm.stop();
    }

    @Test
    void offTheLeafIsTheModelsAndEveryMsrRaisesGp() throws Exception {
        SymbioticVm vm = start("spy-off", "");
        long[] p = printed(vm);
        assertNotEquals(CPUID_MAGIC, p[0]);
        assertEquals(1, p[2]);
        assertEquals(2, p[3], "a RAM page too");
        assertEquals(4, p[7], "RDMSR 0x534 and 0x53A");
        assertEquals(0, vm.symbiotic().symSpy().globalPage());
        assertFalse(vm.symbiotic().symSpy().symcallEnabled(0));
        vm.stop();
    }
}
