/*
 * memperf: a working set of mb MiB, visited page by page in `passes` passes and a final one.
 * Each visit first checks the words the previous pass wrote into the page (not in pass 0), then
 * writes the page's pattern for this pass: word i is seed(pass, page) + i * STEP.
 * Under memory pressure the kernel swaps pages out and in between visits; the checks and the
 * checksum of everything read back must not change. ns_per_page is the time per page visit;
 * swap_outs, swap_ins and page_faults are the kernel-wide counters over the run (0 natively).
 * `pages=` is accepted as another name for passes.
 *
 * Defaults (mb=64 passes=3): ~380 M instructions without swapping. To make the kernel swap, run
 * more memory than the VM has, e.g. mb=48 procs=4 in -m 128 with a swap disk.
 */
#include "rt.h"

#define WORDS_PER_PAGE 512
#define STEP 0x9E3779B97F4A7C15ULL

static inline uint64_t seed(uint64_t pass, uint64_t page)
{
    uint64_t v = (pass << 40 ^ page) * STEP;
    return v ^ v >> 29;
}

int rt_main(int argc, char **argv)
{
    uint64_t mb = 64, passes = 3;
    const struct rt_opt opts[] = { RT_U64("mb", &mb), RT_U64("passes", &passes), RT_U64("pages", &passes) };
    rt_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
    if (mb < 1 || passes < 1)
        rt_fail(2, "need mb >= 1 and passes >= 1");
    uint64_t npages = mb << 8;

    struct lwk_info before, after;
    rt_info(&before);
    uint64_t t0 = rt_clock_ns();
    uint64_t *mem = rt_alloc(mb << 20);
    uint64_t errors = 0, sum = 0;
    for (uint64_t pass = 0; pass <= passes; pass++) {
        for (uint64_t pg = 0; pg < npages; pg++) {
            uint64_t *w = mem + pg * WORDS_PER_PAGE;
            if (pass > 0) {
                uint64_t v = seed(pass - 1, pg);
                for (uint64_t i = 0; i < WORDS_PER_PAGE; i++, v += STEP) {
                    errors += w[i] != v;
                    sum += w[i];
                }
            }
            if (pass < passes) {
                uint64_t v = seed(pass, pg);
                for (uint64_t i = 0; i < WORDS_PER_PAGE; i++, v += STEP)
                    w[i] = v;
            }
        }
        if (rt_lead() && pass < passes)
            rt_printf("memperf: pass %lu done, %lu errors so far\n", pass, errors);
    }
    uint64_t ns = rt_clock_ns() - t0;
    rt_info(&after);

    double per_page = (double)ns / (double)(npages * (passes + 1));
    if (rt_lead())
        rt_printf("memperf: %lu MiB, %lu passes: %.1f ns per page visit, %lu errors; swap out %lu,"
                  " in %lu, faults %lu\n", mb, passes, per_page, errors,
                  after.swap_outs - before.swap_outs, after.swap_ins - before.swap_ins,
                  after.page_faults - before.page_faults);
    int status = rt_join_status(errors ? 1 : 0);
    rt_result("memperf", "mb=%lu passes=%lu errors=%lu ok=%d checksum=0x%016lx | ns_per_page=%.1f "
              "seconds=%.6f swap_outs=%lu swap_ins=%lu page_faults=%lu", mb, passes, errors,
              status == 0, sum, per_page, (double)ns * 1e-9, after.swap_outs - before.swap_outs,
              after.swap_ins - before.swap_ins, after.page_faults - before.page_faults);
    return status;
}
