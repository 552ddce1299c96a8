package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Stack instructions: PUSH and POP of registers, immediates and memory, PUSHF and POPF, LEAVE;
 * and the push/pop primitives the other families use. The stack pointer width follows SS.B
 * (or 64 bits in 64-bit mode); the operand size is the instruction's.
 */
public final class StackOps {
    private StackOps() {}

    private static final int PUSH_R = 0, POP_R = 1, PUSH_I = 2, PUSH_E = 3, POP_E = 4;
    private static final int PUSHF = 5, POPF = 6, LEAVE = 7;

    private static int op(int index) {
        return Families.op(Families.STACK, index);
    }

    static void register(OpcodeTable t) {
        t.define(op(PUSH_R), "push r", 0);
        t.define(op(POP_R), "pop r", 0);
        for (int r = 0; r < 8; r++) {
            t.at(MAP_1, 0x50 + r).is(op(PUSH_R));
            t.at(MAP_1, 0x58 + r).is(op(POP_R));
        }
        t.define(op(PUSH_I), "push Iz/Ib", 0);
        t.at(MAP_1, 0x68).is(op(PUSH_I));
        t.at(MAP_1, 0x6A).is(op(PUSH_I));
        t.define(op(PUSH_E), "push Ev", 0);
        t.at(MAP_1, 0xFF).reg(6).is(op(PUSH_E));
        t.define(op(POP_E), "pop Ev", 0);
        t.at(MAP_1, 0x8F).reg(0).is(op(POP_E));
        t.define(op(PUSHF), "pushf", 0);
        t.at(MAP_1, 0x9C).is(op(PUSHF));
        t.define(op(POPF), "popf", F_END);
        t.at(MAP_1, 0x9D).is(op(POPF));
        t.define(op(LEAVE), "leave", 0);
        t.at(MAP_1, 0xC9).is(op(LEAVE));
    }

    static void exec(Cpu c, Insn i) {
        int size = i.opSize;
        switch (i.op & 0xFF) {
            case PUSH_R -> push(c, size, c.readReg(i.reg, size));
            case POP_R -> {
                long v = peek(c, size, 0);
                adjust(c, size);
                c.writeReg(i.reg, size, v);
            }
            case PUSH_I -> push(c, size, i.imm);
            case PUSH_E -> {
                int s = nearSize(c, size);
                push(c, s, Operands.readRm(c, i, s));
            }
            case POP_E -> popToMemory(c, i, nearSize(c, size));
            case PUSHF -> pushf(c, i);
            case POPF -> popf(c, size);
            case LEAVE -> {
                // RSP <- RBP, then pop RBP; the stack-pointer width decides how much of RBP moves.
                long m = stackMask(c);
                long bp = c.gpr[RBP] & m;
                long v = c.read(SS, bp, size);
                c.gpr[RSP] = (c.gpr[RSP] & ~m) | ((bp + size) & m);
                c.writeReg(RBP, size, v);
            }
            default -> throw c.ud();
        }
    }

    /**
     * Operand size of FF /2, /4, /6 and 8F /0 in 64-bit mode: 64 bits by default, 16 with a 66
     * prefix (AMD64 behaviour, which GNU objdump and this project's host follow).
     */
    static int nearSize(Cpu c, int decoded) {
        return c.codeMode == Decoder.CODE64 && decoded == 4 ? 8 : decoded;
    }

    public static long stackMask(Cpu c) {
        int s = c.stackSize;
        return s == 8 ? -1L : s == 4 ? 0xFFFF_FFFFL : 0xFFFFL;
    }

    /** Pushes {@code size} bytes; RSP changes only after the write succeeded. */
    public static void push(Cpu c, int size, long v) {
        long sp = c.gpr[RSP];
        long m = stackMask(c);
        long nsp = (sp - size) & m;
        c.write(SS, nsp, size, v);
        c.gpr[RSP] = (sp & ~m) | nsp;
    }

    /** Reads {@code size} bytes at RSP + {@code offset} without moving RSP. */
    public static long peek(Cpu c, int size, long offset) {
        long m = stackMask(c);
        return c.read(SS, (c.gpr[RSP] + offset) & m, size);
    }

    /** Moves RSP by {@code delta} bytes within the stack-pointer width. */
    public static void adjust(Cpu c, long delta) {
        long sp = c.gpr[RSP];
        long m = stackMask(c);
        c.gpr[RSP] = (sp & ~m) | ((sp + delta) & m);
    }

    /** POP Ev: the destination address is computed with RSP already incremented (SDM Vol. 2B, POP). */
    private static void popToMemory(Cpu c, Insn i, int size) {
        long v = peek(c, size, 0);
        if (i.rm >= 0) {
            adjust(c, size);
            c.writeReg(i.rm, size, v);
            return;
        }
        long saved = c.gpr[RSP];
        adjust(c, size);
        try {
            c.write(i.seg, Operands.ea(c, i), size, v);
        } catch (RuntimeException e) {
            c.gpr[RSP] = saved;
            throw e;
        }
    }

    private static void pushf(Cpu c, Insn i) {
        if ((c.rflags & VM) != 0 && (c.rflags & IOPL) != IOPL) throw c.gp0();
        // The image has RF and VM cleared (SDM Vol. 2B, PUSHF).
        push(c, i.opSize, c.getRflags() & ~(RF | VM));
    }

    /** POPF with the privilege rules of SDM Vol. 2B, POPF: IOPL only at CPL 0, IF only at CPL <= IOPL. */
    private static void popf(Cpu c, int size) {
        if ((c.rflags & VM) != 0 && (c.rflags & IOPL) != IOPL) throw c.gp0();
        long v = peek(c, size, 0);
        adjust(c, size);
        long changeable = STATUS_FLAGS | TF | DF | NT | AC | ID;
        boolean realMode = (c.cr0 & CR0_PE) == 0;
        if (realMode || c.cpl == 0) changeable |= IOPL;
        if (realMode || c.cpl <= (int) ((c.rflags & IOPL) >>> 12)) changeable |= IF;
        if (size == 2) changeable &= 0xFFFF;
        long next = (c.getRflags() & ~changeable) | (v & changeable);
        c.setRflags(next & ~RF);
    }
}
