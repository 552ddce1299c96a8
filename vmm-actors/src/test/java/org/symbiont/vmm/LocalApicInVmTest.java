package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The local APIC as a vCPU sees it in a whole VM: events the vCPU raises on itself are taken at
 * the next instruction boundary, and CPUID reflects the APIC (x2APIC topology leaf, the APIC
 * feature flag following IA32_APIC_BASE).
 */
class LocalApicInVmTest {
    /**
     * A kernel with its own GDT, a stack and an IDT whose vectors 0x02 (NMI) and 0x40 count into {@code count} (the fixed
     * one with an EOI), the 8259s masked, the local APIC software-enabled and interrupts on,
     * then {@code body}.
     */
    private static Path kernel(String body) {
        return TestKernels.file("""
                    lgdt gdtr
                    ljmp $0x08, $0f
                0:  mov $0x10, %ax
                    mov %ax, %ds
                    mov %ax, %es
                    mov %ax, %ss
                    mov $stack_top, %esp
                    mov $handler, %eax
                    mov $idt, %edi
                    mov $256, %ecx
                1:  mov %ax, (%edi)
                    mov %cs, 2(%edi)
                    movw $0x8e00, 4(%edi)
                    shr $16, %eax
                    mov %ax, 6(%edi)
                    mov $handler, %eax
                    add $8, %edi
                    loop 1b
                    mov $nmi_handler, %eax
                    mov %ax, idt + 2 * 8
                    shr $16, %eax
                    mov %ax, idt + 2 * 8 + 6
                    lidt idtr
                    mov $0xff, %al                   # the 8259s masked: only APIC events count
                    out %al, $0x21
                    out %al, $0xa1
                    movl $0x1ff, 0xfee000f0
                    sti
                """ + body + TestKernels.exit(0) + "bad:\n" + TestKernels.exit(1) + """
                handler:
                    incl count
                    movl $0, 0xfee000b0
                    iret
                nmi_handler:
                    incl nmis
                    iret
                count: .long 0
                nmis:  .long 0
                idtr:  .word 256 * 8 - 1
                       .long idt
                gdtr:  .word 3 * 8 - 1
                       .long gdt
                .align 8
                gdt:   .quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
                .align 8
                idt:   .fill 256 * 8, 1, 0
                       .fill 1024, 1, 0
                stack_top:
                """);
    }

    private static void assertPasses(String name, Path kernel, int cpus) {
        assertPasses(VmRun.config(name, kernel, "cpus = " + cpus + "\n"));
    }

    private static void assertPasses(org.symbiont.vmm.config.VmConfig config) {
        VmRun r = VmRun.run(config);
        assertEquals(VmReport.Reason.GUEST_EXIT, r.report.reason(), r.report.message());
        assertEquals(1, r.report.guestStatus(), "guest status 0 (failures leave with 1)");
    }

    @Test
    void selfIpisAndSelfNmisAreTakenAtTheNextInstruction() {
        // As on hardware (SDM Vol. 3A 11.6.1), an IPI a processor sends itself does not wait for
        // the vCPU to stop: the instruction after the ICR write already runs in its handler's wake.
        assertPasses("self-ipi", kernel("""
                    movl $0x44040, 0xfee00300       # fixed, vector 0x40, shorthand self
                    cmpl $1, count
                    jne bad
                    movl $0, 0xfee00310              # physical destination 0: this APIC
                    movl $0x4040, 0xfee00300
                    cmpl $2, count
                    jne bad
                    movl $0x84040, 0xfee00300       # all including self (the only vCPU here)
                    cmpl $3, count
                    jne bad
                    movl $0x4400, 0xfee00300         # NMI to APIC 0
                    cmpl $1, nmis
                    jne bad
                """), 1);
        assertPasses("self-ipi-smp", kernel("""
                    movl $0x84040, 0xfee00300       # all including self, with another vCPU
                    cmpl $1, count
                    jne bad
                """), 2);
    }

    @Test
    void anInterruptAPortWriteRaisesIsTakenAtTheNextInstruction() {
        // pc-testdev's port 0x2000 + n drives line n: through the I/O APIC (pin 14, edge, vector
        // 0x40, to APIC 0) the interrupt must be in service by the instruction after the OUT.
        // The machine without the 0xE9 debug console, whose port pc-testdev's registers cover.
        assertPasses(VmRun.pcConfig("line-raised", kernel("""
                    movl $0x10 + 2 * 14, 0xfec00000  # redirection entry 14, low half
                    movl $0x40, 0xfec00010
                    movl $0x10 + 2 * 14 + 1, 0xfec00000
                    movl $0, 0xfec00010
                    mov $0x2000 + 14, %dx
                    mov $1, %al
                    out %al, %dx
                    cmpl $1, count
                    jne bad
                    mov $0, %al
                    out %al, %dx
                """), "devices += { name = testdev, type = pc-testdev }"));
    }

    @Test
    void aTscDeadlineAlreadyPassedInterruptsAtTheNextInstruction() {
        assertPasses("tsc-deadline", kernel("""
                    movl $0x40040, 0xfee00320       # LVT timer: TSC-deadline mode, vector 0x40
                    rdtsc
                    mov $0x6e0, %ecx
                    wrmsr
                    cmpl $1, count
                    jne bad
                """), 1);
    }

    @Test
    void cpuidDescribesTheX2apicTopologyAndFollowsTheApicEnable() {
        assertPasses("cpuid-apic", kernel("""
                    cli
                    mov $0xb, %eax
                    xor %ecx, %ecx
                    cpuid
                    cmp $0x100, %ecx                 # level 0: SMT
                    jne bad
                    cmp $1, %ebx
                    jne bad
                    test %edx, %edx                  # x2APIC ID of vCPU 0
                    jne bad
                    mov $0xb, %eax
                    mov $1, %ecx
                    cpuid
                    cmp $0x201, %ecx                 # level 1: core
                    jne bad
                    cmp $3, %ebx                     # three vCPUs
                    jne bad
                    cmp $2, %eax                     # two bits of the x2APIC ID above the core level
                    jne bad
                    mov $1, %eax
                    cpuid
                    bt $9, %edx
                    jnc bad
                    mov $0x1b, %ecx                  # IA32_APIC_BASE: clear EN
                    rdmsr
                    and $~0x800, %eax
                    wrmsr
                    mov $1, %eax
                    cpuid
                    bt $9, %edx                      # no APIC any more (SDM Vol. 3A 11.4.3)
                    jc bad
                """), 3);
    }
}
