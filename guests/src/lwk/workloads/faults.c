/*
 * faults: a fault in one process is that process's end, not the kernel's or another process's.
 * Processes 1 .. procs-1 (the kernel's procs= option, at least 2) each commit one fault a user
 * program can commit, by index: a write through a null pointer, a read of a kernel address, an
 * undefined opcode (UD2), a division by zero, a privileged instruction (CLI at CPL 3: #GP).
 * Process 0 fills a buffer, waits for the others (rt_join) and checks its buffer is intact.
 * The LWK kills each faulting process with a one-line report and ends with the largest exit
 * status (its killed-process status); natively the children die by signals.
 */
#include "rt.h"

#define FAULT_KINDS 5
#define WORDS 4096

static void commit_fault(unsigned kind)
{
    switch (kind) {
    case 0:
        *(volatile uint64_t *)0 = 1;
        break;
    case 1:
        (void)*(volatile uint64_t *)0xFFFF800000000000ULL;
        break;
    case 2:
        __asm__ volatile("ud2");
        break;
    case 3: {
        volatile uint64_t zero = 0, one = 1, quotient;
        quotient = one / zero;
        (void)quotient;
        break;
    }
    default:
        __asm__ volatile("cli");
        break;
    }
}

int rt_main(int argc, char **argv)
{
    rt_parse_args(argc, argv, 0, 0);
    unsigned procs = rt_procs();
    if (procs < 2)
        rt_fail(2, "needs procs >= 2 (kernel option procs=N)");
    if (rt_proc_index() > 0) {
        commit_fault((rt_proc_index() - 1) % FAULT_KINDS);
        rt_printf("faults: process %u survived its fault\n", rt_proc_index());
        return 0;
    }
    uint64_t *buffer = rt_alloc(WORDS * sizeof(uint64_t));
    for (uint64_t i = 0; i < WORDS; i++)
        buffer[i] = i * 0x9E3779B97F4A7C15ULL;
    int status = rt_join();
    bool intact = true;
    for (uint64_t i = 0; i < WORDS; i++)
        intact &= buffer[i] == i * 0x9E3779B97F4A7C15ULL;
    rt_result("faults", "procs=%u children_failed=%d memory_ok=%d ok=%d", procs, status != 0, intact,
              status != 0 && intact);
    return intact ? 0 : 1;
}
