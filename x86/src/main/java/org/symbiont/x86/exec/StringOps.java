package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.decode.OpcodeShape.MAP_1;
import static org.symbiont.x86.decode.OpcodeTable.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.decode.Insn;
import org.symbiont.x86.decode.OpcodeTable;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * String instructions: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS in byte, word, doubleword and
 * quadword sizes, with REP (F3) and, for CMPS/SCAS, REPE (F3) / REPNE (F2) (SDM Vol. 2B, REP).
 * The address size selects SI/ESI/RSI, DI/EDI/RDI and CX/ECX/RCX; the source segment is DS or
 * the override, the destination always ES; DF steps down.
 *
 * <p>Each iteration of a repeated instruction is one retired instruction. A REP instruction runs
 * as a block of its own ({@link BlockCache}), so {@code cpu.retired} is exact when it starts: it
 * performs at most {@code budgetEnd - retired} iterations, counts them itself (the interpreter
 * adds one for a handler that returns, nothing for one that throws), and leaves RIP at the
 * instruction when it has not finished so that the next slice resumes it. Every iteration
 * commits rSI/rDI/rCX before the next starts, so a fault or an exit at iteration k leaves the k
 * completed iterations in place, as on hardware. With TF set, each execution performs one
 * iteration, so the single-step trap comes after every iteration.
 *
 * <p>REP MOVS and REP STOS over RAM (memcpy and memset in kernels) move whole runs inside a page
 * straight through host memory; overlapping forward or backward copies replicate bytes exactly
 * as the element-by-element loop does.
 */
public final class StringOps {
    private StringOps() {}

    // Even index: byte form; odd: word/doubleword/quadword form.
    private static final int MOVS = 0, CMPS = 2, STOS = 4, LODS = 6, SCAS = 8, INS = 10, OUTS = 12;

    private static int op(int index) {
        return Families.op(Families.STRING, index);
    }

    static void register(OpcodeTable t) {
        define(t, MOVS, "movs", 0xA4);
        define(t, CMPS, "cmps", 0xA6);
        define(t, STOS, "stos", 0xAA);
        define(t, LODS, "lods", 0xAC);
        define(t, SCAS, "scas", 0xAE);
        define(t, INS, "ins", 0x6C);
        define(t, OUTS, "outs", 0x6E);
    }

    private static void define(OpcodeTable t, int index, String name, int opcode) {
        t.define(op(index), name + "b", F_BYTE | F_STRING | F_END);
        t.define(op(index + 1), name + " word/dword/qword", F_STRING | F_END);
        t.at(MAP_1, opcode).is(op(index));
        t.at(MAP_1, opcode + 1).is(op(index + 1));
    }

    static void exec(Cpu c, Insn i) {
        int kind = i.op & 0xFE;
        int size = kind == INS || kind == OUTS ? PortIo.portSize(i) : i.opSize;
        if ((i.prefixes & (Insn.P_REP | Insn.P_REPNE)) == 0) {
            element(c, i, kind, size);
            c.rip = i.nextRip;
        } else {
            repeat(c, i, kind, size);
        }
    }

    /**
     * The repeated form. F2 on MOVS/STOS/LODS/INS/OUTS repeats like F3, as processors do. With
     * both F2 and F3 on CMPS/SCAS (which the SDM leaves undefined), F3 decides: REPE.
     */
    private static void repeat(Cpu c, Insn i, int kind, int size) {
        int addrSize = i.addrSize;
        boolean compares = kind == CMPS || kind == SCAS;
        boolean whileNotEqual = (i.prefixes & Insn.P_REP) == 0;
        boolean bulk = kind == MOVS || kind == STOS;
        long limit = (c.rflags & TF) != 0 ? 1 : c.budgetEnd - c.retired;
        long done = 0;
        boolean finished = false;
        try {
            while (true) {
                long count = c.readReg(RCX, addrSize);
                if (count == 0) {
                    finished = true;
                    break;
                }
                if (done == limit) break;
                long n = bulk ? bulk(c, i, kind == MOVS, size, count, Math.min(count, limit - done)) : 0;
                if (n == 0) {
                    element(c, i, kind, size);
                    c.writeReg(RCX, addrSize, count - 1);
                    dropConsumedReplay(c);
                    n = 1;
                }
                done += n;
                if (compares && Flags.zf(c) == whileNotEqual) {
                    finished = true;
                    break;
                }
            }
        } finally {
            c.retired += done;
        }
        if (done > 0) c.retired--; // the interpreter counts this execution as one
        c.rip = finished ? i.nextRip : i.rip;
    }

    /**
     * Forgets the VMM answers the committed iteration used: after an exit at iteration k, the
     * log holds the answers for iteration k only, and the iterations after it record their own.
     */
    private static void dropConsumedReplay(Cpu c) {
        int used = c.replayPosition;
        if (used == 0) return;
        int left = c.replayLength - used;
        System.arraycopy(c.replay, used, c.replay, 0, left);
        c.replayLength = left;
        c.replayPosition = 0;
    }

    /** One iteration: every access (and exit) first, then rSI/rDI (and the flags of CMPS/SCAS). */
    private static void element(Cpu c, Insn i, int kind, int size) {
        long mask = i.eaMask;
        long step = (c.rflags & DF) != 0 ? -size : size;
        switch (kind) {
            case MOVS -> {
                long v = c.read(i.seg, c.gpr[RSI] & mask, size);
                c.write(ES, c.gpr[RDI] & mask, size, v);
                advance(c, i, RSI, step);
                advance(c, i, RDI, step);
            }
            case CMPS -> {
                long a = c.read(i.seg, c.gpr[RSI] & mask, size);
                long b = c.read(ES, c.gpr[RDI] & mask, size);
                advance(c, i, RSI, step);
                advance(c, i, RDI, step);
                Flags.set(c, Flags.SUB, size, a, b, a - b);
            }
            case STOS -> {
                c.write(ES, c.gpr[RDI] & mask, size, c.readReg(RAX, size));
                advance(c, i, RDI, step);
            }
            case LODS -> {
                long v = c.read(i.seg, c.gpr[RSI] & mask, size);
                c.writeReg(RAX, size, v);
                advance(c, i, RSI, step);
            }
            case SCAS -> {
                long a = c.readReg(RAX, size);
                long b = c.read(ES, c.gpr[RDI] & mask, size);
                advance(c, i, RDI, step);
                Flags.set(c, Flags.SUB, size, a, b, a - b);
            }
            case INS -> {
                int port = (int) (c.gpr[RDX] & 0xFFFF);
                PortIo.checkPermission(c, port, size);
                // The destination is checked before the port is read, so that a fault there does
                // not consume device data.
                long la = c.linear(ES, c.gpr[RDI] & mask, size, Cpu.ACCESS_WRITE);
                c.probeWrite(ES, la, size);
                long v = c.exitOrReplay(new Exit.PortIn(port, size));
                c.writeL(ES, la, size, v);
                advance(c, i, RDI, step);
            }
            default -> { // OUTS
                int port = (int) (c.gpr[RDX] & 0xFFFF);
                PortIo.checkPermission(c, port, size);
                long v = c.read(i.seg, c.gpr[RSI] & mask, size);
                c.exitOrReplay(new Exit.PortOut(port, size, v));
                advance(c, i, RSI, step);
            }
        }
    }

    /** Steps an index register within the address size (16-bit SI/DI wrap; 32-bit ones zero-extend). */
    private static void advance(Cpu c, Insn i, int reg, long step) {
        c.writeReg(reg, i.addrSize, c.gpr[reg] + step);
    }

    /**
     * REP MOVS/STOS fast path: performs up to {@code max} iterations at once when their elements
     * lie inside one page of the destination (and of the source) and the pages are RAM, copying
     * or filling through host memory, and commits rSI/rDI/rCX. Returns how many it performed; 0
     * means the next element takes the per-element path (it crosses a page or the address-size
     * wrap, a segment needs limit checks, a page is MMIO or ROM, or alignment checking is on), which
     * also raises any fault.
     */
    private static long bulk(Cpu c, Insn i, boolean movs, int size, long count, long max) {
        if (c.alignmentChecking()) return 0; // each element must be checked for #AC
        int srcSeg = i.seg;
        int checked = c.segCheckMask >>> ES | (movs ? c.segCheckMask >>> srcSeg : 0);
        if ((checked & 1) != 0) return 0;
        boolean down = (c.rflags & DF) != 0;
        long mask = i.eaMask;
        long di = c.gpr[RDI] & mask;
        long dstLa = c.linear(ES, di, size, Cpu.ACCESS_WRITE);
        long n = Math.min(max, runLength(dstLa, di, mask, size, down));
        long srcLa = 0;
        if (movs) {
            long si = c.gpr[RSI] & mask;
            srcLa = c.linear(srcSeg, si, size, Cpu.ACCESS_READ);
            n = Math.min(n, runLength(srcLa, si, mask, size, down));
        }
        if (n == 0) return 0;
        boolean user = c.tlbBase != 0;
        // The source is translated first, as the first element reads it before writing.
        long srcHost = movs ? c.mmu.directHostOffset(srcSeg, srcLa, Cpu.ACCESS_READ, user) : 0;
        if (srcHost < 0) return 0;
        long dstHost = c.mmu.directHostOffset(ES, dstLa, Cpu.ACCESS_WRITE, user);
        if (dstHost < 0) return 0;
        long bytes = n * size;
        if (movs) {
            copy(c.memory, srcHost, dstHost, n, size, down);
        } else {
            c.memory.hostFill(down ? dstHost - bytes + size : dstHost, n, size, c.readReg(RAX, size));
        }
        long delta = down ? -bytes : bytes;
        int addrSize = i.addrSize;
        if (movs) c.writeReg(RSI, addrSize, c.gpr[RSI] + delta);
        c.writeReg(RDI, addrSize, c.gpr[RDI] + delta);
        c.writeReg(RCX, addrSize, count - n);
        return n;
    }

    /**
     * How many consecutive elements, starting with the one at offset {@code ea} (linear
     * {@code la}) and going in the direction of DF, stay inside la's page and inside the address
     * size without wrapping.
     */
    private static long runLength(long la, long ea, long mask, int size, boolean down) {
        long inPage = la & 0xFFF;
        if (inPage + size > 0x1000) return 0;
        long pageRun = down ? inPage / size + 1 : (0x1000 - inPage) / size;
        if (mask == -1L) return pageRun; // 64-bit offsets wrap together with the linear address
        if (ea + size - 1 > mask) return 0;
        long offsetRun = down ? ea / size + 1 : (mask + 1 - ea) / size;
        return Math.min(pageRun, offsetRun);
    }

    /**
     * Copies {@code n} elements from host offset {@code src} to {@code dst} (the first elements;
     * with DF set the run extends downwards) with the result of the element-by-element loop.
     * When the destination lies ahead of the source in the direction of travel by less than the
     * run, later elements read what earlier ones wrote (dst = src + 1 replicates a byte): the run
     * is then copied in pieces no longer than that distance, each of which reads only bytes
     * already final.
     */
    private static void copy(PhysicalMemory memory, long src, long dst, long n, int size, boolean down) {
        long bytes = n * size;
        long srcLow = down ? src - bytes + size : src;
        long dstLow = down ? dst - bytes + size : dst;
        long distance = down ? srcLow - dstLow : dstLow - srcLow;
        if (distance <= 0 || distance >= bytes) {
            memory.hostCopy(srcLow, dstLow, bytes);
            return;
        }
        long piece = distance / size * size;
        if (piece == 0) piece = size; // closer than one element: element by element
        if (!down) {
            for (long off = 0; off < bytes; off += piece) {
                memory.hostCopy(srcLow + off, dstLow + off, Math.min(piece, bytes - off));
            }
        } else {
            for (long end = bytes; end > 0; end -= piece) {
                long start = Math.max(0, end - piece);
                memory.hostCopy(srcLow + start, dstLow + start, end - start);
            }
        }
    }
}
