package org.symbiont.vmm;

/** Conversions between virtual cycles (the TSC) and virtual nanoseconds, without overflow. */
public final class VirtualTime {
    private VirtualTime() {}

    public static long cyclesToNanos(long cycles, long hz) {
        return (cycles / hz) * 1_000_000_000L + (cycles % hz) * 1_000_000_000L / hz;
    }

    /** The first cycle count at or after {@code nanos}. */
    public static long nanosToCycles(long nanos, long hz) {
        long whole = nanos / 1_000_000_000L, part = nanos % 1_000_000_000L;
        return whole * hz + (part * hz + 999_999_999L) / 1_000_000_000L;
    }
}
