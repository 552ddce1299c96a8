package org.symbiont.devices;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.snapshot.SnapshotException;

class DeviceStateTest {
    /** A device model without state support. */
    record Plain(String name) implements Device {
        @Override public void reset() { }
    }

    @Test
    void aDeviceWithoutStateSupportIsRefusedOnSaveAndRestore() {
        Plain plain = new Plain("gadget");
        assertEquals("device.gadget", DeviceState.sectionName(plain));
        UnsupportedOperationException save = assertThrows(UnsupportedOperationException.class, () -> DeviceState.save(plain));
        assertEquals("device 'gadget' (Plain) is not snapshottable yet", save.getMessage());
        SnapshotException restore = assertThrows(SnapshotException.class, () -> DeviceState.restore(plain, new byte[4]));
        assertEquals("device 'gadget' (Plain) is not snapshottable yet", restore.getMessage());
    }
}
