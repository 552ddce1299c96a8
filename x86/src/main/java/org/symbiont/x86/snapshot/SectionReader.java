package org.symbiont.x86.snapshot;

import java.nio.charset.StandardCharsets;

/**
 * Reads a section body written by {@link SectionWriter}. Every read checks that the bytes are
 * there; a short body is a {@link SnapshotException} naming what is read ({@code "section 'cpu.0'"}),
 * the offset and the field.
 */
public final class SectionReader {
    /** What is read, for messages: "section 'cpu.0'", "header". */
    private final String section;
    private final byte[] body;
    private int position;

    public SectionReader(String section, byte[] body) {
        this.section = section;
        this.body = body;
    }

    private int need(int n, String field) throws SnapshotException {
        if (n < 0 || body.length - position < n) {
            throw new SnapshotException(String.format("truncated %s: %s needs %d bytes at offset %d, %d remain",
                    section, field, n, position, body.length - position));
        }
        int at = position;
        position += n;
        return at;
    }

    public int u8(String field) throws SnapshotException {
        return body[need(1, field)] & 0xFF;
    }

    public boolean bool(String field) throws SnapshotException {
        int at = position;
        int v = u8(field);
        if (v > 1) throw malformed(at, field, "is " + v + ", not a boolean (0 or 1)");
        return v == 1;
    }

    public int u16(String field) throws SnapshotException {
        int at = need(2, field);
        return (body[at] & 0xFF) | (body[at + 1] & 0xFF) << 8;
    }

    public int i32(String field) throws SnapshotException {
        int at = need(4, field);
        int v = 0;
        for (int k = 3; k >= 0; k--) v = v << 8 | (body[at + k] & 0xFF);
        return v;
    }

    public long i64(String field) throws SnapshotException {
        int at = need(8, field);
        long v = 0;
        for (int k = 7; k >= 0; k--) v = v << 8 | (body[at + k] & 0xFF);
        return v;
    }

    public void i32s(int[] into, String field) throws SnapshotException {
        for (int k = 0; k < into.length; k++) into[k] = i32(field);
    }

    public void i64s(long[] into, String field) throws SnapshotException {
        for (int k = 0; k < into.length; k++) into[k] = i64(field);
    }

    public void bytes(byte[] into, int offset, int length, String field) throws SnapshotException {
        System.arraycopy(body, need(length, field), into, offset, length);
    }

    public void skip(int length, String field) throws SnapshotException {
        need(length, field);
    }

    public String string(String field) throws SnapshotException {
        int length = u16(field);
        return new String(body, need(length, field), length, StandardCharsets.UTF_8);
    }

    /** Reads an int and checks it lies in {@code [min, max]}. */
    public int i32In(int min, int max, String field) throws SnapshotException {
        int at = position;
        int v = i32(field);
        if (v < min || v > max) throw malformed(at, field, "is " + v + ", outside [" + min + ", " + max + "]");
        return v;
    }

    public int remaining() {
        return body.length - position;
    }

    public int position() {
        return position;
    }

    /** A value that does not make sense, at {@code offset} of this section. */
    public SnapshotException malformed(int offset, String field, String what) {
        return new SnapshotException(String.format("%s is malformed at offset %d: %s %s", section, offset, field, what));
    }

    /** Checks that the whole body was consumed. */
    public void end() throws SnapshotException {
        if (position != body.length) {
            throw new SnapshotException(String.format("%s has %d unexpected bytes after offset %d",
                    section, body.length - position, position));
        }
    }
}
