package org.symbiont.cluster;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

class InterconnectTest {
    @Test
    void theDefaultsAreRedStormsSeaStarWithWindowsOfOneLatency() {
        Interconnect net = Interconnect.from(ConfigFactory.load().getConfig("symbiont.cluster.interconnect"), "reference.conf");
        assertEquals(5_000, net.latencyNanos());
        assertEquals(5_000, net.quantumNanos());
        assertEquals(1_600_000_000L, net.bytesPerSecond());
        assertEquals(100, net.gapNanos());
    }

    @Test
    void aFramesTimeOnTheWireIsItsSizeOverTheBandwidthRoundedUp() {
        Interconnect net = new Interconnect(5_000, 1_600_000_000L, 100, 5_000);
        assertEquals(1, net.wireNanos(1));
        assertEquals(938, net.wireNanos(1500));
        assertEquals(40_960, net.wireNanos(65536));
    }

    @Test
    void aWindowLongerThanTheLatencyIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> Interconnect.from(ConfigFactory.parseString(
                "latency = 2us, bandwidth = 1G, gap = 0, quantum = 3us"), "test.conf"));
        assertTrue(e.getMessage().startsWith("test.conf: interconnect.quantum: expected 1ns up to the latency (2000ns)"), e.getMessage());
    }

    @Test
    void everyNodeHasItsOwnAddress() {
        Interconnect net = new Interconnect(5_000, 1_600_000_000L, 100, 5_000);
        Wiring w = Wiring.of("x", net, new long[] {0x024C574B0002L, 0x024C574B0000L, 0x024C574B0001L});
        assertEquals(0, w.nodeOf(0x024C574B0002L));
        assertEquals(1, w.nodeOf(0x024C574B0000L));
        assertEquals(-1, w.nodeOf(0x024C574B0003L));
        var e = assertThrows(IllegalArgumentException.class, () -> Wiring.of("x", net, new long[] {5, 7, 5}));
        assertEquals("nodes 0 and 2 have the same MAC address 00:00:00:00:00:05", e.getMessage());
    }
}
