package org.symbiont.devices.virtio;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.virtio.LegacyDriver.Buf.in;
import static org.symbiont.devices.virtio.LegacyDriver.Buf.out;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.devices.pci.PciHost;

class VirtioStateTest {
    static final long QUEUE = 0x10000, RX_QUEUE = 0x20000, TX_QUEUE = 0x30000;
    static final long HEADER = 0x100000, STATUS = 0x180000, DATA = 0x200000;
    static final int IO = 0xC000, SLOT = 3, GSI = 11;
    static final int FEATURES = 1 << VirtioPciDevice.F_RING_EVENT_IDX | 1 << VirtioBlock.F_FLUSH | 1 << VirtioNet.F_MAC;

    /** A virtio device on a host bridge (INTA# of slot 3 to GSI 11) with a driver's BAR0 at 0xC000. */
    final class Machine<D extends VirtioPciDevice> {
        final TestDeviceContext ctx = new TestDeviceContext();
        final D device;
        final LegacyDriver driver;

        @SuppressWarnings("unchecked")
        Machine(String type, String params) {
            machines.add(this);
            device = (D) DeviceRegistry.load().factory(type).create("dev0", ConfigFactory.parseString(params), ctx);
            new PciHost("pci", PciHost.DEFAULT_PIRQ_GSIS, ctx).plug(SLOT, device);
            driver = new LegacyDriver(device, ctx.memory(), IO);
        }

        /** The driver's view of queue {@code index} at {@code base}, with {@code from}'s driver-side indices. */
        LegacyDriver.Ring ring(int index, long base, LegacyDriver.Ring from) {
            LegacyDriver.Ring ring = driver.new Ring(index, from.size, base);
            ring.nextDescriptor = from.nextDescriptor;
            ring.availableIndex = from.availableIndex;
            ring.lastUsed = from.lastUsed;
            return ring;
        }

        String used(LegacyDriver.Ring q) {
            List<String> entries = new ArrayList<>();
            for (LegacyDriver.Used u; (u = q.takeUsed()) != null; ) entries.add(u.id() + ":" + u.length());
            return "used " + entries;
        }
    }

    final List<Machine<?>> machines = new ArrayList<>();

    @AfterEach
    void close() {
        machines.forEach(m -> m.ctx.close());
        if (shared != null) shared.close();
    }

    /** The twin gets the original's guest memory, as the VMM restores it before the devices. */
    static void copyMemory(TestDeviceContext from, TestDeviceContext to) {
        for (long at = 0; at < from.memory().size(); at += 1 << 20) to.memory().write(at, from.memory().read(at, 1 << 20));
    }

    // ---- virtio-blk ----

    /** Makes a block request available (without notifying). */
    static void request(TestDeviceContext ctx, LegacyDriver.Ring q, int slot, int type, long sector, int length, boolean deviceWrites) {
        long header = HEADER + 16L * slot, status = STATUS + slot, data = DATA + 4096L * slot;
        ctx.memory().writeU32(header, type);
        ctx.memory().writeU32(header + 4, 0);
        ctx.memory().writeU64(header + 8, sector);
        ctx.memory().writeU8(status, 0xFF);
        if (length > 0) q.add(in(header, 16), new LegacyDriver.Buf(data, length, deviceWrites), out(status, 1));
        else q.add(in(header, 16), out(status, 1));
    }

    /** Two sectors written, the interrupt pending, a read of them made available but not yet notified. */
    Machine<VirtioBlock> busyDisk(String params) {
        Machine<VirtioBlock> m = new Machine<>("virtio-blk", params);
        m.driver.negotiate(FEATURES);
        LegacyDriver.Ring q = m.driver.setupQueue(0, QUEUE);
        m.driver.driverOk();
        q.usedEvent(0);
        m.ctx.memory().write(DATA + 4096, new byte[] {1, 2, 3, 4, 5});
        request(m.ctx, q, 1, VirtioBlock.T_OUT, 1, 1024, false);
        q.kick();
        m.used(q);
        request(m.ctx, q, 2, VirtioBlock.T_IN, 0, 2048, true);
        ring = q;
        return m;
    }

    LegacyDriver.Ring ring;

    static List<String> driveDisk(Machine<VirtioBlock> m, LegacyDriver.Ring q) {
        List<String> trace = new ArrayList<>();
        trace.add("line " + m.ctx.line(GSI).level + " isr " + m.driver.isr() + " line " + m.ctx.line(GSI).level);
        q.usedEvent(q.lastUsed);
        q.kick();
        trace.add(m.used(q) + " status " + m.ctx.memory().readU8(STATUS + 2) + " isr " + m.driver.isr());
        trace.add("read " + HexFormat.of().formatHex(m.ctx.memory().read(DATA + 2 * 4096 + 512, 8)));
        m.ctx.memory().write(DATA + 3 * 4096, new byte[] {9, 8, 7});
        request(m.ctx, q, 3, VirtioBlock.T_OUT, 3, 512, false);
        request(m.ctx, q, 4, VirtioBlock.T_FLUSH, 0, 0, false);
        request(m.ctx, q, 5, VirtioBlock.T_IN, 2, 1024, true);
        q.kick();
        trace.add(m.used(q) + " statuses " + m.ctx.memory().readU8(STATUS + 3) + m.ctx.memory().readU8(STATUS + 4)
                + m.ctx.memory().readU8(STATUS + 5) + " isr " + m.driver.isr());
        trace.add("read " + HexFormat.of().formatHex(m.ctx.memory().read(DATA + 5 * 4096 + 512, 4)));
        trace.add("status " + m.driver.read(VirtioPciDevice.DEVICE_STATUS, 1) + " features " + m.driver.read(VirtioPciDevice.GUEST_FEATURES, 4)
                + " select " + m.driver.read(VirtioPciDevice.QUEUE_SELECT, 2) + " pfn " + m.driver.read(VirtioPciDevice.QUEUE_PFN, 4)
                + " notify " + m.driver.read(VirtioPciDevice.QUEUE_NOTIFY, 2) + " errors " + m.device.errors()
                + " ports " + m.device.portRanges() + " line changes " + m.ctx.line(GSI).changes);
        return trace;
    }

    @Test
    void aRestoredDiskServesTheSameRequestsWithTheSameContents() throws Exception {
        Machine<VirtioBlock> original = busyDisk("size = 64K");
        LegacyDriver.Ring q = ring;
        byte[] saved = DeviceState.save(original.device);
        Machine<VirtioBlock> twin = new Machine<>("virtio-blk", "size = 64K");
        copyMemory(original.ctx, twin.ctx);
        DeviceState.restore(twin.device, saved);
        assertTrue(twin.ctx.line(GSI).level, "the pending interrupt is driven");
        original.ctx.line(GSI).changes.clear();
        twin.ctx.line(GSI).changes.clear();
        LegacyDriver.Ring twinQueue = twin.ring(0, QUEUE, q);
        List<String> expected = driveDisk(original, q);
        assertEquals("read 0102030405000000", expected.get(2), "the sector written before the snapshot");
        assertEquals(expected, driveDisk(twin, twinQueue));
    }

    @Test
    void aFileBackedDiskSavesNoContents(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path image = dir.resolve("disk.img");
        java.nio.file.Files.write(image, new byte[4096]);
        String params = "file = \"" + image.toString().replace("\\", "\\\\") + "\"";
        byte[] saved = DeviceState.save(busyDisk(params).device);
        byte[] memoryBacked = DeviceState.save(busyDisk("size = 4K").device);
        assertEquals(memoryBacked.length - 4096, saved.length, "only the flag, no contents");
        DeviceState.restore(new Machine<VirtioBlock>("virtio-blk", params).device, saved);
        DeviceStateAssertions.assertMalformedRefused(new Machine<VirtioBlock>("virtio-blk", "size = 4K").device, saved,
                saved.length - 1, 0, "disk contents saved");
        assertThrows(org.symbiont.x86.snapshot.SnapshotException.class,
                () -> DeviceState.restore(new Machine<VirtioBlock>("virtio-blk", "size = 4K").device, saved));
    }

    /** A fresh, unplugged device on one shared machine, for the many restores of the refusal checks. */
    VirtioPciDevice fresh(String type, String params) {
        if (shared == null) {
            shared = new TestDeviceContext();
        }
        return (VirtioPciDevice) DeviceRegistry.load().factory(type).create("dev0", ConfigFactory.parseString(params), shared);
    }

    TestDeviceContext shared;

    @Test
    void corruptDiskStateIsRefusedNamingTheField() {
        byte[] saved = DeviceState.save(busyDisk("size = 1536").device);
        DeviceStateAssertions.assertCorruptStateRefused(() -> fresh("virtio-blk", "size = 1536"), saved);
        // Layout: version (4), PCI configuration space (256), guest features (4), status, ISR, queue select (2),
        // queue notify (2), broken, error count (8), last error (u16 length, here 0), then per queue the
        // page frame (8), last available and used indices (2 each); then the disk's flag and contents.
        DeviceStateAssertions.assertMalformedRefused(fresh(), saved, 4, 0x00, "configuration byte 0x00");
        DeviceStateAssertions.assertMalformedRefused(fresh(), saved, 263, 0x80, "guest features");
        DeviceStateAssertions.assertMalformedRefused(fresh(), saved, 265, 0x04, "ISR status");
        DeviceStateAssertions.assertMalformedRefused(fresh(), saved, 271 + 7, 0x80, "error count");
        DeviceStateAssertions.assertMalformedRefused(fresh(), saved, 281 + 7, 0x80, "queue 0 page frame");
        DeviceStateAssertions.assertMalformedRefused(fresh(), saved, 293, 0, "disk contents saved");
    }

    VirtioPciDevice fresh() {
        return fresh("virtio-blk", "size = 1536");
    }

    // ---- virtio-net ----

    /** A back end recording what the NIC sends and letting the test inject frames. */
    static final class Wire implements NetBackend {
        final List<String> sent = new ArrayList<>();
        Consumer<byte[]> receiver;

        @Override public void transmit(byte[] frame, long nanos) { sent.add(nanos + " " + HexFormat.of().formatHex(frame)); }
        @Override public void connectReceiver(Consumer<byte[]> receiver) { this.receiver = receiver; }
    }

    final class Nic {
        final Machine<VirtioNet> m = new Machine<>("virtio-net", "mac = \"52:54:00:12:34:56\"");
        final Wire wire = new Wire();

        Nic() {
            m.device.connectBackend(wire);
        }
    }

    LegacyDriver.Ring rx, tx;

    /** MAC rewritten by the driver, one frame received and one sent, one receive buffer still posted, ISR pending. */
    Nic busyNic() {
        Nic n = new Nic();
        Machine<VirtioNet> m = n.m;
        m.driver.negotiate(FEATURES);
        rx = m.driver.setupQueue(VirtioNet.RX, RX_QUEUE);
        tx = m.driver.setupQueue(VirtioNet.TX, TX_QUEUE);
        m.driver.driverOk();
        for (int k = 0; k < 6; k++) m.driver.write(VirtioPciDevice.DEVICE_CONFIG + k, 1, 0x02 + k);
        rx.add(out(DATA, 2048));
        rx.add(out(DATA + 4096, 2048));
        rx.kick();
        n.wire.receiver.accept(new byte[] {(byte) 0xAA, (byte) 0xBB, (byte) 0xCC});
        m.ctx.memory().write(HEADER + 10, new byte[] {1, 2, 3, 4});
        tx.add(in(HEADER, 14));
        tx.kick();
        m.used(rx);
        m.used(tx);
        return n;
    }

    static List<String> driveNic(Nic n, LegacyDriver.Ring rx, LegacyDriver.Ring tx) {
        Machine<VirtioNet> m = n.m;
        List<String> trace = new ArrayList<>();
        trace.add("isr " + m.driver.isr() + " mac " + HexFormat.of().formatHex(m.device.mac()) + " link " + m.driver.read(VirtioPciDevice.DEVICE_CONFIG + 6, 2));
        rx.usedEvent(rx.lastUsed);
        n.wire.receiver.accept(new byte[] {0x11, 0x22});
        n.wire.receiver.accept(new byte[] {0x33});                  // no buffer left: dropped
        trace.add(m.used(rx) + " " + HexFormat.of().formatHex(m.ctx.memory().read(DATA + 4096, 12)) + " isr " + m.driver.isr());
        m.ctx.memory().write(HEADER + 10, new byte[] {5, 6});
        tx.usedEvent(tx.lastUsed);
        tx.add(in(HEADER, 12));
        tx.kick();
        trace.add(m.used(tx) + " isr " + m.driver.isr() + " sent " + n.wire.sent);
        trace.add("counters " + m.device.framesTransmitted() + " " + m.device.framesReceived() + " " + m.device.txDropped()
                + " " + m.device.rxDropped() + " line changes " + m.ctx.line(GSI).changes);
        m.driver.write(VirtioPciDevice.DEVICE_STATUS, 1, 0);
        trace.add("after reset mac " + HexFormat.of().formatHex(m.device.mac()));
        return trace;
    }

    @Test
    void aRestoredNicKeepsItsAddressCountersAndRings() throws Exception {
        Nic original = busyNic();
        LegacyDriver.Ring rx0 = rx, tx0 = tx;
        byte[] saved = DeviceState.save(original.m.device);
        Nic twin = new Nic();
        copyMemory(original.m.ctx, twin.m.ctx);
        DeviceState.restore(twin.m.device, saved);
        original.wire.sent.clear();
        original.m.ctx.line(GSI).changes.clear();
        twin.m.ctx.line(GSI).changes.clear();
        LegacyDriver.Ring twinRx = twin.m.ring(VirtioNet.RX, RX_QUEUE, rx0), twinTx = twin.m.ring(VirtioNet.TX, TX_QUEUE, tx0);
        List<String> expected = driveNic(original, rx0, tx0);
        assertTrue(expected.getFirst().contains("mac 020304050607"), expected.getFirst());
        assertTrue(expected.get(3).startsWith("counters 2 2 0 1"), expected.get(3));
        assertEquals(expected, driveNic(twin, twinRx, twinTx));
    }

    @Test
    void corruptNicStateIsRefusedNamingTheField() {
        byte[] saved = DeviceState.save(busyNic().m.device);
        DeviceStateAssertions.assertCorruptStateRefused(() -> fresh("virtio-net", ""), saved);
        // After the transport (281 bytes with an empty last error, then two queues of 12): MAC (6), four counters (8 each).
        int counters = 281 + 2 * 12 + 6;
        DeviceStateAssertions.assertMalformedRefused(fresh("virtio-net", ""), saved, counters + 7, 0x80, "frames transmitted");
        DeviceStateAssertions.assertMalformedRefused(fresh("virtio-net", ""), saved, counters + 3 * 8 + 7, 0x80, "received frames dropped");
    }
}
