package org.symbiont.x86.difftest;

import static org.symbiont.x86.difftest.Generator.*;

import java.util.Map;
import java.util.SplittableRandom;
import org.symbiont.x86.difftest.Generator.Operand;

/**
 * Templates for the integer instructions, with the SDM's flag rules (Vol. 2 instruction pages,
 * "Flags Affected") expressed as written/undefined masks.
 */
final class IntegerTemplates {
    private IntegerTemplates() {}

    static void register(Map<Family, Generator.Template> t) {
        t.put(Family.ALU, IntegerTemplates::alu);
        t.put(Family.UNARY, IntegerTemplates::unary);
        t.put(Family.SHIFT, g -> shiftOrRotate(g, true));
        t.put(Family.ROTATE, g -> shiftOrRotate(g, false));
        t.put(Family.SHIFTD, IntegerTemplates::shiftDouble);
        t.put(Family.MULDIV, IntegerTemplates::mulDiv);
        t.put(Family.BITTEST, IntegerTemplates::bitTest);
        t.put(Family.BITSCAN, IntegerTemplates::bitScan);
        t.put(Family.BSWAP, IntegerTemplates::bswap);
        t.put(Family.MOVX, IntegerTemplates::movx);
        t.put(Family.CMOV, IntegerTemplates::cmov);
        t.put(Family.SETCC, IntegerTemplates::setcc);
        t.put(Family.MOV, IntegerTemplates::mov);
        t.put(Family.LEA, IntegerTemplates::lea);
        t.put(Family.XCHG, IntegerTemplates::xchg);
        t.put(Family.ATOMIC, IntegerTemplates::atomic);
        t.put(Family.CONVERT, IntegerTemplates::convert);
        t.put(Family.FLAGS, IntegerTemplates::flags);
        t.put(Family.LAHF, IntegerTemplates::lahf);
        t.put(Family.MOVBE, IntegerTemplates::movbe);
    }

    // ---- operand helpers ----

    static Instruction reg(Instruction i, int size, int r) {
        return size == 1 ? i.reg8(r) : i.reg(r);
    }

    static Instruction rm(Instruction i, int size, Operand o) {
        return size == 1 ? o.apply8(i) : o.apply(i);
    }

    /** An r/m operand to write (register or memory); byte registers in legacy or REX form. */
    static Operand rmWrite(Generator g, int size, boolean legacy) {
        if (g.rnd.nextInt(5) < 2) return Operand.memory(g.mem(size, 1, legacy));
        return Operand.register(size == 1 ? g.dest8(legacy) : g.dest());
    }

    static Operand rmRead(Generator g, int size, boolean legacy) {
        if (g.rnd.nextInt(5) < 2) return Operand.memory(g.mem(size, 1, legacy));
        return Operand.register(size == 1 ? g.src8(legacy) : g.src());
    }

    static int regWrite(Generator g, int size, boolean legacy) {
        return size == 1 ? g.dest8(legacy) : g.dest();
    }

    static int regRead(Generator g, int size, boolean legacy) {
        return size == 1 ? g.src8(legacy) : g.src();
    }

    static boolean legacyBytes(Generator g, int size) {
        return size == 1 && g.rnd.nextInt(4) == 0;
    }

    /** Opcode for byte (even) or full-size (odd) forms. */
    static int wide(int opcode, int size) {
        return size == 1 ? opcode : opcode + 1;
    }

    /** Immediate size of the Iz forms: 2 for 16-bit operands, else 4 (sign-extended for 64). */
    static int iz(int size) {
        return size == 1 ? 1 : size == 2 ? 2 : 4;
    }

    /** The status flags condition code {@code cc} reads. */
    static int conditionFlags(int cc) {
        return switch (cc >>> 1) {
            case 0 -> OF;
            case 1 -> CF;
            case 2 -> ZF;
            case 3 -> CF | ZF;
            case 4 -> SF;
            case 5 -> PF;
            case 6 -> SF | OF;
            default -> ZF | SF | OF;
        };
    }

    // ---- ALU ----

    private static final int ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;

    static boolean alu(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(1, 2, 4, 8);
        boolean legacy = legacyBytes(g, size);
        int op = r.nextInt(9);
        if (op == 8) return test(g, size, legacy);
        int read = op == ADC || op == SBB ? CF : 0;
        if (read != 0 && g.inBody) return false;
        int undef = op == OR || op == AND || op == XOR ? AF : 0;
        boolean writes = op != CMP;
        Instruction i;
        switch (r.nextInt(12)) {
            case 0, 1, 2 -> {
                boolean lock = writes && r.nextInt(4) == 0;
                Operand d = lock ? Operand.memory(g.memAligned(size, legacy)) : writes ? rmWrite(g, size, legacy) : rmRead(g, size, legacy);
                i = rm(reg(Instruction.op(wide(op * 8, size)).size(size), size, regRead(g, size, legacy)), size, d);
                if (lock) i.prefix(0xF0);
            }
            case 3, 4, 5 -> {
                int d = writes ? regWrite(g, size, legacy) : regRead(g, size, legacy);
                i = rm(reg(Instruction.op(wide(op * 8 + 2, size)).size(size), size, d), size, rmRead(g, size, legacy));
            }
            case 6, 7, 8, 9 -> {
                boolean lock = writes && r.nextInt(4) == 0;
                Operand d = lock ? Operand.memory(g.memAligned(size, legacy)) : writes ? rmWrite(g, size, legacy) : rmRead(g, size, legacy);
                boolean imm8 = size != 1 && r.nextBoolean();
                int opcode = size == 1 ? 0x80 : imm8 ? 0x83 : 0x81;
                i = rm(Instruction.op(opcode).size(size).digit(op), size, d).imm(g.imm(imm8 ? 1 : iz(size)), imm8 ? 1 : iz(size));
                if (lock) i.prefix(0xF0);
            }
            case 10 -> {
                if (writes && !g.canWrite(RAX) || !g.canRead(RAX)) return false;
                i = Instruction.op(wide(op * 8 + 4, size)).size(size).imm(g.imm(iz(size)), iz(size));
            }
            default -> {
                int rare = r.nextInt(10);
                if (rare == 0) {
                    // 82 /op is invalid in 64-bit mode (#UD).
                    i = rm(Instruction.op(0x82).digit(op), 1, rmRead(g, 1, false)).imm(g.imm(1), 1);
                } else if (rare == 1 && writes) {
                    // LOCK on a register destination: #UD.
                    i = rm(reg(Instruction.op(wide(op * 8, size)).size(size), size, regRead(g, size, legacy)), size,
                            Operand.register(regWrite(g, size, legacy))).prefix(0xF0);
                } else {
                    // A redundant REX (40) on a byte operation selects SPL..DIL instead of AH..BH.
                    i = Instruction.op(wide(op * 8, 1)).reg8(g.src()).rm8(writes ? g.dest() : g.src()).rex();
                }
            }
        }
        g.emit(i, read, STATUS, undef);
        return true;
    }

    private static boolean test(Generator g, int size, boolean legacy) {
        Instruction i = switch (g.rnd.nextInt(3)) {
            case 0 -> rm(reg(Instruction.op(wide(0x84, size)).size(size), size, regRead(g, size, legacy)), size, rmRead(g, size, legacy));
            case 1 -> rm(Instruction.op(wide(0xF6, size)).size(size).digit(0), size, rmRead(g, size, legacy)).imm(g.imm(iz(size)), iz(size));
            default -> Instruction.op(wide(0xA8, size)).size(size).imm(g.imm(iz(size)), iz(size));
        };
        if (!g.canRead(RAX)) return false;
        g.emit(i, 0, STATUS, AF);
        return true;
    }

    // ---- INC, DEC, NEG, NOT ----

    static boolean unary(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(1, 2, 4, 8);
        boolean legacy = legacyBytes(g, size);
        int kind = r.nextInt(4); // 0 INC, 1 DEC, 2 NOT, 3 NEG
        boolean lock = r.nextInt(4) == 0;
        Operand d = lock ? Operand.memory(g.memAligned(size, legacy)) : rmWrite(g, size, legacy);
        Instruction i = kind < 2
                ? rm(Instruction.op(wide(0xFE, size)).size(size).digit(kind), size, d)
                : rm(Instruction.op(wide(0xF6, size)).size(size).digit(kind), size, d);
        if (lock) i.prefix(0xF0);
        int written = switch (kind) {
            case 0, 1 -> STATUS & ~CF;
            case 2 -> 0;
            default -> STATUS;
        };
        g.emit(i, 0, written, 0);
        return true;
    }

    // ---- shifts and rotates ----

    /** SHL/SHR/SAL/SAR (/4 /5 /6 /7) by a masked count (SDM Vol. 2B, SAL/SAR/SHL/SHR, Flags Affected). */
    static void shiftEffect(int kind, int size, int masked, Step.Effect e) {
        e.taintedRegisters = 0;
        if (masked == 0) {
            e.written = e.undefined = 0;
            return;
        }
        e.written = STATUS;
        e.undefined = AF | (masked != 1 ? OF : 0);
        if (kind != 7 && masked >= 8 * size) e.undefined |= CF;
    }

    /** ROL/ROR/RCL/RCR (/0 /1 /2 /3) by a masked count (SDM Vol. 2B, RCL/RCR/ROL/ROR). */
    static void rotateEffect(int kind, int size, int masked, Step.Effect e) {
        e.taintedRegisters = 0;
        if (masked == 0) {
            e.written = e.undefined = 0;
            return;
        }
        boolean throughCarry = kind == 2 || kind == 3;
        int effective = !throughCarry ? masked : size == 1 ? masked % 9 : size == 2 ? masked % 17 : masked;
        e.written = (effective == 0 ? 0 : CF) | OF;
        e.undefined = masked != 1 ? OF : 0;
    }

    /** SHLD/SHRD by a masked count no larger than the operand size (SDM Vol. 2B, SHLD/SHRD). */
    static void doubleShiftEffect(int masked, Step.Effect e) {
        e.taintedRegisters = 0;
        if (masked == 0) {
            e.written = e.undefined = 0;
            return;
        }
        e.written = STATUS;
        e.undefined = AF | (masked != 1 ? OF : 0);
    }

    interface CountEffect {
        void apply(int masked, Step.Effect e);
    }

    /** Emits a shift whose effect depends on the count; CL counts are refined at run time. */
    private static void emitCounted(Generator g, Instruction i, int read, int size, int countMask, int fixedCount, CountEffect fx) {
        Step.Effect e = new Step.Effect();
        if (fixedCount >= 0) {
            fx.apply(fixedCount & countMask, e);
            g.emit(i, read, e.written, e.undefined);
            return;
        }
        int written = STATUS, undefined = 0;
        for (int c = 0; c <= countMask; c++) {
            fx.apply(c, e);
            written &= e.written;
            undefined |= e.undefined;
        }
        g.emit(i, read, written, undefined, (cpu, out) -> fx.apply((int) cpu.gpr[RCX] & countMask, out));
    }

    static int shiftCount(Generator g, int size) {
        SplittableRandom r = g.rnd;
        int bits = 8 * size;
        return switch (r.nextInt(8)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> bits - 1;
            case 3 -> bits;
            case 4 -> bits + 1;
            case 5 -> r.nextInt(256);
            default -> r.nextInt(1, bits);
        };
    }

    static boolean shiftOrRotate(Generator g, boolean shift) {
        SplittableRandom r = g.rnd;
        int size = g.size(1, 2, 4, 8);
        boolean legacy = legacyBytes(g, size);
        // /6 is an undocumented alias of SHL (/4) that processors execute as SHL: tested, rarely.
        int kind = shift ? (r.nextInt(16) == 0 ? 6 : new int[] {4, 5, 7}[r.nextInt(3)]) : r.nextInt(4);
        int read = !shift && kind >= 2 ? CF : 0;
        if (read != 0 && g.inBody) return false;
        Operand d = rmWrite(g, size, legacy);
        int countMask = size == 8 ? 63 : 31;
        Instruction i;
        int count;
        switch (r.nextInt(3)) {
            case 0 -> {
                count = shiftCount(g, size);
                i = rm(Instruction.op(wide(0xC0, size)).size(size).digit(kind), size, d).imm(count, 1);
            }
            case 1 -> {
                count = 1;
                i = rm(Instruction.op(wide(0xD0, size)).size(size).digit(kind), size, d);
            }
            default -> {
                if (!g.canRead(RCX)) return false;
                count = -1;
                i = rm(Instruction.op(wide(0xD2, size)).size(size).digit(kind), size, d);
            }
        }
        int k = kind;
        emitCounted(g, i, read, size, countMask, count,
                shift ? (c, e) -> shiftEffect(k, size, c, e) : (c, e) -> rotateEffect(k, size, c, e));
        return true;
    }

    static boolean shiftDouble(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(2, 4, 8);
        boolean right = r.nextBoolean();
        int countMask = size == 8 ? 63 : 31;
        Operand d = rmWrite(g, size, false);
        int src = g.src();
        boolean byCl = r.nextBoolean();
        if (byCl && size == 2) {
            // A 16-bit count above 16 leaves result and flags undefined: set CL to a defined count.
            if (!g.canWrite(RCX)) return false;
            g.emit(Instruction.op(0xB0).opcodeReg8(RCX).imm(r.nextInt(17) + 32 * r.nextInt(8), 1));
        } else if (byCl && !g.canRead(RCX)) {
            return false;
        }
        Instruction i = d.apply(Instruction.op0F((right ? 0xAC : 0xA4) + (byCl ? 1 : 0)).size(size).reg(src));
        int count = -1;
        if (!byCl) {
            count = size == 2 ? r.nextInt(17) + 32 * r.nextInt(8) : shiftCount(g, size);
            i.imm(count, 1);
        }
        emitCounted(g, i, 0, size, countMask, count, IntegerTemplates::doubleShiftEffect);
        return true;
    }

    // ---- MUL, IMUL, DIV, IDIV ----

    static boolean mulDiv(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(1, 2, 4, 8);
        boolean legacy = legacyBytes(g, size);
        int form = r.nextInt(10);
        if (form >= 7 && size != 1) {
            // IMUL Gv,Ev / Gv,Ev,Ib / Gv,Ev,Iz
            Operand s = rmRead(g, size, false);
            int d = g.dest();
            Instruction i = switch (form) {
                case 7 -> s.apply(Instruction.op0F(0xAF).size(size).reg(d));
                case 8 -> s.apply(Instruction.op(0x6B).size(size).reg(d)).imm(g.imm(1), 1);
                default -> s.apply(Instruction.op(0x69).size(size).reg(d)).imm(g.imm(iz(size)), iz(size));
            };
            g.emit(i, 0, STATUS, SF | ZF | AF | PF);
            return true;
        }
        if (!g.canWrite(RAX) || size != 1 && !g.canWrite(RDX)) return false;
        boolean divide = form >= 3 && form != 6;
        boolean signed = r.nextBoolean();
        if (divide) {
            switch (r.nextInt(6)) {
                case 0 -> { } // whatever RDX:RAX holds: mostly #DE for wide operands
                case 1, 2, 3 -> {
                    if (signed) {
                        // CBW / CWD / CDQ / CQO
                        g.emit(size == 1 ? Instruction.op(0x98).size(2) : Instruction.op(0x99).size(size));
                    } else if (size == 1) {
                        g.emit(Instruction.op(0xB4).imm(0, 1)); // mov ah, 0
                    } else {
                        g.emit(Instruction.op(0xB8).opcodeReg(RDX).imm(0, 4)); // mov edx, 0
                    }
                }
                default -> {
                    // A small positive dividend.
                    g.emit(Instruction.op(0xB8).opcodeReg(RAX).imm(r.nextInt(1 << (size == 1 ? 10 : 16)), 4));
                    if (size != 1) g.emit(Instruction.op(0xB8).opcodeReg(RDX).imm(0, 4));
                }
            }
        }
        Operand s = rmRead(g, size, legacy);
        int digit = divide ? (signed ? 7 : 6) : (signed ? 5 : 4);
        Instruction i = rm(Instruction.op(wide(0xF6, size)).size(size).digit(digit), size, s);
        if (divide) g.emit(i, 0, STATUS, STATUS);
        else g.emit(i, 0, STATUS, SF | ZF | AF | PF);
        return true;
    }

    // ---- BT, BTS, BTR, BTC ----

    static boolean bitTest(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(2, 4, 8);
        int kind = r.nextInt(4); // BT, BTS, BTR, BTC
        boolean writes = kind != 0;
        int bits = 8 * size;
        Instruction i;
        boolean lock = false;
        switch (r.nextInt(4)) {
            case 0 -> { // register, register bit offset (taken modulo the operand size)
                Operand d = Operand.register(writes ? g.dest() : g.src());
                i = d.apply(Instruction.op0F(0xA3 + 8 * kind).size(size).reg(g.src()));
            }
            case 1 -> { // r/m, immediate bit offset (modulo the operand size, also for memory)
                lock = writes && r.nextInt(4) == 0;
                Operand d = lock ? Operand.memory(g.memAligned(size)) : writes ? rmWrite(g, size, false) : rmRead(g, size, false);
                i = d.apply(Instruction.op0F(0xBA).size(size).digit(4 + kind)).imm(r.nextInt(256), 1);
            }
            default -> {
                // Memory with a register bit offset: the offset selects an operand anywhere relative
                // to the address, so set it to a value that keeps the access in the data region.
                lock = writes && r.nextInt(4) == 0;
                Mem m = g.memAligned(size);
                long base = m.address(g.gpr) - Layout.DATA;
                int offsetReg = g.dest();
                long lowest = -base / size, highest = (g.dataLimit() - size - base) / size;
                long unit = lowest + r.nextLong(highest - lowest + 1);
                long bitOffset = unit * bits + r.nextInt(bits);
                if (size == 2 && (bitOffset < Short.MIN_VALUE || bitOffset > Short.MAX_VALUE)) return false;
                g.emit(Instruction.op(0xC7).size(8).digit(0).rm(offsetReg).imm(bitOffset, 4));
                i = Instruction.op0F(0xA3 + 8 * kind).size(size).reg(offsetReg).rm(m);
            }
        }
        if (lock) i.prefix(0xF0);
        g.emit(i, 0, CF | OF | SF | AF | PF, OF | SF | AF | PF);
        return true;
    }

    // ---- BSF, BSR, TZCNT, LZCNT, POPCNT ----

    static boolean bitScan(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(2, 4, 8);
        int kind = r.nextInt(5); // BSF, BSR, TZCNT, LZCNT, POPCNT
        Operand s = rmRead(g, size, false);
        int opcode = switch (kind) {
            case 0, 2 -> 0xBC;
            case 1, 3 -> 0xBD;
            default -> 0xB8;
        };
        if (kind <= 1) {
            // The destination is undefined for a zero source (SDM Vol. 2A, BSF/BSR): use a register
            // nothing reads implicitly, mask it when the source turns out zero, and never use it again.
            int d = -1;
            for (int tries = 0; tries < 20 && d < 0; tries++) {
                int c = 8 + r.nextInt(8);
                if (g.canWrite(c) && c != s.reg()) d = c;
            }
            if (d < 0) return false;
            int dest = d;
            Instruction i = s.apply(Instruction.op0F(opcode).size(size).reg(dest));
            int undefined = CF | OF | SF | AF | PF;
            long mask = -1L >>> (64 - 8 * size);
            g.emit(i, 0, STATUS, undefined, (cpu, e) -> {
                e.written = STATUS;
                e.undefined = undefined;
                long v = s.isMemory() ? EmulatorRunner.readData(cpu, s.mem().address(cpu.gpr), size) : cpu.gpr[s.reg()];
                e.taintedRegisters = (v & mask) == 0 ? 1 << dest : 0;
            });
            g.block(dest);
            return true;
        }
        Instruction i = s.apply(Instruction.op0F(opcode).size(size).prefix(0xF3).reg(g.dest()));
        if (kind == 4) g.emit(i, 0, STATUS, 0);
        else g.emit(i, 0, STATUS, OF | SF | AF | PF);
        return true;
    }

    static boolean bswap(Generator g) {
        g.emit(Instruction.op0F(0xC8).size(g.size(4, 8)).opcodeReg(g.dest()));
        return true;
    }

    // ---- MOVZX, MOVSX, MOVSXD ----

    static boolean movx(Generator g) {
        SplittableRandom r = g.rnd;
        int form = r.nextInt(5);
        Instruction i;
        if (form <= 1) { // from a byte
            int size = g.size(2, 4, 8);
            boolean legacy = size != 8 && r.nextInt(4) == 0;
            Operand s = rmRead(g, 1, legacy);
            i = s.apply8(Instruction.op0F(form == 0 ? 0xB6 : 0xBE).size(size).reg(legacy ? g.dest(0xFF00) : g.dest()));
        } else if (form <= 3) { // from a word
            int size = g.size(2, 4, 8);
            i = rmRead(g, 2, false).apply(Instruction.op0F(form == 2 ? 0xB7 : 0xBF).size(size).reg(g.dest()));
        } else { // MOVSXD: 64 from 32 (and the 32- and 16-bit forms)
            int size = r.nextInt(6) == 0 ? g.size(2, 4) : 8;
            // With a 16-bit operand size AMD processors read 32 bits (Intel: 16) and write 16:
            // keep that memory operand away from the region's edges so the access width cannot show.
            Operand s = size != 2 ? rmRead(g, 4, false)
                    : r.nextInt(5) < 2 ? Operand.memory(g.memInside(4)) : Operand.register(g.src());
            i = s.apply(Instruction.op(0x63).size(size).reg(g.dest()));
        }
        g.emit(i);
        return true;
    }

    // ---- CMOVcc, SETcc ----

    static boolean cmov(Generator g) {
        if (g.inBody) return false;
        int cc = g.rnd.nextInt(16);
        int size = g.size(2, 4, 8);
        Instruction i = rmRead(g, size, false).apply(Instruction.op0F(0x40 + cc).size(size).reg(g.dest()));
        g.emit(i, conditionFlags(cc), 0, 0);
        return true;
    }

    static boolean setcc(Generator g) {
        if (g.inBody) return false;
        int cc = g.rnd.nextInt(16);
        boolean legacy = g.rnd.nextInt(4) == 0;
        int digit = g.rnd.nextInt(8) == 0 ? g.rnd.nextInt(8) : 0; // ModRM.reg is ignored
        Instruction i = rmWrite(g, 1, legacy).apply8(Instruction.op0F(0x90 + cc).digit(digit));
        g.emit(i, conditionFlags(cc), 0, 0);
        return true;
    }

    // ---- MOV ----

    static boolean mov(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(1, 2, 4, 8);
        boolean legacy = legacyBytes(g, size);
        Instruction i = switch (r.nextInt(8)) {
            case 0, 1 -> rm(reg(Instruction.op(wide(0x88, size)).size(size), size, regRead(g, size, legacy)), size, rmWrite(g, size, legacy));
            case 2, 3 -> rm(reg(Instruction.op(wide(0x8A, size)).size(size), size, regWrite(g, size, legacy)), size, rmRead(g, size, legacy));
            case 4 -> rm(Instruction.op(wide(0xC6, size)).size(size).digit(0), size, rmWrite(g, size, legacy)).imm(g.imm(iz(size)), iz(size));
            case 5 -> {
                // B0+r ib, B8+r iw/id, REX.W B8+r io (MOVABS)
                int d = regWrite(g, size, legacy);
                Instruction m = size == 1 ? Instruction.op(0xB0).opcodeReg8(d) : Instruction.op(0xB8).size(size).opcodeReg(d);
                yield m.imm(size == 8 ? g.value64() : g.imm(size), size);
            }
            case 6 -> {
                // MOV AL/AX/EAX/RAX <-> moffs64
                boolean load = r.nextBoolean();
                if (load ? !g.canWrite(RAX) : !g.canRead(RAX)) yield null;
                long target = Layout.DATA + r.nextInt(g.dataLimit() - size + 1);
                yield Instruction.op(wide(load ? 0xA0 : 0xA2, size)).size(size).imm(target, 8);
            }
            default -> {
                // 32-bit register moves zero-extend; 8/16-bit ones merge.
                int d = regWrite(g, size, legacy);
                yield rm(reg(Instruction.op(wide(0x88, size)).size(size), size, regRead(g, size, legacy)), size, Operand.register(d));
            }
        };
        if (i == null) return false;
        g.emit(i);
        return true;
    }

    // ---- LEA ----

    static boolean lea(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(2, 4, 8, 8);
        int d = g.dest();
        Mem m;
        switch (r.nextInt(8)) {
            case 0 -> m = Mem.base(g.src(), g.imm(r.nextBoolean() ? 1 : 4));
            case 1, 2, 3 -> {
                int index = g.src(1 << RSP);
                m = Mem.sib(r.nextInt(8) == 0 ? Mem.NONE : g.src(), index, r.nextInt(4), g.imm(r.nextBoolean() ? 1 : 4));
            }
            case 4 -> m = Mem.ripRelative(Layout.DATA + r.nextInt(Layout.DATA_SIZE));
            case 5 -> m = Mem.absolute(g.imm(4));
            case 6 -> {
                m = Mem.sib(g.src(), g.src(1 << RSP), r.nextInt(4), g.imm(4));
                m.addr32 = true;
            }
            default -> {
                if (r.nextInt(25) == 0) {
                    // LEA with a register operand is #UD.
                    g.emit(Instruction.op(0x8D).size(size).reg(d).rm(g.src()));
                    return true;
                }
                m = Mem.base(g.src(), 0);
                m.forceDisp32 = r.nextBoolean();
            }
        }
        g.emit(Instruction.op(0x8D).size(size).reg(d).rm(m));
        return true;
    }

    // ---- XCHG ----

    static boolean xchg(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(1, 2, 4, 8);
        boolean legacy = legacyBytes(g, size);
        Instruction i;
        switch (r.nextInt(5)) {
            case 0, 1 -> {
                // With memory: implicitly locked, so naturally aligned (no split locks).
                Mem m = g.memAligned(size, legacy);
                i = rm(reg(Instruction.op(wide(0x86, size)).size(size), size, regWrite(g, size, legacy)), size, Operand.memory(m));
                if (r.nextInt(4) == 0) i.prefix(0xF0);
            }
            case 2 -> i = rm(reg(Instruction.op(wide(0x86, size)).size(size), size, regWrite(g, size, legacy)), size,
                    Operand.register(regWrite(g, size, legacy)));
            default -> {
                if (size == 1 || !g.canWrite(RAX)) return false;
                // 90+r: XCHG rAX, r. 90 itself is NOP (no zero-extension); 41 90 is XCHG EAX, R8D.
                i = Instruction.op(0x90).size(size).opcodeReg(g.dest());
            }
        }
        g.emit(i);
        return true;
    }

    // ---- XADD, CMPXCHG, CMPXCHG8B, CMPXCHG16B ----

    static boolean atomic(Generator g) {
        SplittableRandom r = g.rnd;
        int size = g.size(1, 2, 4, 8);
        boolean legacy = legacyBytes(g, size);
        int form = r.nextInt(6);
        if (form <= 1) { // XADD
            boolean lock = r.nextInt(3) == 0;
            Operand d = lock ? Operand.memory(g.memAligned(size, legacy)) : rmWrite(g, size, legacy);
            Instruction i = rm(reg(Instruction.op0F(wide(0xC0, size)).size(size), size, regWrite(g, size, legacy)), size, d);
            if (lock) i.prefix(0xF0);
            g.emit(i, 0, STATUS, 0);
            return true;
        }
        if (!g.canWrite(RAX)) return false;
        if (form <= 3) { // CMPXCHG
            boolean lock = r.nextInt(3) == 0;
            Operand d = lock ? Operand.memory(g.memAligned(size, legacy)) : rmWrite(g, size, legacy);
            if (r.nextBoolean()) {
                // Make the comparison succeed: load the accumulator from the destination.
                Instruction load = rm(reg(Instruction.op(wide(0x8A, size)).size(size), size, RAX), size, d);
                g.emit(load);
            }
            Instruction i = rm(reg(Instruction.op0F(wide(0xB0, size)).size(size), size, regRead(g, size, legacy)), size, d);
            if (lock) i.prefix(0xF0);
            g.emit(i, 0, STATUS, 0);
            return true;
        }
        if (!g.canWrite(RDX) || !g.canRead(RBX) || !g.canRead(RCX)) return false;
        boolean wide16 = r.nextBoolean();
        int width = wide16 ? 16 : 8;
        if (r.nextInt(100) == 0) {
            // Register operand: #UD.
            g.emit(Instruction.op0F(0xC7).digit(1).rm(g.src()), 0, ZF, 0);
            return true;
        }
        Mem m = g.memAligned(width);
        long target = m.address(g.gpr);
        if (r.nextInt(40) == 0 && wide16) {
            m = g.mem(16, 1); // usually misaligned: CMPXCHG16B raises #GP
            target = m.base == RSP ? -1 : m.address(g.gpr);
        }
        if (target >= 0 && Layout.inData(target, width) && r.nextBoolean()) {
            // Make the comparison succeed.
            int half = width / 2;
            g.emit(Instruction.op(0x8B).size(half).reg(RAX).rm(Mem.absolute(target)));
            g.emit(Instruction.op(0x8B).size(half).reg(RDX).rm(Mem.absolute(target + half)));
        }
        Instruction i = Instruction.op0F(0xC7).digit(1).rm(m);
        if (wide16) i.rexW();
        if (r.nextInt(3) == 0) i.prefix(0xF0);
        g.emit(i, 0, ZF, 0);
        return true;
    }

    // ---- CBW..CQO ----

    static boolean convert(Generator g) {
        int size = g.size(2, 4, 8);
        boolean extendIntoRdx = g.rnd.nextBoolean();
        if (!g.canWrite(extendIntoRdx ? RDX : RAX)) return false;
        g.emit(Instruction.op(extendIntoRdx ? 0x99 : 0x98).size(size));
        return true;
    }

    // ---- flag instructions ----

    static boolean flags(Generator g) {
        SplittableRandom r = g.rnd;
        switch (r.nextInt(9)) {
            case 0 -> g.emit(Instruction.op(0xF8), 0, CF, 0); // CLC
            case 1 -> g.emit(Instruction.op(0xF9), 0, CF, 0); // STC
            case 2 -> {
                if (g.inBody) return false;
                g.emit(Instruction.op(0xF5), CF, CF, 0);       // CMC
            }
            case 3 -> g.emit(Instruction.op(0xFC));             // CLD
            case 4 -> g.emit(Instruction.op(0xFD));             // STD
            case 5, 6 -> {
                // PUSH imm; POPF (16- or 64-bit). TF and AC stay clear (a trap, alignment checks);
                // IF and IOPL changes are silently ignored at CPL 3.
                int size = r.nextInt(4) == 0 ? 2 : 8;
                long v = r.nextLong() & ~(0x100L | 0x40000L);
                if (size == 2) g.emit(Instruction.op(0x68).size(2).imm(v, 2));
                else g.emit(Instruction.op(0x68).imm(v, 4));
                g.emit(Instruction.op(0x9D).size(size == 2 ? 2 : 4), 0, STATUS, 0);
            }
            case 7 -> {
                // PUSHF; POP r
                if (g.inBody) return false;
                int size = r.nextInt(4) == 0 ? 2 : 8;
                g.emit(Instruction.op(0x9C).size(size == 2 ? 2 : 4), STATUS, 0, 0);
                g.emit(Instruction.op(0x58).size(size == 2 ? 2 : 4).opcodeReg(g.dest()));
            }
            default -> {
                // PUSHF; flip some bits of the image in memory; POPF
                if (g.inBody) return false;
                int size = r.nextInt(4) == 0 ? 2 : 8;
                g.emit(Instruction.op(0x9C).size(size == 2 ? 2 : 4), STATUS, 0, 0);
                int digit = r.nextInt(3) == 0 ? 4 : r.nextBoolean() ? 1 : 6; // AND, OR, XOR
                long bits = (r.nextInt(256) | (r.nextBoolean() ? 0x400 : 0) | (r.nextInt(4) == 0 ? 0x4000 : 0)) & ~0x100L;
                if (digit == 4) bits = ~bits | 0x100 | 0x40000;
                Instruction modify = Instruction.op(0x81).size(size).digit(digit).rm(Mem.base(RSP, 0)).imm(bits, size == 2 ? 2 : 4);
                g.emit(modify, 0, STATUS, AF);
                g.emit(Instruction.op(0x9D).size(size == 2 ? 2 : 4), 0, STATUS, 0);
            }
        }
        return true;
    }

    static boolean lahf(Generator g) {
        if (!g.canWrite(RAX)) return false;
        if (g.rnd.nextBoolean()) {
            if (g.inBody) return false;
            g.emit(Instruction.op(0x9F), STATUS & ~OF, 0, 0);   // LAHF
        } else {
            g.emit(Instruction.op(0x9E), 0, STATUS & ~OF, 0);   // SAHF
        }
        return true;
    }

    static boolean movbe(Generator g) {
        int size = g.size(2, 4, 8);
        boolean load = g.rnd.nextBoolean();
        if (g.rnd.nextInt(100) == 0) {
            // The register form is #UD.
            g.emit(Instruction.op0F38(0xF0).size(size).reg(g.dest()).rm(g.src()));
            return true;
        }
        Mem m = g.mem(size, 1);
        g.emit(Instruction.op0F38(load ? 0xF0 : 0xF1).size(size).reg(load ? g.dest() : g.src()).rm(m));
        return true;
    }
}
