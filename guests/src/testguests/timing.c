/* Timing from the 8254 PIT's channel 2, gated through port 0x61, which needs no interrupt: busy
 * waits, and the rates of other clocks (TSC, local APIC timer, ACPI PM timer) measured against it. */
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
#define MEASURE_COUNTS 47727u     /* 40 ms of PIT; the count from 0xFFFF runs out after 55 ms */
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

/* Channel 2's count, frozen by the counter latch command and read low byte first. */
static uint16_t channel2_latched_count(void)
{
    outb(PIT_COMMAND, 0x80);
    uint8_t low = inb(PIT_CHANNEL2_DATA);
    return (uint16_t)(low | inb(PIT_CHANNEL2_DATA) << 8);
}

/* A channel 2 count and the clock at the same moment, known to within `window` clock ticks: the
 * tightest of a few tries, since a host may stall the guest in the middle of one. */
struct pit_sample { uint16_t count; uint64_t clock, window; };

static struct pit_sample sample_channel2(uint64_t (*clock)(void))
{
    struct pit_sample best = { 0, 0, UINT64_MAX };
    for (int i = 0; i < 5; i++) {
        uint64_t before = clock();
        uint16_t count = channel2_latched_count();
        uint64_t after = clock();
        if (after - before < best.window) best = (struct pit_sample){ count, before + (after - before) / 2, after - before };
    }
    return best;
}

/* One measurement of `clock` over MEASURE_COUNTS periods of channel 2 counting down from 0xFFFF in
 * mode 0: false if the ends are not known to 0.5%, or if a stall let the count run out (OUT2 high). */
static bool measure_against_pit(uint64_t (*clock)(void), uint64_t *clock_elapsed, uint32_t *pit_elapsed)
{
    channel2_arm();
    outb(PIT_CHANNEL2_DATA, 0xFF);
    outb(PIT_CHANNEL2_DATA, 0xFF);
    struct pit_sample start = sample_channel2(clock);
    if (channel2_out()) return false;
    for (uint32_t polls = 0; (uint32_t)(start.count - channel2_latched_count()) < MEASURE_COUNTS; polls++) {
        if (polls == MAX_POLLS) fail("PIT channel 2 does not count down");
    }
    struct pit_sample end = sample_channel2(clock);
    if (channel2_out() || end.count >= start.count) return false;
    *clock_elapsed = end.clock - start.clock;
    *pit_elapsed = (uint32_t)(start.count - end.count);
    return (start.window + end.window) * 200 <= *clock_elapsed;
}

uint64_t clock_rate_hz(uint64_t (*clock)(void), const char *what)
{
    for (int attempt = 0; attempt < MAX_MEASURE_ATTEMPTS; attempt++) {
        uint64_t clock_elapsed;
        uint32_t pit_elapsed;
        if (measure_against_pit(clock, &clock_elapsed, &pit_elapsed)) {
            if (clock_elapsed == 0) fail("%s does not advance", what);
            return clock_elapsed * PIT_HZ / pit_elapsed;
        }
    }
    fail("could not time %s against PIT channel 2 in %d attempts (host stalls, or OUT2 not low while counting)",
         what, MAX_MEASURE_ATTEMPTS);
}

static uint64_t tsc_clock(void)
{
    return rdtsc();
}

uint64_t tsc_per_ms(void)
{
    static uint64_t per_ms;
    if (!per_ms) per_ms = clock_rate_hz(tsc_clock, "the TSC") / 1000;
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
    if (!per_ms) {
        lapic_enable();
        lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_BY_16);
        lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
        lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFFu);
        per_ms = (uint32_t)(clock_rate_hz(lapic_timer_clock, "the local APIC timer") / 1000);
        lapic_write(LAPIC_TIMER_INITIAL, 0);
        if (!per_ms) fail("the local APIC timer counts slower than 1 kHz");
    }
    return per_ms;
}
