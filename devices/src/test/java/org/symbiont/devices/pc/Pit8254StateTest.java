package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.devices.TimedLine;

class Pit8254StateTest {
    static final int C0 = 0x40, C1 = 0x41, C2 = 0x42, CTL = 0x43, PORT_B = 0x61;

    /** One PIT on its own machine. */
    static final class Machine {
        final TestDeviceContext ctx = new TestDeviceContext();
        final TimedLine irq0 = new TimedLine(ctx);
        final Pit8254 pit;

        Machine(long startNanos) {
            ctx.advanceTo(startNanos);
            pit = new Pit8254("pit", irq0, ctx);
        }

        int in(int port) {
            return (int) pit.ioRead(port, 1);
        }

        void out(int port, int value) {
            pit.ioWrite(port, 1, value);
        }

        /** Reads counts and OUT2 as time passes, reprograms counter 0 midway; the trace includes IRQ 0's edges. */
        List<String> drive() {
            List<String> trace = new ArrayList<>();
            for (int step = 0; step < 60; step++) {
                ctx.advance(137_000);
                trace.add(ctx.nanos() + " c1 byte " + in(C1) + " c2 latch " + latch(2) + " portB " + (in(PORT_B) & 0x2F));
                if (step == 30) {
                    out(C0, 0x50);
                    out(C0, 0x0C);
                }
                if (step == 45) out(PORT_B, 0);
            }
            trace.addAll(irq0.changes);
            return trace;
        }

        int latch(int counter) {
            out(CTL, counter << 6);
            return in(C0 + counter) | in(C0 + counter) << 8;
        }
    }

    final List<Machine> machines = new ArrayList<>();

    Machine machine(long startNanos) {
        Machine m = new Machine(startNanos);
        machines.add(m);
        return m;
    }

    @AfterEach
    void close() {
        machines.forEach(m -> m.ctx.close());
    }

    /** Counter 0 a rate generator, counter 1 a one-shot half read, counter 2 a gated square wave with a latched status. */
    Machine busyPit() {
        Machine m = machine(0);
        m.out(CTL, 0x34); // counter 0, LSB then MSB, mode 2
        m.out(C0, 0xA0);
        m.out(C0, 0x0F);
        m.out(CTL, 0x70); // counter 1, mode 0
        m.out(C1, 0x00);
        m.out(C1, 0x40);
        m.out(CTL, 0xB7); // counter 2, mode 3, BCD
        m.out(C2, 0x00);
        m.out(C2, 0x25);
        m.out(PORT_B, 0x01);
        m.ctx.advance(1_234_567);
        m.in(C1); // the LSB: the MSB is read next
        m.out(CTL, 0xE8); // read-back: latch counter 2's status
        m.ctx.advance(3_000);
        return m;
    }

    Machine restoredTwin(Machine original) throws Exception {
        byte[] saved = DeviceState.save(original.pit);
        Machine twin = machine(original.ctx.nanos());
        DeviceState.restore(twin.pit, saved);
        original.irq0.changes.clear();
        twin.irq0.changes.clear();
        return twin;
    }

    @Test
    void aRestoredPitCountsAndInterruptsAsTheOriginal() throws Exception {
        Machine original = busyPit();
        Machine twin = restoredTwin(original);
        assertEquals(original.irq0.level, twin.irq0.level);
        List<String> expected = original.drive();
        assertTrue(expected.stream().anyMatch(s -> s.endsWith(" up")), "IRQ 0 fires during the drive");
        assertEquals(expected, twin.drive());
    }

    @Test
    void aPendingReloadSurvives() throws Exception {
        Machine original = machine(0);
        original.out(CTL, 0x36); // counter 0, mode 3
        original.out(C0, 0x00);
        original.out(C0, 0x10);
        original.ctx.advance(500_000);
        original.out(C0, 0x00); // a new count waits for the end of the half cycle
        original.out(C0, 0x02);
        Machine twin = restoredTwin(original);
        assertEquals(original.drive(), twin.drive());
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        Machine original = busyPit();
        byte[] saved = DeviceState.save(original.pit);
        DeviceStateAssertions.assertCorruptStateRefused(() -> machine(original.ctx.nanos()).pit, saved);
        // Layout: version (4), then counter 0: mode, BCD, access.
        DeviceStateAssertions.assertMalformedRefused(machine(0).pit, saved, 4, 6, "counter 0 mode");
        DeviceStateAssertions.assertMalformedRefused(machine(0).pit, saved, 6, 0, "counter 0 access");
    }
}
