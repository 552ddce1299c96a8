/* Timing from the 8254 PIT's channel 2, which needs no interrupt: busy waits, and the TSC and local
 * APIC timer rates calibrated against it. */
#include "testguest.h"

#define PIT_CHANNEL0_DATA 0x40
#define PIT_CHANNEL2_DATA 0x42
#define PIT_COMMAND 0x43
#define PORT_B 0x61               /* bit 0: channel 2 gate, bit 1: speaker, bit 5: OUT2 */
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20
#define MAX_CHUNK_COUNT 0xFFFFu
#define MAX_POLLS 20000000u       /* per countdown of at most 55 ms: far more than any PC needs */
#define CALIBRATION_MS 20
#define MAX_MEASURE_ATTEMPTS 20

void pit_channel0_start_1000hz(void)
{
    outb(PIT_COMMAND, 0x34);    /* channel 0, lobyte/hibyte access, mode 2 (rate generator), binary */
    outb(PIT_CHANNEL0_DATA, PIT_DIVISOR_1000HZ & 0xFF);
    outb(PIT_CHANNEL0_DATA, PIT_DIVISOR_1000HZ >> 8);
}

/* Gate high, speaker off; channel 2, lobyte/hibyte access, mode 0 (interrupt on terminal count),
 * binary. The control word drives OUT2 low; counting starts once both count bytes are written. */
static void channel2_arm(void)
{
    outb(PORT_B, (uint8_t)((inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2));
    outb(PIT_COMMAND, 0xB0);
}

static bool channel2_out(void)
{
    return inb(PORT_B) & PORT_B_OUT2;
}

static void channel2_wait_terminal_count(void)
{
    for (uint32_t polls = 0; !channel2_out(); polls++) {
        if (polls == MAX_POLLS) fail("PIT channel 2 never reached its terminal count (OUT2 stayed low)");
    }
}

void pit_wait_us(uint32_t us)
{
    uint64_t counts = ((uint64_t)us * PIT_HZ + 999999) / 1000000;
    while (counts) {
        uint16_t chunk = counts > MAX_CHUNK_COUNT ? MAX_CHUNK_COUNT : (uint16_t)counts;
        channel2_arm();
        outb(PIT_CHANNEL2_DATA, (uint8_t)chunk);
        outb(PIT_CHANNEL2_DATA, (uint8_t)(chunk >> 8));
        channel2_wait_terminal_count();
        counts -= chunk;
    }
}

bool pit_measure(uint16_t count, uint64_t (*clock)(void), uint64_t *elapsed)
{
    channel2_arm();
    outb(PIT_CHANNEL2_DATA, (uint8_t)count);
    uint64_t before_start = clock();
    outb(PIT_CHANNEL2_DATA, (uint8_t)(count >> 8));     /* counting starts with this write */
    uint64_t after_start = clock();
    if (channel2_out()) return false;
    /* The terminal count falls between the last poll that saw OUT2 low and the first that saw it high. */
    uint64_t before_last_low = after_start, after_first_high;
    for (uint32_t polls = 0;; polls++) {
        if (polls == MAX_POLLS) fail("PIT channel 2 never reached its terminal count (OUT2 stayed low)");
        uint64_t before_poll = clock();
        if (channel2_out()) {
            after_first_high = clock();
            break;
        }
        before_last_low = before_poll;
    }
    *elapsed = (before_last_low + after_first_high) / 2 - (before_start + after_start) / 2;
    uint64_t uncertainty = (after_start - before_start) + (after_first_high - before_last_low);
    return uncertainty * 1000 <= *elapsed;
}

static uint64_t tsc_clock(void)
{
    return rdtsc();
}

/* Linux's PIT calibration of the TSC, keeping only a countdown bracketed to within 0.1%. */
static uint64_t calibrate_tsc(void)
{
    for (int attempt = 0; attempt < MAX_MEASURE_ATTEMPTS; attempt++) {
        uint64_t elapsed;
        if (pit_measure(PIT_HZ * CALIBRATION_MS / 1000, tsc_clock, &elapsed)) {
            if (elapsed < CALIBRATION_MS) fail("the TSC does not advance");
            return elapsed / CALIBRATION_MS;
        }
    }
    fail("no undisturbed PIT channel 2 countdown to calibrate the TSC in %d attempts", MAX_MEASURE_ATTEMPTS);
}

uint64_t tsc_per_ms(void)
{
    static uint64_t per_ms;
    if (!per_ms) per_ms = calibrate_tsc();
    return per_ms;
}

/* The local APIC timer's count-down from 0xFFFFFFFF, as a clock counting up. */
static uint64_t lapic_timer_clock(void)
{
    return 0xFFFFFFFFu - lapic_read(LAPIC_TIMER_CURRENT);
}

uint32_t lapic_timer_per_ms(void)
{
    static uint32_t per_ms;
    if (per_ms) return per_ms;
    lapic_enable();
    lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
    for (int attempt = 0; attempt < MAX_MEASURE_ATTEMPTS && !per_ms; attempt++) {
        uint64_t elapsed;
        lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFFu);
        if (pit_measure(PIT_HZ * CALIBRATION_MS / 1000, lapic_timer_clock, &elapsed)) {
            if (elapsed < CALIBRATION_MS) fail("the local APIC timer does not count down");
            per_ms = (uint32_t)(elapsed / CALIBRATION_MS);
        }
    }
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    if (!per_ms) fail("no undisturbed PIT channel 2 countdown to calibrate the local APIC timer in %d attempts", MAX_MEASURE_ATTEMPTS);
    return per_ms;
}
