package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;

class Pic8259StateTest {
    static final int M_CMD = 0x20, M_DATA = 0x21, S_CMD = 0xA0, S_DATA = 0xA1, ELCR1 = 0x4D1;

    /** One PIC pair with its INT line. */
    static final class Machine {
        final Pic8259 pic = new Pic8259("pic");
        final TestDeviceContext.Line intr = new TestDeviceContext.Line();

        Machine() {
            pic.connectOutput(intr);
            intr.changes.clear();
        }

        int in(int port) {
            return (int) pic.ioRead(port, 1);
        }

        void out(int port, int value) {
            pic.ioWrite(port, 1, value);
        }

        String registers() {
            out(M_CMD, 0x0A);
            int masterIrr = in(M_CMD);
            out(S_CMD, 0x0B);
            int slaveIsr = in(S_CMD);
            return "irr " + masterIrr + " slave isr " + slaveIsr + " imr " + in(M_DATA) + "/" + in(S_DATA) + " int " + intr.level;
        }

        /** Acknowledges and ends interrupts, raising and lowering lines in between. */
        List<String> drive() {
            List<String> trace = new ArrayList<>();
            for (int step = 0; step < 12; step++) {
                trace.add(registers());
                if (pic.outputAsserted()) trace.add("vector " + pic.acknowledge());
                if (step % 3 == 1) {
                    out(S_CMD, 0x20);
                    out(M_CMD, 0x20);
                }
                if (step == 9) pic.setIrq(12, false);
                if (step == 6) pic.setIrq(3, true);
                if (step == 7) pic.setIrq(0, false);
                if (step == 8) pic.setIrq(0, true);
            }
            trace.add("INT changes " + intr.changes);
            return trace;
        }
    }

    /** Linux's setup with IRQ 12 level-triggered, IRQ 0 in service, IRQ 1 and 12 pending, IRQ 4 masked but requested. */
    static Machine busyPic() {
        Machine m = new Machine();
        m.out(M_CMD, 0x11);
        m.out(M_DATA, 0x30);
        m.out(M_DATA, 0x04);
        m.out(M_DATA, 0x01);
        m.out(S_CMD, 0x11);
        m.out(S_DATA, 0x38);
        m.out(S_DATA, 0x02);
        m.out(S_DATA, 0x01);
        m.out(M_DATA, 0xF8);
        m.out(S_DATA, 0xEF);
        m.out(ELCR1, 0x10);
        m.pic.setIrq(0, true);
        assertEquals(0x30, m.pic.acknowledge());
        m.pic.setIrq(1, true);
        m.pic.setIrq(12, true);
        m.pic.setIrq(4, true);
        m.intr.changes.clear();
        return m;
    }

    static Machine restoredTwin(Machine original) throws Exception {
        byte[] saved = DeviceState.save(original.pic);
        Machine twin = new Machine();
        DeviceState.restore(twin.pic, saved);
        return twin;
    }

    @Test
    void aRestoredPicDeliversTheSameVectors() throws Exception {
        Machine original = busyPic();
        Machine twin = restoredTwin(original);
        assertEquals(original.intr.level, twin.intr.level, "INT is driven to its saved level");
        twin.intr.changes.clear();
        List<String> expected = original.drive();
        assertTrue(expected.contains("vector 60"), "IRQ 12's vector is delivered: " + expected);
        assertEquals(expected, twin.drive());
    }

    @Test
    void anAssertedIntIsDrivenOnRestore() throws Exception {
        Machine original = busyPic();
        original.out(M_CMD, 0x20); // EOI for IRQ 0: IRQ 1 is next
        assertTrue(original.intr.level);
        Machine twin = restoredTwin(original);
        assertTrue(twin.intr.level);
        assertEquals(original.pic.acknowledge(), twin.pic.acknowledge());
    }

    @Test
    void aHalfInitializedPicContinuesItsSequence() throws Exception {
        Machine original = new Machine();
        original.out(M_CMD, 0x11);
        original.out(M_DATA, 0x20);
        Machine twin = restoredTwin(original);
        for (Machine m : List.of(original, twin)) {
            m.out(M_DATA, 0x04); // ICW3
            m.out(M_DATA, 0x01); // ICW4
            m.out(M_DATA, 0xFE); // OCW1
            m.pic.setIrq(0, true);
            assertEquals(0x20, m.pic.acknowledge());
        }
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        byte[] saved = DeviceState.save(busyPic().pic);
        DeviceStateAssertions.assertCorruptStateRefused(() -> new Pic8259("pic"), saved);
        // Layout: version (4), master: pins, IRR, ISR, IMR, ELCR, highest priority, vector base.
        DeviceStateAssertions.assertMalformedRefused(new Pic8259("pic"), saved, 8, 0x01, "master ELCR");
        DeviceStateAssertions.assertMalformedRefused(new Pic8259("pic"), saved, 9, 8, "master highest priority IR");
        DeviceStateAssertions.assertMalformedRefused(new Pic8259("pic"), saved, 10, 0x31, "master vector base");
        DeviceStateAssertions.assertMalformedRefused(new Pic8259("pic"), saved, 21, 1, "master initialization step");
    }
}
