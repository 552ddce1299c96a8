package org.symbiont.devices;

/**
 * Where a serial port's bytes go and come from (standard output, a file, a test buffer). Reading
 * never blocks: {@link #read()} answers -1 when no byte is waiting.
 */
public interface CharBackend {
    void write(int b);

    /** The next input byte, or -1. */
    int read();

    /** Flushes buffered output (at line ends and when the VM stops). */
    default void flush() { }
}
