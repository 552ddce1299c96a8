package org.symbiont.x86.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * A VM's guest-physical memory: one contiguous block of host memory preallocated per VM (as
 * Palacios does), with typed little-endian accessors in the manner of rust-vmm's vm-memory.
 *
 * <p>Guest-physical addresses {@code [0, size)} are RAM except pages registered as MMIO holes;
 * everything at or above {@code size} is MMIO, apart from the VMM-private region at
 * {@link #PRIVATE_BASE}. The CPU reaches RAM through a <em>host offset</em>
 * (today equal to the guest-physical address) cached in its TLB; all other users go through the
 * bounds-checked accessors, which throw {@link GuestMemoryException} naming the bad address.
 *
 * <p>Pages that hold decoded guest code are tracked here, shared by all vCPUs of the VM: a write
 * to such a page bumps the page's code generation, which invalidates every block decoded from it
 * (self-modifying and cross-modifying code).
 */
public final class PhysicalMemory implements AutoCloseable {
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    public static final long PAGE_MASK = ~(PAGE_SIZE - 1);

    private static final byte KIND_RAM = 0, KIND_MMIO = 1, KIND_ROM = 2;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final VarHandle LONG_ALIGNED = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT_ALIGNED = ValueLayout.JAVA_INT.varHandle();

    /**
     * The physical address of the VMM-private region: above any MAXPHYADDR (52 bits at most), so
     * that no guest page-table entry, DMA address or unpaged access can name it; only mappings
     * the VMM installs itself (SwapBypass shadow entries, Palacios 6.11) reach it.
     */
    public static final long PRIVATE_BASE = 1L << 52;

    private final Arena arena;
    private final MemorySegment ram;
    private final long size;
    private final long privateSize;
    private long privateAllocated;
    private final byte[] pageKind;
    private final byte[] codePage;
    private final int[] codeGeneration;
    private final CopyOnWriteArrayList<CodePageListener> codeListeners = new CopyOnWriteArrayList<>();
    /** Serializes locked operations that straddle an 8-byte boundary (rare split locks) and CMPXCHG16B. */
    private final Object splitLock = new Object();
    /** Per-VM state of other components, one object per kind ({@link #shared}). */
    private final ConcurrentHashMap<Class<?>, Object> shared = new ConcurrentHashMap<>();

    /** Notified when a page starts holding decoded code, so that CPUs drop fast write paths to it. */
    public interface CodePageListener {
        void codePageMarked(long pageNumber);
    }

    private PhysicalMemory(long size, long privateSize) {
        if (privateSize < 0 || (privateSize & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("VMM-private memory size must be a multiple of 4096 bytes, got " + privateSize);
        }
        if (size <= 0 || (size & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("guest memory size must be a positive multiple of 4096 bytes, got " + size);
        }
        if (size > (1L << 40)) {
            throw new IllegalArgumentException("guest memory size " + size + " exceeds the supported 1 TiB");
        }
        this.size = size;
        this.privateSize = privateSize;
        this.arena = Arena.ofShared();
        this.ram = arena.allocate(size + privateSize, PAGE_SIZE);
        this.pageKind = new byte[Math.toIntExact(size >>> PAGE_SHIFT)];
        // Host pages: guest RAM, then the private region (code may run from a page mapped there).
        int hostPages = Math.toIntExact((size + privateSize) >>> PAGE_SHIFT);
        this.codePage = new byte[hostPages];
        this.codeGeneration = new int[hostPages];
    }

    /** Allocates {@code bytes} of zeroed guest RAM (a multiple of 4 KiB). */
    public static PhysicalMemory allocate(long bytes) {
        return new PhysicalMemory(bytes, 0);
    }

    /**
     * Allocates {@code bytes} of zeroed guest RAM and {@code privateBytes} of zeroed VMM-private
     * memory at {@link #PRIVATE_BASE} (multiples of 4 KiB).
     */
    public static PhysicalMemory allocate(long bytes, long privateBytes) {
        return new PhysicalMemory(bytes, privateBytes);
    }

    /** The VMM-private region's bytes (a memory-backed disk lives there), physical address {@link #PRIVATE_BASE}. */
    public MemorySegment privateRegion() {
        return ram.asSlice(size, privateSize);
    }

    /**
     * Reserves {@code bytes} (a multiple of 4 KiB) of the private region; returns the physical
     * address of the reservation, or -1 when the region has not that much left.
     */
    public synchronized long allocatePrivate(long bytes) {
        if (bytes <= 0 || (bytes & (PAGE_SIZE - 1)) != 0 || bytes > privateSize - privateAllocated) return -1;
        long at = PRIVATE_BASE + privateAllocated;
        privateAllocated += bytes;
        return at;
    }

    public long size() {
        return size;
    }

    /** Marks {@code [start, start+length)} (page-aligned, inside RAM) as an MMIO hole. */
    public void addMmioHole(long start, long length) {
        markPages(start, length, KIND_MMIO);
    }

    /** Returns {@code [start, start+length)} to ordinary RAM (a snapshot's restore sets every page's kind). */
    public void markRam(long start, long length) {
        markPages(start, length, KIND_RAM);
    }

    /** Marks {@code [start, start+length)} read-only for the guest (ROM); writes are dropped. */
    public void markReadOnly(long start, long length) {
        markPages(start, length, KIND_ROM);
    }

    private void markPages(long start, long length, byte kind) {
        if ((start & ~PAGE_MASK) != 0 || (length & ~PAGE_MASK) != 0 || start < 0 || length <= 0
                || start + length > size) {
            throw new IllegalArgumentException(String.format(
                    "range [%#x, %#x) must be page-aligned and inside guest RAM [0, %#x)", start, start + length, size));
        }
        for (long p = start >>> PAGE_SHIFT; p < (start + length) >>> PAGE_SHIFT; p++) {
            pageKind[(int) p] = kind;
        }
    }

    // ---- what the CPU's TLB caches ----

    /** Host offset of a readable RAM/ROM page, or -1 when the page is MMIO. */
    public long hostOffsetForRead(long gpa) {
        if (gpa < 0 || gpa >= size) return privateOffset(gpa);
        return pageKind[(int) (gpa >>> PAGE_SHIFT)] == KIND_MMIO ? -1 : gpa;
    }

    /** Host offset of a writable RAM page, or -1 when the page is MMIO or ROM. */
    public long hostOffsetForWrite(long gpa) {
        if (gpa < 0 || gpa >= size) return privateOffset(gpa);
        return pageKind[(int) (gpa >>> PAGE_SHIFT)] == KIND_RAM ? gpa : -1;
    }

    /** Host offset of a physical address in the VMM-private region, else -1. */
    private long privateOffset(long pa) {
        long off = pa - PRIVATE_BASE;
        return off >= 0 && off < privateSize ? size + off : -1;
    }

    /** True when guest writes to this page are silently dropped (ROM). */
    public boolean isReadOnly(long gpa) {
        return gpa >= 0 && gpa < size && pageKind[(int) (gpa >>> PAGE_SHIFT)] == KIND_ROM;
    }

    /** True when this page of guest RAM is an MMIO hole (every access exits). */
    public boolean isMmio(long gpa) {
        return gpa >= 0 && gpa < size && pageKind[(int) (gpa >>> PAGE_SHIFT)] == KIND_MMIO;
    }

    /** The segment the CPU accesses with host offsets; never handed to code outside the CPU. */
    public MemorySegment hostSegment() {
        return ram;
    }

    // ---- decoded-code tracking ----

    public boolean holdsCode(long hostOffset) {
        return codePage[(int) (hostOffset >>> PAGE_SHIFT)] != 0;
    }

    public int codeGeneration(long pageNumber) {
        return codeGeneration[(int) pageNumber];
    }

    /** Records that a block was decoded from this page; CPUs drop their fast write paths to it. */
    public void markCode(long pageNumber) {
        if (codePage[(int) pageNumber] == 0) {
            codePage[(int) pageNumber] = 1;
            for (CodePageListener l : codeListeners) l.codePageMarked(pageNumber);
        }
    }

    /** Called before a guest write lands in a page that holds code: the page's blocks go stale. */
    public void codeWritten(long pageNumber) {
        codePage[(int) pageNumber] = 0;
        codeGeneration[(int) pageNumber]++;
    }

    /**
     * The VM-wide object of class {@code kind} kept with this memory, created by {@code create}
     * the first time (the shadow pagers' shared write protection of guest page tables).
     */
    public <T> T shared(Class<T> kind, Supplier<T> create) {
        return kind.cast(shared.computeIfAbsent(kind, k -> create.get()));
    }

    public void addCodePageListener(CodePageListener l) {
        codeListeners.add(l);
    }

    public void removeCodePageListener(CodePageListener l) {
        codeListeners.remove(l);
    }

    // ---- host-offset access for the CPU (offsets come from the TLB, already validated) ----

    public byte hostRead8(long off) { return ram.get(ValueLayout.JAVA_BYTE, off); }
    public short hostRead16(long off) { return ram.get(U16, off); }
    public int hostRead32(long off) { return ram.get(U32, off); }
    public long hostRead64(long off) { return ram.get(U64, off); }
    public void hostWrite8(long off, byte v) { ram.set(ValueLayout.JAVA_BYTE, off, v); }
    public void hostWrite16(long off, short v) { ram.set(U16, off, v); }
    public void hostWrite32(long off, int v) { ram.set(U32, off, v); }
    public void hostWrite64(long off, long v) { ram.set(U64, off, v); }

    /**
     * Atomic compare-and-exchange of {@code size} bytes (1, 2, 4, 8) at a host offset, as a LOCK
     * prefix requires across vCPU threads. Returns the value found. An operand inside one aligned
     * 8-byte word is swapped with a CAS on that word; one that straddles a word boundary (a split
     * lock, slow on hardware too) is serialized by a per-memory lock.
     */
    public long compareAndExchange(long off, int size, long expected, long update) {
        if (size == 4 && (off & 3) == 0) {
            return (int) INT_ALIGNED.compareAndExchange(ram, off, (int) expected, (int) update) & 0xFFFF_FFFFL;
        }
        if (size == 8 && (off & 7) == 0) {
            return (long) LONG_ALIGNED.compareAndExchange(ram, off, expected, update);
        }
        long word = off & ~7L;
        int shift = (int) (off - word) * 8;
        if (shift + size * 8 <= 64) {
            long mask = (size == 8 ? -1L : (1L << (size * 8)) - 1) << shift;
            while (true) {
                long current = (long) LONG_ALIGNED.getVolatile(ram, word);
                long found = (current & mask) >>> shift;
                if (found != (expected & (mask >>> shift))) return found;
                long next = (current & ~mask) | ((update << shift) & mask);
                if ((long) LONG_ALIGNED.compareAndExchange(ram, word, current, next) == current) return found;
            }
        }
        synchronized (splitLock) {
            long found = readHostSized(off, size);
            if (found == (expected & sizeMask(size))) writeHostSized(off, size, update);
            VarHandle.fullFence();
            return found;
        }
    }

    /** The lock that serializes locked operations on operands split across pages or 8-byte words. */
    public Object splitLock() {
        return splitLock;
    }

    /**
     * CMPXCHG16B on a 16-byte-aligned host offset: if the 16 bytes equal {@code expectedHigh:expectedLow}
     * they become {@code newHigh:newLow}. Returns whether they were equal; {@code found} receives the
     * low and high quadwords that were there. Java has no 128-bit compare-and-exchange, so the
     * operation holds the lock that also serializes split locks: it is atomic against every other
     * CMPXCHG16B and split-locked operation of this memory, but not against plain stores or 8-byte
     * locked operations that other vCPU threads make to the same 16 bytes.
     */
    public boolean compareAndExchange16(long off, long expectedLow, long expectedHigh, long newLow, long newHigh,
                                        long[] found) {
        synchronized (splitLock) {
            long low = (long) LONG_ALIGNED.getVolatile(ram, off);
            long high = (long) LONG_ALIGNED.getVolatile(ram, off + 8);
            found[0] = low;
            found[1] = high;
            boolean equal = low == expectedLow && high == expectedHigh;
            if (equal) {
                LONG_ALIGNED.setVolatile(ram, off, newLow);
                LONG_ALIGNED.setVolatile(ram, off + 8, newHigh);
            }
            return equal;
        }
    }

    /** Copies {@code length} bytes between host offsets as if through a temporary buffer (memmove). */
    public void hostCopy(long from, long to, long length) {
        MemorySegment.copy(ram, from, ram, to, length);
    }

    /** Fills {@code count} consecutive elements of {@code size} bytes (1, 2, 4, 8) at a host offset with {@code value}. */
    public void hostFill(long off, long count, int size, long value) {
        long bytes = count * size;
        if (size == 1) {
            ram.asSlice(off, bytes).fill((byte) value);
            return;
        }
        writeHostSized(off, size, value);
        for (long filled = size; filled < bytes; filled *= 2) {
            MemorySegment.copy(ram, off, ram, off + filled, Math.min(filled, bytes - filled));
        }
    }

    private static long sizeMask(int size) {
        return size == 8 ? -1L : (1L << (size * 8)) - 1;
    }

    private long readHostSized(long off, int size) {
        return switch (size) {
            case 1 -> ram.get(ValueLayout.JAVA_BYTE, off) & 0xFFL;
            case 2 -> ram.get(U16, off) & 0xFFFFL;
            case 4 -> ram.get(U32, off) & 0xFFFF_FFFFL;
            default -> ram.get(U64, off);
        };
    }

    private void writeHostSized(long off, int size, long v) {
        switch (size) {
            case 1 -> ram.set(ValueLayout.JAVA_BYTE, off, (byte) v);
            case 2 -> ram.set(U16, off, (short) v);
            case 4 -> ram.set(U32, off, (int) v);
            default -> ram.set(U64, off, v);
        }
    }

    // ---- bounds-checked access for the VMM, loaders and devices (DMA) ----

    private void check(long gpa, long length) {
        if (gpa < 0 || length < 0 || gpa > size - length) {
            throw new GuestMemoryException(String.format(
                    "guest-physical access [%#x, %#x) is outside guest RAM [0, %#x)", gpa, gpa + length, size));
        }
    }

    public int readU8(long gpa) { check(gpa, 1); return ram.get(ValueLayout.JAVA_BYTE, gpa) & 0xFF; }
    public int readU16(long gpa) { check(gpa, 2); return ram.get(U16, gpa) & 0xFFFF; }
    public long readU32(long gpa) { check(gpa, 4); return ram.get(U32, gpa) & 0xFFFF_FFFFL; }
    public long readU64(long gpa) { check(gpa, 8); return ram.get(U64, gpa); }

    public void writeU8(long gpa, int v) { check(gpa, 1); dirtyCode(gpa, 1); ram.set(ValueLayout.JAVA_BYTE, gpa, (byte) v); }
    public void writeU16(long gpa, int v) { check(gpa, 2); dirtyCode(gpa, 2); ram.set(U16, gpa, (short) v); }
    public void writeU32(long gpa, long v) { check(gpa, 4); dirtyCode(gpa, 4); ram.set(U32, gpa, (int) v); }
    public void writeU64(long gpa, long v) { check(gpa, 8); dirtyCode(gpa, 8); ram.set(U64, gpa, v); }

    public void read(long gpa, byte[] dst, int off, int len) {
        check(gpa, len);
        MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, gpa, dst, off, len);
    }

    public void write(long gpa, byte[] src, int off, int len) {
        check(gpa, len);
        dirtyCode(gpa, len);
        MemorySegment.copy(src, off, ram, ValueLayout.JAVA_BYTE, gpa, len);
    }

    public void write(long gpa, byte[] src) {
        write(gpa, src, 0, src.length);
    }

    public byte[] read(long gpa, int len) {
        byte[] b = new byte[len];
        read(gpa, b, 0, len);
        return b;
    }

    /** Writes from outside the CPU (loaders, DMA) also invalidate decoded code in their pages. */
    private void dirtyCode(long gpa, long len) {
        if (len == 0) return;
        for (long p = gpa >>> PAGE_SHIFT; p <= (gpa + len - 1) >>> PAGE_SHIFT; p++) {
            if (codePage[(int) p] != 0) codeWritten(p);
        }
    }

    /** Releases the host memory. Any later access by a CPU of this VM is a VMM bug. */
    @Override
    public void close() {
        arena.close();
    }
}
