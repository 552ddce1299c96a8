package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;

/**
 * Operand access shared by the instruction families: effective addresses and the r/m operand
 * (a register when ModRM.mod == 3, memory otherwise).
 *
 * <p>Rule for every handler: do every memory access that can fault before changing any
 * register, flag or RIP, so that a fault or an exit leaves the instruction without effect.
 */
public final class Operands {
    private Operands() {}

    /** Effective address of the memory operand (offset within its segment). */
    public static long ea(Cpu c, Insn i) {
        long a = i.disp;
        if (i.base >= 0) a += c.gpr[i.base];
        if (i.index >= 0) a += c.gpr[i.index] << i.scale;
        return a & i.eaMask;
    }

    /** Reads the r/m operand, zero-extended. */
    public static long readRm(Cpu c, Insn i, int size) {
        if (i.rm >= 0) return c.readReg(i.rm, size);
        return c.read(i.seg, ea(c, i), size);
    }

    /** Writes the r/m operand. */
    public static void writeRm(Cpu c, Insn i, int size, long v) {
        if (i.rm >= 0) c.writeReg(i.rm, size, v);
        else c.write(i.seg, ea(c, i), size, v);
    }

    /** Linear address of the memory operand, checked by segmentation for the given access. */
    public static long linear(Cpu c, Insn i, int size, int access) {
        return c.linear(i.seg, ea(c, i), size, access);
    }

    /** Sign-extends the low {@code size} bytes of {@code v} to 64 bits. */
    public static long signExtend(long v, int size) {
        int sh = 64 - 8 * size;
        return (v << sh) >> sh;
    }
}
