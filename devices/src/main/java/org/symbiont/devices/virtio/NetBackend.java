package org.symbiont.devices.virtio;

import java.util.function.Consumer;

/**
 * Where a network card's Ethernet frames go and come from: a switch joining NICs in this JVM
 * ({@link NetworkSwitch}), to another VM, or to the host, as the VMM provides. Frames are whole
 * Ethernet frames without any virtio header. An array handed over in either direction belongs
 * to the receiving side from then on: the sender never touches it again.
 */
public interface NetBackend {
    /** Sends a frame from the NIC. */
    void transmit(byte[] frame);

    /**
     * Where frames for the NIC go. The back end calls {@code receiver} on the thread that owns the
     * NIC (a VMM delivering from elsewhere hands the call to that thread).
     */
    void connectReceiver(Consumer<byte[]> receiver);
}
