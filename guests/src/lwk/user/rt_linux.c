/*
 * The runtime's OS layer on Linux (glibc): the native twins of the workloads. main() runs the
 * job like the LWK does: procs=N processes (N-1 forked children, each with its proc_index), one
 * node (nranks>1 is refused: messages need the LWK's network).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"

static unsigned proc_index, procs = 1;
static int children_status;     /* largest exit status of the reaped children */
static bool joined;

/* The value of kernel key `key` in argv, or `def`. */
static unsigned long kernel_opt(int argc, char **argv, const char *key, unsigned long def)
{
    size_t klen = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, klen) && argv[i][klen] == '=') {
            char *end;
            unsigned long v = strtoul(argv[i] + klen + 1, &end, 0);
            if (*end || !argv[i][klen + 1]) {
                fprintf(stderr, "%s: bad value in '%s'\n", argv[0], argv[i]);
                exit(2);
            }
            return v;
        }
    return def;
}

int main(int argc, char **argv)
{
    procs = (unsigned)kernel_opt(argc, argv, "procs", 1);
    if (procs < 1 || procs > 1024) {
        fprintf(stderr, "%s: procs must be 1..1024\n", argv[0]);
        return 2;
    }
    if (kernel_opt(argc, argv, "nranks", 1) > 1) {
        fprintf(stderr, "%s: native runs are one node: nranks>1 needs the LWK\n", argv[0]);
        return 2;
    }
    for (unsigned i = 1; i < procs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            proc_index = i;
            break;
        }
    }
    rt_exit(rt_run(argc, argv));
}

void rt_write(const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(1, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

_Noreturn void rt_exit(int status)
{
    if (proc_index == 0 && procs > 1) {
        int others = rt_join();
        if (others > status)
            status = others;
    }
    _exit(status);
}

uint64_t rt_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *rt_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        rt_fail(1, "out of memory allocating %zu bytes", bytes);
    return p;
}

void rt_yield(void)
{
    sched_yield();
}

void rt_info(struct lwk_info *out)
{
    memset(out, 0, sizeof(*out));
    out->page_size = 4096;
    out->ram_bytes = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    out->free_frames = (uint64_t)sysconf(_SC_AVPHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 4096;
    out->pid = (uint32_t)getpid();
    out->proc_index = proc_index;
    out->procs = procs;
    int cpu = sched_getcpu();
    out->cpu = cpu < 0 ? 0 : (uint32_t)cpu;
    out->cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
    out->rank = 0;
    out->nranks = 1;
}

int rt_join(void)
{
    if (proc_index != 0 || joined)
        return proc_index != 0 ? 0 : children_status;
    int st;
    while (wait(&st) > 0) {
        int s = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (s > children_status)
            children_status = s;
    }
    joined = true;
    return children_status;
}

long rt_sys_send(int dst_rank, int tag, const void *buf, size_t len)
{
    (void)dst_rank, (void)tag, (void)buf, (void)len;
    return -LWK_ENODEV;
}

long rt_sys_recv(int src_rank, int tag, void *buf, size_t maxlen)
{
    (void)src_rank, (void)tag, (void)buf, (void)maxlen;
    return -LWK_ENODEV;
}
