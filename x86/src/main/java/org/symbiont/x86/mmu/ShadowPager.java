package org.symbiont.x86.mmu;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

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
 * <p>Its state is captured in snapshots ({@link #saveState}, section {@link #sectionName}): which
 * entries the tables hold decides which accesses take shadow faults (exits, and the walk
 * references of the retried access), so a restored VM needs it to keep virtual time.
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

    // =====================================================================================
    // Snapshots. Body, little-endian:
    //   layout u32 (1), strategy u8 (ordinal)
    //   tables u32 (CACHED: 1..MAX_TABLES, by increasing unsigned context key; VTLB: 0),
    //     per table: context key u64, entries
    //   current table i32 (CACHED: index among the tables; VTLB: -1, then its entries)
    //   entries: count u32, per entry by increasing unsigned key: linear base u64, mask u64,
    //     physical u64, flags u8 (1 writable, 2 user, 4 no-execute, 8 global, 16 dirty),
    //     backing count u32, backing page numbers u64 each
    //   backed pages u32, per page by increasing number: page u64, refs u32, per ref (in the
    //     pager's order): table index i32 (-1: a table dropped since, whose entries no longer
    //     matter), entry key u64
    //   protected pages u32, page numbers u64 increasing
    //   bypassed pages u32, per physical page number by increasing number: page u64, keys u32, keys u64
    //   bypass entries flushed u64
    //   remote overflow u8, remote pending u32, remote writes u32, page numbers u64 (queue order)
    // =====================================================================================

    /** The section name vCPU {@code cpuId}'s shadow pager state conventionally goes under. */
    public static String sectionName(int cpuId) {
        return "paging.shadow." + cpuId;
    }

    private static final int LAYOUT = 1;
    private static final int WRITABLE = 1, USER = 2, NO_EXECUTE = 4, GLOBAL = 8, DIRTY = 16;
    /** Guest-physical page numbers lie below 2^52 bytes. */
    private static final long GUEST_PAGES = 1L << 40;
    /** The smallest encoded entry: base, mask, physical, flags, backing count. */
    private static final int MIN_ENTRY_BYTES = 8 + 8 + 8 + 1 + 4;

    /**
     * Everything that decides this pager's future shadow faults and exits, for {@link #restoreState}:
     * its tables (CACHED: one per guest CR3; VTLB: the one) and which is current, every entry,
     * which entries each write-protected guest page-table page backs (stale references
     * included: they still drop what a later fill put under the same key), the protected pages,
     * the SwapBypass entries and count, and the notices of other vCPUs' page-table writes not
     * yet acted on (those can be pending between rounds: another vCPU's write exit was answered
     * after this vCPU's last paging exit). Take it between runs, with no vCPU of the VM running;
     * identical states encode identically.
     */
    public byte[] saveState() {
        SectionWriter w = new SectionWriter(256);
        w.i32(LAYOUT).u8(strategy.ordinal());
        List<Long> contextKeys = sortedKeys(tables.keySet());
        Map<Table, Integer> index = new IdentityHashMap<>();
        w.i32(contextKeys.size());
        for (long key : contextKeys) {
            Table t = tables.get(key);
            index.put(t, index.size());
            w.i64(key);
            writeEntries(w, t);
        }
        Integer currentIndex = index.get(current);
        if (currentIndex == null) {
            w.i32(-1);
            writeEntries(w, current);
        } else {
            w.i32(currentIndex);
        }
        w.i32(backedBy.size());
        for (long page : sortedKeys(backedBy.keySet())) {
            List<Ref> refs = backedBy.get(page);
            w.i64(page).i32(refs.size());
            for (Ref r : refs) w.i32(index.getOrDefault(r.table(), -1)).i64(r.key());
        }
        w.i32(protectedPages.size());
        for (long page : sortedKeys(protectedPages)) w.i64(page);
        w.i32(bypassed.size());
        for (long page : sortedKeys(bypassed.keySet())) {
            List<Long> keys = bypassed.get(page);
            w.i64(page).i32(keys.size());
            for (long key : keys) w.i64(key);
        }
        w.i64(bypassFlushed);
        List<Long> remote = new ArrayList<>(remoteWrites);
        w.bool(remoteOverflow).i32(remotePending.get()).i32(remote.size());
        for (long page : remote) w.i64(page);
        return w.toByteArray();
    }

    private static List<Long> sortedKeys(Set<Long> keys) {
        List<Long> sorted = new ArrayList<>(keys);
        sorted.sort(Long::compareUnsigned);
        return sorted;
    }

    private static void writeEntries(SectionWriter w, Table t) {
        w.i32(t.entries.size());
        for (long key : sortedKeys(t.entries.keySet())) {
            Entry e = t.entries.get(key);
            int flags = (e.writable() ? WRITABLE : 0) | (e.user() ? USER : 0) | (e.noExecute() ? NO_EXECUTE : 0)
                    | (e.global() ? GLOBAL : 0) | (e.dirty() ? DIRTY : 0);
            w.i64(e.linearBase()).i64(e.mask()).i64(e.physical()).u8(flags).i32(e.backing().length);
            for (long page : e.backing()) w.i64(page);
        }
    }

    /**
     * Replaces this pager's state with what {@link #saveState} wrote. Restore in this order: the
     * memory, then each vCPU's MMU configured and this pager attached (as for a fresh VM, every
     * pager of the VM built, so that all are registered with the VM-wide watch), then every
     * vCPU's pager state, then every vCPU's {@link org.symbiont.x86.snapshot.CpuState} (which
     * restores the TLB, whose entries must agree with these tables). The VM-wide write
     * protection ({@link PageTableWatch}) counts the pagers protecting each page: this pager
     * withdraws the protections it held and adds the restored ones, so once every pager of the
     * VM is restored the watch holds what it held at the save.
     *
     * <p>The pager must have the saved strategy; every value is checked (masks among the 4
     * mapping sizes, bases and physical addresses aligned to them, keys unique and matching
     * their entries, page numbers in range, counts bounded by the bytes present, references to
     * existing tables, backed pages protected, nothing CACHED-only under VTLB). A violation is a
     * {@link SnapshotException} naming the field, and leaves the pager unchanged.
     */
    public void restoreState(byte[] body) throws SnapshotException {
        String section = "section '" + sectionName(cpu.id) + "'";
        SectionReader r = new SectionReader(section, body);
        int at = r.position();
        int layout = r.i32("layout");
        if (layout != LAYOUT) throw r.malformed(at, "layout", "is " + layout + ", not " + LAYOUT);
        at = r.position();
        int savedStrategy = r.u8("strategy");
        if (savedStrategy != strategy.ordinal()) {
            throw r.malformed(at, "strategy", "is " + (savedStrategy < ShadowStrategy.values().length
                    ? ShadowStrategy.values()[savedStrategy] : savedStrategy) + " but this pager is " + strategy);
        }
        boolean cached = strategy == ShadowStrategy.CACHED;
        int tableCount = r.i32In(cached ? 1 : 0, cached ? Math.min(MAX_TABLES, r.remaining() / 12) : 0, "table count");
        List<Table> list = new ArrayList<>(tableCount);
        Map<Long, Table> newTables = new HashMap<>();
        long previousKey = 0;
        for (int n = 0; n < tableCount; n++) {
            at = r.position();
            long key = r.i64("table context key");
            if ((key & 0xFFF) != 0 || (n > 0 && Long.compareUnsigned(key, previousKey) <= 0)) {
                throw r.malformed(at, "table context key", String.format("%#x is not page-aligned and above the previous key %#x", key, previousKey));
            }
            previousKey = key;
            Table t = readEntries(r);
            list.add(t);
            newTables.put(key, t);
        }
        at = r.position();
        int currentIndex = r.i32("current table");
        Table newCurrent;
        if (cached) {
            if (currentIndex < 0 || currentIndex >= tableCount) {
                throw r.malformed(at, "current table", "is " + currentIndex + ", not one of the " + tableCount + " tables");
            }
            newCurrent = list.get(currentIndex);
        } else {
            if (currentIndex != -1) throw r.malformed(at, "current table", "is " + currentIndex + ", not -1 (VTLB keeps one table)");
            newCurrent = readEntries(r);
        }
        Table dropped = new Table();
        Map<Long, List<Ref>> newBackedBy = new HashMap<>();
        int backedCount = r.i32In(0, cached ? r.remaining() / 12 : 0, "backed page count");
        long previous = -1;
        for (int n = 0; n < backedCount; n++) {
            long page = readPage(r, "backed page", previous);
            previous = page;
            int refCount = r.i32In(1, r.remaining() / 12, "backing reference count");
            List<Ref> refs = new ArrayList<>(refCount);
            for (int k = 0; k < refCount; k++) {
                at = r.position();
                int table = r.i32("backing reference table");
                if (table < -1 || table >= tableCount) {
                    throw r.malformed(at, "backing reference table", "is " + table + ", not -1 or one of the " + tableCount + " tables");
                }
                long key = readKey(r, "backing reference key");
                refs.add(new Ref(table < 0 ? dropped : list.get(table), key));
            }
            newBackedBy.put(page, refs);
        }
        Set<Long> newProtected = new HashSet<>();
        int protectedCount = r.i32In(0, cached ? r.remaining() / 8 : 0, "protected page count");
        previous = -1;
        for (int n = 0; n < protectedCount; n++) {
            long page = readPage(r, "protected page", previous);
            previous = page;
            newProtected.add(page);
        }
        for (long page : newBackedBy.keySet()) {
            if (!newProtected.contains(page)) {
                throw new SnapshotException(String.format("%s: backed page %#x is not among the protected pages", section, page));
            }
        }
        Map<Long, List<Long>> newBypassed = new HashMap<>();
        int bypassedCount = r.i32In(0, r.remaining() / 12, "bypassed page count");
        previous = -1;
        for (int n = 0; n < bypassedCount; n++) {
            at = r.position();
            long page = r.i64("bypassed page");
            if (page <= previous || page >= 1L << 52) {
                throw r.malformed(at, "bypassed page", String.format("%#x is not a physical page number above the previous one %#x", page, previous));
            }
            previous = page;
            int keyCount = r.i32In(1, r.remaining() / 8, "bypassed key count");
            List<Long> keys = new ArrayList<>(keyCount);
            for (int k = 0; k < keyCount; k++) keys.add(readKey(r, "bypassed key"));
            newBypassed.put(page, keys);
        }
        at = r.position();
        long newBypassFlushed = r.i64("bypass entries flushed");
        if (newBypassFlushed < 0) throw r.malformed(at, "bypass entries flushed", "is negative: " + newBypassFlushed);
        boolean overflow = r.bool("remote write overflow");
        if (overflow && !cached) throw r.malformed(r.position() - 1, "remote write overflow", "is set under VTLB");
        at = r.position();
        int pending = r.i32("remote writes pending");
        int remoteCount = r.i32In(0, cached ? Math.min(MAX_REMOTE_WRITES, r.remaining() / 8) : 0, "remote write count");
        if (pending < remoteCount || (!overflow && pending != remoteCount)) {
            throw r.malformed(at, "remote writes pending", "is " + pending + " with " + remoteCount + " notices queued"
                    + (overflow ? "" : " and no overflow"));
        }
        List<Long> newRemote = new ArrayList<>(remoteCount);
        for (int n = 0; n < remoteCount; n++) newRemote.add(readPage(r, "remote write page", -1));
        r.end();

        tables.clear();
        tables.putAll(newTables);
        current = newCurrent;
        backedBy.clear();
        backedBy.putAll(newBackedBy);
        if (watch != null) {
            for (long page : protectedPages) if (!newProtected.contains(page)) watch.unprotect(page);
            for (long page : sortedKeys(newProtected)) if (!protectedPages.contains(page)) watch.protect(page);
        }
        protectedPages.clear();
        protectedPages.addAll(newProtected);
        bypassed.clear();
        bypassed.putAll(newBypassed);
        bypassFlushed = newBypassFlushed;
        remoteWrites.clear();
        remoteWrites.addAll(newRemote);
        remotePending.set(pending);
        remoteOverflow = overflow;
    }

    /** A table's entries, each checked: mask one of the mapping sizes, base and physical aligned to it, keys unique. */
    private static Table readEntries(SectionReader r) throws SnapshotException {
        Table t = new Table();
        int count = r.i32In(0, r.remaining() / MIN_ENTRY_BYTES, "entry count");
        for (int n = 0; n < count; n++) {
            int baseAt = r.position();
            long base = r.i64("entry linear base");
            int maskAt = r.position();
            long mask = r.i64("entry mask");
            if (Arrays.stream(MASKS).noneMatch(m -> m == mask)) {
                throw r.malformed(maskAt, "entry mask", String.format("%#x is not the mask of a 4K, 2M, 4M or 1G page", mask));
            }
            if ((base & ~mask) != 0) throw r.malformed(baseAt, "entry linear base", String.format("%#x is not aligned to its mask %#x", base, mask));
            int physicalAt = r.position();
            long physical = r.i64("entry physical");
            if ((physical & ~mask) != 0 || physical < 0) {
                throw r.malformed(physicalAt, "entry physical", String.format("%#x is not a physical address aligned to the mask %#x", physical, mask));
            }
            int flagsAt = r.position();
            int flags = r.u8("entry flags");
            if ((flags & ~(WRITABLE | USER | NO_EXECUTE | GLOBAL | DIRTY)) != 0) {
                throw r.malformed(flagsAt, "entry flags", String.format("%#x has unknown bits", flags));
            }
            long[] backing = new long[r.i32In(0, r.remaining() / 8, "entry backing count")];
            for (int k = 0; k < backing.length; k++) backing[k] = readPage(r, "entry backing page", -1);
            long key = key(base, mask);
            Entry e = new Entry(base, mask, physical, (flags & WRITABLE) != 0, (flags & USER) != 0, (flags & NO_EXECUTE) != 0,
                    (flags & GLOBAL) != 0, (flags & DIRTY) != 0, backing);
            if (t.entries.put(key, e) != null) throw r.malformed(baseAt, "entry linear base", String.format("%#x appears twice in one table", base));
        }
        return t;
    }

    /** A guest-physical page number, above {@code previous} (-1: any). */
    private static long readPage(SectionReader r, String field, long previous) throws SnapshotException {
        int at = r.position();
        long page = r.i64(field);
        if (page < 0 || page >= GUEST_PAGES || page <= previous) {
            throw r.malformed(at, field, String.format("%#x is not a guest-physical page number%s", page,
                    previous < 0 ? "" : String.format(" above the previous one %#x", previous)));
        }
        return page;
    }

    /** An entry key: a base aligned to the mapping size its low bits code. */
    private static long readKey(SectionReader r, String field) throws SnapshotException {
        int at = r.position();
        long key = r.i64(field);
        int code = (int) (key & 3);
        if (((key & ~3L) & ~MASKS[code]) != 0) throw r.malformed(at, field, String.format("%#x is not a base with a mapping size code", key));
        return key;
    }
}
