/* Processes: loading, the per-CPU round-robin scheduler, exit and join, user faults and the
 * system calls of abi.h. */
#include "core.h"
#include "drivers.h"

#define KILLED_STATUS 100   /* exit status of a process killed for a fault */

static struct proc *procs;          /* config.procs of them */
static unsigned nprocs_total;
static volatile bool started;
uint64_t context_switches;

/* The job: processes alive, those waiting in SYS_JOIN, the largest exit status so far. */
static spinlock_t job_lock;
static unsigned live, joining;
static int max_status;

static void fx_save(struct proc *p) { __asm__ volatile("fxsave64 (%0)" :: "r"(p->fx) : "memory"); }
static void fx_restore(struct proc *p) { __asm__ volatile("fxrstor64 (%0)" :: "r"(p->fx) : "memory"); }

/* Switches this CPU to its next runnable process, round robin, or to its idle loop; called with
 * interrupts disabled. Returns when the caller's process (or idle loop) is chosen again. */
void schedule(void)
{
    struct cpu *c = cpu_self();
    struct proc *old = c->current, *next = NULL;
    for (unsigned k = 1; k <= c->nprocs; k++) {
        unsigned i = (c->next + k) % c->nprocs;
        if (c->procs[i]->state == PROC_RUNNABLE) {
            next = c->procs[i];
            c->next = i;
            break;
        }
    }
    if (next == old) return;
    if (old) fx_save(old);
    c->current = next;
    bool shared = false;
    for (unsigned i = 0; i < c->nprocs && next; i++) shared |= c->procs[i] != next && c->procs[i]->state == PROC_RUNNABLE;
    timer_restart(shared);
    if (next) {
        c->kstack_top = c->tss.rsp[0] = next->kstack_top;
        write_cr3(next->pml4_phys);
        fx_restore(next);
        __atomic_add_fetch(&context_switches, 1, __ATOMIC_RELAXED);
    } else {
        write_cr3(kernel_pml4_phys);
    }
    symspy_switched(c, next);
    switch_context(old ? &old->rsp : &c->idle_rsp, next ? next->rsp : c->idle_rsp);
}

void idle_loop(void)
{
    for (;;) {
        cli();
        if (started) schedule();
        __asm__ volatile("sti; hlt" ::: "memory");   /* STI's interrupt shadow covers HLT */
    }
}

void timer_tick(struct frame *f)
{
    /* Preemption only of user code: kernel paths block only where they choose to. */
    if ((f->cs & 3) && started) schedule();
}

void cpu_wait_for_interrupt(void)
{
    uint64_t flags = read_rflags();
    __asm__ volatile("sti; hlt" ::: "memory");
    if (!(flags & 0x200)) cli();
}

/* ---- loading ---- */

static uint8_t argv_buf[8192] __attribute__((aligned(16)));

/* argc, argv[] and NULL at RSP (16-byte aligned), the strings above them, at the stack's top. */
static uint64_t argv_build(struct proc *p)
{
    const char *words[256];
    unsigned argc = 0;
    words[argc++] = p->prog->name;
    const char *w = cmd_args;
    while (*w && *w != ' ') w++;   /* the program's name */
    for (;;) {
        while (*w == ' ') w++;
        if (!*w || argc == 256) break;
        words[argc++] = w;
        while (*w && *w != ' ') w++;
    }
    uint64_t strings = 0;
    for (unsigned i = 0; i < argc; i++) {
        const char *e = words[i];
        while (*e && *e != ' ') e++;
        strings += (uint64_t)(e - words[i]) + 1;
    }
    uint64_t top = LWK_USER_STACK_TOP;
    uint64_t sp = (top - strings - (argc + 2) * 8) & ~15UL;
    uint64_t size = top - sp;
    if (size > sizeof argv_buf) panic("the command line has too many words");
    memset(argv_buf, 0, size);
    uint64_t *vec = (uint64_t *)argv_buf;
    char *str = (char *)argv_buf + (top - strings - sp);
    uint64_t ustr = top - strings;
    vec[0] = argc;
    for (unsigned i = 0; i < argc; i++) {
        vec[1 + i] = ustr;
        const char *s = words[i];
        while (*s && *s != ' ') *str++ = *s++, ustr++;
        *str++ = 0;
        ustr++;
    }
    if (copy_to_user(p, sp, argv_buf, size)) {
        kprintf("lwk: out of memory for the stack of process %u\n", p->pid);
        debug_exit(3);
    }
    return sp;
}

void procs_create(const struct lwk_program *prog)
{
    const struct lwk_user_header *h = (const void *)prog->image;
    if (prog->size < sizeof *h || h->magic != LWK_USER_MAGIC || h->version != 1 || h->image_end < LWK_USER_BASE + sizeof *h ||
        h->image_end - LWK_USER_BASE > prog->size || h->bss_end < h->image_end || h->bss_end >= LWK_USER_MMAP_BASE ||
        h->entry < LWK_USER_BASE || h->entry >= h->image_end) {
        kprintf("lwk: program %s has no valid lwk_user_header\n", prog->name);
        debug_exit(2);
    }
    nprocs_total = config.procs;
    live = nprocs_total;
    procs = kalloc_pages((nprocs_total * sizeof *procs + PAGE_SIZE - 1) / PAGE_SIZE);
    bool placed = procs != NULL;
    for (unsigned c = 0; c < ncpus && placed; c++) {
        unsigned here = (nprocs_total + ncpus - 1 - c) / ncpus;   /* processes c, c + ncpus, ... */
        if (here) cpus[c].procs = kalloc_pages((here * sizeof(struct proc *) + PAGE_SIZE - 1) / PAGE_SIZE);
        placed = !here || cpus[c].procs;
    }
    if (!placed) {
        kprintf("lwk: out of memory for the table of %u processes\n", nprocs_total);
        debug_exit(3);
    }
    for (unsigned i = 0; i < nprocs_total; i++) {
        struct proc *p = &procs[i];
        p->pid = i + 1;
        p->index = i;
        p->cpu = i % ncpus;
        p->prog = prog;
        p->hdr = h;
        p->state = PROC_RUNNABLE;
        p->image = (struct region){ LWK_USER_BASE, (h->bss_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) };
        p->stack = (struct region){ LWK_USER_STACK_TOP - LWK_USER_STACK_MAX, LWK_USER_STACK_TOP };
        p->mmap_next = LWK_USER_MMAP_BASE;
        uint8_t *kstack = kalloc_pages(KSTACK_PAGES);
        uint64_t *pml4 = pml4_create();
        if (!kstack || !pml4) {
            kprintf("lwk: out of memory creating process %u\n", p->pid);
            debug_exit(3);
        }
        p->kstack_top = (uint64_t)(kstack + KSTACK_PAGES * PAGE_SIZE);
        p->pml4_phys = virt_to_phys(pml4);
        /* FXSAVE image of the initial x87/SSE state: FCW 0x37F, MXCSR 0x1F80 (SDM vol. 1 10.5.1). */
        memset(p->fx, 0, sizeof p->fx);
        *(uint16_t *)p->fx = 0x37F;
        *(uint32_t *)(p->fx + 24) = 0x1F80;
        uint64_t sp = argv_build(p);
        /* The first switch to it "returns" into interrupt_return with a ring-3 frame. */
        struct frame *f = (struct frame *)(p->kstack_top - sizeof *f);
        memset(f, 0, sizeof *f);
        f->rip = h->entry;
        f->cs = SEL_UCODE;
        f->rflags = 0x202;
        f->rsp = sp;
        f->ss = SEL_UDATA;
        uint64_t *s = (uint64_t *)f;
        *--s = (uint64_t)interrupt_return;
        for (int r = 0; r < 6; r++) *--s = 0;   /* switch_context's callee-saved registers */
        p->rsp = (uint64_t)s;
        struct cpu *c = &cpus[p->cpu];
        c->procs[c->nprocs++] = p;
    }
    for (unsigned c = 0; c < ncpus; c++) cpus[c].next = cpus[c].nprocs - 1;
    chatter("lwk: running %s: %u processes on %u CPUs\n", prog->name, nprocs_total, ncpus);
    __atomic_store_n(&started, true, __ATOMIC_RELEASE);
    for (unsigned c = 1; c < ncpus; c++) cpu_kick(c);
}

/* ---- exit and join ---- */

static void wake_joiners_locked(void)
{
    if (!joining || live != joining) return;
    for (unsigned i = 0; i < nprocs_total; i++) {
        if (procs[i].state == PROC_JOINING) {
            procs[i].state = PROC_RUNNABLE;
            cpu_kick(procs[i].cpu);
        }
    }
    joining = 0;
}

static void proc_exit(struct proc *p, int status) __attribute__((noreturn));
static void proc_exit(struct proc *p, int status)
{
    status &= 0xFF;   /* as a Unix exit status: exit(-1) is 255 */
    uint64_t flags = spin_lock_irqsave(&job_lock);
    if (status > max_status) max_status = status;
    bool last = --live == 0;
    p->state = PROC_EXITED;
    wake_joiners_locked();
    spin_unlock_irqrestore(&job_lock, flags);
    sti();
    write_cr3(kernel_pml4_phys);
    symspy_switched(cpu_self(), NULL);   /* its tables are about to be freed */
    mm_release(p);
    if (last) {
        chatter("lwk: all %u processes exited, status %d\n", nprocs_total, max_status);
        debug_exit((uint32_t)max_status);
    }
    cli();
    schedule();
    panic("exited process %u was scheduled again", p->pid);
}

static long sys_join(struct proc *p)
{
    uint64_t flags = spin_lock_irqsave(&job_lock);
    p->state = PROC_JOINING;
    joining++;
    wake_joiners_locked();
    spin_unlock_irqrestore(&job_lock, flags);
    cli();
    while (p->state == PROC_JOINING) schedule();
    sti();
    return max_status;
}

/* An exception in ring 3: a demand or swap fault is served; anything else kills the process. */
void proc_fault(struct frame *f, const char *what)
{
    struct proc *p = cpu_self()->current;
    uint64_t addr = read_cr2();
    sti();
    if (f->vector == 14) {
        enum fault_result r = (f->error & 1) ? FAULT_BAD : mm_fault(p, addr);   /* P=1: a protection violation */
        if (r == FAULT_OK) {
            cli();
            return;
        }
        kprintf("process %u (%s): %s at 0x%lx rip 0x%lx, killed\n", p->pid, p->prog->name,
                r == FAULT_OOM ? "out of memory" : "page fault", addr, f->rip);
    } else {
        kprintf("process %u (%s): %s (error 0x%lx) at rip 0x%lx, killed\n", p->pid, p->prog->name, what, f->error, f->rip);
    }
    proc_exit(p, KILLED_STATUS);
}

/* ---- system calls ---- */


static long sys_write(struct proc *p, uint64_t buf, uint64_t len)
{
    char k[256];
    for (uint64_t done = 0; done < len;) {
        uint64_t n = len - done < sizeof k ? len - done : sizeof k;
        int r = copy_from_user(p, k, buf + done, n);
        if (r) return r;
        console_write(k, n);
        done += n;
    }
    return (long)len;
}

static long sys_info(struct proc *p, uint64_t out)
{
    struct lwk_info info;
    memset(&info, 0, sizeof info);
    mm_info(&info);
    info.tsc_hz = tsc_hz;
    info.context_switches = __atomic_load_n(&context_switches, __ATOMIC_RELAXED);
    info.pid = p->pid;
    info.proc_index = p->index;
    info.procs = nprocs_total;
    info.cpu = p->cpu;
    info.cpus = ncpus;
    info.rank = config.rank;
    info.nranks = config.nranks;
    info.slice_us = config.slice_us;
    return copy_to_user(p, out, &info, sizeof info);
}

/* A message in a process's memory, copied a frame or a pool page at a time (msg_data). */
struct user_message { struct proc *proc; uint64_t address; };

static int copy_from_user_message(void *ctx, uint64_t offset, void *kbuf, uint32_t n)
{
    struct user_message *m = ctx;
    return copy_from_user(m->proc, kbuf, m->address + offset, n);
}

static int copy_to_user_message(void *ctx, uint64_t offset, void *kbuf, uint32_t n)
{
    struct user_message *m = ctx;
    return copy_to_user(m->proc, m->address + offset, kbuf, n);
}

static long sys_send(struct proc *p, int dst, int tag, uint64_t buf, uint64_t len)
{
    if (!msg_available()) return -LWK_ENODEV;
    if (len > LWK_MSG_MAX) return -LWK_EMSGSIZE;
    /* Checked whole before the first frame goes: a bad address must not cut a message short. */
    if (buf + len < buf || buf + len > USER_TOP) return -LWK_EFAULT;
    for (uint64_t page = buf & ~(PAGE_SIZE - 1); page < buf + len; page += PAGE_SIZE)
        if (!user_address_valid(p, page)) return -LWK_EFAULT;
    struct user_message m = { p, buf };
    struct msg_data data = { copy_from_user_message, &m };
    return msg_send(dst, tag, &data, len);
}

static long sys_recv(struct proc *p, int src, int tag, uint64_t buf, uint64_t maxlen)
{
    if (!msg_available()) return -LWK_ENODEV;
    if (maxlen > LWK_MSG_MAX) maxlen = LWK_MSG_MAX;
    if (buf + maxlen < buf || buf + maxlen > USER_TOP) return -LWK_EFAULT;
    struct user_message m = { p, buf };
    struct msg_data data = { copy_to_user_message, &m };
    return msg_recv(src, tag, &data, maxlen);
}

void syscall_dispatch(struct frame *f)
{
    sti();
    struct proc *p = cpu_self()->current;
    long r;
    switch (f->rax) {
    case SYS_EXIT: proc_exit(p, (int)f->rdi);
    case SYS_WRITE: r = sys_write(p, f->rdi, f->rsi); break;
    case SYS_YIELD:
        cli();
        schedule();
        sti();
        r = 0;
        break;
    case SYS_INFO: r = sys_info(p, f->rdi); break;
    case SYS_MMAP: r = mm_mmap(p, f->rdi); break;
    case SYS_CLOCK: r = (long)clock_ns(); break;
    case SYS_JOIN: r = sys_join(p); break;
    case SYS_SEND: r = sys_send(p, (int)f->rdi, (int)f->rsi, f->rdx, f->r10); break;
    case SYS_RECV: r = sys_recv(p, (int)f->rdi, (int)f->rsi, f->rdx, f->r10); break;
    default: r = -LWK_ENOSYS; break;
    }
    f->rax = (uint64_t)r;
}
