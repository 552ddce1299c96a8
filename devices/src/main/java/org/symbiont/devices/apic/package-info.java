/**
 * The APIC interrupt architecture: {@link org.symbiont.devices.apic.LocalApic} (one per vCPU,
 * SDM Vol. 3A chapter 11, xAPIC and x2APIC) and {@link org.symbiont.devices.apic.IoApic} (Intel
 * 82093AA, 24 pins, version 0x20).
 *
 * <p>How a VMM wires them (each model runs in its own actor; every connection is a small
 * interface the VMM implements):
 * <ul>
 *   <li>Local APIC → its core: {@code connectCpu(CpuSignals)} for NMI, SMI, INIT and start-up;
 *       {@code connectWakeup(Runnable)} when a maskable interrupt may have become deliverable;
 *       the core then asks {@code extIntPending()} (take the vector from the 8259's acknowledge,
 *       then {@code extIntTaken()}) and {@code pendingInterrupt()} / {@code interruptTaken(v)}
 *       (inject the returned vector).</li>
 *   <li>Local APIC → other APICs: {@code connectIpi(IpiSink)}; for each {@link
 *       org.symbiont.devices.apic.Ipi}, every APIC with {@code ipi.isDeliveredTo(apic)} gets
 *       {@code apic.acceptIpi(ipi)} (one of them, the lowest {@code arbitrationPriority()}, for
 *       lowest priority).</li>
 *   <li>I/O APIC → local APICs: {@code ioapic.connect(InterruptMessageSink)}; each message goes
 *       to the APICs with {@code matchesMessageDestination(destination, logical)} via
 *       {@code acceptMessage(deliveryMode, vector, levelTriggered)}.</li>
 *   <li>Local APIC → I/O APICs: {@code connectEoi(IntConsumer)} receives the vector of each EOI
 *       of a level-triggered interrupt; pass it to {@code ioapic.eoi(vector)}.</li>
 *   <li>Interrupt sources → I/O APIC: {@code ioapic.setIrq(pin, level)} or
 *       {@code ioapic.line(pin)}; the 8259's INTR output → the BSP's {@code setLint(0, level)},
 *       an NMI source → {@code setLint(1, level)}.</li>
 *   <li>IA32_APIC_BASE relocation and x2APIC mode change the decoded page:
 *       {@code connectRangesChanged(Runnable)}, then re-read {@code mmioRanges()}.</li>
 *   <li>At machine creation, {@code programVirtualWire()} on the BSP's APIC does what firmware
 *       would (SVR enabled, LINT0 = ExtINT, LINT1 = NMI).</li>
 * </ul>
 */
package org.symbiont.devices.apic;
