package org.symbiont.devices;

import static org.junit.jupiter.api.Assertions.*;

import org.symbiont.x86.snapshot.SnapshotException;

/** Checks shared by the device state tests. */
public final class DeviceStateAssertions {
    private DeviceStateAssertions() {}

    /**
     * Every proper prefix of {@code saved} is refused with a message naming the device and a
     * field, as is {@code saved} with a byte appended and with an unknown state version.
     */
    public static void assertCorruptStateRefused(java.util.function.Supplier<Device> fresh, byte[] saved) {
        String device = "device '" + fresh.get().name() + "'";
        for (int length = 0; length < saved.length; length++) {
            byte[] truncated = java.util.Arrays.copyOf(saved, length);
            SnapshotException e = assertThrows(SnapshotException.class, () -> DeviceState.restore(fresh.get(), truncated),
                    "restoring the first " + length + " of " + saved.length + " bytes");
            assertTrue(e.getMessage().startsWith("truncated state of " + device), e.getMessage());
            assertTrue(e.getMessage().contains(" needs "), e.getMessage());
        }
        byte[] longer = java.util.Arrays.copyOf(saved, saved.length + 1);
        SnapshotException extra = assertThrows(SnapshotException.class, () -> DeviceState.restore(fresh.get(), longer));
        assertTrue(extra.getMessage().contains(device) && extra.getMessage().contains("1 unexpected bytes"), extra.getMessage());
        byte[] newer = saved.clone();
        newer[0]++;
        SnapshotException version = assertThrows(SnapshotException.class, () -> DeviceState.restore(fresh.get(), newer));
        assertTrue(version.getMessage().contains(device) && version.getMessage().contains("state version is " + (saved[0] + 1)),
                version.getMessage());
    }

    /** Restoring {@code saved} with byte {@code offset} replaced by {@code value} fails naming {@code field}. */
    public static void assertMalformedRefused(Device fresh, byte[] saved, int offset, int value, String field) {
        byte[] bad = saved.clone();
        bad[offset] = (byte) value;
        SnapshotException e = assertThrows(SnapshotException.class, () -> DeviceState.restore(fresh, bad));
        assertTrue(e.getMessage().contains("device '" + fresh.name() + "'") && e.getMessage().contains("malformed")
                && e.getMessage().contains(field), e.getMessage());
    }
}
