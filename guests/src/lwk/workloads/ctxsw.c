/*
 * ctxsw: procs processes (the kernel's procs= option, at least 2) each call rt_yield iters
 * times; process 0 then joins the others. With all of them on one CPU every yield is a switch.
 * Reported: the yields made, the kernel's context switches over the run (0 natively) and the
 * wall time per yield (process 0's start to the end of the join).
 *
 * Defaults (iters=10000): a few M instructions per process, dominated by the kernel's switch
 * path. Bigger: iters=100000, more procs.
 */
#include "rt.h"

int rt_main(int argc, char **argv)
{
    uint64_t iters = 10000;
    const struct rt_opt opts[] = { RT_U64("iters", &iters) };
    rt_parse_args(argc, argv, opts, 1);
    unsigned procs = rt_procs();
    if (procs < 2)
        rt_fail(2, "needs procs >= 2 (kernel option procs=N)");

    struct lwk_info before, after;
    rt_info(&before);
    uint64_t t0 = rt_clock_ns();
    for (uint64_t i = 0; i < iters; i++)
        rt_yield();
    int status = rt_join_status(0);
    uint64_t ns = rt_clock_ns() - t0;
    rt_info(&after);

    uint64_t yields = iters * procs, switches = after.context_switches - before.context_switches;
    double per_yield = (double)ns / (double)(yields ? yields : 1);
    if (rt_lead())
        rt_printf("ctxsw: %u processes x %lu yields in %.6f s: %.1f ns per yield, %lu switches\n",
                  procs, iters, (double)ns * 1e-9, per_yield, switches);
    rt_result("ctxsw", "procs=%u iters=%lu yields=%lu ok=%d | switches=%lu ns_per_yield=%.1f "
              "ns_per_switch=%.1f seconds=%.6f", procs, iters, yields, status == 0, switches, per_yield,
              switches ? (double)ns / (double)switches : 0.0, (double)ns * 1e-9);
    return status;
}
