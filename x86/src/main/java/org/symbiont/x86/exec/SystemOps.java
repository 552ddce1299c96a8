package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F38;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;
import static org.symbiont.x86.exec.Segmentation.*;

import java.lang.invoke.VarHandle;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * System instructions: HLT, CPUID, control and debug registers, descriptor-table registers
 * (LGDT/LIDT/SGDT/SIDT/LLDT/SLDT/LTR/STR), segment checks (VERR/VERW/LAR/LSL), LMSW/SMSW/CLTS,
 * MSRs and the time-stamp counter, TLB and cache control, CLI/STI, SWAPGS, hypercalls, XCR0 and
 * XSAVE/XRSTOR, the FS/GS base instructions, fences, and the UD0/UD1/UD2 opcodes.
 *
 * <p>Not offered (and so not registered): MONITOR/MWAIT. RDPMC is registered but, as no
 * performance counters are modelled (CPUID leaf 0AH reports none), every counter index is
 * invalid and it raises #GP(0). VMCALL and VMMCALL exit to the VMM at any CPL, as they cause a
 * VM exit on hardware; the VMM decides what a call from user mode may do.
 */
public final class SystemOps {
    private SystemOps() {}

    private static final int HLT = 0, CPUID = 1;
    private static final int MOV_FROM_CR = 2, MOV_TO_CR = 3, MOV_FROM_DR = 4, MOV_TO_DR = 5;
    private static final int LGDT = 6, LIDT = 7, SGDT = 8, SIDT = 9, LLDT = 10, SLDT = 11, LTR = 12, STR = 13;
    private static final int VERR = 14, VERW = 15, LAR = 16, LSL = 17, LMSW = 18, SMSW = 19, CLTS = 20;
    private static final int RDMSR = 21, WRMSR = 22, RDTSC = 23, RDTSCP = 24, RDPMC = 25;
    private static final int INVLPG = 26, INVPCID = 27, WBINVD = 28, INVD = 29, CLFLUSH = 30, CLFLUSHOPT = 31;
    private static final int CLI = 32, STI = 33, SWAPGS = 34, VMCALL = 35, VMMCALL = 36, XGETBV = 37, XSETBV = 38;
    private static final int XSAVE = 39, XRSTOR = 40, XSAVEOPT = 41;
    private static final int RDFSBASE = 42, RDGSBASE = 43, WRFSBASE = 44, WRGSBASE = 45;
    private static final int LFENCE = 46, MFENCE = 47, SFENCE = 48, UD2 = 49, UD1 = 50, UD0 = 51;
    private static final int CLAC = 52, STAC = 53;

    /** Size of the XSAVE area for the components offered (x87, SSE): legacy region plus header. */
    static final int XSAVE_AREA_SIZE = FxsaveArea.SIZE + 64;
    private static final long XCR0_SUPPORTED = 3;

    private static int op(int index) {
        return Families.op(Families.SYSTEM, index);
    }

    private static void define(OpcodeTable t, int index, String name, int flags) {
        t.define(op(index), name, flags);
    }

    static void register(OpcodeTable t) {
        define(t, HLT, "hlt", F_END);
        t.at(MAP_1, 0xF4).is(op(HLT));
        define(t, CPUID, "cpuid", 0);
        t.at(MAP_0F, 0xA2).is(op(CPUID));

        // Control and debug registers: ModRM.mod is ignored (the shape forces the register form).
        define(t, MOV_FROM_CR, "mov Rd,Cd", F_FORCE64);
        define(t, MOV_TO_CR, "mov Cd,Rd", F_FORCE64 | F_END);
        define(t, MOV_FROM_DR, "mov Rd,Dd", F_FORCE64);
        define(t, MOV_TO_DR, "mov Dd,Rd", F_FORCE64 | F_END);
        t.at(MAP_0F, 0x20).is(op(MOV_FROM_CR));
        t.at(MAP_0F, 0x22).is(op(MOV_TO_CR));
        t.at(MAP_0F, 0x21).is(op(MOV_FROM_DR));
        t.at(MAP_0F, 0x23).is(op(MOV_TO_DR));

        // Group 6 (0F 00) and group 7 (0F 01).
        define(t, SLDT, "sldt Ew", 0);
        define(t, STR, "str Ew", 0);
        define(t, LLDT, "lldt Ew", 0);
        define(t, LTR, "ltr Ew", 0);
        define(t, VERR, "verr Ew", 0);
        define(t, VERW, "verw Ew", 0);
        t.at(MAP_0F, 0x00).reg(0).is(op(SLDT));
        t.at(MAP_0F, 0x00).reg(1).is(op(STR));
        t.at(MAP_0F, 0x00).reg(2).is(op(LLDT));
        t.at(MAP_0F, 0x00).reg(3).is(op(LTR));
        t.at(MAP_0F, 0x00).reg(4).is(op(VERR));
        t.at(MAP_0F, 0x00).reg(5).is(op(VERW));
        define(t, SGDT, "sgdt Ms", F_FORCE64);
        define(t, SIDT, "sidt Ms", F_FORCE64);
        define(t, LGDT, "lgdt Ms", F_FORCE64);
        define(t, LIDT, "lidt Ms", F_FORCE64);
        define(t, SMSW, "smsw Ew", 0);
        define(t, LMSW, "lmsw Ew", F_END);
        define(t, INVLPG, "invlpg Mb", F_END);
        t.at(MAP_0F, 0x01).reg(0).mem().is(op(SGDT));
        t.at(MAP_0F, 0x01).reg(1).mem().is(op(SIDT));
        t.at(MAP_0F, 0x01).reg(2).mem().is(op(LGDT));
        t.at(MAP_0F, 0x01).reg(3).mem().is(op(LIDT));
        t.at(MAP_0F, 0x01).reg(4).is(op(SMSW));
        t.at(MAP_0F, 0x01).reg(6).is(op(LMSW));
        t.at(MAP_0F, 0x01).reg(7).mem().is(op(INVLPG));
        define(t, VMCALL, "vmcall", F_END);
        // AMD APM: F2/F3 0F 01 D9 is VMGEXIT (SEV-ES, not modelled) and 66 is undefined.
        define(t, VMMCALL, "vmmcall", F_END | F_NO_PREFIX);
        define(t, XGETBV, "xgetbv", 0);
        define(t, XSETBV, "xsetbv", F_END);
        define(t, SWAPGS, "swapgs", 0);
        define(t, RDTSCP, "rdtscp", 0);
        t.at(MAP_0F, 0x01).reg(0).rm(1).is(op(VMCALL));
        t.at(MAP_0F, 0x01).reg(3).rm(1).is(op(VMMCALL));
        t.at(MAP_0F, 0x01).reg(2).rm(0).is(op(XGETBV));
        t.at(MAP_0F, 0x01).reg(2).rm(1).is(op(XSETBV));
        t.at(MAP_0F, 0x01).reg(7).rm(0).is(op(SWAPGS));
        t.at(MAP_0F, 0x01).reg(7).rm(1).is(op(RDTSCP));
        define(t, CLAC, "clac", 0);
        define(t, STAC, "stac", 0);
        t.at(MAP_0F, 0x01).reg(1).rm(2).is(op(CLAC));
        t.at(MAP_0F, 0x01).reg(1).rm(3).is(op(STAC));

        define(t, LAR, "lar Gv,Ew", 0);
        define(t, LSL, "lsl Gv,Ew", 0);
        t.at(MAP_0F, 0x02).is(op(LAR));
        t.at(MAP_0F, 0x03).is(op(LSL));
        define(t, CLTS, "clts", 0);
        t.at(MAP_0F, 0x06).is(op(CLTS));
        define(t, INVD, "invd", 0);
        define(t, WBINVD, "wbinvd", 0);
        t.at(MAP_0F, 0x08).is(op(INVD));
        t.at(MAP_0F, 0x09).is(op(WBINVD));

        define(t, WRMSR, "wrmsr", F_END);
        define(t, RDTSC, "rdtsc", 0);
        define(t, RDMSR, "rdmsr", 0);
        define(t, RDPMC, "rdpmc", 0);
        t.at(MAP_0F, 0x30).is(op(WRMSR));
        t.at(MAP_0F, 0x31).is(op(RDTSC));
        t.at(MAP_0F, 0x32).is(op(RDMSR));
        t.at(MAP_0F, 0x33).is(op(RDPMC));

        define(t, INVPCID, "invpcid Gy,Mdq", F_END);
        t.at(MAP_0F38, 0x82).mandatory(PFX_66).mem().is(op(INVPCID));

        // 0F AE is selected by its mandatory prefix; FXSAVE/FXRSTOR/LDMXCSR/STMXCSR (/0-/3
        // memory, no prefix) belong to the SSE family.
        define(t, XSAVE, "xsave M", 0);
        define(t, XRSTOR, "xrstor M", 0);
        define(t, XSAVEOPT, "xsaveopt M", 0);
        define(t, CLFLUSH, "clflush Mb", 0);
        define(t, CLFLUSHOPT, "clflushopt Mb", 0);
        t.at(MAP_0F, 0xAE).mandatory(PFX_NONE).reg(4).mem().is(op(XSAVE));
        t.at(MAP_0F, 0xAE).mandatory(PFX_NONE).reg(5).mem().is(op(XRSTOR));
        t.at(MAP_0F, 0xAE).mandatory(PFX_NONE).reg(6).mem().is(op(XSAVEOPT));
        t.at(MAP_0F, 0xAE).mandatory(PFX_NONE).reg(7).mem().is(op(CLFLUSH));
        t.at(MAP_0F, 0xAE).mandatory(PFX_66).reg(7).mem().is(op(CLFLUSHOPT));
        define(t, LFENCE, "lfence", 0);
        define(t, MFENCE, "mfence", 0);
        define(t, SFENCE, "sfence", 0);
        t.at(MAP_0F, 0xAE).mandatory(PFX_NONE).reg(5).regForm().is(op(LFENCE));
        t.at(MAP_0F, 0xAE).mandatory(PFX_NONE).reg(6).regForm().is(op(MFENCE));
        t.at(MAP_0F, 0xAE).mandatory(PFX_NONE).reg(7).regForm().is(op(SFENCE));
        define(t, RDFSBASE, "rdfsbase Ry", 0);
        define(t, RDGSBASE, "rdgsbase Ry", 0);
        define(t, WRFSBASE, "wrfsbase Ry", 0);
        define(t, WRGSBASE, "wrgsbase Ry", 0);
        t.at(MAP_0F, 0xAE).mandatory(PFX_F3).reg(0).regForm().is(op(RDFSBASE));
        t.at(MAP_0F, 0xAE).mandatory(PFX_F3).reg(1).regForm().is(op(RDGSBASE));
        t.at(MAP_0F, 0xAE).mandatory(PFX_F3).reg(2).regForm().is(op(WRFSBASE));
        t.at(MAP_0F, 0xAE).mandatory(PFX_F3).reg(3).regForm().is(op(WRGSBASE));

        define(t, CLI, "cli", F_END);
        define(t, STI, "sti", F_END);
        t.at(MAP_1, 0xFA).is(op(CLI));
        t.at(MAP_1, 0xFB).is(op(STI));

        // The architecturally undefined opcodes decode with their full length, then raise #UD.
        define(t, UD2, "ud2", F_END);
        define(t, UD1, "ud1 Gv,Ev", F_END);
        define(t, UD0, "ud0 Gv,Ev", F_END);
        t.at(MAP_0F, 0x0B).is(op(UD2));
        t.at(MAP_0F, 0xB9).is(op(UD1));
        t.at(MAP_0F, 0xFF).is(op(UD0));
    }

    static void exec(Cpu c, Insn i) {
        switch (i.op & 0xFF) {
            case HLT -> {
                if (c.cpl != 0) throw c.gp0();
                c.halted = true;
                c.rip = i.nextRip;
            }
            case CPUID -> {
                long ab = c.exitOrReplay(new Exit.Cpuid((int) c.gpr[RAX], (int) c.gpr[RCX]));
                long cd = c.replayNext();
                c.gpr[RAX] = ab & 0xFFFF_FFFFL;
                c.gpr[RBX] = ab >>> 32;
                c.gpr[RCX] = cd & 0xFFFF_FFFFL;
                c.gpr[RDX] = cd >>> 32;
            }
            case MOV_FROM_CR -> {
                if (!ControlRegisters.crExists(i.reg)) throw c.ud();
                requireCpl0(c);
                c.writeReg(i.rm, crSize(c), ControlRegisters.readCr(c, i.reg));
            }
            case MOV_TO_CR -> {
                if (!ControlRegisters.crExists(i.reg)) throw c.ud();
                requireCpl0(c);
                ControlRegisters.writeCr(c, i.reg, c.readReg(i.rm, crSize(c)));
                c.rip = i.nextRip;
            }
            case MOV_FROM_DR -> {
                int dr = ControlRegisters.checkDebugAccess(c, i.reg);
                c.writeReg(i.rm, crSize(c), c.dr[dr]);
            }
            case MOV_TO_DR -> {
                int dr = ControlRegisters.checkDebugAccess(c, i.reg);
                ControlRegisters.writeDebug(c, dr, c.readReg(i.rm, crSize(c)));
                c.rip = i.nextRip;
            }
            case LGDT, LIDT -> loadTableRegister(c, i, (i.op & 0xFF) == LGDT);
            case SGDT, SIDT -> storeTableRegister(c, i, (i.op & 0xFF) == SGDT);
            case SLDT, STR -> {
                requireProtectedMode(c);
                storeSelectorOrStatus(c, i, c.segSel[(i.op & 0xFF) == SLDT ? LDTR : TR]);
            }
            case LLDT -> loadLdtr(c, i);
            case LTR -> loadTr(c, i);
            case VERR, VERW -> verify(c, i, (i.op & 0xFF) == VERW);
            case LAR, LSL -> accessRightsOrLimit(c, i, (i.op & 0xFF) == LSL);
            case SMSW -> storeSelectorOrStatus(c, i, c.cr0);
            case LMSW -> {
                requireCpl0(c);
                long msw = Operands.readRm(c, i, 2);
                // Loads PE, MP, EM, TS; PE can be set but not cleared (SDM Vol. 2A, LMSW).
                ControlRegisters.writeCr0(c, (c.cr0 & ~0xEL) | (msw & 0xF));
                c.rip = i.nextRip;
            }
            case CLTS -> {
                requireCpl0(c);
                c.cr0 &= ~CR0_TS;
            }
            case RDMSR -> {
                requireCpl0(c);
                long v = Msrs.read(c, i, (int) c.gpr[RCX]);
                c.gpr[RAX] = v & 0xFFFF_FFFFL;
                c.gpr[RDX] = v >>> 32;
            }
            case WRMSR -> {
                requireCpl0(c);
                Msrs.write(c, i, (int) c.gpr[RCX], (c.gpr[RDX] << 32) | (c.gpr[RAX] & 0xFFFF_FFFFL));
                c.rip = i.nextRip;
            }
            case RDTSC -> {
                long tsc = readTsc(c, i);
                c.gpr[RAX] = tsc & 0xFFFF_FFFFL;
                c.gpr[RDX] = tsc >>> 32;
            }
            case RDTSCP -> {
                long tsc = readTsc(c, i);
                c.gpr[RAX] = tsc & 0xFFFF_FFFFL;
                c.gpr[RDX] = tsc >>> 32;
                c.gpr[RCX] = c.tscAux & 0xFFFF_FFFFL;
            }
            case RDPMC -> throw c.gp0();
            case INVLPG -> {
                requireCpl0(c);
                if (!c.mmu.resumingShadowExit()) {
                    long la = (Operands.ea(c, i) + c.segEffBase[i.seg]) & c.linearMask;
                    c.mmu.flushPage(la);
                    c.mmu.invalidated(la);
                }
                c.rip = i.nextRip;
            }
            case INVPCID -> invpcid(c, i);
            case WBINVD, INVD -> requireCpl0(c);
            case CLFLUSH, CLFLUSHOPT -> {
                // No cache is modelled, but the line's address is translated like a byte read.
                long la = Operands.linear(c, i, 1, Cpu.ACCESS_READ);
                c.mmu.probe(i.seg, la, 1, Cpu.ACCESS_READ, c.tlbBase != 0);
            }
            case CLI -> {
                requireIoplForIf(c);
                c.rflags &= ~IF;
                c.rip = i.nextRip;
            }
            case STI -> {
                requireIoplForIf(c);
                if ((c.rflags & IF) == 0) {
                    c.rflags |= IF;
                    c.interruptShadow = true;
                }
                c.rip = i.nextRip;
            }
            case CLAC, STAC -> {
                // SMAP's override flag (SDM Vol. 2A, CLAC/STAC): #UD above CPL 0. Supervisor TLB
                // entries for user pages are never cached while CR4.SMAP is set, so no flush.
                if (c.cpl > 0) throw c.ud();
                if ((i.op & 0xFF) == STAC) c.rflags |= AC;
                else c.rflags &= ~AC;
            }
            case SWAPGS -> {
                if (c.codeMode != Decoder.CODE64) throw c.ud();
                requireCpl0(c);
                long gs = c.segBase[GS];
                c.segBase[GS] = c.kernelGsBase;
                c.kernelGsBase = gs;
                Segmentation.refreshEffectiveSegments(c);
            }
            case VMCALL, VMMCALL -> {
                c.exitOrReplay(new Exit.Hypercall(c.gpr[RAX]));
                c.rip = i.nextRip;
            }
            case XGETBV -> {
                if ((c.cr4 & CR4_OSXSAVE) == 0) throw c.ud();
                if ((int) c.gpr[RCX] != 0) throw c.gp0();
                c.gpr[RAX] = c.xcr0 & 0xFFFF_FFFFL;
                c.gpr[RDX] = c.xcr0 >>> 32;
            }
            case XSETBV -> {
                if ((c.cr4 & CR4_OSXSAVE) == 0) throw c.ud();
                requireCpl0(c);
                long v = (c.gpr[RDX] << 32) | (c.gpr[RAX] & 0xFFFF_FFFFL);
                if ((int) c.gpr[RCX] != 0 || (v & 1) == 0 || (v & ~XCR0_SUPPORTED) != 0) throw c.gp0();
                c.xcr0 = v;
                c.rip = i.nextRip;
            }
            case XSAVE, XSAVEOPT -> xsave(c, i);
            case XRSTOR -> xrstor(c, i);
            case RDFSBASE, RDGSBASE -> {
                requireFsGsBase(c);
                int size = i.opSize == 8 ? 8 : 4;
                c.writeReg(i.rm, size, c.segBase[(i.op & 0xFF) == RDFSBASE ? FS : GS]);
            }
            case WRFSBASE, WRGSBASE -> {
                requireFsGsBase(c);
                long v = c.readReg(i.rm, i.opSize == 8 ? 8 : 4);
                if (!Msrs.canonical(v)) throw c.gp0();
                c.segBase[(i.op & 0xFF) == WRFSBASE ? FS : GS] = v;
                Segmentation.refreshEffectiveSegments(c);
            }
            case LFENCE -> VarHandle.acquireFence();
            case MFENCE -> VarHandle.fullFence();
            case SFENCE -> VarHandle.storeStoreFence();
            default -> throw c.ud();   // UD0, UD1, UD2
        }
    }

    // ---- privilege and mode checks ----

    private static void requireCpl0(Cpu c) {
        if (c.cpl != 0) throw c.gp0();
    }

    /** The LDT/TR/segment-check instructions do not exist in real-address and virtual-8086 mode. */
    private static void requireProtectedMode(Cpu c) {
        if ((c.cr0 & CR0_PE) == 0 || (c.rflags & VM) != 0) throw c.ud();
    }

    /** CLI/STI: CPL <= IOPL in protected mode, IOPL 3 in virtual-8086 mode (VME/PVI are not offered). */
    private static void requireIoplForIf(Cpu c) {
        if ((c.cr0 & CR0_PE) == 0) return;
        int iopl = (int) ((c.rflags & IOPL) >>> 12);
        if ((c.rflags & VM) != 0 ? iopl != 3 : c.cpl > iopl) throw c.gp0();
    }

    private static void requireFsGsBase(Cpu c) {
        if (c.codeMode != Decoder.CODE64 || (c.cr4 & CR4_FSGSBASE) == 0) throw c.ud();
    }

    /** MOV CR/DR operands are 64 bits in 64-bit mode and 32 bits elsewhere, whatever the prefixes. */
    private static int crSize(Cpu c) {
        return c.codeMode == Decoder.CODE64 ? 8 : 4;
    }

    private static long readTsc(Cpu c, Insn i) {
        if ((c.cr4 & CR4_TSD) != 0 && c.cpl != 0 && (c.cr0 & CR0_PE) != 0) throw c.gp0();
        return Msrs.tsc(c, i);
    }

    /** SLDT, STR, SMSW: 16 bits to memory; to a register, the operand size (zero-extended). */
    private static void storeSelectorOrStatus(Cpu c, Insn i, long v) {
        if (i.isMem()) c.write16(i.seg, Operands.ea(c, i), (int) v);
        else c.writeReg(i.rm, i.opSize, v);
    }

    // ---- descriptor-table registers ----

    /**
     * LGDT/LIDT: a 16-bit limit and a base of 8 bytes in 64-bit mode, 4 bytes otherwise (of which
     * only 24 bits count with a 16-bit operand size).
     */
    private static void loadTableRegister(Cpu c, Insn i, boolean gdt) {
        requireCpl0(c);
        long ea = Operands.ea(c, i);
        int limit = c.read16(i.seg, ea);
        long base;
        if (c.codeMode == Decoder.CODE64) {
            base = c.read64(i.seg, (ea + 2) & i.eaMask);
        } else {
            base = c.read32(i.seg, (ea + 2) & i.eaMask) & 0xFFFF_FFFFL;
            if (i.opSize == 2) base &= 0xFF_FFFFL;
        }
        if (gdt) {
            c.gdtBase = base;
            c.gdtLimit = limit;
        } else {
            c.idtBase = base;
            c.idtLimit = limit;
        }
    }

    /** SGDT/SIDT: the limit, then an 8-byte base in 64-bit mode or the full 32-bit base otherwise. */
    private static void storeTableRegister(Cpu c, Insn i, boolean gdt) {
        boolean mode64 = c.codeMode == Decoder.CODE64;
        int size = mode64 ? 10 : 6;
        long la = Operands.linear(c, i, size, Cpu.ACCESS_WRITE);
        c.probeWrite(i.seg, la, size);
        long base = gdt ? c.gdtBase : c.idtBase;
        c.writeL16(i.seg, la, gdt ? c.gdtLimit : c.idtLimit);
        long at = (la + 2) & c.linearMask;
        if (mode64) c.writeL64(i.seg, at, base);
        else c.writeL32(i.seg, at, (int) base);
    }

    /** Whether a 16-byte system descriptor is in use: IA-32e mode (SDM Vol. 3A, 8.2.3). */
    private static boolean longDescriptors(Cpu c) {
        return (c.efer & EFER_LMA) != 0;
    }

    /**
     * The upper half of a 16-byte system descriptor in the GDT for LLDT/LTR: #GP(selector) when it
     * lies beyond the limit, its type field is not 0, or the base it completes is not canonical.
     */
    private static long systemDescriptorHigh(Cpu c, int selector, long low) {
        int index = selector & ~7;
        if (index + 15 > c.gdtLimit) throw c.fault(EXC_GP, selector & 0xFFFC);
        long high = c.readSys(c.gdtBase + index + 8, 8);
        long base = descriptorBase(low) | (high << 32);
        if ((high >>> 40 & 0x1F) != 0 || !Msrs.canonical(base)) throw c.fault(EXC_GP, selector & 0xFFFC);
        return high;
    }

    private static void loadSystemCache(Cpu c, int seg, int selector, long low, long high) {
        c.segSel[seg] = selector & 0xFFFF;
        c.segBase[seg] = descriptorBase(low) | (high << 32);
        c.segLimit[seg] = descriptorLimit(low);
        c.segAttr[seg] = descriptorAttr(low);
    }

    /** LLDT (SDM Vol. 2A): a null selector makes LDTR unusable; otherwise an LDT descriptor from the GDT. */
    private static void loadLdtr(Cpu c, Insn i) {
        requireProtectedMode(c);
        requireCpl0(c);
        int selector = (int) Operands.readRm(c, i, 2);
        if ((selector & ~3) == 0) {
            c.segSel[LDTR] = selector;
            c.segBase[LDTR] = 0;
            c.segLimit[LDTR] = 0;
            c.segAttr[LDTR] = AR_UNUSABLE;
            return;
        }
        if ((selector & 4) != 0) throw c.fault(EXC_GP, selector & 0xFFFC);
        long low = readDescriptor(c, selector, EXC_GP);
        int ar = descriptorAttr(low);
        if ((ar & AR_S) != 0 || (ar & AR_TYPE) != 2) throw c.fault(EXC_GP, selector & 0xFFFC);
        if ((ar & AR_P) == 0) throw c.fault(EXC_NP, selector & 0xFFFC);
        long high = longDescriptors(c) ? systemDescriptorHigh(c, selector, low) : 0;
        loadSystemCache(c, LDTR, selector, low, high);
    }

    /**
     * LTR (SDM Vol. 2A): an available TSS descriptor from the GDT (16- or 32-bit in legacy mode,
     * 64-bit in IA-32e mode), which is then marked busy in memory.
     */
    private static void loadTr(Cpu c, Insn i) {
        requireProtectedMode(c);
        requireCpl0(c);
        int selector = (int) Operands.readRm(c, i, 2);
        if ((selector & ~3) == 0) throw c.gp0();
        if ((selector & 4) != 0) throw c.fault(EXC_GP, selector & 0xFFFC);
        long low = readDescriptor(c, selector, EXC_GP);
        int ar = descriptorAttr(low);
        int type = ar & AR_TYPE;
        boolean available = longDescriptors(c) ? type == 9 : type == 9 || type == 1;
        if ((ar & AR_S) != 0 || !available) throw c.fault(EXC_GP, selector & 0xFFFC);
        if ((ar & AR_P) == 0) throw c.fault(EXC_NP, selector & 0xFFFC);
        long high = longDescriptors(c) ? systemDescriptorHigh(c, selector, low) : 0;
        long busy = low | (2L << 40);
        c.writeSys(descriptorAddress(c, selector) + 5, 1, busy >>> 40);
        loadSystemCache(c, TR, selector, busy, high);
    }

    // ---- VERR, VERW, LAR, LSL: checks that report through ZF instead of faulting ----

    /** Whether {@code bytes} of the descriptor {@code selector} names lie inside its table. */
    private static boolean descriptorInTable(Cpu c, int selector, int bytes) {
        if ((selector & ~3) == 0) return false;
        long limit;
        if ((selector & 4) != 0) {
            if ((c.segAttr[LDTR] & AR_UNUSABLE) != 0 || (c.segSel[LDTR] & ~3) == 0) return false;
            limit = c.segLimit[LDTR];
        } else {
            limit = c.gdtLimit;
        }
        return (selector & ~7L) + bytes - 1 <= limit;
    }

    private static void setZf(Cpu c, boolean zf) {
        long f = Flags.status(c);
        Flags.setStatus(c, zf ? f | ZF : f & ~ZF);
    }

    /** The privilege rule of VERR/VERW/LAR/LSL: DPL >= CPL and DPL >= RPL unless conforming code. */
    private static boolean visible(Cpu c, int ar, int selector) {
        boolean conformingCode = (ar & AR_S) != 0 && (ar & (TYPE_CODE | TYPE_CONFORMING)) == (TYPE_CODE | TYPE_CONFORMING);
        int dpl = dpl(ar);
        return conformingCode || (dpl >= c.cpl && dpl >= (selector & 3));
    }

    private static void verify(Cpu c, Insn i, boolean write) {
        requireProtectedMode(c);
        int selector = (int) Operands.readRm(c, i, 2);
        boolean ok = false;
        if (descriptorInTable(c, selector, 8)) {
            long d = c.readSys(descriptorAddress(c, selector), 8);
            int ar = descriptorAttr(d);
            int type = ar & AR_TYPE;
            if ((ar & AR_S) != 0) {
                boolean code = (type & TYPE_CODE) != 0;
                boolean usable = write ? !code && (type & TYPE_WRITABLE) != 0 : !code || (type & TYPE_READABLE) != 0;
                ok = usable && visible(c, ar, selector);
            }
        }
        setZf(c, ok);
    }

    /**
     * LAR/LSL (SDM Vol. 2A): code and data descriptors, and the system types valid in the current
     * mode. LAR loads the descriptor's second doubleword masked with 00FFFF00H (bits 19:16 are the
     * limit bits, as hardware returns them); LSL the byte-granular limit. ZF reports success; the
     * destination is unchanged on failure.
     */
    private static void accessRightsOrLimit(Cpu c, Insn i, boolean limit) {
        requireProtectedMode(c);
        int selector = (int) Operands.readRm(c, i, 2);
        boolean ok = false;
        long d = 0;
        if (descriptorInTable(c, selector, 8)) {
            d = c.readSys(descriptorAddress(c, selector), 8);
            int ar = descriptorAttr(d);
            boolean typeOk;
            if ((ar & AR_S) != 0) {
                typeOk = true;
            } else {
                int type = ar & AR_TYPE;
                boolean ia32e = longDescriptors(c);
                typeOk = switch (type) {
                    case 2, 9, 0xB -> true;
                    case 0xC -> !limit;
                    case 1, 3 -> !ia32e;
                    case 4, 5 -> !ia32e && !limit;
                    default -> false;
                };
                if (typeOk && ia32e) {
                    // 16-byte system descriptor: its upper half must be in the table with type 0.
                    typeOk = descriptorInTable(c, selector, 16)
                            && (c.readSys(descriptorAddress(c, selector) + 8, 8) >>> 40 & 0x1F) == 0;
                }
            }
            ok = typeOk && visible(c, ar, selector);
        }
        if (ok) {
            long v = limit ? descriptorLimit(d) : (d >>> 32) & 0x00FF_FF00L;
            c.writeReg(i.reg, i.opSize, v);
        }
        setZf(c, ok);
    }

    // ---- TLB ----

    /** INVPCID (SDM Vol. 2A): the TLB is not tagged by PCID, so each type maps to a wider flush. */
    private static void invpcid(Cpu c, Insn i) {
        requireCpl0(c);
        long type = c.readReg(i.reg, crSize(c));
        long la = Operands.linear(c, i, 16, Cpu.ACCESS_READ);
        long descriptor = c.readL64(i.seg, la);
        long address = c.readL64(i.seg, (la + 8) & c.linearMask);
        if (Long.compareUnsigned(type, 3) > 0) throw c.gp0();
        long pcid = descriptor & 0xFFF;
        if ((descriptor >>> 12) != 0) throw c.gp0();
        boolean pcide = (c.cr4 & CR4_PCIDE) != 0;
        if (type == 0 && (!Msrs.canonical(address) || (pcid != 0 && !pcide))) throw c.gp0();
        if (type == 1 && pcid != 0 && !pcide) throw c.gp0();
        // Under shadow paging the flush already took effect before the exit the VMM answered.
        if (!c.mmu.resumingShadowExit()) {
            switch ((int) type) {
                case 0 -> {
                    c.mmu.flushPage(address);
                    c.mmu.invalidated(address);
                }
                case 2 -> c.mmu.flushAll();
                default -> {
                    c.mmu.flushNonGlobal();
                    c.mmu.nonGlobalFlushed();
                }
            }
        }
        c.rip = i.nextRip;
    }

    // ---- XSAVE ----

    /** #UD without CR4.OSXSAVE, #NM with CR0.TS, #GP(0) unless 64-byte aligned; returns the linear address. */
    private static long xsaveArea(Cpu c, Insn i, int access) {
        if ((c.cr4 & CR4_OSXSAVE) == 0) throw c.ud();
        if ((c.cr0 & CR0_TS) != 0) throw c.fault(EXC_NM);
        long la = Operands.linear(c, i, XSAVE_AREA_SIZE, access);
        if ((la & 63) != 0) throw c.gp0();
        return la;
    }

    private static long requestedFeatures(Cpu c) {
        return c.xcr0 & ((c.gpr[RDX] << 32) | (c.gpr[RAX] & 0xFFFF_FFFFL));
    }

    /**
     * XSAVE and XSAVEOPT (standard form, SDM Vol. 1, 13.7 and 13.9). This processor treats both
     * offered components as always in use (XINUSE = 11b) and does not use the optional init and
     * modified optimizations, so XSAVEOPT saves exactly what XSAVE saves.
     */
    private static void xsave(Cpu c, Insn i) {
        long la = xsaveArea(c, i, Cpu.ACCESS_WRITE);
        c.probeWrite(i.seg, la, XSAVE_AREA_SIZE);
        long rfbm = requestedFeatures(c);
        long headerAt = (la + FxsaveArea.SIZE) & c.linearMask;
        long xstateBv = c.readL64(i.seg, headerAt);
        boolean format64 = i.opSize == 8;
        if ((rfbm & 1) != 0) FxsaveArea.saveX87(c, i.seg, la, format64);
        if ((rfbm & 2) != 0) {
            FxsaveArea.saveMxcsr(c, i.seg, la);
            FxsaveArea.saveXmm(c, i.seg, la);
        }
        c.writeL64(i.seg, headerAt, (xstateBv & ~rfbm) | rfbm);
    }

    /**
     * XRSTOR, standard form (SDM Vol. 1, 13.8.1): #GP(0) when XSTATE_BV has a bit outside XCR0,
     * when XCOMP_BV or the next header quadword is not zero (the compacted form is not offered),
     * or for reserved MXCSR bits. Each requested component is loaded if its XSTATE_BV bit is set
     * and initialized otherwise; MXCSR is loaded whenever SSE state is requested.
     */
    private static void xrstor(Cpu c, Insn i) {
        long la = xsaveArea(c, i, Cpu.ACCESS_READ);
        long headerAt = (la + FxsaveArea.SIZE) & c.linearMask;
        long xstateBv = c.readL64(i.seg, headerAt);
        long xcompBv = c.readL64(i.seg, (headerAt + 8) & c.linearMask);
        long reserved = c.readL64(i.seg, (headerAt + 16) & c.linearMask);
        if (xcompBv != 0 || reserved != 0 || (xstateBv & ~c.xcr0) != 0) throw c.gp0();
        long rfbm = requestedFeatures(c);
        if ((rfbm & 3) == 0) return;
        long[] image = FxsaveArea.read(c, i.seg, la);
        int mxcsr = (rfbm & 2) != 0 ? FxsaveArea.checkedMxcsr(c, image) : c.mxcsr;
        boolean format64 = i.opSize == 8;
        if ((rfbm & 1) != 0) {
            if ((xstateBv & 1) != 0) FxsaveArea.loadX87(c, image, format64);
            else FxsaveArea.initX87(c);
        }
        if ((rfbm & 2) != 0) {
            c.mxcsr = mxcsr;
            if ((xstateBv & 2) != 0) FxsaveArea.loadXmm(c, image);
            else FxsaveArea.initXmm(c);
        }
    }
}
