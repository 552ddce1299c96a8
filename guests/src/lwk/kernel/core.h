/*
 * The kernel core's internal interfaces, shared by its files (boot, memory, interrupts, processes).
 * Everything the drivers may use is in kernel.h.
 */
#ifndef LWK_CORE_H
#define LWK_CORE_H

#include "kernel.h"

#define KERNEL_VMA     0xFFFFFFFF80000000UL   /* virtual address of physical 0 in the image map */
#define MAX_CPUS       32
#define MAX_PROCS      256
#define KSTACK_PAGES   4
#define USER_TOP       0x0000800000000000UL   /* first non-canonical address of the lower half */

/* Selectors of the per-CPU GDT (trap.c) used from C. */
#define SEL_KCODE 0x08
#define SEL_UDATA 0x1B
#define SEL_UCODE 0x23

/* Interrupt vectors. */
#define VEC_IRQ_BASE   0x30   /* irq_register's vectors: 0x30 .. 0x30+MAX_IRQS-1 */
#define MAX_IRQS       32
#define VEC_PIC_BASE   0x20   /* the 8259A pair remapped here (IRQ0 = timer without a local APIC) */
#define VEC_TIMER      0xE0   /* local APIC timer */
#define VEC_TLB        0xF0   /* TLB shootdown IPI */
#define VEC_WAKE       0xF1   /* wakes a halted CPU to look at its run queue */
#define VEC_SYMBIOTIC  0xF2   /* asks a CPU to register its symbiotic pages and entry (symbiotic.c) */
#define VEC_SPURIOUS   0xFF

/* Page-table entry bits (SDM vol. 3A 4.5, tables 4-14 to 4-20). */
#define PTE_P    0x001UL
#define PTE_W    0x002UL
#define PTE_U    0x004UL
#define PTE_PWT  0x008UL
#define PTE_PCD  0x010UL
#define PTE_A    0x020UL
#define PTE_D    0x040UL
#define PTE_PS   0x080UL
#define PTE_ADDR 0x000FFFFFFFFFF000UL

/* The registers an interrupt, exception or system call leaves on the kernel stack (entry.S). */
struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;   /* pushed by the CPU (or built by syscall_entry) */
};

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
} __attribute__((packed));

struct proc;

/* Per-CPU data, reached through GS (entry.S uses the first three fields by offset). */
struct cpu {
    struct cpu *self;          /* 0 */
    uint64_t kstack_top;       /* 8: kernel stack of the running process, for syscall_entry */
    uint64_t user_rsp;         /* 16: scratch for syscall_entry */
    unsigned id;
    uint32_t apic_id;
    volatile bool online;
    struct proc *current;      /* NULL while idle */
    uint64_t idle_rsp;         /* saved stack pointer of the idle loop */
    struct proc **procs;       /* the processes placed on this CPU, in order (procs_create) */
    unsigned nprocs, next;     /* round-robin position */
    volatile uint64_t tlb_req, tlb_done;
    uint64_t gdt[7];
    struct tss tss;
    uint64_t fault_stack_top;  /* the double fault's stack (IST1) */
    bool slicing;              /* the local APIC timer runs periodic slices (timer_restart) */
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned ncpus;         /* CPUs running the job */

static inline struct cpu *cpu_self(void)
{
    struct cpu *c;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline uint64_t read_rflags(void) { uint64_t f; __asm__ volatile("pushfq; popq %0" : "=r"(f)); return f; }
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
#define MSR_EFER           0xC0000080
#define MSR_STAR           0xC0000081
#define MSR_LSTAR          0xC0000082
#define MSR_SFMASK         0xC0000084
#define MSR_GS_BASE        0xC0000101
#define MSR_KERNEL_GS_BASE 0xC0000102
#define MSR_APIC_BASE      0x1B

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* console.c */
void console_init(void);
void console_write(const char *s, size_t n);     /* under the console lock */
void debug_exit(uint32_t status) __attribute__((noreturn));
extern bool quiet;
#define chatter(...) do { if (!quiet) kprintf(__VA_ARGS__); } while (0)

/* main.c: the boot facts */
struct mem_range { uint64_t base, len; uint32_t type; };
#define MAX_MEM_RANGES 64
extern struct mem_range mem_ranges[MAX_MEM_RANGES];
extern unsigned nmem_ranges;
#define MAX_RESERVED 16
extern uint64_t reserved_base[MAX_RESERVED], reserved_end[MAX_RESERVED];
extern unsigned nreserved;
extern char cmdline[1024];
extern const char *cmd_args;     /* the command line from the program name on */
extern struct config { unsigned procs, cpus, slice_us, rank, nranks; int swap; bool symbiotic, symtest; } config;

/* time.c */
extern uint64_t tsc_hz;
/* The local APIC timer's bus clock when the hypervisor told it (time_init), else 0. */
extern uint64_t lapic_bus_hz;
void time_init(void);
void delay_us(uint64_t us);

/* acpi.c */
struct madt {
    unsigned ncpus;
    uint32_t apic_ids[MAX_CPUS];
    bool has_ioapic;
    uint32_t ioapic_address, ioapic_gsi_base;
    struct { bool present; uint32_t gsi; uint16_t flags; } isa[16];   /* interrupt source overrides */
};
extern struct madt madt;
void acpi_init(void);

/* trap.c */
extern bool have_lapic, have_ioapic;
void trap_init(void);                 /* IDT, once */
void cpu_tables_init(struct cpu *c);  /* GDT, TSS, IDT, GS, SYSCALL MSRs on this CPU */
void lapic_init(void);
uint32_t lapic_id(void);
void lapic_send_ipi(uint32_t apic_id, uint32_t icr);
void cpu_kick(unsigned cpu);          /* another CPU has a process to run (else its next tick) */
void timer_init(void);                /* BSP: calibration and the interrupt controllers */
void timer_start(void);               /* this CPU's local APIC timer, stopped */
/* For the process just switched in (NULL: idle): a full slice from now when another process on
 * this CPU is runnable too, else no timer at all (the PIT without a local APIC ticks regardless). */
void timer_restart(bool shared);
void interrupt_dispatch(struct frame *f);
void fault_report(struct frame *f, const char *what) __attribute__((noreturn));

/* smp.c */
void smp_start(unsigned want);

/* mm.c */
#define SWAP_TYPE 0   /* the swap area's type in swap entries (abi.h's LWK_SWP_TYPE) */
extern uint64_t kernel_pml4_phys;
extern uint64_t ram_bytes;
void mm_init(void);
void swap_init(void);
void tlb_ipi(void);
uint64_t *pml4_create(void);
void mm_release(struct proc *p);
enum fault_result { FAULT_OK, FAULT_BAD, FAULT_OOM };
enum fault_result mm_fault(struct proc *p, uint64_t addr);
int copy_from_user(struct proc *p, void *dst, uint64_t src, uint64_t n);
int copy_to_user(struct proc *p, uint64_t dst, const void *src, uint64_t n);
long mm_mmap(struct proc *p, uint64_t len);
void mm_info(struct lwk_info *info);
/* Lookups without mm_lock, for SymCall too, which may interrupt any kernel code (mm_lock's holder too). */
bool user_address_valid(struct proc *p, uint64_t va);
uint64_t *pte_find(uint64_t pml4_phys, uint64_t va);
bool mm_slot_resident(uint64_t slot);

/* proc.c */
#define MAX_MMAP_REGIONS 64
struct region { uint64_t start, end; };
struct proc {
    uint64_t rsp;               /* saved kernel stack pointer while switched out */
    uint64_t kstack_top;
    uint64_t pml4_phys;
    unsigned pid, index, cpu;
    volatile int state;
    const struct lwk_program *prog;
    const struct lwk_user_header *hdr;
    struct region image, stack, mmaps[MAX_MMAP_REGIONS];
    unsigned nmmaps;
    uint64_t mmap_next;
    uint8_t fx[512] __attribute__((aligned(16)));
};
enum { PROC_RUNNABLE, PROC_JOINING, PROC_EXITED };
void procs_create(const struct lwk_program *prog);
void idle_loop(void) __attribute__((noreturn));
void schedule(void);
void timer_tick(struct frame *f);
void proc_fault(struct frame *f, const char *what);
void syscall_dispatch(struct frame *f);
extern uint64_t context_switches;

/* symbiotic.c: the guest side of include/lwk/symbiotic.h */
void symbiotic_init(void);                 /* BSP, once memory, SMP and swap are up */
void symbiotic_cpu_register(void);         /* this CPU's part (VEC_SYMBIOTIC) */
void symspy_switched(const struct cpu *c, const struct proc *next);   /* this CPU now runs next (NULL: none) */
void symspy_swap_counts(uint64_t outs, uint64_t ins);

/* entry.S */
void switch_context(uint64_t *save_rsp, uint64_t rsp);
extern const char interrupt_return[], syscall_entry[];
extern const uint64_t interrupt_stubs[256];
extern const char ap_trampoline[], ap_trampoline_end[];
extern uint64_t ap_boot_stack;
extern const char __image_start[], __bss_end[];

#endif
