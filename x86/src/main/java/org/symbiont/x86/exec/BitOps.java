package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_0F;
import static org.symbiont.x86.decode.OpcodeTable.F_LOCKABLE;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;

/**
 * Bit instructions: BT, BTS, BTR, BTC (register and immediate bit offsets), BSF, BSR, TZCNT,
 * LZCNT, POPCNT, BSWAP (SDM Vol. 2A/2B). Flags the SDM leaves undefined follow AMD processors
 * (measured on Zen 4), as each handler notes.
 */
public final class BitOps {
    private BitOps() {}

    // BT, BTS, BTR, BTC in group-8 order (/4../7); + 0 register offset, + 4 immediate offset.
    private static final int BT = 0, BTS = 1, BTR = 2, BTC = 3;
    private static final int BY_REGISTER = 0, BY_IMMEDIATE = 4;
    private static final int BSF = 8, BSR = 9, TZCNT = 10, LZCNT = 11, POPCNT = 12, BSWAP = 13;

    private static int op(int index) {
        return Families.op(Families.BITS, index);
    }

    static void register(OpcodeTable t) {
        String[] names = {"bt", "bts", "btr", "btc"};
        int[] registerForms = {0xA3, 0xAB, 0xB3, 0xBB};
        for (int k = BT; k <= BTC; k++) {
            int lock = k == BT ? 0 : F_LOCKABLE;
            t.define(op(BY_REGISTER + k), names[k] + " Ev,Gv", lock);
            t.define(op(BY_IMMEDIATE + k), names[k] + " Ev,Ib", lock);
            t.at(MAP_0F, registerForms[k]).is(op(BY_REGISTER + k));
            t.at(MAP_0F, 0xBA).reg(4 + k).is(op(BY_IMMEDIATE + k));
        }
        t.define(op(BSF), "bsf Gv,Ev", 0);
        t.define(op(BSR), "bsr Gv,Ev", 0);
        t.define(op(TZCNT), "tzcnt Gv,Ev", 0);
        t.define(op(LZCNT), "lzcnt Gv,Ev", 0);
        t.define(op(POPCNT), "popcnt Gv,Ev", 0);
        t.at(MAP_0F, 0xBC).f3Select(false).is(op(BSF));
        t.at(MAP_0F, 0xBC).f3Select(true).is(op(TZCNT));
        t.at(MAP_0F, 0xBD).f3Select(false).is(op(BSR));
        t.at(MAP_0F, 0xBD).f3Select(true).is(op(LZCNT));
        // Without F3, 0F B8 is JMPE (IA-64 only): it stays #UD.
        t.at(MAP_0F, 0xB8).f3Select(true).is(op(POPCNT));
        t.define(op(BSWAP), "bswap r", 0);
        for (int r = 0; r < 8; r++) t.at(MAP_0F, 0xC8 + r).is(op(BSWAP));
    }

    static void exec(Cpu c, Insn i) {
        int idx = i.op & 0xFF;
        if (idx < BSF) {
            bitTest(c, i, idx & 3, (idx & BY_IMMEDIATE) != 0);
            return;
        }
        switch (idx) {
            case BSF, BSR -> bitScan(c, i, idx == BSF);
            case TZCNT, LZCNT -> countZeros(c, i, idx == TZCNT);
            case POPCNT -> {
                long v = Long.bitCount(Operands.readRm(c, i, i.opSize));
                c.writeReg(i.reg, i.opSize, v);
                Flags.setStatus(c, v == 0 ? ZF : 0);
            }
            case BSWAP -> bswap(c, i);
            default -> throw c.ud();
        }
    }

    private static long modify(int kind, long v, long bit) {
        return switch (kind) {
            case BTS -> v | bit;
            case BTR -> v & ~bit;
            case BTC -> v ^ bit;
            default -> v;
        };
    }

    /**
     * BT/BTS/BTR/BTC. A register operand, or an immediate offset, selects a bit modulo the
     * operand size. A register offset with a memory operand is a signed bit index from the
     * operand's address, reaching anywhere: the processor accesses the operand-sized unit at
     * EA + size * floor(offset / bits) (SDM Vol. 2A, BT, and measured on hardware). CF receives
     * the bit; the other flags are unchanged (ZF is defined so; AMD also keeps OF, SF, AF, PF).
     * Memory forms of BTS/BTR/BTC always write the unit back, as the hardware does.
     */
    private static void bitTest(Cpu c, Insn i, int kind, boolean immediate) {
        int size = i.opSize;
        int bits = size * 8;
        long offset = immediate ? i.imm : c.readReg(i.reg, size);
        long bit = 1L << (offset & (bits - 1));
        long v;
        if (i.rm >= 0) {
            v = c.readReg(i.rm, size);
            if (kind != BT) c.writeReg(i.rm, size, modify(kind, v, bit));
        } else {
            long ea = Operands.ea(c, i);
            if (!immediate) {
                int sizeShift = Integer.numberOfTrailingZeros(size);
                long units = Operands.signExtend(offset, size) >> (sizeShift + 3);
                ea = (ea + (units << sizeShift)) & i.eaMask;
            }
            long la = c.linear(i.seg, ea, size, kind == BT ? Cpu.ACCESS_READ : Cpu.ACCESS_WRITE);
            if (kind == BT) {
                v = c.readL(i.seg, la, size);
            } else if ((i.prefixes & Insn.P_LOCK) != 0) {
                do {
                    v = c.readL(i.seg, la, size);
                } while (c.lockedCompareExchange(i.seg, la, size, v, modify(kind, v, bit)) != v);
            } else {
                v = c.readL(i.seg, la, size);
                c.writeL(i.seg, la, size, modify(kind, v, bit));
            }
        }
        Flags.setCf(c, (v & bit) != 0);
    }

    /**
     * BSF/BSR. A zero source sets ZF and leaves the destination unchanged: AMD documents this,
     * and keeps even the upper half of a 64-bit register with a 32-bit operand. Undefined flags
     * as on AMD: ZF | PF for a zero source, otherwise PF = parity of the bit index, the rest 0.
     */
    private static void bitScan(Cpu c, Insn i, boolean forward) {
        long src = Operands.readRm(c, i, i.opSize);
        if (src == 0) {
            Flags.setStatus(c, ZF | PF);
            return;
        }
        int index = forward ? Long.numberOfTrailingZeros(src) : 63 - Long.numberOfLeadingZeros(src);
        c.writeReg(i.reg, i.opSize, index);
        Flags.setStatus(c, (Integer.bitCount(index) & 1) == 0 ? PF : 0);
    }

    /**
     * TZCNT/LZCNT: the count of trailing/leading zero bits (the operand size for a zero source).
     * CF = source is 0, ZF = result is 0; of the undefined flags AMD keeps OF and clears SF, AF, PF.
     */
    private static void countZeros(Cpu c, Insn i, boolean trailing) {
        int size = i.opSize;
        int bits = size * 8;
        long src = Operands.readRm(c, i, size);
        int n = trailing ? Math.min(Long.numberOfTrailingZeros(src), bits) : Long.numberOfLeadingZeros(src) - (64 - bits);
        c.writeReg(i.reg, size, n);
        long f = Flags.of(c) ? OF : 0;
        if (src == 0) f |= CF;
        if (n == 0) f |= ZF;
        Flags.setStatus(c, f);
    }

    /**
     * BSWAP: reverses the bytes of a 32- or 64-bit register. With a 16-bit operand the SDM leaves
     * the result undefined; AMD processors clear the low word and keep the rest of the register.
     */
    private static void bswap(Cpu c, Insn i) {
        switch (i.opSize) {
            case 8 -> c.gpr[i.reg] = Long.reverseBytes(c.gpr[i.reg]);
            case 4 -> c.writeReg(i.reg, 4, Integer.reverseBytes((int) c.gpr[i.reg]));
            default -> c.writeReg(i.reg, 2, 0);
        }
    }
}
