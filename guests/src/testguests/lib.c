/* The small library of the test guest: the COM1 console, formatted printing, FAIL and the exit
 * through isa-debug-exit, memory and string helpers, the multiboot facts and the command line. */
#include <stdarg.h>
#include "testguest.h"

#define DEBUG_EXIT_PORT 0xF4

const char *scenario_name = "testguest";
const char *scenario_command = "";
const char *scenario_args = "";
struct boot_facts boot;

void console_init(void)
{
    outb(COM1 + UART_IER, 0x00);    /* no interrupts */
    outb(COM1 + UART_LCR, 0x80);    /* DLAB: the next two registers are the divisor latch */
    outb(COM1 + UART_DLL, 0x01);    /* 115200 baud */
    outb(COM1 + UART_DLM, 0x00);
    outb(COM1 + UART_LCR, 0x03);    /* 8 data bits, no parity, 1 stop bit */
    outb(COM1 + UART_FCR, 0xC7);    /* FIFOs on and cleared, 14-byte receive trigger */
}

static void console_putc(char c)
{
    /* A driver waits for THR empty before every byte; bounded so a missing UART cannot hang us. */
    for (uint32_t i = 0; i < 1000000 && !(inb(COM1 + UART_LSR) & UART_LSR_THR_EMPTY); i++) { }
    outb(COM1 + UART_DATA, (uint8_t)c);
}

static void put_unsigned(uint64_t v, unsigned base, unsigned width, char pad)
{
    char digits[20];
    unsigned n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    for (; width > n; width--) console_putc(pad);
    while (n) console_putc(digits[--n]);
}

static void vprint(const char *fmt, va_list args)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            console_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        unsigned width = 0;
        bool is_long = false;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (unsigned)(*fmt++ - '0');
        if (*fmt == 'l') {
            is_long = true;
            fmt++;
        }
        switch (*fmt) {
        case 'u':
        case 'x': {
            uint64_t v = is_long ? va_arg(args, unsigned long) : va_arg(args, unsigned int);
            put_unsigned(v, *fmt == 'u' ? 10 : 16, width, pad);
            break;
        }
        case 's':
            for (const char *s = va_arg(args, const char *); *s; s++) console_putc(*s);
            break;
        case 'c':
            console_putc((char)va_arg(args, int));
            break;
        case '%':
            console_putc('%');
            break;
        default:
            return;
        }
    }
}

void print(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vprint(fmt, args);
    va_end(args);
}

void fail(const char *fmt, ...)
{
    va_list args;
    print("FAIL %s: ", scenario_name);
    va_start(args, fmt);
    vprint(fmt, args);
    va_end(args);
    print("\n");
    exit_guest(1);
}

void check(const char *what, bool ok)
{
    print("%s: %s\n", what, yes_no(ok));
    if (!ok) fail("%s", what);
}

void exit_guest(uint8_t code)
{
    outb(DEBUG_EXIT_PORT, code);
    for (;;) __asm__ volatile("cli; hlt");
}

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y) return *x - *y;
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (uint8_t)*a - (uint8_t)*b;
}

/* Multiboot 0.6.96, section 3.3: the information structure and the memory map entries. */
struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct multiboot_mmap_entry {
    uint32_t size;              /* of the rest of the entry */
    uint64_t base, length;
    uint32_t type;
} __attribute__((packed));

void boot_facts_copy(uint32_t multiboot_info_address)
{
    const struct multiboot_info *info = (const struct multiboot_info *)(uintptr_t)multiboot_info_address;
    boot.flags = info->flags;
    if (info->flags & MULTIBOOT_INFO_MEMORY) {
        boot.mem_lower_kib = info->mem_lower;
        boot.mem_upper_kib = info->mem_upper;
    }
    if (info->flags & MULTIBOOT_INFO_CMDLINE) {
        const char *cmdline = (const char *)(uintptr_t)info->cmdline;
        size_t n = 0;
        while (cmdline[n] && n < sizeof boot.cmdline - 1) n++;
        memcpy(boot.cmdline, cmdline, n);
    }
    if (info->flags & MULTIBOOT_INFO_MEM_MAP) {
        uintptr_t p = info->mmap_addr, end = (uintptr_t)info->mmap_addr + info->mmap_length;
        while (p < end && boot.mmap_count < MAX_MMAP_ENTRIES) {
            const struct multiboot_mmap_entry *e = (const struct multiboot_mmap_entry *)p;
            boot.mmap[boot.mmap_count++] = (struct mmap_entry){ e->base, e->length, e->type };
            p += e->size + sizeof e->size;
        }
    }
}

uint64_t multiboot_ram_top(void)
{
    for (unsigned i = 0; i < boot.mmap_count; i++) {
        const struct mmap_entry *e = &boot.mmap[i];
        if (e->type == MULTIBOOT_MEMORY_AVAILABLE && e->base == 0x100000) return e->base + e->length;
    }
    return 0x100000 + (uint64_t)boot.mem_upper_kib * 1024;
}

bool ram_size_agrees(uint64_t firmware_bytes, uint64_t multiboot_top)
{
    return firmware_bytes >= multiboot_top && firmware_bytes - multiboot_top <= 0x100000;
}

static bool parse_u64(const char *s, uint64_t *value)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    uint64_t v = 0;
    bool any = false;
    for (; *s && *s != ' '; s++) {
        unsigned digit;
        if (*s >= '0' && *s <= '9') digit = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f') digit = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F') digit = (unsigned)(*s - 'A' + 10);
        else return false;
        v = v * base + digit;
        any = true;
    }
    *value = v;
    return any;
}

/* The text after "key=" among the scenario arguments, or NULL. */
static const char *arg_value(const char *key)
{
    size_t key_length = strlen(key);
    for (const char *p = scenario_args; *p; p++) {
        if ((p == scenario_args || p[-1] == ' ') && memcmp(p, key, key_length) == 0 && p[key_length] == '=')
            return p + key_length + 1;
    }
    return NULL;
}

uint64_t arg_u64(const char *key, uint64_t dflt)
{
    const char *text = arg_value(key);
    if (!text) return dflt;
    uint64_t v;
    if (!parse_u64(text, &v)) fail("bad number for %s= on the command line", key);
    return v;
}

bool arg_is(const char *key, const char *value)
{
    const char *text = arg_value(key);
    size_t n = strlen(value);
    return text && memcmp(text, value, n) == 0 && (text[n] == ' ' || text[n] == 0);
}
