package org.symbiont.x86.exec;

import org.symbiont.x86.decode.OpcodeTable;

/**
 * The instruction families (grouped as Bochs groups its semantics) and the opcode table they
 * register into. An operation number is {@code family << 8 | index}; each family class owns its
 * indexes, registers its opcodes in {@code register(OpcodeTable)} and executes them in
 * {@code exec(Cpu, Insn)}.
 */
public final class Families {
    private Families() {}

    /** Family 0 belongs to the decoder: #UD and over-long instructions. */
    public static final int DECODER = 0;
    public static final int ARITH = 1;
    public static final int SHIFT = 2;
    public static final int MULDIV = 3;
    public static final int BITS = 4;
    public static final int MOVE = 5;
    public static final int STACK = 6;
    public static final int BRANCH = 7;
    public static final int STRING = 8;
    public static final int SYSTEM = 9;
    public static final int FAR = 10;
    public static final int SSE_FLOAT = 11;
    public static final int SSE_INT = 12;
    public static final int SSE_MOVE = 13;
    public static final int FPU = 14;
    public static final int IO = 15;

    public static int op(int family, int index) {
        return family << 8 | index;
    }

    /** Every opcode this CPU decodes. */
    public static final OpcodeTable TABLE = build();

    private static OpcodeTable build() {
        OpcodeTable t = new OpcodeTable();
        t.define(org.symbiont.x86.decode.Decoder.OP_UD, "(bad)", OpcodeTable.F_END);
        t.define(org.symbiont.x86.decode.Decoder.OP_TOO_LONG, "(too long)", OpcodeTable.F_END);
        Arith.register(t);
        Shift.register(t);
        MulDiv.register(t);
        BitOps.register(t);
        DataMove.register(t);
        StackOps.register(t);
        ControlTransfer.register(t);
        StringOps.register(t);
        SystemOps.register(t);
        FarTransfer.register(t);
        SseFloat.register(t);
        SseInteger.register(t);
        SseMove.register(t);
        Fpu.register(t);
        PortIo.register(t);
        return t;
    }
}
