/* The COM1 console (16550A, 115200 8N1, polled), kprintf, panic, spin locks and the exit
 * through isa-debug-exit. */
#include <stdarg.h>
#include "core.h"

#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4

bool quiet;

/* The console lock remembers its holder so that a fault or panic while printing on the same CPU
 * still gets its report out instead of deadlocking. */
static spinlock_t console_lock;
static volatile int console_owner = -1;

void spin_lock(spinlock_t *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        while (l->locked) cpu_relax();
}

void spin_unlock(spinlock_t *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

uint64_t spin_lock_irqsave(spinlock_t *l)
{
    uint64_t flags = read_rflags();
    cli();
    spin_lock(l);
    return flags;
}

void spin_unlock_irqrestore(spinlock_t *l, uint64_t flags)
{
    spin_unlock(l);
    if (flags & 0x200) sti();
}

void console_init(void)
{
    outb(COM1 + 1, 0x00);   /* no interrupts */
    outb(COM1 + 3, 0x80);   /* DLAB: divisor latch */
    outb(COM1 + 0, 0x01);   /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   /* 8N1 */
    outb(COM1 + 2, 0xC7);   /* FIFOs on and cleared */
}

static void putc_raw(char c)
{
    /* Bounded so that a missing UART cannot hang the kernel. */
    for (uint32_t i = 0; i < 1000000 && !(inb(COM1 + 5) & 0x20); i++) cpu_relax();
    outb(COM1, (uint8_t)c);
}

static uint64_t console_acquire(bool *nested)
{
    uint64_t flags = read_rflags();
    cli();
    int me = cpus[0].self ? (int)this_cpu() : 0;
    *nested = console_owner == me;
    if (!*nested) {
        spin_lock(&console_lock);
        console_owner = me;
    }
    return flags;
}

static void console_release(bool nested, uint64_t flags)
{
    if (!nested) {
        console_owner = -1;
        spin_unlock(&console_lock);
    }
    if (flags & 0x200) sti();
}

void console_write(const char *s, size_t n)
{
    bool nested;
    uint64_t flags = console_acquire(&nested);
    for (size_t i = 0; i < n; i++) putc_raw(s[i]);
    console_release(nested, flags);
}

static void put_number(uint64_t v, bool negative, unsigned base, bool upper, unsigned width, bool zero, bool left)
{
    char digits[24];
    unsigned n = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = set[v % base];
        v /= base;
    } while (v);
    unsigned len = n + negative;
    if (negative && zero) putc_raw('-');
    if (!left)
        for (; width > len; width--) putc_raw(zero ? '0' : ' ');
    if (negative && !zero) putc_raw('-');
    while (n) putc_raw(digits[--n]);
    if (left)
        for (; width > len; width--) putc_raw(' ');
}

static void vkprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putc_raw(*fmt);
            continue;
        }
        fmt++;
        bool zero = false, left = false;
        for (;; fmt++) {
            if (*fmt == '0') zero = true;
            else if (*fmt == '-') left = true;
            else break;
        }
        if (left) zero = false;
        unsigned width = 0;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (unsigned)(*fmt++ - '0');
        int size = 0;   /* 0 int, 1 long / long long / size_t */
        while (*fmt == 'l' || *fmt == 'z') size = 1, fmt++;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = size ? va_arg(ap, long) : va_arg(ap, int);
            put_number(v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, false, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = size ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
            put_number(v, false, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, zero, left);
            break;
        }
        case 'p':
            putc_raw('0');
            putc_raw('x');
            put_number((uint64_t)va_arg(ap, void *), false, 16, false, width, zero, left);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            size_t len = strlen(s);
            if (!left)
                for (; width > len; width--) putc_raw(' ');
            while (*s) putc_raw(*s++);
            if (left)
                for (; width > len; width--) putc_raw(' ');
            break;
        }
        case 'c':
            putc_raw((char)va_arg(ap, int));
            break;
        case '%':
            putc_raw('%');
            break;
        default:
            return;
        }
    }
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    bool nested;
    uint64_t flags = console_acquire(&nested);
    va_start(ap, fmt);
    vkprintf(fmt, ap);
    va_end(ap);
    console_release(nested, flags);
}

void debug_exit(uint32_t status)
{
    cli();
    outl(DEBUG_EXIT_PORT, status);
    /* No isa-debug-exit device: stop here; the VMM sees every CPU halted. */
    for (;;) __asm__ volatile("cli; hlt");
}

void panic(const char *fmt, ...)
{
    va_list ap;
    bool nested;
    console_acquire(&nested);
    for (const char *s = "PANIC: "; *s; s++) putc_raw(*s);
    va_start(ap, fmt);
    vkprintf(fmt, ap);
    va_end(ap);
    kprintf(" (cpu %u)\n", cpus[0].self ? this_cpu() : 0);
    debug_exit(3);
}
