/*
 * stream: the four STREAM kernels (McCalpin) on arrays of n doubles:
 *   copy c = a, scale b = s*c, add c = a + b, triad a = b + s*c.
 * Each kernel runs ntimes; its rate is from the best time, the first run not counted (as STREAM
 * does). Bytes moved per element: 16 for copy and scale, 24 for add and triad.
 * Validation: the same operations on scalars give the exact expected value of every element.
 *
 * Defaults (n=1000000 ntimes=5, 24 MB): ~170 M instructions, a few seconds under Symbiont.
 * Bigger: n=10000000 (240 MB of arrays: give the VM -m 512) or more ntimes.
 */
#include "rt.h"

static const double scalar = 3.0;

/* Sum of the arrays' bit patterns: changes with any bit of any element. */
static uint64_t checksum(const double *v, uint64_t n)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        union { double d; uint64_t u; } b = { .d = v[i] };
        sum += b.u;
    }
    return sum;
}

static uint64_t mismatches(const double *v, uint64_t n, double expect)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++)
        bad += v[i] != expect;
    return bad;
}

int rt_main(int argc, char **argv)
{
    uint64_t n = 1000000, ntimes = 5;
    const struct rt_opt opts[] = { RT_U64("n", &n), RT_U64("ntimes", &ntimes) };
    rt_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
    if (n < 1 || ntimes < 2)
        rt_fail(2, "need n >= 1 and ntimes >= 2");

    double *a = rt_alloc(n * sizeof(double));
    double *b = rt_alloc(n * sizeof(double));
    double *c = rt_alloc(n * sizeof(double));
    for (uint64_t j = 0; j < n; j++) {
        a[j] = 1.0;
        b[j] = 2.0;
        c[j] = 0.0;
    }
    for (uint64_t j = 0; j < n; j++)
        a[j] = 2.0 * a[j];

    static const char *const names[4] = { "copy", "scale", "add", "triad" };
    static const double bytes_per_elem[4] = { 16, 16, 24, 24 };
    uint64_t best[4] = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
    for (uint64_t k = 0; k < ntimes; k++) {
        uint64_t t[5];
        t[0] = rt_clock_ns();
        for (uint64_t j = 0; j < n; j++)
            c[j] = a[j];
        t[1] = rt_clock_ns();
        for (uint64_t j = 0; j < n; j++)
            b[j] = scalar * c[j];
        t[2] = rt_clock_ns();
        for (uint64_t j = 0; j < n; j++)
            c[j] = a[j] + b[j];
        t[3] = rt_clock_ns();
        for (uint64_t j = 0; j < n; j++)
            a[j] = b[j] + scalar * c[j];
        t[4] = rt_clock_ns();
        for (int i = 0; k > 0 && i < 4; i++)
            if (t[i + 1] - t[i] < best[i])
                best[i] = t[i + 1] - t[i];
    }

    double aj = 2.0, bj = 2.0, cj = 0.0;
    for (uint64_t k = 0; k < ntimes; k++) {
        cj = aj;
        bj = scalar * cj;
        cj = aj + bj;
        aj = bj + scalar * cj;
    }
    uint64_t bad = mismatches(a, n, aj) + mismatches(b, n, bj) + mismatches(c, n, cj);
    uint64_t sum = checksum(a, n) + checksum(b, n) + checksum(c, n);
    if (bad && rt_lead())
        rt_printf("stream: %lu elements differ from the expected a=%g b=%g c=%g\n", bad, aj, bj, cj);

    double mbs[4];
    for (int i = 0; i < 4; i++) {
        double ns = best[i] ? (double)best[i] : 1.0;
        mbs[i] = bytes_per_elem[i] * (double)n / ns * 1e3;     /* bytes/ns = GB/s; *1e3: MB/s */
        if (rt_lead())
            rt_printf("stream: %-5s %12.1f MB/s  best %.6f s\n", names[i], mbs[i], (double)best[i] * 1e-9);
    }
    int status = rt_join_status(bad ? 1 : 0);
    rt_result("stream", "n=%lu ntimes=%lu ok=%d a=%.17g b=%.17g c=%.17g checksum=0x%016lx | "
              "copy_mbs=%.1f scale_mbs=%.1f add_mbs=%.1f triad_mbs=%.1f",
              n, ntimes, status == 0, aj, bj, cj, sum, mbs[0], mbs[1], mbs[2], mbs[3]);
    return status;
}
