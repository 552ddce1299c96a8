package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;
import static org.symbiont.x86.exec.Segmentation.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Segment-register loads and far control transfers: MOV to and from segment registers, PUSH and
 * POP of segment registers, LDS/LES/LSS/LFS/LGS, far JMP/CALL (to code segments and through call
 * gates), far RET, IRET, INT n/INT3/INTO/INT1, SYSCALL/SYSRET and SYSENTER/SYSEXIT, in real,
 * protected and IA-32e mode (SDM Vol. 2A/2B instruction pages; Vol. 3A, 5.8 and 6.12-6.14).
 *
 * <p>Every handler reads and checks everything (stack slots, descriptors, the TSS, the new stack)
 * and sets descriptors' accessed bits before it changes a register, so a fault leaves the
 * instruction without effect. A transfer that changes CS updates the CPL and the derived mode
 * ({@link Segmentation#loadCodeSegment}).
 *
 * <p>Not modelled, and refused as documented at each place: task switches (a far JMP/CALL to a
 * TSS or task gate, IRET with NT = 1) and virtual-8086 mode (IRET to VM = 1), both with #GP.
 */
public final class FarTransfer {
    private FarTransfer() {}

    private static final int MOV_SREG = 0, MOV_SS = 1, MOV_E_SREG = 2, PUSH_SREG = 3, POP_SREG = 4, POP_SS = 5;
    private static final int LOAD_FAR_POINTER = 6, JMP_FAR = 7, JMP_FAR_M = 8, CALL_FAR = 9, CALL_FAR_M = 10;
    private static final int RETF = 11, RETF_IMM = 12, IRET = 13, INT = 14, INT3 = 15, INTO = 16, INT1 = 17;
    private static final int SYSCALL = 18, SYSRET = 19, SYSENTER = 20, SYSEXIT = 21;

    // Call-gate types (in IA-32e mode type 0xC is the 64-bit call gate and type 4 is invalid).
    private static final int CALL_GATE16 = 0x4, CALL_GATE32 = 0xC;

    // Fixed access rights SYSCALL/SYSRET/SYSENTER/SYSEXIT load (execute/read code or read/write
    // data, accessed, present, 4 KiB granularity).
    private static final int CODE64_DPL0 = 0xA09B, CODE32_DPL0 = 0xC09B, DATA_DPL0 = 0xC093;
    private static final int CODE64_DPL3 = 0xA0FB, CODE32_DPL3 = 0xC0FB, DATA_DPL3 = 0xC0F3;

    private static int op(int index) {
        return Families.op(Families.FAR, index);
    }

    static void register(OpcodeTable t) {
        t.define(op(MOV_SREG), "mov Sreg,Ew", 0);
        for (int sreg : new int[] {ES, DS, FS, GS}) t.at(MAP_1, 0x8E).reg(sreg).is(op(MOV_SREG));
        // MOV SS inhibits interrupts for one instruction, so it ends the block. MOV CS and the
        // encodings 6 and 7 are not registered: #UD.
        t.define(op(MOV_SS), "mov ss,Ew", F_END);
        t.at(MAP_1, 0x8E).reg(SS).is(op(MOV_SS));
        t.define(op(MOV_E_SREG), "mov Ev,Sreg", 0);
        for (int sreg = ES; sreg <= GS; sreg++) t.at(MAP_1, 0x8C).reg(sreg).is(op(MOV_E_SREG));

        t.define(op(PUSH_SREG), "push Sreg", 0);
        for (int opcode : new int[] {0x06, 0x0E, 0x16, 0x1E}) t.at(MAP_1, opcode).is(op(PUSH_SREG));
        t.at(MAP_0F, 0xA0).is(op(PUSH_SREG));
        t.at(MAP_0F, 0xA8).is(op(PUSH_SREG));
        t.define(op(POP_SREG), "pop Sreg", 0);
        for (int opcode : new int[] {0x07, 0x1F}) t.at(MAP_1, opcode).is(op(POP_SREG));
        t.at(MAP_0F, 0xA1).is(op(POP_SREG));
        t.at(MAP_0F, 0xA9).is(op(POP_SREG));
        t.define(op(POP_SS), "pop ss", F_END);
        t.at(MAP_1, 0x17).is(op(POP_SS));

        t.define(op(LOAD_FAR_POINTER), "lds/les/lss/lfs/lgs Gv,Mp", 0);
        t.at(MAP_1, 0xC4).mem().is(op(LOAD_FAR_POINTER));
        t.at(MAP_1, 0xC5).mem().is(op(LOAD_FAR_POINTER));
        t.at(MAP_0F, 0xB2).mem().is(op(LOAD_FAR_POINTER));
        t.at(MAP_0F, 0xB4).mem().is(op(LOAD_FAR_POINTER));
        t.at(MAP_0F, 0xB5).mem().is(op(LOAD_FAR_POINTER));

        t.define(op(JMP_FAR), "jmp ptr16:16/32", F_END);
        t.at(MAP_1, 0xEA).is(op(JMP_FAR));
        t.define(op(JMP_FAR_M), "jmp m16:16/32/64", F_END);
        t.at(MAP_1, 0xFF).reg(5).mem().is(op(JMP_FAR_M));
        t.define(op(CALL_FAR), "call ptr16:16/32", F_END);
        t.at(MAP_1, 0x9A).is(op(CALL_FAR));
        t.define(op(CALL_FAR_M), "call m16:16/32/64", F_END);
        t.at(MAP_1, 0xFF).reg(3).mem().is(op(CALL_FAR_M));
        t.define(op(RETF), "retf", F_END);
        t.at(MAP_1, 0xCB).is(op(RETF));
        t.define(op(RETF_IMM), "retf Iw", F_END);
        t.at(MAP_1, 0xCA).is(op(RETF_IMM));
        t.define(op(IRET), "iret", F_END);
        t.at(MAP_1, 0xCF).is(op(IRET));

        t.define(op(INT), "int Ib", F_END);
        t.at(MAP_1, 0xCD).is(op(INT));
        t.define(op(INT3), "int3", F_END);
        t.at(MAP_1, 0xCC).is(op(INT3));
        t.define(op(INTO), "into", F_END);
        t.at(MAP_1, 0xCE).is(op(INTO));
        t.define(op(INT1), "int1", F_END);
        t.at(MAP_1, 0xF1).is(op(INT1));

        t.define(op(SYSCALL), "syscall", F_END);
        t.at(MAP_0F, 0x05).is(op(SYSCALL));
        t.define(op(SYSRET), "sysret", F_END);
        t.at(MAP_0F, 0x07).is(op(SYSRET));
        t.define(op(SYSENTER), "sysenter", F_END);
        t.at(MAP_0F, 0x34).is(op(SYSENTER));
        t.define(op(SYSEXIT), "sysexit", F_END);
        t.at(MAP_0F, 0x35).is(op(SYSEXIT));
    }

    static void exec(Cpu c, Insn i) {
        switch (i.op & 0xFF) {
            case MOV_SREG -> loadDataSegment(c, i.reg & 7, (int) Operands.readRm(c, i, 2));
            case MOV_SS -> {
                loadDataSegment(c, SS, (int) Operands.readRm(c, i, 2));
                c.interruptShadow = true;
                c.rip = i.nextRip;
            }
            case MOV_E_SREG -> {
                int selector = c.segSel[i.reg & 7];
                // A register receives the selector zero-extended to the operand size; memory gets 16 bits.
                if (i.rm >= 0) c.writeReg(i.rm, i.opSize, selector);
                else c.write16(i.seg, Operands.ea(c, i), selector);
            }
            case PUSH_SREG -> pushSegment(c, i);
            case POP_SREG -> popSegment(c, i, pushPopSegment(i.opcode));
            case POP_SS -> {
                popSegment(c, i, SS);
                c.interruptShadow = true;
                c.rip = i.nextRip;
            }
            case LOAD_FAR_POINTER -> loadFarPointer(c, i);
            case JMP_FAR -> farTransfer(c, (int) i.imm2, i.imm, i.opSize, false, i.nextRip);
            case CALL_FAR -> farTransfer(c, (int) i.imm2, i.imm, i.opSize, true, i.nextRip);
            case JMP_FAR_M, CALL_FAR_M -> {
                long ea = Operands.ea(c, i);
                long offset = c.read(i.seg, ea, i.opSize);
                int selector = c.read16(i.seg, (ea + i.opSize) & i.eaMask);
                farTransfer(c, selector, offset, i.opSize, (i.op & 0xFF) == CALL_FAR_M, i.nextRip);
            }
            case RETF -> farReturn(c, i.opSize, 0);
            case RETF_IMM -> farReturn(c, i.opSize, i.imm);
            case IRET -> iret(c, i.opSize);
            case INT -> Interrupts.softwareInterrupt(c, (int) i.imm & 0xFF, i.nextRip, Interrupts.KIND_SOFTWARE);
            case INT3 -> Interrupts.softwareInterrupt(c, EXC_BP, i.nextRip, Interrupts.KIND_SOFT_EXCEPTION);
            case INTO -> {
                if (Flags.of(c)) Interrupts.softwareInterrupt(c, EXC_OF, i.nextRip, Interrupts.KIND_SOFT_EXCEPTION);
                else c.rip = i.nextRip;
            }
            case INT1 -> Interrupts.softwareInterrupt(c, EXC_DB, i.nextRip, Interrupts.KIND_PRIVILEGED_SOFT_EXCEPTION);
            case SYSCALL -> syscall(c, i);
            case SYSRET -> sysret(c, i);
            case SYSENTER -> sysenter(c);
            case SYSEXIT -> sysexit(c, i);
            default -> throw c.ud();
        }
    }

    private static boolean protectedMode(Cpu c) {
        return (c.cr0 & CR0_PE) != 0 && (c.rflags & VM) == 0;
    }

    private static boolean longMode(Cpu c) {
        return (c.efer & EFER_LMA) != 0;
    }

    private static boolean canonical(long a) {
        return (a << 16 >> 16) == a;
    }

    private static Fault gpSelector(Cpu c, int selector) {
        return c.fault(EXC_GP, selector & 0xFFFC);
    }

    // =====================================================================================
    // Segment-register loads
    // =====================================================================================

    /** The segment register of PUSH/POP ES, CS, SS, DS (one-byte map) and FS, GS (0F map). */
    private static int pushPopSegment(int opcode) {
        if ((opcode >>> 8) == MAP_0F) return (opcode & 0x08) == 0 ? FS : GS;
        return (opcode >>> 3) & 3;
    }

    /**
     * PUSH Sreg. At operand size 32 or 64 the slot is that size, but only its low 16 bits are
     * written, as Intel Core and later processors do (SDM Vol. 2B, PUSH: "a 16-bit move, leaving
     * the upper portion of the stack location unmodified"); the whole slot is limit-checked.
     */
    private static void pushSegment(Cpu c, Insn i) {
        int size = i.opSize;
        long m = StackOps.stackMask(c);
        long sp = c.gpr[RSP];
        long top = (sp - size) & m;
        long la = c.linear(SS, top, size, Cpu.ACCESS_WRITE);
        c.writeL16(SS, la, c.segSel[pushPopSegment(i.opcode)]);
        c.gpr[RSP] = (sp & ~m) | top;
    }

    /** POP Sreg: the stack pointer moves by the operand size with the stack width before the load. */
    private static void popSegment(Cpu c, Insn i, int seg) {
        int size = i.opSize;
        long m = StackOps.stackMask(c);
        long sp = c.gpr[RSP];
        int selector = (int) c.read(SS, sp & m, size) & 0xFFFF;
        long newSp = (sp & ~m) | ((sp + size) & m);
        loadDataSegment(c, seg, selector);
        c.gpr[RSP] = newSp;
    }

    /**
     * LDS, LES, LSS, LFS, LGS: a far pointer m16:16, m16:32 or (with REX.W in 64-bit mode, as
     * Intel processors allow) m16:64; the offset goes to the register, the selector to the segment.
     */
    private static void loadFarPointer(Cpu c, Insn i) {
        int seg = switch (i.opcode) {
            case 0xC4 -> ES;
            case 0xC5 -> DS;
            case MAP_0F << 8 | 0xB2 -> SS;
            case MAP_0F << 8 | 0xB4 -> FS;
            default -> GS;
        };
        int size = i.opSize;
        long ea = Operands.ea(c, i);
        long offset = c.read(i.seg, ea, size);
        int selector = c.read16(i.seg, (ea + size) & i.eaMask);
        loadDataSegment(c, seg, selector);
        c.writeReg(i.reg, size, offset);
    }

    // =====================================================================================
    // Far JMP and CALL
    // =====================================================================================

    /**
     * Writes two operand-size values below the current stack pointer (a far return address:
     * CS first, then the offset) through SS with its checks; returns the new RSP, not yet stored.
     */
    private static long pushPair(Cpu c, int size, long first, long second) {
        long m = StackOps.stackMask(c);
        long sp = c.gpr[RSP];
        c.write(SS, (sp - size) & m, size, first);
        long top = (sp - 2L * size) & m;
        c.write(SS, top, size, second);
        return (sp & ~m) | top;
    }

    /** #GP(0) for a target outside the new code segment, or non-canonical when it is 64-bit code. */
    private static void checkTarget(Cpu c, long target, long codeDescriptor, boolean to64) {
        if (to64 ? !canonical(target) : target > descriptorLimit(codeDescriptor)) throw c.gp0();
    }

    /**
     * Far JMP or CALL to {@code selector:offset} (SDM Vol. 2A, JMP and CALL): a code segment,
     * a call gate, or (not modelled) a TSS or task gate.
     */
    private static void farTransfer(Cpu c, int selector, long offset, int opSize, boolean call, long returnRip) {
        selector &= 0xFFFF;
        long target = offset & Flags.mask(opSize);
        if (!protectedMode(c)) {
            if (target > c.segLimit[CS]) throw c.gp0();
            long newRsp = call ? pushPair(c, opSize, c.segSel[CS], returnRip) : c.gpr[RSP];
            loadRealModeSegment(c, CS, selector);
            c.gpr[RSP] = newRsp;
            c.rip = target;
            return;
        }
        if ((selector & ~3) == 0) throw c.gp0();
        long d = readDescriptor(c, selector, EXC_GP);
        int ar = descriptorAttr(d);
        if ((ar & AR_S) == 0) {
            throughGate(c, selector, d, ar, call, returnRip);
            return;
        }
        if ((ar & TYPE_CODE) == 0) throw gpSelector(c, selector);
        boolean lma = longMode(c);
        if (lma && (ar & AR_L) != 0 && (ar & AR_DB) != 0) throw gpSelector(c, selector);
        if ((ar & TYPE_CONFORMING) != 0) {
            if (dpl(ar) > c.cpl) throw gpSelector(c, selector);
        } else if ((selector & 3) > c.cpl || dpl(ar) != c.cpl) {
            throw gpSelector(c, selector);
        }
        if ((ar & AR_P) == 0) throw c.fault(EXC_NP, selector & 0xFFFC);
        boolean to64 = lma && (ar & AR_L) != 0;
        if (!to64) target &= 0xFFFF_FFFFL;
        checkTarget(c, target, d, to64);
        long newRsp = call ? pushPair(c, opSize, c.segSel[CS], returnRip) : c.gpr[RSP];
        d = markAccessed(c, selector, d);
        loadCodeSegment(c, selector, d, c.cpl);
        c.gpr[RSP] = newRsp;
        c.rip = target;
    }

    /**
     * A far JMP or CALL whose selector names a system descriptor: 16- and 32-bit call gates in
     * legacy mode, 64-bit call gates (16-byte descriptors) in IA-32e mode. Task switching is not
     * modelled, so a TSS or task gate is refused with #GP(selector).
     */
    private static void throughGate(Cpu c, int gateSelector, long gateLo, int gateAr, boolean call, long returnRip) {
        boolean lma = longMode(c);
        int type = gateAr & AR_TYPE;
        int gateSize;
        if (type == CALL_GATE32) gateSize = lma ? 8 : 4;
        else if (type == CALL_GATE16 && !lma) gateSize = 2;
        else throw gpSelector(c, gateSelector); // TSS and task gates (task switches are not modelled), LDT, invalid
        int gateDpl = dpl(gateAr);
        if (gateDpl < c.cpl || (gateSelector & 3) > gateDpl) throw gpSelector(c, gateSelector);
        if ((gateAr & AR_P) == 0) throw c.fault(EXC_NP, gateSelector & 0xFFFC);
        long target = (gateLo & 0xFFFF) | ((gateLo >>> 32) & 0xFFFF_0000L);
        if (gateSize == 8) {
            long gateHi = readDescriptorHigh(c, gateSelector, EXC_GP);
            if (((gateHi >>> 40) & 0x1F) != 0) throw gpSelector(c, gateSelector);
            target |= gateHi << 32;
        } else if (gateSize == 2) {
            target &= 0xFFFF;
        }

        int selector = (int) (gateLo >>> 16) & 0xFFFF;
        if ((selector & ~3) == 0) throw c.gp0();
        long d = readDescriptor(c, selector, EXC_GP);
        int ar = descriptorAttr(d);
        if ((ar & AR_S) == 0 || (ar & TYPE_CODE) == 0) throw gpSelector(c, selector);
        boolean conforming = (ar & TYPE_CONFORMING) != 0;
        int dpl = dpl(ar);
        // CALL may enter more privileged code; JMP only code at the current privilege.
        if ((call || conforming) ? dpl > c.cpl : dpl != c.cpl) throw gpSelector(c, selector);
        if (lma && ((ar & AR_L) == 0 || (ar & AR_DB) != 0)) throw gpSelector(c, selector);
        if ((ar & AR_P) == 0) throw c.fault(EXC_NP, selector & 0xFFFC);

        if (call && !conforming && dpl < c.cpl) {
            callToInnerLevel(c, selector, d, target, gateSize, (int) (gateLo >>> 32) & 0x1F, returnRip);
            return;
        }
        checkTarget(c, target, d, gateSize == 8);
        long newRsp = c.gpr[RSP];
        if (call && gateSize == 8) {
            // A 64-bit gate pushes 64-bit CS and RIP with 64-bit stack addressing (the target is 64-bit code).
            long sp = c.gpr[RSP];
            if (!canonical(sp - 1) || !canonical(sp - 16)) throw c.fault(EXC_SS, 0);
            boolean user = c.cpl == 3;
            Interrupts.writeStack(c, sp - 8, 8, c.segSel[CS], user);
            Interrupts.writeStack(c, sp - 16, 8, returnRip, user);
            newRsp = sp - 16;
        } else if (call) {
            newRsp = pushPair(c, gateSize, c.segSel[CS], returnRip);
        }
        d = markAccessed(c, selector, d);
        loadCodeSegment(c, selector, d, c.cpl);
        c.gpr[RSP] = newRsp;
        c.rip = target;
    }

    /**
     * CALL through a call gate to a more privileged non-conforming segment (SDM Vol. 2A, CALL,
     * MORE-PRIVILEGE): the stack for the new level comes from the TSS; the old SS:ESP, the
     * gate's parameter count of words or doublewords from the old stack (16/32-bit gates) and
     * the return CS:EIP are pushed on it. A 64-bit gate takes RSPn from the 64-bit TSS, loads a
     * null SS and copies no parameters.
     */
    private static void callToInnerLevel(Cpu c, int selector, long d, long target, int gateSize, int params,
                                         long returnRip) {
        int newCpl = dpl(descriptorAttr(d));
        if (gateSize == 8) {
            long rsp = Interrupts.readTss64(c, 4 + newCpl * 8L, 0);
            if (!canonical(rsp - 1) || !canonical(rsp - 32)) throw c.fault(EXC_SS, 0);
            if (!canonical(target)) throw c.gp0();
            c.writeSys(rsp - 8, 8, c.segSel[SS]);
            c.writeSys(rsp - 16, 8, c.gpr[RSP]);
            c.writeSys(rsp - 24, 8, c.segSel[CS]);
            c.writeSys(rsp - 32, 8, returnRip);
            d = markAccessed(c, selector, d);
            loadNull(c, SS, newCpl);
            loadCodeSegment(c, selector, d, newCpl);
            c.gpr[RSP] = rsp - 32;
            c.rip = target;
            return;
        }
        long[] stack = Interrupts.innerStack(c, newCpl, 0);
        long sp = stack[0];
        int ssSelector = (int) stack[1];
        long ssDesc = stack[2];
        int ssAr = descriptorAttr(ssDesc);
        long ssBase = descriptorBase(ssDesc);
        long spMask = (ssAr & AR_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
        if (!roomBelow(sp, (4L + params) * gateSize, spMask, descriptorLimit(ssDesc), ssAr)) {
            throw c.fault(EXC_SS, ssSelector & 0xFFFC);
        }
        if (target > descriptorLimit(d)) throw c.gp0();
        long oldMask = StackOps.stackMask(c);
        long oldSp = c.gpr[RSP];
        // Supervisor writes: the new level is below the current one, so never 3.
        long at = Interrupts.pushLegacy(c, ssBase, sp, spMask, gateSize, c.segSel[SS], false);
        at = Interrupts.pushLegacy(c, ssBase, at, spMask, gateSize, oldSp, false);
        for (int k = params - 1; k >= 0; k--) {
            long parameter = c.read(SS, (oldSp + (long) k * gateSize) & oldMask, gateSize);
            at = Interrupts.pushLegacy(c, ssBase, at, spMask, gateSize, parameter, false);
        }
        at = Interrupts.pushLegacy(c, ssBase, at, spMask, gateSize, c.segSel[CS], false);
        at = Interrupts.pushLegacy(c, ssBase, at, spMask, gateSize, returnRip, false);
        ssDesc = markAccessed(c, ssSelector, ssDesc);
        d = markAccessed(c, selector, d);
        loadCache(c, SS, ssSelector, ssDesc);
        loadCodeSegment(c, selector, d, newCpl);
        c.gpr[RSP] = (sp & ~spMask) | (at & spMask);
        c.rip = target;
    }

    // =====================================================================================
    // Far RET and IRET
    // =====================================================================================

    /**
     * Checks the code segment a far RET or IRET returns to (SDM Vol. 2A, RET; Vol. 2A, IRET):
     * not null, a present code segment (not L = D = 1 in IA-32e mode), RPL not below CPL, DPL
     * equal to RPL (at most RPL when conforming). Returns its descriptor.
     */
    private static long checkReturnCode(Cpu c, int selector) {
        if ((selector & ~3) == 0) throw c.gp0();
        long d = readDescriptor(c, selector, EXC_GP);
        int ar = descriptorAttr(d);
        if ((ar & AR_S) == 0 || (ar & TYPE_CODE) == 0) throw gpSelector(c, selector);
        if (longMode(c) && (ar & AR_L) != 0 && (ar & AR_DB) != 0) throw gpSelector(c, selector);
        int rpl = selector & 3;
        if (rpl < c.cpl) throw gpSelector(c, selector);
        if ((ar & TYPE_CONFORMING) != 0 ? dpl(ar) > rpl : dpl(ar) != rpl) throw gpSelector(c, selector);
        if ((ar & AR_P) == 0) throw c.fault(EXC_NP, selector & 0xFFFC);
        return d;
    }

    /**
     * Checks the SS a return to an outer level (or an IRET in 64-bit mode) pops: RPL and DPL
     * equal to the new CPL, a present writable data segment. Returns its descriptor, or 0 for
     * the null selector 64-bit code may run with at CPL 0-2.
     */
    private static long checkReturnStack(Cpu c, int selector, int newCpl, boolean to64) {
        if ((selector & ~3) == 0) {
            if (to64 && newCpl != 3 && (selector & 3) != 3) return 0;
            throw c.gp0();
        }
        long d = readDescriptor(c, selector, EXC_GP);
        int ar = descriptorAttr(d);
        if ((selector & 3) != newCpl || (ar & AR_S) == 0 || (ar & TYPE_CODE) != 0 || (ar & TYPE_WRITABLE) == 0
                || dpl(ar) != newCpl) {
            throw gpSelector(c, selector);
        }
        if ((ar & AR_P) == 0) throw c.fault(EXC_SS, selector & 0xFFFC);
        return d;
    }

    /**
     * Commits CS and SS (both checked and marked accessed) for a return with a stack switch and
     * sets the stack pointer: the popped value has the operand size, the new stack's width
     * decides how much of RSP it replaces, and {@code release} bytes (RET Iw) are then dropped.
     * Entering an outer level nulls the data segments the new CPL may not use.
     */
    private static void commitReturnWithStack(Cpu c, int selector, long d, int ssSelector, long ssDesc, long newSp,
                                              long release) {
        int newCpl = selector & 3;
        boolean outer = newCpl != c.cpl;
        loadCodeSegment(c, selector, d, newCpl);
        if (ssDesc == 0) {
            loadNull(c, SS, ssSelector);
        } else {
            loadCache(c, SS, ssSelector, ssDesc);
            c.updateMode();
        }
        long m = StackOps.stackMask(c);
        long sp = newSp + release;
        c.gpr[RSP] = m == 0xFFFF ? (c.gpr[RSP] & ~m) | (sp & m) : sp & m;
        if (outer) nullInaccessibleDataSegments(c);
    }

    /** RETF and RETF Iw (SDM Vol. 2B, RET): to the same or an outer privilege level. */
    private static void farReturn(Cpu c, int size, long release) {
        long m = StackOps.stackMask(c);
        long sp = c.gpr[RSP];
        long offset = c.read(SS, sp & m, size);
        int selector = (int) c.read(SS, (sp + size) & m, size) & 0xFFFF;
        if (!protectedMode(c)) {
            if (offset > c.segLimit[CS]) throw c.gp0();
            loadRealModeSegment(c, CS, selector);
            c.gpr[RSP] = (sp & ~m) | ((sp + 2L * size + release) & m);
            c.rip = offset;
            return;
        }
        long d = checkReturnCode(c, selector);
        int rpl = selector & 3;
        boolean to64 = longMode(c) && (descriptorAttr(d) & AR_L) != 0;
        if (rpl == c.cpl) {
            checkTarget(c, offset, d, to64);
            d = markAccessed(c, selector, d);
            loadCodeSegment(c, selector, d, rpl);
            c.gpr[RSP] = (sp & ~m) | ((sp + 2L * size + release) & m);
            c.rip = offset;
            return;
        }
        long newSp = c.read(SS, (sp + 2L * size + release) & m, size);
        int ssSelector = (int) c.read(SS, (sp + 3L * size + release) & m, size) & 0xFFFF;
        long ssDesc = checkReturnStack(c, ssSelector, rpl, to64);
        checkTarget(c, offset, d, to64);
        d = markAccessed(c, selector, d);
        if (ssDesc != 0) ssDesc = markAccessed(c, ssSelector, ssDesc);
        commitReturnWithStack(c, selector, d, ssSelector, ssDesc, newSp, release);
        c.rip = offset;
    }

    /**
     * IRET, IRETD, IRETQ (SDM Vol. 2A, IRET): real mode; protected mode to the same or an outer
     * level; IA-32e mode, where an IRET in 64-bit mode always pops SS:RSP and may return to
     * compatibility mode. Any IRET ends NMI blocking, even one that faults (SDM Vol. 3A, 6.7.1).
     */
    private static void iret(Cpu c, int size) {
        c.nmiBlocked = false;
        long m = StackOps.stackMask(c);
        long sp = c.gpr[RSP];
        long offset = c.read(SS, sp & m, size);
        int selector = (int) c.read(SS, (sp + size) & m, size) & 0xFFFF;
        long poppedFlags = c.read(SS, (sp + 2L * size) & m, size);
        if (!protectedMode(c)) {
            if (offset > c.segLimit[CS]) throw c.gp0();
            long flags = size == 4
                    ? (poppedFlags & 0x25_7FD5L) | (c.getRflags() & (VM | VIF | VIP))
                    : (c.getRflags() & ~0xFFFFL) | (poppedFlags & 0xFFFF);
            loadRealModeSegment(c, CS, selector);
            c.gpr[RSP] = (sp & ~m) | ((sp + 3L * size) & m);
            c.rip = offset;
            c.setRflags(flags);
            return;
        }
        // A nested-task return (NT = 1) is a task switch, which is not modelled: refused with
        // #GP(0), which is also what IA-32e mode architecturally raises for it.
        if ((c.rflags & NT) != 0) throw c.gp0();
        boolean lma = longMode(c);
        // Returning to virtual-8086 mode is not modelled: refused with #GP(0). (In IA-32e mode
        // the popped VM bit is ignored; below CPL 0 it is not loaded.)
        if (!lma && size == 4 && (poppedFlags & VM) != 0 && c.cpl == 0) throw c.gp0();
        long d = checkReturnCode(c, selector);
        int rpl = selector & 3;
        boolean to64 = lma && (descriptorAttr(d) & AR_L) != 0;
        long flags = iretFlags(c, poppedFlags, size);
        if (rpl == c.cpl && c.codeMode != Decoder.CODE64) {
            checkTarget(c, offset, d, to64);
            d = markAccessed(c, selector, d);
            loadCodeSegment(c, selector, d, rpl);
            c.gpr[RSP] = (sp & ~m) | ((sp + 3L * size) & m);
        } else {
            long newSp = c.read(SS, (sp + 3L * size) & m, size);
            int ssSelector = (int) c.read(SS, (sp + 4L * size) & m, size) & 0xFFFF;
            long ssDesc = checkReturnStack(c, ssSelector, rpl, to64);
            checkTarget(c, offset, d, to64);
            d = markAccessed(c, selector, d);
            if (ssDesc != 0) ssDesc = markAccessed(c, ssSelector, ssDesc);
            commitReturnWithStack(c, selector, d, ssSelector, ssDesc, newSp, 0);
        }
        c.rip = offset;
        c.setRflags(flags);
    }

    /**
     * The RFLAGS a protected-mode IRET loads, decided by the privilege before the return: status
     * flags, TF, DF, NT always; RF, AC, ID at operand size 32/64; IF when CPL <= IOPL; IOPL, and
     * at 32/64 bits VIF and VIP, only at CPL 0. VM is never loaded here.
     */
    private static long iretFlags(Cpu c, long popped, int size) {
        long mask = STATUS_FLAGS | TF | DF | NT;
        if (size >= 4) mask |= RF | AC | ID;
        if (c.cpl <= (int) ((c.rflags & IOPL) >>> 12)) mask |= IF;
        if (c.cpl == 0) {
            mask |= IOPL;
            if (size >= 4) mask |= VIF | VIP;
        }
        return (c.getRflags() & ~mask) | (popped & mask);
    }

    // =====================================================================================
    // SYSCALL/SYSRET, SYSENTER/SYSEXIT
    // =====================================================================================

    /**
     * SYSCALL (SDM Vol. 2B). In 64-bit mode as Intel specifies; where Intel raises #UD the
     * AMD64 behaviour is modelled (APM Vol. 3, SYSCALL): from compatibility mode the target is
     * CSTAR, and in legacy protected mode ECX gets the return EIP, EIP comes from STAR[31:0], CS
     * and SS are flat 32-bit segments, and VM, IF and RF are cleared. Real mode: #UD.
     * Its single-step trap follows TF after the instruction, so an OS masking TF in IA32_FMASK
     * takes no #DB on its entry code; SYSRET likewise traps at once when it loads TF from R11
     * (as processors do and OSes rely on; unlike POPF or IRET, whose newly set TF traps only
     * after the next instruction).
     */
    private static void syscall(Cpu c, Insn i) {
        if ((c.efer & EFER_SCE) == 0 || !protectedMode(c)) throw c.ud();
        int starSelector = (int) (c.star >>> 32) & 0xFFFF;
        int selector = starSelector & 0xFFFC;
        if (longMode(c)) {
            long target = c.codeMode == Decoder.CODE64 ? c.lstar : c.cstar;
            long flags = c.getRflags();
            c.gpr[RCX] = i.nextRip;
            c.gpr[R11] = flags;
            loadFlat(c, CS, selector, CODE64_DPL0);
            loadFlat(c, SS, starSelector + 8, DATA_DPL0);
            c.cpl = 0;
            c.updateMode();
            c.setRflags(flags & ~(c.sfmask & 0xFFFF_FFFFL));
            c.rip = target;
            c.trapFlagSampledAfter = true;
            return;
        }
        c.writeReg(RCX, 4, i.nextRip);
        loadFlat(c, CS, selector, CODE32_DPL0);
        loadFlat(c, SS, starSelector + 8, DATA_DPL0);
        c.cpl = 0;
        c.updateMode();
        c.setRflags(c.getRflags() & ~(VM | IF | RF));
        c.rip = c.star & 0xFFFF_FFFFL;
        c.trapFlagSampledAfter = true;
    }

    /**
     * SYSRET (SDM Vol. 2B): from CPL 0 to CPL 3, 64-bit mode with REX.W (CS = STAR[63:48] + 16,
     * #GP(0) while still at CPL 0 if RCX is not canonical), otherwise compatibility mode (CS =
     * STAR[63:48]); SS = STAR[63:48] + 8; RFLAGS from R11. Segment attributes are the fixed flat
     * values Intel loads. In legacy protected mode the AMD64 behaviour: 32-bit CS and SS, EIP from
     * ECX, IF set.
     */
    private static void sysret(Cpu c, Insn i) {
        if ((c.efer & EFER_SCE) == 0 || !protectedMode(c)) throw c.ud();
        if (c.cpl != 0) throw c.gp0();
        int base = (int) (c.star >>> 48) & 0xFFFF;
        if (longMode(c)) {
            boolean to64 = i.opSize == 8;
            long target = to64 ? c.gpr[RCX] : c.gpr[RCX] & 0xFFFF_FFFFL;
            if (!canonical(target)) throw c.gp0();
            loadFlat(c, CS, (to64 ? base + 16 : base) | 3, to64 ? CODE64_DPL3 : CODE32_DPL3);
            loadFlat(c, SS, (base + 8) | 3, DATA_DPL3);
            c.cpl = 3;
            c.updateMode();
            c.setRflags((c.gpr[R11] & 0x3C_7FD7L) | RFLAGS_FIXED1);
            c.rip = target;
            c.trapFlagSampledAfter = true;
            return;
        }
        loadFlat(c, CS, base | 3, CODE32_DPL3);
        loadFlat(c, SS, (base + 8) | 3, DATA_DPL3);
        c.cpl = 3;
        c.updateMode();
        c.rflags |= IF;
        c.rip = c.gpr[RCX] & 0xFFFF_FFFFL;
        c.trapFlagSampledAfter = true;
    }

    /**
     * SYSENTER (SDM Vol. 2B): to CPL 0 with CS = SYSENTER_CS (RPL cleared), SS = CS + 8, the
     * stack and entry point from the SYSENTER MSRs; 64-bit code in IA-32e mode (allowed there, as
     * on Intel processors). #GP(0) in real mode or with a null SYSENTER_CS.
     */
    private static void sysenter(Cpu c) {
        if ((c.cr0 & CR0_PE) == 0 || (c.sysenterCs & 0xFFFC) == 0) throw c.gp0();
        int selector = (int) c.sysenterCs & 0xFFFC;
        boolean lma = longMode(c);
        loadFlat(c, CS, selector, lma ? CODE64_DPL0 : CODE32_DPL0);
        loadFlat(c, SS, selector + 8, DATA_DPL0);
        c.cpl = 0;
        c.rflags &= ~(VM | IF);
        c.updateMode();
        c.gpr[RSP] = lma ? c.sysenterEsp : c.sysenterEsp & 0xFFFF_FFFFL;
        c.rip = lma ? c.sysenterEip : c.sysenterEip & 0xFFFF_FFFFL;
    }

    /**
     * SYSEXIT (SDM Vol. 2B): from CPL 0 to CPL 3; with REX.W to 64-bit mode (CS = SYSENTER_CS
     * + 32, RSP = RCX, RIP = RDX, both canonical), otherwise to 32-bit code (CS = SYSENTER_CS +
     * 16, ESP = ECX, EIP = EDX); SS = CS + 8.
     */
    private static void sysexit(Cpu c, Insn i) {
        if ((c.cr0 & CR0_PE) == 0 || (c.sysenterCs & 0xFFFC) == 0 || c.cpl != 0) throw c.gp0();
        boolean to64 = i.opSize == 8;
        long rsp = to64 ? c.gpr[RCX] : c.gpr[RCX] & 0xFFFF_FFFFL;
        long rip = to64 ? c.gpr[RDX] : c.gpr[RDX] & 0xFFFF_FFFFL;
        if (to64 && (!canonical(rsp) || !canonical(rip))) throw c.gp0();
        int selector = ((int) c.sysenterCs + (to64 ? 32 : 16)) | 3;
        loadFlat(c, CS, selector, to64 ? CODE64_DPL3 : CODE32_DPL3);
        loadFlat(c, SS, selector + 8, DATA_DPL3);
        c.cpl = 3;
        c.updateMode();
        c.gpr[RSP] = rsp;
        c.rip = rip;
    }
}
