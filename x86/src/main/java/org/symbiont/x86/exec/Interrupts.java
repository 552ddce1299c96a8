package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Segmentation.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;

/**
 * Delivery of exceptions and interrupts (SDM Vol. 3A, 6.12-6.15): through the real-mode IVT,
 * 16- and 32-bit protected-mode interrupt and trap gates (privilege change through SS:ESP of a
 * 16- or 32-bit TSS, conforming handlers staying at the current privilege), and 64-bit IDT gates
 * (IST stacks, RSP0..2 from the 64-bit TSS, the stack aligned to 16 bytes), with the error codes
 * of SDM 6.13 (EXT and IDT bits) and the double-fault rules of SDM 6.15 (Table 6-5); a fault
 * while delivering a double fault shuts the processor down, reported as {@link Exit.TripleFault}.
 *
 * <p>Delivery is all-or-nothing: every check, table read and stack write happens before any
 * register changes, so a fault during delivery leaves the interrupted state intact (only stack
 * memory below the old or new stack pointer may have been written).
 *
 * <p>Not modelled: task switching (a task gate in the IDT raises #GP with the IDT error code)
 * and virtual-8086 mode (no instruction ever sets RFLAGS.VM, see {@link FarTransfer}, so no
 * event is delivered from it).
 */
public final class Interrupts {
    private Interrupts() {}

    /**
     * What raised the event: decides the EXT bit, the gate DPL check and the saved RIP.
     * <ul>
     * <li>{@code KIND_EXCEPTION}: a fault or trap the processor detected (EXT = 1 in errors
     *     raised while delivering it, no gate DPL check);
     * <li>{@code KIND_EXTERNAL}: an external interrupt or NMI (EXT = 1, no DPL check, never
     *     combines into a double fault);
     * <li>{@code KIND_SOFTWARE}: INT n (EXT = 0, gate DPL must be at least CPL);
     * <li>{@code KIND_SOFT_EXCEPTION}: INT3 and INTO (as INT n);
     * <li>{@code KIND_PRIVILEGED_SOFT_EXCEPTION}: INT1 (ICEBP), delivered like a hardware #DB:
     *     EXT = 1 and no DPL check (SDM Vol. 2A, INT n pseudo-code: the DPL check "does not apply
     *     to INT1"; Vol. 3A 6.13: EXT is clear only for INT n, INT3 and INTO).
     * </ul>
     */
    public static final int KIND_EXCEPTION = 0, KIND_EXTERNAL = 1, KIND_SOFTWARE = 2, KIND_SOFT_EXCEPTION = 3;
    public static final int KIND_PRIVILEGED_SOFT_EXCEPTION = 4;

    /** Gate types (descriptor type field with S = 0). */
    private static final int TASK_GATE = 0x05, INT_GATE16 = 0x06, TRAP_GATE16 = 0x07, INT_GATE = 0x0E, TRAP_GATE = 0x0F;

    /**
     * Delivery faults are only #TS, #NP, #SS, #GP and #PF, so any chain of them reaches a double
     * fault within four deliveries; the bound guards the loop should that ever change.
     */
    private static final int MAX_NESTED_DELIVERIES = 8;

    /** Delivers the fault recorded in the CPU; RIP is the faulting instruction. */
    public static Exit deliverException(Cpu c) {
        return deliver(c, c.faultVector, c.faultErrorCode, c.faultHasErrorCode, c.rip, KIND_EXCEPTION, RF);
    }

    /** Delivers again the event whose delivery left with a paging exit the VMM has answered. */
    public static Exit redeliver(Cpu c) {
        c.redeliveryPending = false;
        Exit e = deliver(c, c.redeliverVector, c.redeliverErrorCode, c.redeliverHasError, c.redeliverReturnRip,
                c.redeliverKind, c.redeliverPushedRf);
        if (e == null || !c.redeliveryPending) c.replayLength = c.replayPosition = 0;
        return e;
    }

    /** Delivers a trap-class exception after an instruction (single step); RIP is the next one. */
    public static Exit deliverTrap(Cpu c, int vector) {
        return deliver(c, vector, 0, false, c.rip, KIND_EXCEPTION, 0);
    }

    /** Delivers an external interrupt or NMI at an instruction boundary. */
    public static Exit deliverExternal(Cpu c, int vector) {
        return deliver(c, vector, 0, false, c.rip, KIND_EXTERNAL, 0);
    }

    /**
     * INT n, INT3, INTO, INT1: delivered by the instruction itself. A fault during delivery
     * propagates to the interpreter, which reports it at the INT instruction (a software
     * interrupt never combines into a double fault).
     */
    public static void softwareInterrupt(Cpu c, int vector, long returnRip, int kind) {
        dispatch(c, vector, 0, false, returnRip, kind, 0);
        c.halted = false;
    }

    private static boolean contributory(int v) {
        return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP);
    }

    /**
     * @param pushedRf RF for the saved RFLAGS image: set for fault-class exceptions (SDM Vol. 3A,
     *                 17.3.1.1: the handler of a fault returns to an instruction that must not
     *                 break again); for traps and interrupts the image holds RFLAGS.RF as it is
     */
    private static Exit deliver(Cpu c, int vector, int errorCode, boolean hasError, long returnRip, int kind, long pushedRf) {
        if (c.exceptionExiting) return new Exit.ExceptionIntercepted(vector, errorCode, c.rip);
        for (int nested = 0; ; nested++) {
            try {
                dispatch(c, vector, errorCode, hasError, returnRip, kind, pushedRf);
                c.halted = false;
                return null;
            } catch (Fault f) {
                int second = c.faultVector;
                boolean exception = kind == KIND_EXCEPTION;
                if ((exception && vector == EXC_DF) || nested >= MAX_NESTED_DELIVERIES) {
                    return new Exit.TripleFault(String.format(
                            "exception %d while delivering a double fault (RIP %#x)", second, returnRip));
                }
                // SDM Vol. 3A, Table 6-5: a contributory exception while delivering a contributory
                // exception, or a contributory exception or page fault while delivering a page
                // fault, makes a double fault. Anything else (and any fault while delivering an
                // external interrupt or NMI) is delivered after the first event, serially.
                boolean doubleFault = exception
                        && ((contributory(vector) && contributory(second))
                            || (vector == EXC_PF && (contributory(second) || second == EXC_PF)));
                if (doubleFault) {
                    vector = EXC_DF;
                    errorCode = 0;
                    hasError = true;
                    pushedRf = 0; // an abort, not a fault
                } else {
                    vector = second;
                    errorCode = c.faultErrorCode;
                    hasError = c.faultHasErrorCode;
                    pushedRf = RF;
                }
                kind = KIND_EXCEPTION;
            } catch (ExitSignal x) {
                Exit e = c.takeExit();
                if (e instanceof Exit.PagingFault || e instanceof Exit.ShadowFault || e instanceof Exit.ShadowPageTableWrite) {
                    // Shadow or nested paging needs the VMM for a page the delivery touches; delivery
                    // commits nothing before its last access, so it starts again once answered.
                    c.redeliveryPending = true;
                    c.redeliverVector = vector;
                    c.redeliverErrorCode = errorCode;
                    c.redeliverHasError = hasError;
                    c.redeliverReturnRip = returnRip;
                    c.redeliverKind = kind;
                    c.redeliverPushedRf = pushedRf;
                    return e;
                }
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

    /** The EXT bit of error codes raised while delivering an event of this kind (SDM Vol. 3A, 6.13). */
    private static int ext(int kind) {
        return kind == KIND_SOFTWARE || kind == KIND_SOFT_EXCEPTION ? 0 : 1;
    }

    /** INT n, INT3 and INTO may only use gates whose DPL is at least CPL (INT1 may use any). */
    private static boolean checksGateDpl(int kind) {
        return kind == KIND_SOFTWARE || kind == KIND_SOFT_EXCEPTION;
    }

    private static void dispatch(Cpu c, int vector, int errorCode, boolean hasError, long returnRip, int kind, long pushedRf) {
        if ((c.cr0 & CR0_PE) == 0) {
            deliverReal(c, vector, returnRip);
        } else if ((c.efer & EFER_LMA) != 0) {
            deliverLong(c, vector, errorCode, hasError, returnRip, kind, pushedRf);
        } else {
            deliverProtected(c, vector, errorCode, hasError, returnRip, kind, pushedRf);
        }
    }

    // ---- real mode: IVT of 4-byte far pointers (SDM Vol. 3A, 21.1.4); no error codes ----

    private static void deliverReal(Cpu c, int vector, long returnRip) {
        if (vector * 4L + 3 > c.idtLimit) throw c.gp0();
        long entry = c.readSys(c.idtBase + vector * 4L, 4);
        long flags = c.getRflags() & 0xFFFF;
        long sp = c.gpr[RSP];
        long mask = StackOps.stackMask(c);
        long sp1 = (sp - 2) & mask, sp2 = (sp - 4) & mask, sp3 = (sp - 6) & mask;
        c.write16(SS, sp1, (int) flags);
        c.write16(SS, sp2, c.segSel[CS]);
        c.write16(SS, sp3, (int) returnRip);
        c.gpr[RSP] = (sp & ~mask) | sp3;
        c.rflags &= ~(IF | TF | AC);
        Segmentation.loadRealModeSegment(c, CS, (int) (entry >>> 16));
        c.rip = entry & 0xFFFF;
    }

    // ---- IA-32e mode: 16-byte gates (SDM Vol. 3A, 6.14) ----

    private static void deliverLong(Cpu c, int vector, int errorCode, boolean hasError, long returnRip, int kind, long pushedRf) {
        int e = ext(kind);
        if (vector * 16L + 15 > c.idtLimit) throw c.fault(EXC_GP, idtError(vector, kind));
        long gateLo = c.readSys(c.idtBase + vector * 16L, 8);
        long gateHi = c.readSys(c.idtBase + vector * 16L + 8, 8);
        int gateType = (int) (gateLo >>> 40) & 0x1F;
        int gateDpl = (int) (gateLo >>> 45) & 3;
        if (gateType != INT_GATE && gateType != TRAP_GATE) throw c.fault(EXC_GP, idtError(vector, kind));
        if (checksGateDpl(kind) && gateDpl < c.cpl) throw c.fault(EXC_GP, idtError(vector, kind));
        if ((gateLo & (1L << 47)) == 0) throw c.fault(EXC_NP, idtError(vector, kind));
        int selector = (int) (gateLo >>> 16) & 0xFFFF;
        long target = (gateLo & 0xFFFF) | ((gateLo >>> 32) & 0xFFFF_0000L) | (gateHi << 32);
        int ist = (int) (gateLo >>> 32) & 7;

        long d = checkHandlerCode(c, selector, e);
        int ar = descriptorAttr(d);
        if ((ar & AR_L) == 0 || (ar & AR_DB) != 0) throw c.fault(EXC_GP, (selector & 0xFFFC) | e);
        boolean conforming = (ar & TYPE_CONFORMING) != 0;
        int newCpl = conforming ? c.cpl : dpl(ar);
        if (!canonical(target)) throw c.fault(EXC_GP, 0);

        // The new stack: an IST entry, RSPn of the 64-bit TSS on a privilege change, or the
        // current stack; aligned to 16 bytes in every case (SDM 6.14.2).
        boolean stackSwitch = ist != 0 || newCpl < c.cpl;
        long rsp;
        if (ist != 0) rsp = readTss64(c, 0x24 + (ist - 1) * 8L, e);
        else if (newCpl < c.cpl) rsp = readTss64(c, 4 + newCpl * 8L, e);
        else rsp = c.gpr[RSP];
        rsp &= ~0xFL;
        int frameBytes = (hasError ? 6 : 5) * 8;
        if (!canonical(rsp - 1) || !canonical(rsp - frameBytes)) throw c.fault(EXC_SS, stackSwitch ? e : 0);

        boolean user = newCpl == 3;
        long sp = rsp;
        sp = push(c, sp, 8, c.segSel[SS], user);
        sp = push(c, sp, 8, c.gpr[RSP], user);
        sp = push(c, sp, 8, c.getRflags() | pushedRf, user);
        sp = push(c, sp, 8, c.segSel[CS], user);
        sp = push(c, sp, 8, returnRip, user);
        if (hasError) sp = push(c, sp, 8, errorCode & 0xFFFF_FFFFL, user);
        d = markAccessed(c, selector, d);

        // Commit. On a privilege change SS becomes a null selector with RPL = new CPL.
        if (newCpl != c.cpl) loadNull(c, SS, newCpl);
        loadCodeSegment(c, selector, d, newCpl);
        c.gpr[RSP] = sp;
        c.rip = target;
        c.rflags &= ~(TF | NT | RF | VM);
        if (gateType == INT_GATE) c.rflags &= ~IF;
    }

    private static boolean canonical(long a) {
        return (a << 16 >> 16) == a;
    }

    /** Writes one slot of a 64-bit frame below {@code sp}; returns the new stack pointer. */
    private static long push(Cpu c, long sp, int size, long v, boolean user) {
        sp -= size;
        writeStack(c, sp, size, v, user);
        return sp;
    }

    /**
     * Writes to a stack that is not (or not yet) the one SS describes, at the privilege the
     * transfer enters: a supervisor access unless the new CPL is 3 (then the CPL is already 3).
     */
    static void writeStack(Cpu c, long la, int size, long v, boolean user) {
        if (user) c.writeL(SS, la, size, v);
        else c.writeSys(la, size, v);
    }

    /** Reads a stack pointer from the 64-bit TSS, or #TS(TSS selector) beyond its limit. */
    static long readTss64(Cpu c, long offset, int ext) {
        if (offset + 7 > c.segLimit[TR]) throw c.fault(EXC_TS, (c.segSel[TR] & 0xFFFC) | ext);
        return c.readSys(c.segBase[TR] + offset, 8);
    }

    /** Checks the handler's code segment (null, table limit, type, DPL, present); returns its descriptor. */
    private static long checkHandlerCode(Cpu c, int selector, int e) {
        if ((selector & ~3) == 0) throw c.fault(EXC_GP, e);
        long d = readDescriptor(c, selector, EXC_GP, e);
        int ar = descriptorAttr(d);
        if ((ar & AR_S) == 0 || (ar & TYPE_CODE) == 0 || dpl(ar) > c.cpl) {
            throw c.fault(EXC_GP, (selector & 0xFFFC) | e);
        }
        if ((ar & AR_P) == 0) throw c.fault(EXC_NP, (selector & 0xFFFC) | e);
        return d;
    }

    // ---- legacy protected mode: 8-byte gates (SDM Vol. 3A, 6.12) ----

    private static void deliverProtected(Cpu c, int vector, int errorCode, boolean hasError, long returnRip, int kind, long pushedRf) {
        int e = ext(kind);
        if (vector * 8L + 7 > c.idtLimit) throw c.fault(EXC_GP, idtError(vector, kind));
        long gate = c.readSys(c.idtBase + vector * 8L, 8);
        int gateType = (int) (gate >>> 40) & 0x1F;
        int gateDpl = (int) (gate >>> 45) & 3;
        if (gateType != TASK_GATE && gateType != INT_GATE16 && gateType != TRAP_GATE16
                && gateType != INT_GATE && gateType != TRAP_GATE) {
            throw c.fault(EXC_GP, idtError(vector, kind));
        }
        if (checksGateDpl(kind) && gateDpl < c.cpl) throw c.fault(EXC_GP, idtError(vector, kind));
        if ((gate & (1L << 47)) == 0) throw c.fault(EXC_NP, idtError(vector, kind));
        // Task switching is not modelled: a task gate is refused like an invalid IDT entry.
        if (gateType == TASK_GATE) throw c.fault(EXC_GP, idtError(vector, kind));
        boolean gate32 = gateType >= INT_GATE;
        int selector = (int) (gate >>> 16) & 0xFFFF;
        long target = (gate & 0xFFFF) | ((gate >>> 32) & 0xFFFF_0000L);
        if (!gate32) target &= 0xFFFF;
        long d = checkHandlerCode(c, selector, e);
        int ar = descriptorAttr(d);
        boolean conforming = (ar & TYPE_CONFORMING) != 0;
        int newCpl = conforming ? c.cpl : dpl(ar);
        if (target > descriptorLimit(d)) throw c.fault(EXC_GP, e);

        int size = gate32 ? 4 : 2;
        boolean privilegeChange = newCpl < c.cpl;
        int newSsSel = c.segSel[SS];
        long newSsDesc = 0;
        long ssBase = c.segBase[SS], ssLimit = c.segLimit[SS], sp = c.gpr[RSP];
        int ssAr = c.segAttr[SS];
        if (privilegeChange) {
            long[] ssEsp = innerStack(c, newCpl, e);
            sp = ssEsp[0];
            newSsSel = (int) ssEsp[1];
            newSsDesc = ssEsp[2];
            ssAr = descriptorAttr(newSsDesc);
            ssBase = descriptorBase(newSsDesc);
            ssLimit = descriptorLimit(newSsDesc);
        }
        long spMask = (ssAr & AR_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
        int frameBytes = ((privilegeChange ? 5 : 3) + (hasError ? 1 : 0)) * size;
        if (!roomBelow(sp, frameBytes, spMask, ssLimit, ssAr)) {
            throw c.fault(EXC_SS, privilegeChange ? (newSsSel & 0xFFFC) | e : e);
        }
        boolean user = newCpl == 3;
        long at = sp;
        if (privilegeChange) {
            at = pushLegacy(c, ssBase, at, spMask, size, c.segSel[SS], user);
            at = pushLegacy(c, ssBase, at, spMask, size, c.gpr[RSP], user);
        }
        at = pushLegacy(c, ssBase, at, spMask, size, c.getRflags() | pushedRf, user);
        at = pushLegacy(c, ssBase, at, spMask, size, c.segSel[CS], user);
        at = pushLegacy(c, ssBase, at, spMask, size, returnRip, user);
        if (hasError) at = pushLegacy(c, ssBase, at, spMask, size, errorCode, user);
        if (privilegeChange) newSsDesc = markAccessed(c, newSsSel, newSsDesc);
        d = markAccessed(c, selector, d);

        // Commit.
        if (privilegeChange) loadCache(c, SS, newSsSel, newSsDesc);
        loadCodeSegment(c, selector, d, newCpl);
        c.gpr[RSP] = (sp & ~spMask) | (at & spMask);
        c.rip = target;
        c.rflags &= ~(TF | NT | RF | VM);
        if (gateType == INT_GATE || gateType == INT_GATE16) c.rflags &= ~IF;
    }

    /**
     * The stack for a more privileged level from a 16- or 32-bit TSS, checked as the SDM's
     * inter-privilege interrupt and call-gate procedures check it: returns {ESP, SS selector,
     * SS descriptor}. Faults: #TS(TSS) beyond the TSS limit, #TS(SS) for a bad selector or
     * descriptor, #SS(SS) when not present; {@code ext} goes into every error code.
     */
    static long[] innerStack(Cpu c, int newCpl, int ext) {
        boolean tss32 = (c.segAttr[TR] & 8) != 0;
        long off = tss32 ? 4 + newCpl * 8L : 2 + newCpl * 4L;
        int wordSize = tss32 ? 4 : 2;
        if (off + wordSize + 1 > c.segLimit[TR]) throw c.fault(EXC_TS, (c.segSel[TR] & 0xFFFC) | ext);
        long sp = c.readSys(c.segBase[TR] + off, wordSize);
        int ssSel = (int) c.readSys(c.segBase[TR] + off + wordSize, 2);
        if ((ssSel & ~3) == 0) throw c.fault(EXC_TS, ext);
        if ((ssSel & 3) != newCpl) throw c.fault(EXC_TS, (ssSel & 0xFFFC) | ext);
        long ssDesc = readDescriptor(c, ssSel, EXC_TS, ext);
        int ssAr = descriptorAttr(ssDesc);
        if ((ssAr & AR_S) == 0 || (ssAr & TYPE_CODE) != 0 || (ssAr & TYPE_WRITABLE) == 0 || dpl(ssAr) != newCpl) {
            throw c.fault(EXC_TS, (ssSel & 0xFFFC) | ext);
        }
        if ((ssAr & AR_P) == 0) throw c.fault(EXC_SS, (ssSel & 0xFFFC) | ext);
        return new long[] {sp, ssSel, ssDesc};
    }

    /** Writes one slot below {@code sp} of a legacy stack with the given base; returns the new offset. */
    static long pushLegacy(Cpu c, long ssBase, long sp, long spMask, int size, long v, boolean user) {
        sp = (sp - size) & spMask;
        writeStack(c, (ssBase + sp) & 0xFFFF_FFFFL, size, v, user);
        return sp;
    }
}
