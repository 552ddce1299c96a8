package org.symbiont.x86.exec;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.decode.Decoder;

/**
 * The 512-byte FXSAVE legacy region (SDM Vol. 1, 10.5.1, Tables 10-2 and 10-3; also the first 512
 * bytes of an XSAVE area, Vol. 1, 13.4.1), saved and restored at a linear address:
 *
 * <pre>
 *   0 FCW    2 FSW    4 abridged FTW    6 FOP
 *   8 FIP (32-bit: FIP 8..11, FCS 12..13; 64-bit: 8..15)
 *  16 FDP (32-bit: FDP 16..19, FDS 20..21; 64-bit: 16..23)
 *  24 MXCSR    28 MXCSR_MASK
 *  32 ST0..ST7, 16 bytes each (80-bit value, 6 reserved bytes)
 * 160 XMM0..XMM15, 16 bytes each (XMM8-15 only in 64-bit mode)
 * </pre>
 *
 * <p>The core keeps x87 state as the architectural tag word ({@link Cpu#fpuTagWord}, two bits per
 * physical register R0-R7) and ST0-ST7 in stack order ({@link Cpu#fpuRegisters}); the image
 * holds the abridged tag word (one bit per physical register, 1 = not empty), so a restore
 * re-derives each non-empty register's tag from its contents. The core does not track the x87
 * FCS/FDS selectors: they are saved as 0 and ignored on restore.
 *
 * <p>Callers (FXSAVE/FXRSTOR, XSAVE/XRSTOR) check alignment and, for saves, that the whole area
 * is writable ({@link Cpu#probeWrite}) before calling, so a fault leaves no partial image. A
 * restore reads the whole image and validates MXCSR (#GP(0)) before changing any register.
 */
public final class FxsaveArea {
    private FxsaveArea() {}

    public static final int SIZE = 512;
    private static final int OFF_MXCSR = 24, OFF_ST = 32, OFF_XMM = 160;

    /** XMM registers a save/restore covers: 16 in 64-bit mode, 8 otherwise. */
    public static int xmmCount(Cpu c) {
        return c.codeMode == Decoder.CODE64 ? 16 : 8;
    }

    // ---- saving ----

    /** FXSAVE: the whole legacy region; {@code format64} selects the REX.W (FXSAVE64) layout. */
    public static void save(Cpu c, int seg, long la, boolean format64) {
        saveX87(c, seg, la, format64);
        saveMxcsr(c, seg, la);
        saveXmm(c, seg, la);
    }

    /** The x87 part: bytes 0..23 and the ST registers (XSAVE state component 0). */
    public static void saveX87(Cpu c, int seg, long la, boolean format64) {
        long m = c.linearMask;
        c.writeL16(seg, la, c.fpuControl);
        c.writeL16(seg, (la + 2) & m, c.fpuStatus);
        c.writeL16(seg, (la + 4) & m, abridgedTags(c.fpuTagWord));
        c.writeL16(seg, (la + 6) & m, c.fpuLastOpcode & 0x7FF);
        if (format64) {
            c.writeL64(seg, (la + 8) & m, c.fpuLastIp);
            c.writeL64(seg, (la + 16) & m, c.fpuLastDp);
        } else {
            c.writeL64(seg, (la + 8) & m, c.fpuLastIp & 0xFFFF_FFFFL);   // FCS and reserved: 0
            c.writeL64(seg, (la + 16) & m, c.fpuLastDp & 0xFFFF_FFFFL);  // FDS and reserved: 0
        }
        byte[] regs = c.fpuRegisters;
        for (int st = 0; st < 8; st++) {
            long at = (la + OFF_ST + 16L * st) & m;
            int b = 10 * st;
            long low = 0;
            for (int k = 7; k >= 0; k--) low = low << 8 | (regs[b + k] & 0xFF);
            long high = (regs[b + 8] & 0xFF) | (regs[b + 9] & 0xFF) << 8;
            c.writeL64(seg, at, low);
            c.writeL64(seg, (at + 8) & m, high);
        }
    }

    /** MXCSR and MXCSR_MASK (bytes 24..31). */
    public static void saveMxcsr(Cpu c, int seg, long la) {
        c.writeL32(seg, (la + OFF_MXCSR) & c.linearMask, c.mxcsr);
        c.writeL32(seg, (la + OFF_MXCSR + 4) & c.linearMask, Sse.MXCSR_MASK);
    }

    /** The XMM registers (XSAVE state component 1 without MXCSR). */
    public static void saveXmm(Cpu c, int seg, long la) {
        int n = xmmCount(c);
        for (int r = 0; r < n; r++) {
            long at = (la + OFF_XMM + 16L * r) & c.linearMask;
            c.writeL64(seg, at, c.xmm[2 * r]);
            c.writeL64(seg, (at + 8) & c.linearMask, c.xmm[2 * r + 1]);
        }
    }

    // ---- restoring ----

    /** FXRSTOR: reads the image, #GP(0) for reserved MXCSR bits, then loads x87, MXCSR and XMM. */
    public static void restore(Cpu c, int seg, long la, boolean format64) {
        long[] image = read(c, seg, la);
        int mxcsr = checkedMxcsr(c, image);
        loadX87(c, image, format64);
        c.mxcsr = mxcsr;
        loadXmm(c, image);
    }

    /** Reads the 512-byte image as 64 little-endian quadwords; may fault, changes nothing. */
    public static long[] read(Cpu c, int seg, long la) {
        long[] image = new long[SIZE / 8];
        for (int k = 0; k < image.length; k++) image[k] = c.readL64(seg, (la + 8L * k) & c.linearMask);
        return image;
    }

    /** MXCSR from an image, raising #GP(0) if it sets bits outside {@link Sse#MXCSR_MASK}. */
    public static int checkedMxcsr(Cpu c, long[] image) {
        int mxcsr = (int) image[OFF_MXCSR / 8];
        if ((mxcsr & ~Sse.MXCSR_MASK) != 0) throw c.gp0();
        return mxcsr;
    }

    /** Loads FCW, FSW, the tag word, FOP, FIP, FDP and ST0-ST7 from an image. */
    public static void loadX87(Cpu c, long[] image, boolean format64) {
        long w0 = image[0];
        c.fpuControl = (int) w0 & 0xFFFF;
        c.fpuStatus = (int) (w0 >>> 16) & 0xFFFF;
        c.fpuLastOpcode = (int) (w0 >>> 48) & 0x7FF;
        c.fpuLastIp = format64 ? image[1] : image[1] & 0xFFFF_FFFFL;
        c.fpuLastDp = format64 ? image[2] : image[2] & 0xFFFF_FFFFL;
        byte[] regs = c.fpuRegisters;
        for (int st = 0; st < 8; st++) {
            long low = image[(OFF_ST + 16 * st) / 8];
            long high = image[(OFF_ST + 16 * st) / 8 + 1];
            int b = 10 * st;
            for (int k = 0; k < 8; k++) regs[b + k] = (byte) (low >>> (8 * k));
            regs[b + 8] = (byte) high;
            regs[b + 9] = (byte) (high >>> 8);
        }
        c.fpuTagWord = fullTags(c, (int) (w0 >>> 32) & 0xFF);
        Fpu.updateSummary(c);
    }

    /** Loads the XMM registers from an image. */
    public static void loadXmm(Cpu c, long[] image) {
        int n = xmmCount(c);
        for (int r = 0; r < n; r++) {
            c.xmm[2 * r] = image[(OFF_XMM + 16 * r) / 8];
            c.xmm[2 * r + 1] = image[(OFF_XMM + 16 * r) / 8 + 1];
        }
    }

    /** x87 initial configuration (FNINIT values, registers zeroed): XRSTOR of an absent component. */
    public static void initX87(Cpu c) {
        c.fpuControl = 0x037F;
        c.fpuStatus = 0;
        c.fpuTagWord = 0xFFFF;
        c.fpuLastOpcode = 0;
        c.fpuLastIp = 0;
        c.fpuLastDp = 0;
        java.util.Arrays.fill(c.fpuRegisters, (byte) 0);
    }

    /** SSE initial configuration of the XMM registers (MXCSR is not part of it for standard XRSTOR). */
    public static void initXmm(Cpu c) {
        java.util.Arrays.fill(c.xmm, 0, 2 * xmmCount(c), 0L);
    }

    // ---- tag words ----

    /** Abridged tag word: bit i set when physical register i is not empty (tag != 11b). */
    static int abridgedTags(int tagWord) {
        int a = 0;
        for (int r = 0; r < 8; r++) {
            if ((tagWord >>> (2 * r) & 3) != 3) a |= 1 << r;
        }
        return a;
    }

    /**
     * Full tag word from an abridged one: empty registers get 11b, the others the tag their
     * contents imply (SDM Vol. 1, 8.1.7): 00 valid, 01 zero, 10 special (NaN, infinity, denormal,
     * unnormal). Physical register i is ST((i - TOP) mod 8).
     */
    static int fullTags(Cpu c, int abridged) {
        int top = (c.fpuStatus >>> 11) & 7;
        int tags = 0;
        for (int r = 0; r < 8; r++) {
            int tag;
            if ((abridged >>> r & 1) == 0) {
                tag = 3;
            } else {
                int b = 10 * ((r - top) & 7);
                byte[] regs = c.fpuRegisters;
                long significand = 0;
                for (int k = 7; k >= 0; k--) significand = significand << 8 | (regs[b + k] & 0xFF);
                int exponent = ((regs[b + 8] & 0xFF) | (regs[b + 9] & 0xFF) << 8) & 0x7FFF;
                if (exponent == 0x7FFF) tag = 2;
                else if (exponent == 0) tag = significand == 0 ? 1 : 2;
                else tag = significand < 0 ? 0 : 2;
            }
            tags |= tag << (2 * r);
        }
        return tags;
    }
}
