package org.symbiont.devices.firmware;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.MachineInfo;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.x86.memory.GuestMemoryException;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * QEMU's firmware configuration device (fw_cfg) on the x86 I/O ports, per QEMU's documented
 * interface (docs/specs/fw_cfg.rst) and, where the document is silent, QEMU's behaviour
 * (hw/nvram/fw_cfg.c), which is what guest drivers (Linux's qemu_fw_cfg, SeaBIOS, OVMF) expect.
 *
 * <p>Ports, relative to {@code iobase} (0x510). Accesses QEMU does not accept (checked against
 * QEMU 7.2) read 0 and write nothing, and never move the data offset.
 * <ul>
 * <li>+0, 16-bit write: the selector. Selecting an item sets the data offset to 0. Bit 14 (the
 *     old write channel) is ignored; bit 15 selects the architecture-specific items, of which
 *     this machine has none (they read as 0). 16-bit writes to +1 and 32-bit writes do not select.
 * <li>+0 or +1, 8-bit read: the next byte of the selected item; past its end, 0. 8-bit writes
 *     are ignored (QEMU removed data-port writes in v2.4).
 * <li>+4..+11 (with DMA): the 64-bit big-endian DMA address register. A 32-bit write to +4 sets
 *     the high half, a 32-bit write to +8 sets the low half and starts the transfer (the guest
 *     writes each half byte-swapped, as {@code outl(bswap32(x))}); other writes are ignored.
 *     Naturally aligned reads return the bytes of "QEMU CFG" at the offsets read.
 * </ul>
 *
 * <p>Items: FW_CFG_SIGNATURE "QEMU", FW_CFG_ID (bit 0 traditional interface, bit 1 DMA),
 * FW_CFG_UUID (the UUID's 16 bytes in the order it is written, as QEMU stores it),
 * FW_CFG_RAM_SIZE (64-bit), FW_CFG_NOGRAPHIC (16-bit), FW_CFG_NB_CPUS (16-bit),
 * FW_CFG_MACHINE_ID (32-bit), FW_CFG_MAX_CPUS (16-bit: the highest APIC ID + 1, as QEMU reports
 * on x86), FW_CFG_FILE_DIR, and the files the VMM adds with {@link #addFile}; numbers are
 * little-endian, the file directory big-endian. Files are kept sorted by name and numbered from
 * FW_CFG_FILE_FIRST in that order, as QEMU does for current machine types.
 *
 * <p>DMA: the {@code FWCfgDmaAccess} structure (big-endian control, length, address) is read from
 * guest memory; SELECT selects the item in the upper 16 bits of control; then READ copies
 * {@code length} bytes of the item to guest memory (zeros past its end), else WRITE copies guest
 * memory into a writable item (an error if it would run past the item's end or the item is
 * read-only), else SKIP advances the offset; then the control word is written back: 0 on
 * success, the error bit on failure (including guest addresses outside RAM).
 *
 * <p>State ({@link Snapshottable}): the selector, the data offset, the DMA address register
 * (its high half may be written and the transfer not started yet) and the contents of the
 * writable files, which the guest may have changed. The items, the files and the directory are
 * configuration: the VMM rebuilds them by constructing the device and adding the same files.
 */
public final class FwCfg implements PortIoDevice, Snapshottable {
    public static final int SIGNATURE = 0x00, ID = 0x01, UUID_KEY = 0x02, RAM_SIZE = 0x03, NOGRAPHIC = 0x04,
            NB_CPUS = 0x05, MACHINE_ID = 0x06, MAX_CPUS = 0x0F, FILE_DIR = 0x19, FILE_FIRST = 0x20;
    /** Bit 15 of a selector: an architecture-specific item. */
    public static final int ARCH_LOCAL = 0x8000;
    /** The longest file name, without the terminating NUL. */
    public static final int MAX_FILE_NAME = 55;

    public static final int DMA_CTL_ERROR = 0x01, DMA_CTL_READ = 0x02, DMA_CTL_SKIP = 0x04, DMA_CTL_SELECT = 0x08,
            DMA_CTL_WRITE = 0x10;
    static final byte[] DMA_SIGNATURE = "QEMU CFG".getBytes(StandardCharsets.US_ASCII);

    private static final int ENTRY_MASK = 0x3FFF;
    private static final int ZERO_CHUNK = 64 * 1024;

    private final String name;
    private final int base;
    private final boolean dma;
    private final List<PortRange> ports;
    private final PhysicalMemory memory;

    /** Numbered generic items (below FILE_FIRST), by selector. */
    private final Map<Integer, Item> fixed = new HashMap<>();
    /** Files by name, in selector order. */
    private final TreeMap<String, Item> files = new TreeMap<>();
    /** The generic items by selector index, rebuilt when a file is added. */
    private Item[] generic = new Item[FILE_FIRST];

    /** The selected key; as in QEMU, a file added later renumbers what a file selector reaches. */
    private int selector;
    private int offset;
    private long dmaAddress;

    /** A data item: its bytes and whether the DMA interface may write them. */
    private static final class Item {
        final byte[] data;
        final boolean writable;

        Item(byte[] data, boolean writable) {
            this.data = data;
            this.writable = writable;
        }
    }

    /**
     * @param uuid       the machine's UUID (FW_CFG_UUID)
     * @param nographic  the FW_CFG_NOGRAPHIC flag (the machine has no display)
     * @param machineId  the FW_CFG_MACHINE_ID value
     */
    public FwCfg(String name, int base, boolean dma, DeviceContext context, UUID uuid, boolean nographic, int machineId) {
        this.name = name;
        this.base = base;
        this.dma = dma;
        this.ports = dma ? List.of(new PortRange(base, 2), new PortRange(base + 4, 8)) : List.of(new PortRange(base, 2));
        this.memory = context.memory();
        MachineInfo m = context.machine();
        int maxApicId = m.apicIds().stream().mapToInt(Integer::intValue).max().orElseThrow();
        putFixed(SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII));
        putFixed(ID, le(4, 1 | (dma ? 2 : 0)));
        putFixed(UUID_KEY, ByteBuffer.allocate(16).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits()).array());
        putFixed(RAM_SIZE, le(8, m.ramBytes()));
        putFixed(NOGRAPHIC, le(2, nographic ? 1 : 0));
        putFixed(NB_CPUS, le(2, m.cpuCount()));
        putFixed(MACHINE_ID, le(4, machineId));
        putFixed(MAX_CPUS, le(2, maxApicId + 1));
        rebuildDirectory();
        reset();
    }

    private static byte[] le(int size, long value) {
        byte[] b = new byte[size];
        for (int k = 0; k < size; k++) b[k] = (byte) (value >>> (8 * k));
        return b;
    }

    private void putFixed(int key, byte[] data) {
        fixed.put(key, new Item(data, false));
    }

    /** Adds a read-only file (e.g. {@code etc/e820}, {@code etc/acpi/rsdp}) to the directory. */
    public void addFile(String fileName, byte[] contents) {
        add(fileName, contents, false);
    }

    /**
     * Adds a file the guest may overwrite in place through DMA writes (QEMU's writable items, such
     * as {@code etc/vmcoreinfo}); {@link #fileContents} reads what the guest wrote.
     */
    public void addWritableFile(String fileName, byte[] contents) {
        add(fileName, contents, true);
    }

    /** The current bytes of a file (a copy), or null when there is no such file. */
    public byte[] fileContents(String fileName) {
        Item f = files.get(fileName);
        return f == null ? null : f.data.clone();
    }

    private void add(String fileName, byte[] contents, boolean writable) {
        byte[] ascii = fileName.getBytes(StandardCharsets.US_ASCII);
        if (fileName.isEmpty() || ascii.length > MAX_FILE_NAME || !new String(ascii, StandardCharsets.US_ASCII).equals(fileName)
                || fileName.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("fw_cfg file name '" + fileName + "' must be 1 to " + MAX_FILE_NAME + " ASCII characters");
        }
        if (files.containsKey(fileName)) throw new IllegalArgumentException("duplicate fw_cfg file name: " + fileName);
        if (FILE_FIRST + files.size() >= ENTRY_MASK) throw new IllegalArgumentException("fw_cfg has no selector left for " + fileName);
        files.put(fileName, new Item(contents.clone(), writable));
        rebuildDirectory();
    }

    /** FW_CFG_FILE_DIR: big-endian count, then per file size, select, reserved, 56-byte name. */
    private void rebuildDirectory() {
        ByteBuffer dir = ByteBuffer.allocate(4 + 64 * files.size()).order(ByteOrder.BIG_ENDIAN);
        dir.putInt(files.size());
        List<Item> byIndex = new ArrayList<>();
        int select = FILE_FIRST;
        for (Map.Entry<String, Item> f : files.entrySet()) {
            byte[] nameBytes = Arrays.copyOf(f.getKey().getBytes(StandardCharsets.US_ASCII), 56);
            dir.putInt(f.getValue().data.length).putShort((short) select++).putShort((short) 0).put(nameBytes);
            byIndex.add(f.getValue());
        }
        fixed.put(FILE_DIR, new Item(dir.array(), false));
        Item[] table = new Item[FILE_FIRST + byIndex.size()];
        for (Map.Entry<Integer, Item> e : fixed.entrySet()) table[e.getKey()] = e.getValue();
        for (int k = 0; k < byIndex.size(); k++) table[FILE_FIRST + k] = byIndex.get(k);
        generic = table;
    }

    @Override public String name() { return name; }
    @Override public List<PortRange> portRanges() { return ports; }

    /** The selector port; the data port is the next one, the DMA register (if any) 4 ports up. */
    public int ioBase() { return base; }
    public boolean dmaEnabled() { return dma; }

    /** As QEMU: the signature item selected, DMA address register cleared. */
    @Override
    public void reset() {
        select(SIGNATURE);
        dmaAddress = 0;
    }

    private void select(int key) {
        selector = key;
        offset = 0;
    }

    /** The selected item, or null: there are no architecture-specific items, and keys past the last file select nothing. */
    private Item current() {
        int index = selector & ENTRY_MASK;
        return (selector & ARCH_LOCAL) != 0 || index >= generic.length ? null : generic[index];
    }

    @Override
    public long ioRead(int port, int size) {
        int rel = port - base;
        if ((rel == 0 || rel == 1) && size == 1) return readDataByte();
        if (dma && rel >= 4 && rel - 4 + size <= 8 && (rel - 4) % size == 0) {
            long v = 0;
            for (int k = 0; k < size; k++) v |= (DMA_SIGNATURE[rel - 4 + k] & 0xFFL) << (8 * k);
            return v;
        }
        return 0;
    }

    private int readDataByte() {
        Item current = current();
        if (current == null || offset >= current.data.length) return 0;
        return current.data[offset++] & 0xFF;
    }

    @Override
    public void ioWrite(int port, int size, long value) {
        int rel = port - base;
        if (rel == 0 && size == 2) {
            select((int) value & 0xFFFF);
        } else if (dma && size == 4 && rel == 4) {
            dmaAddress = (Integer.reverseBytes((int) value) & 0xFFFF_FFFFL) << 32;
        } else if (dma && size == 4 && rel == 8) {
            dmaAddress |= Integer.reverseBytes((int) value) & 0xFFFF_FFFFL;
            long descriptor = dmaAddress;
            dmaAddress = 0;
            transfer(descriptor);
        }
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    /** Selector (u16), data offset, DMA address register, then each writable file's name and contents, in name order. */
    @Override
    public void saveState(SectionWriter out) {
        out.u16(selector).i32(offset).i64(dmaAddress);
        List<Map.Entry<String, Item>> writable = writableFiles();
        out.i32(writable.size());
        for (Map.Entry<String, Item> f : writable) {
            out.string(f.getKey()).bytes(f.getValue().data, 0, f.getValue().data.length);
        }
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        selector = in.u16("selector");
        Item current = current();
        offset = in.i32In(0, current == null ? 0 : current.data.length, "data offset");
        int at = in.position();
        long address = in.i64("DMA address");
        if ((address & 0xFFFF_FFFFL) != 0 || !dma && address != 0) {
            throw in.malformed(at, "DMA address", String.format("is %#x, not a high half awaiting its low half", address));
        }
        dmaAddress = address;
        List<Map.Entry<String, Item>> writable = writableFiles();
        in.i32In(writable.size(), writable.size(), "writable file count");
        for (Map.Entry<String, Item> f : writable) {
            at = in.position();
            String fileName = in.string("writable file name");
            if (!fileName.equals(f.getKey())) {
                throw in.malformed(at, "writable file name", "is '" + fileName + "', this machine's next writable file is '" + f.getKey() + "'");
            }
            byte[] data = f.getValue().data;
            in.bytes(data, 0, data.length, "contents of " + fileName);
        }
    }

    private List<Map.Entry<String, Item>> writableFiles() {
        return files.entrySet().stream().filter(f -> f.getValue().writable).toList();
    }

    /** One DMA operation on the {@code FWCfgDmaAccess} at {@code descriptor}. */
    private void transfer(long descriptor) {
        int control;
        long length;
        long address;
        try {
            control = Integer.reverseBytes((int) memory.readU32(descriptor));
            length = Integer.reverseBytes((int) memory.readU32(descriptor + 4)) & 0xFFFF_FFFFL;
            address = Long.reverseBytes(memory.readU64(descriptor + 8));
        } catch (GuestMemoryException e) {
            writeControl(descriptor, DMA_CTL_ERROR);
            return;
        }
        if ((control & DMA_CTL_SELECT) != 0) select(control >>> 16);
        Item current = current();
        boolean read = (control & DMA_CTL_READ) != 0;
        boolean write = !read && (control & DMA_CTL_WRITE) != 0;
        boolean skip = !read && !write && (control & DMA_CTL_SKIP) != 0;
        if (!read && !write && !skip) length = 0;
        int result = 0;
        while (length > 0 && result == 0) {
            long chunk;
            if (current == null || offset >= current.data.length) {
                chunk = length;
                if (read && !fillZero(address, chunk)) result = DMA_CTL_ERROR;
                if (write) result = DMA_CTL_ERROR;
            } else {
                chunk = Math.min(length, current.data.length - offset);
                if (read && !copyToGuest(address, current.data, offset, (int) chunk)) result = DMA_CTL_ERROR;
                if (write && (!current.writable || chunk != length || !copyFromGuest(address, current.data, offset, (int) chunk))) {
                    result = DMA_CTL_ERROR;
                }
                offset += (int) chunk;
            }
            address += chunk;
            length -= chunk;
        }
        writeControl(descriptor, result);
    }

    private boolean copyToGuest(long address, byte[] data, int from, int count) {
        try {
            memory.write(address, data, from, count);
            return true;
        } catch (GuestMemoryException e) {
            return false;
        }
    }

    private boolean copyFromGuest(long address, byte[] data, int to, int count) {
        try {
            memory.read(address, data, to, count);
            return true;
        } catch (GuestMemoryException e) {
            return false;
        }
    }

    private boolean fillZero(long address, long count) {
        if (address < 0 || count > memory.size() || address > memory.size() - count) return false;
        byte[] zeros = new byte[(int) Math.min(count, ZERO_CHUNK)];
        for (long done = 0; done < count; done += zeros.length) {
            memory.write(address + done, zeros, 0, (int) Math.min(zeros.length, count - done));
        }
        return true;
    }

    private void writeControl(long descriptor, int control) {
        try {
            memory.writeU32(descriptor, Integer.reverseBytes(control) & 0xFFFF_FFFFL);
        } catch (GuestMemoryException e) {
            // The descriptor itself lies outside RAM: there is nowhere to report the error (QEMU's store fails too).
        }
    }

    /**
     * {@code type = fw_cfg}. Parameters: {@code iobase} (default 0x510), {@code dma} (default
     * true: the DMA register at iobase + 4), {@code uuid} (default all zeros, QEMU's default),
     * {@code nographic} (default true: Symbiont has no display), {@code machine-id} (default 0).
     */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "fw_cfg"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            int base = params.hasPath("iobase") ? params.getInt("iobase") : 0x510;
            boolean dma = !params.hasPath("dma") || params.getBoolean("dma");
            if (base < 0 || base + (dma ? 12 : 2) > 0x10000) {
                throw new ConfigException.BadValue(params.origin(), "iobase", String.format("must leave room for the ports below 0x10000, got %#x", base));
            }
            UUID uuid = new UUID(0, 0);
            if (params.hasPath("uuid")) {
                try {
                    uuid = UUID.fromString(params.getString("uuid"));
                } catch (IllegalArgumentException e) {
                    throw new ConfigException.BadValue(params.origin(), "uuid", "must be a UUID like 12345678-9abc-def0-1234-56789abcdef0, got '" + params.getString("uuid") + "'");
                }
            }
            boolean nographic = !params.hasPath("nographic") || params.getBoolean("nographic");
            int machineId = params.hasPath("machine-id") ? params.getInt("machine-id") : 0;
            return new FwCfg(name, base, dma, context, uuid, nographic, machineId);
        }
    }
}
