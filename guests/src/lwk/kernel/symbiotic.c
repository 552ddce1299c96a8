/*
 * Symbiotic virtualization, the guest side of include/lwk/symbiotic.h (Palacios' SymSpy and
 * SymCall, ../shared/reference/palacios.md 6.2-6.9): discovery, the SymSpy pages and the state
 * this kernel publishes in them, SymCall registration and the calls (entry stub in symcall.S).
 *
 * Each CPU registers its own local page and SymCall entry: the VMM keys them by the vCPU that
 * wrote the MSR and may show a local page to that vCPU only (6.3). The VMM's page replaces the
 * guest's at the registered address, so the kernel fills its fields after the MSR write.
 */
#include "core.h"
#include <lwk/symbiotic.h>

#define SYMCALL_STACK_PAGES 4   /* 16 KiB per CPU */

struct symspy_global {
    char magic[8];
    uint32_t features;
    uint8_t pci_map[128];
    uint8_t reserved[116];
    uint32_t version, swap_type;
    uint64_t swap_pages, swap_sector, swap_outs, swap_ins;
};
_Static_assert(offsetof(struct symspy_global, features) == SYMSPY_FEATURES_OFF, "global page layout");
_Static_assert(offsetof(struct symspy_global, pci_map) == SYMSPY_PCI_MAP_OFF, "global page layout");
_Static_assert(offsetof(struct symspy_global, version) == SYMSPY_G_VERSION_OFF, "global page layout");
_Static_assert(offsetof(struct symspy_global, swap_type) == SYMSPY_G_SWAP_TYPE_OFF, "global page layout");
_Static_assert(offsetof(struct symspy_global, swap_pages) == SYMSPY_G_SWAP_PAGES_OFF, "global page layout");
_Static_assert(offsetof(struct symspy_global, swap_sector) == SYMSPY_G_SWAP_SECTOR_OFF, "global page layout");
_Static_assert(offsetof(struct symspy_global, swap_outs) == SYMSPY_G_SWAP_OUTS_OFF, "global page layout");
_Static_assert(offsetof(struct symspy_global, swap_ins) == SYMSPY_G_SWAP_INS_OFF, "global page layout");

struct symspy_local {
    char magic[8];
    uint32_t flags;
    uint8_t reserved[52];
    uint32_t pid, reserved2;
    uint64_t cr3, switches;
};
_Static_assert(offsetof(struct symspy_local, flags) == SYMSPY_L_FLAGS_OFF, "local page layout");
_Static_assert(offsetof(struct symspy_local, pid) == SYMSPY_L_PID_OFF, "local page layout");
_Static_assert(offsetof(struct symspy_local, cr3) == SYMSPY_L_CR3_OFF, "local page layout");
_Static_assert(offsetof(struct symspy_local, switches) == SYMSPY_L_SWITCHES_OFF, "local page layout");

/* A symcall's registers, saved by symcall.S: number and arguments in, hypercall number and
 * results out. */
struct symcall_regs { uint64_t rax, rbx, rcx, rdx, rsi, rdi; };

/* symcall.S: the same stub ending in VMCALL (Intel) or VMMCALL (AMD). */
extern const char symcall_entry_vmcall[], symcall_entry_vmmcall[];

static volatile struct symspy_global *global;
static volatile struct symspy_local *local_pages[MAX_CPUS];   /* allocated by the BSP */
static volatile struct symspy_local *locals[MAX_CPUS];        /* set once the CPU registered it */
static uint8_t *symcall_stacks[MAX_CPUS];
static const char *symcall_entry;
static unsigned cpus_registered;

/* s as text for the symtest lines: up to n bytes, up to a NUL, '?' for what is not printable. */
static const char *printable(char *buf, const volatile char *s, size_t n)
{
    size_t i = 0;
    for (; i < n && s[i]; i++) buf[i] = s[i] >= 0x20 && s[i] < 0x7F ? s[i] : '?';
    buf[i] = 0;
    return buf;
}

/* "V3V." and the CPU's number in decimal, NUL-padded to 8 bytes (6.3). */
_Static_assert(MAX_CPUS <= 100, "two digits");
static void local_magic(char out[8], unsigned cpu)
{
    unsigned i = 4;
    memset(out, 0, 8);
    memcpy(out, "V3V.", 4);
    if (cpu >= 10) out[i++] = (char)('0' + cpu / 10);
    out[i] = (char)('0' + cpu % 10);
}

/* This CPU's part, on the BSP or in answer to VEC_SYMBIOTIC: its local page, then its SymCall
 * entry (all five MSRs are per vCPU, 6.4), then the enabled flag the VMM checks before a symcall
 * (6.3). */
void symbiotic_cpu_register(void)
{
    struct cpu *c = cpu_self();
    volatile struct symspy_local *l = local_pages[c->id];
    uint64_t gpa = virt_to_phys((const void *)l);
    wrmsr(SYMSPY_LOCAL_MSR, gpa);
    char want[8];
    local_magic(want, c->id);
    if (memcmp((const void *)l->magic, want, 8) != 0)
        kprintf("lwk: warning: cpu %u: the VMM put no \"%s\" in the SymSpy local page at 0x%lx\n", c->id, want, gpa);
    l->pid = 0;
    l->cr3 = read_cr3();
    l->switches = 0;
    locals[c->id] = l;
    uint64_t rsp = (uint64_t)(symcall_stacks[c->id] + SYMCALL_STACK_PAGES * PAGE_SIZE);
    wrmsr(SYMCALL_RIP_MSR, (uint64_t)symcall_entry);
    wrmsr(SYMCALL_RSP_MSR, rsp);
    wrmsr(SYMCALL_CS_MSR, SEL_KCODE);   /* SS = CS + 8 = 0x10, the kernel data selector (trap.c) */
    wrmsr(SYMCALL_GS_MSR, (uint64_t)c);
    wrmsr(SYMCALL_FS_MSR, 0);           /* the kernel does not use FS */
    __atomic_or_fetch(&l->flags, SYMSPY_L_SYMCALL_ENABLED, __ATOMIC_SEQ_CST);
    if (config.symtest) {
        char m[9];
        kprintf("lwk: symtest cpu=%u local=0x%lx magic=%s flags=0x%x pid=%u cr3=0x%lx switches=%lu"
                " rip=0x%lx rsp=0x%lx cs=0x%x gs=0x%lx fs=0x0\n", c->id, gpa, printable(m, l->magic, 8),
                l->flags, l->pid, l->cr3, l->switches, (uint64_t)symcall_entry, rsp, SEL_KCODE, (uint64_t)c);
    }
    __atomic_add_fetch(&cpus_registered, 1, __ATOMIC_RELEASE);
}

static bool vendor_is(const uint32_t v[3], const char *name)
{
    return memcmp(v, name, 12) == 0;
}

void symbiotic_init(void)
{
    uint32_t a = 0, b, c, d;
    if (config.symbiotic) cpuid(SYM_CPUID_LEAF, &a, &b, &c, &d);
    if (a != SYM_CPUID_MAGIC) {
        if (config.symtest) kprintf("lwk: symtest: %s\n", config.symbiotic ? "the VMM is not symbiotic" : "symbiotic=off");
        return;
    }
    chatter("lwk: symbiotic VMM: SymSpy, SymCall\n");
    uint32_t vendor[3];
    cpuid(0, &a, &vendor[0], &vendor[2], &vendor[1]);
    /* SVM traps VMMCALL and VMX VMCALL (6.5); Symbiont takes either. */
    bool amd = vendor_is(vendor, "AuthenticAMD") || vendor_is(vendor, "HygonGenuine");
    symcall_entry = amd ? symcall_entry_vmmcall : symcall_entry_vmcall;

    void *g = kalloc_pages(1);
    for (unsigned i = 0; i < ncpus; i++) {
        local_pages[i] = kalloc_pages(1);
        symcall_stacks[i] = kalloc_pages(SYMCALL_STACK_PAGES);
        if (!local_pages[i] || !symcall_stacks[i]) g = NULL;
    }
    if (!g) panic("no memory for the symbiotic pages");
    uint64_t gpa = virt_to_phys(g);
    wrmsr(SYMSPY_GLOBAL_MSR, gpa);
    global = g;
    if (memcmp((const void *)global->magic, "V3V\0\0\0\0\0", 8) != 0)
        kprintf("lwk: warning: the VMM put no \"V3V\" in the SymSpy global page at 0x%lx\n", gpa);
    struct lwk_info info;
    mm_info(&info);
    global->swap_type = SWAP_TYPE;
    global->swap_pages = info.swap_pages;   /* slots 1..swap_pages hold pages, slot 0 the header */
    global->swap_sector = 0;                /* mm.c: slot s at sector 8s */
    global->swap_outs = info.swap_outs;
    global->swap_ins = info.swap_ins;
    __atomic_store_n(&global->version, 1, __ATOMIC_RELEASE);
    if (config.symtest) {
        char m[9];
        kprintf("lwk: symtest global=0x%lx magic=%s features=0x%x version=%u swap_type=%u swap_pages=%lu"
                " swap_sector=%lu swap_outs=%lu swap_ins=%lu\n", gpa, printable(m, global->magic, 8),
                global->features, global->version, global->swap_type, global->swap_pages,
                global->swap_sector, global->swap_outs, global->swap_ins);
    }

    /* One CPU at a time, so that their warnings and symtest lines come in order. */
    symbiotic_cpu_register();
    for (unsigned i = 1; i < ncpus; i++) {
        lapic_send_ipi(cpus[i].apic_id, VEC_SYMBIOTIC);
        uint64_t deadline = clock_ns() + 1000000000;
        while (__atomic_load_n(&cpus_registered, __ATOMIC_ACQUIRE) <= i) {
            if (clock_ns() > deadline) panic("cpu %u did not register its symbiotic pages within 1 s", i);
            cpu_relax();
        }
    }
}

/* ---- SymSpy state ---- */

void symspy_switched(const struct cpu *c, const struct proc *next)
{
    volatile struct symspy_local *l = locals[c->id];
    if (!l) return;
    l->pid = next ? next->pid : 0;
    l->cr3 = next ? next->pml4_phys : kernel_pml4_phys;
    if (next) l->switches++;   /* the switches context_switches counts, on this CPU */
}

/* Called under mm_lock. */
void symspy_swap_counts(uint64_t outs, uint64_t ins)
{
    if (!global) return;
    global->swap_outs = outs;
    global->swap_ins = ins;
}

/* ---- SymCall ---- */

/*
 * MEM_LOOKUP (symbiotic.h). The process is the one whose tables CR3 holds (in schedule,
 * c->current changes a few instructions before CR3); those tables are not freed while loaded,
 * so the walk through the direct map cannot fault. No lock is taken: the symcall may have
 * interrupted mm_lock's holder on this CPU.
 */
static void mem_lookup(struct symcall_regs *r)
{
    uint64_t va = r->rbx, entry = r->rcx, cr3 = read_cr3() & PTE_ADDR;
    const struct cpu *c = cpu_self();
    struct proc *p = NULL;
    for (unsigned i = 0; i < c->nprocs && !p; i++)
        if (c->procs[i] && c->procs[i]->pml4_phys == cr3) p = c->procs[i];
    bool in_region = p && va < USER_TOP && user_address_valid(p, va);
    bool swapped = entry && !(entry & PTE_P);
    const uint64_t *pte = in_region ? pte_find(cr3, va) : NULL;
    r->rbx = pte && swapped && __atomic_load_n(pte, __ATOMIC_RELAXED) == entry ? va : 0;
    /* Every region of a process is mapped user and writable (mm.c, fault_locked). */
    r->rcx = in_region ? SYM_PERM_PRESENT | SYM_PERM_WRITE | SYM_PERM_USER : 0;
    r->rdx = p ? p->pid : 0;
    r->rsi = swapped && LWK_SWP_TYPE(entry) == SWAP_TYPE && mm_slot_resident(LWK_SWP_SLOT(entry));
    r->rdi = 0;
}

void symcall_dispatch(struct symcall_regs *r);

void symcall_dispatch(struct symcall_regs *r)
{
    switch (r->rax) {
    case SYMCALL_TEST:
        r->rbx += 1;
        r->rcx += 2;
        r->rdx += 3;
        r->rsi += 4;
        r->rdi += 5;
        break;
    case SYMCALL_MEM_LOOKUP:
        mem_lookup(r);
        break;
    default:
        r->rax = SYMCALL_ERR_HCALL;
        r->rbx = SYM_ENOSYS;
        return;
    }
    r->rax = SYMCALL_RET_HCALL;
}
