package org.symbiont.devices.virtio;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.virtio.LegacyDriver.Buf.in;
import static org.symbiont.devices.virtio.LegacyDriver.Buf.out;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.devices.pci.PciConfigSpace;
import org.symbiont.devices.pci.PciHost;
import org.symbiont.x86.memory.PhysicalMemory;

/** virtio-blk driven the way a legacy guest driver drives it. */
class VirtioBlockTest {
    static final long QUEUE = 0x10000;
    static final long HEADER = 0x100000;
    static final long STATUS = 0x180000;
    static final long DATA = 0x200000;
    static final long DATA2 = 0x400000;
    static final int IO = 0xC000;
    static final int SLOT = 3;
    static final int GSI = 11;
    static final int ALL_FEATURES = -1;

    final TestDeviceContext ctx = new TestDeviceContext();
    final PhysicalMemory memory = ctx.memory();
    int lastUsedLength;
    LegacyDriver driver;

    @AfterEach
    void close() {
        ctx.close();
    }

    VirtioBlock create(String params) {
        return (VirtioBlock) DeviceRegistry.load().factory("virtio-blk").create("disk0", ConfigFactory.parseString(params), ctx);
    }

    /** A disk plugged into a host bridge at slot 3 (INTA# -> GSI 11), its BAR0 at 0xC000. */
    LegacyDriver plugged(VirtioBlock disk) {
        PciHost host = new PciHost("pci", PciHost.DEFAULT_PIRQ_GSIS, ctx);
        host.plug(SLOT, disk);
        return new LegacyDriver(disk, memory, IO);
    }

    /** A running driver: negotiated {@code features}, queue 0 set up, DRIVER_OK. */
    LegacyDriver.Ring running(LegacyDriver driver, int features) {
        return running(driver, features, QUEUE);
    }

    LegacyDriver.Ring running(LegacyDriver driver, int features, long queue) {
        driver.negotiate(features);
        LegacyDriver.Ring q = driver.setupQueue(0, queue);
        driver.driverOk();
        return q;
    }

    /** A request as Linux's virtio_blk builds it: header, data, status. Returns the status byte. */
    int request(LegacyDriver.Ring q, int type, long sector, long data, int length, boolean deviceWrites) {
        memory.writeU32(HEADER, type);
        memory.writeU32(HEADER + 4, 0);
        memory.writeU64(HEADER + 8, sector);
        memory.writeU8(STATUS, 0xFF);
        if (length > 0) q.add(in(HEADER, 16), new LegacyDriver.Buf(data, length, deviceWrites), out(STATUS, 1));
        else q.add(in(HEADER, 16), out(STATUS, 1));
        q.kick();
        LegacyDriver.Used used = q.takeUsed();
        assertNotNull(used, "the request completed when notified");
        assertNull(q.takeUsed());
        lastUsedLength = used.length();
        return memory.readU8(STATUS);
    }

    static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte) (i * 7 + seed);
        return b;
    }

    @Test
    void negotiationAndConfiguration() {
        VirtioBlock disk = create("size = 1M");
        LegacyDriver d = plugged(disk);
        assertEquals(List.of(new PortRange(IO, 64)), disk.portRanges(), "header + 24 bytes of configuration, rounded up");
        int offered = d.negotiate(1 << VirtioBlock.F_BLK_SIZE | 1 << VirtioPciDevice.F_RING_INDIRECT_DESC | 1 << 30);
        assertEquals(1 << VirtioBlock.F_SEG_MAX | 1 << VirtioBlock.F_BLK_SIZE | 1 << VirtioBlock.F_FLUSH
                | 1 << VirtioPciDevice.F_ANY_LAYOUT | 1 << VirtioPciDevice.F_RING_INDIRECT_DESC
                | 1 << VirtioPciDevice.F_RING_EVENT_IDX, offered);
        assertEquals(1 << VirtioBlock.F_BLK_SIZE | 1 << VirtioPciDevice.F_RING_INDIRECT_DESC, d.read(VirtioPciDevice.GUEST_FEATURES, 4),
                "features not offered are not accepted");
        assertEquals(VirtioPciDevice.STATUS_ACKNOWLEDGE | VirtioPciDevice.STATUS_DRIVER, d.read(VirtioPciDevice.DEVICE_STATUS, 1));

        assertEquals(2048, d.read(VirtioPciDevice.DEVICE_CONFIG, 4) | d.read(VirtioPciDevice.DEVICE_CONFIG + 4, 4) << 32, "capacity in sectors");
        assertEquals(254, d.read(VirtioPciDevice.DEVICE_CONFIG + 12, 4), "seg_max");
        assertEquals(512, d.read(VirtioPciDevice.DEVICE_CONFIG + 20, 4), "blk_size");
        assertEquals(0x08, d.read(VirtioPciDevice.DEVICE_CONFIG + 1, 1), "configuration is byte-addressable");
        assertEquals(0xFFFF_FF00L, d.read(VirtioPciDevice.DEVICE_CONFIG + 23, 4), "past its end reads FFh");
        d.write(VirtioPciDevice.DEVICE_CONFIG, 4, 0);
        assertEquals(2048, d.read(VirtioPciDevice.DEVICE_CONFIG, 4), "read-only");

        d.write(VirtioPciDevice.QUEUE_SELECT, 2, 1);
        assertEquals(0, d.read(VirtioPciDevice.QUEUE_SIZE, 2), "there is one queue");
        d.write(VirtioPciDevice.QUEUE_PFN, 4, 0x55);
        assertEquals(0, d.read(VirtioPciDevice.QUEUE_PFN, 4));
        d.write(VirtioPciDevice.QUEUE_SELECT, 2, 0);
        assertEquals(256, d.read(VirtioPciDevice.QUEUE_SIZE, 2));
        d.write(VirtioPciDevice.QUEUE_SIZE, 2, 16);
        assertEquals(256, d.read(VirtioPciDevice.QUEUE_SIZE, 2), "queue size is read-only in the legacy interface");
        d.write(VirtioPciDevice.QUEUE_PFN, 4, QUEUE >>> 12);
        d.write(VirtioPciDevice.HOST_FEATURES, 4, 0);
        assertEquals(offered, d.read(VirtioPciDevice.HOST_FEATURES, 4));
        assertEquals(0xFFFF_FFFFL, d.read(0x01, 4), "inside a register: all ones");
        assertEquals(0xFFFFL, d.read(0x02, 2));
        assertEquals(0xFF, d.read(0x11, 1));
        assertEquals(offered & 0xFFFF, d.read(VirtioPciDevice.HOST_FEATURES, 2), "a narrow read takes the low bytes");

        d.write(VirtioPciDevice.DEVICE_STATUS, 1, 0);
        assertEquals(0, d.read(VirtioPciDevice.GUEST_FEATURES, 4), "reset clears the features");
        assertEquals(0, d.read(VirtioPciDevice.QUEUE_PFN, 4), "and the queues");
        assertEquals(0, d.read(VirtioPciDevice.DEVICE_STATUS, 1));
    }

    @Test
    void writesAndReadsThroughTheQueue() {
        VirtioBlock disk = create("size = 1M");
        LegacyDriver.Ring q = running(plugged(disk), ALL_FEATURES);
        byte[] data = pattern(1024, 3);
        memory.write(DATA, data);
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_OUT, 5, DATA, 1024, false));
        assertEquals(1, lastUsedLength, "a write returns only the status byte");

        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_IN, 5, DATA2, 1024, true));
        assertEquals(1025, lastUsedLength, "data and status written");
        assertArrayEquals(data, memory.read(DATA2, 1024));

        // Sector 6 alone, read into a chain split unevenly, as VIRTIO_F_ANY_LAYOUT allows.
        memory.writeU32(HEADER, VirtioBlock.T_IN);
        memory.writeU64(HEADER + 8, 6);
        q.add(in(HEADER, 10), in(HEADER + 10, 6), out(DATA2 + 0x10000, 100), out(DATA2 + 0x20000, 412), out(STATUS, 1));
        q.kick();
        assertEquals(513, q.takeUsed().length());
        assertEquals(VirtioBlock.S_OK, memory.readU8(STATUS));
        assertArrayEquals(Arrays.copyOfRange(data, 512, 612), memory.read(DATA2 + 0x10000, 100));
        assertArrayEquals(Arrays.copyOfRange(data, 612, 1024), memory.read(DATA2 + 0x20000, 412));

        // A write whose header and data share one descriptor, its status in the same buffer as more space.
        memory.write(HEADER + 16, pattern(512, 9));
        memory.writeU32(HEADER, VirtioBlock.T_OUT);
        memory.writeU64(HEADER + 8, 2047);
        q.add(in(HEADER, 16 + 512), out(STATUS, 1));
        q.kick();
        assertEquals(1, q.takeUsed().length());
        assertEquals(VirtioBlock.S_OK, memory.readU8(STATUS));
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_IN, 2047, DATA2, 512, true), "the last sector");
        assertArrayEquals(pattern(512, 9), memory.read(DATA2, 512));

        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_IN, 100, DATA2, 512, true));
        assertArrayEquals(new byte[512], memory.read(DATA2, 512), "a memory disk starts zeroed");
        assertFalse(disk.isBroken());
        assertEquals(0, disk.errors());
    }

    @Test
    void flushGetIdAndUnsupportedRequests() {
        VirtioBlock disk = create("size = 64K, serial = \"SN-0042\"");
        LegacyDriver.Ring q = running(plugged(disk), ALL_FEATURES);
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false));
        assertEquals(1, lastUsedLength);

        memory.write(DATA, pattern(32, 1));
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_GET_ID, 0, DATA, 20, true));
        assertEquals(21, lastUsedLength);
        byte[] id = Arrays.copyOf("SN-0042".getBytes(StandardCharsets.US_ASCII), 20);
        assertArrayEquals(id, memory.read(DATA, 20), "NUL-padded to 20 bytes");
        assertEquals((byte) (20 * 7 + 1), memory.read(DATA + 20, 1)[0], "nothing past the buffer");

        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_GET_ID, 0, DATA2, 4, true));
        assertEquals(5, lastUsedLength);
        assertEquals("SN-0", new String(memory.read(DATA2, 4), StandardCharsets.US_ASCII));

        assertEquals(VirtioBlock.S_UNSUPP, request(q, 2, 0, DATA, 512, true), "legacy SCSI commands are not supported");
        assertEquals(1, lastUsedLength);
        assertEquals(VirtioBlock.S_UNSUPP, request(q, 11, 0, 0, 0, false));

        VirtioBlock named = (VirtioBlock) DeviceRegistry.load().factory("virtio-blk")
                .create("a-disk-with-a-rather-long-name", ConfigFactory.parseString("size = 4K"), ctx);
        LegacyDriver.Ring q2 = running(new LegacyDriver(named, memory, 0xD000), ALL_FEATURES, 0x20000);
        assertEquals(VirtioBlock.S_OK, request(q2, VirtioBlock.T_GET_ID, 0, DATA, 20, true));
        assertEquals("a-disk-with-a-rather", new String(memory.read(DATA, 20), StandardCharsets.US_ASCII), "the name, cut to 20");
    }

    @Test
    void readOnlyDisksAdvertiseItAndFailWrites() {
        VirtioBlock disk = create("size = 8K, read-only = true");
        LegacyDriver d = plugged(disk);
        int offered = d.negotiate(ALL_FEATURES);
        assertNotEquals(0, offered & 1 << VirtioBlock.F_RO);
        LegacyDriver.Ring q = d.setupQueue(0, QUEUE);
        d.driverOk();
        memory.write(DATA, pattern(512, 5));
        assertEquals(VirtioBlock.S_IOERR, request(q, VirtioBlock.T_OUT, 1, DATA, 512, false));
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_IN, 1, DATA2, 512, true));
        assertArrayEquals(new byte[512], memory.read(DATA2, 512), "the write did not happen");
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false));
        assertFalse(disk.isBroken());
    }

    @Test
    void outOfRangeAndPartialSectorRequestsAreIoErrors() {
        VirtioBlock disk = create("size = 16K");
        assertEquals(32, disk.capacity());
        LegacyDriver.Ring q = running(plugged(disk), ALL_FEATURES);
        memory.write(DATA2, pattern(2048, 8));
        assertEquals(VirtioBlock.S_IOERR, request(q, VirtioBlock.T_IN, 32, DATA2, 512, true), "just past the end");
        assertEquals(1, lastUsedLength, "nothing but the status written");
        assertArrayEquals(pattern(2048, 8), memory.read(DATA2, 2048));
        assertEquals(VirtioBlock.S_IOERR, request(q, VirtioBlock.T_IN, 31, DATA2, 1024, true), "straddling the end");
        assertEquals(VirtioBlock.S_IOERR, request(q, VirtioBlock.T_OUT, 31, DATA2, 1024, false));
        assertEquals(VirtioBlock.S_IOERR, request(q, VirtioBlock.T_IN, -1L, DATA2, 512, true), "sector 2^64 - 1");
        assertEquals(VirtioBlock.S_IOERR, request(q, VirtioBlock.T_IN, Long.MAX_VALUE, DATA2, 512, true));
        assertEquals(VirtioBlock.S_IOERR, request(q, VirtioBlock.T_IN, 0, DATA2, 100, true), "not whole sectors");
        assertEquals(VirtioBlock.S_IOERR, request(q, VirtioBlock.T_OUT, 0, DATA2, 513, false));
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_OUT, 31, DATA2, 512, false), "the last sector is fine");
        assertFalse(disk.isBroken(), "I/O errors are answers, not violations");
    }

    @Test
    void interruptsAreLevelTriggeredOnTheRoutedGsiUntilTheIsrIsRead() {
        VirtioBlock disk = create("size = 64K");
        LegacyDriver d = plugged(disk);
        LegacyDriver.Ring q = running(d, ALL_FEATURES & ~(1 << VirtioPciDevice.F_RING_EVENT_IDX));
        TestDeviceContext.Line line = ctx.line(GSI);
        assertFalse(line.level);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertTrue(line.level, "INTA# of slot 3 is GSI 11");
        assertEquals(PciConfigSpace.STATUS_INTERRUPT, disk.configRead(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertEquals(1, line.rises, "still asserted");
        assertEquals(VirtioPciDevice.ISR_QUEUE, d.isr());
        assertFalse(line.level, "reading the ISR deasserts INTx");
        assertEquals(0, d.isr(), "and clears it");
        assertEquals(0, disk.configRead(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT);

        q.suppressInterrupts(true);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertFalse(line.level, "VRING_AVAIL_F_NO_INTERRUPT");
        assertEquals(0, d.isr());
        q.suppressInterrupts(false);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertTrue(line.level);

        d.write(VirtioPciDevice.DEVICE_STATUS, 1, 0);
        assertFalse(line.level, "a reset withdraws the interrupt");
        assertEquals(0, d.isr());
    }

    @Test
    void eventIndexSuppressesInterruptsUntilTheDriversMark() {
        VirtioBlock disk = create("size = 64K");
        LegacyDriver d = plugged(disk);
        LegacyDriver.Ring q = running(d, 1 << VirtioPciDevice.F_RING_EVENT_IDX);
        TestDeviceContext.Line line = ctx.line(GSI);
        q.suppressInterrupts(true);
        q.usedEvent(0);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertTrue(line.level, "used index passed 0: the flag is ignored with EVENT_IDX");
        assertEquals(1, q.availEvent(), "the device asks to be notified at the next available index");
        d.isr();
        q.usedEvent(3);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertFalse(line.level, "used index 2, 3: entry 3 not used yet");
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertTrue(line.level, "used index 4: entry 3 (used_event) was used");
        assertEquals(4, q.availEvent());

        // Two requests in one notification: one interrupt decision for both.
        d.isr();
        q.usedEvent(4);
        memory.writeU32(HEADER, VirtioBlock.T_FLUSH);
        q.add(in(HEADER, 16), out(STATUS, 1));
        q.add(in(HEADER, 16), out(STATUS + 1, 1));
        q.kick();
        assertEquals(6, q.usedIndex());
        assertTrue(line.level, "the batch used entry 4");
        assertNotNull(q.takeUsed());
        assertNotNull(q.takeUsed());
        d.isr();
        q.usedEvent(10);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertFalse(line.level, "used index 7: entry 10 is far off");
        q.usedEvent(6);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertFalse(line.level, "used index 8: entry 6 was used before this batch, no new interrupt");
        q.usedEvent(8);
        request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertTrue(line.level, "used index 9: entry 8 used now");
    }

    @Test
    void indirectDescriptors() {
        VirtioBlock disk = create("size = 64K");
        LegacyDriver d = plugged(disk);
        LegacyDriver.Ring q = running(d, 1 << VirtioPciDevice.F_RING_INDIRECT_DESC);
        memory.write(DATA, pattern(1024, 2));
        long table = 0x500000;
        memory.writeU32(HEADER, VirtioBlock.T_OUT);
        memory.writeU64(HEADER + 8, 10);
        q.descriptor(table, 0, HEADER, 16, Virtqueue.DESC_F_NEXT, 1);
        q.descriptor(table, 1, DATA, 512, Virtqueue.DESC_F_NEXT, 2);
        q.descriptor(table, 2, DATA + 512, 512, Virtqueue.DESC_F_NEXT, 3);
        q.descriptor(table, 3, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        q.descriptor(q.descriptors, 7, table, 4 * 16, Virtqueue.DESC_F_INDIRECT, 0);
        q.publish(7);
        q.kick();
        assertEquals(new LegacyDriver.Used(7, 1), q.takeUsed());
        assertEquals(VirtioBlock.S_OK, memory.readU8(STATUS));
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_IN, 10, DATA2, 1024, true));
        assertArrayEquals(pattern(1024, 2), memory.read(DATA2, 1024));
        assertFalse(disk.isBroken());
    }

    @Test
    void requestsWaitForDriverOkAndBusMastering() {
        VirtioBlock disk = create("size = 64K");
        LegacyDriver d = plugged(disk);
        d.negotiate(ALL_FEATURES);
        LegacyDriver.Ring q = d.setupQueue(0, QUEUE);
        memory.writeU32(HEADER, VirtioBlock.T_FLUSH);
        q.add(in(HEADER, 16), out(STATUS, 1));
        q.kick();
        assertNull(q.takeUsed(), "no buffers consumed before DRIVER_OK");
        d.driverOk();
        assertNotNull(q.takeUsed(), "DRIVER_OK processes what was made available");

        disk.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_IO);
        q.add(in(HEADER, 16), out(STATUS, 1));
        q.kick();
        assertNull(q.takeUsed(), "no DMA without bus mastering");
        disk.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_BUS_MASTER);
        assertNotNull(q.takeUsed(), "enabling bus mastering lets the device catch up");

        d.write(VirtioPciDevice.DEVICE_STATUS, 1, d.read(VirtioPciDevice.DEVICE_STATUS, 1) | VirtioPciDevice.STATUS_FAILED);
        q.add(in(HEADER, 16), out(STATUS, 1));
        q.kick();
        assertNull(q.takeUsed(), "a driver that gave up gets nothing");
    }

    /** Sets up a running disk, lets {@code corrupt} build a bad request, checks the device stops safely and recovers on reset. */
    void violation(String what, String expected, int features, Consumer<LegacyDriver.Ring> corrupt) {
        VirtioBlock disk = create("size = 64K");
        LegacyDriver d = new LegacyDriver(disk, memory, IO);
        driver = d;
        memory.write(QUEUE, new byte[0x3000]);
        LegacyDriver.Ring q = running(d, features);
        memory.writeU32(HEADER, VirtioBlock.T_FLUSH);
        corrupt.accept(q);
        assertDoesNotThrow(q::kick, what);
        assertTrue(disk.isBroken(), what);
        assertEquals(1, disk.errors(), what);
        assertTrue(disk.lastError().contains(expected), what + ": " + disk.lastError());
        q.add(in(HEADER, 16), out(STATUS, 1));
        q.kick();
        assertEquals(2, disk.errors(), what + ": notifications while broken are ignored and counted");
        assertEquals(0, d.isr(), what);

        d.write(VirtioPciDevice.DEVICE_STATUS, 1, 0);
        assertFalse(disk.isBroken(), what + ": reset clears the broken state");
        memory.write(QUEUE, new byte[0x3000]);
        LegacyDriver.Ring fresh = running(d, features);
        assertEquals(VirtioBlock.S_OK, request(fresh, VirtioBlock.T_FLUSH, 0, 0, 0, false), what);
    }

    @Test
    void malformedChainsStopTheDeviceWithoutHarm() {
        violation("buffer outside RAM", "outside guest RAM", ALL_FEATURES, q -> q.add(in(HEADER, 16), out(memory.size() - 1, 2)));
        violation("huge buffer", "outside guest RAM", ALL_FEATURES, q -> q.add(in(HEADER, 16), out(0, -1)));
        violation("negative address", "outside guest RAM", ALL_FEATURES, q -> q.add(in(-4096, 16), out(STATUS, 1)));
        violation("a loop", "a loop", ALL_FEATURES, q -> {
            q.descriptor(q.descriptors, 0, HEADER, 16, Virtqueue.DESC_F_NEXT, 1);
            q.descriptor(q.descriptors, 1, STATUS, 1, Virtqueue.DESC_F_WRITE | Virtqueue.DESC_F_NEXT, 2);
            q.descriptor(q.descriptors, 2, STATUS, 1, Virtqueue.DESC_F_WRITE | Virtqueue.DESC_F_NEXT, 1);
            q.publish(0);
        });
        violation("next outside the table", "links to 256", ALL_FEATURES, q -> {
            q.descriptor(q.descriptors, 0, HEADER, 16, Virtqueue.DESC_F_NEXT, 256);
            q.publish(0);
        });
        violation("head outside the table", "chain head 300", ALL_FEATURES, q -> q.publish(300));
        violation("available index jumped", "from 0 to 1000", ALL_FEATURES, q -> memory.writeU16(q.available + 2, 1000));
        violation("readable after writable", "readable descriptor after", ALL_FEATURES, q -> q.add(in(HEADER, 16), out(STATUS, 1), in(DATA, 512)));
        violation("no status byte", "status byte", ALL_FEATURES, q -> q.add(in(HEADER, 16), in(DATA, 512)));
        violation("short header", "16-byte header", ALL_FEATURES, q -> q.add(in(HEADER, 8), out(STATUS, 1)));
        violation("indirect not negotiated", "without VIRTIO_RING_F_INDIRECT_DESC", 0, q -> {
            q.descriptor(0x500000, 0, HEADER, 16, Virtqueue.DESC_F_NEXT, 1);
            q.descriptor(0x500000, 1, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
            q.descriptor(q.descriptors, 0, 0x500000, 32, Virtqueue.DESC_F_INDIRECT, 0);
            q.publish(0);
        });
        violation("indirect table of odd size", "table of 24 bytes", ALL_FEATURES, q -> {
            q.descriptor(q.descriptors, 0, 0x500000, 24, Virtqueue.DESC_F_INDIRECT, 0);
            q.publish(0);
        });
        violation("nested indirect", "inside an indirect table", ALL_FEATURES, q -> {
            q.descriptor(0x500000, 0, 0x500000, 16, Virtqueue.DESC_F_INDIRECT, 0);
            q.descriptor(q.descriptors, 0, 0x500000, 16, Virtqueue.DESC_F_INDIRECT, 0);
            q.publish(0);
        });
        violation("loop inside an indirect table", "a loop", ALL_FEATURES, q -> {
            q.descriptor(0x500000, 0, HEADER, 16, Virtqueue.DESC_F_NEXT, 1);
            q.descriptor(0x500000, 1, HEADER, 16, Virtqueue.DESC_F_NEXT, 0);
            q.descriptor(q.descriptors, 0, 0x500000, 32, Virtqueue.DESC_F_INDIRECT, 0);
            q.publish(0);
        });
        violation("rings outside RAM", "outside guest RAM", ALL_FEATURES, q -> {
            q.add(in(HEADER, 16), out(STATUS, 1));
            driver.write(VirtioPciDevice.QUEUE_PFN, 4, (memory.size() >>> 12) + 16);
        });
    }

    @Test
    void fileImagesAreReadWrittenAndFlushed(@TempDir Path dir) throws IOException {
        Path image = dir.resolve("disk.img");
        byte[] contents = pattern(8 * 512, 4);
        Files.write(image, contents);
        VirtioBlock disk = create("file = \"" + image + "\"");
        assertEquals(8, disk.capacity());
        LegacyDriver.Ring q = running(plugged(disk), ALL_FEATURES);
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_IN, 1, DATA, 1024, true));
        assertArrayEquals(Arrays.copyOfRange(contents, 512, 1536), memory.read(DATA, 1024));
        memory.write(DATA, pattern(512, 77));
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_OUT, 7, DATA, 512, false));
        assertEquals(VirtioBlock.S_OK, request(q, VirtioBlock.T_FLUSH, 0, 0, 0, false));
        byte[] after = Files.readAllBytes(image);
        assertArrayEquals(pattern(512, 77), Arrays.copyOfRange(after, 7 * 512, 8 * 512));
        assertArrayEquals(Arrays.copyOf(contents, 7 * 512), Arrays.copyOf(after, 7 * 512));
        disk.close();

        VirtioBlock readOnly = create("file = \"" + image + "\", read-only = true");
        LegacyDriver.Ring q2 = running(new LegacyDriver(readOnly, memory, 0xD000), ALL_FEATURES, 0x20000);
        assertEquals(VirtioBlock.S_IOERR, request(q2, VirtioBlock.T_OUT, 0, DATA, 512, false));
        assertArrayEquals(after, Files.readAllBytes(image));
        readOnly.close();
    }

    @Test
    void badParametersAreConfigurationErrors(@TempDir Path dir) throws IOException {
        String[][] cases = {
            {"", "file"},
            {"size = 1M, file = x.img", "file"},
            {"size = 1000", "size"},
            {"size = 0", "size"},
            {"file = \"" + dir.resolve("missing.img") + "\"", "missing.img"},
            {"size = 1M, pci-slot = 0", "pci-slot"},
            {"size = 1M, pci-slot = 32", "pci-slot"},
            {"size = 1M, serial = \"123456789012345678901\"", "serial"},
            {"size = 1M, read-only = maybe", "read-only"},
        };
        Path tiny = dir.resolve("tiny.img");
        Files.write(tiny, new byte[100]);
        for (String[] c : cases) {
            var e = assertThrows(ConfigException.class, () -> create(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
        var e = assertThrows(ConfigException.class, () -> create("file = \"" + tiny + "\""));
        assertTrue(e.getMessage().contains("smaller than one"), e.getMessage());
        assertEquals(7, create("size = 1M, pci-slot = 7").requestedSlot().orElseThrow());
        assertTrue(create("size = 1M").requestedSlot().isEmpty());
    }

    @Test
    void machineResetClearsTheFunctionToo() {
        VirtioBlock disk = create("size = 64K");
        int[] changes = {0};
        disk.connectRangesChanged(() -> changes[0]++);
        LegacyDriver d = new LegacyDriver(disk, memory, IO);
        assertEquals(1, changes[0]);
        running(d, ALL_FEATURES);
        disk.reset();
        assertEquals(2, changes[0]);
        assertEquals(List.of(), disk.portRanges());
        assertEquals(0xFFFF_FFFFL, disk.ioRead(IO + VirtioPciDevice.HOST_FEATURES, 4), "nothing decodes");
        assertEquals(0, disk.deviceStatus());
        assertEquals(0, disk.configRead(PciConfigSpace.COMMAND, 2));
    }
}
