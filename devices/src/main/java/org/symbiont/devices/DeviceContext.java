package org.symbiont.devices;

import java.util.random.RandomGenerator;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * What the machine gives a device: virtual time and timers on it, interrupt lines, guest memory
 * for DMA, character back ends, machine facts, and ways to stop or reset the machine. The wall
 * clock is never available: a device that needs time uses {@link #nanos()}.
 */
public interface DeviceContext {
    /** Virtual time since the machine was created, in nanoseconds. */
    long nanos();

    /**
     * Runs {@code action} (on the device's own thread, like any other call into it) when virtual
     * time reaches {@code atNanos}; a deadline in the past fires as soon as possible.
     */
    VirtualTimer schedule(long atNanos, Runnable action);

    /** Global system interrupt {@code gsi}: ISA IRQs 0-15 are GSIs 0-15. */
    InterruptLine interruptLine(int gsi);

    /** Guest-physical memory (DMA, firmware tables). */
    PhysicalMemory memory();

    MachineInfo machine();

    /** A character back end: {@code stdio}, {@code file:PATH}, {@code null}, or one the VMM defines. */
    CharBackend charBackend(String spec);

    /** Randomness for the device, seeded from the VM's seed: the same every run. */
    RandomGenerator random();

    /** The guest asked the machine to exit with this status (QEMU's isa-debug-exit). */
    void exitMachine(int status);

    /** The guest asked for a machine reset (port 0xCF9, keyboard controller). */
    void resetMachine();
}
