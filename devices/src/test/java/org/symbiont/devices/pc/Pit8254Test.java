package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.pc.Pit8254.nanosOfTick;
import static org.symbiont.devices.pc.Pit8254.tickAt;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.TestDeviceContext;

class Pit8254Test {
    static final int C0 = 0x40, C1 = 0x41, C2 = 0x42, CTL = 0x43, PORT_B = 0x61;

    final TestDeviceContext ctx = new TestDeviceContext();
    final TestDeviceContext.Line irq0 = ctx.line(0);
    final Pit8254 pit = new Pit8254("pit", irq0, ctx);

    @AfterEach
    void close() {
        ctx.close();
    }

    int in(int port) {
        return (int) pit.ioRead(port, 1);
    }

    void out(int port, int value) {
        pit.ioWrite(port, 1, value);
    }

    /** Moves virtual time to the instant of clock edge {@code tick}. */
    void toTick(long tick) {
        ctx.advanceTo(nanosOfTick(tick));
    }

    int latchAndRead(int counter) {
        out(CTL, counter << 6); // counter latch command
        int lsb = in(C0 + counter);
        return lsb | in(C0 + counter) << 8;
    }

    boolean out2() {
        return (in(PORT_B) & 0x20) != 0;
    }

    @Test
    void clockEdgesMapToVirtualTimeBothWays() {
        assertEquals(1_193_182, tickAt(1_000_000_000L));
        assertEquals(1_000_000_000L, nanosOfTick(1_193_182));
        for (long tick : new long[] {1, 2, 1193, 59_659, 123_456_789_012L}) {
            long t = nanosOfTick(tick);
            assertEquals(tick, tickAt(t));
            assertEquals(tick - 1, tickAt(t - 1));
        }
        assertEquals(839, nanosOfTick(1), "clock edge 1 comes at 838.1 ns: seen from the next whole nanosecond");
    }

    @Test
    void mode2At1kHzGivesTenIrq0PulsesIn10ms() {
        out(CTL, 0x34); // counter 0, LSB then MSB, mode 2, binary
        out(C0, 1193 & 0xFF);
        out(C0, 1193 >> 8);
        int before = irq0.rises;
        List<Long> lowTimes = new ArrayList<>();
        boolean wasHigh = irq0.level;
        // Follow the timers one by one to see each edge at its exact time.
        while (ctx.timers().nextDeadline() <= 10_000_000L) {
            ctx.advanceTo(ctx.timers().nextDeadline());
            if (wasHigh && !irq0.level) lowTimes.add(ctx.nanos());
            wasHigh = irq0.level;
        }
        ctx.advanceTo(10_000_000L);
        assertEquals(10, irq0.rises - before);
        assertEquals(10, lowTimes.size());
        // Loaded on clock 1 after the write; OUT low when the count reaches 1, high on the reload.
        for (int m = 0; m < 10; m++) {
            assertEquals(nanosOfTick(1 + 1193L * m + 1192), lowTimes.get(m));
        }
        assertTrue(irq0.level);
    }

    @Test
    void countOfOneInMode2ActsAsTwo() {
        out(CTL, 0x14); // LSB only, mode 2
        out(C0, 1);
        toTick(1 + 1);
        assertFalse(irq0.level);
        toTick(1 + 2);
        assertTrue(irq0.level);
        toTick(1 + 3);
        assertFalse(irq0.level);
    }

    @Test
    void countsReadMidPeriodComeFromVirtualTime() {
        out(CTL, 0x34);
        out(C0, 1193 & 0xFF);
        out(C0, 1193 >> 8);
        ctx.advanceTo(500_000); // 0.5 ms
        long clocks = tickAt(500_000) - 1; // since the load on clock 1
        assertEquals(1193 - clocks, latchAndRead(0));
        // A latched count holds while time passes; a second latch is ignored until it is read.
        out(CTL, 0x00);
        ctx.advance(100_000);
        out(CTL, 0x00);
        int lsb = in(C0);
        ctx.advance(100_000);
        int msb = in(C0);
        assertEquals(1193 - clocks, lsb | msb << 8, "the count at the first latch");
        // After the reload the count starts over.
        ctx.advanceTo(nanosOfTick(1 + 1193 + 10));
        assertEquals(1193 - 10, latchAndRead(0));
        // Unlatched reads in LSB-then-MSB mode read the live count byte by byte.
        long now = tickAt(ctx.nanos());
        int live = in(C0) | in(C0) << 8;
        assertEquals(1193 - (now - 1 - 1193), live);
    }

    @Test
    void mode0OneShotRaisesOutAfterNPlusOneClocks() {
        toTick(100);
        out(CTL, 0x30); // counter 0, mode 0
        assertFalse(irq0.level, "OUT low after the control word");
        out(C0, 50);
        out(C0, 0);
        toTick(100 + 50);
        assertFalse(irq0.level);
        assertEquals(1, latchAndRead(0));
        toTick(100 + 51);
        assertTrue(irq0.level, "N + 1 clocks after the count was written");
        assertEquals(0, latchAndRead(0));
        ctx.advance(100_000_000);
        assertTrue(irq0.level, "stays high; the counter wraps and keeps counting");
        assertEquals(List.of(false, true), irq0.changes.subList(irq0.changes.size() - 2, irq0.changes.size()));
        // Writing the first byte of a new count stops counting and drops OUT at once.
        out(C0, 0x10);
        assertFalse(irq0.level);
        int frozen = latchAndRead(0);
        ctx.advance(10_000);
        assertEquals(frozen, latchAndRead(0), "counting disabled between the two bytes");
        out(C0, 0);
        long t = tickAt(ctx.nanos());
        toTick(t + 16);
        assertFalse(irq0.level);
        toTick(t + 17);
        assertTrue(irq0.level);
    }

    @Test
    void readBackLatchesStatusThenCount() {
        out(CTL, 0xB4); // counter 2, LSB then MSB, mode 2
        out(CTL, 0xE8); // read-back status of counter 2
        assertEquals(0x80 | 0x40 | 0x34, in(C2), "OUT high, null count (no count written yet)");
        out(PORT_B, 0x01);
        out(C2, 0x00);
        out(C2, 0x10); // 4096
        out(CTL, 0xE8);
        assertEquals(0xC0 | 0x34, in(C2), "null count until the next clock loads the count");
        toTick(tickAt(ctx.nanos()) + 5);
        out(CTL, 0xC8); // status and count of counter 2
        assertEquals(0x80 | 0x34, in(C2), "status first");
        int count = in(C2) | in(C2) << 8;
        assertEquals(4096 - 4, count, "then the count");
        // Read-back of several counters at once; counter 0 keeps its power-on mode 3 (0x36).
        out(CTL, 0xD2); // read-back: count of counter 0
        out(CTL, 0xE2); // read-back: status of counter 0
        assertEquals(0x36, in(C0) & 0x3F, "status comes first whichever was latched first");
        int c0count = in(C0) | in(C0) << 8;
        assertEquals(0, c0count % 2, "mode 3 counts by two");
    }

    @Test
    void accessModesLsbOnlyAndMsbOnly() {
        out(CTL, 0x10); // counter 0, LSB only, mode 0
        out(C0, 200);
        toTick(tickAt(ctx.nanos()) + 1 + 50);
        assertEquals(150, in(C0));
        assertEquals(150, in(C0), "each read is a whole LSB read");
        out(CTL, 0x20); // MSB only, mode 0
        out(C0, 0x02); // 512
        toTick(tickAt(ctx.nanos()) + 1 + 256);
        assertEquals(1, in(C0), "MSB of 256");
        // Interleaved reads and writes keep separate byte pointers.
        out(CTL, 0x30);
        out(C0, 0x00);
        out(C0, 0x40); // 0x4000
        out(CTL, 0x00);
        int lsb = in(C0);
        out(C0, 0x00); // first byte of a new count
        int msb = in(C0);
        out(C0, 0x20);
        assertEquals(0x40, msb, "the latched count survives the interleaved write");
        assertEquals(0x00, lsb);
    }

    @Test
    void counter2GateAndOutputThroughPortB() {
        // Linux's TSC calibration: gate on, speaker off, counter 2 mode 0 for 50 ms.
        out(PORT_B, (in(PORT_B) & ~0x02) | 0x01);
        out(CTL, 0xB0);
        int latch = 1_193_182 / 20;
        out(C2, latch & 0xFF);
        out(C2, latch >> 8);
        long start = tickAt(ctx.nanos());
        assertFalse(out2());
        toTick(start + latch);
        assertFalse(out2());
        toTick(start + latch + 1);
        assertTrue(out2(), "OUT2 rises after 50 ms");
        assertEquals(0, in(PORT_B) & 0xC0, "no NMI sources");
        assertEquals(0x01, in(PORT_B) & 0x0F);

        // Gate low suspends mode 0 counting.
        out(CTL, 0xB0);
        out(C2, 100);
        out(C2, 0);
        long t = tickAt(ctx.nanos());
        toTick(t + 41); // loaded on t + 1, 40 counted
        assertEquals(60, latchAndRead(2));
        out(PORT_B, 0x00);
        ctx.advance(1_000_000);
        assertEquals(60, latchAndRead(2));
        assertFalse(out2());
        long resume = tickAt(ctx.nanos());
        out(PORT_B, 0x01);
        toTick(resume + 59);
        assertFalse(out2());
        assertEquals(1, latchAndRead(2));
        toTick(resume + 60);
        assertTrue(out2());
    }

    @Test
    void mode3SquareWaveEvenAndOddCounts() {
        out(PORT_B, 0x01);
        out(CTL, 0xB6); // counter 2, mode 3
        out(C2, 10);
        out(C2, 0);
        long load = tickAt(ctx.nanos()) + 1;
        StringBuilder wave = new StringBuilder();
        List<Integer> counts = new ArrayList<>();
        for (long t = load; t < load + 20; t++) {
            toTick(t);
            wave.append(out2() ? 'H' : 'L');
            counts.add(latchAndRead(2));
        }
        assertEquals("HHHHHLLLLLHHHHHLLLLL", wave.toString());
        assertEquals(List.of(10, 8, 6, 4, 2, 10, 8, 6, 4, 2), counts.subList(0, 10));

        out(CTL, 0xB6);
        out(C2, 5);
        out(C2, 0);
        load = tickAt(ctx.nanos()) + 1;
        wave.setLength(0);
        counts.clear();
        for (long t = load; t < load + 10; t++) {
            toTick(t);
            wave.append(out2() ? 'H' : 'L');
            counts.add(latchAndRead(2));
        }
        assertEquals("HHHLLHHHLL", wave.toString(), "odd: high (N+1)/2, low (N-1)/2");
        assertEquals(List.of(4, 2, 0, 4, 2), counts.subList(0, 5));

        // Gate low forces OUT high and stops; the rising gate restarts the period.
        assertFalse(out2(), "clock 9 of the odd wave is low");
        out(PORT_B, 0x00);
        assertTrue(out2());
        long restart = tickAt(ctx.nanos());
        out(PORT_B, 0x01);
        toTick(restart + 1);
        assertEquals(4, latchAndRead(2));
        toTick(restart + 4);
        assertFalse(out2());
    }

    @Test
    void newCountInModes2And3WaitsForTheEndOfThePeriod() {
        out(CTL, 0x34);
        out(C0, 100);
        out(C0, 0);
        toTick(1 + 30);
        out(C0, 50);
        out(C0, 0);
        out(CTL, 0xE2);
        assertEquals(0x40, in(C0) & 0x40, "null count: the new count is not loaded yet");
        toTick(1 + 99);
        assertFalse(irq0.level, "the old period ends as programmed");
        toTick(1 + 100);
        assertTrue(irq0.level);
        assertEquals(50, latchAndRead(0), "reloaded with the new count");
        toTick(1 + 100 + 49);
        assertFalse(irq0.level);
        toTick(1 + 100 + 50);
        assertTrue(irq0.level);

        // Mode 3: a count written in the high half takes effect when the low half starts.
        out(PORT_B, 0x01);
        out(CTL, 0xB6);
        out(C2, 20);
        out(C2, 0);
        long load = tickAt(ctx.nanos()) + 1;
        toTick(load + 3);
        out(C2, 8);
        out(C2, 0);
        toTick(load + 9);
        assertTrue(out2());
        assertEquals(2, latchAndRead(2), "still the old half: 20 - 2 * 9");
        toTick(load + 10);
        assertFalse(out2());
        assertEquals(8, latchAndRead(2), "the new count starts with its low half");
        toTick(load + 14);
        assertTrue(out2());
        toTick(load + 18);
        assertFalse(out2());
    }

    @Test
    void bcdCounting() {
        out(CTL, 0x31); // counter 0, mode 0, BCD
        out(C0, 0x00);
        out(C0, 0x10); // 1000 decimal
        toTick(1 + 250);
        assertEquals(0x0750, latchAndRead(0));
        toTick(1 + 1000);
        assertTrue(irq0.level);
        toTick(1 + 1001);
        assertEquals(0x9999, latchAndRead(0), "wraps to 9999 in BCD");
        out(CTL, 0x31);
        out(C0, 0);
        out(C0, 0); // 0 is 10000 in BCD
        long t = tickAt(ctx.nanos());
        toTick(t + 1 + 1);
        assertEquals(0x9999, latchAndRead(0));
        toTick(t + 1 + 10_000);
        assertTrue(irq0.level);
    }

    @Test
    void mode1OneShotTriggeredByGate() {
        out(CTL, 0xB2); // counter 2, mode 1
        out(C2, 30);
        out(C2, 0);
        assertTrue(out2(), "OUT high until triggered");
        ctx.advance(50_000);
        assertTrue(out2());
        out(PORT_B, 0x01); // rising gate: trigger
        long trigger = tickAt(ctx.nanos());
        toTick(trigger + 1);
        assertFalse(out2(), "low from the clock after the trigger");
        toTick(trigger + 30);
        assertFalse(out2());
        toTick(trigger + 31);
        assertTrue(out2(), "for N clocks");
        // Retriggering during the pulse restarts it; the gate falling does not stop it.
        out(PORT_B, 0x00);
        out(PORT_B, 0x01);
        long again = tickAt(ctx.nanos());
        toTick(again + 20);
        out(PORT_B, 0x00);
        out(PORT_B, 0x01);
        long retrigger = tickAt(ctx.nanos());
        toTick(retrigger + 30);
        assertFalse(out2());
        toTick(retrigger + 31);
        assertTrue(out2());
    }

    @Test
    void mode4And5StrobeLowForOneClock() {
        out(CTL, 0x38); // counter 0, mode 4
        out(C0, 10);
        out(C0, 0);
        int changes = irq0.changes.size();
        toTick(1 + 9);
        assertTrue(irq0.level);
        toTick(1 + 10);
        assertFalse(irq0.level, "strobe when the count reaches 0");
        toTick(1 + 11);
        assertTrue(irq0.level);
        ctx.advance(70_000_000);
        assertEquals(List.of(false, true), irq0.changes.subList(changes, irq0.changes.size()), "only once");

        out(CTL, 0xBA); // counter 2, mode 5
        out(C2, 6);
        out(C2, 0);
        ctx.advance(10_000);
        assertTrue(out2(), "waits for a trigger");
        out(PORT_B, 0x01);
        long trigger = tickAt(ctx.nanos());
        toTick(trigger + 1 + 5);
        assertTrue(out2());
        toTick(trigger + 1 + 6);
        assertFalse(out2());
        toTick(trigger + 1 + 7);
        assertTrue(out2());
    }

    @Test
    void portBRefreshToggleAndStoredBits() {
        out(PORT_B, 0xFF);
        assertEquals(0x0F, in(PORT_B) & 0xCF, "bits 0-3 stored, 6-7 read 0");
        ctx.advanceTo(1_000);
        int a = in(PORT_B) & 0x10;
        ctx.advanceTo(16_000);
        int b = in(PORT_B) & 0x10;
        ctx.advanceTo(31_000);
        int c = in(PORT_B) & 0x10;
        assertNotEquals(a, b, "bit 4 toggles every 15 us");
        assertEquals(a, c);
        assertEquals(0xFF, in(CTL), "the control port is write-only");
    }

    @Test
    void powerOnCounter0TicksAt18HzInMode3() {
        int before = irq0.rises;
        ctx.advanceTo(nanosOfTick(1 + 65_536L * 18));
        assertEquals(18, irq0.rises - before);
        out(CTL, 0xE2);
        assertEquals(0x36, in(C0) & 0x3F, "mode 3, LSB then MSB, binary");
    }

    @Test
    void wideAccessAndReset() {
        out(CTL, 0x30);
        out(C0, 5);
        out(C0, 0);
        assertFalse(irq0.level);
        pit.reset();
        assertTrue(irq0.level, "back to mode 3: OUT high");
        assertEquals(0, in(PORT_B) & 0x01);
        assertEquals(0xFF, pit.ioRead(C2, 2) >> 8, "a 16-bit read at 0x42 reads 0x43 as its high byte");
    }

    @Test
    void factoryAndIrqParameter() {
        var pitDevice = (PortIoDevice) DeviceRegistry.load().factory("pit8254")
                .create("pit2", ConfigFactory.parseString("irq = 2"), ctx);
        assertEquals(List.of(new org.symbiont.devices.PortRange(0x40, 4), new org.symbiont.devices.PortRange(0x61, 1)),
                pitDevice.portRanges());
        assertTrue(ctx.line(2).level, "counter 0 in mode 3 drives GSI 2 high");
        assertThrows(ConfigException.class, () -> DeviceRegistry.load().factory("pit8254")
                .create("p", ConfigFactory.parseString("irq = -1"), ctx));
    }
}
