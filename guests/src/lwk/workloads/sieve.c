/*
 * sieve: counts the primes below n with the sieve of Eratosthenes over odd numbers, one byte
 * each. Validated against trial division below min(n, 100000) and against pi(10^k) when n is a
 * power of ten.
 *
 * Defaults (n=10000000, 5 MB): ~120 M instructions. Bigger: n=100000000 (50 MB, 5761455 primes).
 */
#include "rt.h"

static const uint64_t known_pi[][2] = {
    { 10, 4 }, { 100, 25 }, { 1000, 168 }, { 10000, 1229 }, { 100000, 9592 },
    { 1000000, 78498 }, { 10000000, 664579 }, { 100000000, 5761455 }, { 1000000000, 50847534 },
};

static uint64_t count_by_division(uint64_t n)
{
    uint64_t count = 0;
    for (uint64_t m = 2; m < n; m++) {
        bool prime = true;
        for (uint64_t d = 2; d * d <= m && prime; d++)
            prime = m % d != 0;
        count += prime;
    }
    return count;
}

int rt_main(int argc, char **argv)
{
    uint64_t n = 10000000;
    const struct rt_opt opts[] = { RT_U64("n", &n) };
    rt_parse_args(argc, argv, opts, 1);
    if (n > (1ULL << 40))
        rt_fail(2, "n must be at most 2^40");

    uint64_t t0 = rt_clock_ns();
    /* composite[i] for the odd number 2i+1, i < half; 1 is not prime, 2 is counted apart. */
    uint64_t half = n / 2;
    uint8_t *composite = rt_alloc(half ? half : 1);
    uint64_t count = n > 2 ? 1 : 0, largest = n > 2 ? 2 : 0;
    for (uint64_t i = 1; i < half; i++) {
        if (composite[i])
            continue;
        uint64_t p = 2 * i + 1;
        count++;
        largest = p;
        for (uint64_t m = p * p; m < n; m += 2 * p)
            composite[m / 2] = 1;
    }
    uint64_t ns = rt_clock_ns() - t0;

    uint64_t small = n < 100000 ? n : 100000, small_count = n > 2 ? 1 : 0;
    for (uint64_t i = 1; 2 * i + 1 < small; i++)
        small_count += !composite[i];
    bool ok = small_count == count_by_division(small);
    for (size_t i = 0; i < sizeof(known_pi) / sizeof(known_pi[0]); i++)
        if (known_pi[i][0] == n)
            ok &= known_pi[i][1] == count;

    if (rt_lead())
        rt_printf("sieve: %lu primes below %lu, the largest %lu, in %.6f s\n", count, n, largest,
                  (double)ns * 1e-9);
    int status = rt_join_status(ok ? 0 : 1);
    rt_result("sieve", "n=%lu primes=%lu largest=%lu ok=%d | seconds=%.6f", n, count, largest,
              status == 0, (double)ns * 1e-9);
    return status;
}
