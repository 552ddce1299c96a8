package org.symbiont.x86.mmu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.symbiont.x86.Cpu;

/**
 * The VMM side of shadow paging for one vCPU: the shadow tables (guest-linear to physical
 * mappings with the guest's rights, one per page of the guest mapping: 4 KiB, 2 MiB, 4 MiB or
 * 1 GiB), filled on {@link org.symbiont.x86.Exit.ShadowFault} from a walk of the guest tables.
 * Attach it with {@code cpu.mmu.attach(pager)} after {@code cpu.mmu.configure(PagingMode.SHADOW, ...)}.
 *
 * <p>Guest A/D bits stay exact: a fill sets A in every guest entry walked, and D in the last one
 * for a write; an entry whose guest D bit is clear only serves reads and fetches, so the first
 * write misses and sets D (SDM Vol. 3A, 4.8).
 *
 * <p>{@link ShadowStrategy#VTLB}: one table, emptied at every CR3 write. {@link ShadowStrategy#CACHED}:
 * one table per guest CR3, kept across switches; every guest page-table page walked for an entry
 * is write-protected (it never gets a writable TLB entry), and a guest write to it exits
 * ({@link org.symbiont.x86.Exit.ShadowPageTableWrite}) so that the entries it backs are dropped
 * before the write is done. A protected page with no entries left is unprotected at the next CR3
 * write. The protection is VM-wide ({@link PageTableWatch}): a write on another vCPU exits there,
 * and this pager drops the entries the page backs at its own next paging exit.
 *
 * <p>Used by its vCPU's thread only, apart from the notices of other vCPUs' writes.
 */
public final class ShadowPager {
    /**
     * One shadow entry: the guest mapping holding {@code linearBase} ({@code mask} selects its
     * base), its physical base, the guest's combined rights, its guest D bit, and the guest
     * page-table pages (guest-physical page numbers) walked to find it.
     */
    record Entry(long linearBase, long mask, long physical, boolean writable, boolean user, boolean noExecute,
                 boolean global, boolean dirty, long[] backing) {}

    /** A shadow table: entries keyed by linear base with the mapping size in the low bits. */
    private static final class Table {
        final Map<Long, Entry> entries = new HashMap<>();
    }

    /** An entry backed by a write-protected page. */
    private record Ref(Table table, long key) {}

    /**
     * CACHED: tables kept at most; switching to one more drops them all (processes come and go,
     * and a table outliving its address space would only hold stale entries and protections).
     */
    static final int MAX_TABLES = 64;

    /** Masks of the mapping sizes, smallest first; the index is the key's size code. */
    private static final long[] MASKS = {~0xFFFL, ~0x1F_FFFFL, ~0x3F_FFFFL, ~0x3FFF_FFFFL};

    /** Notices of other vCPUs' page-table writes kept at most before this pager drops everything instead. */
    static final int MAX_REMOTE_WRITES = 4096;

    private final Cpu cpu;
    private final Mmu mmu;
    private final ShadowStrategy strategy;
    private final Map<Long, Table> tables = new HashMap<>();
    private Table current = new Table();
    /** CACHED: guest page-table pages and the entries each one backs. */
    private final Map<Long, List<Ref>> backedBy = new HashMap<>();
    /** CACHED: guest-physical page numbers this pager write-protects (in {@link #watch}). */
    private final Set<Long> protectedPages = new HashSet<>();
    /** CACHED: the VM's protection of guest page tables; null for VTLB. */
    private final PageTableWatch watch;
    /** CACHED: guest page-table pages other vCPUs wrote, not yet dropped here. */
    private final ConcurrentLinkedQueue<Long> remoteWrites = new ConcurrentLinkedQueue<>();
    private final AtomicInteger remotePending = new AtomicInteger();
    private volatile boolean remoteOverflow;
    /** SwapBypass: the keys in {@link #current} of the entries mapping each physical page (by page number). */
    private final Map<Long, List<Long>> bypassed = new HashMap<>();
    private long bypassFlushed;

    public ShadowPager(Cpu cpu, ShadowStrategy strategy) {
        this.cpu = cpu;
        this.mmu = cpu.mmu;
        this.strategy = strategy;
        if (strategy == ShadowStrategy.CACHED) {
            tables.put(contextKey(cpu.cr3), current);
            watch = PageTableWatch.of(cpu.memory);
            watch.register(this);
        } else {
            watch = null;
        }
    }

    Cpu cpu() {
        return cpu;
    }

    public ShadowStrategy strategy() {
        return strategy;
    }

    /**
     * Answers {@link org.symbiont.x86.Exit.ShadowFault}: walks the guest tables (the walk's
     * references count in the vCPU's stats and are charged as walk references) and installs the
     * shadow entry, or arranges for the guest's own #PF (exact error code and CR2) to be raised
     * when the access is retried. Returns the guest's non-present 4 KiB page-table entry when the
     * guest faults on one (nonzero: a swap entry the VMM may {@link #bypass}), else 0.
     */
    public long handleFault(long linear, int access, boolean user) {
        mmu.shadowFaults++;
        dropRemotelyWritten();
        Entry e = mmu.walkForShadow(linear, access, user);
        if (e == null) return mmu.walkMissingPte;
        long key = key(e.linearBase(), e.mask());
        current.entries.put(key, e);
        mmu.shadowFills++;
        if (strategy == ShadowStrategy.CACHED) {
            for (long page : e.backing()) {
                backedBy.computeIfAbsent(page, p -> new ArrayList<>()).add(new Ref(current, key));
                if (protectedPages.add(page)) watch.protect(page);
            }
        }
        return 0;
    }

    /**
     * SwapBypass (Palacios 6.11): instead of the guest's #PF that {@link #handleFault} arranged,
     * maps the 4 KiB page holding {@code linear} straight to {@code physical} (the VMM's copy of a
     * swapped page, in VMM-private memory) with the rights the guest's region grants. The entry
     * lives until its physical page is {@linkplain #invalidate invalidated} or the next CR3 write.
     */
    public void bypass(long linear, long physical, boolean writable, boolean user) {
        long base = linear & MASKS[0];
        Entry e = new Entry(base, MASKS[0], physical, writable, user, false, false, true, new long[0]);
        long key = key(base, MASKS[0]);
        current.entries.put(key, e);
        bypassed.computeIfAbsent(physical >>> 12, k -> new ArrayList<>()).add(key);
        mmu.cancelInjection();
        mmu.shadowFills++;
    }

    /** Drops the bypass entries mapping physical page {@code page} (a page number) and their TLB entries; returns how many. */
    public int invalidate(long page) {
        List<Long> keys = bypassed.remove(page);
        if (keys == null) return 0;
        for (long key : keys) {
            Entry e = current.entries.remove(key);
            if (e != null) mmu.flushPage(e.linearBase());
        }
        return keys.size();
    }

    /** Drops every bypass entry (Palacios' v3_swap_flush at a CR3 write); returns how many. */
    private int flushBypassed() {
        int n = 0;
        for (List<Long> keys : bypassed.values()) {
            for (long key : keys) current.entries.remove(key);
            n += keys.size();
        }
        bypassed.clear();
        return n;
    }

    /** Bypass entries dropped by CR3 writes so far. */
    public long bypassFlushed() {
        return bypassFlushed;
    }

    /** Answers {@link org.symbiont.x86.Exit.ShadowCr3Write}: VTLB drops every entry; CACHED switches tables. */
    public void cr3Written(long cr3) {
        bypassFlushed += flushBypassed();
        if (strategy == ShadowStrategy.VTLB) {
            current.entries.clear();
            return;
        }
        // PAE paging reads its PDPTEs from registers loaded at this very write: the table for
        // this CR3 cannot be trusted across it (SDM Vol. 3A, 4.4.1).
        dropRemotelyWritten();
        boolean pae = (cpu.efer & org.symbiont.x86.Arch.EFER_LMA) == 0 && (cpu.cr4 & org.symbiont.x86.Arch.CR4_PAE) != 0;
        long key = contextKey(cr3);
        if (pae) tables.remove(key);
        if (!tables.containsKey(key) && tables.size() >= MAX_TABLES) {
            dropAll();
            tables.clear();
        }
        current = tables.computeIfAbsent(key, k -> new Table());
        protectedPages.removeIf(page -> {
            if (backedBy.containsKey(page)) return false;
            watch.unprotect(page);
            return true;
        });
    }

    /** Answers {@link org.symbiont.x86.Exit.ShadowInvlpg}: drops the entries of the mappings holding {@code linear}. */
    public void invlpg(long linear) {
        if (watch != null) dropRemotelyWritten();
        for (int code = 0; code < MASKS.length; code++) current.entries.remove(key(linear & MASKS[code], MASKS[code]));
    }

    /**
     * Answers {@link org.symbiont.x86.Exit.ShadowPageTableWrite}: drops every entry (in every
     * table) that the written guest page-table page backs, and their TLB entries. The page stays
     * protected while the guest's write completes.
     */
    public void pageTableWritten(long guestPhysical, int size) {
        mmu.pageTableWrites++;
        dropRemotelyWritten();
        long first = guestPhysical >>> 12, last = (guestPhysical + size - 1) >>> 12;
        for (long page = first; page <= last; page++) {
            dropBackedBy(page);
            watch.written(this, page);
        }
    }

    /** Drops the entries (in every table) that guest page-table page {@code page} backs, and their TLB entries. */
    private void dropBackedBy(long page) {
        List<Ref> refs = backedBy.remove(page);
        if (refs == null) return;
        for (Ref r : refs) {
            Entry e = r.table().entries.remove(r.key());
            if (e != null && r.table() == current) mmu.flushPage(e.linearBase());
        }
    }

    /** Another vCPU wrote guest page-table page {@code page}: called on that vCPU's thread. */
    void remoteWrite(long page) {
        if (remotePending.incrementAndGet() > MAX_REMOTE_WRITES) {
            remoteOverflow = true;
        } else {
            remoteWrites.add(page);
        }
    }

    /** Drops what the pages other vCPUs wrote back; everything when there were too many of them. */
    private void dropRemotelyWritten() {
        if (remoteOverflow) {
            dropAll();
            mmu.flushNonGlobal();
            return;
        }
        for (Long page; (page = remoteWrites.poll()) != null; ) {
            remotePending.decrementAndGet();
            dropBackedBy(page);
        }
    }

    /** Whether guest writes to the page holding {@code guestPhysical} exit (on any vCPU of the VM). */
    boolean protects(long guestPhysical) {
        return watch != null && watch.protects(guestPhysical >>> 12);
    }

    /** The entry whose mapping holds {@code linear} in the current table, or null. */
    Entry lookup(long linear) {
        Map<Long, Entry> entries = current.entries;
        if (entries.isEmpty()) return null;
        for (int code = 0; code < MASKS.length; code++) {
            Entry e = entries.get(key(linear & MASKS[code], MASKS[code]));
            if (e != null) return e;
        }
        return null;
    }

    /** Drops every table (the guest changed its paging mode, CR0.WP, EFER.NXE or flushed global pages). */
    void dropAll() {
        for (Table t : tables.values()) t.entries.clear();
        current.entries.clear();
        backedBy.clear();
        bypassed.clear();
        if (watch != null) {
            for (long page : protectedPages) watch.unprotect(page);
            remoteWrites.clear();
            remotePending.set(0);
            remoteOverflow = false;
        }
        protectedPages.clear();
    }

    private static long key(long base, long mask) {
        for (int code = 0; code < MASKS.length; code++) {
            if (MASKS[code] == mask) return base | code;
        }
        throw new IllegalArgumentException("mapping mask " + Long.toHexString(mask));
    }

    private static long contextKey(long cr3) {
        return cr3 & ~0xFFFL;
    }
}
