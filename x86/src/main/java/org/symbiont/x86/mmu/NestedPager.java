package org.symbiont.x86.mmu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The VMM's nested table for one VM: a 4-level radix table (guest-physical to host-physical, 48
 * bits; entry format of the guest's own 4-level tables: P, PS, frame) that the MMU walks for
 * every guest-physical address it uses, page-table entries included (AMD APM Vol. 2, 15.25;
 * Intel SDM Vol. 3C, 29.3 for EPT). Guest memory is one block, so the VMM maps it 1:1, lazily:
 * an unmapped guest-physical page is an {@link Exit.PagingFault} that {@link #handleFault} fills
 * with a 2 MiB entry (4 KiB ones when built without large pages). Attach it to each vCPU with
 * {@code cpu.mmu.attach(pager)} after {@code cpu.mmu.configure(PagingMode.NESTED, ...)}.
 *
 * <p>Its table is captured in snapshots ({@link #saveState}, section {@link #SECTION}): which
 * pages are mapped decides whether an access takes a nested fault (an exit, and the walk
 * references of the retried access), so a restored VM needs it to keep virtual time.
 *
 * <p>Safe for vCPUs on several threads: fills are serialized, walks read entries with acquire
 * semantics and never lock.
 */
public final class NestedPager implements SecondStage {
    private static final VarHandle ENTRY = MethodHandles.arrayElementVarHandle(long[].class);
    private static final long PRESENT = 1, LARGE = 0x80, FRAME = 0x000F_FFFF_FFFF_F000L;
    /** Guest-physical addresses the table covers (4 levels of 9 bits over 4 KiB pages). */
    private static final long LIMIT = 1L << 48;
    /** The section name the nested table conventionally goes under (one per VM). */
    public static final String SECTION = "paging.nested";

    private final PhysicalMemory memory;
    private final boolean largePages;
    /** The table pages; 0 is the root. Non-leaf entries hold a child's index in bits 51:12. */
    private volatile long[][] nodes = {new long[512]};
    private int nodeCount = 1;

    /** A nested pager mapping guest RAM with 2 MiB entries. */
    public NestedPager(PhysicalMemory memory) {
        this(memory, true);
    }

    /** @param largePages whether to map with 2 MiB entries (3-reference nested walks) or 4 KiB ones (4 references) */
    public NestedPager(PhysicalMemory memory, boolean largePages) {
        this.memory = memory;
        this.largePages = largePages;
    }

    /**
     * The nested walk: one counted (and charged) reference per level; an unmapped address leaves
     * the instruction with {@link Exit.PagingFault}.
     */
    @Override
    public long map(Cpu cpu, long linear, long guestPhysical, int access) {
        if (guestPhysical >= LIMIT || guestPhysical < 0) throw cpu.exit(new Exit.PagingFault(linear, guestPhysical, access));
        long[] table = nodes[0];
        for (int level = 3; ; level--) {
            cpu.mmu.reference();
            int index = (int) (guestPhysical >>> (12 + 9 * level)) & 511;
            long e = (long) ENTRY.getAcquire(table, index);
            if ((e & PRESENT) == 0) throw cpu.exit(new Exit.PagingFault(linear, guestPhysical, access));
            if (level == 0 || (e & LARGE) != 0) {
                long offsetMask = (1L << (12 + 9 * level)) - 1;
                return (e & FRAME & ~offsetMask) | (guestPhysical & offsetMask);
            }
            table = nodes[(int) ((e & FRAME) >>> 12)];
        }
    }

    /**
     * Answers an {@link Exit.PagingFault} of NESTED paging: maps the guest-physical page (or its
     * 2 MiB region) 1:1. Counts a nested fault in {@code cpu}'s stats.
     */
    public void handleFault(Cpu cpu, long guestPhysical, int access) {
        cpu.mmu.nestedFaults++;
        if (guestPhysical >= LIMIT || guestPhysical < 0) {
            throw new IllegalArgumentException("guest-physical address beyond the nested table: " + Long.toHexString(guestPhysical));
        }
        synchronized (this) {
            long[] table = nodes[0];
            int leafLevel = largePages && uniform(guestPhysical & ~0x1F_FFFFL) ? 1 : 0;
            for (int level = 3; ; level--) {
                int index = (int) (guestPhysical >>> (12 + 9 * level)) & 511;
                long e = table[index];
                if (level == leafLevel) {
                    if ((e & PRESENT) == 0) {
                        long base = guestPhysical & ~((1L << (12 + 9 * level)) - 1);
                        ENTRY.setRelease(table, index, base | PRESENT | (level > 0 ? LARGE : 0));
                    }
                    return;
                }
                if ((e & PRESENT) != 0 && (e & LARGE) != 0) return;
                if ((e & PRESENT) == 0) {
                    e = ((long) newNode() << 12) | PRESENT;
                    ENTRY.setRelease(table, index, e);
                }
                table = nodes[(int) ((e & FRAME) >>> 12)];
            }
        }
    }

    /** Whether the 2 MiB region at {@code base} is all RAM or all not RAM (one entry can map it). */
    private boolean uniform(long base) {
        boolean ram = memory.hostOffsetForRead(base) >= 0;
        for (long p = base + 4096; p < base + 0x20_0000; p += 4096) {
            if ((memory.hostOffsetForRead(p) >= 0) != ram) return false;
        }
        return true;
    }

    /** Adds an empty table page, published before any entry points to it. */
    private int newNode() {
        long[][] ns = nodes;
        if (nodeCount == ns.length) ns = Arrays.copyOf(ns, ns.length * 2);
        ns[nodeCount] = new long[512];
        nodes = ns;
        return nodeCount++;
    }

    // =====================================================================================
    // Snapshots. Body, little-endian: largePages u8, leaves u32, then per mapped leaf in
    // increasing address order: guest-physical base u64, level u8 (0: 4 KiB, 1: 2 MiB).
    // =====================================================================================

    /** The table's mappings, for {@link #restoreState}; take it between runs, with no vCPU running. */
    public synchronized byte[] saveState() {
        SectionWriter leaves = new SectionWriter();
        int count = collectLeaves(nodes[0], 3, 0, leaves);
        SectionWriter w = new SectionWriter();
        w.bool(largePages).i32(count);
        byte[] b = leaves.toByteArray();
        return w.bytes(b, 0, b.length).toByteArray();
    }

    private int collectLeaves(long[] table, int level, long base, SectionWriter out) {
        int count = 0;
        for (int index = 0; index < 512; index++) {
            long e = table[index];
            if ((e & PRESENT) == 0) continue;
            long address = base | (long) index << (12 + 9 * level);
            if (level == 0 || (e & LARGE) != 0) {
                out.i64(address).u8(level);
                count++;
            } else {
                count += collectLeaves(nodes[(int) ((e & FRAME) >>> 12)], level - 1, address, out);
            }
        }
        return count;
    }

    /**
     * Replaces the table with the mappings {@link #saveState} wrote, before any vCPU runs. The
     * pager must be built with the same large-page setting; every leaf must be aligned to its
     * size, below 2^48, in increasing order without overlap, and 2 MiB only with large pages. A
     * violation is a {@link SnapshotException} naming the field, and leaves the table unchanged.
     */
    public synchronized void restoreState(byte[] body) throws SnapshotException {
        SectionReader r = new SectionReader("section '" + SECTION + "'", body);
        boolean savedLargePages = r.bool("large pages");
        if (savedLargePages != largePages) {
            throw r.malformed(0, "large pages", "is " + savedLargePages + " but this nested pager maps with " + (largePages ? "2 MiB" : "4 KiB") + " entries");
        }
        // Bounded by the bytes present (9 per leaf) before anything is allocated.
        int count = r.i32In(0, r.remaining() / 9, "leaf count");
        long[] bases = new long[count];
        int[] levels = new int[count];
        long end = 0;
        for (int n = 0; n < count; n++) {
            int at = r.position();
            long base = r.i64("leaf address");
            int levelAt = r.position();
            int level = r.u8("leaf level");
            if (level > (largePages ? 1 : 0)) throw r.malformed(levelAt, "leaf level", "is " + level + ", not " + (largePages ? "0 or 1" : "0"));
            long size = 1L << (12 + 9 * level);
            if (base < end || (base & (size - 1)) != 0 || base > LIMIT - size) {
                throw r.malformed(at, "leaf address", String.format("%#x is not %s-aligned, below 2^48 and above the previous leaf's end %#x",
                        base, level == 0 ? "4 KiB" : "2 MiB", end));
            }
            bases[n] = base;
            levels[n] = level;
            end = base + size;
        }
        r.end();
        nodes = new long[][] {new long[512]};
        nodeCount = 1;
        for (int n = 0; n < count; n++) install(bases[n], levels[n]);
    }

    /** Maps the leaf at {@code base} 1:1 at {@code leafLevel}, adding the table pages above it. */
    private void install(long base, int leafLevel) {
        long[] table = nodes[0];
        for (int level = 3; level > leafLevel; level--) {
            int index = (int) (base >>> (12 + 9 * level)) & 511;
            if ((table[index] & PRESENT) == 0) table[index] = ((long) newNode() << 12) | PRESENT;
            table = nodes[(int) ((table[index] & FRAME) >>> 12)];
        }
        ENTRY.setRelease(table, (int) (base >>> (12 + 9 * leafLevel)) & 511, base | PRESENT | (leafLevel > 0 ? LARGE : 0));
    }
}
