package org.symbiont.devices;

/**
 * A device reached through model-specific registers (the x2APIC). An access the device does not
 * accept makes the instruction raise #GP(0).
 */
public interface MsrDevice extends Device {
    boolean handlesMsr(int msr);

    /** The MSR's value, or throws {@link MsrAccessRefused} (the guest gets #GP). */
    long rdmsr(int msr);

    void wrmsr(int msr, long value);

    /** The guest accessed an MSR in a way the device refuses: RDMSR/WRMSR raise #GP(0). */
    final class MsrAccessRefused extends RuntimeException {
        public MsrAccessRefused(String why) {
            super(why, null, false, false);
        }
    }
}
