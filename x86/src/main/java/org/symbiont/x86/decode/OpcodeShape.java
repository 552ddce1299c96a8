package org.symbiont.x86.decode;

/**
 * The architectural shape of every opcode, independent of what it means: whether a ModRM byte
 * follows, which immediate, and the operand-size and 64-bit-mode rules (the superscripts d64,
 * f64, i64, o64 of the opcode maps in SDM Vol. 2D, Appendix A). The decoder takes instruction
 * lengths from here alone; what an opcode does is registered separately in {@link OpcodeTable}.
 */
public final class OpcodeShape {
    private OpcodeShape() {}

    public static final int MAP_1 = 0, MAP_0F = 1, MAP_0F38 = 2, MAP_0F3A = 3;

    // Bit fields of a shape word.
    public static final int MODRM = 1;
    /** ModRM whose mod field is ignored and always names a register (MOV CR/DR). */
    public static final int MODRM_REGONLY = 1 << 1;
    /** Invalid in 64-bit mode. */
    public static final int I64 = 1 << 2;
    /** Operand size defaults to 64 bits in 64-bit mode (near branches, stack operations). */
    public static final int D64 = 1 << 3;
    /** Register number in the opcode's low three bits (extended by REX.B). */
    public static final int REG_IN_OPCODE = 1 << 4;
    /** A legacy or REX prefix byte; never an opcode on its own. */
    public static final int PREFIX = 1 << 5;
    /** Opcode byte that selects another map (0F, 0F 38, 0F 3A). */
    public static final int ESCAPE = 1 << 6;
    /** Defined by no processor we model: always #UD. */
    public static final int UNDEFINED = 1 << 7;

    // Immediate kinds, in bits 8..11.
    public static final int IMM_SHIFT = 8;
    public static final int IMM_NONE = 0;
    /** One byte. */
    public static final int IMM_B = 1 << IMM_SHIFT;
    /** Two bytes. */
    public static final int IMM_W = 2 << IMM_SHIFT;
    /** Two or four bytes by operand size (Iz, Jz). */
    public static final int IMM_Z = 3 << IMM_SHIFT;
    /** Two, four or eight bytes by operand size (MOV r, imm64). */
    public static final int IMM_V = 4 << IMM_SHIFT;
    /** Absolute offset of address size (MOV AL, moffs). */
    public static final int IMM_MOFFS = 5 << IMM_SHIFT;
    /** ENTER: a word then a byte. */
    public static final int IMM_W_B = 6 << IMM_SHIFT;
    /** Far pointer: offset of operand size (2 or 4) then a 16-bit selector. */
    public static final int IMM_FARPTR = 7 << IMM_SHIFT;
    /** Group 3 byte form: TEST Eb, Ib has a byte for /0 and /1 only. */
    public static final int IMM_GRP3_B = 8 << IMM_SHIFT;
    /** Group 3 full form: TEST Ev, Iz has Iz for /0 and /1 only. */
    public static final int IMM_GRP3_Z = 9 << IMM_SHIFT;
    public static final int IMM_MASK = 15 << IMM_SHIFT;

    private static final int[][] SHAPES = new int[4][256];

    public static int shape(int map, int opcode) {
        return SHAPES[map][opcode];
    }

    private static void set(int map, int from, int to, int shape) {
        for (int o = from; o <= to; o++) SHAPES[map][o] = shape;
    }

    private static void set(int map, int opcode, int shape) {
        SHAPES[map][opcode] = shape;
    }

    static {
        // ---- one-byte map ----
        int[] m = SHAPES[MAP_1];
        for (int row = 0; row < 0x40; row += 8) {
            set(MAP_1, row, row + 3, MODRM);        // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev
            set(MAP_1, row + 4, IMM_B);             // ALU AL, Ib
            set(MAP_1, row + 5, IMM_Z);             // ALU rAX, Iz
        }
        set(MAP_1, 0x06, I64); set(MAP_1, 0x07, I64);                 // PUSH/POP ES
        set(MAP_1, 0x0E, I64); set(MAP_1, 0x0F, ESCAPE);              // PUSH CS, 0F
        set(MAP_1, 0x16, I64); set(MAP_1, 0x17, I64);                 // PUSH/POP SS
        set(MAP_1, 0x1E, I64); set(MAP_1, 0x1F, I64);                 // PUSH/POP DS
        set(MAP_1, 0x26, PREFIX); set(MAP_1, 0x27, I64);              // ES:, DAA
        set(MAP_1, 0x2E, PREFIX); set(MAP_1, 0x2F, I64);              // CS:, DAS
        set(MAP_1, 0x36, PREFIX); set(MAP_1, 0x37, I64);              // SS:, AAA
        set(MAP_1, 0x3E, PREFIX); set(MAP_1, 0x3F, I64);              // DS:, AAS
        set(MAP_1, 0x40, 0x4F, REG_IN_OPCODE);                        // INC/DEC r (REX in 64-bit mode)
        set(MAP_1, 0x50, 0x5F, REG_IN_OPCODE | D64);                  // PUSH/POP r
        set(MAP_1, 0x60, I64); set(MAP_1, 0x61, I64);                 // PUSHA, POPA
        set(MAP_1, 0x62, MODRM | I64);                                // BOUND (EVEX in 64-bit mode)
        set(MAP_1, 0x63, MODRM);                                      // ARPL / MOVSXD
        set(MAP_1, 0x64, 0x67, PREFIX);                               // FS:, GS:, 66, 67
        set(MAP_1, 0x68, IMM_Z | D64);                                // PUSH Iz
        set(MAP_1, 0x69, MODRM | IMM_Z);                              // IMUL Gv, Ev, Iz
        set(MAP_1, 0x6A, IMM_B | D64);                                // PUSH Ib
        set(MAP_1, 0x6B, MODRM | IMM_B);                              // IMUL Gv, Ev, Ib
        set(MAP_1, 0x6C, 0x6F, 0);                                    // INS, OUTS
        set(MAP_1, 0x70, 0x7F, IMM_B | D64);                          // Jcc Jb
        set(MAP_1, 0x80, MODRM | IMM_B);
        set(MAP_1, 0x81, MODRM | IMM_Z);
        set(MAP_1, 0x82, MODRM | IMM_B | I64);
        set(MAP_1, 0x83, MODRM | IMM_B);
        set(MAP_1, 0x84, 0x8E, MODRM);                                // TEST, XCHG, MOV, LEA, MOV Sreg
        set(MAP_1, 0x8F, MODRM | D64);                                // POP Ev
        set(MAP_1, 0x90, 0x97, REG_IN_OPCODE);                        // NOP / XCHG r, rAX
        set(MAP_1, 0x98, 0x99, 0);                                    // CBW.., CWD..
        set(MAP_1, 0x9A, IMM_FARPTR | I64);                           // CALL far
        set(MAP_1, 0x9B, 0);                                          // FWAIT
        set(MAP_1, 0x9C, D64); set(MAP_1, 0x9D, D64);                 // PUSHF, POPF
        set(MAP_1, 0x9E, 0x9F, 0);                                    // SAHF, LAHF
        set(MAP_1, 0xA0, 0xA3, IMM_MOFFS);                            // MOV AL/rAX <-> moffs
        set(MAP_1, 0xA4, 0xA7, 0);                                    // MOVS, CMPS
        set(MAP_1, 0xA8, IMM_B); set(MAP_1, 0xA9, IMM_Z);             // TEST AL/rAX, imm
        set(MAP_1, 0xAA, 0xAF, 0);                                    // STOS, LODS, SCAS
        set(MAP_1, 0xB0, 0xB7, REG_IN_OPCODE | IMM_B);                // MOV r8, Ib
        set(MAP_1, 0xB8, 0xBF, REG_IN_OPCODE | IMM_V);                // MOV r, Iv
        set(MAP_1, 0xC0, 0xC1, MODRM | IMM_B);                        // shift group, Ib
        set(MAP_1, 0xC2, IMM_W | D64); set(MAP_1, 0xC3, D64);         // RET Iw, RET
        set(MAP_1, 0xC4, 0xC5, MODRM | I64);                          // LES, LDS (VEX in 64-bit mode)
        set(MAP_1, 0xC6, MODRM | IMM_B);                              // MOV Eb, Ib
        set(MAP_1, 0xC7, MODRM | IMM_Z);                              // MOV Ev, Iz
        set(MAP_1, 0xC8, IMM_W_B | D64);                              // ENTER (d64: SDM Vol. 2A, 2.2.1.7)
        set(MAP_1, 0xC9, D64);                                        // LEAVE
        set(MAP_1, 0xCA, IMM_W); set(MAP_1, 0xCB, 0);                 // RETF Iw, RETF
        set(MAP_1, 0xCC, 0); set(MAP_1, 0xCD, IMM_B);                 // INT3, INT Ib
        set(MAP_1, 0xCE, I64); set(MAP_1, 0xCF, 0);                   // INTO, IRET
        set(MAP_1, 0xD0, 0xD3, MODRM);                                // shift group, 1 / CL
        set(MAP_1, 0xD4, 0xD5, IMM_B | I64);                          // AAM, AAD
        set(MAP_1, 0xD6, I64 | UNDEFINED);                            // SALC: undocumented, not modelled
        set(MAP_1, 0xD7, 0);                                          // XLAT
        set(MAP_1, 0xD8, 0xDF, MODRM);                                // x87 escapes
        set(MAP_1, 0xE0, 0xE3, IMM_B | D64);                          // LOOPcc, JrCXZ
        set(MAP_1, 0xE4, 0xE7, IMM_B);                                // IN/OUT imm8
        set(MAP_1, 0xE8, IMM_Z | D64); set(MAP_1, 0xE9, IMM_Z | D64); // CALL, JMP rel
        set(MAP_1, 0xEA, IMM_FARPTR | I64);                           // JMP far
        set(MAP_1, 0xEB, IMM_B | D64);                                // JMP rel8
        set(MAP_1, 0xEC, 0xEF, 0);                                    // IN/OUT DX
        set(MAP_1, 0xF0, PREFIX); set(MAP_1, 0xF1, 0);                // LOCK, INT1
        set(MAP_1, 0xF2, 0xF3, PREFIX);                               // REPNE, REP
        set(MAP_1, 0xF4, 0xF5, 0);                                    // HLT, CMC
        set(MAP_1, 0xF6, MODRM | IMM_GRP3_B); set(MAP_1, 0xF7, MODRM | IMM_GRP3_Z);
        set(MAP_1, 0xF8, 0xFD, 0);                                    // CLC..STD
        set(MAP_1, 0xFE, MODRM); set(MAP_1, 0xFF, MODRM);             // groups 4 and 5
        assert m.length == 256;

        // ---- two-byte map 0F ----
        set(MAP_0F, 0x00, 0xFF, MODRM);                                // most 0F opcodes take ModRM
        set(MAP_0F, 0x04, UNDEFINED); set(MAP_0F, 0x0A, UNDEFINED); set(MAP_0F, 0x0C, UNDEFINED);
        set(MAP_0F, 0x05, 0); set(MAP_0F, 0x06, 0); set(MAP_0F, 0x07, 0); // SYSCALL, CLTS, SYSRET
        set(MAP_0F, 0x08, 0); set(MAP_0F, 0x09, 0); set(MAP_0F, 0x0B, 0); // INVD, WBINVD, UD2
        set(MAP_0F, 0x0E, UNDEFINED);                                  // FEMMS (3DNow!)
        set(MAP_0F, 0x0F, UNDEFINED);                                  // 3DNow!
        set(MAP_0F, 0x20, 0x23, MODRM | MODRM_REGONLY);                // MOV CRn/DRn
        set(MAP_0F, 0x24, 0x27, UNDEFINED);                            // MOV TRn (386 only)
        set(MAP_0F, 0x30, 0x35, 0);                                    // WRMSR, RDTSC, RDMSR, RDPMC, SYSENTER, SYSEXIT
        set(MAP_0F, 0x36, UNDEFINED); set(MAP_0F, 0x37, UNDEFINED);    // -, GETSEC (SMX not modelled)
        set(MAP_0F, 0x38, ESCAPE); set(MAP_0F, 0x3A, ESCAPE);
        set(MAP_0F, 0x39, UNDEFINED); set(MAP_0F, 0x3B, 0x3F, UNDEFINED);
        set(MAP_0F, 0x70, 0x73, MODRM | IMM_B);                        // PSHUF*, shift groups 12-14
        set(MAP_0F, 0x77, 0);                                          // EMMS
        set(MAP_0F, 0x78, 0x79, UNDEFINED);                            // VMREAD/VMWRITE, EXTRQ: not modelled
        set(MAP_0F, 0x7A, 0x7B, UNDEFINED);
        set(MAP_0F, 0x80, 0x8F, IMM_Z | D64);                          // Jcc Jz
        set(MAP_0F, 0xA0, D64); set(MAP_0F, 0xA1, D64);                // PUSH/POP FS
        set(MAP_0F, 0xA2, 0);                                          // CPUID
        set(MAP_0F, 0xA4, MODRM | IMM_B);                              // SHLD Ib
        set(MAP_0F, 0xA6, 0xA7, UNDEFINED);
        set(MAP_0F, 0xA8, D64); set(MAP_0F, 0xA9, D64);                // PUSH/POP GS
        set(MAP_0F, 0xAA, 0);                                          // RSM
        set(MAP_0F, 0xAC, MODRM | IMM_B);                              // SHRD Ib
        set(MAP_0F, 0xBA, MODRM | IMM_B);                              // group 8 (BT* Ib)
        set(MAP_0F, 0xC2, MODRM | IMM_B);                              // CMPPS..
        set(MAP_0F, 0xC4, 0xC6, MODRM | IMM_B);                        // PINSRW, PEXTRW, SHUFPS
        set(MAP_0F, 0xC8, 0xCF, REG_IN_OPCODE);                        // BSWAP

        // ---- three-byte maps ----
        set(MAP_0F38, 0x00, 0xFF, MODRM);
        set(MAP_0F3A, 0x00, 0xFF, MODRM | IMM_B);
    }
}
