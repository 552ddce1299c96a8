package org.symbiont.devices;

/**
 * An interrupt request line as a wire: asserted or not. Level-triggered devices hold it while
 * they want service; edge-triggered ones {@link #pulse()} it.
 */
public interface InterruptLine {
    void set(boolean asserted);

    default void pulse() {
        set(true);
        set(false);
    }

    /** A line connected to nothing. */
    InterruptLine NONE = asserted -> { };
}
