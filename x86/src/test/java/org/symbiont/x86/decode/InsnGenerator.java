package org.symbiont.x86.decode;

import java.util.SplittableRandom;

/**
 * Random instruction candidates biased towards real encodings: legacy prefixes (repeated and
 * combined), REX (also misplaced before a legacy prefix, or doubled), the one-byte, 0F, 0F 38 and
 * 0F 3A maps, ModRM/SIB/displacement forms favouring the special cases (SIB, no base, RIP-relative,
 * index 100), random immediates, and now and then fully random bytes. Each candidate is 15 bytes:
 * the decoder never reads further.
 */
final class InsnGenerator {
    static final int WINDOW = 15;

    private static final int[] PREFIXES = {
        0x66, 0x66, 0x66, 0x67, 0x67, 0xF2, 0xF2, 0xF3, 0xF3, 0xF0, 0xF0,
        0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65,
    };

    private final SplittableRandom rnd;

    InsnGenerator(long seed) {
        this.rnd = new SplittableRandom(seed);
    }

    /** A fresh candidate for a code segment of this mode ({@link Decoder#CODE16} ...). */
    byte[] next(int mode) {
        if (rnd.nextInt(16) == 0) return randomBytes();
        int r = rnd.nextInt(20);
        int map = r < 11 ? OpcodeShape.MAP_1 : r < 16 ? OpcodeShape.MAP_0F : r < 18 ? OpcodeShape.MAP_0F38 : OpcodeShape.MAP_0F3A;
        return build(mode, map, rnd.nextInt(256), -1);
    }

    /**
     * A candidate with this opcode: random prefixes, REX, ModRM, SIB, displacement and
     * immediates; {@code lastPrefix}, unless -1, is the last legacy prefix.
     */
    byte[] build(int mode, int map, int opcode, int lastPrefix) {
        byte[] b = randomBytes();
        int n = 0;
        int prefixCount = prefixCount();
        boolean mode64 = mode == Decoder.CODE64;
        boolean misplacedRex = mode64 && prefixCount > 0 && rnd.nextInt(12) == 0;
        for (int i = 0; i < prefixCount && n < WINDOW; i++) {
            if (misplacedRex && i == prefixCount - 1) b[n++] = (byte) rex();   // REX, then a legacy prefix
            if (n < WINDOW) b[n++] = (byte) PREFIXES[rnd.nextInt(PREFIXES.length)];
        }
        if (lastPrefix >= 0 && n < WINDOW) b[n++] = (byte) lastPrefix;
        if (mode64 && rnd.nextInt(5) < 2) {
            if (rnd.nextInt(16) == 0 && n < WINDOW) b[n++] = (byte) rex();     // two REX bytes in a row
            if (n < WINDOW) b[n++] = (byte) rex();
        }
        if (map != OpcodeShape.MAP_1 && n < WINDOW) b[n++] = 0x0F;
        if (map == OpcodeShape.MAP_0F38 && n < WINDOW) b[n++] = 0x38;
        if (map == OpcodeShape.MAP_0F3A && n < WINDOW) b[n++] = 0x3A;
        if (n < WINDOW) b[n++] = (byte) opcode;
        if (n < WINDOW) {
            int modrm = modrm();
            b[n++] = (byte) modrm;
            if ((modrm & 0xC0) != 0xC0 && (modrm & 7) == 4 && n < WINDOW) b[n] = (byte) sib();
        }
        return b;
    }

    private byte[] randomBytes() {
        byte[] b = new byte[WINDOW];
        for (int i = 0; i < WINDOW; i++) b[i] = (byte) rnd.nextInt(256);
        return b;
    }

    private int prefixCount() {
        int r = rnd.nextInt(100);
        if (r < 45) return 0;
        if (r < 72) return 1;
        if (r < 86) return 2;
        if (r < 96) return 3 + rnd.nextInt(3);
        return 6 + rnd.nextInt(10);                  // around and beyond the 15-byte limit
    }

    private int rex() {
        return 0x40 | rnd.nextInt(16);
    }

    private int modrm() {
        int reg = rnd.nextInt(8);
        int mod = rnd.nextInt(4) == 0 ? 3 : rnd.nextInt(3);
        int rm = switch (rnd.nextInt(8)) {
            case 0, 1 -> 4;                                  // SIB
            case 2 -> 5;                                     // disp32 / RIP-relative / [BP+disp]
            case 3 -> 6;                                     // disp16 in 16-bit addressing
            default -> rnd.nextInt(8);
        };
        return mod << 6 | reg << 3 | rm;
    }

    private int sib() {
        int scale = rnd.nextInt(4);
        int index = rnd.nextInt(4) == 0 ? 4 : rnd.nextInt(8);   // index 100: none without REX.X
        int base = rnd.nextInt(4) == 0 ? 5 : rnd.nextInt(8);    // base 101: none with mod 00
        return scale << 6 | index << 3 | base;
    }
}
