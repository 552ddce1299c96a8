package org.symbiont.devices.virtio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The storage behind a virtual disk: a byte-addressed image of fixed size. Reads and writes are
 * positional and synchronous; a failure is an {@link IOException} the disk reports to the guest
 * as an I/O error.
 */
public interface BlockBackend extends AutoCloseable {
    /** The image size in bytes. */
    long size();

    boolean readOnly();

    void read(long offset, byte[] buffer, int off, int length) throws IOException;

    void write(long offset, byte[] buffer, int off, int length) throws IOException;

    /** Makes written data durable. */
    void flush() throws IOException;

    @Override
    void close() throws IOException;

    /** A disk image file, opened read-write or read-only; its size is the file's. */
    static BlockBackend file(Path path, boolean readOnly) throws IOException {
        FileChannel channel = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new FileDisk(channel, readOnly);
    }

    /** A zero-filled disk of {@code size} bytes in host memory, gone when the VM is. */
    static BlockBackend memory(long size, boolean readOnly) {
        return new MemoryDisk(Arena.ofAuto().allocate(size, 8), readOnly);
    }

    /** An image file through a {@link FileChannel}: positional reads and writes, flush = force. */
    final class FileDisk implements BlockBackend {
        private final FileChannel channel;
        private final boolean readOnly;
        private final long size;

        private FileDisk(FileChannel channel, boolean readOnly) throws IOException {
            this.channel = channel;
            this.readOnly = readOnly;
            this.size = channel.size();
        }

        @Override public long size() { return size; }
        @Override public boolean readOnly() { return readOnly; }

        @Override
        public void read(long offset, byte[] buffer, int off, int length) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(buffer, off, length);
            while (b.hasRemaining()) {
                if (channel.read(b, offset + (b.position() - off)) < 0) {
                    throw new IOException("disk image ends at " + (offset + b.position() - off) + " (truncated while in use?)");
                }
            }
        }

        @Override
        public void write(long offset, byte[] buffer, int off, int length) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(buffer, off, length);
            while (b.hasRemaining()) channel.write(b, offset + (b.position() - off));
        }

        @Override
        public void flush() throws IOException {
            channel.force(false);
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    /**
     * A zero-filled disk of {@code size} bytes at physical address {@code base} of the VM's
     * private memory (from {@link PhysicalMemory#allocatePrivate}), so that the VMM can map its
     * pages into the guest (SwapBypass); every request is told to the VM's {@link PrivateDisks} first.
     */
    static BlockBackend privateMemory(PhysicalMemory memory, long base, long size, boolean readOnly) {
        PrivateDisks disks = PrivateDisks.of(memory);
        disks.added(base, size);
        MemorySegment data = memory.privateRegion().asSlice(base - PhysicalMemory.PRIVATE_BASE, size);
        return new MemoryDisk(data, readOnly) {
            @Override
            public void read(long offset, byte[] buffer, int off, int length) {
                disks.accessed(base + offset, length);
                super.read(offset, buffer, off, length);
            }

            @Override
            public void write(long offset, byte[] buffer, int off, int length) {
                disks.accessed(base + offset, length);
                super.write(offset, buffer, off, length);
            }
        };
    }

    /** A disk held in host memory. */
    class MemoryDisk implements BlockBackend {
        private final MemorySegment data;
        private final boolean readOnly;

        private MemoryDisk(MemorySegment data, boolean readOnly) {
            this.data = data;
            this.readOnly = readOnly;
        }

        @Override public long size() { return data.byteSize(); }
        @Override public boolean readOnly() { return readOnly; }

        @Override
        public void read(long offset, byte[] buffer, int off, int length) {
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, offset, buffer, off, length);
        }

        @Override
        public void write(long offset, byte[] buffer, int off, int length) {
            MemorySegment.copy(buffer, off, data, ValueLayout.JAVA_BYTE, offset, length);
        }

        @Override public void flush() { }
        @Override public void close() { }

        /** Bytes copied at a time when the whole disk is saved or restored. */
        private static final int CHUNK = 1 << 20;

        /**
         * Writes the whole disk to {@code out}: a snapshot's own read of the disk, not a guest
         * request, so nobody watching requests is told of it (SwapBypass drops its mappings of
         * pages the guest reads or writes).
         */
        public void saveContents(SectionWriter out) {
            for (long done = 0; done < data.byteSize(); done += CHUNK) out.bytes(data, done, (int) Math.min(CHUNK, data.byteSize() - done));
        }

        /** Puts back what {@link #saveContents} wrote, likewise not a guest request. */
        public void restoreContents(SectionReader in, String field) throws SnapshotException {
            byte[] chunk = new byte[(int) Math.min(CHUNK, data.byteSize())];
            for (long done = 0; done < data.byteSize(); done += chunk.length) {
                int n = (int) Math.min(chunk.length, data.byteSize() - done);
                in.bytes(chunk, 0, n, field);
                MemorySegment.copy(chunk, 0, data, ValueLayout.JAVA_BYTE, done, n);
            }
        }
    }
}
