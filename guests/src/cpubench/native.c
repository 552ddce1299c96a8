/* Runs a cpubench workload natively on the host, with the same machine code the guest runs,
 * and prints its wall time: "NATIVE workload=<w> result=<r> ns=<t>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "workloads.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s intloop|sieve|triad [n] [rounds]\n", argv[0]);
        return 2;
    }
    const char *w = argv[1];
    uint64_t rounds = argc > 3 ? strtoull(argv[3], 0, 10) : 1;
    uint64_t result, n, t0, t1;
    if (!strcmp(w, "intloop")) {
        n = argc > 2 ? strtoull(argv[2], 0, 10) : 100000000;
        t0 = now_ns();
        result = wl_intloop(n * rounds);
        t1 = now_ns();
    } else if (!strcmp(w, "sieve")) {
        n = argc > 2 ? strtoull(argv[2], 0, 10) : 10000000;
        uint8_t *flags = malloc(n);
        t0 = now_ns();
        result = wl_sieve(flags, n, rounds);
        t1 = now_ns();
    } else if (!strcmp(w, "triad")) {
        n = argc > 2 ? strtoull(argv[2], 0, 10) : (1u << 20);
        double *base = malloc(3 * n * sizeof(double));
        t0 = now_ns();
        result = wl_triad(base, base + n, base + 2 * n, n, rounds);
        t1 = now_ns();
    } else {
        fprintf(stderr, "unknown workload %s\n", w);
        return 2;
    }
    printf("NATIVE workload=%s result=%llu ns=%llu\n", w, (unsigned long long)result, (unsigned long long)(t1 - t0));
    return 0;
}
