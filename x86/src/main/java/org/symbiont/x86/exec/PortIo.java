package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/** IN and OUT, with the I/O privilege check against IOPL and the TSS I/O permission bitmap. */
public final class PortIo {
    private PortIo() {}

    private static final int IN_IMM = 0, IN_DX = 2, OUT_IMM = 4, OUT_DX = 6;

    private static int op(int index) {
        return Families.op(Families.IO, index);
    }

    static void register(OpcodeTable t) {
        t.define(op(IN_IMM), "in AL,Ib", F_BYTE);
        t.define(op(IN_IMM + 1), "in eAX,Ib", 0);
        t.define(op(IN_DX), "in AL,DX", F_BYTE);
        t.define(op(IN_DX + 1), "in eAX,DX", 0);
        t.define(op(OUT_IMM), "out Ib,AL", F_BYTE);
        t.define(op(OUT_IMM + 1), "out Ib,eAX", 0);
        t.define(op(OUT_DX), "out DX,AL", F_BYTE);
        t.define(op(OUT_DX + 1), "out DX,eAX", 0);
        t.at(MAP_1, 0xE4).is(op(IN_IMM));
        t.at(MAP_1, 0xE5).is(op(IN_IMM + 1));
        t.at(MAP_1, 0xE6).is(op(OUT_IMM));
        t.at(MAP_1, 0xE7).is(op(OUT_IMM + 1));
        t.at(MAP_1, 0xEC).is(op(IN_DX));
        t.at(MAP_1, 0xED).is(op(IN_DX + 1));
        t.at(MAP_1, 0xEE).is(op(OUT_DX));
        t.at(MAP_1, 0xEF).is(op(OUT_DX + 1));
    }

    /** Port operand size: 1, 2 or 4 bytes (REX.W does not widen port I/O). */
    public static int portSize(Insn i) {
        return Math.min(i.opSize, 4);
    }

    static void exec(Cpu c, Insn i) {
        int idx = i.op & 0xFF;
        int size = portSize(i);
        int port = (idx & ~1) == IN_IMM || (idx & ~1) == OUT_IMM ? (int) (i.imm & 0xFF) : (int) (c.gpr[RDX] & 0xFFFF);
        checkPermission(c, port, size);
        if ((idx & ~1) == IN_IMM || (idx & ~1) == IN_DX) {
            long v = c.exitOrReplay(new Exit.PortIn(port, size));
            c.writeReg(RAX, size, v);
        } else {
            c.exitOrReplay(new Exit.PortOut(port, size, c.readReg(RAX, size)));
        }
    }

    /**
     * In protected mode with CPL > IOPL (or in virtual-8086 mode) every port touched must be
     * cleared in the TSS I/O permission bitmap (SDM Vol. 1, 19.5.2), else #GP(0).
     */
    public static void checkPermission(Cpu c, int port, int size) {
        if ((c.cr0 & CR0_PE) == 0) return;
        int iopl = (int) ((c.rflags & IOPL) >>> 12);
        if (c.cpl <= iopl && (c.rflags & VM) == 0) return;
        int type = c.segAttr[TR] & 0xF;
        if ((type & 8) == 0 || c.segLimit[TR] < 103) throw c.gp0();
        long bitmap = c.readSys(c.segBase[TR] + 102, 2);
        long byteOffset = bitmap + (port >>> 3);
        if (byteOffset + 1 > c.segLimit[TR]) throw c.gp0();
        long bits = c.readSys(c.segBase[TR] + byteOffset, 2);
        long mask = ((1L << size) - 1) << (port & 7);
        if ((bits & mask) != 0) throw c.gp0();
    }
}
