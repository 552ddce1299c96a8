package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.CS;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A vCPU's decoded blocks. A direct-mapped jump cache keyed by linear RIP (flushed with the TLB,
 * as QEMU's tb_jmp_cache is) sits in front of a direct-mapped cache keyed by the host offset of
 * the code, which survives address-space switches. A block is used only while the code
 * generation of its page(s) is unchanged, so guest writes to code invalidate it.
 */
public final class BlockCache {
    private static final int JUMP_BITS = 12;
    private static final int PHYS_BITS = 14;

    private final Block[] jump = new Block[1 << JUMP_BITS];
    private final Block[] physical = new Block[1 << PHYS_BITS];

    public long decodedBlocks, decodedInstructions;
    /** Changes whenever the jump cache is flushed, i.e. whenever linear-to-physical mappings may have changed. */
    int epoch;

    public void flushJumpCache() {
        Arrays.fill(jump, null);
        epoch++;
    }

    public void flushAll() {
        Arrays.fill(jump, null);
        Arrays.fill(physical, null);
        epoch++;
    }

    private static int jumpIndex(long linear) {
        return (int) (linear ^ (linear >>> JUMP_BITS)) & ((1 << JUMP_BITS) - 1);
    }

    private static int physicalIndex(long host, int modeKey) {
        long h = host * 0x9E37_79B9_7F4A_7C15L + modeKey;
        return (int) (h >>> (64 - PHYS_BITS));
    }

    /** The block starting at the CPU's current RIP, decoding it if needed; may raise a fetch fault. */
    Block find(Cpu c) {
        long rip = c.rip;
        long linear = (c.segEffBase[CS] + rip) & c.linearMask;
        int modeKey = c.modeKey;
        int j = jumpIndex(linear);
        Block b = jump[j];
        PhysicalMemory mem = c.memory;
        if (b != null && b.linear == linear && b.rip == rip && b.modeKey == modeKey && isCurrent(b, mem)) return b;
        checkCodeLimit(c, rip);
        long host = c.mmu.fetchHostOffset(linear, c.tlbBase != 0);
        int p = physicalIndex(host, modeKey);
        b = physical[p];
        if (b == null || b.hostStart != host || b.rip != rip || b.linear != linear || b.modeKey != modeKey
                || !isCurrent(b, mem)) {
            b = decode(c, rip, linear, host);
            physical[p] = b;
        }
        jump[j] = b;
        return b;
    }

    private static boolean isCurrent(Block b, PhysicalMemory mem) {
        return mem.codeGeneration(b.page) == b.generation
                && (b.page2 < 0 || mem.codeGeneration(b.page2) == b.generation2);
    }

    private static void checkCodeLimit(Cpu c, long rip) {
        if (c.codeMode != Decoder.CODE64 && rip > c.segLimit[CS]) throw c.gp0();
    }

    private Block decode(Cpu c, long rip, long linear, long host) {
        OpcodeTable table = Families.TABLE;
        CodeSource src = new CodeSource(c);
        Insn[] buf = new Insn[Block.MAX_INSNS];
        int count = 0;
        boolean endsWithJump = false;
        long firstPage = linear >>> 12;
        long cur = rip;
        long savedCr2 = c.cr2;
        while (count < Block.MAX_INSNS) {
            Insn in = new Insn();
            try {
                Decoder.decode(table, c.codeMode, src, cur, in);
            } catch (Fault f) {
                // A fetch fault past the first instruction ends the block; it is raised only if
                // execution gets there.
                if (count == 0) throw f;
                c.cr2 = savedCr2;
                break;
            } catch (ExitSignal x) {
                // Likewise for a fetch that needs the VMM (shadow or nested paging).
                if (count == 0) throw x;
                break;
            }
            int flags = table.flags(in.op);
            boolean repString = (flags & OpcodeTable.F_STRING) != 0
                    && in.hasPrefix(Insn.P_REP | Insn.P_REPNE);
            if (repString && count > 0) break;
            in.indexInBlock = count;
            in.hot = Interpreter.hotIndex(in);
            buf[count++] = in;
            if ((flags & OpcodeTable.F_END) != 0 || (in.op >>> 8) == 0) {
                endsWithJump = (flags & OpcodeTable.F_END) != 0;
                break;
            }
            if (repString) break;
            cur = in.nextRip;
            if ((((c.segEffBase[CS] + cur) & c.linearMask) >>> 12) != firstPage) break;
        }
        Insn last = buf[count - 1];
        long lastByte = (c.segEffBase[CS] + last.nextRip - 1) & c.linearMask;
        long page = host >>> PhysicalMemory.PAGE_SHIFT;
        long page2 = -1;
        if ((lastByte >>> 12) != firstPage) {
            page2 = c.mmu.fetchHostOffset(lastByte, c.tlbBase != 0) >>> PhysicalMemory.PAGE_SHIFT;
        }
        PhysicalMemory mem = c.memory;
        mem.markCode(page);
        if (page2 >= 0) mem.markCode(page2);
        decodedBlocks++;
        decodedInstructions += count;
        boolean loopsToItself = last.imm == rip && ControlTransfer.isNearRelative(last);
        return new Block(rip, linear, c.modeKey, host, page, mem.codeGeneration(page), page2,
                page2 >= 0 ? mem.codeGeneration(page2) : 0, Arrays.copyOf(buf, count), count, endsWithJump,
                loopsToItself);
    }

    /** Reads code bytes for the decoder through the fetch TLB, enforcing the CS limit. */
    private static final class CodeSource implements Decoder.ByteSource {
        private final Cpu c;

        CodeSource(Cpu c) {
            this.c = c;
        }

        @Override
        public int byteAt(long rip) {
            if (c.codeMode != Decoder.CODE64 && rip > c.segLimit[CS]) throw c.gp0();
            return c.fetchByte((c.segEffBase[CS] + rip) & c.linearMask);
        }
    }

    // =====================================================================================
    // Snapshots. Which blocks are cached is visible in virtual time under paging costs: a
    // jump-cache hit fetches without translating, a miss walks the page tables (and decoding a
    // block that crosses a page walks again), so a restored vCPU gets the same blocks back.
    // =====================================================================================

    /** What a block is decoded again from: where its code is and how many instructions it has. */
    private record BlockKey(long rip, long linear, int modeKey, long hostStart, long page2, int count) {}

    /**
     * The current blocks of both caches, by key, and the slots holding them. Encoding:
     * <pre>
     *   blocks u32, per block: rip u64, linear u64, modeKey u8, hostStart u64, page2 u64 (-1: none), count u8
     *   jump-cache entries u32, per entry: slot u32, block u32 (in increasing slot order)
     *   physical-cache entries u32, the same
     * </pre>
     */
    public static final class SavedBlocks {
        private final BlockKey[] blocks;
        private final int[] jumpSlots, jumpBlocks, physicalSlots, physicalBlocks;

        private SavedBlocks(BlockKey[] blocks, int[] jumpSlots, int[] jumpBlocks, int[] physicalSlots, int[] physicalBlocks) {
            this.blocks = blocks;
            this.jumpSlots = jumpSlots;
            this.jumpBlocks = jumpBlocks;
            this.physicalSlots = physicalSlots;
            this.physicalBlocks = physicalBlocks;
        }

        public void write(SectionWriter w) {
            w.i32(blocks.length);
            for (BlockKey k : blocks) w.i64(k.rip).i64(k.linear).u8(k.modeKey).i64(k.hostStart).i64(k.page2).u8(k.count);
            w.i32(jumpSlots.length);
            for (int e = 0; e < jumpSlots.length; e++) w.i32(jumpSlots[e]).i32(jumpBlocks[e]);
            w.i32(physicalSlots.length);
            for (int e = 0; e < physicalSlots.length; e++) w.i32(physicalSlots[e]).i32(physicalBlocks[e]);
        }

        /** Reads what {@link #write} wrote, checking counts, mode keys and that each slot is the one its block's key selects. */
        public static SavedBlocks read(SectionReader r) throws SnapshotException {
            // Bounded by the bytes present (35 per block) before anything is allocated.
            BlockKey[] blocks = new BlockKey[r.i32In(0, r.remaining() / 35, "decoded block count")];
            for (int n = 0; n < blocks.length; n++) {
                long rip = r.i64("decoded block RIP");
                long linear = r.i64("decoded block linear address");
                int at = r.position();
                int modeKey = r.u8("decoded block mode key");
                if ((modeKey & 3) > Decoder.CODE64 || modeKey > 7) throw r.malformed(at, "decoded block mode key", "is " + modeKey);
                long hostStart = r.i64("decoded block host offset");
                long page2 = r.i64("decoded block second page");
                at = r.position();
                int count = r.u8("decoded block instruction count");
                if (count < 1 || count > Block.MAX_INSNS) {
                    throw r.malformed(at, "decoded block instruction count", "is " + count + ", outside [1, " + Block.MAX_INSNS + "]");
                }
                blocks[n] = new BlockKey(rip, linear, modeKey, hostStart, page2, count);
            }
            int[][] jumpEntries = readSlots(r, "jump-cache", 1 << JUMP_BITS, blocks, true);
            int[][] physicalEntries = readSlots(r, "physical-cache", 1 << PHYS_BITS, blocks, false);
            return new SavedBlocks(blocks, jumpEntries[0], jumpEntries[1], physicalEntries[0], physicalEntries[1]);
        }

        private static int[][] readSlots(SectionReader r, String cache, int size, BlockKey[] blocks, boolean byLinear)
                throws SnapshotException {
            int count = r.i32In(0, Math.min(size, r.remaining() / 8), cache + " entry count");
            int[] slots = new int[count], numbers = new int[count];
            for (int e = 0; e < count; e++) {
                int at = r.position();
                slots[e] = r.i32In(e == 0 ? 0 : slots[e - 1] + 1, size - 1, cache + " slot");
                numbers[e] = r.i32In(0, blocks.length - 1, cache + " block number");
                BlockKey k = blocks[numbers[e]];
                int expected = byLinear ? jumpIndex(k.linear) : physicalIndex(k.hostStart, k.modeKey);
                if (slots[e] != expected) {
                    throw r.malformed(at, cache + " slot", "is " + slots[e] + " but its block is looked up in slot " + expected);
                }
            }
            return new int[][] {slots, numbers};
        }
    }

    /** The blocks a snapshot keeps: those still valid for the current code generation of their pages. */
    public SavedBlocks save(PhysicalMemory memory) {
        IdentityHashMap<Block, Integer> numbers = new IdentityHashMap<>();
        List<BlockKey> keys = new ArrayList<>();
        for (Block[] cache : new Block[][] {jump, physical}) {
            for (Block b : cache) {
                if (b != null && isCurrent(b, memory) && numbers.putIfAbsent(b, keys.size()) == null) {
                    keys.add(new BlockKey(b.rip, b.linear, b.modeKey, b.hostStart, b.page2, b.count));
                }
            }
        }
        int[][] jumpEntries = slotsOf(jump, numbers), physicalEntries = slotsOf(physical, numbers);
        return new SavedBlocks(keys.toArray(BlockKey[]::new), jumpEntries[0], jumpEntries[1], physicalEntries[0],
                physicalEntries[1]);
    }

    private static int[][] slotsOf(Block[] cache, IdentityHashMap<Block, Integer> numbers) {
        int[] slots = new int[cache.length], blockNumbers = new int[cache.length];
        int count = 0;
        for (int slot = 0; slot < cache.length; slot++) {
            Integer n = cache[slot] == null ? null : numbers.get(cache[slot]);
            if (n == null) continue;
            slots[count] = slot;
            blockNumbers[count++] = n;
        }
        return new int[][] {Arrays.copyOf(slots, count), Arrays.copyOf(blockNumbers, count)};
    }

    /** Blocks decoded again for {@link #install}, in the slots they are to take. */
    public static final class RebuiltBlocks {
        private final Block[] jump, physical;

        private RebuiltBlocks(Block[] jump, Block[] physical) {
            this.jump = jump;
            this.physical = physical;
        }
    }

    /**
     * Decodes each block of {@code saved} again from {@code memory}, which must already hold the
     * snapshot's contents and code pages (a block on a page not marked as code would miss the
     * invalidation of a write). A block that does not lie inside the memory or does not decode
     * is a {@link SnapshotException} naming the field. Changes no cache; {@code what} names the
     * section in messages.
     */
    public static RebuiltBlocks rebuild(SavedBlocks saved, PhysicalMemory memory, String what) throws SnapshotException {
        Block[] blocks = new Block[saved.blocks.length];
        for (int n = 0; n < blocks.length; n++) blocks[n] = redecode(saved.blocks[n], memory, what);
        Block[] jump = new Block[1 << JUMP_BITS], physical = new Block[1 << PHYS_BITS];
        for (int e = 0; e < saved.jumpSlots.length; e++) jump[saved.jumpSlots[e]] = blocks[saved.jumpBlocks[e]];
        for (int e = 0; e < saved.physicalSlots.length; e++) physical[saved.physicalSlots[e]] = blocks[saved.physicalBlocks[e]];
        return new RebuiltBlocks(jump, physical);
    }

    /** Replaces both caches with {@code rebuilt}. */
    public void install(RebuiltBlocks rebuilt) {
        System.arraycopy(rebuilt.jump, 0, jump, 0, jump.length);
        System.arraycopy(rebuilt.physical, 0, physical, 0, physical.length);
        epoch++;
    }

    private static Block redecode(BlockKey k, PhysicalMemory memory, String what) throws SnapshotException {
        long hostPages = memory.hostSegment().byteSize() >>> PhysicalMemory.PAGE_SHIFT;
        long page = k.hostStart >>> PhysicalMemory.PAGE_SHIFT;
        if (k.hostStart < 0 || page >= hostPages || (k.hostStart & 0xFFF) != (k.linear & 0xFFF)) {
            throw blockError(what, k, "host offset", "is not inside the memory's " + hostPages + " pages at the linear address's page offset");
        }
        if (!memory.holdsCode(k.hostStart)) throw blockError(what, k, "host offset", "is on a page the memory does not mark as code");
        if (k.page2 != -1 && (k.page2 < 0 || k.page2 >= hostPages || !memory.holdsCode(k.page2 << PhysicalMemory.PAGE_SHIFT))) {
            throw blockError(what, k, "second page", "is not a code page of the memory");
        }
        int pageOffset = (int) (k.hostStart & 0xFFF);
        Decoder.ByteSource bytes = rip -> {
            long at = pageOffset + (rip - k.rip);
            if (at >= 0 && at < PhysicalMemory.PAGE_SIZE) return memory.hostRead8(k.hostStart + (rip - k.rip)) & 0xFF;
            if (k.page2 >= 0 && at >= PhysicalMemory.PAGE_SIZE && at < 2 * PhysicalMemory.PAGE_SIZE) {
                return memory.hostRead8((k.page2 << PhysicalMemory.PAGE_SHIFT) + at - PhysicalMemory.PAGE_SIZE) & 0xFF;
            }
            throw new IndexOutOfBoundsException("code at RIP " + Long.toHexString(rip) + " lies outside the block's pages");
        };
        Insn[] insns = new Insn[k.count];
        long cur = k.rip;
        try {
            for (int n = 0; n < k.count; n++) {
                Insn in = new Insn();
                Decoder.decode(Families.TABLE, k.modeKey & 3, bytes, cur, in);
                in.indexInBlock = n;
                in.hot = Interpreter.hotIndex(in);
                insns[n] = in;
                cur = in.nextRip;
            }
        } catch (RuntimeException x) {
            throw blockError(what, k, "code", "does not decode: " + x.getMessage());
        }
        Insn last = insns[k.count - 1];
        boolean crossesPage = pageOffset + (last.nextRip - 1 - k.rip) >= PhysicalMemory.PAGE_SIZE;
        if (crossesPage != (k.page2 >= 0)) throw blockError(what, k, "second page", "does not match where the code ends");
        boolean endsWithJump = (Families.TABLE.flags(last.op) & OpcodeTable.F_END) != 0;
        boolean loopsToItself = last.imm == k.rip && ControlTransfer.isNearRelative(last);
        return new Block(k.rip, k.linear, k.modeKey, k.hostStart, page, memory.codeGeneration(page), k.page2,
                k.page2 >= 0 ? memory.codeGeneration(k.page2) : 0, insns, k.count, endsWithJump, loopsToItself);
    }

    private static SnapshotException blockError(String what, BlockKey k, String field, String problem) {
        return new SnapshotException(String.format("%s: decoded block at RIP %#x: %s %s", what, k.rip, field, problem));
    }
}
