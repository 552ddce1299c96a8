package org.symbiont.devices.virtio;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The learning switch behind virtio-net links: flooding, learning, unicast, one array per receiver. */
class NetworkSwitchTest {
    private static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};

    private static byte[] frame(byte[] dst, int src, int payload) {
        byte[] f = new byte[64];
        System.arraycopy(dst, 0, f, 0, 6);
        byte[] s = mac(src);
        System.arraycopy(s, 0, f, 6, 6);
        f[14] = (byte) payload;
        return f;
    }

    private static byte[] mac(int n) {
        return new byte[] {0x02, 0x4C, 0x57, 0x4B, 0, (byte) n};
    }

    private record Station(NetBackend port, List<byte[]> got) {}

    private static Station plug(NetworkSwitch sw) {
        List<byte[]> got = new ArrayList<>();
        NetBackend p = sw.port();
        p.connectReceiver(got::add);
        return new Station(p, got);
    }

    @Test
    void floodsUntilItLearnsThenForwardsToOnePort() {
        NetworkSwitch sw = new NetworkSwitch();
        Station a = plug(sw), b = plug(sw), c = plug(sw);
        a.port().transmit(frame(mac(2), 1, 1), 0);
        assertEquals(1, b.got().size(), "unknown destination: flooded");
        assertEquals(1, c.got().size(), "unknown destination: flooded");
        assertTrue(a.got().isEmpty(), "never back to the sender");
        assertNotSame(b.got().get(0), c.got().get(0), "each port owns its array");

        b.port().transmit(frame(mac(1), 2, 2), 0);
        assertEquals(1, a.got().size(), "station 1 was learned on a's port");
        assertEquals(1, c.got().size(), "c does not see unicast to a learned address");

        a.port().transmit(frame(mac(2), 1, 3), 0);
        assertEquals(2, b.got().size());
        assertEquals(1, c.got().size(), "station 2 is learned now");
        assertEquals(3, b.got().get(1)[14]);
    }

    @Test
    void broadcastReachesEveryOtherPortAndAMissingReceiverIsCounted() {
        NetworkSwitch sw = new NetworkSwitch();
        Station a = plug(sw), b = plug(sw);
        sw.port();
        a.port().transmit(frame(BROADCAST, 1, 7), 0);
        assertEquals(1, b.got().size());
        assertEquals(1, sw.undelivered(), "the third port has no receiver");
        assertEquals(3, sw.ports());
    }

    @Test
    void aRuntFrameIsDropped() {
        NetworkSwitch sw = new NetworkSwitch();
        Station a = plug(sw), b = plug(sw);
        a.port().transmit(new byte[5], 0);
        assertTrue(b.got().isEmpty());
        assertEquals(1, sw.undelivered());
    }
}
