package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.CS;

import java.util.Arrays;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;
import org.symbiont.x86.memory.PhysicalMemory;

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
}
