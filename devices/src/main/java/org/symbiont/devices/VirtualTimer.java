package org.symbiont.devices;

/** A scheduled device event in virtual time. */
public interface VirtualTimer {
    /** Cancels the event if it has not fired; harmless otherwise. */
    void cancel();

    /** The virtual time it fires at, in nanoseconds. */
    long deadline();
}
