/* Starting the application processors: INIT, STARTUP, STARTUP (SDM vol. 3A 9.4.4, MP spec B.4)
 * into the trampoline at AP_TRAMPOLINE_BASE, which brings each into long mode and ap_main. */
#include "core.h"

#define AP_TRAMPOLINE_BASE 0x8000
#define AP_STACK_SIZE 16384
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define ICR_ASSERT (1u << 14)

static struct cpu *volatile ap_starting;
unsigned ncpus = 1;

void ap_main(void);

void ap_main(void)
{
    struct cpu *c = ap_starting;
    write_cr3(kernel_pml4_phys);   /* off the boot tables and their identity map */
    wrmsr(MSR_GS_BASE, (uint64_t)c);
    cpu_tables_init(c);
    lapic_init();
    timer_start();
    __atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
    idle_loop();
}

/* Starts CPUs 1 .. want-1 on the MADT's other APIC IDs, one at a time. */
void smp_start(unsigned want)
{
    cpus[0].online = true;
    timer_start();
    if (want <= 1 || !have_lapic) return;
    size_t size = (size_t)(ap_trampoline_end - ap_trampoline);
    memcpy(phys_to_virt(AP_TRAMPOLINE_BASE), ap_trampoline, size);
    for (unsigned i = 0; i < madt.ncpus && ncpus < want; i++) {
        if (madt.apic_ids[i] == cpus[0].apic_id) continue;
        struct cpu *c = &cpus[ncpus];
        c->id = ncpus;
        c->apic_id = madt.apic_ids[i];
        uint8_t *stack = kalloc_pages(AP_STACK_SIZE / PAGE_SIZE), *fault_stack = kalloc_pages(1);
        if (!stack || !fault_stack) panic("no memory for the stacks of CPU %u", c->id);
        /* The AP reaches its stack through the boot tables, which map the low 4 GiB. */
        if (virt_to_phys(stack) + AP_STACK_SIZE > (1UL << 32)) panic("the stack of CPU %u is above 4 GiB", c->id);
        c->fault_stack_top = (uint64_t)(fault_stack + PAGE_SIZE);
        ap_starting = c;
        ap_boot_stack = (uint64_t)(stack + AP_STACK_SIZE);
        lapic_send_ipi(c->apic_id, ICR_INIT | ICR_ASSERT);
        delay_us(10000);
        for (int s = 0; s < 2 && !c->online; s++) {
            lapic_send_ipi(c->apic_id, ICR_STARTUP | ICR_ASSERT | (AP_TRAMPOLINE_BASE >> 12));
            delay_us(200);
        }
        uint64_t deadline = clock_ns() + 500000000;
        while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE)) {
            if (clock_ns() > deadline) panic("the CPU with APIC ID %u did not start within 500 ms", c->apic_id);
            cpu_relax();
        }
        ncpus++;
    }
}
