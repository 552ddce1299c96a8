package org.symbiont.devices.apic;

/**
 * Where an I/O APIC's interrupt messages go (the system bus, SDM Vol. 3A 11.6 and the 82093AA
 * datasheet): the VMM implements it and hands the message to every local APIC for which
 * {@link LocalApic#matchesMessageDestination(int, boolean)} is true, with
 * {@link LocalApic#acceptMessage(int, int, boolean)}; for {@link DeliveryMode#LOWEST_PRIORITY} to
 * one of them (the lowest {@link LocalApic#arbitrationPriority()}).
 */
@FunctionalInterface
public interface InterruptMessageSink {
    /**
     * @param destination    the 8-bit destination field (an APIC ID, or a logical destination)
     * @param logical        logical destination mode (else physical)
     * @param deliveryMode   a {@link DeliveryMode} encoding: fixed, lowest priority, SMI, NMI, INIT
     *                       or ExtINT (for ExtINT the vector comes from the 8259: the target APIC
     *                       reports {@link LocalApic#extIntPending()})
     * @param vector         the vector (meaningful for fixed and lowest priority)
     * @param levelTriggered a level-triggered interrupt: the target's EOI of this vector must reach
     *                       the I/O APIC ({@link IoApic#eoi(int)})
     */
    void deliver(int destination, boolean logical, int deliveryMode, int vector, boolean levelTriggered);

    /** Drops every message. */
    InterruptMessageSink NONE = (destination, logical, deliveryMode, vector, levelTriggered) -> { };
}
