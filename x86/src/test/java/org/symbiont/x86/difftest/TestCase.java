package org.symbiont.x86.difftest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** One generated case: the initial state and the code, plus what the masks need to know. */
final class TestCase {
    final long index;
    final Family family;
    final long[] gpr = new long[16];
    long rflags;
    final long[] xmm = new long[32];
    int mxcsr;
    long dataSeed;
    final int[] patchOffsets;
    final long[] patchValues;
    final byte[] code;
    final List<Step> steps;
    /** Status flags possibly undefined when the sequence completes (static, joined over paths). */
    final int finalUndefined;
    /** The case contains instructions whose masks depend on operand values: run it step by step. */
    final boolean singleStep;

    TestCase(long index, Family family, int[] patchOffsets, long[] patchValues, byte[] code, List<Step> steps,
             int finalUndefined, boolean singleStep) {
        this.index = index;
        this.family = family;
        this.patchOffsets = patchOffsets;
        this.patchValues = patchValues;
        this.code = code;
        this.steps = steps;
        this.finalUndefined = finalUndefined;
        this.singleStep = singleStep;
    }

    /**
     * A hand-written case: {@code code} with the given register values (RSP defaults to a stack
     * inside the data region), flags 0x202, default MXCSR, zero XMM registers, the data image of
     * {@code dataSeed} without patches.
     */
    static TestCase handWritten(byte[] code, long dataSeed, long... registers) {
        TestCase c = new TestCase(0, Family.MOV, new int[0], new long[0], code, List.of(), 0, false);
        System.arraycopy(registers, 0, c.gpr, 0, registers.length);
        if (registers.length <= Generator.RSP) c.gpr[Generator.RSP] = Layout.DATA + 0xC00;
        c.rflags = 0x202;
        c.mxcsr = 0x1F80;
        c.dataSeed = dataSeed;
        return c;
    }

    long codeAddress() {
        return Layout.CODE_END - code.length;
    }

    /** The data region as both worlds start with it. */
    byte[] initialData() {
        ByteBuffer b = ByteBuffer.allocate(Layout.DATA_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        long[] state = {dataSeed};
        for (int q = 0; q < Layout.DATA_SIZE / 8; q++) b.putLong(q * 8, Layout.splitmix64(state));
        for (int k = 0; k < patchOffsets.length; k++) b.putLong(patchOffsets[k], patchValues[k]);
        return b.array();
    }

    /** The step at code address {@code rip}, or null. */
    Step stepAt(long rip) {
        long off = rip - codeAddress();
        for (Step s : steps) if (s.offset == off) return s;
        return null;
    }

    /** Serialises the case in the harness's input format. */
    void writeTo(ByteBuffer out) {
        for (long g : gpr) out.putLong(g);
        out.putLong(rflags);
        for (long x : xmm) out.putLong(x);
        out.putLong(dataSeed);
        out.putInt(mxcsr);
        out.putShort((short) code.length);
        out.putShort((short) patchOffsets.length);
        for (int k = 0; k < patchOffsets.length; k++) {
            out.putShort((short) patchOffsets[k]);
            out.putLong(patchValues[k]);
        }
        out.put(code);
    }

    int serializedSize() {
        return 128 + 8 + 256 + 8 + 4 + 2 + 2 + 10 * patchOffsets.length + code.length;
    }
}
