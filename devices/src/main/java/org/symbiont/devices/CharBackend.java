package org.symbiont.devices;

/**
 * Where a serial port's bytes go and come from (standard output, a file, a test buffer). Reading
 * never blocks: {@link #read()} answers {@link #NOTHING_YET} when no byte is waiting, and
 * {@link #END_OF_INPUT} once no byte will ever come (a back end without input, a file read to its
 * end), so that a device stops looking for input and an idle guest's time can skip ahead.
 */
public interface CharBackend {
    int NOTHING_YET = -1;
    int END_OF_INPUT = -2;

    void write(int b);

    /** The next input byte, {@link #NOTHING_YET} or {@link #END_OF_INPUT}. */
    int read();

    /** Flushes buffered output (at line ends and when the VM stops). */
    default void flush() { }
}
