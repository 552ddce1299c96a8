package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.IoApic.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;

class IoApicStateTest {
    /** An I/O APIC whose interrupt messages are recorded. */
    static final class Machine {
        final IoApic io = new IoApic("ioapic", DEFAULT_BASE, 0);
        final List<String> messages = new ArrayList<>();

        Machine() {
            io.connect((destination, logical, mode, vector, level) ->
                    messages.add("dest " + destination + (logical ? " logical" : "") + " mode " + mode + " vector " + vector + (level ? " level" : "")));
        }

        void write(int register, int value) {
            io.mmioWrite(DEFAULT_BASE + IOREGSEL, 4, register);
            io.mmioWrite(DEFAULT_BASE + IOWIN, 4, value);
        }

        int read(int register) {
            io.mmioWrite(DEFAULT_BASE + IOREGSEL, 4, register);
            return (int) io.mmioRead(DEFAULT_BASE + IOWIN, 4);
        }

        /** Pin activity, EOIs and reprogramming; the trace is the messages sent and registers read. */
        List<String> drive() {
            List<String> trace = new ArrayList<>();
            io.setIrq(4, true);
            io.setIrq(4, false);
            io.mmioWrite(DEFAULT_BASE + EOI, 4, 0x41); // pin 9 is still asserted: delivered again
            io.setIrq(9, false);
            io.mmioWrite(DEFAULT_BASE + EOI, 4, 0x41);
            write(REG_REDIRECTION + 2 * 11, 0x51 | (int) ENTRY_LEVEL); // unmasks pin 11, asserted all along
            trace.add("pin 11 " + Integer.toHexString(read(REG_REDIRECTION + 2 * 11)));
            trace.add("pin 9 " + Integer.toHexString(read(REG_REDIRECTION + 2 * 9)));
            trace.add("id " + read(REG_ID) + " selected " + io.mmioRead(DEFAULT_BASE + IOREGSEL, 4));
            trace.addAll(messages);
            return trace;
        }
    }

    /** Pin 4 edge, pin 9 level with remote IRR set, pin 11 masked but asserted; ID 3. */
    static Machine busyIoApic() {
        Machine m = new Machine();
        m.write(REG_ID, 3 << 24);
        m.write(REG_REDIRECTION + 2 * 4, 0x31);
        m.write(REG_REDIRECTION + 2 * 4 + 1, 1 << 24);
        m.write(REG_REDIRECTION + 2 * 9, 0x41 | (int) ENTRY_LEVEL);
        m.write(REG_REDIRECTION + 2 * 11, 0x51 | (int) (ENTRY_LEVEL | ENTRY_MASKED));
        m.io.setIrq(9, true);
        m.io.setIrq(11, true);
        assertEquals(ENTRY_REMOTE_IRR, m.io.redirectionEntry(9) & ENTRY_REMOTE_IRR);
        m.io.mmioWrite(DEFAULT_BASE + IOREGSEL, 4, REG_VERSION);
        m.messages.clear();
        return m;
    }

    @Test
    void aRestoredIoApicRoutesAsTheOriginal() throws Exception {
        Machine original = busyIoApic();
        Machine twin = new Machine();
        DeviceState.restore(twin.io, DeviceState.save(original.io));
        List<String> expected = original.drive();
        assertTrue(expected.contains("dest 0 mode 0 vector 65 level"), "pin 9 re-delivered after the EOI: " + expected);
        assertEquals(expected, twin.drive());
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        byte[] saved = DeviceState.save(busyIoApic().io);
        DeviceStateAssertions.assertCorruptStateRefused(() -> new Machine().io, saved);
        // Layout: version (4), ID, IOREGSEL, then the entries (8 bytes each).
        DeviceStateAssertions.assertMalformedRefused(new Machine().io, saved, 4, 16, "ID");
        DeviceStateAssertions.assertMalformedRefused(new Machine().io, saved, 6 + 8 * 2 + 2, 0x02, "redirection entry 2");
    }
}
