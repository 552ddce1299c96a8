package org.symbiont.devices.virtio;

import java.util.function.Consumer;

/**
 * Where a network card's Ethernet frames go and come from: a switch joining NICs in this JVM
 * ({@link NetworkSwitch}), to another VM, or to the host, as the VMM provides. Frames are whole
 * Ethernet frames without any virtio header. An array handed over in either direction belongs
 * to the receiving side from then on: the sender never touches it again.
 */
public interface NetBackend {
    /**
     * Sends a frame from the NIC at virtual time {@code nanos} (a network that models time
     * delivers it that much later than its latency and size say; a switch in one VM's time
     * ignores it).
     */
    void transmit(byte[] frame, long nanos);

    /**
     * Where frames for the NIC go. The back end calls {@code receiver} on the thread that owns the
     * NIC (a VMM delivering from elsewhere hands the call to that thread).
     */
    void connectReceiver(Consumer<byte[]> receiver);
}
