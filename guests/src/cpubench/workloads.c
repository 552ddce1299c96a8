#include "workloads.h"

uint64_t wl_intloop(uint64_t iterations)
{
    uint64_t a = 1, b = 2, c = iterations;
    if (c == 0) return 0;
    __asm__ volatile(
        "1:\n\t"
        "add %2, %0\n\t"
        "xor %0, %1\n\t"
        "lea 7(%1,%0,2), %0\n\t"
        "sub %1, %0\n\t"
        "dec %2\n\t"
        "jnz 1b\n\t"
        : "+r"(a), "+r"(b), "+r"(c)
        :
        : "cc");
    return a ^ b;
}

uint64_t wl_sieve(uint8_t *flags, uint64_t n, uint64_t rounds)
{
    uint64_t count = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < n; i++) flags[i] = 1;
        flags[0] = flags[1] = 0;
        for (uint64_t i = 2; i * i < n; i++) {
            if (!flags[i]) continue;
            for (uint64_t j = i * i; j < n; j += i) flags[j] = 0;
        }
        count = 0;
        for (uint64_t i = 0; i < n; i++) count += flags[i];
    }
    return count;
}

uint64_t wl_triad(double *a, double *b, double *c, uint64_t n, uint64_t rounds)
{
    for (uint64_t i = 0; i < n; i++) {
        b[i] = (double)i;
        c[i] = (double)(n - i);
        a[i] = 0.0;
    }
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < n; i++) a[i] = b[i] + 3.0 * c[i];
        double *t = b; b = a; a = t;
    }
    /* A checksum that is exact: sum the array as integers. */
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) sum += (uint64_t)b[i];
    return sum;
}
