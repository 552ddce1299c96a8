/*
 * The user runtime: the only interface workloads (workloads/NAME.c) and rt_common.c use.
 *
 * Each workload defines rt_main (not main): on the LWK crt0.S calls it through rt_lwk.c, natively
 * rt_linux.c's main does. Its return value is the process's exit status.
 *
 * Three layers:
 *   - the OS layer, implemented twice: rt_lwk.c (LWK system calls) and rt_linux.c (glibc);
 *   - rt_common.c (formatting, arguments, messages and collectives), compiled once with the
 *     workloads and linked into both, so guest and native runs execute identical code;
 *   - the workloads.
 * Freestanding: only compiler-provided headers and the LWK ABI.
 */
#ifndef RT_H
#define RT_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>
#include <lwk/abi.h>

#define RT_FMT(a, b) __attribute__((format(printf, a, b)))

/* The workload's entry point: argv = [program, "key=value", ...]. Returns the exit status. */
int rt_main(int argc, char **argv);

/* ---- OS layer (rt_lwk.c / rt_linux.c) ---- */

/* Writes to the console (LWK) or standard output (native). */
void rt_write(const char *buf, size_t len);
/* Ends the process. Natively, process 0 first waits for its sibling processes (see rt_join), and
 * exits with the largest status among them, as the LWK ends the VM with the largest status. */
_Noreturn void rt_exit(int status);
/* Monotonic nanoseconds (LWK: since boot, from the TSC). */
uint64_t rt_clock_ns(void);
/* `bytes` of zeroed memory, page aligned, never freed. Out of memory is fatal (exit status 1). */
void *rt_alloc(size_t bytes);
/* Gives the CPU to another runnable process. */
void rt_yield(void);
/* The kernel's view of this process and machine. Natively: the process fields (pid,
 * proc_index, procs, cpu, cpus, rank 0, nranks 1), page_size, ram_bytes and free_frames; the
 * kernel counters (swap, page faults, context switches), tsc_hz and slice_us are 0. */
void rt_info(struct lwk_info *out);
/* Waits until every other process of the job has exited; returns their largest exit status.
 * For process 0 (two processes joining each other would wait forever). */
int rt_join(void);
/* One message of at most LWK_MSG_MAX bytes to/from process 0 of another node; the SYS_SEND /
 * SYS_RECV results (natively always -LWK_ENODEV). Workloads use rt_send/rt_recv below. */
long rt_sys_send(int dst_rank, int tag, const void *buf, size_t len);
long rt_sys_recv(int src_rank, int tag, void *buf, size_t maxlen);

/* The C library functions the compiler may call on its own (LWK: rt_lwk.c, native: glibc). */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* ---- Common runtime (rt_common.c) ---- */

/* Called by the OS layer's start code: records the program name and calls rt_main. */
int rt_run(int argc, char **argv);
/* The program's name (argv[0] without directories). */
const char *rt_prog(void);

/* printf-style formatting: %d %i %u %x %X %o %c %s %p %% and %f %F %e %E %g %G, with the flags
 * - + space # 0, a field width and precision (or *), and the hh h l ll z t j length modifiers.
 * Doubles are converted exactly and rounded half-to-even, as glibc does. rt_printf writes each
 * call with one rt_write when it fits in 1 KiB, so lines of different processes do not mix. */
int rt_printf(const char *fmt, ...) RT_FMT(1, 2);
int rt_vprintf(const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t size, const char *fmt, ...) RT_FMT(3, 4);
int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/* Prints "PROGRAM: message" and a newline, then exits with `status`. */
_Noreturn void rt_fail(int status, const char *fmt, ...) RT_FMT(2, 3);

size_t rt_strlen(const char *s);

/* This process within the job and the run (from rt_info at start). */
unsigned rt_proc_index(void);
unsigned rt_procs(void);
unsigned rt_rank(void);
unsigned rt_nranks(void);
/* True in the one process that reports: process 0 of rank 0. */
bool rt_lead(void);
/* In process 0 of a job of several processes: waits for the others (rt_join) and returns the
 * largest of `status` and their exit statuses. Elsewhere returns `status`. */
int rt_join_status(int status);

/* Command-line options: key=value words of argv[1..], each key one of `opts` or a kernel key
 * (procs cpus slice swap rank nranks quiet symbiotic symtest, with or without a value), accepted and ignored.
 * Unsigned values are decimal or 0x hex; doubles are decimal with an optional exponent. Fields
 * keep their defaults when their key is absent. A word that is not key=value, an unknown key or
 * a bad value prints an error naming the accepted keys and exits with status 2. */
enum rt_opt_type { RT_OPT_U64, RT_OPT_DOUBLE };
struct rt_opt {
    const char *key;
    enum rt_opt_type type;
    void *val;              /* uint64_t * or double * */
};
#define RT_U64(k, p)    { (k), RT_OPT_U64, (uint64_t *)(p) }
#define RT_DOUBLE(k, p) { (k), RT_OPT_DOUBLE, (double *)(p) }
void rt_parse_args(int argc, char **argv, const struct rt_opt *opts, size_t nopts);

/*
 * The run's one result line, printed only by rt_lead():
 *     RESULT name=NAME <fields>
 * `fmt` formats space-separated key=value fields: first the exact ones (parameters, checksums,
 * counts, residuals: equal between guest and native runs), then " | ", then the measured ones
 * (times, rates, kernel counters), so `cut -d'|' -f1` keeps what must match.
 */
void rt_result(const char *name, const char *fmt, ...) RT_FMT(2, 3);

/*
 * Messages between nodes (process 0 of each rank; SYS_SEND/SYS_RECV). Any length: longer
 * messages go as several of at most LWK_MSG_MAX bytes. rt_recv waits for exactly `len` bytes
 * from src with that tag. Tags from RT_TAG_RESERVED up belong to the runtime. Errors are fatal.
 */
#define RT_TAG_RESERVED 0x7F00
void rt_send(int dst_rank, int tag, const void *buf, size_t len);
void rt_recv(int src_rank, int tag, void *buf, size_t len);
/* Collectives over all ranks, called by process 0 of every rank (no-ops with one rank). */
void rt_barrier(void);
/* v[i] becomes the sum over ranks of v[i], added in an order fixed by nranks (a binomial tree),
 * so every rank gets bit-identical sums. */
void rt_allreduce_sum(double *v, size_t n);
/* v[i] becomes the largest v[i] over ranks (NaN if any rank has NaN), on the same tree. */
void rt_allreduce_max(double *v, size_t n);

static inline double rt_sqrt(double x) { return __builtin_sqrt(x); }
static inline double rt_fabs(double x) { return __builtin_fabs(x); }

#endif
