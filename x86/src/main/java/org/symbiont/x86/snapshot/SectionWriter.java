package org.symbiont.x86.snapshot;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Builds a section body with explicit little-endian encoding (the layout {@link SectionReader} reads). */
public final class SectionWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public SectionWriter u8(int v) {
        out.write(v);
        return this;
    }

    public SectionWriter bool(boolean v) {
        return u8(v ? 1 : 0);
    }

    public SectionWriter u16(int v) {
        out.write(v);
        out.write(v >>> 8);
        return this;
    }

    public SectionWriter i32(int v) {
        for (int shift = 0; shift < 32; shift += 8) out.write(v >>> shift);
        return this;
    }

    public SectionWriter i64(long v) {
        for (int shift = 0; shift < 64; shift += 8) out.write((int) (v >>> shift));
        return this;
    }

    public SectionWriter i32s(int[] values) {
        for (int v : values) i32(v);
        return this;
    }

    public SectionWriter i64s(long[] values) {
        for (long v : values) i64(v);
        return this;
    }

    public SectionWriter bytes(byte[] b, int offset, int length) {
        out.write(b, offset, length);
        return this;
    }

    /** A length-prefixed (u16) UTF-8 string. */
    public SectionWriter string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > 0xFFFF) throw new IllegalArgumentException("string of " + b.length + " bytes is longer than 65535");
        u16(b.length);
        return bytes(b, 0, b.length);
    }

    public int size() {
        return out.size();
    }

    public byte[] toByteArray() {
        return out.toByteArray();
    }
}
