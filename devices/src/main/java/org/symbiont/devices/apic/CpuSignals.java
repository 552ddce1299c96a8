package org.symbiont.devices.apic;

/**
 * What a local APIC signals to its processor core other than maskable interrupts (those the core
 * polls with {@link LocalApic#pendingInterrupt()} and {@link LocalApic#extIntPending()}). The VMM
 * implements it for the vCPU the APIC belongs to and connects it with
 * {@link LocalApic#connectCpu(CpuSignals)}. Each call is one event: NMIs, SMIs, INITs and
 * start-ups are edge-triggered (SDM Vol. 3A 11.5.1, 11.6.1).
 */
public interface CpuSignals {
    /** A non-maskable interrupt for the core (LINT1 in virtual-wire mode, an NMI IPI or message). */
    void nmi();

    /** A system-management interrupt (an SMI IPI, message or LVT entry). */
    void smi();

    /**
     * An INIT: the core enters its INIT state (the BSP restarts at the reset vector, an AP waits
     * for a start-up IPI). The APIC has already reset its own registers (SDM 11.4.7.3).
     */
    void init();

    /**
     * A start-up IPI with its 8-bit vector: a core waiting for SIPI starts in real mode at
     * {@code vector << 12} (CS = vector << 8, IP = 0); a core not waiting for one ignores it
     * (SDM Vol. 3A 9.4.4.1 and 11.6.1).
     */
    void startup(int vector);

    /** Signals going nowhere (a local APIC whose core is not connected yet). */
    CpuSignals NONE = new CpuSignals() {
        @Override public void nmi() { }
        @Override public void smi() { }
        @Override public void init() { }
        @Override public void startup(int vector) { }
    };
}
