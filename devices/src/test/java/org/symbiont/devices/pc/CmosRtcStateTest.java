package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.pc.CmosRtc.*;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.devices.TimedLine;

class CmosRtcStateTest {
    static final long MS = 1_000_000L, S = 1_000_000_000L;

    /** One RTC on its own machine. */
    static final class Machine {
        final TestDeviceContext ctx = new TestDeviceContext();
        final TimedLine irq8 = new TimedLine(ctx);
        final CmosRtc rtc;

        Machine(long startNanos) {
            ctx.advanceTo(startNanos);
            rtc = new CmosRtc("rtc", Instant.parse(DEFAULT_BASE_TIME), ctx.machine().ramBytes(), irq8, ctx);
        }

        int read(int reg) {
            rtc.ioWrite(INDEX_PORT, 1, reg);
            return (int) rtc.ioRead(DATA_PORT, 1);
        }

        void write(int reg, int value) {
            rtc.ioWrite(INDEX_PORT, 1, reg);
            rtc.ioWrite(DATA_PORT, 1, value);
        }

        /** An interrupt handler acknowledging through register C, and time reads, over three seconds. */
        List<String> drive() {
            List<String> trace = new ArrayList<>();
            for (int step = 0; step < 300; step++) {
                ctx.advance(10 * MS + 7);
                if (irq8.level) trace.add(ctx.nanos() + " C=" + read(REG_C));
                if (step % 50 == 0) {
                    trace.add(ctx.nanos() + " time " + read(HOURS) + ":" + read(MINUTES) + ":" + read(SECONDS) + " A=" + read(REG_A));
                }
                if (step == 150) write(REG_B, B_24H | B_UIE | B_AIE);
            }
            trace.addAll(irq8.changes);
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

    /** The clock set to 12:34:56, an alarm at 12:34:58, periodic 8 Hz, update and alarm interrupts on, one pending. */
    Machine busyRtc() {
        Machine m = machine(0);
        m.write(REG_B, B_24H | B_SET);
        m.write(HOURS, 0x12);
        m.write(MINUTES, 0x34);
        m.write(SECONDS, 0x56);
        m.write(HOURS_ALARM, 0x12);
        m.write(MINUTES_ALARM, 0x34);
        m.write(SECONDS_ALARM, 0x58);
        m.write(REG_A, 0x2D); // 8 Hz periodic rate
        m.write(REG_B, B_24H | B_PIE | B_UIE | B_AIE);
        m.write(0x40, 0xA5); // an ordinary CMOS byte
        m.ctx.advance(1_300 * MS);
        assertTrue(m.irq8.level);
        m.rtc.ioWrite(INDEX_PORT, 1, 0x80 | REG_C); // index set, NMI disabled
        return m;
    }

    Machine restoredTwin(Machine original) throws Exception {
        byte[] saved = DeviceState.save(original.rtc);
        Machine twin = machine(original.ctx.nanos());
        DeviceState.restore(twin.rtc, saved);
        original.irq8.changes.clear();
        twin.irq8.changes.clear();
        return twin;
    }

    @Test
    void aRestoredRtcKeepsTimeAndInterruptsAsTheOriginal() throws Exception {
        Machine original = busyRtc();
        Machine twin = restoredTwin(original);
        assertTrue(twin.irq8.level, "the pending interrupt's level is driven");
        assertTrue(twin.rtc.nmiDisabled());
        assertEquals(original.rtc.ioRead(DATA_PORT, 1), twin.rtc.ioRead(DATA_PORT, 1), "register C through the saved index");
        assertEquals(0xA5, twin.read(0x40));
        List<String> expected = original.drive();
        assertTrue(expected.stream().anyMatch(s -> s.contains(" up")), "interrupts during the drive");
        assertEquals(expected, twin.drive());
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        Machine original = busyRtc();
        byte[] saved = DeviceState.save(original.rtc);
        DeviceStateAssertions.assertCorruptStateRefused(() -> machine(original.ctx.nanos()).rtc, saved);
        // Layout: version (4), 128 CMOS bytes, index, NMI disabled, origin (8), seconds (8), flags.
        DeviceStateAssertions.assertMalformedRefused(machine(0).rtc, saved, 132, 0x80, "index");
        DeviceStateAssertions.assertMalformedRefused(machine(0).rtc, saved, 150, 0x81, "register C flags");
    }
}
