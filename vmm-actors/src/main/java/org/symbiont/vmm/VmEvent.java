package org.symbiont.vmm;

import org.symbiont.vmm.config.VmConfig;

/**
 * What a VM's timer queue holds: every kind of event in virtual time the supervisor fires. Values,
 * not closures, so that a snapshot lists the pending events and a restored VM schedules them
 * again in the same order (events with equal deadlines fire in the order they were scheduled).
 */
sealed interface VmEvent {
    /** A device model's timer, by its id in the device's context. */
    record DeviceTimer(String device, long id) implements VmEvent {}

    /** An event of a noise source: every vCPU loses the source's duration, and the next one is scheduled. */
    record NoiseEvent(VmConfig.NoiseSource source) implements VmEvent {}

    /** The configured fault at {@code index} applies. */
    record FaultDue(int index) implements VmEvent {}

    /** An interrupt-line change a fault delayed reaches the interrupt controllers. */
    record LineLevel(int line, boolean level) implements VmEvent {}

    /** A duplicated assertion: a second edge on the line. */
    record LinePulse(int line) implements VmEvent {}

    /** A frame from another cluster node reaches NIC {@code nic}. */
    record FrameArrival(String nic, byte[] frame) implements VmEvent {}
}
