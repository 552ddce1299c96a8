package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Segmentation.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;

/**
 * Delivery of exceptions and interrupts: through the real-mode IVT, 16- and 32-bit protected-mode
 * interrupt and trap gates (privilege change via the TSS), and 64-bit IDT gates (IST stacks,
 * RSP0..2 from the 64-bit TSS), with the double-fault rules of SDM Vol. 3A, 6.15 (Table 6-5);
 * a fault while delivering a double fault shuts the processor down (a triple-fault exit).
 * Delivery is all-or-nothing: a fault while pushing the frame leaves the interrupted state intact.
 */
public final class Interrupts {
    private Interrupts() {}

    /** What raised the event: decides the EXT bit, the gate DPL check and the saved RIP. */
    public static final int KIND_EXCEPTION = 0, KIND_EXTERNAL = 1, KIND_SOFTWARE = 2, KIND_SOFT_EXCEPTION = 3;

    /** Delivers the fault recorded in the CPU; RIP is the faulting instruction. */
    public static Exit deliverException(Cpu c) {
        return deliver(c, c.faultVector, c.faultErrorCode, c.faultHasErrorCode, c.rip, KIND_EXCEPTION);
    }

    /** Delivers a trap-class exception after an instruction (single step); RIP is the next one. */
    public static Exit deliverTrap(Cpu c, int vector) {
        return deliver(c, vector, 0, false, c.rip, KIND_EXCEPTION);
    }

    /** Delivers an external interrupt or NMI at an instruction boundary. */
    public static Exit deliverExternal(Cpu c, int vector) {
        return deliver(c, vector, 0, false, c.rip, KIND_EXTERNAL);
    }

    /**
     * INT n, INT3, INTO, INT1: delivered by the instruction itself. A fault during delivery
     * propagates to the interpreter, which reports it at the INT instruction.
     */
    public static void softwareInterrupt(Cpu c, int vector, long returnRip, int kind) {
        dispatch(c, vector, 0, false, returnRip, kind);
        c.halted = false;
    }

    private static boolean contributory(int v) {
        return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP);
    }

    private static Exit deliver(Cpu c, int vector, int errorCode, boolean hasError, long returnRip, int kind) {
        for (int attempt = 0; ; attempt++) {
            try {
                dispatch(c, vector, errorCode, hasError, returnRip, kind);
                c.halted = false;
                return null;
            } catch (Fault f) {
                int second = c.faultVector;
                if (vector == EXC_DF || attempt > 4) {
                    return new Exit.TripleFault(String.format(
                            "exception %d while delivering a double fault (RIP %#x)", second, returnRip));
                }
                // SDM Vol. 3A, Table 6-5: contributory after contributory, or a contributory
                // exception or page fault after a page fault, make a double fault.
                boolean doubleFault = (contributory(vector) && contributory(second))
                        || (vector == EXC_PF && (contributory(second) || second == EXC_PF));
                if (doubleFault) {
                    vector = EXC_DF;
                    errorCode = 0;
                    hasError = true;
                } else {
                    vector = second;
                    errorCode = c.faultErrorCode;
                    hasError = c.faultHasErrorCode;
                }
                kind = KIND_EXCEPTION;
            } catch (ExitSignal x) {
                c.takeExit();
                c.pendingExit = null;
                return new Exit.TripleFault(String.format(
                        "delivery of vector %d touched memory-mapped I/O (IDT, GDT, TSS or stack outside RAM)", vector));
            }
        }
    }

    /** Error code for a fault caused by the IDT entry itself: index, IDT bit, EXT bit. */
    private static int idtError(int vector, int kind) {
        return vector << 3 | 2 | ext(kind);
    }

    private static int ext(int kind) {
        return kind == KIND_SOFTWARE || kind == KIND_SOFT_EXCEPTION ? 0 : 1;
    }

    private static void dispatch(Cpu c, int vector, int errorCode, boolean hasError, long returnRip, int kind) {
        if ((c.cr0 & CR0_PE) == 0) {
            deliverReal(c, vector, returnRip);
        } else if ((c.efer & EFER_LMA) != 0) {
            deliverLong(c, vector, errorCode, hasError, returnRip, kind);
        } else {
            deliverProtected(c, vector, errorCode, hasError, returnRip, kind);
        }
    }

    // ---- real mode: IVT of 4-byte far pointers ----

    private static void deliverReal(Cpu c, int vector, long returnRip) {
        if (vector * 4L + 3 > c.idtLimit) throw c.gp0();
        long entry = c.readSys(c.idtBase + vector * 4L, 4);
        long flags = c.getRflags() & 0xFFFF;
        long sp = c.gpr[RSP];
        long mask = c.stackSize == 4 ? 0xFFFF_FFFFL : 0xFFFF;
        long sp1 = (sp - 2) & mask, sp2 = (sp - 4) & mask, sp3 = (sp - 6) & mask;
        c.write16(SS, sp1, (int) flags);
        c.write16(SS, sp2, c.segSel[CS]);
        c.write16(SS, sp3, (int) returnRip);
        c.gpr[RSP] = (sp & ~mask) | sp3;
        c.rflags &= ~(IF | TF | AC | RF);
        Segmentation.loadRealModeSegment(c, CS, (int) (entry >>> 16));
        c.rip = entry & 0xFFFF;
    }

    // ---- IA-32e mode: 16-byte gates ----

    private static void deliverLong(Cpu c, int vector, int errorCode, boolean hasError, long returnRip, int kind) {
        if (vector * 16L + 15 > c.idtLimit) throw c.fault(EXC_GP, idtError(vector, kind));
        long gateLo = c.readSys(c.idtBase + vector * 16L, 8);
        long gateHi = c.readSys(c.idtBase + vector * 16L + 8, 8);
        int gateType = (int) (gateLo >>> 40) & 0x1F;
        int gateDpl = (int) (gateLo >>> 45) & 3;
        if (gateType != 0x0E && gateType != 0x0F) throw c.fault(EXC_GP, idtError(vector, kind));
        if (kind == KIND_SOFTWARE || kind == KIND_SOFT_EXCEPTION) {
            if (gateDpl < c.cpl) throw c.fault(EXC_GP, idtError(vector, kind));
        }
        if ((gateLo & (1L << 47)) == 0) throw c.fault(EXC_NP, idtError(vector, kind));
        int selector = (int) (gateLo >>> 16) & 0xFFFF;
        long target = (gateLo & 0xFFFF) | ((gateLo >>> 32) & 0xFFFF_0000L) | (gateHi << 32);
        int ist = (int) (gateLo >>> 32) & 7;

        long d = checkHandlerCode(c, selector, kind);
        int ar = descriptorAttr(d);
        if ((ar & AR_L) == 0 || (ar & AR_DB) != 0) throw c.fault(EXC_GP, (selector & 0xFFFC) | ext(kind));
        int newCpl = (ar & (TYPE_CODE | TYPE_CONFORMING)) == (TYPE_CODE | TYPE_CONFORMING) ? c.cpl : dpl(ar);

        long rsp;
        if (ist != 0) {
            rsp = readTss64(c, 0x24 + (ist - 1) * 8L, kind);
        } else if (newCpl < c.cpl) {
            rsp = readTss64(c, 4 + newCpl * 8L, kind);
        } else {
            rsp = c.gpr[RSP];
        }
        rsp &= ~0xFL;
        long oldRsp = c.gpr[RSP];
        long oldSs = c.segSel[SS];
        long oldCs = c.segSel[CS];
        long flags = c.getRflags();
        boolean user = newCpl == 3;
        long sp = rsp;
        sp = push64(c, sp, oldSs, user);
        sp = push64(c, sp, oldRsp, user);
        sp = push64(c, sp, flags, user);
        sp = push64(c, sp, oldCs, user);
        sp = push64(c, sp, returnRip, user);
        if (hasError) sp = push64(c, sp, errorCode & 0xFFFF_FFFFL, user);

        // Commit.
        if (newCpl != c.cpl) loadNull(c, SS, newCpl);
        loadCodeSegment(c, selector, d, newCpl);
        c.gpr[RSP] = sp;
        c.rip = target;
        c.rflags &= ~(TF | NT | RF | VM);
        if (gateType == 0x0E) c.rflags &= ~IF;
    }

    private static long push64(Cpu c, long sp, long v, boolean user) {
        sp -= 8;
        if ((sp << 16 >> 16) != sp) throw c.fault(EXC_SS, 0);
        if (user) c.writeL64(SS, sp, v);
        else c.writeSys(sp, 8, v);
        return sp;
    }

    private static long readTss64(Cpu c, long offset, int kind) {
        if (offset + 7 > c.segLimit[TR]) throw c.fault(EXC_TS, (c.segSel[TR] & 0xFFFC) | ext(kind));
        return c.readSys(c.segBase[TR] + offset, 8);
    }

    /** Checks the handler's code segment; returns its descriptor. */
    private static long checkHandlerCode(Cpu c, int selector, int kind) {
        int e = ext(kind);
        if ((selector & ~3) == 0) throw c.fault(EXC_GP, e);
        long d;
        try {
            d = readDescriptor(c, selector, EXC_GP);
        } catch (Fault f) {
            throw c.fault(EXC_GP, (selector & 0xFFFC) | e);
        }
        int ar = descriptorAttr(d);
        if ((ar & AR_S) == 0 || (ar & TYPE_CODE) == 0 || dpl(ar) > c.cpl) {
            throw c.fault(EXC_GP, (selector & 0xFFFC) | e);
        }
        if ((ar & AR_P) == 0) throw c.fault(EXC_NP, (selector & 0xFFFC) | e);
        return d;
    }

    // ---- legacy protected mode: 8-byte gates ----

    private static void deliverProtected(Cpu c, int vector, int errorCode, boolean hasError, long returnRip, int kind) {
        if ((c.rflags & VM) != 0) throw c.gp0();
        if (vector * 8L + 7 > c.idtLimit) throw c.fault(EXC_GP, idtError(vector, kind));
        long gate = c.readSys(c.idtBase + vector * 8L, 8);
        int gateType = (int) (gate >>> 40) & 0x1F;
        int gateDpl = (int) (gate >>> 45) & 3;
        boolean gate32;
        switch (gateType) {
            case 0x06, 0x07 -> gate32 = false;
            case 0x0E, 0x0F -> gate32 = true;
            default -> throw c.fault(EXC_GP, idtError(vector, kind)); // task gates are not modelled
        }
        if ((kind == KIND_SOFTWARE || kind == KIND_SOFT_EXCEPTION) && gateDpl < c.cpl) {
            throw c.fault(EXC_GP, idtError(vector, kind));
        }
        if ((gate & (1L << 47)) == 0) throw c.fault(EXC_NP, idtError(vector, kind));
        int selector = (int) (gate >>> 16) & 0xFFFF;
        long target = (gate & 0xFFFF) | ((gate >>> 32) & 0xFFFF_0000L);
        if (!gate32) target &= 0xFFFF;
        long d = checkHandlerCode(c, selector, kind);
        int ar = descriptorAttr(d);
        boolean conforming = (ar & (TYPE_CODE | TYPE_CONFORMING)) == (TYPE_CODE | TYPE_CONFORMING);
        int newCpl = conforming ? c.cpl : dpl(ar);
        if (target > descriptorLimit(d)) throw c.fault(EXC_GP, ext(kind));

        int size = gate32 ? 4 : 2;
        long flags = c.getRflags();
        long oldEsp = c.gpr[RSP];
        int oldSs = c.segSel[SS];
        int oldCs = c.segSel[CS];

        int newSsSel;
        long newSsDesc = 0;
        long ssBase, ssLimit, sp;
        boolean ssBig;
        boolean privilegeChange = newCpl < c.cpl;
        if (privilegeChange) {
            // SS:ESP for the new privilege level from a 32-bit TSS (offsets 4 + 8n, 8 + 8n).
            int tssType = c.segAttr[TR] & AR_TYPE;
            boolean tss32 = (tssType & 8) != 0;
            long off = tss32 ? 4 + newCpl * 8L : 2 + newCpl * 4L;
            int wordSize = tss32 ? 4 : 2;
            if (off + wordSize + 1 > c.segLimit[TR]) throw c.fault(EXC_TS, (c.segSel[TR] & 0xFFFC) | ext(kind));
            sp = c.readSys(c.segBase[TR] + off, wordSize);
            newSsSel = (int) c.readSys(c.segBase[TR] + off + wordSize, 2);
            if ((newSsSel & ~3) == 0 || (newSsSel & 3) != newCpl) throw c.fault(EXC_TS, (newSsSel & 0xFFFC) | ext(kind));
            try {
                newSsDesc = readDescriptor(c, newSsSel, EXC_TS);
            } catch (Fault f) {
                throw c.fault(EXC_TS, (newSsSel & 0xFFFC) | ext(kind));
            }
            int ssAr = descriptorAttr(newSsDesc);
            if ((ssAr & AR_S) == 0 || (ssAr & TYPE_CODE) != 0 || (ssAr & TYPE_WRITABLE) == 0 || dpl(ssAr) != newCpl) {
                throw c.fault(EXC_TS, (newSsSel & 0xFFFC) | ext(kind));
            }
            if ((ssAr & AR_P) == 0) throw c.fault(EXC_SS, (newSsSel & 0xFFFC) | ext(kind));
            ssBase = descriptorBase(newSsDesc);
            ssLimit = descriptorLimit(newSsDesc);
            ssBig = (ssAr & AR_DB) != 0;
        } else {
            newSsSel = oldSs;
            ssBase = c.segBase[SS];
            ssLimit = c.segLimit[SS];
            ssBig = c.stackSize == 4;
            sp = oldEsp;
        }
        long spMask = ssBig ? 0xFFFF_FFFFL : 0xFFFF;
        boolean user = newCpl == 3;
        int frames = (privilegeChange ? 5 : 3) + (hasError ? 1 : 0);
        long newSp = (sp - (long) frames * size) & spMask;
        if (newSp > ssLimit || ((sp - 1) & spMask) > ssLimit) {
            throw c.fault(EXC_SS, privilegeChange ? (newSsSel & 0xFFFC) | ext(kind) : ext(kind));
        }
        long at = sp;
        if (privilegeChange) {
            at = pushLegacy(c, ssBase, at, spMask, size, oldSs, user);
            at = pushLegacy(c, ssBase, at, spMask, size, oldEsp, user);
        }
        at = pushLegacy(c, ssBase, at, spMask, size, flags, user);
        at = pushLegacy(c, ssBase, at, spMask, size, oldCs, user);
        at = pushLegacy(c, ssBase, at, spMask, size, returnRip, user);
        if (hasError) at = pushLegacy(c, ssBase, at, spMask, size, errorCode, user);

        // Commit.
        if (privilegeChange) {
            markAccessed(c, newSsSel, newSsDesc);
            loadCache(c, SS, newSsSel, newSsDesc);
        }
        loadCodeSegment(c, selector, d, newCpl);
        c.gpr[RSP] = (sp & ~spMask) | (at & spMask);
        c.rip = target;
        c.rflags &= ~(TF | NT | RF | VM);
        if ((gateType & 1) == 0) c.rflags &= ~IF;
    }

    private static long pushLegacy(Cpu c, long ssBase, long sp, long spMask, int size, long v, boolean user) {
        sp = (sp - size) & spMask;
        long la = (ssBase + sp) & 0xFFFF_FFFFL;
        if (user) c.writeL(SS, la, size, v);
        else c.writeSys(la, size, v);
        return sp;
    }
}
