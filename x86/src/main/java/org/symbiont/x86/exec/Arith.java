package org.symbiont.x86.exec;

import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Integer arithmetic and logic: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP in all their forms, TEST,
 * INC, DEC, NEG, NOT (SDM Vol. 2; Bochs' arith and logical groups).
 */
public final class Arith {
    private Arith() {}

    // The eight binary operations, in opcode order (00, 08, 10, ... 38 and group 1 /0../7).
    static final int ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;
    private static final String[] NAMES = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
    private static final int[] FLAG_KIND = {
        Flags.ADD, Flags.LOGIC, Flags.ADC, Flags.SBB, Flags.LOGIC, Flags.SUB, Flags.LOGIC, Flags.SUB
    };

    // Operand forms of the binary operations.
    private static final int E_G = 0, G_E = 1, E_I = 2, ACC_I = 3;

    private static final int TEST_E_G = 64, TEST_E_I = 66, TEST_ACC_I = 68;
    private static final int INC = 70, DEC = 72, INC_R = 74, DEC_R = 75, NEG = 76, NOT = 78;

    private static int binaryOp(int alu, int form, boolean byteOp) {
        return Families.op(Families.ARITH, alu << 3 | form << 1 | (byteOp ? 1 : 0));
    }

    private static int op(int index) {
        return Families.op(Families.ARITH, index);
    }

    static void register(OpcodeTable t) {
        for (int alu = 0; alu < 8; alu++) {
            String n = NAMES[alu];
            int lock = alu == CMP ? 0 : F_LOCKABLE;
            define(t, binaryOp(alu, E_G, true), n + " Eb,Gb", F_BYTE | lock);
            define(t, binaryOp(alu, E_G, false), n + " Ev,Gv", lock);
            define(t, binaryOp(alu, G_E, true), n + " Gb,Eb", F_BYTE);
            define(t, binaryOp(alu, G_E, false), n + " Gv,Ev", 0);
            define(t, binaryOp(alu, E_I, true), n + " Eb,Ib", F_BYTE | lock);
            define(t, binaryOp(alu, E_I, false), n + " Ev,Iz", lock);
            define(t, binaryOp(alu, ACC_I, true), n + " AL,Ib", F_BYTE | F_ACC);
            define(t, binaryOp(alu, ACC_I, false), n + " rAX,Iz", F_ACC);
            int base = alu << 3;
            t.at(MAP_1, base).is(binaryOp(alu, E_G, true));
            t.at(MAP_1, base + 1).is(binaryOp(alu, E_G, false));
            t.at(MAP_1, base + 2).is(binaryOp(alu, G_E, true));
            t.at(MAP_1, base + 3).is(binaryOp(alu, G_E, false));
            t.at(MAP_1, base + 4).is(binaryOp(alu, ACC_I, true));
            t.at(MAP_1, base + 5).is(binaryOp(alu, ACC_I, false));
            t.at(MAP_1, 0x80).reg(alu).is(binaryOp(alu, E_I, true));
            t.at(MAP_1, 0x81).reg(alu).is(binaryOp(alu, E_I, false));
            t.at(MAP_1, 0x82).reg(alu).is(binaryOp(alu, E_I, true));
            t.at(MAP_1, 0x83).reg(alu).is(binaryOp(alu, E_I, false));
        }
        define(t, op(TEST_E_G), "test Eb,Gb", F_BYTE);
        define(t, op(TEST_E_G + 1), "test Ev,Gv", 0);
        define(t, op(TEST_E_I), "test Eb,Ib", F_BYTE);
        define(t, op(TEST_E_I + 1), "test Ev,Iz", 0);
        define(t, op(TEST_ACC_I), "test AL,Ib", F_BYTE | F_ACC);
        define(t, op(TEST_ACC_I + 1), "test rAX,Iz", F_ACC);
        t.at(MAP_1, 0x84).is(op(TEST_E_G));
        t.at(MAP_1, 0x85).is(op(TEST_E_G + 1));
        t.at(MAP_1, 0xA8).is(op(TEST_ACC_I));
        t.at(MAP_1, 0xA9).is(op(TEST_ACC_I + 1));
        t.at(MAP_1, 0xF6).reg(0).is(op(TEST_E_I));
        t.at(MAP_1, 0xF6).reg(1).is(op(TEST_E_I));
        t.at(MAP_1, 0xF7).reg(0).is(op(TEST_E_I + 1));
        t.at(MAP_1, 0xF7).reg(1).is(op(TEST_E_I + 1));

        define(t, op(INC), "inc Eb", F_BYTE | F_LOCKABLE);
        define(t, op(INC + 1), "inc Ev", F_LOCKABLE);
        define(t, op(DEC), "dec Eb", F_BYTE | F_LOCKABLE);
        define(t, op(DEC + 1), "dec Ev", F_LOCKABLE);
        define(t, op(INC_R), "inc r", 0);
        define(t, op(DEC_R), "dec r", 0);
        define(t, op(NEG), "neg Eb", F_BYTE | F_LOCKABLE);
        define(t, op(NEG + 1), "neg Ev", F_LOCKABLE);
        define(t, op(NOT), "not Eb", F_BYTE | F_LOCKABLE);
        define(t, op(NOT + 1), "not Ev", F_LOCKABLE);
        t.at(MAP_1, 0xFE).reg(0).is(op(INC));
        t.at(MAP_1, 0xFE).reg(1).is(op(DEC));
        t.at(MAP_1, 0xFF).reg(0).is(op(INC + 1));
        t.at(MAP_1, 0xFF).reg(1).is(op(DEC + 1));
        for (int r = 0; r < 8; r++) {
            t.at(MAP_1, 0x40 + r).is(op(INC_R));   // 32- and 16-bit modes; REX in 64-bit mode
            t.at(MAP_1, 0x48 + r).is(op(DEC_R));
        }
        t.at(MAP_1, 0xF6).reg(2).is(op(NOT));
        t.at(MAP_1, 0xF7).reg(2).is(op(NOT + 1));
        t.at(MAP_1, 0xF6).reg(3).is(op(NEG));
        t.at(MAP_1, 0xF7).reg(3).is(op(NEG + 1));
    }

    private static void define(OpcodeTable t, int op, String name, int flags) {
        t.define(op, name, flags);
    }

    static void exec(Cpu c, Insn i) {
        int idx = i.op & 0xFF;
        if (idx < 64) {
            binary(c, i, idx >>> 3, (idx >>> 1) & 3);
            return;
        }
        switch (idx & ~1) {
            case TEST_E_G -> test(c, i, c.readReg(i.reg, i.opSize));
            case TEST_E_I, TEST_ACC_I -> test(c, i, i.imm);
            case INC -> unary(c, i, Flags.INC);
            case DEC -> unary(c, i, Flags.DEC);
            case INC_R & ~1 -> incDecRegister(c, i, idx == INC_R ? Flags.INC : Flags.DEC);
            case NEG -> unary(c, i, Flags.SUB);
            case NOT -> unary(c, i, Flags.LOGIC);
            default -> throw c.ud();
        }
    }

    private static long compute(Cpu c, int alu, long a, long b) {
        return switch (alu) {
            case ADD -> a + b;
            case OR -> a | b;
            case ADC -> a + b + (Flags.cf(c) ? 1 : 0);
            case SBB -> a - b - (Flags.cf(c) ? 1 : 0);
            case AND -> a & b;
            case SUB, CMP -> a - b;
            default -> a ^ b;
        };
    }

    private static void binary(Cpu c, Insn i, int alu, int form) {
        int size = i.opSize;
        long a, b, r;
        if (form == G_E) {
            a = c.readReg(i.reg, size);
            b = Operands.readRm(c, i, size);
            r = compute(c, alu, a, b);
            if (alu != CMP) c.writeReg(i.reg, size, r);
        } else {
            b = form == E_G ? c.readReg(i.reg, size) : i.imm;
            if (i.rm >= 0) {
                a = c.readReg(i.rm, size);
                r = compute(c, alu, a, b);
                if (alu != CMP) c.writeReg(i.rm, size, r);
            } else {
                long la = Operands.linear(c, i, size, alu == CMP ? Cpu.ACCESS_READ : Cpu.ACCESS_WRITE);
                if ((i.prefixes & Insn.P_LOCK) != 0) {
                    do {
                        a = c.readL(i.seg, la, size);
                        r = compute(c, alu, a, b);
                    } while (c.lockedCompareExchange(i.seg, la, size, a, r) != a);
                } else {
                    a = c.readL(i.seg, la, size);
                    r = compute(c, alu, a, b);
                    if (alu != CMP) c.writeL(i.seg, la, size, r);
                }
            }
        }
        Flags.set(c, FLAG_KIND[alu], size, a, b, r);
    }

    private static void test(Cpu c, Insn i, long b) {
        Flags.setLogic(c, i.opSize, Operands.readRm(c, i, i.opSize) & b);
    }

    private static long unaryResult(int kind, long a) {
        return switch (kind) {
            case Flags.INC -> a + 1;
            case Flags.DEC -> a - 1;
            case Flags.SUB -> -a;
            default -> ~a;
        };
    }

    /** INC, DEC, NEG, NOT on the r/m operand; NOT leaves the flags alone, INC/DEC keep CF. */
    private static void unary(Cpu c, Insn i, int kind) {
        int size = i.opSize;
        long a, r;
        if (i.rm >= 0) {
            a = c.readReg(i.rm, size);
            r = unaryResult(kind, a);
            c.writeReg(i.rm, size, r);
        } else {
            long la = Operands.linear(c, i, size, Cpu.ACCESS_WRITE);
            if ((i.prefixes & Insn.P_LOCK) != 0) {
                do {
                    a = c.readL(i.seg, la, size);
                    r = unaryResult(kind, a);
                } while (c.lockedCompareExchange(i.seg, la, size, a, r) != a);
            } else {
                a = c.readL(i.seg, la, size);
                r = unaryResult(kind, a);
                c.writeL(i.seg, la, size, r);
            }
        }
        setUnaryFlags(c, kind, size, a, r);
    }

    private static void setUnaryFlags(Cpu c, int kind, int size, long a, long r) {
        switch (kind) {
            case Flags.INC, Flags.DEC -> Flags.set(c, kind, size, a, Flags.cf(c) ? 1 : 0, r);
            case Flags.SUB -> Flags.set(c, Flags.SUB, size, 0, a, r);
            default -> { }
        }
    }

    private static void incDecRegister(Cpu c, Insn i, int kind) {
        int size = i.opSize;
        long a = c.readReg(i.reg, size);
        long r = kind == Flags.INC ? a + 1 : a - 1;
        c.writeReg(i.reg, size, r);
        Flags.set(c, kind, size, a, Flags.cf(c) ? 1 : 0, r);
    }
}
