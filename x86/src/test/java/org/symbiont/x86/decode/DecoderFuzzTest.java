package org.symbiont.x86.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.symbiont.x86.exec.Families;

/**
 * Millions of byte sequences through {@link Decoder#decode} in every mode: every sequence either
 * decodes or yields #UD / #GP (over-long), no Java exception escapes other than the fetch fault
 * the byte source raises, the decoder reads only within the 15-byte window, and an accepted
 * instruction reads exactly its own bytes, so one that ends at the end of readable code decodes
 * and one byte less raises the fetch fault.
 */
class DecoderFuzzTest {
    private static final int SEQUENCES_PER_MODE = 1_000_000;
    private static final long SEED = 0xF022_5EEDL;

    /** The fetch fault of the byte source: the only exception allowed out of the decoder. */
    private static final class PastEnd extends RuntimeException {
        static final PastEnd INSTANCE = new PastEnd();

        private PastEnd() {
            super("fetch past the end of the code", null, false, false);
        }
    }

    /** Code bytes at {@code base}, readable up to {@code readable} bytes, recording how far the decoder read. */
    private static final class Code implements Decoder.ByteSource {
        byte[] bytes;
        long base;
        int readable;
        int highest;

        void reset(byte[] bytes, long base, int readable) {
            this.bytes = bytes;
            this.base = base;
            this.readable = readable;
            this.highest = -1;
        }

        @Override
        public int byteAt(long rip) {
            long off = rip - base;
            if (off < 0 || off >= InsnGenerator.WINDOW) {
                throw new AssertionError("fetch at offset " + off + ", outside the 15-byte window");
            }
            if (off >= readable) throw PastEnd.INSTANCE;
            highest = Math.max(highest, (int) off);
            return bytes[(int) off] & 0xFF;
        }
    }

    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Decoder.CODE64, Decoder.CODE32, Decoder.CODE16})
    void everySequenceDecodesOrFaultsInsideTheGuest(int mode) {
        SplittableRandom rnd = new SplittableRandom(SEED + mode);
        InsnGenerator gen = new InsnGenerator(SEED * 7 + mode);
        Code code = new Code();
        Insn insn = new Insn();
        Insn again = new Insn();
        int accepted = 0;
        for (int n = 0; n < SEQUENCES_PER_MODE; n++) {
            byte[] bytes;
            if ((n & 1) == 0) {
                bytes = new byte[InsnGenerator.WINDOW];
                for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) rnd.nextInt(256);
            } else {
                bytes = gen.next(mode);
            }
            long rip = rip(rnd, mode);
            code.reset(bytes, rip, InsnGenerator.WINDOW);
            int len = decode(mode, code, rip, insn, bytes);
            if (len < 1 || len > InsnGenerator.WINDOW || insn.length != len || insn.nextRip != rip + len) {
                fail(describe(mode, bytes, insn) + ": length " + len + ", insn.length " + insn.length
                        + ", nextRip " + Long.toHexString(insn.nextRip));
            }
            if (insn.op == Decoder.OP_UD || insn.op == Decoder.OP_TOO_LONG) {
                if (insn.op == Decoder.OP_TOO_LONG) assertEquals(InsnGenerator.WINDOW, len, describe(mode, bytes, insn));
                continue;
            }
            accepted++;
            if (code.highest != len - 1) {
                fail(describe(mode, bytes, insn) + ": read up to offset " + code.highest + " for a length of " + len);
            }
            checkFields(mode, bytes, insn);

            // Readable up to the instruction's end: the same instruction. One byte less: the fetch fault.
            code.reset(bytes, rip, len);
            decode(mode, code, rip, again, bytes);
            String difference = DecoderAssertions.difference(insn, again);
            if (difference != null || again.length != len) {
                fail(describe(mode, bytes, insn) + ": decodes differently when the code ends after it: " + difference);
            }
            code.reset(bytes, rip, len - 1);
            try {
                Decoder.decode(Families.TABLE, mode, code, rip, again);
                fail(describe(mode, bytes, insn) + ": decoded without its last byte, as " + Families.TABLE.name(again.op));
            } catch (PastEnd expected) {
                // the fetch fault, as on a page boundary
            }
        }
        if (accepted < SEQUENCES_PER_MODE / 20) fail("only " + accepted + " sequences decoded: the test lost its power");
    }

    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Decoder.CODE64, Decoder.CODE32, Decoder.CODE16})
    void truncatedCodeRaisesOnlyTheFetchFault(int mode) {
        SplittableRandom rnd = new SplittableRandom(SEED * 3 + mode);
        InsnGenerator gen = new InsnGenerator(SEED * 11 + mode);
        Code code = new Code();
        Insn insn = new Insn();
        int faults = 0;
        for (int n = 0; n < SEQUENCES_PER_MODE; n++) {
            byte[] bytes = gen.next(mode);
            int readable = rnd.nextInt(InsnGenerator.WINDOW + 1);
            long rip = rip(rnd, mode);
            code.reset(bytes, rip, readable);
            try {
                int len = Decoder.decode(Families.TABLE, mode, code, rip, insn);
                // An over-long instruction is #GP as soon as its length is known, before the
                // bytes past the limit are fetched; #UD may come from the bytes read so far.
                boolean failed = insn.op == Decoder.OP_UD || insn.op == Decoder.OP_TOO_LONG;
                if (!failed && len > readable) {
                    fail(describe(mode, bytes, insn) + ": decoded " + len + " bytes of which only " + readable + " were readable");
                }
            } catch (PastEnd expected) {
                faults++;
            } catch (Throwable t) {
                throw new AssertionError(describe(mode, bytes, insn) + " (readable " + readable + "): " + t, t);
            }
        }
        if (faults < SEQUENCES_PER_MODE / 10) fail("only " + faults + " fetch faults: the test lost its power");
    }

    /** Decodes, turning any escaping exception into a failure that names the bytes. */
    private static int decode(int mode, Code code, long rip, Insn insn, byte[] bytes) {
        try {
            return Decoder.decode(Families.TABLE, mode, code, rip, insn);
        } catch (Throwable t) {
            throw new AssertionError(describe(mode, bytes, insn) + ": " + t, t);
        }
    }

    /** Addresses across the whole range, some next to the top of the address space. */
    private static long rip(SplittableRandom rnd, int mode) {
        long r = switch (rnd.nextInt(4)) {
            case 0 -> 0;
            case 1 -> -1L - rnd.nextInt(16);
            default -> rnd.nextLong();
        };
        return mode == Decoder.CODE64 ? r : mode == Decoder.CODE32 ? r & 0xFFFF_FFFFL : r & 0xFFFF;
    }

    /** Every field of an accepted instruction within its architectural range. */
    private static void checkFields(int mode, byte[] bytes, Insn i) {
        boolean mode64 = mode == Decoder.CODE64;
        int maxReg = mode64 ? 15 : 7;
        StringBuilder bad = new StringBuilder();
        if (i.opSize != 1 && i.opSize != 2 && i.opSize != 4 && i.opSize != 8) bad.append(" opSize");
        if (!mode64 && i.opSize == 8) bad.append(" opSize 8 outside 64-bit mode");
        if (mode64 ? i.addrSize != 4 && i.addrSize != 8 : i.addrSize != 2 && i.addrSize != 4) bad.append(" addrSize");
        long mask = i.addrSize == 8 ? -1L : i.addrSize == 4 ? 0xFFFF_FFFFL : 0xFFFFL;
        if (i.eaMask != mask) bad.append(" eaMask");
        if (!register(i.reg, maxReg)) bad.append(" reg");
        if (i.rm != -1 && !register(i.rm, maxReg)) bad.append(" rm");
        if (i.rm == -1) {
            if (i.base < -1 || i.base > maxReg) bad.append(" base");
            if (i.index < -1 || i.index > maxReg || i.index == 4) bad.append(" index");
            if (i.scale < 0 || i.scale > 3 || (i.addrSize == 2 && i.scale != 0)) bad.append(" scale");
            if (i.seg < 0 || i.seg > 5 || (mode64 && i.seg < 2)) bad.append(" seg");
        }
        if (!mode64 && (i.prefixes & (Insn.P_REX | Insn.P_REXW)) != 0) bad.append(" REX outside 64-bit mode");
        if (bad.length() > 0) fail(describe(mode, bytes, i) + ": fields out of range:" + bad);
    }

    /** 0..max, or AH..BH (16..19). */
    private static boolean register(int r, int max) {
        return (r >= 0 && r <= max) || (r >= 16 && r <= 19);
    }

    private static String describe(int mode, byte[] bytes, Insn i) {
        return String.format("%s %s -> %s (op %04x, length %d)", Objdump.modeName(mode), Objdump.hex(bytes, 0, bytes.length),
                Families.TABLE.name(i.op), i.op, i.length);
    }
}
