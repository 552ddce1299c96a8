package org.symbiont.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.concurrent.TimeUnit;

/**
 * The simulated network between nodes, LogGP-style (Alexandrov et al.): a frame leaves its NIC
 * no earlier than {@code gapNanos} after the previous one started and once the NIC finished
 * sending it (the per-byte gap G is 1 / {@code bytesPerSecond}), and arrives {@code latencyNanos}
 * (L) after its last byte left. The CPU overhead o is the guest's own driver code, executed.
 * Nodes advance in windows of {@code quantumNanos} of virtual time, no longer than L, so a frame
 * sent in one window always arrives in a later one (dist-gem5 and SST do the same).
 */
public record Interconnect(long latencyNanos, long bytesPerSecond, long gapNanos, long quantumNanos) implements CborSerializable {

    public Interconnect {
        if (latencyNanos < 1) throw new IllegalArgumentException("interconnect.latency: expected at least 1ns, got " + latencyNanos + "ns");
        if (bytesPerSecond < 1) throw new IllegalArgumentException("interconnect.bandwidth: expected at least 1 byte/s, got " + bytesPerSecond);
        if (gapNanos < 0) throw new IllegalArgumentException("interconnect.gap: expected 0 or more, got " + gapNanos + "ns");
        if (quantumNanos < 1 || quantumNanos > latencyNanos) {
            throw new IllegalArgumentException("interconnect.quantum: expected 1ns up to the latency (" + latencyNanos
                    + "ns), so no frame can arrive in the window it was sent in; got " + quantumNanos + "ns");
        }
    }

    /**
     * From {@code symbiont.cluster.interconnect}-style keys: latency and gap (durations), bandwidth
     * (bytes per second, e.g. 1600MB), quantum (a duration, or {@code latency}).
     */
    public static Interconnect from(Config c, String origin) {
        try {
            long latency = c.getDuration("latency", TimeUnit.NANOSECONDS);
            long quantum = c.getString("quantum").equals("latency") ? latency : c.getDuration("quantum", TimeUnit.NANOSECONDS);
            return new Interconnect(latency, c.getBytes("bandwidth"), c.getDuration("gap", TimeUnit.NANOSECONDS), quantum);
        } catch (ConfigException | IllegalArgumentException e) {
            throw new IllegalArgumentException(origin + ": " + e.getMessage(), e);
        }
    }

    /** The time {@code bytes} take on the wire (rounded up to whole nanoseconds). */
    public long wireNanos(int bytes) {
        return Math.ceilDiv(bytes * 1_000_000_000L, bytesPerSecond);
    }
}
