/* Time: the TSC's frequency — told by the hypervisor where it says, else calibrated against the
 * 8254 PIT's channel 2 (gated through port 0x61, no interrupt needed) — and clock_ns. */
#include "core.h"

#define PIT_HZ 1193182u
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PORT_B 0x61          /* bit 0: channel 2 gate, bit 1: speaker, bit 5: OUT2 */
#define MAX_POLLS 50000000u

uint64_t tsc_hz, lapic_bus_hz;
static uint64_t tsc_boot, ns_mult;   /* ns = (tsc - tsc_boot) * ns_mult >> 32 */

/* Channel 2 in mode 0 (interrupt on terminal count), counting `count` from when both bytes are
 * written; OUT2 goes high at zero. */
static void ch2_start(uint16_t count)
{
    outb(PORT_B, (uint8_t)((inb(PORT_B) & ~0x02) | 0x01));
    outb(PIT_CMD, 0xB0);
    outb(PIT_CH2, (uint8_t)count);
    outb(PIT_CH2, (uint8_t)(count >> 8));
}

static bool ch2_done(void) { return inb(PORT_B) & 0x20; }

static uint16_t ch2_count(void)
{
    outb(PIT_CMD, 0x80);   /* latch channel 2 */
    uint8_t lo = inb(PIT_CH2);
    return (uint16_t)(lo | inb(PIT_CH2) << 8);
}

/* TSC ticks over ~20 ms of channel 2 counting down from 0xFFFF (23864 PIT ticks: a count's
 * quantum is 0.004%); the samples at both ends are bracketed by TSC reads, and a run is retried
 * when a bracket is wider than 0.1%. Every poll is a guest instruction stream a simulated node
 * pays at boot, so the window is no longer than that accuracy needs. */
static bool measure(uint64_t *hz)
{
    ch2_start(0xFFFF);
    uint64_t t0a = rdtsc();
    uint16_t c0 = ch2_count();
    uint64_t t0b = rdtsc();
    uint16_t c1;
    uint64_t t1a, t1b;
    for (uint32_t i = 0;; i++) {
        t1a = rdtsc();
        c1 = ch2_count();
        t1b = rdtsc();
        if ((uint16_t)(c0 - c1) >= 23864) break;
        if (i == MAX_POLLS) panic("PIT channel 2 does not count down");
    }
    if (ch2_done() || c1 >= c0) return false;
    uint64_t ticks = (t1a + t1b) / 2 - (t0a + t0b) / 2;
    if ((t0b - t0a + t1b - t1a) * 1000 > ticks) return false;
    *hz = ticks * PIT_HZ / (uint64_t)(c0 - c1);
    return true;
}

/* The hypervisor timing leaf 0x40000010 (VMware's convention, which Symbiont, KVM and others
 * follow): EAX the TSC's and EBX the local APIC timer's bus frequency in kHz. A node told them
 * boots without 20 ms of PIT polling. */
static bool hypervisor_timing(void)
{
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    if (!(c & (1u << 31))) return false;
    cpuid(0x40000000, &a, &b, &c, &d);
    if (a < 0x40000010) return false;
    cpuid(0x40000010, &a, &b, &c, &d);
    if (a == 0 || b == 0) return false;
    tsc_hz = (uint64_t)a * 1000;
    lapic_bus_hz = (uint64_t)b * 1000;
    return true;
}

void time_init(void)
{
    tsc_boot = rdtsc();
    if (hypervisor_timing()) {
        ns_mult = (1000000000ULL << 32) / tsc_hz;
        return;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        if (measure(&tsc_hz) && tsc_hz) break;
        tsc_hz = 0;
    }
    if (!tsc_hz) panic("could not calibrate the TSC against PIT channel 2 in 20 attempts");
    ns_mult = (1000000000ULL << 32) / tsc_hz;
}

uint64_t clock_ns(void)
{
    return (uint64_t)(((unsigned __int128)(rdtsc() - tsc_boot) * ns_mult) >> 32);
}

void delay_us(uint64_t us)
{
    uint64_t end = rdtsc() + us * tsc_hz / 1000000;
    while (rdtsc() < end) cpu_relax();
}
