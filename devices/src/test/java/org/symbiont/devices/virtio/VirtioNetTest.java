package org.symbiont.devices.virtio;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.virtio.LegacyDriver.Buf.in;
import static org.symbiont.devices.virtio.LegacyDriver.Buf.out;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.devices.pci.PciHost;
import org.symbiont.x86.memory.PhysicalMemory;

/** virtio-net cards driven the way a legacy guest driver drives them, connected by a {@link NetworkSwitch}. */
class VirtioNetTest {
    static final int DRIVER_FEATURES = 1 << VirtioNet.F_MAC | 1 << VirtioNet.F_STATUS | 1 << VirtioPciDevice.F_ANY_LAYOUT;

    final TestDeviceContext ctx = new TestDeviceContext();
    final PhysicalMemory memory = ctx.memory();
    final PciHost host = new PciHost("pci", PciHost.DEFAULT_PIRQ_GSIS, ctx);

    @AfterEach
    void close() {
        ctx.close();
    }

    /** A NIC, its driver and its rings; {@code area} is where its rings and buffers live. */
    final class Nic {
        final VirtioNet device;
        final LegacyDriver driver;
        final long area;
        LegacyDriver.Ring rx;
        LegacyDriver.Ring tx;

        Nic(String name, String params, int slot, int io, long area) {
            device = (VirtioNet) DeviceRegistry.load().factory("virtio-net").create(name, ConfigFactory.parseString(params), ctx);
            host.plug(slot, device);
            driver = new LegacyDriver(device, memory, io);
            this.area = area;
        }

        /** Negotiation and both queues set up, then DRIVER_OK. */
        Nic start() {
            driver.negotiate(DRIVER_FEATURES);
            rx = driver.setupQueue(VirtioNet.RX, area);
            tx = driver.setupQueue(VirtioNet.TX, area + 0x10000);
            driver.driverOk();
            return this;
        }

        long buffer(int k) {
            return area + 0x20000 + 0x1000L * k;
        }

        /** Posts receive buffer k as Linux does for small buffers: header and 1514 bytes in one descriptor. */
        void postReceive(int k, int length) {
            rx.add(out(buffer(k), length));
            rx.kick();
        }

        /** Sends {@code frame} with its header in its own descriptor. */
        void send(byte[] frame, int k) {
            memory.write(buffer(k), new byte[VirtioNet.HEADER]);
            memory.write(buffer(k) + 0x100, frame);
            tx.add(in(buffer(k), VirtioNet.HEADER), in(buffer(k) + 0x100, frame.length));
            tx.kick();
        }
    }

    static byte[] frame(byte[] destination, byte[] source, int payload, int seed) {
        byte[] f = new byte[14 + payload];
        System.arraycopy(destination, 0, f, 0, 6);
        System.arraycopy(source, 0, f, 6, 6);
        f[12] = 0x08;
        for (int i = 14; i < f.length; i++) f[i] = (byte) (i * 13 + seed);
        return f;
    }

    @Test
    void configurationHoldsTheMacAndTheLinkStatus() {
        Nic a = new Nic("eth0", "mac = \"52:54:00:12:34:56\", link = lan", 5, 0xC000, 0x100000);
        assertEquals(List.of(new PortRange(0xC000, 32)), a.device.portRanges());
        assertEquals(Optional.of("lan"), a.device.link());
        int offered = a.driver.negotiate(-1);
        assertEquals(1 << VirtioNet.F_MAC | 1 << VirtioNet.F_STATUS | 1 << VirtioPciDevice.F_ANY_LAYOUT
                | 1 << VirtioPciDevice.F_RING_INDIRECT_DESC | 1 << VirtioPciDevice.F_RING_EVENT_IDX, offered);
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) mac[i] = (byte) a.driver.read(VirtioPciDevice.DEVICE_CONFIG + i, 1);
        assertEquals("525400123456", HexFormat.of().formatHex(mac));
        assertEquals(0x3412_0054L, a.driver.read(VirtioPciDevice.DEVICE_CONFIG + 1, 4), "byte-addressed, little-endian");
        assertEquals(0, a.driver.read(VirtioPciDevice.DEVICE_CONFIG + 6, 2), "link down: nothing connected");
        assertEquals(0xFF, a.driver.read(VirtioPciDevice.DEVICE_CONFIG + 8, 1), "past the configuration");
        a.driver.write(VirtioPciDevice.QUEUE_SELECT, 2, 2);
        assertEquals(0, a.driver.read(VirtioPciDevice.QUEUE_SIZE, 2), "no control queue");

        a.rx = a.driver.setupQueue(VirtioNet.RX, a.area);
        a.driver.driverOk();
        TestDeviceContext.Line line = ctx.line(10);
        assertFalse(line.level);
        a.device.connectBackend(new NetworkSwitch().port());
        assertEquals(VirtioNet.S_LINK_UP, a.driver.read(VirtioPciDevice.DEVICE_CONFIG + 6, 2));
        assertTrue(line.level, "slot 5 INTA# -> PIRQA -> GSI 10: the link came up");
        assertEquals(VirtioPciDevice.ISR_CONFIG, a.driver.isr());
        assertFalse(line.level);

        a.driver.write(VirtioPciDevice.DEVICE_CONFIG + 5, 1, 0x99);
        assertEquals(0x99, a.driver.read(VirtioPciDevice.DEVICE_CONFIG + 5, 1), "legacy drivers may set the MAC");
        a.driver.write(VirtioPciDevice.DEVICE_CONFIG + 6, 2, 0);
        assertEquals(VirtioNet.S_LINK_UP, a.driver.read(VirtioPciDevice.DEVICE_CONFIG + 6, 2), "the status is read-only");
        a.driver.write(VirtioPciDevice.DEVICE_STATUS, 1, 0);
        assertEquals(0x56, a.driver.read(VirtioPciDevice.DEVICE_CONFIG + 5, 1), "a reset restores the configured MAC");
    }

    @Test
    void twoNicsExchangeFramesBothWays() {
        Nic a = new Nic("a", "mac = \"52:54:00:00:00:0a\"", 5, 0xC000, 0x100000).start();
        Nic b = new Nic("b", "mac = \"52:54:00:00:00:0b\"", 3, 0xC100, 0x200000).start();
        NetworkSwitch link = new NetworkSwitch();
        a.device.connectBackend(link.port());
        b.device.connectBackend(link.port());
        a.driver.isr();
        b.driver.isr();
        TestDeviceContext.Line lineA = ctx.line(10);
        TestDeviceContext.Line lineB = ctx.line(11);

        // b posts two buffers, one as a single descriptor, one as header + data descriptors.
        b.postReceive(0, VirtioNet.HEADER + 1514);
        b.rx.add(out(b.buffer(1), VirtioNet.HEADER), out(b.buffer(1) + 0x100, 1514));
        b.rx.kick();
        memory.write(b.buffer(0), new byte[] {(byte) 0xEE, (byte) 0xEE, (byte) 0xEE, (byte) 0xEE, (byte) 0xEE, (byte) 0xEE, (byte) 0xEE, (byte) 0xEE, (byte) 0xEE, (byte) 0xEE});
        a.postReceive(0, VirtioNet.HEADER + 1514);

        byte[] f1 = frame(b.device.mac(), a.device.mac(), 100, 1);
        a.send(f1, 0);
        assertEquals(new LegacyDriver.Used(0, 0), a.tx.takeUsed(), "transmit chains come back with nothing written");
        assertTrue(lineA.level, "transmit completion interrupt");
        assertEquals(VirtioPciDevice.ISR_QUEUE, a.driver.isr());

        assertTrue(lineB.level, "b received");
        LegacyDriver.Used got = b.rx.takeUsed();
        assertEquals(new LegacyDriver.Used(0, VirtioNet.HEADER + f1.length), got);
        assertArrayEquals(new byte[VirtioNet.HEADER], memory.read(b.buffer(0), VirtioNet.HEADER), "flags 0, GSO_NONE");
        assertArrayEquals(f1, memory.read(b.buffer(0) + VirtioNet.HEADER, f1.length));
        assertEquals(VirtioPciDevice.ISR_QUEUE, b.driver.isr());

        byte[] f2 = frame(b.device.mac(), a.device.mac(), 1500, 2);
        a.send(f2, 1);
        got = b.rx.takeUsed();
        assertEquals(new LegacyDriver.Used(1, VirtioNet.HEADER + f2.length), got, "a full-size frame");
        assertArrayEquals(new byte[VirtioNet.HEADER], memory.read(b.buffer(1), VirtioNet.HEADER));
        assertArrayEquals(f2, memory.read(b.buffer(1) + 0x100, f2.length), "split across the chain's descriptors");

        // b answers with header and frame in one descriptor (VIRTIO_F_ANY_LAYOUT).
        byte[] f3 = frame(a.device.mac(), b.device.mac(), 46, 3);
        memory.write(b.buffer(5), new byte[VirtioNet.HEADER]);
        memory.write(b.buffer(5) + VirtioNet.HEADER, f3);
        b.tx.add(in(b.buffer(5), VirtioNet.HEADER + f3.length));
        b.tx.kick();
        assertEquals(new LegacyDriver.Used(0, 0), b.tx.takeUsed());
        assertEquals(new LegacyDriver.Used(0, VirtioNet.HEADER + f3.length), a.rx.takeUsed());
        assertArrayEquals(f3, memory.read(a.buffer(0) + VirtioNet.HEADER, f3.length));
        assertTrue(lineA.level);

        assertEquals(2, a.device.framesTransmitted());
        assertEquals(1, a.device.framesReceived());
        assertEquals(1, b.device.framesTransmitted());
        assertEquals(2, b.device.framesReceived());
        assertEquals(0, a.device.rxDropped() + b.device.rxDropped() + a.device.txDropped() + b.device.txDropped());
        assertEquals(0, link.undelivered());
    }

    @Test
    void framesWithoutAPostedBufferThatFitsAreDroppedAndCounted() {
        Nic a = new Nic("a", "", 5, 0xC000, 0x100000).start();
        Nic b = new Nic("b", "", 3, 0xC100, 0x200000);
        NetworkSwitch link = new NetworkSwitch();
        a.device.connectBackend(link.port());
        b.device.connectBackend(link.port());
        byte[] f = frame(b.device.mac(), a.device.mac(), 86, 4);

        a.send(f, 0);
        assertEquals(1, b.device.rxDropped(), "b's driver has not started");
        b.start();
        a.send(f, 1);
        assertEquals(2, b.device.rxDropped(), "no receive buffer posted");
        assertNotNull(a.tx.takeUsed());
        assertNotNull(a.tx.takeUsed());
        assertEquals(2, a.device.framesTransmitted(), "the sender does not know");

        b.postReceive(0, 60);
        a.send(f, 2);
        assertEquals(3, b.device.rxDropped(), "100 + 10 bytes do not fit in 60");
        assertNull(b.rx.takeUsed(), "the buffer stays posted");
        byte[] small = frame(b.device.mac(), a.device.mac(), 30, 5);
        a.send(small, 3);
        assertEquals(new LegacyDriver.Used(0, VirtioNet.HEADER + small.length), b.rx.takeUsed(), "a frame that fits takes it");
        assertArrayEquals(small, memory.read(b.buffer(0) + VirtioNet.HEADER, small.length));
        assertEquals(3, b.device.rxDropped());
        assertEquals(1, b.device.framesReceived());

        a.send(f, 4);
        assertEquals(4, b.device.rxDropped(), "the only buffer was used");
        assertFalse(b.device.isBroken());
    }

    @Test
    void transmitWithoutABackEndCompletesAndCounts() {
        Nic a = new Nic("a", "", 5, 0xC000, 0x100000).start();
        a.send(new byte[60], 0);
        assertEquals(new LegacyDriver.Used(0, 0), a.tx.takeUsed());
        assertEquals(1, a.device.txDropped());
        assertEquals(0, a.device.framesTransmitted());

        List<byte[]> sent = new ArrayList<>();
        a.device.connectBackend(new NetBackend() {
            @Override public void transmit(byte[] frame, long nanos) { sent.add(frame); }
            @Override public void connectReceiver(java.util.function.Consumer<byte[]> receiver) { }
        });
        byte[] jumbo = new byte[VirtioNet.MAX_FRAME + 1];
        memory.write(a.buffer(1), new byte[VirtioNet.HEADER]);
        a.tx.add(in(a.buffer(1), VirtioNet.HEADER), in(0x400000, jumbo.length));
        a.tx.kick();
        assertNotNull(a.tx.takeUsed());
        assertEquals(2, a.device.txDropped(), "larger than any frame");
        a.send(new byte[] {1, 2, 3}, 2);
        assertEquals(1, sent.size());
        assertArrayEquals(new byte[] {1, 2, 3}, sent.getFirst(), "the header is not part of the frame");
    }

    @Test
    void aTransmitChainShorterThanTheHeaderStopsTheCard() {
        Nic a = new Nic("a", "", 5, 0xC000, 0x100000).start();
        a.tx.add(in(a.buffer(0), 6));
        assertDoesNotThrow(a.tx::kick);
        assertTrue(a.device.isBroken());
        assertEquals(1, a.device.errors());
        NetworkSwitch link = new NetworkSwitch();
        a.device.connectBackend(link.port());
        NetBackend other = link.port();
        a.postReceive(0, 1600);
        other.transmit(broadcastFrame(), 0);
        assertEquals(1, a.device.rxDropped(), "a broken card receives nothing");
        assertEquals(2, a.device.errors(), "the receive notification was ignored and counted");

        memory.write(a.area, new byte[0x20000]);
        a.start();
        assertFalse(a.device.isBroken());
        a.postReceive(0, 1600);
        other.transmit(broadcastFrame(), 0);
        assertEquals(1, a.device.framesReceived());
    }

    @Test
    void macAddressesAndParameters() {
        VirtioNet one = (VirtioNet) DeviceRegistry.load().factory("virtio-net").create("eth0", ConfigFactory.empty(), ctx);
        VirtioNet again = (VirtioNet) DeviceRegistry.load().factory("virtio-net").create("eth0", ConfigFactory.empty(), ctx);
        VirtioNet other = (VirtioNet) DeviceRegistry.load().factory("virtio-net").create("eth1", ConfigFactory.empty(), ctx);
        assertArrayEquals(one.mac(), again.mac(), "the same name gives the same address, every run");
        assertFalse(Arrays.equals(one.mac(), other.mac()));
        assertArrayEquals(new byte[] {0x52, 0x54, 0x00}, Arrays.copyOf(one.mac(), 3), "QEMU's locally administered prefix");
        assertArrayEquals(VirtioNet.defaultMac("eth0"), one.mac());
        assertEquals(Optional.empty(), one.link());
        assertTrue(one.requestedSlot().isEmpty());

        for (String bad : new String[] {"mac = \"52:54:00:12:34\"", "mac = \"52-54-00-12-34-56\"", "mac = \"52:54:00:12:34:5g\"",
                "mac = \"01:00:5e:00:00:01\"", "pci-slot = 40"}) {
            var e = assertThrows(ConfigException.class,
                    () -> DeviceRegistry.load().factory("virtio-net").create("eth0", ConfigFactory.parseString(bad), ctx), bad);
            assertTrue(e.getMessage().contains(bad.substring(0, bad.indexOf(' '))), e.getMessage());
        }
    }

    private static byte[] broadcastFrame() {
        byte[] f = new byte[64];
        java.util.Arrays.fill(f, 0, 6, (byte) 0xFF);
        return f;
    }
}
