/*
 * The LWK's user ABI: shared by the kernel (guests/src/lwk/kernel) and the user runtime
 * (guests/src/lwk/user). Freestanding: only fixed-width types.
 *
 * System calls use SYSCALL with the Linux x86-64 register convention: number in RAX, arguments in
 * RDI, RSI, RDX, R10, R8, R9; the result in RAX, a negative LWK_E* value on error; RCX and R11
 * are clobbered (SYSCALL/SYSRET use them), every other register is preserved.
 */
#ifndef LWK_ABI_H
#define LWK_ABI_H

#include <stdint.h>

/* System call numbers. */
#define SYS_EXIT      0   /* (int status): ends the calling process; never returns */
#define SYS_WRITE     1   /* (const char *buf, uint64_t len): to the console; returns len */
#define SYS_YIELD     2   /* (): gives the CPU to the next runnable process on this CPU */
#define SYS_INFO      3   /* (struct lwk_info *out): fills *out; returns 0 */
#define SYS_MMAP      4   /* (uint64_t len): a new demand-zero, writable region of len bytes rounded
                             up to pages; returns its address (page aligned) */
#define SYS_CLOCK     5   /* (): nanoseconds since boot, from the TSC */
#define SYS_JOIN      6   /* (): waits until every other process of the job has exited; returns
                             the largest exit status among them */
#define SYS_SEND      7   /* (int dst_rank, int tag, const void *buf, uint64_t len): sends a message
                             to process 0 of node dst_rank over the network; returns 0 */
#define SYS_RECV      8   /* (int src_rank, int tag, void *buf, uint64_t maxlen): waits for the next
                             message from src_rank with that tag; returns its length */
#define SYS_COUNT     9

/* Errors, returned negated. */
#define LWK_EINVAL   22   /* a bad argument */
#define LWK_EFAULT   14   /* a pointer outside the caller's memory */
#define LWK_ENOMEM   12   /* no memory and no swap to make room */
#define LWK_ENOSYS   38   /* no such system call */
#define LWK_ENODEV   19   /* no network device (SYS_SEND/SYS_RECV) */
#define LWK_EMSGSIZE 90   /* a message longer than maxlen, or than LWK_MSG_MAX */
#define LWK_EIO       5   /* the device failed, or a lost frame was detected */

#define LWK_MSG_MAX (1u << 20)  /* largest message SYS_SEND takes, in bytes */

/* What SYS_INFO reports. */
struct lwk_info {
    uint64_t tsc_hz;          /* TSC frequency (calibrated against the PIT at boot) */
    uint64_t page_size;       /* 4096 */
    uint64_t ram_bytes;       /* usable RAM from the multiboot memory map */
    uint64_t free_frames;     /* 4 KiB frames free right now */
    uint64_t swap_pages;      /* size of the swap area in pages, 0 without swap */
    uint64_t swap_outs;       /* pages written to swap since boot */
    uint64_t swap_ins;        /* pages read back from swap since boot */
    uint64_t swap_cache_hits; /* faults served from the swap cache without a disk read */
    uint64_t page_faults;     /* user page faults handled since boot */
    uint64_t context_switches;/* process switches since boot, all CPUs */
    uint32_t pid;             /* this process's id, from 1 */
    uint32_t proc_index;      /* index of this process within the job: 0 .. procs-1 */
    uint32_t procs;           /* processes in the job (kernel option procs=) */
    uint32_t cpu;             /* the CPU this process runs on: 0 .. cpus-1 */
    uint32_t cpus;            /* CPUs running the job */
    uint32_t rank;            /* this node's rank (kernel option rank=) */
    uint32_t nranks;          /* nodes in the run (kernel option nranks=) */
    uint32_t slice_us;        /* the scheduler's time slice in microseconds */
};

/*
 * A user program is a flat binary linked at LWK_USER_BASE that starts with this header. The
 * kernel copies bytes [LWK_USER_BASE, image_end) into private pages of each process, maps
 * [image_end, bss_end) demand-zero, and starts at `entry` in ring 3 with interrupts enabled and
 * RSP pointing at argc (a uint64_t), followed by argv[0..argc-1] (char pointers) and a NULL;
 * argv[0] is the program's name, the other strings are the words of the kernel command line
 * after it. RSP is 16-byte aligned there, every general register other than RSP is 0.
 * The stack grows down from LWK_USER_STACK_TOP, demand-zero, up to LWK_USER_STACK_MAX bytes.
 */
#define LWK_USER_BASE        0x400000ULL
#define LWK_USER_STACK_TOP   0x00007FFFFFFFF000ULL
#define LWK_USER_STACK_MAX   (8ULL << 20)
#define LWK_USER_MMAP_BASE   0x0000010000000000ULL  /* SYS_MMAP regions are placed from here up */
#define LWK_USER_MAGIC       0x554B574CU            /* "LWKU" */

struct lwk_user_header {
    uint32_t magic;      /* LWK_USER_MAGIC */
    uint32_t version;    /* 1 */
    uint64_t entry;
    uint64_t image_end;
    uint64_t bss_end;
};

/*
 * A page-table entry of a swapped-out user page (Linux 2.6-style for x86-64): present = 0, the
 * swap area's type in bits 1-5, the page's slot within the area in bits 9-58. A PTE that is 0 is
 * not mapped at all (demand-zero on first touch). Slot 0 of the area holds a Linux swap header
 * (magic "SWAPSPACE2" at byte 4086), so slots holding pages start at 1. The VMM (SwapBypass) reads
 * these entries, so the layout is part of the ABI.
 */
#define LWK_SWP_TYPE_SHIFT    1
#define LWK_SWP_TYPE_MASK     0x1FULL
#define LWK_SWP_OFFSET_SHIFT  9
#define LWK_SWP_OFFSET_MASK   ((1ULL << 50) - 1)
#define LWK_SWP_ENTRY(type, slot) \
    ((((uint64_t)(type) & LWK_SWP_TYPE_MASK) << LWK_SWP_TYPE_SHIFT) | \
     (((uint64_t)(slot) & LWK_SWP_OFFSET_MASK) << LWK_SWP_OFFSET_SHIFT))
#define LWK_SWP_TYPE(pte)     (((pte) >> LWK_SWP_TYPE_SHIFT) & LWK_SWP_TYPE_MASK)
#define LWK_SWP_SLOT(pte)     (((pte) >> LWK_SWP_OFFSET_SHIFT) & LWK_SWP_OFFSET_MASK)

#endif
