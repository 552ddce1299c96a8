/*
 * allreduce: iters iterations of a compute phase followed by rt_allreduce_sum of count doubles
 * and rt_barrier, the pattern of a bulk-synchronous application. The compute phase is a fixed
 * amount of work, compute= floating-point operations (a dependent multiply-add chain), not a
 * fixed time: the same instructions on every run, so a VMM's virtual time for it is
 * deterministic and the spread of iteration times comes from the rest of the system.
 * Reported: min/median/max iteration time and the sum of all reduced values (exact: the
 * reduction adds in the same order for every rank; with nranks > 1 each rank prints its sum's
 * bits, which must agree).
 *
 * Defaults (iters=100 compute=100000 count=4): ~25 M instructions per rank. Bigger: iters=1000,
 * or compute=1000 to make the exchange dominate.
 */
#include "rt.h"

#define COUNT_MAX 512

/* Shell sort: iterations can be many, and the order of equal times does not matter. */
static void sort_u64(uint64_t *v, uint64_t n)
{
    for (uint64_t gap = n / 2; gap > 0; gap /= 2)
        for (uint64_t i = gap; i < n; i++) {
            uint64_t t = v[i], j = i;
            for (; j >= gap && v[j - gap] > t; j -= gap)
                v[j] = v[j - gap];
            v[j] = t;
        }
}

int rt_main(int argc, char **argv)
{
    uint64_t iters = 100, compute = 100000, count = 4;
    const struct rt_opt opts[] = {
        RT_U64("iters", &iters), RT_U64("compute", &compute), RT_U64("count", &count),
    };
    rt_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
    if (iters < 1 || count < 1 || count > COUNT_MAX)
        rt_fail(2, "need iters >= 1 and count 1..%d", COUNT_MAX);
    if (rt_nranks() > 1 && rt_procs() > 1)
        rt_fail(2, "nranks > 1 needs procs=1 (only process 0 of a node exchanges messages)");

    uint64_t *times = rt_alloc(iters * sizeof(uint64_t));
    double v[COUNT_MAX], total = 0.0;
    double x = 1.0 + rt_rank();
    rt_barrier();
    uint64_t start = rt_clock_ns();
    for (uint64_t it = 0; it < iters; it++) {
        uint64_t t0 = rt_clock_ns();
        for (uint64_t k = 0; k < compute / 2; k++)
            x = x * 0.999999 + 0.001;
        for (uint64_t j = 0; j < count; j++)
            v[j] = x + (double)j;
        rt_allreduce_sum(v, count);
        rt_barrier();
        for (uint64_t j = 0; j < count; j++)
            total += v[j];
        times[it] = rt_clock_ns() - t0;
    }
    uint64_t ns = rt_clock_ns() - start;

    sort_u64(times, iters);
    double min_us = (double)times[0] * 1e-3, med_us = (double)times[iters / 2] * 1e-3,
           max_us = (double)times[iters - 1] * 1e-3;
    union { double d; uint64_t u; } bits = { .d = total };
    if (rt_nranks() > 1)
        rt_printf("allreduce: rank %u: sum %.17g bits 0x%016lx\n", rt_rank(), total, bits.u);
    if (rt_lead())
        rt_printf("allreduce: %lu iterations of %lu flops + %lu-double allreduce over %u rank(s): "
                  "%.1f / %.1f / %.1f us (min/median/max)\n", iters, compute, count, rt_nranks(),
                  min_us, med_us, max_us);
    int status = rt_join_status(total == total ? 0 : 1);
    rt_result("allreduce", "iters=%lu compute=%lu count=%lu nranks=%u sum=%.17g sum_bits=0x%016lx "
              "ok=%d | min_us=%.1f median_us=%.1f max_us=%.1f seconds=%.6f", iters, compute, count,
              rt_nranks(), total, bits.u, status == 0, min_us, med_us, max_us, (double)ns * 1e-9);
    return status;
}
