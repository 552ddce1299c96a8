/* The runtime's OS layer on the LWK: system calls (include/lwk/abi.h). */
#include "rt.h"

static inline long syscall4(long nr, long a, long b, long c, long d)
{
    register long r10 __asm__("r10") = d;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

#define syscall0(nr)          syscall4((nr), 0, 0, 0, 0)
#define syscall1(nr, a)       syscall4((nr), (long)(a), 0, 0, 0)
#define syscall2(nr, a, b)    syscall4((nr), (long)(a), (long)(b), 0, 0)

/* Called by crt0.S. */
_Noreturn void rt_lwk_start(uint64_t argc, char **argv);
_Noreturn void rt_lwk_start(uint64_t argc, char **argv)
{
    rt_exit(rt_run((int)argc, argv));
}

void rt_write(const char *buf, size_t len)
{
    syscall2(SYS_WRITE, buf, len);
}

_Noreturn void rt_exit(int status)
{
    for (;;)
        syscall1(SYS_EXIT, status);
}

uint64_t rt_clock_ns(void)
{
    return (uint64_t)syscall0(SYS_CLOCK);
}

void *rt_alloc(size_t bytes)
{
    long addr = syscall1(SYS_MMAP, bytes);
    if (addr < 0)
        rt_fail(1, "out of memory allocating %zu bytes (error %ld)", bytes, -addr);
    return (void *)addr;
}

void rt_yield(void)
{
    syscall0(SYS_YIELD);
}

void rt_info(struct lwk_info *out)
{
    syscall1(SYS_INFO, out);
}

int rt_join(void)
{
    return (int)syscall0(SYS_JOIN);
}

long rt_sys_send(int dst_rank, int tag, const void *buf, size_t len)
{
    return syscall4(SYS_SEND, dst_rank, tag, (long)buf, (long)len);
}

long rt_sys_recv(int src_rank, int tag, void *buf, size_t maxlen)
{
    return syscall4(SYS_RECV, src_rank, tag, (long)buf, (long)maxlen);
}

/* The compiler emits calls to these for struct copies and recognized loops; string
 * instructions keep it from turning their own loops back into calls. */
void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    if ((uintptr_t)dst - (uintptr_t)src >= n)   /* no overlap that a forward copy would clobber */
        return memcpy(dst, src, n);
    char *d = (char *)dst + n - 1;
    const char *s = (const char *)src + n - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (size_t i = 0; i < n; i++)
        if (p[i] != q[i])
            return p[i] - q[i];
    return 0;
}
