package org.symbiont.x86.difftest;

/**
 * A memory operand: [base + index * 2^scale + disp], RIP-relative, or absolute, optionally with
 * a 32-bit address size (67 prefix). Register numbers are 0..15.
 */
final class Mem {
    static final int NONE = -1, RIP = -2;

    final int base, index, scale;
    final long disp;
    /** For RIP-relative operands: the absolute address reached, or the code label. */
    final long ripTarget;
    final Code.Label ripLabel;
    boolean addr32;
    /** Encode the displacement as 32 bits even when a shorter form exists. */
    boolean forceDisp32;

    private Mem(int base, int index, int scale, long disp, long ripTarget, Code.Label ripLabel) {
        this.base = base;
        this.index = index;
        this.scale = scale;
        this.disp = disp;
        this.ripTarget = ripTarget;
        this.ripLabel = ripLabel;
    }

    static Mem base(int base, long disp) {
        return new Mem(base, NONE, 0, disp, 0, null);
    }

    static Mem sib(int base, int index, int scale, long disp) {
        if (index == 4) throw new IllegalArgumentException("RSP cannot be an index");
        return new Mem(base, index, scale, disp, 0, null);
    }

    static Mem absolute(long address) {
        return new Mem(NONE, NONE, 0, address, 0, null);
    }

    static Mem ripRelative(long target) {
        return new Mem(RIP, NONE, 0, 0, target, null);
    }

    static Mem ripRelative(Code.Label label) {
        return new Mem(RIP, NONE, 0, 0, 0, label);
    }

    /** The effective address given register values (RIP-relative operands know theirs). */
    long address(long[] gpr) {
        if (base == RIP) return ripTarget;
        long a = disp;
        if (base >= 0) a += gpr[base];
        if (index >= 0) a += gpr[index] << scale;
        return addr32 ? a & 0xFFFF_FFFFL : a;
    }

    boolean needsRex() {
        return base >= 8 || index >= 8;
    }
}
