/* Scenarios about the boot itself and plain exits: hello, debugexit, exitloop, scribble. */
#include "testguest.h"

#define KIB 1024ul
#define MIB (1024ul * 1024)

/* "hello": the multiboot facts and the command line. */
void scenario_hello(void)
{
    print("hello from testguest\n");
    bool has_memory = boot.flags & MULTIBOOT_INFO_MEMORY;
    bool has_cmdline = boot.flags & MULTIBOOT_INFO_CMDLINE;
    bool has_mmap = boot.flags & MULTIBOOT_INFO_MEM_MAP;
    print("multiboot flags: mem %s cmdline %s mmap %s\n", yes_no(has_memory), yes_no(has_cmdline), yes_no(has_mmap));
    if (!has_memory || !has_cmdline || !has_mmap) fail("the multiboot information lacks mem, cmdline or mmap");
    print("mem_lower %u KiB\n", boot.mem_lower_kib);
    print("mem_upper %u KiB\n", boot.mem_upper_kib);
    /* Multiboot 3.3: mem_lower and mem_upper are the RAM from 0 and from 1 MiB, so they must be
     * the lengths of the available ranges the memory map has there. */
    uint64_t ram_at_0 = 0, ram_at_1m = 0;
    for (unsigned i = 0; i < boot.mmap_count; i++) {
        const struct mmap_entry *e = &boot.mmap[i];
        if (e->type != MULTIBOOT_MEMORY_AVAILABLE) continue;
        print("mmap base 0x%lx length 0x%lx type %u\n", e->base, e->length, e->type);
        if (e->base == 0) ram_at_0 = e->length;
        if (e->base == MIB) ram_at_1m = e->length;
    }
    check("mem_lower and mem_upper match the mmap",
          ram_at_0 == boot.mem_lower_kib * KIB && ram_at_1m == boot.mem_upper_kib * KIB);
    print("cmdline: %s\n", scenario_command);
}

/* "debugexit code=N": leaves with isa-debug-exit code N right after saying so. */
void scenario_debugexit(void)
{
    uint64_t code = arg_u64("code", 0);
    if (code > 0xFF) fail("code=%lu does not fit the 8-bit port write", code);
    print("debugexit code %lu\n", code);
    exit_guest((uint8_t)code);
}

/* "exitloop [n=N] [port=P]": N writes to an I/O port in a tight loop, each one a VM exit. */
void scenario_exitloop(void)
{
    uint64_t n = arg_u64("n", 100000);
    uint64_t port = arg_u64("port", 0x80);
    if (port > 0xFFFF) fail("port=0x%lx is not an I/O port", port);
    print("exitloop port 0x%lx n %lu\n", port, n);
    for (uint64_t i = 0; i < n; i++) __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"((uint16_t)port));
    print("exitloop done\n");
}

/* A value for each 8-byte word that depends on its address, so that aliased or dropped writes show. */
static inline uint64_t scribble_pattern(uintptr_t address)
{
    return (address * 0x9E3779B97F4A7C15ul) ^ 0x5A5AA5A55A5AA5A5ul;
}

struct ram_range { uintptr_t start, end; };

/* Stores the parts of range outside [hole_start, hole_end) in ranges; returns how many (0 to 2). */
static unsigned cut_hole(struct ram_range range, uintptr_t hole_start, uintptr_t hole_end, struct ram_range *ranges)
{
    unsigned n = 0;
    if (range.start < hole_start) ranges[n++] = (struct ram_range){ range.start, range.end < hole_start ? range.end : hole_start };
    if (range.end > hole_end) ranges[n++] = (struct ram_range){ range.start > hole_end ? range.start : hole_end, range.end };
    return n;
}

/* "scribble": writes and checks a pattern over all available RAM below 4 GiB except the first page
 * and the guest image (its code, data, stack and page tables). */
void scenario_scribble(void)
{
    if (!(boot.flags & MULTIBOOT_INFO_MEM_MAP)) fail("the multiboot information has no memory map");
    uintptr_t image_start = (uintptr_t)__image_start & ~0xFFFul;
    uintptr_t image_end = ((uintptr_t)__bss_end + 0xFFF) & ~0xFFFul;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < boot.mmap_count; i++) {
        const struct mmap_entry *e = &boot.mmap[i];
        if (e->type != MULTIBOOT_MEMORY_AVAILABLE || e->base >= (1ul << 32)) continue;
        uint64_t end = e->base + e->length > (1ul << 32) ? (1ul << 32) : e->base + e->length;
        struct ram_range below_page[2], pieces[4];
        unsigned n = cut_hole((struct ram_range){ (e->base + 7) & ~7ul, end & ~7ul }, 0, 0x1000, below_page);
        unsigned count = 0;
        for (unsigned j = 0; j < n; j++) count += cut_hole(below_page[j], image_start, image_end, pieces + count);
        for (unsigned j = 0; j < count; j++) {
            volatile uint64_t *first = (volatile uint64_t *)pieces[j].start, *last = (volatile uint64_t *)pieces[j].end;
            for (volatile uint64_t *p = first; p < last; p++) *p = scribble_pattern((uintptr_t)p);
            for (volatile uint64_t *p = first; p < last; p++) {
                if (*p != scribble_pattern((uintptr_t)p))
                    fail("RAM at 0x%lx reads 0x%lx, wrote 0x%lx", (uintptr_t)p, *p, scribble_pattern((uintptr_t)p));
            }
            bytes += pieces[j].end - pieces[j].start;
        }
    }
    print("scribbled %lu MiB ok\n", bytes / MIB);
}
