package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Stack instructions: PUSH and POP of registers, immediates and memory, PUSHF and POPF, PUSHA and
 * POPA, ENTER and LEAVE; and the push/pop primitives the other families use. The stack pointer width follows SS.B
 * (or 64 bits in 64-bit mode); the operand size is the instruction's.
 */
public final class StackOps {
    private StackOps() {}

    private static final int PUSH_R = 0, POP_R = 1, PUSH_I = 2, PUSH_E = 3, POP_E = 4;
    private static final int PUSHF = 5, POPF = 6, LEAVE = 7, ENTER = 8, PUSHA = 9, POPA = 10;

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
        t.define(op(ENTER), "enter Iw,Ib", 0);
        t.at(MAP_1, 0xC8).is(op(ENTER));
        // PUSHA/POPA: the opcode shapes make them #UD in 64-bit mode.
        t.define(op(PUSHA), "pusha", 0);
        t.at(MAP_1, 0x60).is(op(PUSHA));
        t.define(op(POPA), "popa", 0);
        t.at(MAP_1, 0x61).is(op(POPA));
    }

    static void exec(Cpu c, Insn i) {
        int size = i.opSize;
        switch (i.op & 0xFF) {
            case PUSH_R -> pushReg(c, i);
            case POP_R -> popReg(c, i);
            case PUSH_I -> push(c, size, i.imm);
            case PUSH_E -> {
                int s = nearSize(c, size);
                push(c, s, Operands.readRm(c, i, s));
            }
            case POP_E -> popToMemory(c, i, nearSize(c, size));
            case PUSHF -> pushf(c, i);
            case POPF -> {
                popf(c, size);
                c.rip = i.nextRip; // F_END: the handler sets RIP
            }
            case LEAVE -> {
                // RSP <- RBP, then pop RBP; the stack-pointer width decides how much of RBP moves.
                long m = stackMask(c);
                long bp = c.gpr[RBP] & m;
                long v = c.read(SS, bp, size);
                c.gpr[RSP] = (c.gpr[RSP] & ~m) | ((bp + size) & m);
                c.writeReg(RBP, size, v);
            }
            case ENTER -> enter(c, nearSize(c, size), (int) (i.imm & 0xFFFF), (int) (i.imm2 & 31));
            case PUSHA -> pusha(c, size);
            case POPA -> popa(c, size);
            default -> throw c.ud();
        }
    }

    /**
     * ENTER (SDM Vol. 2A, ENTER): pushes rBP; with nesting level L > 0 copies L - 1 frame pointers
     * from the enclosing frame ([rBP - k * size], rBP of stack-pointer width) and pushes the new
     * frame pointer; then rBP = frame pointer and rSP -= allocation. ENTER is d64 (64-bit operand
     * size by default in 64-bit mode, 16 with 66), hence {@link #nearSize}.
     *
     * <p>For precise faults every frame pointer is read, and every slot plus the final stack
     * pointer (the SDM's write check with the final rSP) is checked for writing, before anything
     * is written. Where the enclosing frame overlaps the slots already pushed, the copy is read
     * again at its turn, so the result is that of the SDM's interleaved order.
     */
    private static void enter(Cpu c, int size, int allocation, int level) {
        long m = stackMask(c);
        long sp = c.gpr[RSP];
        long bp = c.gpr[RBP];
        long[] display = level > 1 ? new long[level - 1] : null;
        for (int k = 1; k < level; k++) display[k - 1] = c.read(SS, (bp - (long) k * size) & m, size);
        int pushes = level == 0 ? 1 : level + 1;
        for (int k = 1; k <= pushes; k++) probeStackWrite(c, (sp - (long) k * size) & m, size);
        long frame = (sp & ~m) | ((sp - size) & m);
        long finalSp = (sp - (long) pushes * size - allocation) & m;
        probeStackWrite(c, finalSp, size);
        c.write(SS, (sp - size) & m, size, bp);
        for (int k = 1; k < level; k++) {
            long from = (bp - (long) k * size) & m;
            long pushedBytes = (long) k * size;
            long pushedLow = (sp - pushedBytes) & m;
            boolean overlaps = Long.compareUnsigned((from - pushedLow) & m, pushedBytes) < 0
                    || Long.compareUnsigned((pushedLow - from) & m, size) < 0;
            long value = overlaps ? c.read(SS, from, size) : display[k - 1];
            c.write(SS, (sp - (long) (k + 1) * size) & m, size, value);
        }
        if (level > 0) c.write(SS, (sp - (long) pushes * size) & m, size, frame);
        c.writeReg(RBP, size, frame);
        c.gpr[RSP] = (sp & ~m) | finalSp;
    }

    private static void probeStackWrite(Cpu c, long offset, int size) {
        c.probeWrite(SS, c.linear(SS, offset, size, Cpu.ACCESS_WRITE), size);
    }

    /** PUSHA/PUSHAD: pushes rAX, rCX, rDX, rBX, the original rSP, rBP, rSI, rDI; all slots checked first. */
    private static void pusha(Cpu c, int size) {
        long m = stackMask(c);
        long sp = c.gpr[RSP];
        for (int r = RAX; r <= RDI; r++) probeStackWrite(c, (sp - (long) (r + 1) * size) & m, size);
        for (int r = RAX; r <= RDI; r++) {
            long v = r == RSP ? sp : c.gpr[r];
            c.write(SS, (sp - (long) (r + 1) * size) & m, size, v);
        }
        c.gpr[RSP] = (sp & ~m) | ((sp - 8L * size) & m);
    }

    /** POPA/POPAD: pops rDI, rSI, rBP, skips the saved rSP, pops rBX, rDX, rCX, rAX; all read first. */
    private static void popa(Cpu c, int size) {
        long di = peek(c, size, 0), si = peek(c, size, size), bp = peek(c, size, 2L * size);
        long bx = peek(c, size, 4L * size), dx = peek(c, size, 5L * size);
        long cx = peek(c, size, 6L * size), ax = peek(c, size, 7L * size);
        adjust(c, 8L * size);
        c.writeReg(RDI, size, di);
        c.writeReg(RSI, size, si);
        c.writeReg(RBP, size, bp);
        c.writeReg(RBX, size, bx);
        c.writeReg(RDX, size, dx);
        c.writeReg(RCX, size, cx);
        c.writeReg(RAX, size, ax);
    }

    /** The hot-dispatch index for this instruction's operation, or 0. */
    static int hot(Insn i) {
        return switch (i.op & 0xFF) {
            case PUSH_R -> Interpreter.H_PUSH_REG;
            case POP_R -> Interpreter.H_POP_REG;
            default -> 0;
        };
    }

    static void pushReg(Cpu c, Insn i) {
        push(c, i.opSize, c.readReg(i.reg, i.opSize));
    }

    /** POP r: the value is written after RSP moves, so POP RSP loads the popped value. */
    static void popReg(Cpu c, Insn i) {
        int size = i.opSize;
        long v = peek(c, size, 0);
        adjust(c, size);
        c.writeReg(i.reg, size, v);
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
