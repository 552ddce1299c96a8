package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * The x87 control instructions start-up and context-switch code uses: FNINIT, FNCLEX, FNSTCW,
 * FLDCW, FNSTSW (memory and AX), FWAIT, FNSTENV/FLDENV, FNSAVE/FRSTOR, and the FXSAVE/FXRSTOR
 * state save (SDM Vol. 1, 8.1 and 8.3.11; Vol. 2). The x87 arithmetic is not modelled: those
 * opcodes stay unregistered and raise #UD.
 *
 * <p>State: {@code fpuStatus} holds the status word with TOP; {@code fpuTagWord} holds only which
 * registers are empty (11) or not (00) — the stored forms compute the valid/zero/special tags from
 * the register contents, as processors since the P6 do. FCS and FDS are always stored as zero, as
 * on processors that deprecate them (CPUID.(EAX=7,ECX=0):EBX[13]).
 *
 * <p>Pending exceptions: an exception flag in the status word whose mask bit is clear. The
 * waiting instructions (FWAIT, FLDCW, FLDENV, FRSTOR) raise #MF for it when CR0.NE is set. With
 * CR0.NE clear the error would be reported through the FERR# pin to an external interrupt
 * controller, which this platform does not wire: the instruction then proceeds, as if IGNNE#
 * were asserted.
 */
public final class Fpu {
    private Fpu() {}

    private static final int FNINIT = 0, FNCLEX = 1, FNSTCW = 2, FLDCW = 3, FNSTSW = 4, FNSTSW_AX = 5, FWAIT = 6;
    private static final int FNSTENV = 7, FLDENV = 8, FNSAVE = 9, FRSTOR = 10, FXSAVE = 11, FXRSTOR = 12;

    /** Status word: exception flags 0-5, stack fault 6, error summary 7, TOP 11-13, busy 15. */
    private static final int SW_EXCEPTIONS = 0x3F, SW_SF = 0x40, SW_ES = 0x80, SW_BUSY = 0x8000;
    private static final int CW_DEFAULT = 0x037F;

    private static int op(int index) {
        return Families.op(Families.FPU, index);
    }

    static void register(OpcodeTable t) {
        t.define(op(FNINIT), "fninit", 0);
        t.define(op(FNCLEX), "fnclex", 0);
        t.define(op(FNSTCW), "fnstcw Mw", 0);
        t.define(op(FLDCW), "fldcw Mw", 0);
        t.define(op(FNSTSW), "fnstsw Mw", 0);
        t.define(op(FNSTSW_AX), "fnstsw ax", 0);
        t.define(op(FWAIT), "fwait", 0);
        t.define(op(FNSTENV), "fnstenv M", 0);
        t.define(op(FLDENV), "fldenv M", 0);
        t.define(op(FNSAVE), "fnsave M", 0);
        t.define(op(FRSTOR), "frstor M", 0);
        t.define(op(FXSAVE), "fxsave M", 0);
        t.define(op(FXRSTOR), "fxrstor M", 0);
        t.at(MAP_1, 0xDB).reg(4).rm(3).is(op(FNINIT));
        t.at(MAP_1, 0xDB).reg(4).rm(2).is(op(FNCLEX));
        t.at(MAP_1, 0xD9).reg(7).mem().is(op(FNSTCW));
        t.at(MAP_1, 0xD9).reg(5).mem().is(op(FLDCW));
        t.at(MAP_1, 0xDD).reg(7).mem().is(op(FNSTSW));
        t.at(MAP_1, 0xDF).reg(4).rm(0).is(op(FNSTSW_AX));
        t.at(MAP_1, 0x9B).is(op(FWAIT));
        t.at(MAP_1, 0xD9).reg(6).mem().is(op(FNSTENV));
        t.at(MAP_1, 0xD9).reg(4).mem().is(op(FLDENV));
        t.at(MAP_1, 0xDD).reg(6).mem().is(op(FNSAVE));
        t.at(MAP_1, 0xDD).reg(4).mem().is(op(FRSTOR));
        t.at(MAP_0F, 0xAE).reg(0).mem().mandatory(PFX_NONE).is(op(FXSAVE));
        t.at(MAP_0F, 0xAE).reg(1).mem().mandatory(PFX_NONE).is(op(FXRSTOR));
    }

    static void exec(Cpu c, Insn i) {
        int idx = i.op & 0xFF;
        if (idx == FWAIT) {
            if ((c.cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) throw c.fault(EXC_NM);
            checkPending(c);
            return;
        }
        // Every x87 instruction and FXSAVE/FXRSTOR: #NM when CR0.EM or CR0.TS (SDM Vol. 3A, table 2-2).
        if ((c.cr0 & (CR0_EM | CR0_TS)) != 0) throw c.fault(EXC_NM);
        switch (idx) {
            case FNINIT -> init(c);
            case FNCLEX -> c.fpuStatus &= ~(SW_EXCEPTIONS | SW_SF | SW_ES | SW_BUSY);
            case FNSTCW -> c.write16(i.seg, Operands.ea(c, i), c.fpuControl);
            case FLDCW -> {
                checkPending(c);
                int cw = c.read16(i.seg, Operands.ea(c, i));
                c.fpuControl = cw;
                updateSummary(c);
            }
            case FNSTSW -> c.write16(i.seg, Operands.ea(c, i), c.fpuStatus);
            case FNSTSW_AX -> c.writeReg(RAX, 2, c.fpuStatus);
            case FNSTENV -> {
                long la = Operands.linear(c, i, environmentSize(i), Cpu.ACCESS_WRITE);
                c.probeWrite(i.seg, la, environmentSize(i));
                storeEnvironment(c, i, la);
                c.fpuControl |= SW_EXCEPTIONS; // then mask all exceptions
                updateSummary(c);
            }
            case FLDENV -> {
                checkPending(c);
                long la = Operands.linear(c, i, environmentSize(i), Cpu.ACCESS_READ);
                loadEnvironment(c, i, la);
            }
            case FNSAVE -> {
                int env = environmentSize(i);
                long la = Operands.linear(c, i, env + 80, Cpu.ACCESS_WRITE);
                c.probeWrite(i.seg, la, env + 80);
                storeEnvironment(c, i, la);
                for (int r = 0; r < 8; r++) storeRegister(c, i, la + env + 10L * r, r);
                init(c);
            }
            case FRSTOR -> {
                checkPending(c);
                int env = environmentSize(i);
                long la = Operands.linear(c, i, env + 80, Cpu.ACCESS_READ);
                probeRead(c, i, la, env + 80);
                loadEnvironment(c, i, la);
                for (int r = 0; r < 8; r++) loadRegister(c, i, la + env + 10L * r, r);
            }
            case FXSAVE -> fxsave(c, i);
            case FXRSTOR -> fxrstor(c, i);
            default -> throw c.ud();
        }
    }

    /** FNINIT (SDM Vol. 2A, FINIT/FNINIT): default control word, clear status, all registers empty, pointers cleared. */
    private static void init(Cpu c) {
        c.fpuControl = CW_DEFAULT;
        c.fpuStatus = 0;
        c.fpuTagWord = 0xFFFF;
        c.fpuLastIp = 0;
        c.fpuLastDp = 0;
        c.fpuLastOpcode = 0;
    }

    private static boolean pending(Cpu c) {
        return (c.fpuStatus & ~c.fpuControl & SW_EXCEPTIONS) != 0;
    }

    /** The wait operation of waiting instructions: #MF for a pending unmasked exception (CR0.NE set). */
    private static void checkPending(Cpu c) {
        if (pending(c) && (c.cr0 & CR0_NE) != 0) throw c.fault(EXC_MF);
    }

    /** ES and B follow the unmasked exception flags after the control or status word changes. */
    /** Recomputes FSW.ES and FSW.B from the pending, unmasked exception flags. */
    static void updateSummary(Cpu c) {
        c.fpuStatus = pending(c) ? c.fpuStatus | SW_ES | SW_BUSY : c.fpuStatus & ~(SW_ES | SW_BUSY);
    }

    private static void probeRead(Cpu c, Insn i, long la, int size) {
        c.mmu.probe(i.seg, la, size, Cpu.ACCESS_READ, c.cpl == 3);
    }

    // ---- environment (FNSTENV/FLDENV/FNSAVE/FRSTOR): SDM Vol. 1, figures 8-9 to 8-12 ----

    private static int environmentSize(Insn i) {
        return i.opSize == 2 ? 14 : 28;
    }

    private static boolean realFormat(Cpu c) {
        return (c.cr0 & CR0_PE) == 0 || (c.rflags & VM) != 0;
    }

    private static long at(Cpu c, long la, int offset) {
        return (la + offset) & c.linearMask;
    }

    private static void storeEnvironment(Cpu c, Insn i, long la) {
        boolean wide = environmentSize(i) == 28;
        int slot = wide ? 4 : 2;
        // In the 28-byte forms the upper halves of the 16-bit fields are reserved and stored as ones.
        int fill = wide ? 0xFFFF_0000 : 0;
        long ip = c.fpuLastIp, dp = c.fpuLastDp;
        int opcode = c.fpuLastOpcode & 0x7FF;
        writeSlot(c, i, la, 0, slot, fill | c.fpuControl);
        writeSlot(c, i, la, slot, slot, fill | c.fpuStatus);
        writeSlot(c, i, la, 2 * slot, slot, fill | fullTagWord(c));
        if (realFormat(c)) {
            // Pointer bits 31:16 (32-bit form) or 19:16 (16-bit form) go to bits 12 and up.
            long hiMask = wide ? 0xFFFF : 0xF;
            writeSlot(c, i, la, 3 * slot, slot, fill | (int) (ip & 0xFFFF));
            writeSlot(c, i, la, 4 * slot, slot, (int) ((ip >>> 16 & hiMask) << 12) | opcode);
            writeSlot(c, i, la, 5 * slot, slot, fill | (int) (dp & 0xFFFF));
            writeSlot(c, i, la, 6 * slot, slot, (int) ((dp >>> 16 & hiMask) << 12));
        } else {
            writeSlot(c, i, la, 3 * slot, slot, (int) ip);
            writeSlot(c, i, la, 4 * slot, slot, wide ? opcode << 16 : 0); // FCS = 0
            writeSlot(c, i, la, 5 * slot, slot, (int) dp);
            writeSlot(c, i, la, 6 * slot, slot, fill); // FDS = 0
        }
    }

    private static void writeSlot(Cpu c, Insn i, long la, int offset, int size, int v) {
        if (size == 4) c.writeL32(i.seg, at(c, la, offset), v);
        else c.writeL16(i.seg, at(c, la, offset), v);
    }

    private static int readSlot(Cpu c, Insn i, long la, int offset, int size) {
        return size == 4 ? c.readL32(i.seg, at(c, la, offset)) : c.readL16(i.seg, at(c, la, offset));
    }

    private static void loadEnvironment(Cpu c, Insn i, long la) {
        boolean wide = environmentSize(i) == 28;
        int slot = wide ? 4 : 2;
        int cw = readSlot(c, i, la, 0, slot) & 0xFFFF;
        int sw = readSlot(c, i, la, slot, slot) & 0xFFFF;
        int tw = readSlot(c, i, la, 2 * slot, slot) & 0xFFFF;
        int f3 = readSlot(c, i, la, 3 * slot, slot), f4 = readSlot(c, i, la, 4 * slot, slot);
        int f5 = readSlot(c, i, la, 5 * slot, slot), f6 = readSlot(c, i, la, 6 * slot, slot);
        long ip, dp;
        int opcode;
        if (realFormat(c)) {
            long hiMask = wide ? 0xFFFF : 0xF;
            ip = (f3 & 0xFFFFL) | ((f4 >>> 12) & hiMask) << 16;
            dp = (f5 & 0xFFFFL) | ((f6 >>> 12) & hiMask) << 16;
            opcode = f4 & 0x7FF;
        } else {
            ip = wide ? f3 & 0xFFFF_FFFFL : f3 & 0xFFFFL;
            dp = wide ? f5 & 0xFFFF_FFFFL : f5 & 0xFFFFL;
            opcode = wide ? (f4 >>> 16) & 0x7FF : 0;
        }
        c.fpuControl = cw;
        c.fpuStatus = sw;
        c.fpuTagWord = emptyOnly(tw);
        c.fpuLastIp = ip;
        c.fpuLastDp = dp;
        c.fpuLastOpcode = opcode;
        updateSummary(c);
    }

    /** Keeps of a loaded tag word only which registers are empty (SDM Vol. 1, 8.1.7). */
    private static int emptyOnly(int tagWord) {
        int t = 0;
        for (int r = 0; r < 8; r++) if ((tagWord >>> (2 * r) & 3) == 3) t |= 3 << (2 * r);
        return t;
    }

    /** The tag word as stored: empty, or computed from the contents of each physical register. */
    static int fullTagWord(Cpu c) {
        int top = (c.fpuStatus >>> 11) & 7;
        int t = 0;
        for (int phys = 0; phys < 8; phys++) {
            int tag = (c.fpuTagWord >>> (2 * phys) & 3) == 3 ? 3 : classify(c, (phys - top) & 7);
            t |= tag << (2 * phys);
        }
        return t;
    }

    /** Tag of ST(st): 00 valid, 01 zero, 10 special (NaN, infinity, denormal, unsupported). */
    private static int classify(Cpu c, int st) {
        byte[] r = c.fpuRegisters;
        long mantissa = 0;
        for (int b = 7; b >= 0; b--) mantissa = mantissa << 8 | (r[10 * st + b] & 0xFF);
        int exponent = ((r[10 * st + 9] & 0x7F) << 8) | (r[10 * st + 8] & 0xFF);
        if (exponent == 0) return mantissa == 0 ? 1 : 2;
        if (exponent == 0x7FFF || mantissa >= 0) return 2; // J bit (63) clear: unnormal
        return 0;
    }

    private static void storeRegister(Cpu c, Insn i, long la, int st) {
        byte[] r = c.fpuRegisters;
        long lo = 0;
        for (int b = 7; b >= 0; b--) lo = lo << 8 | (r[10 * st + b] & 0xFF);
        int hi = (r[10 * st + 8] & 0xFF) | (r[10 * st + 9] & 0xFF) << 8;
        c.writeL64(i.seg, at(c, la, 0), lo);
        c.writeL16(i.seg, at(c, la, 8), hi);
    }

    private static void loadRegister(Cpu c, Insn i, long la, int st) {
        long lo = c.readL64(i.seg, at(c, la, 0));
        int hi = c.readL16(i.seg, at(c, la, 8));
        byte[] r = c.fpuRegisters;
        for (int b = 0; b < 8; b++) r[10 * st + b] = (byte) (lo >>> (8 * b));
        r[10 * st + 8] = (byte) hi;
        r[10 * st + 9] = (byte) (hi >>> 8);
    }

    // ---- FXSAVE/FXRSTOR: the 512-byte legacy region (SDM Vol. 2A, FXSAVE, tables 3-53 and 3-56) ----

    /**
     * FXSAVE m512 (SDM Vol. 2A, FXSAVE): 16-byte alignment, the whole area checked writable before
     * any byte is stored, then the legacy region; REX.W selects the 64-bit FIP/FDP layout.
     */
    static void fxsave(Cpu c, Insn i) {
        long la = Operands.linear(c, i, FxsaveArea.SIZE, Cpu.ACCESS_WRITE);
        if ((la & 15) != 0) throw c.gp0();
        c.probeWrite(i.seg, la, 160 + 16 * FxsaveArea.xmmCount(c));
        FxsaveArea.save(c, i.seg, la, i.hasPrefix(Insn.P_REXW));
    }

    /** FXRSTOR m512: the inverse of {@link #fxsave}; reserved MXCSR bits in the image raise #GP(0). */
    static void fxrstor(Cpu c, Insn i) {
        long la = Operands.linear(c, i, FxsaveArea.SIZE, Cpu.ACCESS_READ);
        if ((la & 15) != 0) throw c.gp0();
        FxsaveArea.restore(c, i.seg, la, i.hasPrefix(Insn.P_REXW));
    }
}
