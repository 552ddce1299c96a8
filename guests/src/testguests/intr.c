/* Interrupts: the 64-bit IDT and the C dispatcher behind start.S's stubs, the 8259A pair, the
 * local APIC basics, and waits for interrupt counts bounded by a watchdog. */
#include "testguest.h"

struct idt_gate {
    uint16_t offset_low, selector;
    uint8_t ist, type_attributes;
    uint16_t offset_middle;
    uint32_t offset_high, reserved;
} __attribute__((packed));

struct descriptor_table_pointer {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

#define KERNEL_CODE_SELECTOR 0x08
#define INTERRUPT_GATE_PRESENT 0x8E   /* present, DPL 0, 64-bit interrupt gate (IF cleared) */
#define WATCHDOG_VECTOR 0xFE

extern const uint64_t interrupt_stubs[256];
static struct idt_gate idt[256] __attribute__((aligned(16)));
static interrupt_handler handlers[256];

void interrupts_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t stub = interrupt_stubs[v];
        idt[v] = (struct idt_gate){
            .offset_low = (uint16_t)stub,
            .selector = KERNEL_CODE_SELECTOR,
            .type_attributes = INTERRUPT_GATE_PRESENT,
            .offset_middle = (uint16_t)(stub >> 16),
            .offset_high = (uint32_t)(stub >> 32),
        };
    }
    interrupts_load();
}

void interrupts_load(void)
{
    struct descriptor_table_pointer pointer = { sizeof idt - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(pointer));
}

void set_interrupt_handler(uint8_t vector, interrupt_handler handler)
{
    handlers[vector] = handler;
}

void interrupt_dispatch(struct interrupt_frame *frame)
{
    uint8_t vector = (uint8_t)frame->vector;
    if (handlers[vector]) {
        handlers[vector](frame);
        return;
    }
    if (vector < 32) fail("exception %u at rip 0x%lx err 0x%lx", vector, frame->rip, frame->error_code);
    fail("unexpected interrupt vector 0x%x at rip 0x%lx", vector, frame->rip);
}

#define PIC_MASTER_COMMAND 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_COMMAND 0xA0
#define PIC_SLAVE_DATA 0xA1
#define PIC_CASCADE_IRQ 2
#define PIC_NONSPECIFIC_EOI 0x20

void pic_init(uint16_t enabled_irqs)
{
    if (enabled_irqs & 0xFF00) enabled_irqs |= 1u << PIC_CASCADE_IRQ;
    /* 8259A datasheet: ICW1 (edge triggered, cascaded, ICW4 follows), ICW2 (vector base),
     * ICW3 (master: slave on IR2; slave: its cascade identity 2), ICW4 (8086 mode, normal EOI). */
    outb(PIC_MASTER_COMMAND, 0x11);
    outb(PIC_SLAVE_COMMAND, 0x11);
    outb(PIC_MASTER_DATA, PIC_MASTER_VECTOR);
    outb(PIC_SLAVE_DATA, PIC_SLAVE_VECTOR);
    outb(PIC_MASTER_DATA, 1u << PIC_CASCADE_IRQ);
    outb(PIC_SLAVE_DATA, PIC_CASCADE_IRQ);
    outb(PIC_MASTER_DATA, 0x01);
    outb(PIC_SLAVE_DATA, 0x01);
    /* OCW1: the interrupt masks. */
    outb(PIC_MASTER_DATA, (uint8_t)~enabled_irqs);
    outb(PIC_SLAVE_DATA, (uint8_t)(~enabled_irqs >> 8));
    /* Virtual-wire mode (MP spec 3.6.2.2): the 8259's INTR reaches the CPU through LINT0 as
     * ExtINT, NMI through LINT1. Firmware usually did this; a bare loader may not have. */
    lapic_enable();
    lapic_write(LAPIC_LVT_LINT0, 0x700);
    lapic_write(LAPIC_LVT_LINT1, 0x400);
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8) outb(PIC_SLAVE_COMMAND, PIC_NONSPECIFIC_EOI);
    outb(PIC_MASTER_COMMAND, PIC_NONSPECIFIC_EOI);
}

/* SDM 10.9: a spurious interrupt is not followed by an EOI. */
static void spurious_interrupt(struct interrupt_frame *frame)
{
    (void)frame;
}

void lapic_enable(void)
{
    set_interrupt_handler(LAPIC_SPURIOUS_VECTOR, spurious_interrupt);
    lapic_write(LAPIC_SPURIOUS, 0x100 | LAPIC_SPURIOUS_VECTOR);
}

static volatile bool watchdog_expired;

static void watchdog_fired(struct interrupt_frame *frame)
{
    (void)frame;
    watchdog_expired = true;
    lapic_eoi();
}

void await_count(volatile uint32_t *count, uint32_t target, uint32_t timeout_ms, const char *what)
{
    uint64_t ticks = (uint64_t)lapic_timer_per_ms() * timeout_ms;
    watchdog_expired = false;
    set_interrupt_handler(WATCHDOG_VECTOR, watchdog_fired);
    lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, WATCHDOG_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, ticks > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)ticks);
    for (;;) {
        cli();
        if (*count >= target) break;
        if (watchdog_expired) fail("timed out after %u ms waiting for %s (%u of %u)", timeout_ms, what, *count, target);
        __asm__ volatile("sti; hlt" : : : "memory");   /* STI's shadow: no wake-up is lost before HLT */
    }
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
}

void spin_count(volatile uint32_t *count, uint32_t target, uint32_t timeout_ms, const char *what)
{
    uint64_t deadline = tsc_deadline_after_ms(timeout_ms);
    sti();
    while (*count < target) {
        if (tsc_passed(deadline)) {
            cli();
            fail("timed out after %u ms waiting for %s (%u of %u)", timeout_ms, what, *count, target);
        }
        cpu_relax();
    }
    cli();
}
