package org.symbiont.devices.virtio;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A virtual cable between two NICs in one JVM: what one end transmits, the other end's receiver
 * gets, synchronously, on the transmitter's thread, the same array. A frame sent while the other
 * end has no receiver is dropped and counted. Used by tests, and by the VMM for two NICs in one
 * process; when the NICs live on different threads (actors), the VMM connects each NIC through a
 * {@link NetBackend} that hands received frames to the NIC's own thread.
 */
public final class NetworkLink {
    private final End a = new End();
    private final End b = new End();

    public NetworkLink() {
        a.peer = b;
        b.peer = a;
    }

    /** One end of the cable. */
    public NetBackend endA() {
        return a;
    }

    /** The other end. */
    public NetBackend endB() {
        return b;
    }

    /** Frames dropped because the other end had no receiver connected. */
    public long undelivered() {
        return a.undelivered.get() + b.undelivered.get();
    }

    private static final class End implements NetBackend {
        private End peer;
        private volatile Consumer<byte[]> receiver;
        private final AtomicLong undelivered = new AtomicLong();

        @Override
        public void transmit(byte[] frame) {
            Consumer<byte[]> r = peer.receiver;
            if (r == null) undelivered.incrementAndGet();
            else r.accept(frame);
        }

        @Override
        public void connectReceiver(Consumer<byte[]> receiver) {
            this.receiver = receiver;
        }
    }
}
