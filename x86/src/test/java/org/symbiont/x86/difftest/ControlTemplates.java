package org.symbiont.x86.difftest;

import static org.symbiont.x86.difftest.Generator.*;
import static org.symbiont.x86.difftest.IntegerTemplates.conditionFlags;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * Templates for control transfers inside the sequence (forward branches over whole templates,
 * bounded backward loops, subroutines called and returned from), stack instructions and string
 * instructions with bounded counts.
 */
final class ControlTemplates {
    private ControlTemplates() {}

    static void register(Map<Family, Generator.Template> t) {
        t.put(Family.BRANCH, ControlTemplates::branch);
        t.put(Family.LOOP, ControlTemplates::loop);
        t.put(Family.CALL, ControlTemplates::call);
        t.put(Family.STACK, ControlTemplates::stack);
        t.put(Family.ENTER, ControlTemplates::enter);
        t.put(Family.STRING, ControlTemplates::string);
    }

    // ---- Jcc, JMP ----

    static boolean branch(Generator g) {
        if (g.inBody) return false;
        SplittableRandom r = g.rnd;
        int skip = r.nextInt(4);
        switch (r.nextInt(6)) {
            case 0, 1 -> {
                int cc = r.nextInt(16);
                boolean near = skip > 1 || r.nextInt(4) == 0;
                Code.Label l = g.forwardLabel(skip);
                Instruction i = near ? Instruction.op0F(0x80 + cc).target(l, 4) : Instruction.op(0x70 + cc).target(l, 1);
                g.emit(i, conditionFlags(cc), 0, 0);
                g.branchTo(l);
            }
            case 2, 3 -> {
                Code.Label l = g.forwardLabel(skip);
                boolean near = skip > 1 || r.nextInt(4) == 0;
                g.emit(near ? Instruction.op(0xE9).target(l, 4) : Instruction.op(0xEB).target(l, 1));
                g.branchTo(l);
            }
            default -> {
                // Indirect: the target's address from a RIP-relative LEA, through a register or memory.
                int reg = g.dest();
                Code.Label l = g.forwardLabel(skip);
                g.emit(Instruction.op(0x8D).size(8).reg(reg).rm(Mem.ripRelative(l)));
                if (r.nextBoolean()) {
                    g.emit(Instruction.op(0xFF).digit(4).rm(reg));
                } else {
                    Mem m = g.mem(8, 8);
                    g.emit(Instruction.op(0x89).size(8).reg(reg).rm(m));
                    g.emit(Instruction.op(0xFF).digit(4).rm(m));
                }
                g.branchTo(l);
            }
        }
        return true;
    }

    // ---- LOOP, LOOPE, LOOPNE, JrCXZ ----

    static boolean loop(Generator g) {
        if (g.inBody) return false;
        SplittableRandom r = g.rnd;
        int kind = r.nextInt(4); // E0 LOOPNE, E1 LOOPE, E2 LOOP, E3 JrCXZ
        boolean ecx = r.nextInt(4) == 0;
        int read = kind <= 1 ? ZF : 0;
        if (kind != 3 && !g.canWrite(RCX)) return false;
        if (kind == 3 && !g.canRead(RCX)) return false;
        if (kind == 3 || r.nextBoolean()) {
            // Forward, over whole templates; RCX holds whatever it holds.
            Code.Label l = g.forwardLabel(r.nextInt(3));
            Instruction i = Instruction.op(0xE0 + kind).target(l, 1);
            if (ecx) i.prefix(0x67);
            g.emit(i, read, 0, 0);
            g.branchTo(l);
            return true;
        }
        // Backward: a bounded loop around a body that leaves RCX alone.
        long count = r.nextInt(1, 7);
        if (ecx) count |= r.nextLong() << 32; // only ECX counts
        g.emit(Instruction.op(0xB8).size(8).opcodeReg(RCX).imm(count, 8));
        Code.Label top = new Code.Label();
        g.bind(top);
        int first = g.stepCount();
        g.body(1 + r.nextInt(2), 1 << RCX);
        Instruction i = Instruction.op(0xE0 + kind).target(top, 1);
        if (ecx) i.prefix(0x67);
        g.emit(i, read, 0, 0);
        g.joinLoop(first);
        return true;
    }

    // ---- CALL, RET ----

    static boolean call(Generator g) {
        if (g.inBody) return false;
        SplittableRandom r = g.rnd;
        if (r.nextInt(6) == 0) {
            // CALL to the next instruction; POP the return address.
            Code.Label next = new Code.Label();
            g.emit(Instruction.op(0xE8).target(next, 4));
            g.bind(next);
            g.emit(Instruction.op(0x58).opcodeReg(g.dest()));
            return true;
        }
        int arguments = r.nextInt(3) == 0 ? r.nextInt(1, 3) : 0;
        for (int k = 0; k < arguments; k++) g.emit(Instruction.op(0x6A).imm(g.imm(1), 1));
        Code.Label subroutine = new Code.Label(), after = new Code.Label();
        switch (r.nextInt(4)) {
            case 0, 1 -> g.emit(Instruction.op(0xE8).target(subroutine, 4));
            case 2 -> {
                int reg = g.dest();
                g.emit(Instruction.op(0x8D).size(8).reg(reg).rm(Mem.ripRelative(subroutine)));
                g.emit(Instruction.op(0xFF).digit(2).rm(reg));
            }
            default -> {
                int reg = g.dest();
                Mem m = g.mem(8, 8);
                if (m.base == RSP) return false;
                g.emit(Instruction.op(0x8D).size(8).reg(reg).rm(Mem.ripRelative(subroutine)));
                g.emit(Instruction.op(0x89).size(8).reg(reg).rm(m));
                g.emit(Instruction.op(0xFF).digit(2).rm(m));
            }
        }
        g.emit(Instruction.op(0xEB).target(after, 1));
        g.branchTo(after);
        g.bind(subroutine);
        g.body(r.nextInt(3), 0);
        if (arguments > 0 || r.nextInt(6) == 0) g.emit(Instruction.op(0xC2).imm(8L * arguments, 2));
        else if (r.nextInt(4) == 0) g.emit(Instruction.op(0xC3).prefix(0xF3)); // REP RET, as compilers emit it
        else g.emit(Instruction.op(0xC3));
        g.bind(after);
        return true;
    }

    // ---- PUSH, POP, LEAVE ----

    static boolean stack(Generator g) {
        if (g.inBody) return false;
        SplittableRandom r = g.rnd;
        boolean word = r.nextInt(6) == 0;
        int size = word ? 2 : 4; // 64-bit by default in 64-bit mode; 66 makes it 16
        switch (r.nextInt(10)) {
            case 0, 1 -> g.emit(Instruction.op(0x50).size(size).opcodeReg(g.src()));
            case 2 -> {
                if (r.nextBoolean()) g.emit(Instruction.op(0x6A).size(size).imm(g.imm(1), 1));
                else g.emit(Instruction.op(0x68).size(size).imm(g.imm(word ? 2 : 4), word ? 2 : 4));
            }
            case 3 -> g.emit(Instruction.op(0xFF).size(size).digit(6).rm(g.mem(word ? 2 : 8, 1)));
            case 4, 5 -> g.emit(Instruction.op(0x58).size(size).opcodeReg(g.dest()));
            case 6 -> g.emit(Instruction.op(0x8F).size(size).digit(0).rm(g.mem(word ? 2 : 8, 1)));
            case 7 -> g.emit(Instruction.op(0x50).size(size).opcodeReg(RSP));
            default -> {
                // LEAVE: RSP <- RBP, pop RBP; RBP points into the stack first.
                if (!g.canWrite(RBP)) return false;
                if (r.nextBoolean()) g.emit(Instruction.op(0x89).size(8).reg(RSP).rm(RBP));
                else g.emit(Instruction.op(0x8D).size(8).reg(RBP).rm(Mem.base(RSP, 8L * r.nextInt(-4, 8))));
                g.emit(Instruction.op(0xC9).size(size));
            }
        }
        return true;
    }

    // ---- ENTER ----

    static boolean enter(Generator g) {
        if (g.inBody || !g.canWrite(RBP)) return false;
        SplittableRandom r = g.rnd;
        int level = switch (r.nextInt(6)) {
            case 0, 1 -> 0;
            case 2 -> 1;
            case 3 -> 2;
            case 4 -> r.nextInt(3, 8);
            default -> r.nextInt(256);
        };
        int frame = switch (r.nextInt(4)) {
            case 0 -> 0;
            case 1 -> 8 * r.nextInt(8);
            default -> r.nextInt(0x80);
        };
        boolean word = r.nextInt(8) == 0;
        if ((level & 31) > 1 || word || r.nextBoolean()) {
            // Levels above 1 copy frame pointers from below RBP, so RBP must point into the data
            // region; a 16-bit ENTER replaces only BP, and LEAVE then uses all of RBP.
            if (r.nextBoolean()) g.emit(Instruction.op(0x89).size(8).reg(RSP).rm(RBP));
            else g.emit(Instruction.op(0x8D).size(8).reg(RBP).rm(Mem.base(RSP, 8L * r.nextInt(1, 16))));
        }
        g.emit(Instruction.op(0xC8).size(word ? 2 : 4).imm(frame, 2).imm(level, 1));
        g.lastStep().partialStackStoresOnFault = true;
        if (r.nextBoolean()) {
            g.body(r.nextInt(2), 0);
            g.emit(Instruction.op(0xC9).size(word ? 2 : 4));
        }
        return true;
    }

    // ---- MOVS, CMPS, STOS, LODS, SCAS ----

    static boolean string(Generator g) {
        SplittableRandom r = g.rnd;
        int kind = r.nextInt(5); // MOVS, CMPS, STOS, LODS, SCAS
        int size = g.size(1, 2, 4, 8);
        boolean usesSource = kind == 0 || kind == 1 || kind == 3;
        boolean usesDest = kind != 3;
        boolean compares = kind == 1 || kind == 4;
        boolean rep = r.nextInt(4) != 0;
        boolean addr32 = r.nextInt(5) == 0;
        if (rep && !g.canWrite(RCX)) rep = false;
        if (usesSource && !g.canWrite(RSI) || usesDest && !g.canWrite(RDI)) return false;
        if (kind == 3 && !g.canWrite(RAX)) return false;
        if ((kind == 2 || kind == 4) && !g.canRead(RAX)) return false;
        int count = rep ? (r.nextInt(8) == 0 ? 0 : r.nextInt(1, 17)) : 1;
        int span = count * size;
        // Direction: set it, or keep whatever DF holds and leave room both ways.
        int direction = r.nextInt(5);
        if (direction == 0) g.emit(Instruction.op(0xFC));
        else if (direction == 1) g.emit(Instruction.op(0xFD));
        int lo = direction == 0 ? 0 : span, hi = g.dataLimit() - size - (direction == 1 ? 0 : span);
        int src = lo + r.nextInt(hi - lo + 1), dst = lo + r.nextInt(hi - lo + 1);
        if (r.nextInt(3) == 0) dst = Math.max(lo, Math.min(hi, src + r.nextInt(-2 * size, 2 * size + 1))); // overlapping
        if (r.nextBoolean()) {
            src &= -size;
            dst &= -size;
            src = Math.max(src, lo + (-lo & (size - 1)));
            dst = Math.max(dst, lo + (-lo & (size - 1)));
        }
        if (usesSource) pointTo(g, RSI, src);
        if (usesDest) pointTo(g, RDI, dst);
        if (rep) g.emit(Instruction.op(0xB8).opcodeReg(RCX).imm(count, 4));
        Instruction i = Instruction.op(new int[] {0xA4, 0xA6, 0xAA, 0xAC, 0xAE}[kind] + (size == 1 ? 0 : 1)).size(size);
        if (rep) i.prefix(compares && r.nextBoolean() ? 0xF2 : 0xF3);
        if (addr32) i.prefix(0x67);
        int written = compares && count > 0 ? STATUS : 0;
        g.emit(i, 0, written, 0);
        return true;
    }

    /** Loads a register with the address DATA + offset (MOV imm32, LEA from the pointer, or LEA RIP-relative). */
    private static void pointTo(Generator g, int reg, int offset) {
        long target = Layout.DATA + offset;
        switch (g.rnd.nextInt(3)) {
            case 0 -> g.emit(Instruction.op(0xB8).opcodeReg(reg).imm(target, 4));
            case 1 -> g.emit(Instruction.op(0x8D).size(8).reg(reg).rm(Mem.base(g.pointer, target - g.gpr[g.pointer])));
            default -> g.emit(Instruction.op(0x8D).size(8).reg(reg).rm(Mem.ripRelative(target)));
        }
    }
}
