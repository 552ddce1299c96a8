/* CPU benchmark workloads, compiled once and linked both into the guest kernel and into the
 * native harness, so both run the same machine code. */
#ifndef WORKLOADS_H
#define WORKLOADS_H
#include <stdint.h>

/* (a) A tight integer loop: six ALU/branch instructions per iteration, in inline assembly so the
 * instruction mix is fixed. Returns a checksum. */
uint64_t wl_intloop(uint64_t iterations);

/* (b) Sieve of Eratosthenes over n bytes, repeated `rounds` times; returns the prime count. */
uint64_t wl_sieve(uint8_t *flags, uint64_t n, uint64_t rounds);

/* (c) A memory-heavy loop: a STREAM-style triad a = b + 3c over three arrays of n doubles,
 * repeated `rounds` times; in the guest the arrays are mapped with 4 KiB pages, so the loop
 * streams through far more pages than the TLB holds. Returns a checksum. */
uint64_t wl_triad(double *a, double *b, double *c, uint64_t n, uint64_t rounds);

#endif
