/*
 * hpccg: conjugate gradients on the 27-point stencil matrix of an nx x ny x nz grid, built like
 * Mantevo HPCCG: one row per grid point, 27 on the diagonal and -1 for each neighbour inside
 * the grid, stored as CSR; the right-hand side is each row's sum, so the exact solution is all
 * ones; x0 = 0. CG runs max_iter iterations or until the residual norm is <= tol.
 *
 * nranks > 1: weak scaling, as Mantevo HPCCG: every rank holds an nx x ny x nz subdomain and the
 * global grid is nx x ny x (nz * nranks), the subdomains stacked in z (rank r has global planes
 * r*nz .. r*nz + nz - 1). Before each matrix-vector product a rank exchanges its boundary planes
 * of p with its z neighbours (rt_send/rt_recv); dot products are each rank's local sum (each z
 * plane's rows in order, then its planes in order) added over the ranks by rt_allreduce_sum, so
 * every rank gets the same bits, and a one-rank run equals a native run. The maximum error is
 * gathered with rt_allreduce_max. Per rank: ~240 bytes of matrix and vectors per row.
 *
 * Defaults (20x20x20, 150 iterations): ~270 M instructions per rank. Bigger: nx=50 ny=50 nz=50
 * (125000 rows, ~40 MB per rank).
 */
#include "rt.h"

enum { TAG_HALO_UP = 1, TAG_HALO_DOWN = 2 };

struct problem {
    uint64_t nx, ny, nz;        /* global grid */
    uint64_t z0, nzl;           /* this rank's planes: z0 .. z0 + nzl - 1 */
    uint64_t plane, nrow;       /* rows per plane, rows of this rank */
    int rank, nranks;
    uint64_t *rowptr;           /* CSR; columns index a vector with one ghost plane each side */
    uint32_t *col;
    double *val;
};

static void build(struct problem *pb, double *b)
{
    uint64_t nx = pb->nx, ny = pb->ny, k = 0, row = 0;
    pb->rowptr[0] = 0;
    for (uint64_t z = pb->z0; z < pb->z0 + pb->nzl; z++)
        for (uint64_t y = 0; y < ny; y++)
            for (uint64_t x = 0; x < nx; x++) {
                uint64_t start = k;
                for (int sz = -1; sz <= 1; sz++)
                    for (int sy = -1; sy <= 1; sy++)
                        for (int sx = -1; sx <= 1; sx++) {
                            int64_t cx = (int64_t)x + sx, cy = (int64_t)y + sy, cz = (int64_t)z + sz;
                            if (cx < 0 || cx >= (int64_t)nx || cy < 0 || cy >= (int64_t)ny ||
                                cz < 0 || cz >= (int64_t)pb->nz)
                                continue;
                            pb->col[k] = (uint32_t)((uint64_t)(cz - (int64_t)pb->z0 + 1) * pb->plane +
                                                    (uint64_t)cy * nx + (uint64_t)cx);
                            pb->val[k++] = (sx | sy | sz) ? -1.0 : 27.0;
                        }
                b[row] = 27.0 - (double)(k - start - 1);
                pb->rowptr[++row] = k;
            }
}

/* Sends this rank's boundary planes of p (own rows at p + plane) and receives the ghosts. */
static void exchange(const struct problem *pb, double *p)
{
    size_t bytes = pb->plane * sizeof(double);
    if (pb->rank > 0)
        rt_send(pb->rank - 1, TAG_HALO_DOWN, p + pb->plane, bytes);
    if (pb->rank < pb->nranks - 1)
        rt_send(pb->rank + 1, TAG_HALO_UP, p + pb->nzl * pb->plane, bytes);
    if (pb->rank > 0)
        rt_recv(pb->rank - 1, TAG_HALO_UP, p, bytes);
    if (pb->rank < pb->nranks - 1)
        rt_recv(pb->rank + 1, TAG_HALO_DOWN, p + (pb->nzl + 1) * pb->plane, bytes);
}

/* y = A p, p with ghost planes. */
static void matvec(const struct problem *pb, const double *p, double *y)
{
    for (uint64_t i = 0; i < pb->nrow; i++) {
        double sum = 0.0;
        for (uint64_t k = pb->rowptr[i]; k < pb->rowptr[i + 1]; k++)
            sum += pb->val[k] * p[pb->col[k]];
        y[i] = sum;
    }
}

static double dot(const struct problem *pb, const double *u, const double *v)
{
    double sum = 0.0;
    for (uint64_t z = 0; z < pb->nzl; z++) {
        double plane = 0.0;
        for (uint64_t i = z * pb->plane; i < (z + 1) * pb->plane; i++)
            plane += u[i] * v[i];
        sum += plane;
    }
    rt_allreduce_sum(&sum, 1);
    return sum;
}

/* w = alpha x + beta y */
static void waxpby(uint64_t n, double alpha, const double *x, double beta, const double *y, double *w)
{
    for (uint64_t i = 0; i < n; i++)
        w[i] = alpha * x[i] + beta * y[i];
}

int rt_main(int argc, char **argv)
{
    uint64_t nx = 20, ny = 20, nz = 20, max_iter = 150;
    double tol = 0.0;
    const struct rt_opt opts[] = {
        RT_U64("nx", &nx), RT_U64("ny", &ny), RT_U64("nz", &nz), RT_U64("max_iter", &max_iter),
        RT_DOUBLE("tol", &tol),
    };
    rt_parse_args(argc, argv, opts, sizeof(opts) / sizeof(opts[0]));
    struct problem pb = { .nx = nx, .ny = ny, .nz = nz * rt_nranks(), .rank = (int)rt_rank(), .nranks = (int)rt_nranks() };
    if (pb.nranks > 1 && rt_procs() > 1)
        rt_fail(2, "nranks > 1 needs procs=1 (only process 0 of a node exchanges messages)");
    if (nx < 1 || ny < 1 || nz < 1 || nx * ny * (nz + 2) >= (1ULL << 32))
        rt_fail(2, "need nx, ny, nz >= 1 and nx*ny*(nz+2) < 2^32");
    pb.z0 = nz * (uint64_t)pb.rank;
    pb.nzl = nz;
    pb.plane = nx * ny;
    pb.nrow = pb.plane * pb.nzl;

    uint64_t t0 = rt_clock_ns();
    uint64_t n = pb.nrow;
    pb.rowptr = rt_alloc((n + 1) * sizeof(uint64_t));
    pb.col = rt_alloc(27 * n * sizeof(uint32_t));
    pb.val = rt_alloc(27 * n * sizeof(double));
    double *b = rt_alloc(n * sizeof(double));
    double *x = rt_alloc(n * sizeof(double));
    double *r = rt_alloc(n * sizeof(double));
    double *ap = rt_alloc(n * sizeof(double));
    double *pg = rt_alloc((n + 2 * pb.plane) * sizeof(double));  /* p with ghost planes */
    double *p = pg + pb.plane;
    build(&pb, b);
    uint64_t setup_ns = rt_clock_ns() - t0;

    /* Global nonzero count, for the flop count. */
    double nnz = (double)pb.rowptr[n], rows = (double)(nx * ny * pb.nz);
    rt_allreduce_sum(&nnz, 1);
    if (rt_lead())
        rt_printf("hpccg: %lux%lux%lu grid (%lux%lux%lu per rank), %.0f rows, %.0f nonzeros, %d rank(s), setup %.6f s\n",
                  nx, ny, pb.nz, nx, ny, nz, rows, nnz, pb.nranks, (double)setup_ns * 1e-9);

    t0 = rt_clock_ns();
    /* r = b - A x0, with p = x0 = 0 as the product's input */
    exchange(&pb, pg);
    matvec(&pb, pg, ap);
    waxpby(n, 1.0, b, -1.0, ap, r);
    double rtrans = dot(&pb, r, r), old = 0.0;
    uint64_t iters = 0;
    double flops = 2 * nnz + 5 * rows;
    while (iters < max_iter && rt_sqrt(rtrans) > tol) {
        if (iters == 0)
            waxpby(n, 1.0, r, 0.0, r, p);
        else
            waxpby(n, 1.0, r, rtrans / old, p, p);
        exchange(&pb, pg);
        matvec(&pb, pg, ap);
        double alpha = rtrans / dot(&pb, p, ap);
        waxpby(n, 1.0, x, alpha, p, x);
        waxpby(n, 1.0, r, -alpha, ap, r);
        old = rtrans;
        rtrans = dot(&pb, r, r);
        iters++;
        flops += 2 * nnz + 2 * (2 * rows) + 3 * (3 * rows);
        if (rt_lead() && iters % 50 == 0)
            rt_printf("hpccg: iteration %lu residual %.6e\n", iters, rt_sqrt(rtrans));
    }
    uint64_t ns = rt_clock_ns() - t0;
    double resid = rt_sqrt(rtrans);

    /* Largest |x - 1| over all ranks. */
    double err = 0.0;
    for (uint64_t i = 0; i < n; i++)
        if (rt_fabs(x[i] - 1.0) > err)
            err = rt_fabs(x[i] - 1.0);
    rt_allreduce_max(&err, 1);

    union { double d; uint64_t u; } bits = { .d = resid };
    if (pb.nranks > 1)
        rt_printf("hpccg: rank %d: residual %.6e bits 0x%016lx\n", pb.rank, resid, bits.u);
    double mflops = flops / (ns ? (double)ns : 1.0) * 1e3;
    if (rt_lead())
        rt_printf("hpccg: %lu iterations, residual %.6e, max error %.6e, %.6f s, %.1f MFLOPS\n",
                  iters, resid, err, (double)ns * 1e-9, mflops);
    /* The solution must be close to all ones unless the run was cut short on purpose. */
    bool ok = err == err && (iters < 50 || err < 1e-6);
    int status = rt_join_status(ok ? 0 : 1);
    rt_result("hpccg", "nx=%lu ny=%lu nz=%lu nranks=%d iters=%lu residual=%.6e residual_bits=0x%016lx "
              "max_error=%.6e ok=%d | mflops=%.1f seconds=%.6f", nx, ny, nz, pb.nranks, iters,
              resid, bits.u, err, status == 0, mflops, (double)ns * 1e-9);
    return status;
}
