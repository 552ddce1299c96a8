package org.symbiont.x86.difftest;

/**
 * Builds the encoding of one instruction: legacy prefixes, REX, opcode map and opcode, ModRM
 * with SIB and displacement, immediates, branch displacements. Register numbers are 0..15
 * (REX-extended); for byte operands 16..19 stand for AH, CH, DH, BH, which cannot be encoded
 * together with a REX prefix ({@link #emit} refuses such a combination).
 */
final class Instruction {
    static final int MAP_1 = 0, MAP_0F = 1, MAP_0F38 = 2;

    private final int[] prefixes = new int[4];
    private int prefixCount;
    /** Prefixes without effect placed before all others (see {@link #ignoredPrefix}). */
    private final int[] leading = new int[3];
    private int leadingCount;
    private boolean rexW, forceRex;
    private int map, opcode;
    private int regField = -1;
    private boolean regIsGpr8;
    private int rmReg = -1;
    private boolean rmIsGpr8;
    private Mem mem;
    private int opcodeReg = -1;
    private boolean opcodeRegIsGpr8;
    private long imm, imm2;
    private int immSize, imm2Size;
    private Code.Label target;
    private int targetSize;

    static Instruction op(int opcode) {
        Instruction i = new Instruction();
        i.opcode = opcode;
        return i;
    }

    static Instruction op0F(int opcode) {
        return op(opcode).map(MAP_0F);
    }

    static Instruction op0F38(int opcode) {
        return op(opcode).map(MAP_0F38);
    }

    Instruction map(int m) {
        map = m;
        return this;
    }

    /** A legacy prefix (66, 67, F0, F2, F3), emitted in call order before any REX. */
    Instruction prefix(int p) {
        prefixes[prefixCount++] = p;
        return this;
    }

    /**
     * A prefix that must not change anything, emitted first: a CS/DS/ES/SS segment override (ignored
     * in 64-bit mode) or a REX byte that some legacy prefix separates from the opcode (ignored).
     */
    Instruction ignoredPrefix(int p) {
        leading[leadingCount++] = p;
        return this;
    }

    /** Whether a legacy prefix will follow the leading ones (so a REX there is ignored). */
    boolean hasLegacyPrefix() {
        return prefixCount > 0 || mem != null && mem.addr32;
    }

    /** Operand size 2 adds 66, 8 sets REX.W; 1 and 4 add nothing (the opcode tells byte forms). */
    Instruction size(int s) {
        if (s == 2) prefix(0x66);
        if (s == 8) rexW = true;
        return this;
    }

    Instruction rexW() {
        rexW = true;
        return this;
    }

    /** Emits a REX prefix even when no bit is needed (40), e.g. to reach SPL..DIL or to test decoding. */
    Instruction rex() {
        forceRex = true;
        return this;
    }

    /** ModRM.reg as a register (GPR or XMM). */
    Instruction reg(int r) {
        regField = r;
        return this;
    }

    /** ModRM.reg as a byte register (0..15 or 16..19 for AH..BH). */
    Instruction reg8(int r) {
        regField = r;
        regIsGpr8 = true;
        return this;
    }

    /** ModRM.reg as an opcode extension /digit. */
    Instruction digit(int d) {
        regField = d;
        return this;
    }

    Instruction rm(int r) {
        rmReg = r;
        mem = null;
        return this;
    }

    Instruction rm8(int r) {
        rm(r);
        rmIsGpr8 = true;
        return this;
    }

    Instruction rm(Mem m) {
        mem = m;
        rmReg = -1;
        return this;
    }

    /** Register encoded in the opcode's low three bits (50+r, B8+r, 0F C8+r, ...). */
    Instruction opcodeReg(int r) {
        opcodeReg = r;
        return this;
    }

    Instruction opcodeReg8(int r) {
        opcodeReg = r;
        opcodeRegIsGpr8 = true;
        return this;
    }

    Instruction imm(long v, int bytes) {
        if (immSize == 0) {
            imm = v;
            immSize = bytes;
        } else {
            imm2 = v;
            imm2Size = bytes;
        }
        return this;
    }

    /** A relative branch displacement of {@code bytes} (1 or 4) towards {@code l}. */
    Instruction target(Code.Label l, int bytes) {
        target = l;
        targetSize = bytes;
        return this;
    }

    /** The 3-bit register field: AH..BH (16..19) encode as 4..7. */
    private static int field(int r) {
        return (r >= 16 ? r - 12 : r) & 7;
    }

    private static boolean isHighByte(int r, boolean gpr8) {
        return gpr8 && r >= 16;
    }

    private static boolean needsRexForByte(int r, boolean gpr8) {
        return gpr8 && r >= 4 && r <= 7;
    }

    /** Appends the encoding to {@code code}; returns the offset of its first byte. */
    int emit(Code code) {
        boolean highByte = isHighByte(regField, regIsGpr8) || isHighByte(rmReg, rmIsGpr8)
                || isHighByte(opcodeReg, opcodeRegIsGpr8);
        int rex = 0;
        if (rexW) rex |= 8;
        if (regField >= 8 && regField < 16) rex |= 4;
        if (mem != null) {
            if (mem.index >= 8) rex |= 2;
            if (mem.base >= 8) rex |= 1;
        } else if (rmReg >= 8 && rmReg < 16) {
            rex |= 1;
        }
        if (opcodeReg >= 8 && opcodeReg < 16) rex |= 1;
        boolean needRex = rex != 0 || forceRex || needsRexForByte(regField, regIsGpr8)
                || needsRexForByte(rmReg, rmIsGpr8) || needsRexForByte(opcodeReg, opcodeRegIsGpr8);
        if (highByte && needRex) throw new Code.Unencodable("AH..BH cannot be encoded with REX");

        int start = code.length();
        for (int k = 0; k < leadingCount; k++) code.byte1(leading[k]);
        for (int k = 0; k < prefixCount; k++) code.byte1(prefixes[k]);
        if (mem != null && mem.addr32) code.byte1(0x67);
        if (needRex) code.byte1(0x40 | rex);
        switch (map) {
            case MAP_0F -> code.byte1(0x0F);
            case MAP_0F38 -> {
                code.byte1(0x0F);
                code.byte1(0x38);
            }
            default -> { }
        }
        code.byte1(opcodeReg >= 0 ? opcode | field(opcodeReg) : opcode);
        int dispAt = -1;
        if (mem != null) {
            dispAt = modrmMemory(code);
        } else if (rmReg >= 0) {
            code.byte1(0xC0 | field(regField) << 3 | field(rmReg));
        }
        code.bytes(imm, immSize);
        code.bytes(imm2, imm2Size);
        int branchAt = -1;
        if (target != null) {
            branchAt = code.length();
            code.bytes(0, targetSize);
        }
        int end = code.length();
        if (mem != null && mem.base == Mem.RIP) {
            if (mem.ripLabel != null) code.relative(dispAt, 4, end, mem.ripLabel);
            else code.ripToAbsolute(dispAt, end, mem.ripTarget);
        }
        if (target != null) {
            code.relative(branchAt, targetSize, end, target);
        }
        return start;
    }

    /** Writes ModRM, SIB and displacement; returns where a RIP-relative disp32 sits. */
    private int modrmMemory(Code code) {
        int reg = field(regField) << 3;
        Mem m = mem;
        if (m.base == Mem.RIP) {
            code.byte1(reg | 5);
            int at = code.length();
            code.bytes(0, 4);
            return at;
        }
        if (m.base == Mem.NONE) {
            code.byte1(reg | 4);
            int index = m.index == Mem.NONE ? 4 : m.index & 7;
            code.byte1(m.scale << 6 | index << 3 | 5);
            code.bytes(m.disp, 4);
            return -1;
        }
        boolean sib = m.index != Mem.NONE || (m.base & 7) == 4;
        int dispSize;
        if (m.forceDisp32 || m.disp < Byte.MIN_VALUE || m.disp > Byte.MAX_VALUE) dispSize = 4;
        else if (m.disp == 0 && (m.base & 7) != 5) dispSize = 0;
        else dispSize = 1;
        int mod = dispSize == 0 ? 0 : dispSize == 1 ? 0x40 : 0x80;
        code.byte1(mod | reg | (sib ? 4 : m.base & 7));
        if (sib) {
            int index = m.index == Mem.NONE ? 4 : m.index & 7;
            code.byte1(m.scale << 6 | index << 3 | (m.base & 7));
        }
        code.bytes(m.disp, dispSize);
        return -1;
    }
}
