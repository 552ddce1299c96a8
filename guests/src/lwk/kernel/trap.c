/* Descriptor tables, exceptions, device interrupts (I/O APIC or 8259A), the local APIC and the
 * scheduler's timer (local APIC timer, or PIT channel 0 without a local APIC). */
#include "core.h"

struct idt_gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
} __attribute__((packed));

struct table_pointer { uint16_t limit; uint64_t base; } __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
struct cpu cpus[MAX_CPUS];
bool have_lapic, have_ioapic;

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "BOUND range exceeded",
    "invalid opcode", "device not available", "double fault", "coprocessor segment overrun",
    "invalid TSS", "segment not present", "stack-segment fault", "general protection fault",
    "page fault", "reserved (15)", "x87 floating-point error", "alignment check", "machine check",
    "SIMD floating-point exception", "virtualization exception", "control protection exception",
    "reserved (22)", "reserved (23)", "reserved (24)", "reserved (25)", "reserved (26)",
    "reserved (27)", "hypervisor injection exception", "VMM communication exception",
    "security exception", "reserved (31)",
};

unsigned this_cpu(void)
{
    return cpu_self()->id;
}

void trap_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t a = interrupt_stubs[v];
        /* Present, DPL 0, 64-bit interrupt gate; the double fault on its own stack (IST1) so that a
         * kernel stack overflow is still reported. */
        idt[v] = (struct idt_gate){ (uint16_t)a, SEL_KCODE, v == 8 ? 1 : 0, 0x8E, (uint16_t)(a >> 16),
                                    (uint32_t)(a >> 32), 0 };
    }
}

/* This CPU's GDT (kernel code/data, user data/code in the order SYSRET needs, SDM vol. 2B SYSRET),
 * TSS, IDT, GS base and the SYSCALL MSRs. */
void cpu_tables_init(struct cpu *c)
{
    c->self = c;
    c->gdt[0] = 0;
    c->gdt[1] = 0x00AF9A000000FFFFUL;   /* 0x08 kernel code, 64-bit */
    c->gdt[2] = 0x00CF92000000FFFFUL;   /* 0x10 kernel data */
    c->gdt[3] = 0x00CFF2000000FFFFUL;   /* 0x18 user data, DPL 3 */
    c->gdt[4] = 0x00AFFA000000FFFFUL;   /* 0x20 user code, 64-bit, DPL 3 */
    uint64_t t = (uint64_t)&c->tss, limit = sizeof c->tss - 1;
    c->gdt[5] = (limit & 0xFFFF) | (t & 0xFFFFFF) << 16 | 0x89UL << 40 | (t >> 24 & 0xFF) << 56;
    c->gdt[6] = t >> 32;
    c->tss.ist[0] = c->fault_stack_top;
    c->tss.iomap_base = sizeof c->tss;
    struct table_pointer g = { sizeof c->gdt - 1, (uint64_t)c->gdt };
    struct table_pointer i = { sizeof idt - 1, (uint64_t)idt };
    __asm__ volatile(
        "lgdt %0\n"
        "lidt %1\n"
        "pushq $0x08\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1: movw $0x10, %%ax\n"
        "movw %%ax, %%ds\n"
        "movw %%ax, %%es\n"
        "movw %%ax, %%ss\n"
        "xorl %%eax, %%eax\n"
        "movw %%ax, %%fs\n"
        "movw %%ax, %%gs\n"
        "movw $0x28, %%ax\n"
        "ltr %%ax\n"
        :: "m"(g), "m"(i) : "rax", "memory");
    /* Loading a null GS selector may clear the base (Intel), so the bases are written after. */
    wrmsr(MSR_GS_BASE, (uint64_t)c);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);                              /* SCE */
    wrmsr(MSR_STAR, (uint64_t)0x10 << 48 | (uint64_t)SEL_KCODE << 32);
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    wrmsr(MSR_SFMASK, 0x47700);   /* IF, TF, DF, AC, NT, IOPL cleared on entry */
}

/* ---- local APIC (SDM vol. 3A chapter 11), through the direct map ---- */

#define LAPIC_ID 0x20
#define LAPIC_EOI 0xB0
#define LAPIC_SVR 0xF0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3E0

static volatile uint32_t *lapic;
static uint32_t lapic_ticks_per_slice;
static uint64_t lapic_timer_hz;

static uint32_t lapic_read(uint32_t reg) { return lapic[reg / 4]; }
static void lapic_write(uint32_t reg, uint32_t v) { lapic[reg / 4] = v; }

uint32_t lapic_id(void) { return have_lapic ? lapic_read(LAPIC_ID) >> 24 : 0; }

void lapic_init(void)
{
    if (!have_lapic) return;
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1 << 11));   /* globally enabled */
    lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
    lapic_write(LAPIC_ESR, 0);
}

static void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

void lapic_send_ipi(uint32_t apic_id, uint32_t icr)
{
    uint64_t flags = read_rflags();
    cli();
    while (lapic_read(LAPIC_ICR_LOW) & (1 << 12)) cpu_relax();   /* delivery pending */
    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, icr);
    while (lapic_read(LAPIC_ICR_LOW) & (1 << 12)) cpu_relax();
    if (flags & 0x200) sti();
}

void cpu_kick(unsigned cpu)
{
    if (have_lapic && cpu != this_cpu()) lapic_send_ipi(cpus[cpu].apic_id, VEC_WAKE);
}

/* ---- 8259A and I/O APIC ---- */

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
static uint16_t pic_mask = 0xFFFF;

static void pic_set_mask(void)
{
    outb(PIC1_DATA, (uint8_t)pic_mask);
    outb(PIC2_DATA, (uint8_t)(pic_mask >> 8));
}

/* ICW1-4 (8259A datasheet): edge, cascaded, vectors VEC_PIC_BASE.., slave on IR2, 8086 mode. */
static void pic_init(void)
{
    outb(PIC1_CMD, 0x11);
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, VEC_PIC_BASE);
    outb(PIC2_DATA, VEC_PIC_BASE + 8);
    outb(PIC1_DATA, 0x04);
    outb(PIC2_DATA, 0x02);
    outb(PIC1_DATA, 0x01);
    outb(PIC2_DATA, 0x01);
    pic_set_mask();
}

static volatile uint32_t *ioapic;

static void ioapic_write(uint32_t reg, uint32_t v)
{
    ioapic[0] = reg;
    ioapic[4] = v;
}

static uint32_t ioapic_read(uint32_t reg)
{
    ioapic[0] = reg;
    return ioapic[4];
}

struct irq { irq_handler_t handler; void *ctx; unsigned pic_irq; };
static struct irq irqs[MAX_IRQS];
static unsigned nirqs;
static spinlock_t irq_lock;

void irq_register(unsigned gsi, bool level, irq_handler_t handler, void *ctx)
{
    uint64_t flags = spin_lock_irqsave(&irq_lock);
    if (nirqs == MAX_IRQS) panic("irq_register: more than %u interrupt handlers", MAX_IRQS);
    unsigned n = nirqs++;
    irqs[n] = (struct irq){ handler, ctx, gsi };
    if (have_ioapic) {
        /* By default ISA IRQs are edge/active high and PCI INTx level/active low, on the same-
         * numbered GSI; an interrupt source override in the MADT moves an ISA IRQ and may set
         * either (ACPI 5.2.12.5, MPS INTI flags: polarity bits 0-1, trigger bits 2-3; 1 = high/edge,
         * 3 = low/level, 0 = the bus's default). */
        bool active_low = level, level_triggered = level;
        if (gsi < 16 && madt.isa[gsi].present) {
            uint16_t f = madt.isa[gsi].flags;
            gsi = madt.isa[gsi].gsi;
            if ((f & 3) == 1 || (f & 3) == 3) active_low = (f & 3) == 3;
            if ((f >> 2 & 3) == 1 || (f >> 2 & 3) == 3) level_triggered = (f >> 2 & 3) == 3;
        }
        uint32_t low = (VEC_IRQ_BASE + n) | (active_low ? 1u << 13 : 0) | (level_triggered ? 1u << 15 : 0);
        unsigned pin = gsi - madt.ioapic_gsi_base;
        unsigned pins = (ioapic_read(1) >> 16 & 0xFF) + 1;
        if (gsi < madt.ioapic_gsi_base || pin >= pins) panic("irq_register: GSI %u is not on the I/O APIC", gsi);
        ioapic_write(0x10 + 2 * pin + 1, cpus[0].apic_id << 24);   /* destination: the BSP */
        ioapic_write(0x10 + 2 * pin, low);
    } else {
        if (gsi >= 16) panic("irq_register: IRQ %u without an I/O APIC", gsi);
        pic_mask &= (uint16_t)~(1u << gsi);
        if (gsi >= 8) pic_mask &= (uint16_t)~(1u << 2);
        pic_set_mask();
    }
    spin_unlock_irqrestore(&irq_lock, flags);
}

static void pic_eoi(unsigned irq)
{
    if (irq >= 8) outb(PIC2_CMD, 0x20);
    outb(PIC1_CMD, 0x20);
}

/* ---- the scheduler's timer ---- */

static unsigned pit_ticks_per_slice, pit_ticks;

void timer_init(void)
{
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    have_lapic = d & (1 << 9);
    pic_init();   /* remapped and all masked; unmasked below only without an I/O APIC */
    if (have_lapic) {
        lapic = phys_to_virt(rdmsr(MSR_APIC_BASE) & 0xFFFFFF000UL);
        lapic_init();
        cpus[0].apic_id = lapic_id();
        have_ioapic = madt.has_ioapic;
        if (have_ioapic) ioapic = phys_to_virt(madt.ioapic_address);
        /* The local APIC timer counts the bus clock divided by 16: as the hypervisor told it,
         * else measured against the TSC over 1 ms (at QEMU's and Symbiont's 1 GHz bus clock,
         * 62500 counts: 0.002% for slices and wake-up deadlines; the wait spins, so a longer
         * one costs a booting node instructions for nothing). */
        lapic_write(LAPIC_TIMER_DIV, 0x3);
        uint64_t per_sec = lapic_bus_hz / 16;
        if (!per_sec) {
            lapic_write(LAPIC_LVT_TIMER, 1 << 16);
            lapic_write(LAPIC_TIMER_INIT, 0xFFFFFFFF);
            uint64_t t0 = rdtsc();
            delay_us(1000);
            uint32_t counted = 0xFFFFFFFF - lapic_read(LAPIC_TIMER_CUR);
            uint64_t t1 = rdtsc();
            lapic_write(LAPIC_TIMER_INIT, 0);
            per_sec = (uint64_t)counted * tsc_hz / (t1 - t0);
        }
        uint64_t ticks = per_sec * config.slice_us / 1000000;
        if (ticks == 0 || ticks > 0xFFFFFFFF) panic("local APIC timer at %lu Hz cannot time a %u us slice", per_sec, config.slice_us);
        lapic_ticks_per_slice = (uint32_t)ticks;
        lapic_timer_hz = per_sec;
    }
    if (!have_ioapic) {
        /* Virtual-wire mode (MP spec 3.6.2.2): the 8259A reaches the CPU through LINT0 as ExtINT. */
        if (have_lapic) {
            lapic_write(LAPIC_LVT_LINT0, 0x700);
            lapic_write(LAPIC_LVT_LINT1, 0x400);
        }
    }
    if (!have_lapic) {
        /* PIT channel 0, mode 2, at most 1 ms per tick, several ticks per slice. */
        uint32_t tick_us = config.slice_us < 1000 ? config.slice_us : 1000;
        uint32_t divisor = (uint32_t)((uint64_t)tick_us * 1193182 / 1000000);
        pit_ticks_per_slice = (config.slice_us + tick_us - 1) / tick_us;
        outb(0x43, 0x34);
        outb(0x40, (uint8_t)divisor);
        outb(0x40, (uint8_t)(divisor >> 8));
        pic_mask &= (uint16_t)~1u;
        pic_set_mask();
    }
}

/* The local APIC timer ticks only when it must: periodic slices while processes share a CPU,
 * else one shot at a waiter's deadline (cpu_wait_for_interrupt_until), else not at all, so that
 * an idle or waiting node takes no interrupts a simulator would have to wake it for. */
void timer_start(void)
{
    if (!have_lapic) return;
    lapic_write(LAPIC_TIMER_DIV, 0x3);
    lapic_write(LAPIC_LVT_TIMER, VEC_TIMER);   /* one-shot, stopped until an initial count */
    lapic_write(LAPIC_TIMER_INIT, 0);
    cpu_self()->slicing = false;
}

void timer_restart(bool shared)
{
    if (!have_lapic) {
        pit_ticks = 0;
        return;
    }
    struct cpu *c = cpu_self();
    if (shared != c->slicing) lapic_write(LAPIC_LVT_TIMER, (shared ? 1u << 17 : 0) | VEC_TIMER);
    c->slicing = shared;
    /* A write of the initial count restarts the countdown, 0 stops it (SDM vol. 3A 11.5.4). */
    lapic_write(LAPIC_TIMER_INIT, shared ? lapic_ticks_per_slice : 0);
}

void cpu_wait_for_interrupt_until(uint64_t deadline_ns)
{
    struct cpu *c = cpu_self();
    bool armed = have_lapic && !c->slicing;   /* slices wake the CPU often enough already */
    if (armed) {
        uint64_t now = clock_ns();
        if (deadline_ns <= now) return;
        uint64_t wait = deadline_ns - now < 60000000000ULL ? deadline_ns - now : 60000000000ULL;
        uint64_t ticks = wait * (lapic_timer_hz / 1000) / 1000000 + 1;
        lapic_write(LAPIC_TIMER_INIT, ticks > 0xFFFFFFFF ? 0xFFFFFFFF : (uint32_t)ticks);
    }
    cpu_wait_for_interrupt();
    if (armed) lapic_write(LAPIC_TIMER_INIT, 0);
}

/* ---- dispatch ---- */

void fault_report(struct frame *f, const char *what)
{
    cli();
    kprintf("KERNEL FAULT: %s (vector %lu), error code 0x%lx, cpu %u\n"
            "  rip %016lx  cs %04lx  rflags %016lx  rsp %016lx  ss %04lx  cr2 %016lx\n"
            "  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n"
            "  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n"
            "  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n"
            "  r13 %016lx  r14 %016lx  r15 %016lx  cr3 %016lx\n",
            what, f->vector, f->error, this_cpu(), f->rip, f->cs, f->rflags, f->rsp, f->ss, read_cr2(),
            f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp, f->r8, f->r9, f->r10, f->r11,
            f->r12, f->r13, f->r14, f->r15, read_cr3());
    debug_exit(3);
}

void interrupt_dispatch(struct frame *f)
{
    uint64_t v = f->vector;
    if (v < 32) {
        /* NMI, double fault and machine check are the machine's trouble, not the process's. */
        if ((f->cs & 3) && v != 2 && v != 8 && v != 18) proc_fault(f, exception_names[v]);
        else fault_report(f, exception_names[v]);
        return;
    }
    if (v == VEC_TIMER) {
        lapic_eoi();
        timer_tick(f);
    } else if (v == VEC_TLB) {
        tlb_ipi();
        lapic_eoi();
    } else if (v == VEC_SYMBIOTIC) {
        symbiotic_cpu_register();
        lapic_eoi();
    } else if (v == VEC_WAKE) {
        lapic_eoi();   /* the interrupted idle loop looks at its run queue */
    } else if (v == VEC_SPURIOUS) {
        /* SDM vol. 3A 11.9: no EOI for a spurious interrupt. */
    } else if (v >= VEC_IRQ_BASE && v < VEC_IRQ_BASE + nirqs) {
        struct irq *q = &irqs[v - VEC_IRQ_BASE];
        q->handler(q->ctx);
        if (have_ioapic) lapic_eoi();
        else pic_eoi(q->pic_irq);
    } else if (v >= VEC_PIC_BASE && v < VEC_PIC_BASE + 16) {
        unsigned irq = (unsigned)v - VEC_PIC_BASE;
        bool handled = false;
        for (unsigned i = 0; i < nirqs; i++) {
            if (!have_ioapic && irqs[i].pic_irq == irq) {
                irqs[i].handler(irqs[i].ctx);
                handled = true;
            }
        }
        pic_eoi(irq);
        if (irq == 0 && !have_lapic && ++pit_ticks >= pit_ticks_per_slice) {
            pit_ticks = 0;
            timer_tick(f);
        } else if (!handled && irq != 0 && irq != 7 && irq != 15) {
            kprintf("lwk: unexpected 8259A IRQ %u\n", irq);
        }
    } else {
        kprintf("lwk: unexpected interrupt vector 0x%lx on cpu %u\n", v, this_cpu());
        if (have_lapic) lapic_eoi();
    }
}
