package org.symbiont.devices;

/**
 * A device model: registers, state and behaviour, as a plain object (no threads, no actors).
 * What the guest can reach is declared by the capability interfaces it also implements
 * ({@link PortIoDevice}, {@link MmioDevice}, {@link MsrDevice}); everything else it needs from
 * the machine comes through its {@link DeviceContext}. The VMM hosts each instance in an actor
 * of its own and calls it from that actor only, so models need no synchronization.
 */
public interface Device {
    /** The instance name from the configuration (e.g. {@code com1}). */
    String name();

    /** Puts the device in its power-on state (machine reset). */
    void reset();
}
