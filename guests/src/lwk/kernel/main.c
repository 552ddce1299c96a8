/* Boot: the multiboot information, the command line and its kernel options, and the order in
 * which the kernel comes up. */
#include "core.h"
#include "drivers.h"

#define MULTIBOOT_MAGIC 0x2BADB002
#define MBI_MEMORY  (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS    (1u << 3)
#define MBI_MMAP    (1u << 6)

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct multiboot_mmap_entry {
    uint32_t size;
    uint64_t base, len;
    uint32_t type;
} __attribute__((packed));

struct multiboot_module { uint32_t start, end, string, reserved; };

struct mem_range mem_ranges[MAX_MEM_RANGES];
unsigned nmem_ranges;
uint64_t reserved_base[MAX_RESERVED], reserved_end[MAX_RESERVED];
unsigned nreserved;
char cmdline[1024];
const char *cmd_args = "";
struct config config;
/* The bootstrap processor's double fault stack; the others' come from kalloc_pages (smp.c). */
static uint8_t bsp_fault_stack[4096] __attribute__((aligned(16)));

static void reserve(uint64_t base, uint64_t end)
{
    if (nreserved == MAX_RESERVED) panic("more than %u reserved areas (multiboot modules)", MAX_RESERVED);
    reserved_base[nreserved] = base;
    reserved_end[nreserved++] = end;
}

/* Copies what the kernel needs out of the loader's structures (still identity-mapped by the boot
 * tables); the structures and the modules are kept out of the frame allocator all the same. */
static void multiboot_read(uint32_t magic, uint32_t info_phys)
{
    if (magic != MULTIBOOT_MAGIC) panic("entered with EAX 0x%x, not the multiboot magic", magic);
    const struct multiboot_info *mbi = (const void *)(uintptr_t)info_phys;
    reserve(info_phys, info_phys + sizeof *mbi);
    if (mbi->flags & MBI_CMDLINE) {
        const char *s = (const char *)(uintptr_t)mbi->cmdline;
        size_t n = strlen(s);
        reserve(mbi->cmdline, mbi->cmdline + n + 1);
        if (n >= sizeof cmdline) panic("the command line is longer than %zu bytes", sizeof cmdline - 1);
        memcpy(cmdline, s, n + 1);
    }
    if (mbi->flags & MBI_MMAP) {
        uint64_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
        reserve(p, end);
        while (p + sizeof(struct multiboot_mmap_entry) <= end && nmem_ranges < MAX_MEM_RANGES) {
            const struct multiboot_mmap_entry *e = (const void *)(uintptr_t)p;
            mem_ranges[nmem_ranges++] = (struct mem_range){ e->base, e->len, e->type };
            p += e->size + 4;
        }
    } else if (mbi->flags & MBI_MEMORY) {
        mem_ranges[nmem_ranges++] = (struct mem_range){ 0, (uint64_t)mbi->mem_lower << 10, 1 };
        mem_ranges[nmem_ranges++] = (struct mem_range){ 1UL << 20, (uint64_t)mbi->mem_upper << 10, 1 };
    } else {
        panic("the multiboot information has neither a memory map nor memory sizes");
    }
    if (mbi->flags & MBI_MODS) {
        const struct multiboot_module *m = (const void *)(uintptr_t)mbi->mods_addr;
        reserve(mbi->mods_addr, mbi->mods_addr + mbi->mods_count * sizeof *m);
        for (uint32_t i = 0; i < mbi->mods_count; i++) {
            reserve(m[i].start, m[i].end);
            if (m[i].string) reserve(m[i].string, m[i].string + strlen((const char *)(uintptr_t)m[i].string) + 1);
        }
    }
}

static bool word_is(const char *w, const char *s)
{
    size_t n = strlen(s);
    return memcmp(w, s, n) == 0 && (w[n] == ' ' || w[n] == 0);
}

const char *cmdline_get(const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key);
    for (const char *w = cmd_args; *w;) {
        if (memcmp(w, key, klen) == 0 && w[klen] == '=') {
            const char *v = w + klen + 1;
            size_t n = 0;
            while (v[n] && v[n] != ' ') n++;
            if (len == 0) return NULL;
            if (n >= len) n = len - 1;
            memcpy(buf, v, n);
            buf[n] = 0;
            return buf;
        }
        while (*w && *w != ' ') w++;
        while (*w == ' ') w++;
    }
    return NULL;
}

static bool cmdline_has_word(const char *word)
{
    for (const char *w = cmd_args; *w;) {
        if (word_is(w, word)) return true;
        while (*w && *w != ' ') w++;
        while (*w == ' ') w++;
    }
    return false;
}

static void bad_option(const char *key, const char *value, const char *expected)
{
    kprintf("lwk: bad kernel option %s=%s: expected %s\n", key, value, expected);
    debug_exit(2);
}

/* key=N as a decimal in [min, max], or dflt when absent. */
static unsigned option_number(const char *key, unsigned dflt, unsigned min, unsigned max, const char *expected)
{
    char buf[32];
    if (!cmdline_get(key, buf, sizeof buf)) return dflt;
    uint64_t v = 0;
    const char *p = buf;
    if (!*p) bad_option(key, buf, expected);
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > 0xFFFFFFFFu) bad_option(key, buf, expected);
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v < min || v > max) bad_option(key, buf, expected);
    return (unsigned)v;
}

static void options_read(void)
{
    char buf[32];
    config.procs = option_number("procs", 1, 1, MAX_PROCS, "a number of processes from 1 to 256");
    config.cpus = option_number("cpus", 0, 1, MAX_CPUS, "a number of CPUs from 1 to 32");
    config.slice_us = option_number("slice", 10000, 100, 10000000, "microseconds from 100 to 10000000");
    config.rank = option_number("rank", 0, 0, 65535, "a node rank from 0 to 65535");
    config.nranks = option_number("nranks", 1, 1, 65536, "a number of nodes from 1 to 65536");
    if (config.rank >= config.nranks) {
        kprintf("lwk: bad kernel option rank=%u: expected a rank below nranks=%u\n", config.rank, config.nranks);
        debug_exit(2);
    }
    config.swap = -1;   /* default: on when there is a disk */
    if (cmdline_get("swap", buf, sizeof buf)) {
        if (strcmp(buf, "on") == 0) config.swap = 1;
        else if (strcmp(buf, "off") == 0) config.swap = 0;
        else bad_option("swap", buf, "on or off");
    }
    quiet = cmdline_has_word("quiet");
    config.symbiotic = true;   /* used when the VMM is symbiotic */
    if (cmdline_get("symbiotic", buf, sizeof buf)) {
        if (strcmp(buf, "off") == 0) config.symbiotic = false;
        else if (strcmp(buf, "on") != 0) bad_option("symbiotic", buf, "on or off");
    }
    config.symtest = cmdline_has_word("symtest");
}

/* The program named by the first word after the kernel's file name (QEMU's and Symbiont's
 * multiboot command line starts with it). */
static const struct lwk_program *program_select(void)
{
    const char *w = cmdline;
    while (*w == ' ') w++;
    while (*w && *w != ' ') w++;
    while (*w == ' ') w++;
    cmd_args = w;
    for (const struct lwk_program *p = lwk_programs; p->name; p++)
        if (word_is(w, p->name)) return p;
    char name[64];
    size_t n = 0;
    while (w[n] && w[n] != ' ' && n < sizeof name - 1) name[n] = w[n], n++;
    name[n] = 0;
    if (n) kprintf("lwk: no program \"%s\"; the programs are:", name);
    else kprintf("lwk: no program named on the command line; the programs are:");
    for (const struct lwk_program *p = lwk_programs; p->name; p++) kprintf(" %s", p->name);
    kprintf("%s\n", lwk_programs[0].name ? "" : " (none built in)");
    debug_exit(2);
}

void kmain(uint32_t magic, uint32_t info_phys);

void kmain(uint32_t magic, uint32_t info_phys)
{
    console_init();
    cpus[0].self = &cpus[0];
    cpus[0].fault_stack_top = (uint64_t)(bsp_fault_stack + sizeof bsp_fault_stack);
    wrmsr(MSR_GS_BASE, (uint64_t)&cpus[0]);
    trap_init();
    cpu_tables_init(&cpus[0]);
    multiboot_read(magic, info_phys);
    const struct lwk_program *prog = program_select();
    options_read();
    mm_init();
    acpi_init();
    time_init();
    timer_init();
    unsigned want = config.cpus ? config.cpus : madt.ncpus;
    if (want > madt.ncpus) {
        kprintf("lwk: bad kernel option cpus=%u: expected 1 to %u (the CPUs in the MADT)\n", want, madt.ncpus);
        debug_exit(2);
    }
    smp_start(want);
    chatter("lwk: %u CPUs, %lu MiB RAM, TSC %lu MHz, timer %s, slice %u us\n", ncpus, ram_bytes >> 20,
            tsc_hz / 1000000, have_lapic ? "lapic" : "pit", config.slice_us);
    sti();
    drivers_init();
    swap_init();
    symbiotic_init();
    procs_create(prog);
    idle_loop();
}
