package org.symbiont.devices.virtio;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A learning Ethernet switch joining NICs in one JVM, as a hardware switch does (IEEE 802.1D
 * forwarding): it learns which port each source MAC address sits behind; a frame to a learned
 * unicast address goes to that port only, any other frame (broadcast, multicast, an address not
 * learned yet) to every other port. With two ports it is a cable. Delivery is synchronous, on the
 * transmitter's thread; each receiving port gets an array of its own. A frame for a port with no
 * receiver connected is dropped and counted. When the NICs live on different threads (actors), the
 * VMM connects each NIC through a {@link NetBackend} that hands received frames to the NIC's own
 * thread.
 */
public final class NetworkSwitch {
    private final CopyOnWriteArrayList<Port> ports = new CopyOnWriteArrayList<>();
    private final Map<Long, Port> learned = new ConcurrentHashMap<>();
    private final AtomicLong undelivered = new AtomicLong();

    /** A new port of the switch. */
    public NetBackend port() {
        Port p = new Port();
        ports.add(p);
        return p;
    }

    /** How many ports the switch has. */
    public int ports() {
        return ports.size();
    }

    /** Frames dropped because the port they were for had no receiver connected. */
    public long undelivered() {
        return undelivered.get();
    }

    private void forward(Port from, byte[] frame) {
        if (frame.length < 12) {
            undelivered.incrementAndGet();
            return;
        }
        long source = mac(frame, 6);
        if ((frame[6] & 1) == 0) learned.put(source, from);
        Port to = (frame[0] & 1) == 0 ? learned.get(mac(frame, 0)) : null;
        if (to != null) {
            if (to != from) deliver(to, frame);
            return;
        }
        boolean first = true;
        for (Port p : ports) {
            if (p == from) continue;
            deliver(p, first ? frame : frame.clone());
            first = false;
        }
    }

    private void deliver(Port to, byte[] frame) {
        Consumer<byte[]> r = to.receiver;
        if (r == null) undelivered.incrementAndGet();
        else r.accept(frame);
    }

    private static long mac(byte[] frame, int offset) {
        long m = 0;
        for (int i = 0; i < 6; i++) m = (m << 8) | (frame[offset + i] & 0xFF);
        return m;
    }

    private final class Port implements NetBackend {
        private volatile Consumer<byte[]> receiver;

        @Override
        public void transmit(byte[] frame, long nanos) {
            forward(this, frame);
        }

        @Override
        public void connectReceiver(Consumer<byte[]> receiver) {
            this.receiver = receiver;
        }
    }
}
