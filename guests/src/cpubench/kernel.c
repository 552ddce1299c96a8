/* The CPU benchmark guest: runs one workload chosen on the multiboot command line and prints
 * one result line on COM1, then leaves through isa-debug-exit (port 0xf4).
 * Command line: "<workload> [n=<size>] [rounds=<count>]", workload = intloop | sieve | triad. */
#include <stdint.h>
#include "workloads.h"

extern uint64_t page_dirs[];

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define COM1 0x3F8

static void serial_init(void)
{
    outb(COM1 + 1, 0x00);    /* no interrupts */
    outb(COM1 + 3, 0x80);    /* DLAB */
    outb(COM1 + 0, 0x01);    /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);    /* 8N1 */
    outb(COM1 + 2, 0xC7);    /* FIFO on */
}

static void putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20)) { }
    outb(COM1, (uint8_t)c);
}

static void puts(const char *s) { while (*s) putc(*s++); }

static void putu(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts(&buf[i]);
}

static void exit_guest(uint8_t code)
{
    outb(0xF4, code);           /* isa-debug-exit: QEMU exits with (code << 1) | 1 */
    for (;;) __asm__ volatile("cli; hlt");
}

static int starts_with(const char *s, const char *p)
{
    while (*p) if (*s++ != *p++) return 0;
    return 1;
}

static uint64_t parse_u64(const char *s)
{
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
    return v;
}

/* Looks up "key=" in the command line. */
static uint64_t arg(const char *cmdline, const char *key, uint64_t dflt)
{
    for (const char *p = cmdline; *p; p++) {
        if ((p == cmdline || p[-1] == ' ') && starts_with(p, key)) {
            const char *q = p;
            while (*key) { key++; q++; }
            if (*q == '=') return parse_u64(q + 1);
        }
    }
    return dflt;
}

/* Maps [64 MiB, 64 MiB + 96 MiB) with 4 KiB pages instead of 2 MiB ones. */
static uint64_t small_page_tables[48][512] __attribute__((aligned(4096)));

static void use_small_pages(void)
{
    for (int t = 0; t < 48; t++) {
        uint64_t base = (64ull << 20) + ((uint64_t)t << 21);
        for (int e = 0; e < 512; e++) small_page_tables[t][e] = (base + ((uint64_t)e << 12)) | 0x3;
        page_dirs[32 + t] = (uint64_t)(uintptr_t)small_page_tables[t] | 0x3;
    }
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

struct multiboot_info { uint32_t flags, mem_lower, mem_upper, boot_device, cmdline; };

void kmain(uint32_t info_addr)
{
    const struct multiboot_info *mbi = (const struct multiboot_info *)(uintptr_t)info_addr;
    const char *cmdline = (mbi->flags & 4) ? (const char *)(uintptr_t)mbi->cmdline : "";
    serial_init();
    /* QEMU passes the kernel file name first; skip words until a known workload. */
    const char *w = cmdline;
    while (*w && !starts_with(w, "intloop") && !starts_with(w, "sieve") && !starts_with(w, "triad")) {
        while (*w && *w != ' ') w++;
        while (*w == ' ') w++;
    }
    uint64_t rounds = arg(w, "rounds", 1);
    uint64_t result;
    const char *name;
    uint64_t n;
    if (starts_with(w, "intloop")) {
        name = "intloop";
        n = arg(w, "n", 100000000);
        result = wl_intloop(n * rounds);
    } else if (starts_with(w, "sieve")) {
        name = "sieve";
        n = arg(w, "n", 10000000);
        if (n > (32ull << 20)) n = 32ull << 20;
        result = wl_sieve((uint8_t *)(uintptr_t)(16ull << 20), n, rounds);
    } else if (starts_with(w, "triad")) {
        name = "triad";
        n = arg(w, "n", 1u << 20);
        if (n > (4ull << 20)) n = 4ull << 20;   /* three arrays of n doubles within the 96 MiB window */
        use_small_pages();
        double *base = (double *)(uintptr_t)(64ull << 20);
        result = wl_triad(base, base + n, base + 2 * n, n, rounds);
    } else {
        puts("cpubench: unknown workload; use intloop, sieve or triad\n");
        exit_guest(2);
    }
    puts("RESULT workload=");
    puts(name);
    puts(" n=");
    putu(n);
    puts(" rounds=");
    putu(rounds);
    puts(" result=");
    putu(result);
    puts("\n");
    exit_guest(0);
}
