package org.symbiont.devices.apic;

/**
 * Where a local APIC's interprocessor interrupts go: the VMM implements it, routes each
 * {@link Ipi} to the local APICs it targets ({@link Ipi#isDeliveredTo(LocalApic)}) and hands it
 * to each with {@link LocalApic#acceptIpi(Ipi)}; for the lowest-priority delivery mode it picks one
 * of them (the lowest {@link LocalApic#arbitrationPriority()}, SDM Vol. 3A 11.6.2.4).
 */
@FunctionalInterface
public interface IpiSink {
    void send(Ipi ipi);

    /** Drops every IPI (a machine with one CPU and nothing connected). */
    IpiSink NONE = ipi -> { };
}
