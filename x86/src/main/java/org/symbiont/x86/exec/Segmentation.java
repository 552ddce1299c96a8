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
        if (isExpandDown(ar)) {
            long upper = (ar & AR_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
            if (ea <= limit || last > upper) throw c.fault(vector, 0);
        } else if (last > limit) {
            throw c.fault(vector, 0);
        }
    }

    // ---- descriptors ----

    /**
     * Reads the 8-byte descriptor a selector names from the GDT or LDT, or raises
     * {@code vector} with the selector as error code when it lies beyond the table limit (or the
     * LDT is unusable).
     */
    public static long readDescriptor(Cpu c, int selector, int vector) {
        return readDescriptor(c, selector, vector, 0);
    }

    /** As {@link #readDescriptor(Cpu, int, int)}, with {@code ext} (0 or 1) or'ed into the error code. */
    public static long readDescriptor(Cpu c, int selector, int vector, int ext) {
        checkInTable(c, selector, 7, vector, ext);
        return c.readSys(descriptorAddress(c, selector), 8);
    }

    /**
     * The upper eight bytes of a 16-byte system descriptor (64-bit call gates, TSS and LDT
     * descriptors in IA-32e mode); the whole descriptor must lie within the table limit.
     */
    public static long readDescriptorHigh(Cpu c, int selector, int vector) {
        checkInTable(c, selector, 15, vector, 0);
        return c.readSys(descriptorAddress(c, selector) + 8, 8);
    }

    private static void checkInTable(Cpu c, int selector, int lastByte, int vector, int ext) {
        int index = selector & ~7;
        long limit;
        if ((selector & 4) != 0) {
            if ((c.segAttr[LDTR] & AR_UNUSABLE) != 0 || (c.segSel[LDTR] & ~3) == 0) {
                throw c.fault(vector, (selector & 0xFFFC) | ext);
            }
            limit = c.segLimit[LDTR];
        } else {
            limit = c.gdtLimit;
        }
        if (index + lastByte > limit) throw c.fault(vector, (selector & 0xFFFC) | ext);
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

    /**
     * Sets the accessed bit of a code/data descriptor in memory, as the processor does on a load;
     * returns the descriptor as now stored. Callers do this before changing any register, since
     * the write can fault (a read-only GDT page).
     */
    public static long markAccessed(Cpu c, int selector, long d) {
        if ((d & (1L << 40)) == 0) c.writeSys(descriptorAddress(c, selector) + 5, 1, ((d >>> 40) & 0xFF) | 1);
        return d | (1L << 40);
    }

    /** Fills a segment cache from a descriptor. */
    public static void loadCache(Cpu c, int seg, int selector, long d) {
        c.segSel[seg] = selector & 0xFFFF;
        c.segBase[seg] = descriptorBase(d);
        c.segLimit[seg] = descriptorLimit(d);
        int ar = descriptorAttr(d);
        // A code or data segment is cached as accessed; in system descriptors bit 0 is part of the type.
        c.segAttr[seg] = (ar & AR_S) != 0 ? ar | TYPE_ACCESSED : ar;
    }

    /**
     * Loads a segment cache with fixed flat values (base 0, 4 GiB limit), as SYSCALL, SYSRET,
     * SYSENTER and SYSEXIT do without reading the descriptor tables.
     */
    public static void loadFlat(Cpu c, int seg, int selector, int attr) {
        c.segSel[seg] = selector & 0xFFFF;
        c.segBase[seg] = 0;
        c.segLimit[seg] = 0xFFFF_FFFFL;
        c.segAttr[seg] = attr;
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

    /**
     * Loads CS from a code descriptor the caller has checked (and marked accessed, before
     * changing any other state), at the given privilege; CS.RPL becomes the new CPL.
     */
    public static void loadCodeSegment(Cpu c, int selector, long d, int newCpl) {
        loadCache(c, CS, (selector & ~3) | newCpl, d);
        c.cpl = newCpl;
        c.updateMode();
    }

    /**
     * After a far return or IRET to an outer privilege level, ES, DS, FS and GS that the new
     * CPL may not use become null (SDM Vol. 2A, RET and IRET): data and non-conforming code
     * segments whose DPL is below the new CPL. The selector is cleared and the segment marked
     * unusable; the base stays, so a 64-bit FS/GS base set through the MSRs survives.
     */
    public static void nullInaccessibleDataSegments(Cpu c) {
        for (int s = ES; s <= GS; s++) {
            if (s == CS || s == SS) continue;
            int ar = c.segAttr[s];
            boolean nullSelector = (c.segSel[s] & ~3) == 0;
            boolean conformingCode = (ar & (TYPE_CODE | TYPE_CONFORMING)) == (TYPE_CODE | TYPE_CONFORMING);
            if (nullSelector || (ar & AR_UNUSABLE) != 0) {
                c.segSel[s] = 0;
            } else if (dpl(ar) < c.cpl && !conformingCode) {
                c.segSel[s] = 0;
                c.segAttr[s] = ar | AR_UNUSABLE;
            }
        }
        refreshEffectiveSegments(c);
    }

    /** Whether a data segment of these access rights grows down. */
    public static boolean isExpandDown(int ar) {
        return (ar & AR_S) != 0 && (ar & (TYPE_CODE | TYPE_EXPAND_DOWN)) == TYPE_EXPAND_DOWN;
    }

    /**
     * Whether the bytes at offsets {@code sp - bytes .. sp - 1} (reduced by {@code spMask}) lie
     * within a stack segment of this limit and these access rights, for pushes onto a stack that
     * is not yet loaded in SS (SDM Vol. 3A, 5.3).
     */
    public static boolean roomBelow(long sp, long bytes, long spMask, long limit, int ar) {
        long low = (sp - bytes) & spMask, high = (sp - 1) & spMask;
        if (low > high) return !isExpandDown(ar) && limit >= spMask; // wraps: the whole range is used
        if (isExpandDown(ar)) {
            long upper = (ar & AR_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
            return low > limit && high <= upper;
        }
        return high <= limit;
    }
}
