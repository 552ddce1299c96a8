package org.symbiont.devices.virtio;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.OptionalInt;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A virtio block device (virtio 1.x section 5.2, legacy interface; PCI device 1001h, class
 * 010000h as QEMU's virtio-blk-pci) on the {@link VirtioPciDevice} transport, with one request
 * queue of {@value #QUEUE_SIZE} entries.
 *
 * <p>Configuration (24 bytes): capacity in 512-byte sectors (u64), size_max (u32, not offered:
 * 0), seg_max (u32: queue size − 2, as QEMU), geometry (not offered: 0), blk_size (u32: 512).
 * Features offered: VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, and
 * VIRTIO_BLK_F_RO for a read-only disk.
 *
 * <p>A request is a 16-byte header (type u32, reserved u32, sector u64) in the readable bytes,
 * then data (readable for writes, writable for reads), and a status byte as the last writable
 * byte. Types: VIRTIO_BLK_T_IN (read: the writable bytes before the status, a multiple of 512,
 * must lie within the capacity), VIRTIO_BLK_T_OUT (write: the readable bytes after the header,
 * likewise; I/O error on a read-only disk), VIRTIO_BLK_T_FLUSH (the back end makes writes
 * durable), VIRTIO_BLK_T_GET_ID (up to 20 bytes of the serial, NUL-padded). Status
 * VIRTIO_BLK_S_OK, S_IOERR (out of range, not a whole number of sectors, read-only, back end
 * failure) or S_UNSUPP (other types). The used length is the bytes written: data and status.
 * A chain without a full header or without a writable status byte is a driver violation (the
 * device stops until reset, as QEMU does).
 *
 * <p>Disk I/O happens synchronously when the queue is processed: in virtual time a request
 * completes the instant the driver notifies, with no modelled latency.
 *
 * <p>State, after the transport's: whether the disk's contents are saved, then the contents of
 * a memory-backed disk ({@code size}), which exist nowhere else. A file-backed disk's image is
 * external: it is not saved, and the VMM must restore with the image as it was at the snapshot.
 */
public final class VirtioBlock extends VirtioPciDevice implements AutoCloseable {
    public static final int PCI_DEVICE_ID = 0x1001;
    public static final int VIRTIO_ID = 2;
    public static final int QUEUE_SIZE = 256;
    public static final int SECTOR = 512;
    public static final int ID_BYTES = 20;

    public static final int F_SEG_MAX = 2;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;

    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;

    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    private static final int HEADER = 16;
    private static final int CONFIG_SIZE = 24;

    private final BlockBackend disk;
    private final long capacity;
    private final byte[] id;
    private final byte[] configBytes = new byte[CONFIG_SIZE];
    private final byte[] header = new byte[HEADER];
    private final byte[] scratch = new byte[64 * 1024];

    /**
     * A disk over {@code disk} (its size rounded down to whole sectors) whose GET_ID answers
     * {@code serial} (at most 20 ASCII bytes).
     */
    public VirtioBlock(String name, DeviceContext context, BlockBackend disk, String serial, OptionalInt slot) {
        super(name, context, PCI_DEVICE_ID, VIRTIO_ID, 0x010000, CONFIG_SIZE, new int[] {QUEUE_SIZE}, slot);
        this.disk = disk;
        this.capacity = disk.size() / SECTOR;
        this.id = serial.getBytes(StandardCharsets.US_ASCII);
        if (id.length > ID_BYTES) throw new IllegalArgumentException("a virtio-blk serial has at most 20 bytes: " + serial);
        ByteBuffer b = ByteBuffer.wrap(configBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, capacity);
        b.putInt(12, QUEUE_SIZE - 2);
        b.putInt(20, SECTOR);
    }

    /** The storage behind the disk (fault injection corrupts sectors in it). */
    public BlockBackend backend() {
        return disk;
    }

    /** The disk size in 512-byte sectors. */
    public long capacity() {
        return capacity;
    }

    @Override
    protected int deviceFeatures() {
        return 1 << F_SEG_MAX | 1 << F_BLK_SIZE | 1 << F_FLUSH | (disk.readOnly() ? 1 << F_RO : 0);
    }

    @Override
    protected int readConfig(int offset) {
        return configBytes[offset] & 0xFF;
    }

    @Override
    protected void resetDevice() { }

    @Override
    protected void processQueue(int index) {
        Virtqueue q = queue(index);
        int oldUsed = q.usedIndex();
        try {
            Chain chain;
            while ((chain = q.pop()) != null) q.push(chain.head(), handle(chain));
        } finally {
            usedBuffers(q, oldUsed);
        }
    }

    /** Carries out one request; returns the bytes written into the chain. */
    private int handle(Chain chain) {
        PhysicalMemory memory = context.memory();
        if (chain.readableLength() < HEADER || chain.writableLength() < 1) {
            throw new VirtqueueException("block request without its 16-byte header or status byte");
        }
        chain.read(memory, 0, header, 0, HEADER);
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        int type = h.getInt(0);
        long sector = h.getLong(8);
        long statusAt = chain.writableLength() - 1;
        long written = 1;
        int status;
        switch (type) {
            case T_IN -> {
                status = inRange(sector, statusAt) ? transferIn(chain, sector, statusAt) : S_IOERR;
                if (status == S_OK) written += statusAt;
            }
            case T_OUT -> {
                long length = chain.readableLength() - HEADER;
                status = disk.readOnly() || !inRange(sector, length) ? S_IOERR : transferOut(chain, sector, length);
            }
            case T_FLUSH -> status = flush();
            case T_GET_ID -> {
                int n = (int) Math.min(ID_BYTES, statusAt);
                chain.write(memory, 0, Arrays.copyOf(id, n), 0, n);
                written += n;
                status = S_OK;
            }
            default -> status = S_UNSUPP;
        }
        header[0] = (byte) status;
        chain.write(memory, statusAt, header, 0, 1);
        return (int) Math.min(written, 0xFFFF_FFFFL);
    }

    private boolean inRange(long sector, long length) {
        return length % SECTOR == 0 && Long.compareUnsigned(sector, capacity) <= 0 && length / SECTOR <= capacity - sector;
    }

    private int transferIn(Chain chain, long sector, long length) {
        try {
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(scratch.length, length - done);
                disk.read(sector * SECTOR + done, scratch, 0, n);
                chain.write(context.memory(), done, scratch, 0, n);
                done += n;
            }
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    private int transferOut(Chain chain, long sector, long length) {
        try {
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(scratch.length, length - done);
                chain.read(context.memory(), HEADER + done, scratch, 0, n);
                disk.write(sector * SECTOR + done, scratch, 0, n);
                done += n;
            }
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    private int flush() {
        try {
            disk.flush();
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    @Override
    protected void saveDeviceState(SectionWriter out) {
        out.bool(disk instanceof BlockBackend.MemoryDisk);
        if (disk instanceof BlockBackend.MemoryDisk memoryDisk) memoryDisk.saveContents(out);
    }

    @Override
    protected void restoreDeviceState(SectionReader in) throws SnapshotException {
        boolean inMemory = disk instanceof BlockBackend.MemoryDisk;
        int at = in.position();
        if (in.bool("disk contents saved") != inMemory) {
            throw in.malformed(at, "disk contents saved", "disagrees with this disk, which is " + (inMemory ? "memory" : "file") + "-backed");
        }
        if (disk instanceof BlockBackend.MemoryDisk memoryDisk) memoryDisk.restoreContents(in, "disk contents");
    }

    /** Closes the back end (the image file); the VMM calls it when the VM is gone. */
    @Override
    public void close() throws IOException {
        disk.close();
    }

    /**
     * {@code type = virtio-blk}, parameters: exactly one of {@code file} (a disk image path) and
     * {@code size} (a memory-backed disk, e.g. {@code 64M}, a multiple of 512); {@code read-only}
     * (default false); {@code serial} (up to 20 ASCII characters, default the instance name cut
     * to 20); {@code pci-slot} (1-31, default any free slot).
     */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "virtio-blk"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            boolean hasFile = params.hasPath("file");
            if (hasFile == params.hasPath("size")) {
                throw new ConfigException.BadValue(params.origin(), "file",
                        "give exactly one of 'file' (a disk image) and 'size' (a memory-backed disk)");
            }
            boolean readOnly = params.hasPath("read-only") && params.getBoolean("read-only");
            String serial = params.hasPath("serial") ? params.getString("serial") : name.substring(0, Math.min(name.length(), ID_BYTES));
            if (serial.length() > ID_BYTES || !serial.chars().allMatch(c -> c >= 0x20 && c < 0x7F)) {
                throw new ConfigException.BadValue(params.origin(), "serial", "must be at most 20 printable ASCII characters, got '" + serial + "'");
            }
            OptionalInt slot = pciSlot(params);
            BlockBackend disk;
            if (hasFile) {
                Path path = Path.of(params.getString("file"));
                try {
                    disk = BlockBackend.file(path, readOnly);
                } catch (IOException | RuntimeException e) {
                    throw new ConfigException.BadValue(params.origin(), "file",
                            "cannot open " + path + (readOnly ? " read-only" : " read-write") + ": " + e);
                }
                if (disk.size() < SECTOR) {
                    try {
                        disk.close();
                    } catch (IOException ignored) {
                        // the image is rejected either way
                    }
                    throw new ConfigException.BadValue(params.origin(), "file", path + " is smaller than one 512-byte sector");
                }
            } else {
                long size = params.getBytes("size");
                if (size < SECTOR || size % SECTOR != 0) {
                    throw new ConfigException.BadValue(params.origin(), "size", "must be a positive multiple of 512 bytes, got " + size);
                }
                // In VMM-private memory when the VM reserved it for its disks (SwapBypass).
                long base = size % PhysicalMemory.PAGE_SIZE == 0 ? context.memory().allocatePrivate(size) : -1;
                disk = base >= 0 ? BlockBackend.privateMemory(context.memory(), base, size, readOnly)
                        : BlockBackend.memory(size, readOnly);
            }
            return new VirtioBlock(name, context, disk, serial, slot);
        }
    }
}
