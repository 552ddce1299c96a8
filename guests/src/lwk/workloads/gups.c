/*
 * gups: HPCC RandomAccess on one process. A table of 2^logn 64-bit words starts as
 * table[i] = i; each update xors a value of the HPCC random stream (the LFSR x -> x<<1 ^ (x<0 ?
 * POLY : 0), POLY = 7, started at 1) into the word it selects with its low logn bits.
 * Running the same updates a second time must restore every word: errors counts those that
 * are not (0 exactly, as nothing races here). The rate is from the first pass.
 *
 * Defaults (logn=20, 8 MB table, 4M updates): ~120 M instructions. Bigger: logn=24 (128 MB,
 * -m 256, ~2 minutes under Symbiont: random access is its slowest case), or updates= to change
 * the length of a run without changing the table.
 */
#include "rt.h"

#define POLY 0x7ULL

static inline uint64_t next_random(uint64_t x)
{
    return (x << 1) ^ ((int64_t)x < 0 ? POLY : 0);
}

static uint64_t update(uint64_t *table, uint64_t mask, uint64_t updates)
{
    uint64_t ran = 1;
    for (uint64_t i = 0; i < updates; i++) {
        ran = next_random(ran);
        table[ran & mask] ^= ran;
    }
    return ran;
}

int rt_main(int argc, char **argv)
{
    uint64_t logn = 20, updates = 0;
    const struct rt_opt opts[] = { RT_U64("logn", &logn), RT_U64("updates", &updates) };
    rt_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
    if (logn < 1 || logn > 40)
        rt_fail(2, "logn must be 1..40");
    uint64_t size = 1ULL << logn, mask = size - 1;
    if (!updates)
        updates = 4 * size;

    uint64_t *table = rt_alloc(size * sizeof(uint64_t));
    for (uint64_t i = 0; i < size; i++)
        table[i] = i;

    uint64_t t0 = rt_clock_ns();
    uint64_t last = update(table, mask, updates);
    uint64_t ns = rt_clock_ns() - t0;

    uint64_t sum = 0;
    for (uint64_t i = 0; i < size; i++)
        sum += table[i] * (2 * i + 1);      /* position-weighted: catches swapped words too */

    update(table, mask, updates);
    uint64_t errors = 0;
    for (uint64_t i = 0; i < size; i++)
        errors += table[i] != i;

    double gups = (double)updates / (ns ? (double)ns : 1.0);     /* updates per ns = 10^9/s */
    if (rt_lead())
        rt_printf("gups: %lu updates of a %lu-word table in %.6f s: %.6f GUP/s, %lu errors\n",
                  updates, size, (double)ns * 1e-9, gups, errors);
    int status = rt_join_status(errors ? 1 : 0);
    rt_result("gups", "logn=%lu updates=%lu errors=%lu ok=%d last=0x%016lx checksum=0x%016lx | "
              "gups=%.6f seconds=%.6f", logn, updates, errors, status == 0, last, sum, gups,
              (double)ns * 1e-9);
    return status;
}
