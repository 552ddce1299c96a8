package org.symbiont.devices.virtio;

/** The driver broke the virtqueue rules (a bad index, address, chain or table): the device needs a reset. */
final class VirtqueueException extends RuntimeException {
    VirtqueueException(String message) {
        super(message, null, false, false);
    }
}
