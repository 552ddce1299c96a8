package org.symbiont.x86.snapshot;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds a section body with explicit little-endian encoding (the layout {@link SectionReader}
 * reads). A writer sized for its body up front ({@link #SectionWriter(int)}, guest memory's
 * hundreds of MiB) neither grows nor copies it again in {@link #toByteArray}.
 */
public final class SectionWriter {
    private byte[] buffer;
    private int size;

    public SectionWriter() {
        this(64);
    }

    /** A writer expecting about {@code expectedBytes}. */
    public SectionWriter(int expectedBytes) {
        buffer = new byte[Math.max(16, expectedBytes)];
    }

    private void ensure(int more) {
        if (size + more <= buffer.length) return;
        if ((long) size + more > SnapshotFormat.MAX_SECTION_BYTES) {
            throw new IllegalStateException("a section body of more than " + SnapshotFormat.MAX_SECTION_BYTES + " bytes");
        }
        buffer = Arrays.copyOf(buffer, (int) Math.min(SnapshotFormat.MAX_SECTION_BYTES, Math.max((long) size + more, 2L * buffer.length)));
    }

    public SectionWriter u8(int v) {
        ensure(1);
        buffer[size++] = (byte) v;
        return this;
    }

    public SectionWriter bool(boolean v) {
        return u8(v ? 1 : 0);
    }

    public SectionWriter u16(int v) {
        ensure(2);
        buffer[size++] = (byte) v;
        buffer[size++] = (byte) (v >>> 8);
        return this;
    }

    public SectionWriter i32(int v) {
        ensure(4);
        for (int shift = 0; shift < 32; shift += 8) buffer[size++] = (byte) (v >>> shift);
        return this;
    }

    public SectionWriter i64(long v) {
        ensure(8);
        for (int shift = 0; shift < 64; shift += 8) buffer[size++] = (byte) (v >>> shift);
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
        java.util.Objects.checkFromIndexSize(offset, length, b.length);
        ensure(length);
        System.arraycopy(b, offset, buffer, size, length);
        size += length;
        return this;
    }

    /** {@code length} bytes of {@code source} from {@code offset} (guest memory, copied once). */
    public SectionWriter bytes(MemorySegment source, long offset, int length) {
        ensure(length);
        MemorySegment.copy(source, ValueLayout.JAVA_BYTE, offset, buffer, size, length);
        size += length;
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
        return size;
    }

    /** The body written; the writer's own array when it was sized exactly. */
    public byte[] toByteArray() {
        return size == buffer.length ? buffer : Arrays.copyOf(buffer, size);
    }
}
