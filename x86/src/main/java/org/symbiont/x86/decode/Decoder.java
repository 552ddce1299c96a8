package org.symbiont.x86.decode;

import static org.symbiont.x86.Arch.DS;
import static org.symbiont.x86.Arch.RBP;
import static org.symbiont.x86.Arch.RSP;
import static org.symbiont.x86.Arch.SS;
import static org.symbiont.x86.decode.OpcodeShape.*;

/**
 * Decodes one instruction: legacy prefixes, REX, the one-byte, 0F, 0F38 and 0F3A maps,
 * ModRM/SIB/displacement (16-, 32- and 64-bit addressing, RIP-relative), and immediates.
 * Lengths come from {@link OpcodeShape}; meaning from an {@link OpcodeTable}. Every byte sequence
 * yields an instruction: one that no family registered decodes to {@link #OP_UD}, one longer than
 * 15 bytes to {@link #OP_TOO_LONG}. Decoding never throws, except the fetch fault the
 * {@link ByteSource} raises for bytes it cannot read.
 */
public final class Decoder {
    private Decoder() {}

    /** Code-segment modes (CS.D, CS.L and CR0.PE/EFER.LMA decide). */
    public static final int CODE16 = 0, CODE32 = 1, CODE64 = 2;

    /** Operation numbers of family 0, owned by the decoder. */
    public static final int OP_UD = 0x0001, OP_TOO_LONG = 0x0002;

    /** The bytes of guest code, addressed by RIP. */
    @FunctionalInterface
    public interface ByteSource {
        /** The byte at this offset in CS, 0..255; may throw the CPU's fetch fault. */
        int byteAt(long rip);
    }

    private static final int MAX_LENGTH = 15;

    /**
     * Decodes the instruction at {@code rip} into {@code out}.
     *
     * @return the instruction's length in bytes
     */
    public static int decode(OpcodeTable table, int mode, ByteSource src, long rip, Insn out) {
        out.rip = rip;
        out.prefixes = 0;
        out.modrm = -1;
        out.base = -1;
        out.index = -1;
        out.scale = 0;
        out.disp = 0;
        out.imm = 0;
        out.imm2 = 0;
        out.reg = 0;
        out.rm = 0;
        out.indexInBlock = 0;

        final boolean mode64 = mode == CODE64;
        int len = 0;
        int prefixes = 0;
        int segOverride = -1;
        int lastRep = 0;      // PFX_F3 or PFX_F2, whichever came last
        int rex = 0;
        int b;
        // Prefixes. A REX byte counts only when it immediately precedes the opcode.
        while (true) {
            if (len >= MAX_LENGTH) return tooLong(out, rip, len);
            b = src.byteAt(rip + len) & 0xFF;
            len++;
            if (mode64 && (b & 0xF0) == 0x40) {
                rex = b;
                continue;
            }
            int shape = OpcodeShape.shape(MAP_1, b);
            if ((shape & PREFIX) == 0) break;
            rex = 0;
            switch (b) {
                case 0x26 -> segOverride = 0;
                case 0x2E -> segOverride = 1;
                case 0x36 -> segOverride = 2;
                case 0x3E -> segOverride = 3;
                case 0x64 -> segOverride = 4;
                case 0x65 -> segOverride = 5;
                case 0x66 -> prefixes |= Insn.P_OPSIZE;
                case 0x67 -> prefixes |= Insn.P_ADDRSIZE;
                case 0xF0 -> prefixes |= Insn.P_LOCK;
                case 0xF2 -> { prefixes |= Insn.P_REPNE; lastRep = OpcodeTable.PFX_F2; }
                case 0xF3 -> { prefixes |= Insn.P_REP; lastRep = OpcodeTable.PFX_F3; }
                default -> throw new AssertionError(b);
            }
        }
        if (rex != 0) {
            prefixes |= Insn.P_REX;
            if ((rex & 8) != 0) prefixes |= Insn.P_REXW;
        }

        // Opcode and map.
        int map = MAP_1;
        int opcode = b;
        if (b == 0x0F) {
            if (len >= MAX_LENGTH) return tooLong(out, rip, len);
            opcode = src.byteAt(rip + len++) & 0xFF;
            map = MAP_0F;
            if (opcode == 0x38 || opcode == 0x3A) {
                if (len >= MAX_LENGTH) return tooLong(out, rip, len);
                map = opcode == 0x38 ? MAP_0F38 : MAP_0F3A;
                opcode = src.byteAt(rip + len++) & 0xFF;
            }
        }
        out.opcode = map << 8 | opcode;
        int shape = OpcodeShape.shape(map, opcode);
        if ((shape & UNDEFINED) != 0 || (mode64 && (shape & I64) != 0)) return invalid(out, rip, len);
        if (map == MAP_1 && (opcode == 0xC4 || opcode == 0xC5 || opcode == 0x62) && !mode64) {
            // LES/LDS/BOUND outside 64-bit mode; with a register ModRM these bytes are VEX/EVEX.
            if (len >= MAX_LENGTH) return tooLong(out, rip, len);
            if ((src.byteAt(rip + len) & 0xC0) == 0xC0) return invalid(out, rip, len);
        }

        // Mandatory-prefix class and operand size.
        int pmode = table.prefixMode(map, opcode);
        int pfx = OpcodeTable.PFX_NONE;
        boolean opsizePrefix = (prefixes & Insn.P_OPSIZE) != 0;
        if (pmode == OpcodeTable.PMODE_MANDATORY) {
            if (lastRep != 0) pfx = lastRep;
            else if (opsizePrefix) { pfx = OpcodeTable.PFX_66; opsizePrefix = false; }
        } else if (pmode == OpcodeTable.PMODE_F3) {
            // The last of F2/F3 counts (checked on the host: F3 F2 0F BC is BSF, F2 F3 0F BC is
            // TZCNT, F3 F2 0F B8 is #UD).
            if (lastRep == OpcodeTable.PFX_F3) pfx = OpcodeTable.PFX_F3;
        } else if (pmode == OpcodeTable.PMODE_REP) {
            if (lastRep != 0) pfx = lastRep;
        }

        // ModRM, SIB, displacement.
        int reg = 0, rm = 0, mod = 3;
        boolean ripRelative = false;
        int addrSize = mode64 ? ((prefixes & Insn.P_ADDRSIZE) != 0 ? 4 : 8)
                : (mode == CODE32) != ((prefixes & Insn.P_ADDRSIZE) != 0) ? 4 : 2;
        int defaultSeg = DS;
        if ((shape & MODRM) != 0) {
            if (len >= MAX_LENGTH) return tooLong(out, rip, len);
            int modrm = src.byteAt(rip + len++) & 0xFF;
            out.modrm = modrm;
            mod = modrm >>> 6;
            reg = (modrm >>> 3 & 7) | ((rex & 4) << 1);
            rm = modrm & 7;
            if ((shape & MODRM_REGONLY) != 0) mod = 3;
            if (mod == 3) {
                rm |= (rex & 1) << 3;
            } else if (addrSize == 2) {
                switch (rm) {
                    case 0 -> { out.base = 3; out.index = 6; }          // BX+SI
                    case 1 -> { out.base = 3; out.index = 7; }          // BX+DI
                    case 2 -> { out.base = 5; out.index = 6; defaultSeg = SS; } // BP+SI
                    case 3 -> { out.base = 5; out.index = 7; defaultSeg = SS; } // BP+DI
                    case 4 -> out.base = 6;                              // SI
                    case 5 -> out.base = 7;                              // DI
                    case 6 -> { if (mod != 0) { out.base = 5; defaultSeg = SS; } } // BP, or disp16
                    default -> out.base = 3;                             // BX
                }
                int dispBytes = mod == 1 ? 1 : (mod == 2 || (mod == 0 && rm == 6)) ? 2 : 0;
                if (len + dispBytes > MAX_LENGTH) return tooLong(out, rip, MAX_LENGTH + 1);
                out.disp = readSigned(src, rip + len, dispBytes);
                len += dispBytes;
            } else {
                int base;
                if (rm == 4) {
                    if (len >= MAX_LENGTH) return tooLong(out, rip, len);
                    int sib = src.byteAt(rip + len++) & 0xFF;
                    int index = (sib >>> 3 & 7) | ((rex & 2) << 2);
                    out.scale = sib >>> 6;
                    out.index = index == 4 ? -1 : index;
                    base = sib & 7;
                    if (base == 5 && mod == 0) {
                        out.base = -1;
                    } else {
                        out.base = base | ((rex & 1) << 3);
                    }
                } else if (rm == 5 && mod == 0) {
                    out.base = -1;
                    ripRelative = mode64;
                } else {
                    out.base = rm | ((rex & 1) << 3);
                }
                if (out.base == RSP || out.base == RBP) defaultSeg = SS;
                int dispBytes = mod == 1 ? 1 : mod == 2 || out.base == -1 ? 4 : 0;
                if (len + dispBytes > MAX_LENGTH) return tooLong(out, rip, MAX_LENGTH + 1);
                out.disp = readSigned(src, rip + len, dispBytes);
                len += dispBytes;
            }
        } else if ((shape & REG_IN_OPCODE) != 0) {
            reg = (opcode & 7) | ((rex & 1) << 3);
        }

        int op = table.lookup(map, opcode, pfx, (shape & MODRM) != 0 ? reg & 7 : 0, mod == 3, rm & 7);
        if (op == 0) return invalid(out, rip, len);
        int flags = table.flags(op);

        int opSize;
        if ((flags & OpcodeTable.F_BYTE) != 0) {
            opSize = 1;
        } else if (mode64) {
            if ((flags & OpcodeTable.F_FORCE64) != 0 || (prefixes & Insn.P_REXW) != 0) opSize = 8;
            else if (opsizePrefix) opSize = 2;
            else opSize = (shape & D64) != 0 ? 8 : 4;
        } else {
            opSize = (mode == CODE32) != opsizePrefix ? 4 : 2;
        }

        // Immediates.
        int immKind = shape & IMM_MASK;
        if (immKind == IMM_GRP3_B) immKind = (reg & 7) < 2 ? IMM_B : IMM_NONE;
        else if (immKind == IMM_GRP3_Z) immKind = (reg & 7) < 2 ? IMM_Z : IMM_NONE;
        int immBytes = switch (immKind) {
            case IMM_NONE -> 0;
            case IMM_B -> 1;
            case IMM_W -> 2;
            case IMM_Z -> opSize == 2 ? 2 : 4;
            case IMM_V -> opSize;
            case IMM_MOFFS -> addrSize;
            case IMM_W_B -> 3;
            case IMM_FARPTR -> opSize == 2 ? 4 : 6;
            default -> throw new AssertionError(immKind);
        };
        if (len + immBytes > MAX_LENGTH) return tooLong(out, rip, MAX_LENGTH + 1);
        switch (immKind) {
            case IMM_B, IMM_Z -> out.imm = readSigned(src, rip + len, immBytes);
            case IMM_V -> out.imm = immBytes == 8 ? readUnsigned(src, rip + len, 8) : readSigned(src, rip + len, immBytes);
            case IMM_W, IMM_MOFFS -> out.imm = readUnsigned(src, rip + len, immBytes);
            case IMM_W_B -> {
                out.imm = readUnsigned(src, rip + len, 2);
                out.imm2 = readUnsigned(src, rip + len + 2, 1);
            }
            case IMM_FARPTR -> {
                out.imm = readUnsigned(src, rip + len, immBytes - 2);
                out.imm2 = readUnsigned(src, rip + len + immBytes - 2, 2);
            }
            default -> { }
        }
        len += immBytes;

        // LOCK is only legal on read-modify-write instructions with a memory destination (SDM Vol. 2A, LOCK).
        if ((prefixes & Insn.P_LOCK) != 0 && ((flags & OpcodeTable.F_LOCKABLE) == 0 || mod == 3)) {
            return invalid(out, rip, len);
        }
        if ((flags & OpcodeTable.F_NO_PREFIX) != 0 && (prefixes & (Insn.P_OPSIZE | Insn.P_REP | Insn.P_REPNE)) != 0) {
            return invalid(out, rip, len);
        }

        boolean byteRegs = (flags & OpcodeTable.F_BYTE) != 0 && rex == 0;
        boolean byteRm = (flags & (OpcodeTable.F_BYTE | OpcodeTable.F_BYTE_RM)) != 0 && rex == 0;
        out.op = op;
        out.opSize = opSize;
        out.addrSize = addrSize;
        out.eaMask = addrSize == 8 ? -1L : addrSize == 4 ? 0xFFFF_FFFFL : 0xFFFFL;
        out.prefixes = prefixes;
        out.length = len;
        out.nextRip = rip + len;
        out.reg = byteRegs && reg >= 4 && reg < 8 ? reg + 12 : reg;
        if (immKind == IMM_MOFFS) {
            out.rm = -1;
            out.base = -1;
            out.disp = out.imm;
            out.reg = 0;
        } else if ((flags & OpcodeTable.F_ACC) != 0) {
            out.rm = 0;
        } else if ((shape & MODRM) != 0 && mod == 3) {
            out.rm = byteRm && rm >= 4 && rm < 8 ? rm + 12 : rm;
        } else if ((shape & MODRM) != 0) {
            out.rm = -1;
        } else {
            out.rm = out.reg;
        }
        out.seg = segOverride >= 0 && (!mode64 || segOverride >= 4) ? segOverride : defaultSeg;
        if (segOverride >= 0) out.prefixes |= Insn.P_SEG;
        if (ripRelative) {
            out.disp = (out.nextRip + out.disp) & out.eaMask;
        }
        if ((flags & OpcodeTable.F_REL_BRANCH) != 0) {
            long target = out.nextRip + out.imm;
            out.imm = opSize == 2 ? target & 0xFFFF : opSize == 4 ? target & 0xFFFF_FFFFL : target;
        }
        return len;
    }

    private static long readSigned(ByteSource src, long at, int n) {
        return switch (n) {
            case 0 -> 0;
            case 1 -> (byte) src.byteAt(at);
            case 2 -> (short) readUnsigned(src, at, 2);
            case 4 -> (int) readUnsigned(src, at, 4);
            default -> readUnsigned(src, at, n);
        };
    }

    /**
     * Little-endian bytes fetched in address order, so that a fetch fault in the next page reports
     * that page's first byte in CR2, as the in-order fetch of hardware does.
     */
    private static long readUnsigned(ByteSource src, long at, int n) {
        long v = 0;
        for (int i = 0; i < n; i++) v |= (long) (src.byteAt(at + i) & 0xFF) << (8 * i);
        return v;
    }

    private static int invalid(Insn out, long rip, int len) {
        return fail(out, rip, len, OP_UD);
    }

    private static int tooLong(Insn out, long rip, int len) {
        return fail(out, rip, Math.min(len, MAX_LENGTH), OP_TOO_LONG);
    }

    private static int fail(Insn out, long rip, int len, int op) {
        out.op = op;
        out.length = len;
        out.nextRip = rip + len;
        out.opSize = 4;
        out.addrSize = 4;
        out.eaMask = 0xFFFF_FFFFL;
        out.rm = 0;
        out.reg = 0;
        return len;
    }
}
