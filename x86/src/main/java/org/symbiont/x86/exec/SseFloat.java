package org.symbiont.x86.exec;

import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeTable.*;
import static org.symbiont.x86.exec.SoftFloat.F32;
import static org.symbiont.x86.exec.SoftFloat.F64;
import static org.symbiont.x86.exec.SoftFloat.MASK32;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * SSE/SSE2 floating point: packed and scalar single/double arithmetic (ADD, SUB, MUL, DIV, MIN,
 * MAX, SQRT), the RCP/RSQRT approximations, CMPcc, (U)COMIS, the conversions, and LDMXCSR/STMXCSR
 * (SDM Vol. 2; Vol. 1, chapters 10-11). The arithmetic itself is in {@link SoftFloat}; results
 * are written only after {@link Sse#end} has accepted the instruction's exceptions.
 */
public final class SseFloat {
    private SseFloat() {}

    // Operand forms, equal to the mandatory-prefix classes that select them.
    private static final int PS = PFX_NONE, PD = PFX_66, SS = PFX_F3, SD = PFX_F2;

    // Indexes: arithmetic kind << 2 | form for kinds 0..6 (SoftFloat.ADD..SQRT), then the rest.
    private static final int CMP = 28;
    private static final int UCOMISS = 32, UCOMISD = 33, COMISS = 34, COMISD = 35;
    private static final int RSQRTPS = 36, RSQRTSS = 37, RCPPS = 38, RCPSS = 39;
    private static final int CVTSI2SS = 40, CVTSI2SD = 41, CVTTSS2SI = 42, CVTTSD2SI = 43, CVTSS2SI = 44, CVTSD2SI = 45;
    private static final int CVTPS2PD = 46, CVTPD2PS = 47, CVTSS2SD = 48, CVTSD2SS = 49;
    private static final int CVTDQ2PS = 50, CVTPS2DQ = 51, CVTTPS2DQ = 52;
    private static final int CVTTPD2DQ = 53, CVTDQ2PD = 54, CVTPD2DQ = 55;
    private static final int LDMXCSR = 56, STMXCSR = 57;

    private static final String[] KIND_NAMES = {"add", "sub", "mul", "div", "min", "max", "sqrt"};
    private static final int[] KIND_OPCODES = {0x58, 0x5C, 0x59, 0x5E, 0x5D, 0x5F, 0x51};
    private static final String[] FORM_NAMES = {"ps", "pd", "ss", "sd"};

    private static int op(int index) {
        return Families.op(Families.SSE_FLOAT, index);
    }

    private static void reg(OpcodeTable t, int opcode, int pfx, int index, String name) {
        t.define(op(index), name, 0);
        t.at(MAP_0F, opcode).mandatory(pfx).is(op(index));
    }

    static void register(OpcodeTable t) {
        for (int kind = 0; kind < KIND_OPCODES.length; kind++) {
            for (int form = 0; form < 4; form++) {
                reg(t, KIND_OPCODES[kind], form, kind << 2 | form, KIND_NAMES[kind] + FORM_NAMES[form]);
            }
        }
        for (int form = 0; form < 4; form++) reg(t, 0xC2, form, CMP + form, "cmp" + FORM_NAMES[form]);
        reg(t, 0x2E, PFX_NONE, UCOMISS, "ucomiss");
        reg(t, 0x2E, PFX_66, UCOMISD, "ucomisd");
        reg(t, 0x2F, PFX_NONE, COMISS, "comiss");
        reg(t, 0x2F, PFX_66, COMISD, "comisd");
        reg(t, 0x52, PFX_NONE, RSQRTPS, "rsqrtps");
        reg(t, 0x52, PFX_F3, RSQRTSS, "rsqrtss");
        reg(t, 0x53, PFX_NONE, RCPPS, "rcpps");
        reg(t, 0x53, PFX_F3, RCPSS, "rcpss");
        reg(t, 0x2A, PFX_F3, CVTSI2SS, "cvtsi2ss");
        reg(t, 0x2A, PFX_F2, CVTSI2SD, "cvtsi2sd");
        reg(t, 0x2C, PFX_F3, CVTTSS2SI, "cvttss2si");
        reg(t, 0x2C, PFX_F2, CVTTSD2SI, "cvttsd2si");
        reg(t, 0x2D, PFX_F3, CVTSS2SI, "cvtss2si");
        reg(t, 0x2D, PFX_F2, CVTSD2SI, "cvtsd2si");
        reg(t, 0x5A, PFX_NONE, CVTPS2PD, "cvtps2pd");
        reg(t, 0x5A, PFX_66, CVTPD2PS, "cvtpd2ps");
        reg(t, 0x5A, PFX_F3, CVTSS2SD, "cvtss2sd");
        reg(t, 0x5A, PFX_F2, CVTSD2SS, "cvtsd2ss");
        reg(t, 0x5B, PFX_NONE, CVTDQ2PS, "cvtdq2ps");
        reg(t, 0x5B, PFX_66, CVTPS2DQ, "cvtps2dq");
        reg(t, 0x5B, PFX_F3, CVTTPS2DQ, "cvttps2dq");
        reg(t, 0xE6, PFX_66, CVTTPD2DQ, "cvttpd2dq");
        reg(t, 0xE6, PFX_F3, CVTDQ2PD, "cvtdq2pd");
        reg(t, 0xE6, PFX_F2, CVTPD2DQ, "cvtpd2dq");
        t.define(op(LDMXCSR), "ldmxcsr", 0);
        t.define(op(STMXCSR), "stmxcsr", 0);
        t.at(MAP_0F, 0xAE).reg(2).mem().mandatory(PFX_NONE).is(op(LDMXCSR));
        t.at(MAP_0F, 0xAE).reg(3).mem().mandatory(PFX_NONE).is(op(STMXCSR));
    }

    static void exec(Cpu c, Insn i) {
        Sse.check(c);
        int idx = i.op & 0xFF;
        if (idx < CMP) {
            arith(c, i, idx >>> 2, idx & 3);
            return;
        }
        switch (idx) {
            case CMP, CMP + 1, CMP + 2, CMP + 3 -> compare(c, i, idx - CMP);
            case UCOMISS, UCOMISD, COMISS, COMISD -> compareFlags(c, i, (idx & 1) != 0 ? F64 : F32, idx >= COMISS);
            case RSQRTPS, RCPPS -> approximatePacked(c, i, idx == RCPPS);
            case RSQRTSS, RCPSS -> approximateScalar(c, i, idx == RCPSS);
            case CVTSI2SS, CVTSI2SD -> intToScalar(c, i, idx == CVTSI2SD ? F64 : F32);
            case CVTTSS2SI, CVTSS2SI -> scalarToInt(c, i, F32, idx == CVTTSS2SI);
            case CVTTSD2SI, CVTSD2SI -> scalarToInt(c, i, F64, idx == CVTTSD2SI);
            case CVTPS2PD -> cvtps2pd(c, i);
            case CVTPD2PS -> cvtpd2ps(c, i);
            case CVTSS2SD -> cvtss2sd(c, i);
            case CVTSD2SS -> cvtsd2ss(c, i);
            case CVTDQ2PS -> cvtdq2ps(c, i);
            case CVTPS2DQ, CVTTPS2DQ -> cvtps2dq(c, i, idx == CVTTPS2DQ);
            case CVTPD2DQ, CVTTPD2DQ -> cvtpd2dq(c, i, idx == CVTTPD2DQ);
            case CVTDQ2PD -> cvtdq2pd(c, i);
            case LDMXCSR -> {
                int v = c.read32(i.seg, Operands.ea(c, i));
                if ((v & ~Sse.MXCSR_MASK) != 0) throw c.gp0();
                c.mxcsr = v;
            }
            case STMXCSR -> c.write32(i.seg, Operands.ea(c, i), c.mxcsr);
            default -> throw c.ud();
        }
    }

    // ---- source operands ----

    /** Low quadword of a 128-bit source: a register, or the m128 at {@code la} (see {@link #m128}). */
    private static long sourceLow(Cpu c, Insn i, long la) {
        return i.rm >= 0 ? c.xmm[2 * i.rm] : Sse.readLow(c, i, la);
    }

    private static long sourceHigh(Cpu c, Insn i, long la) {
        return i.rm >= 0 ? c.xmm[2 * i.rm + 1] : Sse.readHigh(c, i, la);
    }

    /** Linear address of an aligned m128 source, or 0 for a register source. */
    private static long m128(Cpu c, Insn i) {
        return i.rm >= 0 ? 0 : Sse.address(c, i, 16, Cpu.ACCESS_READ, true);
    }

    /** A 64-bit source: the low quadword of a register or an unaligned m64. */
    private static long source64(Cpu c, Insn i) {
        return i.rm >= 0 ? c.xmm[2 * i.rm] : c.read64(i.seg, Operands.ea(c, i));
    }

    /** A 32-bit source: the low doubleword of a register or an unaligned m32. */
    private static long source32(Cpu c, Insn i) {
        return i.rm >= 0 ? c.xmm[2 * i.rm] & MASK32 : c.read32(i.seg, Operands.ea(c, i)) & MASK32;
    }

    // ---- arithmetic ----

    private static void arith(Cpu c, Insn i, int kind, int form) {
        int d = 2 * i.reg;
        long bLo, bHi = 0;
        if (form == PS || form == PD) {
            long la = m128(c, i);
            bLo = sourceLow(c, i, la);
            bHi = sourceHigh(c, i, la);
        } else {
            bLo = form == SS ? source32(c, i) : source64(c, i);
        }
        long aLo = c.xmm[d], aHi = c.xmm[d + 1], rLo, rHi;
        int sticky = Sse.begin(c);
        switch (form) {
            case PS -> {
                rLo = packedSingle(c, kind, aLo, bLo);
                rHi = packedSingle(c, kind, aHi, bHi);
            }
            case PD -> {
                rLo = SoftFloat.arith64(c, kind, aLo, bLo);
                rHi = SoftFloat.arith64(c, kind, aHi, bHi);
            }
            case SS -> {
                rLo = (aLo & ~MASK32) | (SoftFloat.arith32(c, kind, (int) aLo, (int) bLo) & MASK32);
                rHi = aHi;
            }
            default -> {
                rLo = SoftFloat.arith64(c, kind, aLo, bLo);
                rHi = aHi;
            }
        }
        Sse.end(c, sticky);
        c.xmm[d] = rLo;
        c.xmm[d + 1] = rHi;
    }

    private static long packedSingle(Cpu c, int kind, long a, long b) {
        int lo = SoftFloat.arith32(c, kind, (int) a, (int) b);
        int hi = SoftFloat.arith32(c, kind, (int) (a >>> 32), (int) (b >>> 32));
        return (lo & MASK32) | (long) hi << 32;
    }

    // ---- compares ----

    /** CMPPS/CMPPD/CMPSS/CMPSD: legacy SSE encodings use imm8[2:0] as the predicate. */
    private static void compare(Cpu c, Insn i, int form) {
        int d = 2 * i.reg;
        int pred = (int) i.imm & 7;
        long bLo, bHi = 0;
        if (form == PS || form == PD) {
            long la = m128(c, i);
            bLo = sourceLow(c, i, la);
            bHi = sourceHigh(c, i, la);
        } else {
            bLo = form == SS ? source32(c, i) : source64(c, i);
        }
        long aLo = c.xmm[d], aHi = c.xmm[d + 1], rLo, rHi;
        int sticky = Sse.begin(c);
        switch (form) {
            case PS -> {
                rLo = compareSingles(c, aLo, bLo, pred);
                rHi = compareSingles(c, aHi, bHi, pred);
            }
            case PD -> {
                rLo = SoftFloat.compare(c, F64, aLo, bLo, pred) ? -1L : 0;
                rHi = SoftFloat.compare(c, F64, aHi, bHi, pred) ? -1L : 0;
            }
            case SS -> {
                rLo = (aLo & ~MASK32) | (SoftFloat.compare(c, F32, aLo & MASK32, bLo, pred) ? MASK32 : 0);
                rHi = aHi;
            }
            default -> {
                rLo = SoftFloat.compare(c, F64, aLo, bLo, pred) ? -1L : 0;
                rHi = aHi;
            }
        }
        Sse.end(c, sticky);
        c.xmm[d] = rLo;
        c.xmm[d + 1] = rHi;
    }

    private static long compareSingles(Cpu c, long a, long b, int pred) {
        long lo = SoftFloat.compare(c, F32, a & MASK32, b & MASK32, pred) ? MASK32 : 0;
        long hi = SoftFloat.compare(c, F32, a >>> 32, b >>> 32, pred) ? MASK32 : 0;
        return lo | hi << 32;
    }

    /** COMISS/COMISD/UCOMISS/UCOMISD: ZF, PF, CF from the compare; OF, SF, AF cleared. */
    private static void compareFlags(Cpu c, Insn i, int fmt, boolean signalQuiet) {
        long b = fmt == F64 ? source64(c, i) : source32(c, i);
        long a = fmt == F64 ? c.xmm[2 * i.reg] : c.xmm[2 * i.reg] & MASK32;
        int sticky = Sse.begin(c);
        long flags = SoftFloat.compareFlags(c, fmt, a, b, signalQuiet);
        Sse.end(c, sticky);
        Flags.setStatus(c, flags);
    }

    // ---- approximations (no exceptions, MXCSR unused) ----

    private static void approximatePacked(Cpu c, Insn i, boolean reciprocal) {
        long la = m128(c, i);
        long lo = sourceLow(c, i, la), hi = sourceHigh(c, i, la);
        int d = 2 * i.reg;
        c.xmm[d] = approximateTwo(lo, reciprocal);
        c.xmm[d + 1] = approximateTwo(hi, reciprocal);
    }

    private static long approximateTwo(long v, boolean reciprocal) {
        int lo = reciprocal ? SoftFloat.reciprocal((int) v) : SoftFloat.reciprocalSqrt((int) v);
        int hi = reciprocal ? SoftFloat.reciprocal((int) (v >>> 32)) : SoftFloat.reciprocalSqrt((int) (v >>> 32));
        return (lo & MASK32) | (long) hi << 32;
    }

    private static void approximateScalar(Cpu c, Insn i, boolean reciprocal) {
        int v = (int) source32(c, i);
        int r = reciprocal ? SoftFloat.reciprocal(v) : SoftFloat.reciprocalSqrt(v);
        int d = 2 * i.reg;
        c.xmm[d] = (c.xmm[d] & ~MASK32) | (r & MASK32);
    }

    // ---- conversions ----

    /** CVTSI2SS/CVTSI2SD xmm, r/m32 (r/m64 with REX.W). */
    private static void intToScalar(Cpu c, Insn i, int fmt) {
        int size = i.opSize == 8 ? 8 : 4;
        long v = Operands.signExtend(Operands.readRm(c, i, size), size);
        int d = 2 * i.reg;
        int sticky = Sse.begin(c);
        long r = SoftFloat.fromInt(c, fmt, v);
        Sse.end(c, sticky);
        c.xmm[d] = fmt == F64 ? r : (c.xmm[d] & ~MASK32) | r;
    }

    /** CVT(T)SS2SI/CVT(T)SD2SI r32/r64, xmm/m32|m64. */
    private static void scalarToInt(Cpu c, Insn i, int fmt, boolean truncate) {
        long x = fmt == F64 ? source64(c, i) : source32(c, i);
        boolean quad = i.opSize == 8;
        int sticky = Sse.begin(c);
        long r = SoftFloat.toInt(c, fmt, x, truncate, quad);
        Sse.end(c, sticky);
        c.writeReg(i.reg, quad ? 8 : 4, r);
    }

    private static void cvtps2pd(Cpu c, Insn i) {
        long v = source64(c, i);
        int sticky = Sse.begin(c);
        long lo = SoftFloat.widen(c, v & MASK32), hi = SoftFloat.widen(c, v >>> 32);
        Sse.end(c, sticky);
        c.xmm[2 * i.reg] = lo;
        c.xmm[2 * i.reg + 1] = hi;
    }

    private static void cvtpd2ps(Cpu c, Insn i) {
        long la = m128(c, i);
        long a = sourceLow(c, i, la), b = sourceHigh(c, i, la);
        int sticky = Sse.begin(c);
        long r = SoftFloat.narrow(c, a) | SoftFloat.narrow(c, b) << 32;
        Sse.end(c, sticky);
        c.xmm[2 * i.reg] = r;
        c.xmm[2 * i.reg + 1] = 0;
    }

    private static void cvtss2sd(Cpu c, Insn i) {
        long v = source32(c, i);
        int sticky = Sse.begin(c);
        long r = SoftFloat.widen(c, v);
        Sse.end(c, sticky);
        c.xmm[2 * i.reg] = r;
    }

    private static void cvtsd2ss(Cpu c, Insn i) {
        long v = source64(c, i);
        int sticky = Sse.begin(c);
        long r = SoftFloat.narrow(c, v);
        Sse.end(c, sticky);
        int d = 2 * i.reg;
        c.xmm[d] = (c.xmm[d] & ~MASK32) | r;
    }

    private static void cvtdq2ps(Cpu c, Insn i) {
        long la = m128(c, i);
        long a = sourceLow(c, i, la), b = sourceHigh(c, i, la);
        int sticky = Sse.begin(c);
        long lo = intsToSingles(c, a), hi = intsToSingles(c, b);
        Sse.end(c, sticky);
        c.xmm[2 * i.reg] = lo;
        c.xmm[2 * i.reg + 1] = hi;
    }

    private static long intsToSingles(Cpu c, long v) {
        return SoftFloat.fromInt(c, F32, (int) v) | SoftFloat.fromInt(c, F32, (int) (v >>> 32)) << 32;
    }

    private static void cvtps2dq(Cpu c, Insn i, boolean truncate) {
        long la = m128(c, i);
        long a = sourceLow(c, i, la), b = sourceHigh(c, i, la);
        int sticky = Sse.begin(c);
        long lo = singlesToInts(c, a, truncate), hi = singlesToInts(c, b, truncate);
        Sse.end(c, sticky);
        c.xmm[2 * i.reg] = lo;
        c.xmm[2 * i.reg + 1] = hi;
    }

    private static long singlesToInts(Cpu c, long v, boolean truncate) {
        return SoftFloat.toInt(c, F32, v & MASK32, truncate, false)
                | SoftFloat.toInt(c, F32, v >>> 32, truncate, false) << 32;
    }

    private static void cvtpd2dq(Cpu c, Insn i, boolean truncate) {
        long la = m128(c, i);
        long a = sourceLow(c, i, la), b = sourceHigh(c, i, la);
        int sticky = Sse.begin(c);
        long r = SoftFloat.toInt(c, F64, a, truncate, false) | SoftFloat.toInt(c, F64, b, truncate, false) << 32;
        Sse.end(c, sticky);
        c.xmm[2 * i.reg] = r;
        c.xmm[2 * i.reg + 1] = 0;
    }

    /** CVTDQ2PD: exact, no exceptions possible. */
    private static void cvtdq2pd(Cpu c, Insn i) {
        long v = source64(c, i);
        c.xmm[2 * i.reg] = Double.doubleToRawLongBits((int) v);
        c.xmm[2 * i.reg + 1] = Double.doubleToRawLongBits((int) (v >>> 32));
    }
}
