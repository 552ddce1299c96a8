package org.symbiont.x86.snapshot;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.LongPredicate;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Guest memory in a snapshot: the RAM and VMM-private sizes, which RAM pages are MMIO holes or
 * ROM, and the contents of every page that is not all zeros (RAM, then the VMM-private region
 * where SwapBypass pages and a memory-backed disk live). Section body, little-endian:
 *
 * <pre>
 *   layout u32 (2)
 *   ramBytes u64, privateBytes u64
 *   runs u32, then per run of non-RAM pages: firstPage u64, pageCount u64, kind u8 (1 MMIO hole, 2 ROM)
 *   pages u64, then per non-zero page, in increasing order: hostPage u64, 4096 bytes
 *   codePages u64, then per page holding decoded code, in increasing order: hostPage u64
 * </pre>
 *
 * Host page numbers count RAM pages from 0 and continue into the private region. Which pages
 * hold decoded code is captured although it is a cache: a write to such a page takes the slow
 * path and walks the page tables, which costs virtual time under non-zero paging costs, and a
 * restored vCPU's decoded blocks ({@link CpuState}) need their pages marked to be invalidated by
 * writes. The pages' code generations are not captured: blocks compare them only with the
 * generation they were decoded (or restored) under, so their absolute values are never seen.
 * Not captured either: how much of the private region the VMM has handed out
 * ({@link PhysicalMemory#allocatePrivate}), which the restoring VMM's devices claim again as
 * they are rebuilt.
 */
public final class MemoryImage {
    /** The section name guest memory conventionally goes under. */
    public static final String SECTION = "memory";
    /**
     * The section name of a delta image ({@link #captureDelta}): the pages that changed since a
     * copy the receiver already holds, restored with {@code delta} true.
     */
    public static final String DELTA_SECTION = "memory.delta";

    private static final int PAGE = (int) PhysicalMemory.PAGE_SIZE;
    private static final int KIND_MMIO = 1, KIND_ROM = 2;
    /** The section body's layout; 2 added the code pages. */
    private static final int LAYOUT = 2;
    private static final MemorySegment ZERO_PAGE = MemorySegment.ofArray(new byte[PAGE]);

    private MemoryImage() {}

    /** Encodes {@code memory} as a section body: every page that is not all zeros. */
    public static byte[] capture(PhysicalMemory memory) {
        MemorySegment host = memory.hostSegment();
        return capture(memory, p -> !isZero(host, p));
    }

    /**
     * Encodes {@code memory} in parts of at most {@code maxBytes} each (a section body is one Java
     * array: at most {@link SnapshotFormat#MAX_SECTION_BYTES}), splitting its pages that are not all
     * zeros by page number: the first part is restored with {@code delta} false (pages beyond it
     * zeroed), every further part then with {@code delta} true. One part when the pages fit.
     */
    public static java.util.List<byte[]> captureParts(PhysicalMemory memory, long maxBytes) {
        MemorySegment host = memory.hostSegment();
        long hostPages = host.byteSize() / PAGE;
        // Room for a part's own header, page-kind runs and code-page list, whatever is left for pages.
        long fixed = 4 + 8 + 8 + 4 + 17L * (memory.size() / PAGE) + 8 + 8 + 8 * hostPages;
        long perPart = Math.max(1, (Math.min(maxBytes, SnapshotFormat.MAX_SECTION_BYTES) - Math.min(fixed, maxBytes / 2)) / (8 + PAGE));
        java.util.List<byte[]> parts = new java.util.ArrayList<>();
        long first = 0;
        while (true) {
            long end = first, inPart = 0;
            while (end < hostPages && (inPart < perPart || isZero(host, end))) {
                if (!isZero(host, end)) inPart++;
                end++;
            }
            long from = first, to = end;
            parts.add(capture(memory, p -> p >= from && p < to && !isZero(host, p)));
            if (end >= hostPages) return parts;
            first = end;
        }
    }

    /**
     * Encodes {@code memory} with only the pages {@code changed} selects (zero or not): what a
     * receiver holding an earlier copy of the others needs (live migration's last pass).
     */
    public static byte[] captureDelta(PhysicalMemory memory, LongPredicate changed) {
        return capture(memory, changed);
    }

    private static byte[] capture(PhysicalMemory memory, LongPredicate includePage) {
        long ramPages = memory.size() / PAGE;
        MemorySegment host = memory.hostSegment();
        long hostPages = host.byteSize() / PAGE;
        SectionWriter runs = new SectionWriter();
        int runCount = 0;
        for (long p = 0; p < ramPages; ) {
            int kind = kindOf(memory, p);
            long start = p;
            while (p < ramPages && kindOf(memory, p) == kind) p++;
            if (kind != 0) {
                runs.i64(start).i64(p - start).u8(kind);
                runCount++;
            }
        }
        boolean[] included = new boolean[(int) hostPages];
        long pages = 0, codePages = 0;
        for (long p = 0; p < hostPages; p++) {
            if (includePage.test(p)) {
                included[(int) p] = true;
                pages++;
            }
            if (memory.holdsCode(p * PAGE)) codePages++;
        }
        // Sized exactly, so that hundreds of MiB of pages are copied once, straight from guest memory.
        long bytes = 4 + 8 + 8 + 4 + runs.size() + 8 + pages * (8 + PAGE) + 8 + codePages * 8;
        if (bytes > SnapshotFormat.MAX_SECTION_BYTES) {
            throw new IllegalStateException(pages + " pages of guest memory do not fit one snapshot section (at most 2 GiB)");
        }
        SectionWriter w = new SectionWriter((int) bytes);
        w.i32(LAYOUT).i64(memory.size()).i64(memory.privateRegion().byteSize());
        w.i32(runCount);
        byte[] r = runs.toByteArray();
        w.bytes(r, 0, r.length);
        w.i64(pages);
        for (long p = 0; p < hostPages; p++) {
            if (included[(int) p]) w.i64(p).bytes(host, p * PAGE, PAGE);
        }
        w.i64(codePages);
        for (long p = 0; p < hostPages; p++) if (memory.holdsCode(p * PAGE)) w.i64(p);
        return w.toByteArray();
    }

    private static int kindOf(PhysicalMemory memory, long page) {
        long gpa = page * PAGE;
        return memory.isMmio(gpa) ? KIND_MMIO : memory.isReadOnly(gpa) ? KIND_ROM : 0;
    }

    private static boolean isZero(MemorySegment host, long page) {
        return MemorySegment.mismatch(host, page * PAGE, page * PAGE + PAGE, ZERO_PAGE, 0, PAGE) < 0;
    }

    /**
     * Makes {@code memory} hold the image: page kinds and contents, every page absent from the
     * image zeroed. The memory must have the image's RAM and private sizes (checked before
     * anything is changed). Decoded code in rewritten pages is invalidated, then the image's
     * code pages are marked ({@link PhysicalMemory#markCode}: vCPUs drop their fast write paths
     * to them) and every other page unmarked, as after a write. {@code section} names
     * the image in error messages; a malformed image may leave the memory partly restored.
     * With {@code delta} (an image {@link #captureDelta} wrote), pages absent from the image keep
     * what the memory holds.
     */
    public static void restore(String section, byte[] body, PhysicalMemory memory, boolean delta) throws SnapshotException {
        SectionReader r = new SectionReader("section '" + section + "'", body);
        int layout = r.i32("layout");
        if (layout != LAYOUT) throw r.malformed(0, "layout", "is " + layout + "; this build reads layout " + LAYOUT);
        long ramBytes = r.i64("RAM size");
        long privateBytes = r.i64("private size");
        if (ramBytes != memory.size() || privateBytes != memory.privateRegion().byteSize()) {
            throw new SnapshotException(String.format(
                    "section '%s' holds %d bytes of RAM and %d of VMM-private memory; the memory to restore into has %d and %d",
                    section, ramBytes, privateBytes, memory.size(), memory.privateRegion().byteSize()));
        }
        long ramPages = ramBytes / PAGE;
        long hostPages = memory.hostSegment().byteSize() / PAGE;
        // Bounded by the bytes present (17 per run) before anything is allocated for the runs.
        int runCount = r.i32In(0, (int) Math.min(ramPages, r.remaining() / 17), "page-kind run count");
        long[] runStart = new long[runCount], runLength = new long[runCount];
        int[] runKind = new int[runCount];
        for (int k = 0; k < runCount; k++) {
            int at = r.position();
            runStart[k] = r.i64("run start page");
            runLength[k] = r.i64("run page count");
            runKind[k] = r.u8("run kind");
            if (runStart[k] < 0 || runLength[k] <= 0 || runStart[k] > ramPages - runLength[k]) {
                throw r.malformed(at, "page-kind run", String.format("[%d, +%d) is not inside RAM's %d pages", runStart[k], runLength[k], ramPages));
            }
            if (runKind[k] != KIND_MMIO && runKind[k] != KIND_ROM) throw r.malformed(at + 16, "run kind", "is " + runKind[k] + ", not 1 (MMIO) or 2 (ROM)");
        }
        int pagesAt = r.position();
        long pageCount = r.i64("page count");
        if (pageCount < 0 || pageCount > hostPages) {
            throw r.malformed(pagesAt, "page count", "is " + pageCount + ", more than the memory's " + hostPages + " pages");
        }

        memory.markRam(0, ramBytes);
        for (int k = 0; k < runCount; k++) {
            if (runKind[k] == KIND_MMIO) memory.addMmioHole(runStart[k] * PAGE, runLength[k] * PAGE);
            else memory.markReadOnly(runStart[k] * PAGE, runLength[k] * PAGE);
        }
        MemorySegment host = memory.hostSegment();
        byte[] page = new byte[PAGE];
        long next = 0;
        for (long k = 0; k < pageCount; k++) {
            int at = r.position();
            long p = r.i64("page number");
            if (p < next || p >= hostPages) {
                throw r.malformed(at, "page number", p < next ? "is " + p + ", not above the previous page" : "is " + p + ", beyond the memory's " + hostPages + " pages");
            }
            r.bytes(page, 0, PAGE, "page " + p);
            for (; next < p && !delta; next++) zero(memory, host, next);
            store(memory, host, p, MemorySegment.ofArray(page));
            next = p + 1;
        }
        for (; next < hostPages && !delta; next++) zero(memory, host, next);

        int codeAt = r.position();
        long codePages = r.i64("code page count");
        if (codePages < 0 || codePages > hostPages) {
            throw r.malformed(codeAt, "code page count", "is " + codePages + ", more than the memory's " + hostPages + " pages");
        }
        long nextCode = 0;
        for (long k = 0; k < codePages; k++) {
            int at = r.position();
            long p = r.i64("code page number");
            if (p < nextCode || p >= hostPages) {
                throw r.malformed(at, "code page number", p < nextCode ? "is " + p + ", not above the previous code page" : "is " + p + ", beyond the memory's " + hostPages + " pages");
            }
            for (; nextCode < p; nextCode++) unmarkCode(memory, nextCode);
            memory.markCode(p);
            nextCode = p + 1;
        }
        for (; nextCode < hostPages; nextCode++) unmarkCode(memory, nextCode);
        r.end();
    }

    private static void unmarkCode(PhysicalMemory memory, long page) {
        if (memory.holdsCode(page * PAGE)) memory.codeWritten(page);
    }

    private static void zero(PhysicalMemory memory, MemorySegment host, long page) {
        if (!isZero(host, page)) store(memory, host, page, ZERO_PAGE);
    }

    private static void store(PhysicalMemory memory, MemorySegment host, long page, MemorySegment content) {
        if (memory.holdsCode(page * PAGE)) memory.codeWritten(page);
        MemorySegment.copy(content, 0, host, page * PAGE, PAGE);
    }
}
