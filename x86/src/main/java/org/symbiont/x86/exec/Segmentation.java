package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;

/**
 * Segment registers: descriptor-table lookups, loading the descriptor caches with the
 * protection checks of the SDM (Vol. 3A, chapter 5, and the MOV/POP Sreg pages of Vol. 2),
 * limit and type checks on accesses in legacy modes, and the effective bases used in 64-bit mode.
 */
public final class Segmentation {
    private Segmentation() {}

    // Access-rights bits (VMX layout, see Cpu.segAttr).
    public static final int AR_TYPE = 0xF, AR_S = 1 << 4, AR_DPL_SHIFT = 5, AR_P = 1 << 7;
    public static final int AR_L = 1 << 13, AR_DB = 1 << 14, AR_G = 1 << 15, AR_UNUSABLE = 1 << 16;
    // Type bits of code/data descriptors.
    public static final int TYPE_ACCESSED = 1, TYPE_WRITABLE = 2, TYPE_READABLE = 2, TYPE_EXPAND_DOWN = 4;
    public static final int TYPE_CONFORMING = 4, TYPE_CODE = 8;

    /** Data segment in real mode: selector and base only; limit and attributes stay (unreal mode). */
    public static void loadRealModeSegment(Cpu c, int seg, int selector) {
        c.segSel[seg] = selector & 0xFFFF;
        c.segBase[seg] = (long) (selector & 0xFFFF) << 4;
        if (c.segAttr[seg] == 0 || (c.segAttr[seg] & AR_UNUSABLE) != 0) {
            c.segLimit[seg] = 0xFFFF;
            c.segAttr[seg] = seg == CS ? 0x9B : 0x93;
        }
        if (seg == CS || seg == SS) c.updateMode();
        else refreshEffectiveSegments(c);
    }

    /** Recomputes the effective bases and which segments need checking after any segment change. */
    public static void refreshEffectiveSegments(Cpu c) {
        boolean mode64 = c.codeMode == Decoder.CODE64;
        int mask = 0;
        for (int s = ES; s <= GS; s++) {
            c.segEffBase[s] = mode64 && s < FS ? 0 : c.segBase[s];
            if (!mode64 && !isFlatData(c, s)) mask |= 1 << s;
        }
        c.segCheckMask = mask;
    }

    /** A present, writable, expand-up segment covering 4 GiB needs no per-access checks. */
    private static boolean isFlatData(Cpu c, int s) {
        int ar = c.segAttr[s];
        if ((ar & AR_UNUSABLE) != 0 || (ar & AR_P) == 0) return false;
        if (c.segLimit[s] != 0xFFFF_FFFFL) return false;
        int type = ar & AR_TYPE;
        if ((ar & AR_S) == 0) return false;
        if ((type & TYPE_CODE) != 0) return false;
        return (type & TYPE_WRITABLE) != 0 && (type & TYPE_EXPAND_DOWN) == 0;
    }

    /** Limit and type checks for an access through a segment outside 64-bit mode (SDM Vol. 3A, 5.3). */
    public static void checkAccess(Cpu c, int seg, long ea, int size, int access) {
        int ar = c.segAttr[seg];
        boolean pm = (c.cr0 & CR0_PE) != 0;
        int vector = seg == SS ? EXC_SS : EXC_GP;
        if (pm && (ar & AR_UNUSABLE) != 0) throw c.fault(vector, 0);
        int type = ar & AR_TYPE;
        if (pm && (ar & AR_S) != 0) {
            if ((type & TYPE_CODE) != 0) {
                if (access == Cpu.ACCESS_WRITE || (type & TYPE_READABLE) == 0) throw c.fault(vector, 0);
            } else if (access == Cpu.ACCESS_WRITE && (type & TYPE_WRITABLE) == 0) {
                throw c.fault(vector, 0);
            }
        }
        long last = ea + size - 1;
        long limit = c.segLimit[seg];
        if ((ar & AR_S) != 0 && (type & (TYPE_CODE | TYPE_EXPAND_DOWN)) == TYPE_EXPAND_DOWN) {
            long upper = (ar & AR_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
            if (ea <= limit || last > upper) throw c.fault(vector, 0);
        } else if (last > limit) {
            throw c.fault(vector, 0);
        }
    }

    // ---- descriptors ----

    /**
     * Reads the 8-byte descriptor a selector names from the GDT or LDT, or raises
     * {@code #GP(selector)} (or the given vector) when it lies beyond the table limit.
     */
    public static long readDescriptor(Cpu c, int selector, int vector) {
        int index = selector & ~7;
        long base;
        long limit;
        if ((selector & 4) != 0) {
            if ((c.segAttr[LDTR] & AR_UNUSABLE) != 0 || (c.segSel[LDTR] & ~3) == 0) throw c.fault(vector, selector & 0xFFFC);
            base = c.segBase[LDTR];
            limit = c.segLimit[LDTR];
        } else {
            base = c.gdtBase;
            limit = c.gdtLimit;
        }
        if (index + 7 > limit) throw c.fault(vector, selector & 0xFFFC);
        return c.readSys(base + index, 8);
    }

    /** Address of a descriptor in its table (for setting the accessed bit, or 16-byte system descriptors). */
    public static long descriptorAddress(Cpu c, int selector) {
        return ((selector & 4) != 0 ? c.segBase[LDTR] : c.gdtBase) + (selector & ~7);
    }

    public static long descriptorBase(long d) {
        return ((d >>> 16) & 0xFF_FFFFL) | ((d >>> 32) & 0xFF00_0000L);
    }

    public static long descriptorLimit(long d) {
        long limit = (d & 0xFFFF) | ((d >>> 32) & 0xF_0000L);
        return (d & (1L << 55)) != 0 ? (limit << 12) | 0xFFF : limit;
    }

    /** Access rights of a descriptor in the VMX layout. */
    public static int descriptorAttr(long d) {
        return (int) ((d >>> 40) & 0xFF) | (int) ((d >>> 52) & 0xF) << 12;
    }

    public static int dpl(int ar) {
        return (ar >>> AR_DPL_SHIFT) & 3;
    }

    /** Sets the accessed bit of a code/data descriptor in memory, as the processor does on a load. */
    public static void markAccessed(Cpu c, int selector, long d) {
        if ((d & (1L << 40)) == 0) c.writeSys(descriptorAddress(c, selector) + 5, 1, ((d >>> 40) & 0xFF) | 1);
    }

    /** Fills a segment cache from a descriptor. */
    public static void loadCache(Cpu c, int seg, int selector, long d) {
        c.segSel[seg] = selector & 0xFFFF;
        c.segBase[seg] = descriptorBase(d);
        c.segLimit[seg] = descriptorLimit(d);
        c.segAttr[seg] = descriptorAttr(d) | 1; // the cache holds the descriptor as accessed
    }

    /** Loads a null selector: the segment becomes unusable (64-bit mode allows it for SS at CPL < 3). */
    public static void loadNull(Cpu c, int seg, int selector) {
        c.segSel[seg] = selector & 0xFFFF;
        c.segBase[seg] = 0;
        c.segLimit[seg] = 0;
        c.segAttr[seg] = AR_UNUSABLE;
        if (seg == SS) c.updateMode();
        else refreshEffectiveSegments(c);
    }

    /**
     * MOV/POP/LDS-style load of a data segment register or SS in protected mode, with the
     * checks of SDM Vol. 2B "MOV—Move" (segment register loads). In real mode only the selector
     * and base change.
     */
    public static void loadDataSegment(Cpu c, int seg, int selector) {
        selector &= 0xFFFF;
        if ((c.cr0 & CR0_PE) == 0 || (c.rflags & VM) != 0) {
            loadRealModeSegment(c, seg, selector);
            return;
        }
        boolean mode64 = c.codeMode == Decoder.CODE64;
        int rpl = selector & 3;
        if ((selector & ~3) == 0) {
            if (seg == SS && !(mode64 && c.cpl != 3 && rpl == c.cpl)) throw c.gp0();
            loadNull(c, seg, selector);
            return;
        }
        long d = readDescriptor(c, selector, EXC_GP);
        int ar = descriptorAttr(d);
        int type = ar & AR_TYPE;
        int dpl = dpl(ar);
        if (seg == SS) {
            if (rpl != c.cpl || (ar & AR_S) == 0 || (type & TYPE_CODE) != 0 || (type & TYPE_WRITABLE) == 0
                    || dpl != c.cpl) {
                throw c.fault(EXC_GP, selector & 0xFFFC);
            }
            if ((ar & AR_P) == 0) throw c.fault(EXC_SS, selector & 0xFFFC);
        } else {
            if ((ar & AR_S) == 0 || ((type & TYPE_CODE) != 0 && (type & TYPE_READABLE) == 0)) {
                throw c.fault(EXC_GP, selector & 0xFFFC);
            }
            boolean conformingCode = (type & (TYPE_CODE | TYPE_CONFORMING)) == (TYPE_CODE | TYPE_CONFORMING);
            if (!conformingCode && (rpl > dpl || c.cpl > dpl)) throw c.fault(EXC_GP, selector & 0xFFFC);
            if ((ar & AR_P) == 0) throw c.fault(EXC_NP, selector & 0xFFFC);
        }
        markAccessed(c, selector, d);
        loadCache(c, seg, selector, d);
        if (seg == SS) c.updateMode();
        else refreshEffectiveSegments(c);
    }

    /** Loads CS from a code descriptor already checked by the caller, at the given privilege. */
    public static void loadCodeSegment(Cpu c, int selector, long d, int newCpl) {
        markAccessed(c, selector, d);
        loadCache(c, CS, (selector & ~3) | newCpl, d);
        c.cpl = newCpl;
        c.updateMode();
    }
}
