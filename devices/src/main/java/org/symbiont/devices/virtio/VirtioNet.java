package org.symbiont.devices.virtio;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.zip.CRC32;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A virtio network card (virtio 1.x section 5.1, legacy interface; PCI device 1000h, class
 * 020000h) on the {@link VirtioPciDevice} transport: receive queue 0 and transmit queue 1 of
 * {@value #QUEUE_SIZE} entries, no control queue. Frames go to and come from a
 * {@link NetBackend} the VMM connects.
 *
 * <p>Configuration (8 bytes): the MAC address, then the status (u16, VIRTIO_NET_S_LINK_UP while
 * a back end is connected). Features offered: VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS; no
 * checksum offload, segmentation offload or mergeable receive buffers, so every frame carries
 * the 10-byte legacy {@code virtio_net_hdr}, and it is all zeros on receive (no flags,
 * GSO_NONE). As in QEMU's legacy device the MAC bytes are writable by the driver; a reset
 * restores the configured address. Connecting a back end while the driver runs raises a
 * configuration-change interrupt (the link came up).
 *
 * <p>Transmit: each chain's readable bytes are a header and a frame of at most
 * {@value #MAX_FRAME} bytes, handed to the back end; the chain is returned with nothing written.
 * Receive: a frame from the back end is written, after a header, into the next receive chain,
 * which must hold all of it (without mergeable buffers one chain takes one frame). A frame that
 * arrives when no receive buffer is posted, when the posted buffer is too small (the buffer stays
 * posted), or while the driver is not running is dropped and counted, as is a transmitted frame
 * larger than the limit or sent with no back end connected. A transmit chain shorter than the
 * header is a driver violation (as in QEMU).
 *
 * <p>State, after the transport's: the MAC address as the driver wrote it and the frame
 * counters. The back end is configuration: the VMM connects it before restoring (the link
 * status follows from it), so connecting raises no configuration interrupt.
 */
public final class VirtioNet extends VirtioPciDevice {
    public static final int PCI_DEVICE_ID = 0x1000;
    public static final int VIRTIO_ID = 1;
    public static final int QUEUE_SIZE = 256;
    public static final int RX = 0;
    public static final int TX = 1;
    /** The legacy virtio_net_hdr without mergeable receive buffers. */
    public static final int HEADER = 10;
    /** The largest frame carried (without the header). */
    public static final int MAX_FRAME = 65535;

    public static final int F_MAC = 5;
    public static final int F_STATUS = 16;
    public static final int S_LINK_UP = 1;

    private static final int CONFIG_SIZE = 8;
    private static final byte[] RX_HEADER = new byte[HEADER];

    private final byte[] configuredMac;
    private final byte[] mac;
    private final Optional<String> link;
    private NetBackend backend;
    private long framesTransmitted;
    private long framesReceived;
    private long txDropped;
    private long rxDropped;

    /** A NIC with address {@code mac} (6 bytes) that the VMM connects to network {@code link}. */
    public VirtioNet(String name, DeviceContext context, byte[] mac, Optional<String> link, OptionalInt slot) {
        super(name, context, PCI_DEVICE_ID, VIRTIO_ID, 0x020000, CONFIG_SIZE, new int[] {QUEUE_SIZE, QUEUE_SIZE}, slot);
        if (mac.length != 6) throw new IllegalArgumentException("a MAC address has 6 bytes");
        this.configuredMac = mac.clone();
        this.mac = mac.clone();
        this.link = link;
    }

    /** The name of the network the configuration connects this NIC to, if any. */
    public Optional<String> link() {
        return link;
    }

    /** The MAC address the driver sees in the configuration. */
    public byte[] mac() {
        return mac.clone();
    }

    /** Connects the NIC to its network: frames flow both ways, the link is up. */
    public void connectBackend(NetBackend backend) {
        this.backend = backend;
        backend.connectReceiver(this::receive);
        configChanged();
    }

    public long framesTransmitted() { return framesTransmitted; }
    public long framesReceived() { return framesReceived; }
    public long txDropped() { return txDropped; }
    public long rxDropped() { return rxDropped; }

    @Override
    protected int deviceFeatures() {
        return 1 << F_MAC | 1 << F_STATUS;
    }

    @Override
    protected int readConfig(int offset) {
        if (offset < 6) return mac[offset] & 0xFF;
        int status = backend != null ? S_LINK_UP : 0;
        return offset == 6 ? status & 0xFF : status >>> 8;
    }

    @Override
    protected void writeConfig(int offset, int value) {
        if (offset < 6) mac[offset] = (byte) value;
    }

    @Override
    protected void resetDevice() {
        System.arraycopy(configuredMac, 0, mac, 0, 6);
    }

    /** Receive buffers wait for frames; transmit chains go out at once. */
    @Override
    protected void processQueue(int index) {
        if (index == TX) transmitAll();
    }

    private void transmitAll() {
        Virtqueue q = queue(TX);
        int oldUsed = q.usedIndex();
        try {
            Chain chain;
            while ((chain = q.pop()) != null) {
                long length = chain.readableLength() - HEADER;
                if (length < 0) throw new VirtqueueException("transmit chain shorter than the 10-byte virtio_net_hdr");
                if (length > MAX_FRAME || backend == null) {
                    txDropped++;
                } else {
                    byte[] frame = new byte[(int) length];
                    chain.read(context.memory(), HEADER, frame, 0, frame.length);
                    framesTransmitted++;
                    backend.transmit(frame, context.nanos());
                }
                q.push(chain.head(), 0);
            }
        } finally {
            usedBuffers(q, oldUsed);
        }
    }

    /** A frame from the back end. */
    private void receive(byte[] frame) {
        long before = framesReceived;
        if (frame.length <= MAX_FRAME && active() && queue(RX).ready()) guarded(() -> deliver(frame));
        if (framesReceived == before) rxDropped++;
    }

    private void deliver(byte[] frame) {
        Virtqueue q = queue(RX);
        int oldUsed = q.usedIndex();
        Chain chain = q.pop();
        if (chain == null) return;
        if (chain.writableLength() < HEADER + frame.length) {
            q.unpop();
            return;
        }
        chain.write(context.memory(), 0, RX_HEADER, 0, HEADER);
        chain.write(context.memory(), HEADER, frame, 0, frame.length);
        q.push(chain.head(), HEADER + frame.length);
        framesReceived++;
        usedBuffers(q, oldUsed);
    }

    @Override
    protected void saveDeviceState(SectionWriter out) {
        out.bytes(mac, 0, 6).i64(framesTransmitted).i64(framesReceived).i64(txDropped).i64(rxDropped);
    }

    @Override
    protected void restoreDeviceState(SectionReader in) throws SnapshotException {
        in.bytes(mac, 0, 6, "MAC address");
        framesTransmitted = counter(in, "frames transmitted");
        framesReceived = counter(in, "frames received");
        txDropped = counter(in, "transmitted frames dropped");
        rxDropped = counter(in, "received frames dropped");
    }

    private static long counter(SectionReader in, String field) throws SnapshotException {
        int at = in.position();
        long v = in.i64(field);
        if (v < 0) throw in.malformed(at, field, "is negative: " + v);
        return v;
    }

    /** The address a NIC gets without a {@code mac} parameter: QEMU's 52:54:00 prefix, then 3 bytes of the name's CRC-32. */
    public static byte[] defaultMac(String name) {
        CRC32 crc = new CRC32();
        crc.update(name.getBytes(StandardCharsets.UTF_8));
        long h = crc.getValue();
        return new byte[] {0x52, 0x54, 0x00, (byte) (h >>> 16), (byte) (h >>> 8), (byte) h};
    }

    /**
     * {@code type = virtio-net}, parameters {@code mac} (six hex bytes separated by colons, a
     * unicast address; default {@link #defaultMac derived from the instance name}), {@code link}
     * (the name of the network the VMM connects the NIC to; without it the link is down),
     * {@code pci-slot} (1-31, default any free slot).
     */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "virtio-net"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            byte[] mac = params.hasPath("mac") ? parseMac(params) : defaultMac(name);
            Optional<String> link = params.hasPath("link") ? Optional.of(params.getString("link")) : Optional.empty();
            return new VirtioNet(name, context, mac, link, pciSlot(params));
        }

        private static byte[] parseMac(Config params) {
            String text = params.getString("mac");
            String[] parts = text.split(":", -1);
            byte[] mac = new byte[6];
            boolean ok = parts.length == 6;
            for (int i = 0; ok && i < 6; i++) {
                ok = parts[i].length() == 2 && HexFormat.isHexDigit(parts[i].charAt(0)) && HexFormat.isHexDigit(parts[i].charAt(1));
                if (ok) mac[i] = (byte) HexFormat.fromHexDigits(parts[i]);
            }
            if (!ok || (mac[0] & 1) != 0) {
                throw new ConfigException.BadValue(params.origin(), "mac",
                        "must be a unicast MAC address like 52:54:00:12:34:56, got '" + text + "'");
            }
            return mac;
        }
    }
}
