/*
 * Memory: the kernel's page tables (direct map, image map), the frame allocator and its frame
 * table, kalloc_pages, user address spaces with demand paging, and swap to the virtio-blk disk.
 *
 * One lock (mm_lock) covers all of it, disk transfers of swap included. It is taken with
 * interrupts enabled and never from an interrupt handler, because its holder may wait for a TLB
 * shootdown IPI to be answered. Kernel code is never preempted, so a holder is never switched out.
 *
 * TLB shootdown: a process only ever runs on its own CPU (proc->cpu), and user pages are not
 * global, so only that CPU can cache translations of its address space (a CR3 load flushes them,
 * SDM vol. 3A 4.10.4.1). Evicting a page therefore flushes that one CPU: locally, or by an IPI
 * whose handler reloads CR3, waiting for its answer.
 */
#include "core.h"
#include "drivers.h"

#define NIL 0xFFFFFFFFu
#define MAX_RAM (64UL << 30)
#define LARGE (2UL << 20)
#define EVICT_BATCH 32

/* Frame states. NONE: not RAM we manage. FREE: on free_list. KERNEL: kalloc_pages, the frame table.
 * PT: a user page table. USER: mapped by `owner` at `va`. CACHED: the swap cache, on cache_list:
 * an evicted page's frame, still holding the contents of its slot; it is handed out like a free
 * frame (oldest first) once the free list is empty, but a fault on that slot before then maps it
 * again without a disk read. EVICTING: between the PTE's replacement and the end of the write. */
enum { F_NONE, F_FREE, F_KERNEL, F_PT, F_USER, F_CACHED, F_EVICTING };

/* Per-frame metadata. A user frame records who maps it where, so that the clock can find its
 * PTE; `slot` is the swap slot holding a copy of its contents (0: none). */
struct pframe {
    uint32_t prev, next;
    uint32_t state, slot;
    struct proc *owner;
    uint64_t va;
};

struct list { uint32_t head, tail; uint64_t count; };

static spinlock_t mm_lock;
static struct pframe *frames;
static uint64_t max_pfn, clock_hand;
static struct list free_list, cache_list;
uint64_t kernel_pml4_phys, ram_bytes;

/* Swap state. */
static bool swap_on;
static uint64_t nslots, slot_cursor, slots_used;
static uint64_t *slot_bitmap;
static uint32_t *slot_frame;   /* swap cache: the CACHED (or EVICTING) frame holding a slot's page, or NIL */
static uint8_t *swap_staging;  /* EVICT_BATCH pages: victims with consecutive slots go out in one write */
static uint64_t n_swap_outs, n_swap_ins, n_cache_hits, n_page_faults;

/* ---- kernel page tables ---- */

#define PT_POOL_PAGES (4 + (MAX_RAM >> 30))
static uint64_t pt_pool[PT_POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned pt_pool_used;

static uint64_t *pool_page(void)
{
    if (pt_pool_used == PT_POOL_PAGES) panic("out of boot page-table pages");
    return pt_pool[pt_pool_used++];
}

uint64_t virt_to_phys(const void *va)
{
    uint64_t a = (uint64_t)va;
    return a >= KERNEL_VMA ? a - KERNEL_VMA : a - DIRECT_MAP_BASE;
}

/* Maps [pa, end) rounded to 2 MiB at DIRECT_MAP_BASE + pa. The tables come from the image's pool,
 * which the boot tables reach at its kernel-image address. */
static void direct_map(uint64_t *pml4, uint64_t pa, uint64_t end, uint64_t flags)
{
    for (pa &= ~(LARGE - 1); pa < end && pa < MAX_RAM; pa += LARGE) {
        uint64_t va = DIRECT_MAP_BASE + pa;
        uint64_t *e4 = &pml4[va >> 39 & 511];
        if (!*e4) *e4 = virt_to_phys(pool_page()) | PTE_P | PTE_W;
        uint64_t *pdpt = (uint64_t *)(KERNEL_VMA + (*e4 & PTE_ADDR));
        uint64_t *e3 = &pdpt[va >> 30 & 511];
        if (!*e3) *e3 = virt_to_phys(pool_page()) | PTE_P | PTE_W;
        uint64_t *pd = (uint64_t *)(KERNEL_VMA + (*e3 & PTE_ADDR));
        pd[va >> 21 & 511] = pa | PTE_P | PTE_W | PTE_PS | flags;
    }
}

static void kernel_tables_init(void)
{
    uint64_t *pml4 = pool_page();
    for (unsigned i = 0; i < nmem_ranges; i++)
        direct_map(pml4, mem_ranges[i].base, mem_ranges[i].base + mem_ranges[i].len, 0);
    direct_map(pml4, 0, LARGE, 0);                                     /* BIOS areas */
    direct_map(pml4, 0xFE000000UL, 1UL << 32, PTE_PCD | PTE_PWT);    /* MMIO hole, uncacheable */
    /* The image at KERNEL_VMA + its physical address. */
    uint64_t *pdpt = pool_page(), *pd = pool_page();
    pml4[511] = virt_to_phys(pdpt) | PTE_P | PTE_W;
    pdpt[510] = virt_to_phys(pd) | PTE_P | PTE_W;
    uint64_t end = virt_to_phys(__bss_end);
    for (uint64_t pa = 0; pa < end; pa += LARGE) pd[pa >> 21] = pa | PTE_P | PTE_W | PTE_PS;
    kernel_pml4_phys = virt_to_phys(pml4);
    write_cr3(kernel_pml4_phys);
}

/* ---- frames ---- */

static inline uint64_t pfn_pa(uint64_t pfn) { return pfn << 12; }

/* Whole pages 8 bytes a store: an eighth of the iterations of memset's REP STOSB, and a VMM that
 * counts string iterations as instructions counts those. */
static void zero_pages(void *va, uint64_t pages)
{
    uint64_t n = pages * PAGE_SIZE / 8;
    __asm__ volatile("rep stosq" : "+D"(va), "+c"(n) : "a"(0UL) : "memory");
}
static inline void *pfn_va(uint64_t pfn) { return phys_to_virt(pfn << 12); }

static void list_push(struct list *l, uint32_t pfn)
{
    frames[pfn].next = NIL;
    frames[pfn].prev = l->tail;
    if (l->tail != NIL) frames[l->tail].next = pfn;
    else l->head = pfn;
    l->tail = pfn;
    l->count++;
}

static void list_remove(struct list *l, uint32_t pfn)
{
    struct pframe *f = &frames[pfn];
    if (f->prev != NIL) frames[f->prev].next = f->next;
    else l->head = f->next;
    if (f->next != NIL) frames[f->next].prev = f->prev;
    else l->tail = f->prev;
    l->count--;
}

static uint32_t list_pop(struct list *l)
{
    uint32_t pfn = l->head;
    if (pfn != NIL) list_remove(l, pfn);
    return pfn;
}

static bool usable_page(uint64_t pa)
{
    if (pa < (1UL << 20) || pa + PAGE_SIZE > MAX_RAM) return false;
    if (pa + PAGE_SIZE > virt_to_phys(__image_start) && pa < virt_to_phys(__bss_end)) return false;
    for (unsigned i = 0; i < nreserved; i++)
        if (pa + PAGE_SIZE > reserved_base[i] && pa < reserved_end[i]) return false;
    for (unsigned i = 0; i < nmem_ranges; i++) {
        const struct mem_range *r = &mem_ranges[i];
        if (r->type == 1 && pa >= r->base && pa + PAGE_SIZE <= r->base + r->len) {
            /* A page also listed as reserved by an overlapping entry is not usable. */
            for (unsigned j = 0; j < nmem_ranges; j++) {
                const struct mem_range *o = &mem_ranges[j];
                if (o->type != 1 && pa + PAGE_SIZE > o->base && pa < o->base + o->len) return false;
            }
            return true;
        }
    }
    return false;
}

static void frames_init(void)
{
    for (unsigned i = 0; i < nmem_ranges; i++) {
        const struct mem_range *r = &mem_ranges[i];
        if (r->type != 1) continue;
        ram_bytes += r->len;
        uint64_t end = r->base + r->len < MAX_RAM ? r->base + r->len : MAX_RAM;
        if (end >> 12 > max_pfn) max_pfn = end >> 12;
    }
    if (ram_bytes > MAX_RAM) kprintf("lwk: only the first %lu GiB of RAM are used\n", MAX_RAM >> 30);
    /* The frame table goes in the first run of usable pages long enough for it. */
    uint64_t need = (max_pfn * sizeof(struct pframe) + PAGE_SIZE - 1) / PAGE_SIZE, run = 0, start = 0;
    for (uint64_t pfn = 0; pfn < max_pfn && run < need; pfn++) {
        if (usable_page(pfn_pa(pfn))) {
            if (!run) start = pfn;
            run++;
        } else {
            run = 0;
        }
    }
    if (run < need) panic("no room for the frame table (%lu pages)", need);
    frames = pfn_va(start);
    free_list = cache_list = (struct list){ NIL, NIL, 0 };
    for (uint64_t pfn = 0; pfn < max_pfn; pfn++) {
        frames[pfn] = (struct pframe){ NIL, NIL, F_NONE, 0, NULL, 0 };
        if (pfn >= start && pfn < start + need) frames[pfn].state = F_KERNEL;
        else if (usable_page(pfn_pa(pfn))) {
            frames[pfn].state = F_FREE;
            list_push(&free_list, (uint32_t)pfn);
        }
    }
}

void mm_init(void)
{
    kernel_tables_init();
    frames_init();
    /* The pool is sized for MAX_RAM: the pages the direct map did not take are RAM like any other. */
    for (unsigned i = pt_pool_used; i < PT_POOL_PAGES; i++) {
        uint64_t pfn = virt_to_phys(pt_pool[i]) >> 12;
        frames[pfn].state = F_FREE;
        list_push(&free_list, (uint32_t)pfn);
    }
}

uint64_t kalloc_free_pages(void)
{
    spin_lock(&mm_lock);
    uint64_t n = free_list.count;
    spin_unlock(&mm_lock);
    return n;
}

static void tlb_shootdown(uint64_t cpu_mask)
{
    struct cpu *self = cpu_self();
    for (unsigned c = 0; c < ncpus; c++) {
        if (!(cpu_mask >> c & 1)) continue;
        if (c == self->id) {
            write_cr3(read_cr3());
            continue;
        }
        uint64_t req = __atomic_add_fetch(&cpus[c].tlb_req, 1, __ATOMIC_SEQ_CST);
        lapic_send_ipi(cpus[c].apic_id, VEC_TLB);
        uint64_t deadline = clock_ns() + 1000000000;
        while (__atomic_load_n(&cpus[c].tlb_done, __ATOMIC_ACQUIRE) < req) {
            if (clock_ns() > deadline) panic("cpu %u did not answer a TLB shootdown within 1 s", c);
            cpu_relax();
        }
    }
}

void tlb_ipi(void)
{
    struct cpu *c = cpu_self();
    uint64_t req = __atomic_load_n(&c->tlb_req, __ATOMIC_ACQUIRE);
    write_cr3(read_cr3());
    __atomic_store_n(&c->tlb_done, req, __ATOMIC_RELEASE);
}

/* ---- swap slots ---- */

static uint64_t slot_alloc(void)
{
    for (uint64_t i = 0; i < nslots; i++) {
        uint64_t s = slot_cursor;
        slot_cursor = slot_cursor + 1 == nslots ? 1 : slot_cursor + 1;
        if (!(slot_bitmap[s / 64] >> (s % 64) & 1)) {
            slot_bitmap[s / 64] |= 1UL << (s % 64);
            slots_used++;
            return s;
        }
    }
    return 0;
}

static void slot_free(uint64_t s)
{
    slot_bitmap[s / 64] &= ~(1UL << (s % 64));
    slots_used--;
}

/* The PTE of a user page, or NULL when a table on the way is missing. */
uint64_t *pte_find(uint64_t pml4_phys, uint64_t va)
{
    uint64_t *t = phys_to_virt(pml4_phys);
    for (int shift = 39; shift > 12; shift -= 9) {
        uint64_t e = t[va >> shift & 511];
        if (!(e & PTE_P)) return NULL;
        t = phys_to_virt(e & PTE_ADDR);
    }
    return &t[va >> 12 & 511];
}

/*
 * Second chance over the user frames: a frame whose PTE was accessed since the last pass loses its
 * accessed bit (no flush: a stale TLB entry only delays the next access bit, SDM vol. 3A 4.10.4.3);
 * otherwise its PTE becomes a swap entry. All PTEs of a batch are replaced, the CPUs that may
 * cache them flushed, and only then are the pages written (if dirty or never written), so no
 * write can slip in after the copy. Evicted frames join the swap cache. Returns the count.
 */
static unsigned evict_batch(void)
{
    struct { uint32_t pfn; bool write; } victims[EVICT_BATCH];
    unsigned n = 0;
    uint64_t cpu_mask = 0;
    for (uint64_t scanned = 0; scanned < 2 * max_pfn && n < EVICT_BATCH; scanned++) {
        uint32_t pfn = (uint32_t)clock_hand;
        clock_hand = clock_hand + 1 == max_pfn ? 0 : clock_hand + 1;
        struct pframe *f = &frames[pfn];
        if (f->state != F_USER) continue;
        uint64_t *pte = pte_find(f->owner->pml4_phys, f->va);
        if (!pte || (*pte & PTE_ADDR) != pfn_pa(pfn)) panic("frame table out of step with the page tables at pfn 0x%x", pfn);
        if (*pte & PTE_A) {
            __atomic_and_fetch(pte, ~PTE_A, __ATOMIC_SEQ_CST);
            continue;
        }
        bool fresh = false;
        if (!f->slot) {
            uint64_t s = slot_alloc();
            if (!s) break;   /* swap full */
            f->slot = (uint32_t)s;
            fresh = true;
        }
        uint64_t old = __atomic_exchange_n(pte, LWK_SWP_ENTRY(SWAP_TYPE, f->slot), __ATOMIC_SEQ_CST);
        victims[n].pfn = pfn;
        victims[n].write = fresh || (old & PTE_D);
        n++;
        cpu_mask |= 1UL << f->owner->cpu;
        f->state = F_EVICTING;
        slot_frame[f->slot] = pfn;   /* already: mm_slot_resident must see the page until written */
    }
    if (n) tlb_shootdown(cpu_mask);
    for (unsigned i = 0, j; i < n; i = j) {
        j = i + 1;
        if (!victims[i].write) continue;
        uint32_t first = frames[victims[i].pfn].slot;
        memcpy(swap_staging, pfn_va(victims[i].pfn), PAGE_SIZE);
        for (; j < n && victims[j].write && frames[victims[j].pfn].slot == first + (j - i); j++)
            memcpy(swap_staging + (j - i) * PAGE_SIZE, pfn_va(victims[j].pfn), PAGE_SIZE);
        int r = blk_write((uint64_t)first * 8, swap_staging, (j - i) * 8);
        if (r) panic("swap: writing %u pages from slot %u failed (error %d)", j - i, first, r);
        n_swap_outs += j - i;
        symspy_swap_counts(n_swap_outs, n_swap_ins);
    }
    for (unsigned i = 0; i < n; i++) {
        uint32_t pfn = victims[i].pfn;
        struct pframe *f = &frames[pfn];
        f->state = F_CACHED;
        f->owner = NULL;
        list_push(&cache_list, pfn);
    }
    return n;
}

/* A free frame (not zeroed), reclaiming from the swap cache or by eviction; NIL when none. */
static uint32_t frame_alloc(uint32_t state)
{
    for (;;) {
        uint32_t pfn = list_pop(&free_list);
        if (pfn == NIL) {
            pfn = list_pop(&cache_list);
            if (pfn != NIL) slot_frame[frames[pfn].slot] = NIL;
        }
        if (pfn != NIL) {
            frames[pfn] = (struct pframe){ NIL, NIL, state, 0, NULL, 0 };
            return pfn;
        }
        if (!swap_on || !evict_batch()) return NIL;
    }
}

static void frame_free(uint32_t pfn)
{
    frames[pfn].state = F_FREE;
    frames[pfn].owner = NULL;
    frames[pfn].slot = 0;
    list_push(&free_list, pfn);
}

void *kalloc_pages(size_t pages)
{
    if (pages == 0) return NULL;
    spin_lock(&mm_lock);
    uint64_t run = 0;
    for (uint64_t pfn = 0; pfn < max_pfn; pfn++) {
        run = frames[pfn].state == F_FREE ? run + 1 : 0;
        if (run == pages) {
            uint64_t start = pfn + 1 - pages;
            for (uint64_t p = start; p <= pfn; p++) {
                list_remove(&free_list, (uint32_t)p);
                frames[p].state = F_KERNEL;
            }
            spin_unlock(&mm_lock);
            zero_pages(pfn_va(start), pages);
            return pfn_va(start);
        }
    }
    spin_unlock(&mm_lock);
    return NULL;
}

/* ---- user address spaces ---- */

uint64_t *pml4_create(void)
{
    spin_lock(&mm_lock);
    uint32_t pfn = frame_alloc(F_PT);
    spin_unlock(&mm_lock);
    if (pfn == NIL) return NULL;
    uint64_t *pml4 = pfn_va(pfn);
    const uint64_t *k = phys_to_virt(kernel_pml4_phys);
    memset(pml4, 0, PAGE_SIZE / 2);
    memcpy(pml4 + 256, k + 256, PAGE_SIZE / 2);   /* the shared kernel half */
    return pml4;
}

/* The PTE for va, creating the tables on the way; NULL when out of memory. */
static uint64_t *pte_walk(struct proc *p, uint64_t va)
{
    uint64_t *t = phys_to_virt(p->pml4_phys);
    for (int shift = 39; shift > 12; shift -= 9) {
        uint64_t *e = &t[va >> shift & 511];
        if (!(*e & PTE_P)) {
            uint32_t pfn = frame_alloc(F_PT);
            if (pfn == NIL) return NULL;
            zero_pages(pfn_va(pfn), 1);
            *e = pfn_pa(pfn) | PTE_P | PTE_W | PTE_U;
        }
        t = phys_to_virt(*e & PTE_ADDR);
    }
    return &t[va >> 12 & 511];
}

static bool in_region(const struct region *r, uint64_t va) { return va >= r->start && va < r->end; }

bool user_address_valid(struct proc *p, uint64_t va)
{
    if (in_region(&p->image, va) || in_region(&p->stack, va)) return true;
    for (unsigned i = 0; i < p->nmmaps; i++)
        if (in_region(&p->mmaps[i], va)) return true;
    return false;
}

/* Makes the page at va present (mm_lock held). */
static enum fault_result fault_locked(struct proc *p, uint64_t va)
{
    va &= ~(PAGE_SIZE - 1);
    if (va >= USER_TOP || !user_address_valid(p, va)) return FAULT_BAD;
    uint64_t *pte = pte_walk(p, va);
    if (!pte) return FAULT_OOM;
    if (*pte & PTE_P) return FAULT_OK;   /* already mapped (a stale TLB entry was flushed by the fault) */
    uint64_t slot = 0;
    uint32_t pfn;
    if (*pte) {
        slot = LWK_SWP_SLOT(*pte);
        pfn = slot_frame[slot];
        if (pfn != NIL) {
            list_remove(&cache_list, pfn);
            slot_frame[slot] = NIL;
            n_cache_hits++;
        } else {
            pfn = frame_alloc(F_USER);
            if (pfn == NIL) return FAULT_OOM;
            int r = blk_read(slot * 8, pfn_va(pfn), 8);
            if (r) panic("swap: reading slot %lu failed (error %d)", slot, r);
            n_swap_ins++;
            symspy_swap_counts(n_swap_outs, n_swap_ins);
        }
    } else {
        pfn = frame_alloc(F_USER);
        if (pfn == NIL) return FAULT_OOM;
        uint8_t *page = pfn_va(pfn);
        zero_pages(page, 1);
        if (in_region(&p->image, va)) {
            /* The image's bytes in this page, from the program embedded in the kernel. */
            uint64_t image_end = p->hdr->image_end;
            if (va < image_end) {
                uint64_t n = image_end - va < PAGE_SIZE ? image_end - va : PAGE_SIZE;
                memcpy(page, p->prog->image + (va - LWK_USER_BASE), n);
            }
        }
    }
    frames[pfn] = (struct pframe){ NIL, NIL, F_USER, (uint32_t)slot, p, va };
    /* A page read back from swap stays clean (D clear) so that evicting it unchanged needs no
     * write; its slot stays allocated to it. */
    *pte = pfn_pa(pfn) | PTE_P | PTE_W | PTE_U | PTE_A | (slot ? 0 : PTE_D);
    n_page_faults++;
    return FAULT_OK;
}

enum fault_result mm_fault(struct proc *p, uint64_t addr)
{
    spin_lock(&mm_lock);
    enum fault_result r = fault_locked(p, addr);
    spin_unlock(&mm_lock);
    return r;
}

/* Copies between a kernel buffer and user memory page by page, faulting pages in; returns 0,
 * -LWK_EFAULT or -LWK_ENOMEM. */
static int copy_user(struct proc *p, uint64_t uva, void *kbuf, uint64_t n, bool to_user)
{
    if (uva + n < uva || uva + n > USER_TOP) return -LWK_EFAULT;
    uint8_t *k = kbuf;
    spin_lock(&mm_lock);
    while (n) {
        uint64_t chunk = PAGE_SIZE - (uva & (PAGE_SIZE - 1));
        if (chunk > n) chunk = n;
        enum fault_result r = fault_locked(p, uva);
        if (r != FAULT_OK) {
            spin_unlock(&mm_lock);
            return r == FAULT_BAD ? -LWK_EFAULT : -LWK_ENOMEM;
        }
        uint64_t *pte = pte_find(p->pml4_phys, uva);
        uint8_t *page = phys_to_virt((*pte & PTE_ADDR) + (uva & (PAGE_SIZE - 1)));
        if (to_user) {
            memcpy(page, k, chunk);
            __atomic_or_fetch(pte, PTE_A | PTE_D, __ATOMIC_SEQ_CST);
        } else {
            memcpy(k, page, chunk);
        }
        uva += chunk;
        k += chunk;
        n -= chunk;
    }
    spin_unlock(&mm_lock);
    return 0;
}

int copy_from_user(struct proc *p, void *dst, uint64_t src, uint64_t n) { return copy_user(p, src, dst, n, false); }
int copy_to_user(struct proc *p, uint64_t dst, const void *src, uint64_t n) { return copy_user(p, dst, (void *)src, n, true); }

long mm_mmap(struct proc *p, uint64_t len)
{
    if (len == 0 || len > (1UL << 40)) return -LWK_EINVAL;
    uint64_t size = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1), pages = size / PAGE_SIZE;
    spin_lock(&mm_lock);
    uint64_t room = free_list.count + cache_list.count + (swap_on ? nslots - 1 - slots_used : 0);
    if (p->nmmaps == MAX_MMAP_REGIONS || pages > room || p->mmap_next + size >= LWK_USER_STACK_TOP - LWK_USER_STACK_MAX) {
        spin_unlock(&mm_lock);
        return -LWK_ENOMEM;
    }
    uint64_t start = p->mmap_next;
    p->mmaps[p->nmmaps++] = (struct region){ start, start + size };
    p->mmap_next = start + size + PAGE_SIZE;   /* an unmapped guard page between regions */
    spin_unlock(&mm_lock);
    return (long)start;
}

/* Frees a process's user memory, swap slots and page tables; the caller no longer runs on them. */
void mm_release(struct proc *p)
{
    spin_lock(&mm_lock);
    uint64_t *pml4 = phys_to_virt(p->pml4_phys);
    for (unsigned i4 = 0; i4 < 256; i4++) {
        if (!(pml4[i4] & PTE_P)) continue;
        uint64_t *pdpt = phys_to_virt(pml4[i4] & PTE_ADDR);
        for (unsigned i3 = 0; i3 < 512; i3++) {
            if (!(pdpt[i3] & PTE_P)) continue;
            uint64_t *pd = phys_to_virt(pdpt[i3] & PTE_ADDR);
            for (unsigned i2 = 0; i2 < 512; i2++) {
                if (!(pd[i2] & PTE_P)) continue;
                uint64_t *pt = phys_to_virt(pd[i2] & PTE_ADDR);
                for (unsigned i1 = 0; i1 < 512; i1++) {
                    uint64_t e = pt[i1];
                    if (e & PTE_P) {
                        uint32_t pfn = (uint32_t)((e & PTE_ADDR) >> 12);
                        if (frames[pfn].slot) slot_free(frames[pfn].slot);
                        frame_free(pfn);
                    } else if (e) {
                        uint64_t slot = LWK_SWP_SLOT(e);
                        uint32_t pfn = slot_frame[slot];
                        if (pfn != NIL) {
                            list_remove(&cache_list, pfn);
                            slot_frame[slot] = NIL;
                            frame_free(pfn);
                        }
                        slot_free(slot);
                    }
                }
                frame_free((uint32_t)((pd[i2] & PTE_ADDR) >> 12));
            }
            frame_free((uint32_t)((pdpt[i3] & PTE_ADDR) >> 12));
        }
        frame_free((uint32_t)((pml4[i4] & PTE_ADDR) >> 12));
    }
    frame_free((uint32_t)(p->pml4_phys >> 12));
    spin_unlock(&mm_lock);
}

void mm_info(struct lwk_info *info)
{
    spin_lock(&mm_lock);
    info->page_size = PAGE_SIZE;
    info->ram_bytes = ram_bytes;
    info->free_frames = free_list.count + cache_list.count;
    info->swap_pages = swap_on ? nslots - 1 : 0;
    info->swap_outs = n_swap_outs;
    info->swap_ins = n_swap_ins;
    info->swap_cache_hits = n_cache_hits;
    info->page_faults = n_page_faults;
    spin_unlock(&mm_lock);
}

/* Whether a swap slot's page is in guest memory: in the swap cache, or still being written out
 * (the disk does not hold it yet). For SymCall: no lock, reads checked against the tables' bounds. */
bool mm_slot_resident(uint64_t slot)
{
    if (!swap_on || slot == 0 || slot >= nslots) return false;
    uint32_t pfn = __atomic_load_n(&slot_frame[slot], __ATOMIC_RELAXED);
    if (pfn >= max_pfn) return false;   /* NIL */
    const struct pframe *f = &frames[pfn];
    return f->slot == slot && (f->state == F_CACHED || f->state == F_EVICTING);
}

/* ---- swap area ---- */

/* Slot 0: a Linux swap header (union swap_header: bootbits[1024], then version 1, last_page,
 * nr_badpages 0; "SWAPSPACE2" at 4086), so the area reads as a Linux swap partition. */
void swap_init(void)
{
    uint64_t sectors = blk_sectors();
    if (config.swap == 1 && sectors < 16) {
        kprintf("lwk: bad kernel option swap=on: expected a virtio-blk disk of at least 8 KiB to swap to\n");
        debug_exit(2);
    }
    if (config.swap == 0 || sectors < 16) {
        chatter("lwk: swap off%s\n", config.swap == 0 ? "" : " (no disk)");
        return;
    }
    uint64_t n = sectors / 8;
    if (n > 0xFFFFFFFFu) n = 0xFFFFFFFFu;
    /* The bitmap and the cache index are kernel memory: at most a quarter of the free frames. */
    while (n > 2 && (n / 8 + n * 4) / PAGE_SIZE > free_list.count / 4) n /= 2;
    slot_bitmap = kalloc_pages((n / 64 + 1) * 8 / PAGE_SIZE + 1);
    slot_frame = kalloc_pages((n * 4) / PAGE_SIZE + 1);
    uint32_t *header = kalloc_pages(1);
    swap_staging = kalloc_pages(EVICT_BATCH);
    if (!slot_bitmap || !slot_frame || !header || !swap_staging) panic("no memory for the swap tables");
    for (uint64_t i = 0; i < n; i++) slot_frame[i] = NIL;
    slot_bitmap[0] = 1;   /* slot 0: the header */
    header[1024 / 4] = 1;
    header[1024 / 4 + 1] = (uint32_t)(n - 1);
    memcpy((char *)header + 4086, "SWAPSPACE2", 10);
    int r = blk_write(0, header, 8);
    if (r) panic("swap: writing the swap header failed (error %d)", r);
    nslots = n;
    slot_cursor = 1;
    swap_on = true;
    chatter("lwk: swap on disk, %lu pages\n", n - 1);
}
