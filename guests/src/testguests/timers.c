/* Timer scenarios: the 8254 PIT through the 8259A, the local APIC timer (one-shot, periodic,
 * TSC-deadline), and the MC146818 RTC/CMOS with its periodic interrupt. */
#include "testguest.h"

#define PIT_CHANNEL0_DATA 0x40
#define PIT_COMMAND 0x43
#define PIT_IRQ 0

/* The counter latch command (8254 datasheet): freezes channel 0's count for reading. */
static uint16_t pit_channel0_latched_count(void)
{
    outb(PIT_COMMAND, 0x00);
    uint8_t low = inb(PIT_CHANNEL0_DATA);
    return (uint16_t)(low | inb(PIT_CHANNEL0_DATA) << 8);
}

static volatile uint32_t pit_ticks;
static volatile uint64_t tsc_at_tick[101];

static void pit_tick(struct interrupt_frame *frame)
{
    (void)frame;
    uint32_t tick = ++pit_ticks;
    if (tick <= 100) tsc_at_tick[tick] = rdtsc();
    pic_eoi(PIT_IRQ);
}

/* The TSC's advance from tick 10 to tick 100, as 90 times the median tick period: a host that
 * stalls the emulator makes it lose or delay a few PIT interrupts (the 8259 holds one per line),
 * which would skew the plain difference but not the median. */
static uint64_t tsc_from_tick_10_to_100(void)
{
    uint64_t periods[90];
    for (unsigned i = 0; i < 90; i++) {
        uint64_t period = tsc_at_tick[11 + i] - tsc_at_tick[10 + i];
        unsigned j = i;
        for (; j > 0 && periods[j - 1] > period; j--) periods[j] = periods[j - 1];
        periods[j] = period;
    }
    return 90 * ((periods[44] + periods[45]) / 2);
}

/* Two latched reads of channel 0 about 100 us apart: each within the divisor, the second lower
 * (a read pair that straddles a reload is retried). */
static bool pit_latch_counts_down(void)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        uint16_t first = pit_channel0_latched_count();
        pit_wait_us(100);
        uint16_t second = pit_channel0_latched_count();
        if (first == 0 || first > PIT_DIVISOR_1000HZ || second == 0 || second > PIT_DIVISOR_1000HZ) return false;
        if (second < first) return true;
    }
    return false;
}

/* "pit": 100 ticks of PIT channel 0 at 1000 Hz through the 8259A (IRQ0, vector 0x20), checked
 * against the TSC calibrated with PIT channel 2; the latched count of channel 0. */
void scenario_pit(void)
{
    uint64_t per_ms = tsc_per_ms();
    lapic_timer_per_ms();   /* for await_count's watchdog, calibrated before the PIT ticks start */
    pic_init(1u << PIT_IRQ);
    print("pic vectors 0x%x 0x%x, irq0 unmasked\n", PIC_MASTER_VECTOR, PIC_SLAVE_VECTOR);
    set_interrupt_handler(PIC_MASTER_VECTOR + PIT_IRQ, pit_tick);
    pit_channel0_start_1000hz();
    print("pit channel 0 mode 2 divisor %u\n", PIT_DIVISOR_1000HZ);
    /* A host stalling the emulator for many ticks can spoil a measurement; a wrong TSC or PIT rate
     * spoils every one. So up to three runs of 100 ticks, and one within 2% is enough. */
    uint64_t expected = 90 * per_ms;
    bool within_2_percent = false;
    for (int run = 0; run < 3 && !within_2_percent; run++) {
        pit_ticks = 0;
        await_count(&pit_ticks, 100, 2000, "100 PIT ticks on IRQ0");
        uint64_t measured = tsc_from_tick_10_to_100();
        uint64_t difference = measured > expected ? measured - expected : expected - measured;
        within_2_percent = difference * 50 <= expected;
    }
    pic_init(0);
    print("pit ticks %u\n", 100);
    check("pit latched count within divisor and decreasing", pit_latch_counts_down());
    check("tsc vs pit within 2%", within_2_percent);
}

#define APIC_TIMER_VECTOR 0x40
#define IA32_APIC_BASE 0x1B
#define IA32_TSC_DEADLINE 0x6E0
#define APIC_BASE_BSP (1ul << 8)
#define APIC_BASE_GLOBAL_ENABLE (1ul << 11)
#define APIC_BASE_ADDRESS_MASK 0x000FFFFFFFFFF000ul
#define CPUID1_EDX_APIC (1u << 9)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)

static volatile uint32_t apic_timer_interrupts;
static volatile uint64_t tsc_at_apic_timer;

static void apic_timer_fired(struct interrupt_frame *frame)
{
    (void)frame;
    tsc_at_apic_timer = rdtsc();
    apic_timer_interrupts++;
    lapic_eoi();
}

static void apic_timer_stop(void)
{
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
}

/* The current-count register read three times, 1 ms of PIT apart, while a long count runs. */
static bool apic_timer_current_count_decreases(void)
{
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFFu);
    uint32_t counts[3];
    for (int i = 0; i < 3; i++) {
        if (i) pit_wait_us(1000);
        counts[i] = lapic_read(LAPIC_TIMER_CURRENT);
    }
    apic_timer_stop();
    return counts[1] < counts[0] && counts[2] < counts[1];
}

/* Three TSC-deadline interrupts, each checked to come after the TSC passed its deadline. */
static void check_tsc_deadline(void)
{
    lapic_write(LAPIC_LVT_TIMER, APIC_TIMER_VECTOR | LAPIC_TIMER_TSC_DEADLINE);
    /* SDM 10.5.4.1: the MMIO write to the LVT and the WRMSR to IA32_TSC_DEADLINE are not ordered
     * with each other without a fence. */
    __asm__ volatile("mfence" : : : "memory");
    for (int i = 0; i < 3; i++) {
        apic_timer_interrupts = 0;
        uint64_t deadline = rdtsc() + tsc_per_ms();
        wrmsr(IA32_TSC_DEADLINE, deadline);
        spin_count(&apic_timer_interrupts, 1, 1000, "the TSC-deadline timer");
        if ((int64_t)(tsc_at_apic_timer - deadline) < 0) fail("the TSC-deadline interrupt came before the deadline");
    }
    wrmsr(IA32_TSC_DEADLINE, 0);
    apic_timer_stop();
}

/* "apic-timer": the local APIC found and enabled, its timer one-shot, periodic (divide by 16,
 * vector 0x40) and, where CPUID offers it, in TSC-deadline mode; the 8259 masked throughout. */
void scenario_apic_timer(void)
{
    struct cpuid_result leaf1 = cpuid(1);
    check("apic in cpuid", leaf1.edx & CPUID1_EDX_APIC);
    uint64_t apic_base = rdmsr(IA32_APIC_BASE);
    print("apic base 0x%lx\n", apic_base & APIC_BASE_ADDRESS_MASK);
    if ((apic_base & APIC_BASE_ADDRESS_MASK) != LAPIC_BASE) fail("the local APIC is not at 0x%x", LAPIC_BASE);
    check("apic bsp flag", apic_base & APIC_BASE_BSP);
    check("apic globally enabled", apic_base & APIC_BASE_GLOBAL_ENABLE);
    pic_init(0);
    lapic_enable();
    check("apic software enabled", (lapic_read(LAPIC_SPURIOUS) & 0x1FF) == (0x100 | LAPIC_SPURIOUS_VECTOR));

    uint32_t per_ms = lapic_timer_per_ms();
    set_interrupt_handler(APIC_TIMER_VECTOR, apic_timer_fired);
    check("apic timer current count decreasing", apic_timer_current_count_decreases());

    apic_timer_interrupts = 0;
    lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, APIC_TIMER_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, 5 * per_ms);
    spin_count(&apic_timer_interrupts, 1, 1000, "the one-shot local APIC timer");
    sti();
    pit_wait_us(20000);
    cli();
    check("apic timer one-shot fired once", apic_timer_interrupts == 1 && lapic_read(LAPIC_TIMER_CURRENT) == 0);

    apic_timer_interrupts = 0;
    lapic_write(LAPIC_LVT_TIMER, APIC_TIMER_VECTOR | LAPIC_TIMER_PERIODIC);
    lapic_write(LAPIC_TIMER_INITIAL, per_ms);
    spin_count(&apic_timer_interrupts, 20, 1000, "20 periodic local APIC timer interrupts");
    apic_timer_stop();
    print("apic timer periodic interrupts %u\n", 20);

    if (leaf1.ecx & CPUID1_ECX_TSC_DEADLINE) {
        check_tsc_deadline();
        print("tsc-deadline: checked\n");
    } else {
        print("tsc-deadline: absent\n");
    }
}

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
enum cmos_register {
    RTC_SECONDS = 0x00, RTC_MINUTES = 0x02, RTC_HOURS = 0x04,
    RTC_STATUS_A = 0x0A, RTC_STATUS_B = 0x0B, RTC_STATUS_C = 0x0C,
    CMOS_BASE_MEMORY_KIB = 0x15, CMOS_EXTENDED_MEMORY_KIB = 0x30, CMOS_MEMORY_ABOVE_16M_64KIB = 0x34,
};
#define RTC_A_UPDATE_IN_PROGRESS 0x80
#define RTC_A_RATE_MASK 0x0F
#define RTC_A_RATE_1024HZ 6
#define RTC_B_PERIODIC_INTERRUPT 0x40
#define RTC_B_BINARY 0x04
#define RTC_B_24_HOUR 0x02
#define RTC_C_PERIODIC_FLAG 0x40
#define RTC_HOURS_PM 0x80
#define RTC_IRQ 8

static uint8_t cmos_read(enum cmos_register reg)
{
    outb(CMOS_INDEX, (uint8_t)reg);
    return inb(CMOS_DATA);
}

static void cmos_write(enum cmos_register reg, uint8_t v)
{
    outb(CMOS_INDEX, (uint8_t)reg);
    outb(CMOS_DATA, v);
}

/* A 16-bit little-endian CMOS value in reg and reg + 1. */
static uint16_t cmos_read16(enum cmos_register reg)
{
    return (uint16_t)(cmos_read(reg) | cmos_read(reg + 1) << 8);
}

/* A time field in BCD or binary as status B says, within [min, max]. */
static bool rtc_field_valid(uint8_t raw, bool binary, unsigned min, unsigned max)
{
    unsigned v = raw;
    if (!binary) {
        if ((raw & 0x0F) > 9 || (raw >> 4) > 9) return false;
        v = (raw >> 4) * 10 + (raw & 0x0F);
    }
    return v >= min && v <= max;
}

static bool rtc_time_valid(uint8_t status_b)
{
    /* MC146818A: the time registers may be read safely for 244 us after UIP reads 0. */
    uint64_t deadline = tsc_deadline_after_ms(20);
    while (cmos_read(RTC_STATUS_A) & RTC_A_UPDATE_IN_PROGRESS) {
        if (tsc_passed(deadline)) fail("the RTC update-in-progress flag stayed set for 20 ms");
    }
    uint8_t seconds = cmos_read(RTC_SECONDS), minutes = cmos_read(RTC_MINUTES), hours = cmos_read(RTC_HOURS);
    bool binary = status_b & RTC_B_BINARY;
    bool hours_valid = (status_b & RTC_B_24_HOUR) ? rtc_field_valid(hours, binary, 0, 23)
                                                  : rtc_field_valid(hours & ~RTC_HOURS_PM, binary, 1, 12);
    return rtc_field_valid(seconds, binary, 0, 59) && rtc_field_valid(minutes, binary, 0, 59) && hours_valid;
}

static volatile uint32_t rtc_interrupts, rtc_interrupts_with_periodic_flag;

static void rtc_interrupt(struct interrupt_frame *frame)
{
    (void)frame;
    /* Reading status C acknowledges the interrupt; the RTC raises no other until it is read. */
    if (cmos_read(RTC_STATUS_C) & RTC_C_PERIODIC_FLAG) rtc_interrupts_with_periodic_flag++;
    rtc_interrupts++;
    pic_eoi(RTC_IRQ);
}

/* "rtc": the CMOS clock's time and format, the memory sizes the firmware left in CMOS against the
 * multiboot memory, and 64 periodic interrupts at 1024 Hz on IRQ8 (slave 8259, vector 0x28). */
void scenario_rtc(void)
{
    uint8_t status_b = cmos_read(RTC_STATUS_B);
    print("rtc mode: %s %s\n", (status_b & RTC_B_24_HOUR) ? "24-hour" : "12-hour", (status_b & RTC_B_BINARY) ? "binary" : "bcd");
    check("rtc time valid", rtc_time_valid(status_b));

    /* QEMU's layout (hw/i386/pc.c): 0x15 base memory in KiB; 0x30 memory above 1 MiB in KiB, at
     * most 0xFFFF; 0x34 memory between 16 MiB and 4 GiB in 64 KiB units. */
    uint16_t base_kib = cmos_read16(CMOS_BASE_MEMORY_KIB), extended_kib = cmos_read16(CMOS_EXTENDED_MEMORY_KIB);
    uint16_t above_16m = cmos_read16(CMOS_MEMORY_ABOVE_16M_64KIB);
    uint64_t ram_top = multiboot_ram_top(), cmos_extended_top = (1ul << 20) + extended_kib * 1024ul;
    check("cmos base memory agrees with multiboot", base_kib >= boot.mem_lower_kib && base_kib <= 640);
    check("cmos extended memory agrees with multiboot",
          extended_kib == 0xFFFF ? ram_top + (1ul << 20) >= cmos_extended_top : ram_size_agrees(cmos_extended_top, ram_top));
    check("cmos memory above 16 MiB agrees with multiboot", ram_size_agrees((16ul << 20) + above_16m * (64ul << 10), ram_top));

    pic_init(1u << RTC_IRQ);
    set_interrupt_handler(PIC_SLAVE_VECTOR + RTC_IRQ - 8, rtc_interrupt);
    cmos_write(RTC_STATUS_A, (uint8_t)((cmos_read(RTC_STATUS_A) & ~RTC_A_RATE_MASK) | RTC_A_RATE_1024HZ));
    cmos_write(RTC_STATUS_B, status_b | RTC_B_PERIODIC_INTERRUPT);
    cmos_read(RTC_STATUS_C);
    await_count(&rtc_interrupts, 64, 2000, "64 RTC periodic interrupts on IRQ8");
    cmos_write(RTC_STATUS_B, status_b & ~RTC_B_PERIODIC_INTERRUPT);
    cmos_read(RTC_STATUS_C);
    pic_init(0);
    print("rtc periodic interrupts %u\n", 64);
    check("rtc status c periodic flag in every interrupt", rtc_interrupts_with_periodic_flag == rtc_interrupts);
}
