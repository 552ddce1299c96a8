package org.symbiont.x86.difftest;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;

/** The generator's encoder produces what GNU as produces for the same instructions. */
class InstructionTest {
    private static String hex(byte[] b) {
        return HexFormat.ofDelimiter(" ").formatHex(b);
    }

    private static String encode(Instruction i) {
        Code c = new Code();
        i.emit(c);
        return hex(c.finish());
    }

    private static void same(String intel, Instruction i) {
        byte[] expected = Asm.assemble(".intel_syntax noprefix\n" + intel, 64, 0x1000);
        assertEquals(hex(expected), encode(i), intel);
    }

    @Test
    void modrmSibAndDisplacementForms() {
        same("add rax, [r13]", Instruction.op(0x03).size(8).reg(0).rm(Mem.base(13, 0)));
        same("add rax, [rbp]", Instruction.op(0x03).size(8).reg(0).rm(Mem.base(5, 0)));
        same("add byte ptr [rsp+8], 3", Instruction.op(0x80).digit(0).rm(Mem.base(4, 8)).imm(3, 1));
        same("mov [r12+r9*4+0x1234], ecx", Instruction.op(0x89).reg(1).rm(Mem.sib(12, 9, 2, 0x1234)));
        same("mov eax, [r12*8+0x20000000]", Instruction.op(0x8B).reg(0).rm(Mem.sib(Mem.NONE, 12, 3, 0x2000_0000)));
        same("mov rax, [0x20000010]", Instruction.op(0x8B).size(8).reg(0).rm(Mem.absolute(0x2000_0010L)));
        same("sub dx, [rbx-0x80]", Instruction.op(0x2B).size(2).reg(2).rm(Mem.base(3, -0x80)));
        Mem a32 = Mem.base(3, 4);
        a32.addr32 = true;
        same("mov eax, [ebx+4]", Instruction.op(0x8B).reg(0).rm(a32));
        Mem d32 = Mem.base(8, 1);
        d32.forceDisp32 = true;
        assertEquals("41 8b 80 01 00 00 00", encode(Instruction.op(0x8B).reg(0).rm(d32)));
    }

    @Test
    void byteRegistersWithAndWithoutRex() {
        same("mov ah, [rbx+1]", Instruction.op(0x8A).reg8(16).rm(Mem.base(3, 1)));
        same("mov sil, 5", Instruction.op(0xB0).opcodeReg8(6).imm(5, 1));
        same("xor r9b, dil", Instruction.op(0x30).reg8(7).rm8(9));
        same("add bl, bh", Instruction.op(0x00).reg8(19).rm8(3));
        same("add ch, [rsi]", Instruction.op(0x02).reg8(17).rm(Mem.base(6, 0)));
        assertThrows(Code.Unencodable.class, () -> encode(Instruction.op(0x88).reg8(16).rm8(9)));
    }

    @Test
    void prefixesAndMaps() {
        same("lock cmpxchg16b [rbx]", Instruction.op0F(0xC7).digit(1).rm(Mem.base(3, 0)).rexW().prefix(0xF0));
        same("shld word ptr [rdi], r8w, 5", Instruction.op0F(0xA4).size(2).reg(8).rm(Mem.base(7, 0)).imm(5, 1));
        same("cvtsi2sd xmm1, rax", Instruction.op0F(0x2A).prefix(0xF2).size(8).reg(1).rm(0));
        same("movdqa xmm9, [rax+r10*2-8]", Instruction.op0F(0x6F).prefix(0x66).reg(9).rm(Mem.sib(0, 10, 1, -8)));
        same("movbe [rcx], r11", Instruction.op0F38(0xF1).size(8).reg(11).rm(Mem.base(1, 0)));
        same("enter 0x20, 3", Instruction.op(0xC8).imm(0x20, 2).imm(3, 1));
    }

    @Test
    void relativeTargetsAreResolvedWhenTheSequenceIsPlaced() {
        Code c = new Code();
        Code.Label end = new Code.Label();
        Instruction.op(0xEB).target(end, 1).emit(c);                             // jmp end
        Instruction.op(0x8D).size(8).reg(0).rm(Mem.ripRelative(Layout.DATA)).emit(c); // lea rax, [rip -> DATA]
        c.bind(end);
        byte[] b = c.finish();
        assertEquals(2 + 7, b.length);
        assertEquals(7, b[1], "jmp over the lea");
        long disp = (b[5] & 0xFFL) | (b[6] & 0xFFL) << 8 | (b[7] & 0xFFL) << 16 | (long) b[8] << 24;
        assertEquals(Layout.DATA, Layout.CODE_END + disp, "RIP-relative to the data region from the end of the code");
    }
}
