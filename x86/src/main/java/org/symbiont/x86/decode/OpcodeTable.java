package org.symbiont.x86.decode;

/**
 * What each opcode means: maps (opcode map, opcode byte, mandatory prefix, ModRM.reg, register
 * or memory form, and for a few opcodes ModRM.rm) to an operation number. Each instruction family
 * in {@code org.symbiont.x86.exec} registers its own opcodes here; the lengths come from
 * {@link OpcodeShape}. Anything not registered decodes to #UD.
 */
public final class OpcodeTable {

    /** Mandatory-prefix classes. */
    public static final int PFX_NONE = 0, PFX_66 = 1, PFX_F3 = 2, PFX_F2 = 3;

    // How an opcode reads the 66/F2/F3 prefixes.
    /** 66 is the operand-size override, F2/F3 are REP prefixes (the default). */
    static final int PMODE_LEGACY = 0;
    /** SSE style: the last of F2/F3, else 66, selects the instruction; 66 then sets no size. */
    static final int PMODE_MANDATORY = 1;
    /** F3 selects a sibling (TZCNT/LZCNT/POPCNT); F2 is ignored; 66 stays the operand-size override. */
    static final int PMODE_F3 = 2;
    /**
     * The last of F2/F3 selects the instruction, no REP prefix selects another, and 66 stays the
     * operand-size override (MOVBE and CRC32 at 0F 38 F0/F1: F3 there is #UD, 66 F2 is CRC32 of a word).
     */
    static final int PMODE_REP = 3;

    // Operation flags.
    /** Byte operands: 8-bit registers, operand size 1. */
    public static final int F_BYTE = 1;
    /** The instruction ends its decoded block (control transfer, mode or interrupt-state change). */
    public static final int F_END = 1 << 1;
    /** String instruction: with a REP prefix it runs as a block of its own. */
    public static final int F_STRING = 1 << 2;
    /** The register operand is the accumulator (AL/AX/EAX/RAX) in the rm slot: ALU AL, Ib forms. */
    public static final int F_ACC = 1 << 3;
    /** LOCK is allowed (with a memory destination); otherwise LOCK raises #UD. */
    public static final int F_LOCKABLE = 1 << 4;
    /** Operand size is 64 bits in 64-bit mode whatever the prefixes (MOV CR, LGDT operand...). */
    public static final int F_FORCE64 = 1 << 5;
    /** Relative branch: the decoder turns the displacement into the target RIP, stored in {@code imm}. */
    public static final int F_REL_BRANCH = 1 << 6;
    /**
     * The r/m operand is a byte (Eb) while the operation size is not (MOVZX/MOVSX Gv,Eb, CRC32
     * Gd,Eb): without REX its register numbers 4..7 are AH..BH (16..19), as with {@link #F_BYTE}.
     */
    public static final int F_BYTE_RM = 1 << 7;
    /** "NP" in the opcode tables: a 66, F2 or F3 prefix makes the encoding undefined (#UD). */
    public static final int F_NO_PREFIX = 1 << 8;

    private static final int RM_TABLE = -2;

    private final int[] ops = new int[1 << 16];
    private final byte[] prefixMode = new byte[4 * 256];
    /** For entries marked {@link #RM_TABLE}: the operation for each ModRM.rm (0 when none). */
    private final int[][] byRm = new int[1 << 16][];
    private final int[] opFlags = new int[1 << 16];
    private final String[] opNames = new String[1 << 16];

    private static int index(int map, int opcode, int pfx, int reg, boolean isReg) {
        return (((map << 8 | opcode) << 2 | pfx) << 3 | reg) << 1 | (isReg ? 1 : 0);
    }

    /** Declares an operation number with its flags and a mnemonic for diagnostics. */
    public void define(int op, String name, int flags) {
        if (opNames[op] != null && !opNames[op].equals(name)) {
            throw new IllegalStateException("operation " + Integer.toHexString(op) + " defined as both "
                    + opNames[op] + " and " + name);
        }
        opNames[op] = name;
        opFlags[op] = flags;
    }

    public int flags(int op) {
        return opFlags[op];
    }

    public String name(int op) {
        String n = opNames[op];
        return n != null ? n : String.format("op%04x", op);
    }

    /** Starts a registration for one opcode of one map. */
    public Entry at(int map, int opcode) {
        return new Entry(map, opcode);
    }

    int lookup(int map, int opcode, int pfx, int reg, boolean isReg, int rm) {
        int idx = index(map, opcode, pfx, reg, isReg);
        int v = ops[idx];
        return v == RM_TABLE ? byRm[idx][rm] : v;
    }

    int prefixMode(int map, int opcode) {
        return prefixMode[map << 8 | opcode];
    }

    /** A registration under construction; {@link #is(int)} commits it. */
    public final class Entry {
        private final int map, opcode;
        private int reg = -1, rm = -1, pfx = -1;
        private Boolean isReg;

        Entry(int map, int opcode) {
            this.map = map;
            this.opcode = opcode;
        }

        /** Only this ModRM.reg (a group member /n). */
        public Entry reg(int r) { this.reg = r; return this; }
        /** Only the memory form (ModRM.mod != 3). */
        public Entry mem() { this.isReg = false; return this; }
        /** Only the register form (ModRM.mod == 3). */
        public Entry regForm() { this.isReg = true; return this; }
        /** Only the register form with this ModRM.rm (0F 01 C1 and friends). */
        public Entry rm(int r) { this.isReg = true; this.rm = r; return this; }
        /** SSE-style mandatory prefix (PFX_NONE, PFX_66, PFX_F3, PFX_F2). */
        public Entry mandatory(int p) { this.pfx = p; setMode(PMODE_MANDATORY); return this; }
        /** The F3-selected sibling of a legacy opcode (TZCNT for BSF, ...). */
        public Entry f3Select(boolean withF3) { this.pfx = withF3 ? PFX_F3 : PFX_NONE; setMode(PMODE_F3); return this; }
        /**
         * Selected by its REP prefix (PFX_NONE, PFX_F2 or PFX_F3) while 66 stays the operand-size
         * override: MOVBE (none) and CRC32 (F2) at 0F 38 F0/F1.
         */
        public Entry repSelect(int p) {
            if (p == PFX_66) throw new IllegalArgumentException("66 is the operand-size override here, it selects nothing");
            this.pfx = p;
            setMode(PMODE_REP);
            return this;
        }

        private void setMode(int mode) {
            int cur = prefixMode[map << 8 | opcode];
            if (cur != PMODE_LEGACY && cur != mode) {
                throw new IllegalStateException(String.format("opcode %d:%02x registered with two prefix modes", map, opcode));
            }
            prefixMode[map << 8 | opcode] = (byte) mode;
        }

        public void is(int op) {
            if (op <= 0) throw new IllegalArgumentException("operation numbers are positive");
            if (opNames[op] == null) {
                throw new IllegalStateException("operation " + Integer.toHexString(op) + " registered before define()");
            }
            int shape = OpcodeShape.shape(map, opcode);
            if ((shape & (OpcodeShape.PREFIX | OpcodeShape.ESCAPE | OpcodeShape.UNDEFINED)) != 0) {
                throw new IllegalStateException(String.format("opcode %d:%02x cannot carry an operation", map, opcode));
            }
            boolean modrm = (shape & OpcodeShape.MODRM) != 0;
            if (!modrm && (reg >= 0 || isReg != null)) {
                throw new IllegalStateException(String.format("opcode %d:%02x has no ModRM", map, opcode));
            }
            for (int p = 0; p < 4; p++) {
                if (pfx >= 0 && p != pfx) continue;
                if (pfx < 0 && p != PFX_NONE) continue;
                for (int r = 0; r < 8; r++) {
                    if (reg >= 0 && r != reg) continue;
                    for (int form = 0; form < 2; form++) {
                        boolean formIsReg = form == 1;
                        if (isReg != null && isReg != formIsReg) continue;
                        if (!modrm && !formIsReg) continue;
                        int idx = index(map, opcode, p, r, formIsReg);
                        if (rm >= 0) {
                            if (ops[idx] != 0 && ops[idx] != RM_TABLE) conflict(idx, op);
                            ops[idx] = RM_TABLE;
                            if (byRm[idx] == null) byRm[idx] = new int[8];
                            if (byRm[idx][rm] != 0) conflict(idx, op);
                            byRm[idx][rm] = op;
                        } else {
                            if (ops[idx] != 0) conflict(idx, op);
                            ops[idx] = op;
                        }
                    }
                }
            }
        }

        private void conflict(int idx, int op) {
            throw new IllegalStateException(String.format("opcode %d:%02x registered twice (%s)", map, opcode, name(op)));
        }
    }
}
