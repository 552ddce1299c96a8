package org.symbiont.x86.snapshot;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.zip.CRC32C;

/**
 * The snapshot container: a versioned file of named, checksummed sections that the modules fill
 * (the CPU's {@link CpuState}, the guest's {@link MemoryImage}, the VMM's devices and clocks).
 * All integers are little-endian:
 *
 * <pre>
 *   magic    8 bytes  "SYMBSNAP"
 *   version  u32      {@link #VERSION}
 *   count    u32      number of sections
 *   count times:
 *     name    u16 length + UTF-8 bytes (1..255 bytes, each section once)
 *     length  u64      body length
 *     crc     u32      CRC-32C of the name bytes, the 8 length bytes and the body
 *     body    length bytes
 *   end of file
 * </pre>
 *
 * A body is one Java array, so a section holds at most {@link #MAX_SECTION_BYTES}.
 */
public final class SnapshotFormat {
    private SnapshotFormat() {}

    public static final byte[] MAGIC = "SYMBSNAP".getBytes(StandardCharsets.US_ASCII);
    public static final int VERSION = 1;
    public static final int MAX_SECTION_BYTES = Integer.MAX_VALUE - 8;
    private static final int MAX_NAME_BYTES = 255;

    /** One named section. */
    public record Section(String name, byte[] body) {}

    /** Writes {@code sections} as one snapshot. */
    public static void write(OutputStream out, List<Section> sections) throws IOException {
        SectionWriter header = new SectionWriter();
        header.bytes(MAGIC, 0, MAGIC.length).i32(VERSION).i32(sections.size());
        out.write(header.toByteArray());
        Set<String> seen = new HashSet<>();
        for (Section s : sections) {
            byte[] name = s.name().getBytes(StandardCharsets.UTF_8);
            if (name.length == 0 || name.length > MAX_NAME_BYTES) {
                throw new IllegalArgumentException("section name '" + s.name() + "' must have 1 to 255 UTF-8 bytes");
            }
            if (!seen.add(s.name())) throw new IllegalArgumentException("section '" + s.name() + "' given twice");
            SectionWriter h = new SectionWriter().string(s.name()).i64(s.body().length);
            h.i32(crc(name, s.body().length, s.body()));
            out.write(h.toByteArray());
            out.write(s.body());
        }
    }

    /** How many bytes {@link #write} writes for {@code sections}. */
    public static long size(List<Section> sections) {
        long size = MAGIC.length + 4 + 4;
        for (Section s : sections) size += 2 + s.name().getBytes(StandardCharsets.UTF_8).length + 8 + 4 + s.body().length;
        return size;
    }

    public static byte[] toBytes(List<Section> sections) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            write(out, sections);
        } catch (IOException e) {
            throw new IllegalStateException("a byte array stream does not fail", e);
        }
        return out.toByteArray();
    }

    private static int crc(byte[] name, long length, byte[] body) {
        CRC32C c = new CRC32C();
        c.update(name);
        for (int shift = 0; shift < 64; shift += 8) c.update((int) (length >>> shift));
        c.update(body);
        return (int) c.getValue();
    }

    /** Parses and checks a snapshot held in memory; see {@link #read(InputStream, long, Predicate)}. */
    public static Contents read(byte[] data, Predicate<String> knownSection) throws SnapshotException {
        try {
            return read(new java.io.ByteArrayInputStream(data), data.length, knownSection);
        } catch (SnapshotException e) {
            throw e;
        } catch (IOException e) {
            throw new IllegalStateException("a byte array stream does not fail", e);
        }
    }

    /**
     * Reads and checks a snapshot of {@code size} bytes from {@code in}, one section at a time (so
     * a file may be larger than one Java array): magic, version, every section's checksum, no
     * section twice, none that {@code knownSection} rejects, nothing after the last one.
     */
    public static Contents read(InputStream in, long size, Predicate<String> knownSection) throws IOException {
        Input r = new Input(in, size);
        if (size < MAGIC.length) {
            byte[] start = r.bytes((int) size, "header", "magic");
            if (Arrays.equals(start, 0, start.length, MAGIC, 0, start.length)) {
                throw new SnapshotException("truncated snapshot: " + size + " bytes, shorter than the 16-byte header");
            }
            throw new SnapshotException("not a Symbiont snapshot: bad magic (expected \"SYMBSNAP\" in the first 8 bytes)");
        }
        if (!Arrays.equals(r.bytes(MAGIC.length, "header", "magic"), MAGIC)) {
            throw new SnapshotException("not a Symbiont snapshot: bad magic (expected \"SYMBSNAP\" in the first 8 bytes)");
        }
        int version = r.i32("header", "format version");
        if (version != VERSION) {
            throw new SnapshotException("unknown snapshot format version " + Integer.toUnsignedString(version)
                    + " (this build reads version " + VERSION + ")");
        }
        int count = r.i32("header", "section count");
        Map<String, byte[]> sections = new LinkedHashMap<>();
        for (int k = 0; k < Integer.toUnsignedLong(count); k++) {
            long at = r.position;
            String where = "header of section " + k;
            int nameLength = r.u16(where, "name length");
            if (nameLength == 0 || nameLength > MAX_NAME_BYTES) {
                throw new SnapshotException(String.format("malformed %s at offset %d: name length is %d, not 1..255", where, at, nameLength));
            }
            byte[] nameBytes = r.bytes(nameLength, where, "name");
            String name = new String(nameBytes, StandardCharsets.UTF_8);
            long length = r.i64(where, "body length");
            int crc = r.i32(where, "checksum");
            long remain = size - r.position;
            if (length < 0 || length > remain) {
                throw new SnapshotException(String.format("truncated snapshot: section '%s' at offset %d declares %s body bytes, %d remain",
                        name, at, Long.toUnsignedString(length), remain));
            }
            if (length > MAX_SECTION_BYTES) {
                throw new SnapshotException(String.format("section '%s' at offset %d declares %d body bytes, more than a section holds (%d)",
                        name, at, length, MAX_SECTION_BYTES));
            }
            byte[] body = r.bytes((int) length, "section '" + name + "'", "body");
            int actual = crc(nameBytes, length, body);
            if (actual != crc) {
                throw new SnapshotException(String.format("checksum mismatch in section '%s' at offset %d: stored CRC-32C %08x, computed %08x",
                        name, at, crc, actual));
            }
            if (!knownSection.test(name)) throw new SnapshotException("unknown section '" + name + "' at offset " + at);
            if (sections.put(name, body) != null) throw new SnapshotException("section '" + name + "' appears twice (again at offset " + at + ")");
        }
        if (r.position != size) {
            throw new SnapshotException(String.format("%d unexpected bytes after the last of %d sections, at offset %d",
                    size - r.position, Integer.toUnsignedLong(count), r.position));
        }
        return new Contents(Collections.unmodifiableMap(sections));
    }

    /** A snapshot being read: where it is, and truncation named as {@link SectionReader} names it. */
    private static final class Input {
        private final InputStream in;
        private final long size;
        long position;

        Input(InputStream in, long size) {
            this.in = in;
            this.size = size;
        }

        byte[] bytes(int n, String where, String field) throws IOException {
            if (size - position < n) {
                throw new SnapshotException(String.format("truncated %s: %s needs %d bytes at offset %d, %d remain",
                        where, field, n, position, size - position));
            }
            byte[] b = in.readNBytes(n);
            if (b.length < n) {
                throw new SnapshotException(String.format("truncated %s: %s needs %d bytes at offset %d, the file ended after %d",
                        where, field, n, position, b.length));
            }
            position += n;
            return b;
        }

        int u16(String where, String field) throws IOException {
            byte[] b = bytes(2, where, field);
            return (b[0] & 0xFF) | (b[1] & 0xFF) << 8;
        }

        int i32(String where, String field) throws IOException {
            byte[] b = bytes(4, where, field);
            return (b[0] & 0xFF) | (b[1] & 0xFF) << 8 | (b[2] & 0xFF) << 16 | (b[3] & 0xFF) << 24;
        }

        long i64(String where, String field) throws IOException {
            byte[] b = bytes(8, where, field);
            long v = 0;
            for (int k = 7; k >= 0; k--) v = v << 8 | (b[k] & 0xFF);
            return v;
        }
    }

    /** The checked sections of a snapshot, by name, in file order. */
    public record Contents(Map<String, byte[]> sections) {
        /** The body of section {@code name}; a snapshot without it is an error. */
        public byte[] require(String name) throws SnapshotException {
            byte[] body = sections.get(name);
            if (body == null) throw new SnapshotException("section '" + name + "' is missing (the snapshot has " + sections.keySet() + ")");
            return body;
        }
    }
}
