package org.symbiont.devices.firmware;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.firmware.AcpiPm.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;

class AcpiPmStateTest {
    static final int BASE = 0x600;

    /** One PM block on its own machine. */
    static final class Machine {
        final TestDeviceContext ctx = new TestDeviceContext();
        final TestDeviceContext.Line sci = ctx.line(SCI_IRQ);
        final AcpiPm pm;

        Machine(long startNanos) {
            ctx.advanceTo(startNanos);
            pm = new AcpiPm("pm", BASE, 24, true, ctx);
        }

        /** An SCI handler clearing the status it finds, over several timer overflows. */
        List<String> drive() {
            List<String> trace = new ArrayList<>();
            for (int step = 0; step < 40; step++) {
                ctx.advance(333_333_333);
                long status = pm.ioRead(BASE + PM1_STS, 2);
                trace.add(ctx.nanos() + " sci " + sci.level + " status " + status + " timer " + pm.ioRead(BASE + PM_TMR, 4)
                        + " reset " + pm.ioRead(RESET_PORT, 1));
                if (sci.level) pm.ioWrite(BASE + PM1_STS, 2, status);
                if (step == 20) pm.ioWrite(BASE + PM1_EN, 2, TMR_EN);
            }
            trace.add("SCI changes " + sci.changes);
            return trace;
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

    /** Timer and power-button events enabled, a power-button press pending, the reset register written. */
    Machine busyPm() {
        Machine m = machine(0);
        m.pm.ioWrite(BASE + PM1_EN, 2, TMR_EN | PWRBTN_EN);
        m.pm.ioWrite(BASE + PM1_CNT, 2, SCI_EN | 5 << SLP_TYP_SHIFT);
        m.pm.ioWrite(RESET_PORT, 1, 0x02);
        m.ctx.advance(1_700_000_000L);
        m.pm.pressPowerButton();
        assertTrue(m.sci.level);
        return m;
    }

    @Test
    void aRestoredPmBlockRaisesTheSameEventsAtTheSameTimes() throws Exception {
        Machine original = busyPm();
        byte[] saved = DeviceState.save(original.pm);
        Machine twin = machine(original.ctx.nanos());
        DeviceState.restore(twin.pm, saved);
        assertTrue(twin.sci.level, "the pending SCI is driven");
        original.sci.changes.clear();
        twin.sci.changes.clear();
        List<String> expected = original.drive();
        assertTrue(expected.stream().anyMatch(s -> s.contains(" status 1 ")), "timer overflows during the drive: " + expected);
        assertEquals(expected, twin.drive());
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        Machine original = busyPm();
        byte[] saved = DeviceState.save(original.pm);
        DeviceStateAssertions.assertCorruptStateRefused(() -> machine(original.ctx.nanos()).pm, saved);
        // Layout: version (4), status (2), enable (2), control (2), reset register.
        DeviceStateAssertions.assertMalformedRefused(machine(0).pm, saved, 4, 0x02, "PM1 status");
        DeviceStateAssertions.assertMalformedRefused(machine(0).pm, saved, 9, 0x20, "PM1 control");
        DeviceStateAssertions.assertMalformedRefused(machine(0).pm, saved, 10, 0x04, "reset register");
    }
}
