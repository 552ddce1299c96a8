package org.symbiont.x86.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.Decoder.CODE16;
import static org.symbiont.x86.decode.Decoder.CODE32;
import static org.symbiont.x86.decode.Decoder.CODE64;
import static org.symbiont.x86.decode.OpcodeShape.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.exec.Families;

/**
 * Hand-picked encodings with their lengths and decoded fields: addressing forms (RIP-relative,
 * SIB without base or index, 16-bit forms, moffs), prefix rules (REX placement, 66 with REX.W,
 * mandatory prefixes, segment overrides in 64-bit mode, LOCK), group 3 and other immediates,
 * byte registers, and the 15-byte limit. Instructions of the first families come from
 * {@link Families#TABLE}; prefix selection and opcodes owned by other families are checked
 * with a private table, so the test does not depend on what they register.
 */
class DecoderTest {
    // Operations of the private table.
    private static final int MOV_CR = 0x101, ENTER = 0x102, CALL_FAR = 0x103, JMP_FAR = 0x104;
    private static final int GRP3_B = 0x105, GRP3_V = 0x106, LES = 0x107, BOUND = 0x108;
    private static final int SSE_NONE = 0x109, SSE_66 = 0x10A, SSE_F3 = 0x10B, SSE_F2 = 0x10C, SSE_ONLY_NONE = 0x10D;
    private static final int POPCNT = 0x10E, BSF = 0x10F, TZCNT = 0x110, PSHUFB = 0x111, PALIGNR = 0x112;
    private static final int VMCALL = 0x113, SGDT = 0x114, PUSH_ES = 0x115, MOVBE = 0x116, CRC32_B = 0x117;

    private static final OpcodeTable TABLE = privateTable();

    private static OpcodeTable privateTable() {
        OpcodeTable t = new OpcodeTable();
        t.define(MOV_CR, "mov cr", OpcodeTable.F_FORCE64);
        t.at(MAP_0F, 0x20).is(MOV_CR);
        t.at(MAP_0F, 0x22).is(MOV_CR);
        t.define(ENTER, "enter", 0);
        t.at(MAP_1, 0xC8).is(ENTER);
        t.define(CALL_FAR, "call far", 0);
        t.at(MAP_1, 0x9A).is(CALL_FAR);
        t.define(JMP_FAR, "jmp far", 0);
        t.at(MAP_1, 0xEA).is(JMP_FAR);
        t.define(GRP3_B, "group 3 Eb", OpcodeTable.F_BYTE);
        t.at(MAP_1, 0xF6).is(GRP3_B);
        t.define(GRP3_V, "group 3 Ev", 0);
        t.at(MAP_1, 0xF7).is(GRP3_V);
        t.define(LES, "les", 0);
        t.at(MAP_1, 0xC4).mem().is(LES);
        t.define(BOUND, "bound", 0);
        t.at(MAP_1, 0x62).mem().is(BOUND);
        t.define(SSE_NONE, "sse none", 0);
        t.define(SSE_66, "sse 66", 0);
        t.define(SSE_F3, "sse f3", 0);
        t.define(SSE_F2, "sse f2", 0);
        t.at(MAP_0F, 0x10).mandatory(OpcodeTable.PFX_NONE).is(SSE_NONE);
        t.at(MAP_0F, 0x10).mandatory(OpcodeTable.PFX_66).is(SSE_66);
        t.at(MAP_0F, 0x10).mandatory(OpcodeTable.PFX_F3).is(SSE_F3);
        t.at(MAP_0F, 0x10).mandatory(OpcodeTable.PFX_F2).is(SSE_F2);
        t.define(SSE_ONLY_NONE, "sse only none", 0);
        t.at(MAP_0F, 0x11).mandatory(OpcodeTable.PFX_NONE).is(SSE_ONLY_NONE);
        t.define(POPCNT, "popcnt", 0);
        t.at(MAP_0F, 0xB8).f3Select(true).is(POPCNT);
        t.define(BSF, "bsf", 0);
        t.define(TZCNT, "tzcnt", 0);
        t.at(MAP_0F, 0xBC).f3Select(false).is(BSF);
        t.at(MAP_0F, 0xBC).f3Select(true).is(TZCNT);
        t.define(PSHUFB, "pshufb", 0);
        t.at(MAP_0F38, 0x00).mandatory(OpcodeTable.PFX_66).is(PSHUFB);
        t.define(PALIGNR, "palignr", 0);
        t.at(MAP_0F3A, 0x0F).mandatory(OpcodeTable.PFX_66).is(PALIGNR);
        t.define(VMCALL, "vmcall", 0);
        t.at(MAP_0F, 0x01).reg(0).rm(1).is(VMCALL);
        t.define(SGDT, "sgdt", 0);
        t.at(MAP_0F, 0x01).reg(0).mem().is(SGDT);
        t.define(MOVBE, "movbe", 0);
        t.at(MAP_0F38, 0xF0).repSelect(OpcodeTable.PFX_NONE).is(MOVBE);
        t.define(CRC32_B, "crc32 Gd,Eb", OpcodeTable.F_BYTE_RM);
        t.at(MAP_0F38, 0xF0).repSelect(OpcodeTable.PFX_F2).is(CRC32_B);
        t.define(PUSH_ES, "push es", 0);
        t.at(MAP_1, 0x06).is(PUSH_ES);
        return t;
    }

    /** Decodes exactly {@code bytes}: reading beyond them fails the test. */
    private static Insn decode(OpcodeTable table, int mode, long rip, int... bytes) {
        Insn insn = new Insn();
        int len = Decoder.decode(table, mode, at -> {
            long off = at - rip;
            if (off < 0 || off >= bytes.length) throw new AssertionError("read beyond the encoding, at offset " + off);
            return bytes[(int) off];
        }, rip, insn);
        assertEquals(insn.length, len);
        assertEquals(rip + len, insn.nextRip);
        return insn;
    }

    private static Insn decode(int mode, int... bytes) {
        return decode(Families.TABLE, mode, 0x1000, bytes);
    }

    private static String name(Insn i) {
        return Families.TABLE.name(i.op);
    }

    private static void assertMemory(Insn i, int base, int index, int scale, long disp, int seg) {
        assertEquals(-1, i.rm, "memory operand");
        assertEquals(base, i.base, "base");
        assertEquals(index, i.index, "index");
        assertEquals(scale, i.scale, "scale");
        assertEquals(disp, i.disp, "displacement");
        assertEquals(seg, i.seg, "segment");
    }

    // ---- addressing ----

    @Test
    void ripRelativeIsResolvedAfterTheImmediate() {
        // mov eax, [rip + 0x10]
        Insn i = decode(Families.TABLE, CODE64, 0x1000, 0x8B, 0x05, 0x10, 0, 0, 0);
        assertEquals(6, i.length);
        assertMemory(i, -1, -1, 0, 0x1016, DS);
        // mov qword [rip - 0x20], 0x12345678: relative to the end of the immediate
        i = decode(Families.TABLE, CODE64, 0x1000, 0x48, 0xC7, 0x05, 0xE0, 0xFF, 0xFF, 0xFF, 0x78, 0x56, 0x34, 0x12);
        assertEquals(11, i.length);
        assertEquals(8, i.opSize);
        assertMemory(i, -1, -1, 0, 0x1000 + 11 - 0x20, DS);
        assertEquals(0x12345678, i.imm);
    }

    @Test
    void ripRelativeWithAddressSizePrefixUsesEip() {
        // 67 mov eax, [eip + 0x100] at an address above 4 GiB: the sum is truncated to 32 bits (SDM Vol. 2A, 2.2.1.6)
        Insn i = decode(Families.TABLE, CODE64, 0x1_2345_0000L, 0x67, 0x8B, 0x05, 0x00, 0x01, 0, 0);
        assertEquals(7, i.length);
        assertEquals(4, i.addrSize);
        assertEquals(0xFFFF_FFFFL, i.eaMask);
        assertMemory(i, -1, -1, 0, 0x2345_0107L, DS);
    }

    @Test
    void disp32WithoutBaseIsAbsoluteOutside64BitMode() {
        Insn i = decode(CODE32, 0x8B, 0x05, 0x78, 0x56, 0x34, 0x12);
        assertMemory(i, -1, -1, 0, 0x12345678, DS);
    }

    @Test
    void sibWithoutBaseTakesDisp32() {
        // mov eax, [0x12345678] through SIB (mod 00, base 101, index 100): absolute, not RIP-relative
        Insn i = decode(CODE64, 0x8B, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12);
        assertEquals(7, i.length);
        assertMemory(i, -1, -1, 0, 0x12345678, DS);
        // REX.B does not give the no-base form a base (SDM Vol. 2A, Table 2-5)
        i = decode(CODE64, 0x41, 0x8B, 0x04, 0x25, 0xF8, 0xFF, 0xFF, 0xFF);
        assertEquals(8, i.length);
        assertMemory(i, -1, -1, 0, -8, DS);
        // [rcx*4 + disp32]
        i = decode(CODE64, 0x8B, 0x04, 0x8D, 0x00, 0x10, 0, 0);
        assertMemory(i, -1, RCX, 2, 0x1000, DS);
        // mod 01 with base 101 is [rbp + disp8], in SS
        i = decode(CODE64, 0x8B, 0x44, 0x25, 0x08);
        assertEquals(4, i.length);
        assertMemory(i, RBP, -1, 0, 8, SS);
    }

    @Test
    void baseRegistersChooseTheDefaultSegment() {
        assertMemory(decode(CODE64, 0x8B, 0x44, 0x24, 0x08), RSP, -1, 0, 8, SS);     // [rsp+8]
        assertMemory(decode(CODE64, 0x41, 0x8B, 0x44, 0x24, 0x08), R12, -1, 0, 8, DS); // [r12+8]
        assertMemory(decode(CODE64, 0x41, 0x8B, 0x45, 0x08), R13, -1, 0, 8, DS);     // [r13+8]
        assertMemory(decode(CODE64, 0x8B, 0x45, 0x08), RBP, -1, 0, 8, SS);           // [rbp+8]
        // mod 00 rm 101 with REX.B is RIP-relative too
        Insn i = decode(Families.TABLE, CODE64, 0x1000, 0x41, 0x8B, 0x05, 0, 0, 0, 0);
        assertMemory(i, -1, -1, 0, 0x1007, DS);
    }

    @Test
    void sibIndex100IsNoIndexUnlessRexX() {
        assertMemory(decode(CODE64, 0x8B, 0x04, 0x20), RAX, -1, 0, 0, DS);           // [rax], index none
        assertMemory(decode(CODE64, 0x8B, 0x04, 0xE0), RAX, -1, 3, 0, DS);           // scale without index: ignored
        assertMemory(decode(CODE64, 0x42, 0x8B, 0x04, 0x20), RAX, R12, 0, 0, DS);    // REX.X: [rax + r12]
        assertMemory(decode(CODE64, 0x43, 0x8B, 0x04, 0x64), R12, R12, 1, 0, DS);    // [r12 + r12*2]
        assertMemory(decode(CODE32, 0x8B, 0x04, 0x24), RSP, -1, 0, 0, SS);           // [esp]
    }

    @Test
    void sixteenBitAddressingForms() {
        assertMemory(decode(CODE16, 0x8B, 0x46, 0x02), RBP, -1, 0, 2, SS);           // [bp+2]
        assertMemory(decode(CODE16, 0x8B, 0x00), RBX, RSI, 0, 0, DS);                // [bx+si]
        assertMemory(decode(CODE16, 0x8B, 0x01), RBX, RDI, 0, 0, DS);                // [bx+di]
        assertMemory(decode(CODE16, 0x8B, 0x02), RBP, RSI, 0, 0, SS);                // [bp+si]
        assertMemory(decode(CODE16, 0x8B, 0x03), RBP, RDI, 0, 0, SS);                // [bp+di]
        assertMemory(decode(CODE16, 0x8B, 0x04), RSI, -1, 0, 0, DS);                 // [si]
        assertMemory(decode(CODE16, 0x8B, 0x05), RDI, -1, 0, 0, DS);                 // [di]
        assertMemory(decode(CODE16, 0x8B, 0x07), RBX, -1, 0, 0, DS);                 // [bx]
        Insn i = decode(CODE16, 0x8B, 0x06, 0x34, 0x12);                            // [0x1234]
        assertEquals(4, i.length);
        assertMemory(i, -1, -1, 0, 0x1234, DS);
        i = decode(CODE16, 0x8B, 0x86, 0x00, 0x80);                                 // [bp-0x8000]: disp16 sign-extended
        assertMemory(i, RBP, -1, 0, -0x8000, SS);
        assertEquals(0xFFFF, i.eaMask);
        assertEquals(2, i.opSize);
        // 67 in 32-bit code selects 16-bit addressing, and in 16-bit code 32-bit addressing with SIB
        i = decode(CODE32, 0x67, 0x8B, 0x46, 0x02);
        assertEquals(2, i.addrSize);
        assertMemory(i, RBP, -1, 0, 2, SS);
        i = decode(CODE16, 0x67, 0x8B, 0x44, 0x24, 0x04);
        assertEquals(5, i.length);
        assertEquals(4, i.addrSize);
        assertMemory(i, RSP, -1, 0, 4, SS);
    }

    @Test
    void moffsTakesTheAddressSize() {
        Insn i = decode(CODE64, 0xA1, 1, 2, 3, 4, 5, 6, 7, 0x88);                   // mov eax, [moffs64]
        assertEquals(9, i.length);
        assertEquals(4, i.opSize);
        assertEquals(RAX, i.reg);
        assertMemory(i, -1, -1, 0, 0x8807060504030201L, DS);
        i = decode(CODE64, 0x67, 0xA1, 1, 2, 3, 0x84);                              // mov eax, [moffs32]
        assertEquals(6, i.length);
        assertEquals(4, i.addrSize);
        assertMemory(i, -1, -1, 0, 0x84030201L, DS);                                // zero-extended
        i = decode(CODE64, 0x48, 0xA3, 1, 2, 3, 4, 5, 6, 7, 8);                     // mov [moffs64], rax
        assertEquals(10, i.length);
        assertEquals(8, i.opSize);
        i = decode(CODE64, 0x64, 0xA0, 1, 2, 3, 4, 5, 6, 7, 8);                     // mov al, fs:[moffs64]
        assertEquals(1, i.opSize);
        assertEquals(FS, i.seg);
        assertEquals(5, decode(CODE32, 0xA1, 1, 2, 3, 4).length);
        assertEquals(4, decode(CODE32, 0x67, 0xA1, 1, 2).length);
        assertEquals(3, decode(CODE16, 0xA0, 1, 2).length);
        assertEquals(6, decode(CODE16, 0x67, 0xA0, 1, 2, 3, 4).length);
    }

    // ---- prefixes ----

    @Test
    void rexFollowedByALegacyPrefixIsIgnored() {
        // REX.W then 66: the REX is not last, so it is ignored and 66 gives 16 bits (SDM Vol. 2A, 2.2.1)
        Insn i = decode(CODE64, 0x48, 0x66, 0x8B, 0xC0);
        assertEquals(4, i.length);
        assertEquals(2, i.opSize);
        assertFalse(i.hasPrefix(Insn.P_REX));
        // REX.WR then ES: neither W nor R applies
        i = decode(CODE64, 0x4C, 0x26, 0x8B, 0xC0);
        assertEquals(4, i.opSize);
        assertEquals(RAX, i.reg);
        // of two REX bytes only the last counts (checked on the host: 48 41 B8 id loads R8D)
        i = decode(CODE64, 0x48, 0x41, 0xB8, 1, 2, 3, 4);
        assertEquals(7, i.length);
        assertEquals(4, i.opSize);
        assertEquals(R8, i.reg);
    }

    @Test
    void rexWWinsOverOperandSizePrefix() {
        Insn i = decode(CODE64, 0x66, 0x48, 0x8B, 0xC0);
        assertEquals(8, i.opSize);
        i = decode(CODE64, 0x66, 0x48, 0xC7, 0xC0, 1, 2, 3, 4);                     // Iz stays 4 bytes with REX.W
        assertEquals(8, i.length);
        i = decode(CODE64, 0x66, 0xC7, 0xC0, 1, 2);                                 // and 2 bytes with 66 alone
        assertEquals(5, i.length);
        assertEquals(2, i.opSize);
    }

    @Test
    void mandatoryPrefixSelectsTheInstruction() {
        assertEquals(SSE_NONE, decode(TABLE, CODE64, 0, 0x0F, 0x10, 0xC1).op);
        Insn i = decode(TABLE, CODE64, 0, 0x66, 0x0F, 0x10, 0xC1);
        assertEquals(SSE_66, i.op);
        assertEquals(4, i.opSize, "a mandatory 66 is not an operand-size override");
        assertEquals(SSE_F3, decode(TABLE, CODE64, 0, 0xF3, 0x0F, 0x10, 0xC1).op);
        assertEquals(SSE_F2, decode(TABLE, CODE64, 0, 0xF2, 0x0F, 0x10, 0xC1).op);
        assertEquals(SSE_F3, decode(TABLE, CODE64, 0, 0x66, 0xF3, 0x0F, 0x10, 0xC1).op, "F3 over 66");
        assertEquals(SSE_F3, decode(TABLE, CODE64, 0, 0xF3, 0x66, 0x0F, 0x10, 0xC1).op, "F3 over 66, either order");
        assertEquals(SSE_F2, decode(TABLE, CODE64, 0, 0xF3, 0xF2, 0x0F, 0x10, 0xC1).op, "the last of F2/F3");
        assertEquals(SSE_F3, decode(TABLE, CODE64, 0, 0xF2, 0xF3, 0x0F, 0x10, 0xC1).op, "the last of F2/F3");
        assertEquals(SSE_F2, decode(TABLE, CODE64, 0, 0xF2, 0x48, 0x0F, 0x10, 0xC1).op, "REX between prefix and opcode");
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0xF3, 0x0F, 0x11, 0xC1).op, "unregistered prefix class");
        assertEquals(SSE_ONLY_NONE, decode(TABLE, CODE64, 0, 0x0F, 0x11, 0xC1).op);
        // three-byte maps, with their ModRM and immediate
        i = decode(TABLE, CODE64, 0, 0x66, 0x0F, 0x38, 0x00, 0xC1);
        assertEquals(PSHUFB, i.op);
        assertEquals(5, i.length);
        i = decode(TABLE, CODE64, 0, 0x66, 0x0F, 0x3A, 0x0F, 0x44, 0x24, 0x10, 0x08);
        assertEquals(PALIGNR, i.op);
        assertEquals(8, i.length);
        assertEquals(8, i.imm);
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0x0F, 0x38, 0x00, 0xC1).op);
    }

    @Test
    void f3SelectsASiblingAndKeeps66AsOperandSize() {
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0x0F, 0xB8, 0xC1).op, "0F B8 without F3 (JMPE) is #UD");
        Insn i = decode(TABLE, CODE64, 0, 0xF3, 0x0F, 0xB8, 0xC1);
        assertEquals(POPCNT, i.op);
        assertEquals(4, i.opSize);
        i = decode(TABLE, CODE64, 0, 0x66, 0xF3, 0x0F, 0xB8, 0xC1);
        assertEquals(POPCNT, i.op);
        assertEquals(2, i.opSize);
        assertEquals(BSF, decode(TABLE, CODE64, 0, 0x0F, 0xBC, 0xC1).op);
        assertEquals(TZCNT, decode(TABLE, CODE64, 0, 0xF3, 0x0F, 0xBC, 0xC1).op);
        assertEquals(BSF, decode(TABLE, CODE64, 0, 0xF2, 0x0F, 0xBC, 0xC1).op, "F2 does not select TZCNT");
        // The last of F2/F3 decides, as on the host CPU.
        assertEquals(BSF, decode(TABLE, CODE64, 0, 0xF3, 0xF2, 0x0F, 0xBC, 0xC1).op);
        assertEquals(TZCNT, decode(TABLE, CODE64, 0, 0xF2, 0xF3, 0x0F, 0xBC, 0xC1).op);
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0xF3, 0xF2, 0x0F, 0xB8, 0xC1).op);
        assertEquals(POPCNT, decode(TABLE, CODE64, 0, 0xF2, 0xF3, 0x0F, 0xB8, 0xC1).op);
    }

    @Test
    void vmmcallTakesNoPrefix() {
        Insn i = decode(Families.TABLE, CODE64, 0, 0x0F, 0x01, 0xD9);
        assertEquals("vmmcall", Families.TABLE.name(i.op));
        for (int p : new int[] {0x66, 0xF2, 0xF3}) {
            assertEquals(Decoder.OP_UD, decode(Families.TABLE, CODE64, 0, p, 0x0F, 0x01, 0xD9).op, Integer.toHexString(p));
        }
    }

    @Test
    void repPrefixSelectsWhile66StaysOperandSize() {
        // checked on the host: F3 0F 38 F0 is #UD, 66 0F 38 F1 is MOVBE of a word, 66 F2 0F 38 F1 CRC32 of a word
        Insn i = decode(TABLE, CODE64, 0, 0x0F, 0x38, 0xF0, 0x00);
        assertEquals(MOVBE, i.op);
        assertEquals(4, i.opSize);
        i = decode(TABLE, CODE64, 0, 0x66, 0x0F, 0x38, 0xF0, 0x00);
        assertEquals(MOVBE, i.op);
        assertEquals(2, i.opSize);
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0xF3, 0x0F, 0x38, 0xF0, 0x00).op);
        i = decode(TABLE, CODE64, 0, 0x66, 0xF2, 0x0F, 0x38, 0xF0, 0xC4);
        assertEquals(CRC32_B, i.op);
        assertEquals(2, i.opSize);
        assertEquals(AH, i.rm, "the byte source of CRC32 without REX");
        assertEquals(CRC32_B, decode(TABLE, CODE64, 0, 0xF3, 0xF2, 0x0F, 0x38, 0xF0, 0xC0).op, "the last of F2/F3");
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0xF2, 0xF3, 0x0F, 0x38, 0xF0, 0xC0).op, "the last of F2/F3");
    }

    @Test
    void segmentOverridesIn64BitModeOnlyFsAndGs() {
        assertEquals(DS, decode(CODE64, 0x26, 0x8B, 0x00).seg);                      // ES: ignored
        assertEquals(DS, decode(CODE64, 0x2E, 0x8B, 0x00).seg);                      // CS: ignored
        assertEquals(DS, decode(CODE64, 0x36, 0x8B, 0x00).seg);                      // SS: ignored
        assertEquals(SS, decode(CODE64, 0x3E, 0x8B, 0x45, 0x00).seg);                // DS: ignored, [rbp] stays SS
        assertEquals(FS, decode(CODE64, 0x64, 0x8B, 0x00).seg);
        assertEquals(GS, decode(CODE64, 0x65, 0x8B, 0x45, 0x00).seg);
        assertEquals(ES, decode(CODE32, 0x26, 0x8B, 0x00).seg);
        assertEquals(SS, decode(CODE32, 0x36, 0x8B, 0x00).seg);
        assertEquals(DS, decode(CODE32, 0x3E, 0x8B, 0x45, 0x00).seg);
        assertEquals(CS, decode(CODE16, 0x2E, 0x8B, 0x46, 0x00).seg);
        assertEquals(GS, decode(CODE32, 0x26, 0x65, 0x8B, 0x00).seg, "the last segment override counts");
    }

    @Test
    void lockOnlyOnLockableMemoryDestinations() {
        Insn i = decode(CODE64, 0xF0, 0x01, 0x00);                                   // lock add [rax], eax
        assertEquals("add Ev,Gv", name(i));
        assertTrue(i.hasPrefix(Insn.P_LOCK));
        assertEquals(Decoder.OP_UD, decode(CODE64, 0xF0, 0x01, 0xC0).op);            // lock add eax, eax
        assertEquals(Decoder.OP_UD, decode(CODE64, 0xF0, 0x8B, 0x00).op);            // lock mov eax, [rax]
        assertEquals(Decoder.OP_UD, decode(CODE64, 0xF0, 0x90).op);                  // lock nop
        assertEquals(Decoder.OP_UD, decode(CODE64, 0xF0, 0x3B, 0x00).op);            // lock cmp eax, [rax]
        assertEquals("add Eb,Ib", name(decode(CODE32, 0xF0, 0x80, 0x00, 0x01)));     // lock add byte [eax], 1
    }

    @Test
    void fifteenByteLimit() {
        int[] fourteenPrefixes = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};
        int[] nop = java.util.Arrays.copyOf(fourteenPrefixes, 15);
        nop[14] = 0x90;
        Insn i = decode(CODE64, nop);
        assertEquals(15, i.length);
        assertFalse(i.op == Decoder.OP_TOO_LONG || i.op == Decoder.OP_UD);
        int[] sixteen = java.util.Arrays.copyOf(fourteenPrefixes, 16);
        sixteen[14] = 0x66;
        sixteen[15] = 0x90;
        i = decode(CODE64, java.util.Arrays.copyOf(sixteen, 15));                  // the decoder stops at 15 bytes
        assertEquals(Decoder.OP_TOO_LONG, i.op);
        assertEquals(15, i.length);
        // 3 ignored prefixes + REX.W + C7 /0 + SIB + disp32 + imm32 = 15: fine; one more prefix = 16: #GP
        int[] body = {0x48, 0xC7, 0x84, 0x24, 1, 2, 3, 4, 5, 6, 7, 8};
        i = decode(CODE64, concat(new int[] {0x2E, 0x2E, 0x2E}, body));
        assertEquals("mov Ev,Iz", name(i));
        assertEquals(15, i.length);
        i = decode(CODE64, java.util.Arrays.copyOf(concat(new int[] {0x2E, 0x2E, 0x2E, 0x2E}, body), 12));
        assertEquals(Decoder.OP_TOO_LONG, i.op);
        assertEquals(15, i.length);
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    // ---- operands and immediates ----

    @Test
    void byteRegistersWithAndWithoutRex() {
        Insn i = decode(CODE64, 0x88, 0xE0);                                         // mov al, ah
        assertEquals(AH, i.reg);
        assertEquals(RAX, i.rm);
        i = decode(CODE64, 0x40, 0x88, 0xE0);                                        // mov al, spl
        assertEquals(RSP, i.reg);
        i = decode(CODE64, 0x44, 0x88, 0xE7);                                        // mov dil, r12b
        assertEquals(R12, i.reg);
        assertEquals(RDI, i.rm);
        i = decode(CODE64, 0x41, 0x88, 0xE4);                                        // mov r12b, spl
        assertEquals(RSP, i.reg);
        assertEquals(R12, i.rm);
        assertEquals(BH, decode(CODE64, 0xB7, 0x12).reg);                            // mov bh, 0x12
        assertEquals(RDI, decode(CODE64, 0x40, 0xB7, 0x12).reg);                     // mov dil, 0x12
        assertEquals(R15, decode(CODE64, 0x41, 0xB7, 0x12).reg);                     // mov r15b, 0x12
        assertEquals(CH, decode(CODE32, 0x88, 0xED).rm);                             // mov ch, ch
        assertEquals(BH, decode(CODE64, 0x48, 0x66, 0x88, 0xFF).rm, "an ignored REX leaves AH..BH");
        // the byte source of MOVZX/MOVSX: movzx eax, ah / movzx eax, spl / movsx ecx, bh
        assertEquals(AH, decode(CODE64, 0x0F, 0xB6, 0xC4).rm);
        assertEquals(RSP, decode(CODE64, 0x40, 0x0F, 0xB6, 0xC4).rm);
        assertEquals(BH, decode(CODE32, 0x0F, 0xBE, 0xCF).rm);
        assertEquals(RDI, decode(CODE32, 0x0F, 0xB7, 0xCF).rm, "a word source has no AH..BH");
        // a byte destination with a word-sized neighbour: the reg operand of movzx is never a byte register
        assertEquals(RSP, decode(CODE64, 0x0F, 0xB6, 0xE0).reg);
    }

    @Test
    void group3HasAnImmediateOnlyForTest() {
        Insn i = decode(CODE64, 0xF6, 0xC0, 0x12);                                   // test al, 0x12
        assertEquals("test Eb,Ib", name(i));
        assertEquals(0x12, i.imm);
        assertEquals(2, decode(CODE64, 0xF6, 0xD0).length);                           // not al
        assertEquals(3, decode(CODE64, 0xF6, 0xC8, 0x12).length);                     // test al, 0x12 (/1 alias)
        i = decode(CODE64, 0x48, 0xF7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF);               // test rax, -1
        assertEquals(7, i.length);
        assertEquals(-1, i.imm);
        assertEquals(5, decode(CODE64, 0x66, 0xF7, 0xC0, 0x34, 0x12).length);        // test ax, 0x1234
        assertEquals(2, decode(CODE64, 0xF7, 0xD8).length);                           // neg eax
        assertEquals(7, decode(CODE16, 0x66, 0xF7, 0x00, 1, 2, 3, 4).length);       // test dword [bx+si], imm32
        for (int reg = 4; reg < 8; reg++) {                                           // MUL/IMUL/DIV/IDIV: no immediate
            assertEquals(2, decode(TABLE, CODE64, 0, 0xF6, 0xC0 | reg << 3).length);
            assertEquals(3, decode(TABLE, CODE64, 0, 0xF7, 0x40 | reg << 3, 0x10).length);
        }
    }

    @Test
    void enterTakesAWordAndAByte() {
        Insn i = decode(TABLE, CODE64, 0, 0xC8, 0xFF, 0xFF, 0x02);
        assertEquals(ENTER, i.op);
        assertEquals(4, i.length);
        assertEquals(0xFFFF, i.imm, "zero-extended");
        assertEquals(2, i.imm2);
        assertEquals(8, i.opSize, "ENTER defaults to 64 bits in 64-bit mode (SDM Vol. 2A, 2.2.1.7)");
        assertEquals(2, decode(TABLE, CODE64, 0, 0x66, 0xC8, 0x10, 0x00, 0x01).opSize);
        assertEquals(5, decode(TABLE, CODE16, 0, 0x66, 0xC8, 0x10, 0x00, 0x01).length);
    }

    @Test
    void farPointers() {
        Insn i = decode(TABLE, CODE32, 0, 0x9A, 0x78, 0x56, 0x34, 0x12, 0xCD, 0xAB);
        assertEquals(CALL_FAR, i.op);
        assertEquals(7, i.length);
        assertEquals(0x12345678L, i.imm);
        assertEquals(0xABCD, i.imm2);
        i = decode(TABLE, CODE32, 0, 0x66, 0xEA, 0x34, 0x12, 0xCD, 0xAB);
        assertEquals(JMP_FAR, i.op);
        assertEquals(6, i.length);
        assertEquals(0x1234, i.imm);
        assertEquals(0xABCD, i.imm2);
        assertEquals(5, decode(TABLE, CODE16, 0, 0xEA, 0x00, 0x7C, 0x00, 0xF0).length);
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0x9A).op, "invalid in 64-bit mode");
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0xEA).op, "invalid in 64-bit mode");
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0x06).op, "PUSH ES is invalid in 64-bit mode");
        assertEquals(PUSH_ES, decode(TABLE, CODE32, 0, 0x06).op);
    }

    @Test
    void movControlRegisterIgnoresMod() {
        // mod 00 still names a register, without displacement (SDM Vol. 2B, MOV--Move to/from Control Registers)
        Insn i = decode(TABLE, CODE64, 0, 0x0F, 0x20, 0x00);                          // mov rax, cr0
        assertEquals(MOV_CR, i.op);
        assertEquals(3, i.length);
        assertEquals(RAX, i.rm);
        assertEquals(0, i.reg);
        assertEquals(8, i.opSize);
        i = decode(TABLE, CODE64, 0, 0x66, 0x41, 0x0F, 0x22, 0x9D);                 // mov cr3, r13 (mod 10, no disp32)
        assertEquals(5, i.length);
        assertEquals(R13, i.rm);
        assertEquals(3, i.reg);
        assertEquals(8, i.opSize, "64 bits whatever the prefixes");
        i = decode(TABLE, CODE16, 0, 0x0F, 0x22, 0x06);                             // mod 00 rm 110: no disp16 either
        assertEquals(3, i.length);
        assertEquals(RSI, i.rm);
        assertEquals(8, decode(TABLE, CODE64, 0, 0x44, 0x0F, 0x20, 0xC0).reg, "REX.R selects CR8");
    }

    @Test
    void modrmRmSelectsAmongRegisterForms() {
        assertEquals(VMCALL, decode(TABLE, CODE64, 0, 0x0F, 0x01, 0xC1).op);
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0x0F, 0x01, 0xC2).op);
        assertEquals(SGDT, decode(TABLE, CODE64, 0, 0x0F, 0x01, 0x00).op);
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0x0F, 0x01, 0x08).op, "0F 01 /1 not registered");
    }

    @Test
    void lesAndVexShareC4() {
        Insn i = decode(TABLE, CODE32, 0, 0xC4, 0x05, 0x34, 0x12, 0, 0);              // les eax, [0x1234]
        assertEquals(LES, i.op);
        assertEquals(6, i.length);
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE32, 0, 0xC4, 0xE2, 0x79).op, "VEX: not advertised");
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE64, 0, 0xC4, 0x06).op, "VEX in 64-bit mode");
        assertEquals(BOUND, decode(TABLE, CODE16, 0, 0x62, 0x07).op);
        assertEquals(Decoder.OP_UD, decode(TABLE, CODE32, 0, 0x62, 0xC0).op, "EVEX: not advertised");
    }

    @Test
    void relativeBranchTargets() {
        assertEquals(0x1000, decode(CODE64, 0xEB, 0xFE).imm);                         // jmp $
        Insn i = decode(CODE64, 0xE8, 0x00, 0x01, 0x00, 0x00);
        assertEquals(5, i.length);
        assertEquals(0x1105, i.imm);
        // 66 E8 rel16 in 64-bit mode: 16-bit operand size, as on AMD processors and in GNU objdump
        i = decode(CODE64, 0x66, 0xE8, 0x00, 0x01);
        assertEquals(4, i.length);
        assertEquals(0x1104, i.imm);
        i = decode(CODE64, 0x48, 0x0F, 0x84, 0xFC, 0xFF, 0xFF, 0xFF);                // je with REX.W: rel32
        assertEquals(7, i.length);
        assertEquals(0x1003, i.imm);
        i = decode(Families.TABLE, CODE16, 0xFFF0, 0xEB, 0x20);                     // IP wraps at 64 KiB
        assertEquals(0x12, i.imm);
        i = decode(Families.TABLE, CODE16, 0x100, 0x66, 0xE9, 0x00, 0x00, 0x01, 0x00); // jmp rel32 in 16-bit code
        assertEquals(6, i.length);
        assertEquals(0x10106, i.imm);
    }

    @Test
    void registersInTheOpcodeAndStackDefaults() {
        Insn i = decode(CODE64, 0x41, 0x50);                                         // push r8
        assertEquals(R8, i.reg);
        assertEquals(8, i.opSize);
        assertEquals(2, decode(CODE64, 0x66, 0x50).opSize);                          // push ax
        assertEquals(4, decode(CODE32, 0x50).opSize);
        i = decode(CODE64, 0x49, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8);                      // mov r8, imm64
        assertEquals(10, i.length);
        assertEquals(0x0807060504030201L, i.imm);
        assertEquals(5, decode(CODE64, 0xB8, 1, 2, 3, 4).length);                    // mov eax, imm32
        i = decode(CODE32, 0x40);                                                    // inc eax outside 64-bit mode
        assertEquals("inc r", name(i));
        assertEquals(1, i.length);
        i = decode(CODE64, 0x40, 0xFF, 0xC0);                                        // in 64-bit mode 40 is REX
        assertEquals(3, i.length);
        i = decode(CODE64, 0x41, 0x90);                                              // xchg r8, rax
        assertEquals(R8, i.reg);
    }
}
