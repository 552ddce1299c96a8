package org.symbiont.x86.difftest;

import static org.symbiont.x86.difftest.Generator.*;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * Templates for SSE and SSE2 (legacy-encoded, 128-bit): arithmetic, compares, conversions,
 * moves, logic, shuffles and unpacks, integer SIMD. Packed memory operands are 16-byte aligned
 * (occasionally not, which must raise #GP). RCPPS/RCPSS/RSQRTPS/RSQRTSS are left out: their
 * results are approximations that differ between processor implementations.
 */
final class SseTemplates {
    private SseTemplates() {}

    /** One encoding: mandatory prefix (0 if none), 0F opcode, memory operand size, alignment, imm8. */
    private record Form(int prefix, int opcode, int memSize, boolean aligned, boolean imm8) {
        static Form of(int prefix, int opcode, int memSize) {
            return new Form(prefix, opcode, memSize, memSize == 16, false);
        }

        static Form unaligned(int prefix, int opcode, int memSize) {
            return new Form(prefix, opcode, memSize, false, false);
        }

        static Form withImm(int prefix, int opcode, int memSize) {
            return new Form(prefix, opcode, memSize, memSize == 16, true);
        }
    }

    static void register(Map<Family, Generator.Template> t) {
        t.put(Family.SSE_ARITH, SseTemplates::arith);
        t.put(Family.SSE_CMP, SseTemplates::compare);
        t.put(Family.SSE_CVT, SseTemplates::convert);
        t.put(Family.SSE_MOVE, SseTemplates::move);
        t.put(Family.SSE_LOGIC, g -> table(g, LOGIC));
        t.put(Family.SSE_SHUFFLE, SseTemplates::shuffle);
        t.put(Family.SSE_INT, SseTemplates::integer);
    }

    /** PS (16, aligned), PD (66), SS (F3, 4 bytes), SD (F2, 8 bytes) variants of an opcode. */
    private static Form[] fourWays(int opcode, boolean imm) {
        return new Form[] {
            new Form(0, opcode, 16, true, imm), new Form(0x66, opcode, 16, true, imm),
            new Form(0xF3, opcode, 4, false, imm), new Form(0xF2, opcode, 8, false, imm),
        };
    }

    private static final int[] ARITH_OPCODES = {0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51};

    private static final Form[] LOGIC = {
        Form.of(0, 0x54, 16), Form.of(0, 0x55, 16), Form.of(0, 0x56, 16), Form.of(0, 0x57, 16),
        Form.of(0x66, 0x54, 16), Form.of(0x66, 0x55, 16), Form.of(0x66, 0x56, 16), Form.of(0x66, 0x57, 16),
        Form.of(0x66, 0xDB, 16), Form.of(0x66, 0xDF, 16), Form.of(0x66, 0xEB, 16), Form.of(0x66, 0xEF, 16),
    };

    private static final Form[] SHUFFLE = {
        Form.withImm(0, 0xC6, 16), Form.withImm(0x66, 0xC6, 16),
        Form.of(0, 0x14, 16), Form.of(0, 0x15, 16), Form.of(0x66, 0x14, 16), Form.of(0x66, 0x15, 16),
        Form.withImm(0x66, 0x70, 16), Form.withImm(0xF3, 0x70, 16), Form.withImm(0xF2, 0x70, 16),
        Form.of(0x66, 0x60, 16), Form.of(0x66, 0x61, 16), Form.of(0x66, 0x62, 16), Form.of(0x66, 0x6C, 16),
        Form.of(0x66, 0x68, 16), Form.of(0x66, 0x69, 16), Form.of(0x66, 0x6A, 16), Form.of(0x66, 0x6D, 16),
        Form.of(0x66, 0x63, 16), Form.of(0x66, 0x6B, 16), Form.of(0x66, 0x67, 16),
    };

    private static final int[] INTEGER_OPCODES = {
        0xFC, 0xFD, 0xFE, 0xD4, 0xEC, 0xED, 0xDC, 0xDD,             // PADDB/W/D/Q, PADDSB/W, PADDUSB/W
        0xF8, 0xF9, 0xFA, 0xFB, 0xE8, 0xE9, 0xD8, 0xD9,             // PSUB..
        0xD5, 0xE5, 0xE4, 0xF4, 0xF5,                               // PMULLW, PMULHW, PMULHUW, PMULUDQ, PMADDWD
        0x74, 0x75, 0x76, 0x64, 0x65, 0x66,                         // PCMPEQB/W/D, PCMPGTB/W/D
        0xDE, 0xDA, 0xEE, 0xEA, 0xE0, 0xE3, 0xF6,                   // PMAXUB, PMINUB, PMAXSW, PMINSW, PAVGB, PAVGW, PSADBW
        0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3,             // shifts by an XMM/m128 count
    };

    private static final Form[] CONVERT = {
        Form.unaligned(0, 0x5A, 8), Form.of(0x66, 0x5A, 16), Form.of(0xF3, 0x5A, 4), Form.of(0xF2, 0x5A, 8),
        Form.of(0, 0x5B, 16), Form.of(0x66, 0x5B, 16), Form.of(0xF3, 0x5B, 16),
        Form.unaligned(0xF3, 0xE6, 8), Form.of(0xF2, 0xE6, 16), Form.of(0x66, 0xE6, 16),
    };

    private static final Form[] LOADS = {
        Form.unaligned(0, 0x10, 16), Form.unaligned(0x66, 0x10, 16), Form.of(0xF3, 0x10, 4), Form.of(0xF2, 0x10, 8),
        Form.of(0, 0x28, 16), Form.of(0x66, 0x28, 16), Form.of(0x66, 0x6F, 16), Form.unaligned(0xF3, 0x6F, 16),
        Form.of(0xF3, 0x7E, 8), Form.of(0, 0x12, 8), Form.of(0, 0x16, 8),   // MOVQ; MOVLPS/MOVHLPS, MOVHPS/MOVLHPS
    };

    private static final Form[] STORES = {
        Form.unaligned(0, 0x11, 16), Form.unaligned(0x66, 0x11, 16), Form.of(0xF3, 0x11, 4), Form.of(0xF2, 0x11, 8),
        Form.of(0, 0x29, 16), Form.of(0x66, 0x29, 16), Form.of(0x66, 0x7F, 16), Form.unaligned(0xF3, 0x7F, 16),
        Form.of(0x66, 0xD6, 8),
    };

    /** Memory-only moves: MOVLPD/MOVHPD loads, MOVLPS/MOVHPS/MOVLPD/MOVHPD stores, non-temporal stores. */
    private static final Form[] MEMORY_ONLY = {
        Form.of(0x66, 0x12, 8), Form.of(0x66, 0x16, 8), Form.of(0, 0x13, 8), Form.of(0, 0x17, 8),
        Form.of(0x66, 0x13, 8), Form.of(0x66, 0x17, 8), Form.of(0, 0x2B, 16), Form.of(0x66, 0x2B, 16),
        Form.of(0x66, 0xE7, 16),
    };

    private static int xmm(Generator g) {
        return g.rnd.nextInt(16);
    }

    /** A memory operand for a form: aligned ones are 16-byte aligned but for a rare deliberate miss. */
    private static Mem memory(Generator g, Form f) {
        return g.mem(f.memSize, f.aligned ? 16 : 1);
    }

    /** reg = XMM, rm = XMM or memory. */
    private static void emit(Generator g, Form f, boolean memoryOnly, int read, int written) {
        Instruction i = Instruction.op0F(f.opcode);
        if (f.prefix != 0) i.prefix(f.prefix);
        i.reg(xmm(g));
        if (memoryOnly || g.rnd.nextInt(5) < 2) i.rm(memory(g, f));
        else i.rm(xmm(g));
        if (f.imm8) i.imm(g.rnd.nextInt(256), 1);
        if (g.rnd.nextInt(10) == 0) i.rex(); // a REX prefix without bits must not change anything
        g.emit(i, read, written, 0);
    }

    private static boolean table(Generator g, Form[] forms) {
        emit(g, forms[g.rnd.nextInt(forms.length)], false, 0, 0);
        return true;
    }

    static boolean arith(Generator g) {
        Form[] f = fourWays(ARITH_OPCODES[g.rnd.nextInt(ARITH_OPCODES.length)], false);
        emit(g, f[g.rnd.nextInt(4)], false, 0, 0);
        return true;
    }

    static boolean compare(Generator g) {
        SplittableRandom r = g.rnd;
        if (r.nextBoolean()) {
            Form f = fourWays(0xC2, false)[r.nextInt(4)];
            Instruction i = Instruction.op0F(0xC2);
            if (f.prefix != 0) i.prefix(f.prefix);
            i.reg(xmm(g));
            if (r.nextInt(5) < 2) i.rm(memory(g, f));
            else i.rm(xmm(g));
            i.imm(r.nextInt(10) == 0 ? r.nextInt(256) : r.nextInt(8), 1);
            g.emit(i);
            return true;
        }
        // COMISS, UCOMISS, COMISD, UCOMISD: ZF, PF, CF from the comparison; OF, SF, AF cleared.
        boolean dbl = r.nextBoolean();
        Form f = Form.of(dbl ? 0x66 : 0, r.nextBoolean() ? 0x2F : 0x2E, dbl ? 8 : 4);
        emit(g, f, false, 0, STATUS);
        return true;
    }

    static boolean convert(Generator g) {
        SplittableRandom r = g.rnd;
        switch (r.nextInt(4)) {
            case 0 -> {
                // CVTSI2SS / CVTSI2SD xmm, r/m32 or r/m64
                int size = g.size(4, 8);
                Instruction i = Instruction.op0F(0x2A).prefix(r.nextBoolean() ? 0xF3 : 0xF2).size(size).reg(xmm(g));
                if (r.nextInt(5) < 2) i.rm(g.mem(size, 1));
                else i.rm(g.src());
                g.emit(i);
            }
            case 1 -> {
                // CVT(T)SS2SI / CVT(T)SD2SI r32/r64, xmm/m32 or m64
                boolean dbl = r.nextBoolean();
                Instruction i = Instruction.op0F(r.nextBoolean() ? 0x2C : 0x2D).prefix(dbl ? 0xF2 : 0xF3)
                        .size(g.size(4, 8)).reg(g.dest());
                if (r.nextInt(5) < 2) i.rm(g.mem(dbl ? 8 : 4, 1));
                else i.rm(xmm(g));
                g.emit(i);
            }
            default -> table(g, CONVERT);
        }
        return true;
    }

    static boolean move(Generator g) {
        SplittableRandom r = g.rnd;
        switch (r.nextInt(12)) {
            case 0, 1 -> table(g, LOADS);
            case 2, 3 -> {
                // Stores: ModRM.reg is the source.
                emit(g, STORES[r.nextInt(STORES.length)], false, 0, 0);
            }
            case 4 -> emit(g, MEMORY_ONLY[r.nextInt(MEMORY_ONLY.length)], true, 0, 0);
            case 5 -> {
                // MOVD/MOVQ xmm <- r/m32/64, r/m32/64 <- xmm
                int size = g.size(4, 8);
                boolean toXmm = r.nextBoolean();
                Instruction i = Instruction.op0F(toXmm ? 0x6E : 0x7E).prefix(0x66).size(size).reg(xmm(g));
                if (r.nextInt(5) < 2) i.rm(g.mem(size, 1));
                else i.rm(toXmm ? g.src() : g.dest());
                g.emit(i);
            }
            case 6 -> {
                // MOVMSKPS, MOVMSKPD, PMOVMSKB: GPR <- sign bits
                int kind = r.nextInt(3);
                Instruction i = Instruction.op0F(kind == 2 ? 0xD7 : 0x50).reg(g.dest()).rm(xmm(g));
                if (kind != 0) i.prefix(0x66);
                if (r.nextBoolean()) i.rexW();
                g.emit(i);
            }
            case 7 -> {
                // MOVNTI m32/m64, r
                int size = g.size(4, 8);
                g.emit(Instruction.op0F(0xC3).size(size).reg(g.src()).rm(g.mem(size, 1)));
            }
            case 8 -> {
                // MASKMOVDQU: stores the bytes of the first operand selected by the second to [RDI].
                if (!g.canWrite(RDI)) return false;
                long target = Layout.DATA + r.nextInt(g.dataLimit() - 16 + 1);
                g.emit(Instruction.op(0x8D).size(8).reg(RDI).rm(Mem.ripRelative(target)));
                g.emit(Instruction.op0F(0xF7).prefix(0x66).reg(xmm(g)).rm(xmm(g)));
            }
            case 9 -> {
                // STMXCSR m32
                g.emit(Instruction.op0F(0xAE).digit(3).rm(g.mem(4, 4)));
            }
            case 10 -> {
                // MOV m32, imm32; LDMXCSR m32: a valid value (all exceptions masked), rarely one with a
                // reserved bit (#GP). Bit 17 is not among them: AMD processors with misaligned SSE
                // mode implement it (MXCSR.MM) where Intel ones reserve it.
                Mem m = g.mem(4, 4);
                long value = 0x1F80 | r.nextInt(4) << 13 | (r.nextBoolean() ? 0x8000 : 0) | (r.nextBoolean() ? 0x40 : 0) | r.nextInt(64);
                if (r.nextInt(20) == 0) value |= 1L << new int[] {16, 18, 20, 24, 31}[r.nextInt(5)];
                g.emit(Instruction.op(0xC7).digit(0).rm(m).imm(value, 4));
                g.emit(Instruction.op0F(0xAE).digit(2).rm(m));
            }
            default -> {
                // MOVHLPS / MOVLHPS (register forms of 0F 12 / 0F 16)
                g.emit(Instruction.op0F(r.nextBoolean() ? 0x12 : 0x16).reg(xmm(g)).rm(xmm(g)));
            }
        }
        return true;
    }

    static boolean shuffle(Generator g) {
        SplittableRandom r = g.rnd;
        switch (r.nextInt(6)) {
            case 0 -> {
                // PINSRW xmm, r32/m16, imm8
                Instruction i = Instruction.op0F(0xC4).prefix(0x66).reg(xmm(g));
                if (r.nextInt(5) < 2) i.rm(g.mem(2, 1));
                else i.rm(g.src());
                g.emit(i.imm(r.nextInt(256), 1));
            }
            case 1 -> {
                // PEXTRW r32, xmm, imm8
                g.emit(Instruction.op0F(0xC5).prefix(0x66).reg(g.dest()).rm(xmm(g)).imm(r.nextInt(256), 1));
            }
            case 2 -> {
                // PSLLDQ / PSRLDQ xmm, imm8
                g.emit(Instruction.op0F(0x73).prefix(0x66).digit(r.nextBoolean() ? 7 : 3).rm(xmm(g)).imm(r.nextInt(20), 1));
            }
            default -> table(g, SHUFFLE);
        }
        return true;
    }

    static boolean integer(Generator g) {
        SplittableRandom r = g.rnd;
        if (r.nextInt(5) == 0) {
            // Shifts by an immediate: 71 (words), 72 (dwords), 73 (qwords); /2 SRL, /4 SRA, /6 SLL
            int group = r.nextInt(3);
            int digit = group == 2 ? (r.nextBoolean() ? 2 : 6) : new int[] {2, 4, 6}[r.nextInt(3)];
            int count = r.nextInt(4) == 0 ? r.nextInt(256) : r.nextInt(70);
            g.emit(Instruction.op0F(0x71 + group).prefix(0x66).digit(digit).rm(xmm(g)).imm(count, 1));
            return true;
        }
        emit(g, Form.of(0x66, INTEGER_OPCODES[r.nextInt(INTEGER_OPCODES.length)], 16), false, 0, 0);
        return true;
    }
}
