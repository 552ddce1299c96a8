package org.symbiont.x86.decode;

/**
 * One decoded instruction in its compact, execution-ready form. The decoder fills it once per
 * block; the interpreter only reads it. Register operands use the ModRM numbering extended by
 * REX (0..15); in byte operations the numbers 16..19 stand for AH, CH, DH, BH.
 */
public final class Insn {
    // Prefix bits.
    public static final int P_LOCK = 1, P_REP = 1 << 1, P_REPNE = 1 << 2, P_OPSIZE = 1 << 3;
    public static final int P_ADDRSIZE = 1 << 4, P_REX = 1 << 5, P_REXW = 1 << 6, P_SEG = 1 << 7;

    /** Which handler runs: family in bits 8..15, index within the family in bits 0..7. */
    public int op;
    /**
     * For the most frequent operations and operand forms, a dense index the interpreter
     * dispatches on directly (see {@code Interpreter.execute}); 0 for all others.
     */
    public int hot;
    /** Operand size in bytes: 1, 2, 4 or 8. */
    public int opSize;
    /** Address size in bytes: 2, 4 or 8. */
    public int addrSize;
    /** Mask applied to effective addresses: 0xFFFF, 0xFFFFFFFF or all ones. */
    public long eaMask;
    /** ModRM.reg (with REX.R), or the register encoded in the opcode's low bits. */
    public int reg;
    /** The register operand when ModRM.mod == 3; -1 when the operand is in memory. */
    public int rm;
    /** Memory operand: base and index registers (-1 if absent), scale shift, displacement. */
    public int base, index, scale;
    public long disp;
    /** Segment of the memory operand (default or overridden). */
    public int seg;
    /** First and second immediates (ENTER and far pointers use both). */
    public long imm, imm2;
    /** Raw ModRM byte, or -1 when the instruction has none. */
    public int modrm;
    /** Opcode map (0 one-byte, 1 0F, 2 0F38, 3 0F3A) shifted left 8, or'ed with the opcode byte. */
    public int opcode;
    public int prefixes;
    public int length;
    /** Address of this instruction and of the next one (offsets in CS). */
    public long rip, nextRip;
    /** Position in the block, so a handler can tell the exact retired-instruction count. */
    public int indexInBlock;

    public boolean hasPrefix(int p) {
        return (prefixes & p) != 0;
    }

    public boolean isMem() {
        return rm < 0;
    }
}
