package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.pc.CmosRtc.*;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.time.Instant;
import java.util.List;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.MachineInfo;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.devices.VirtualTimer;
import org.symbiont.x86.memory.PhysicalMemory;

class CmosRtcTest {
    static final long MS = 1_000_000L, S = 1_000_000_000L;
    static final long MIB = 1L << 20, GIB = 1L << 30;

    final TestDeviceContext ctx = new TestDeviceContext();
    final TestDeviceContext.Line irq8 = ctx.line(8);
    final CmosRtc rtc = new CmosRtc("rtc", Instant.parse(DEFAULT_BASE_TIME), ctx.machine().ramBytes(), irq8, ctx);

    @AfterEach
    void close() {
        ctx.close();
    }

    int read(int reg) {
        rtc.ioWrite(INDEX_PORT, 1, reg);
        return (int) rtc.ioRead(DATA_PORT, 1);
    }

    void write(int reg, int value) {
        rtc.ioWrite(INDEX_PORT, 1, reg);
        rtc.ioWrite(DATA_PORT, 1, value);
    }

    /** How Linux's mc146818_get_time reads: wait out UIP, read, retry if the seconds moved. */
    int[] readTimeLikeLinux() {
        while (true) {
            while ((read(REG_A) & A_UIP) != 0) ctx.advance(10_000);
            int[] t = {read(SECONDS), read(MINUTES), read(HOURS), read(DAY_OF_MONTH), read(MONTH), read(YEAR), read(CENTURY), read(DAY_OF_WEEK)};
            ctx.advance(5_000); // the reads take time
            if (read(SECONDS) == t[0]) return t;
        }
    }

    @Test
    void readsBaseTimePlusVirtualTimeInBcd24Hour() {
        assertArrayEquals(new int[] {0x00, 0x00, 0x00, 0x01, 0x01, 0x26, 0x20, 5}, readTimeLikeLinux(),
                "2026-01-01 00:00:00, a Thursday (Sunday = 1)");
        ctx.advanceTo(((13 * 60 + 2) * 60 + 3) * S + 400 * MS);
        assertArrayEquals(new int[] {0x03, 0x02, 0x13, 0x01, 0x01, 0x26, 0x20, 5}, readTimeLikeLinux());
        assertEquals(0x26, read(REG_A));
        assertEquals(0x02, read(REG_B));
        assertEquals(0x80, read(REG_D), "valid RAM and time");
    }

    @Test
    void uipIsSetFor244MicrosecondsBeforeEachUpdate() {
        ctx.advanceTo(S - UIP_NANOS - 1);
        assertEquals(0, read(REG_A) & A_UIP);
        assertEquals(0x00, read(SECONDS));
        ctx.advanceTo(S - UIP_NANOS);
        assertEquals(A_UIP, read(REG_A) & A_UIP);
        assertEquals(0x00, read(SECONDS));
        ctx.advanceTo(S - 1);
        assertEquals(A_UIP, read(REG_A) & A_UIP);
        ctx.advanceTo(S);
        assertEquals(0, read(REG_A) & A_UIP);
        assertEquals(0x01, read(SECONDS));
        // A guest that starts reading just before the update waits, then reads the new second.
        ctx.advanceTo(2 * S - 100_000);
        assertEquals(0x02, readTimeLikeLinux()[0]);
        assertTrue(ctx.nanos() >= 2 * S);
    }

    @Test
    void binaryAnd12HourFormats() {
        ctx.advanceTo((13 * 3600 + 5 * 60 + 9) * S);
        write(REG_B, B_24H | B_BINARY);
        assertEquals(9, read(SECONDS));
        assertEquals(5, read(MINUTES));
        assertEquals(13, read(HOURS));
        assertEquals(26, read(YEAR));
        assertEquals(20, read(CENTURY));
        write(REG_B, 0); // BCD, 12-hour
        assertEquals(0x81, read(HOURS), "1 PM");
        write(REG_B, B_BINARY);
        assertEquals(0x81, read(HOURS));
        ctx.advanceTo((24 + 12) * 3600 * S);
        write(REG_B, 0);
        assertEquals(0x92, read(HOURS), "noon is 12 PM");
        ctx.advanceTo(48 * 3600 * S);
        assertEquals(0x12, read(HOURS), "midnight is 12 AM");
        assertEquals(0x03, read(DAY_OF_MONTH));
    }

    @Test
    void settingTheTimeWithSet() {
        ctx.advanceTo(300 * MS);
        write(REG_B, B_SET | B_24H);
        assertEquals(0, read(REG_A) & A_UIP);
        write(YEAR, 0x30);
        write(MONTH, 0x06);
        write(DAY_OF_MONTH, 0x15);
        write(HOURS, 0x12);
        write(MINUTES, 0x34);
        write(SECONDS, 0x56);
        ctx.advance(5 * S);
        assertEquals(0x56, read(SECONDS), "no updates while SET");
        assertEquals(0x06, read(MONTH));
        write(REG_B, B_24H);
        assertEquals(0x56, read(SECONDS));
        assertEquals(7, read(DAY_OF_WEEK), "2030-06-15 is a Saturday");
        // The divider's phase carried on: the next update is on the old second boundary.
        ctx.advanceTo(6 * S - 1);
        assertEquals(0x56, read(SECONDS));
        ctx.advanceTo(6 * S);
        assertEquals(0x57, read(SECONDS));
        // Writing a time register while the clock runs changes the time at once.
        write(HOURS, 0x23);
        write(MINUTES, 0x59);
        write(SECONDS, 0x59);
        ctx.advance(S);
        assertArrayEquals(new int[] {0x00, 0x00, 0x00, 0x16, 0x06, 0x30, 0x20, 1}, readTimeLikeLinux(), "midnight, Sunday");
        // Out-of-range values are normalised: 12/31 + 1 day rolls the year and century.
        write(REG_B, B_SET | B_24H | B_BINARY);
        write(YEAR, 99);
        write(CENTURY, 20);
        write(MONTH, 12);
        write(DAY_OF_MONTH, 32);
        write(REG_B, B_24H | B_BINARY);
        assertEquals(List.of(21, 0, 1, 1), List.of(read(CENTURY), read(YEAR), read(MONTH), read(DAY_OF_MONTH)));
    }

    @Test
    void periodicInterruptAt1024Hz() {
        assertEquals(0x26, read(REG_A), "rate 6");
        write(REG_B, B_24H | B_PIE);
        int interrupts = 0;
        while (ctx.timers().nextDeadline() <= S) {
            ctx.advanceTo(ctx.timers().nextDeadline());
            if (irq8.level) {
                interrupts++;
                int c = read(REG_C); // the interrupt handler acknowledges
                assertEquals(C_IRQF | C_PF, c & (C_IRQF | C_PF));
                assertFalse(irq8.level);
            }
        }
        assertEquals(1024, interrupts);
        assertEquals(1024, irq8.rises);
        // The last one came exactly on the second (1024 * 1/1024 s).
        assertEquals(S, ctx.nanos());
    }

    @Test
    void periodicRatesFollowRateSelect() {
        write(REG_A, 0x2F); // rate 15: 2 Hz
        write(REG_B, B_24H | B_PIE);
        ctx.advanceTo(500 * MS - 1);
        assertFalse(irq8.level);
        ctx.advanceTo(500 * MS);
        assertTrue(irq8.level);
        read(REG_C);
        write(REG_A, 0x23); // rate 3: 8192 Hz, 122.07 us
        ctx.advance(122_070);
        assertFalse(irq8.level);
        ctx.advance(1);
        assertTrue(irq8.level);
        read(REG_C);
        write(REG_A, 0x21); // rate 1 acts as rate 8: 256 Hz
        ctx.advanceTo(500 * MS + 3_906_250 - 1);
        assertFalse(irq8.level);
        ctx.advanceTo(500 * MS + 3_906_250);
        assertTrue(irq8.level);
        read(REG_C);
        write(REG_A, 0x20); // rate 0: none
        ctx.advance(2 * S);
        assertEquals(0, read(REG_C) & C_PF);
    }

    @Test
    void flagsAreSetEvenWhenTheirInterruptIsDisabled() {
        ctx.advance(2 * S + 1);
        int c = read(REG_C);
        assertEquals(C_PF | C_UF, c, "periodic and update flags, no IRQF, alarm 00:00:00 not reached again");
        assertFalse(irq8.level);
        assertEquals(0, read(REG_C), "reading C cleared them");
        // Enabling an interrupt whose flag is already set raises IRQ 8 at once.
        ctx.advance(S);
        write(REG_B, B_24H | B_UIE);
        assertTrue(irq8.level);
        assertEquals(C_IRQF | C_UF | C_PF, read(REG_C));
        assertFalse(irq8.level);
        // Disabling it lowers IRQF (IRQF = PF.PIE + AF.AIE + UF.UIE).
        ctx.advance(S);
        assertTrue(irq8.level);
        write(REG_B, B_24H);
        assertFalse(irq8.level);
    }

    @Test
    void alarmInterruptAtTheMatchingSecond() {
        write(SECONDS_ALARM, 0x05);
        write(MINUTES_ALARM, 0x00);
        write(HOURS_ALARM, 0x00);
        write(REG_B, B_24H | B_AIE);
        ctx.advanceTo(5 * S - 1);
        assertFalse(irq8.level);
        ctx.advanceTo(5 * S);
        assertTrue(irq8.level);
        assertEquals(C_IRQF | C_AF | C_UF | C_PF, read(REG_C));
        assertFalse(irq8.level);
        ctx.advanceTo(10 * S);
        assertFalse(irq8.level, "next match is a day later");
        ctx.advanceTo(86_400 * S + 5 * S);
        assertTrue(irq8.level);
        read(REG_C);
        // "Don't care" bytes: every second of every minute of hour 00... of every hour.
        write(HOURS_ALARM, 0xC0);
        write(MINUTES_ALARM, 0xFF);
        write(SECONDS_ALARM, 0x30);
        ctx.advanceTo(86_400 * S + 30 * S);
        assertTrue(irq8.level);
        read(REG_C);
        ctx.advanceTo(86_400 * S + 90 * S);
        assertTrue(irq8.level, "second 30 of the next minute");
        read(REG_C);
        write(SECONDS_ALARM, 0xFF);
        ctx.advanceTo(86_400 * S + 91 * S);
        assertTrue(irq8.level, "all don't care: every second");
        read(REG_C);
        // An alarm byte in the other format never matches.
        write(SECONDS_ALARM, 0x5A);
        write(MINUTES_ALARM, 0xFF);
        ctx.advance(2 * 86_400 * S);
        assertFalse(irq8.level);
    }

    @Test
    void updateEndedInterruptEverySecond() {
        ctx.advanceTo(250 * MS);
        write(REG_B, B_24H | B_UIE);
        for (int sec = 1; sec <= 3; sec++) {
            ctx.advanceTo(sec * S - 1);
            assertFalse(irq8.level);
            ctx.advanceTo(sec * S);
            assertTrue(irq8.level);
            assertEquals(C_IRQF | C_UF, read(REG_C) & ~C_PF);
            assertEquals(sec, read(SECONDS), "the registers are already updated");
        }
        // SET stops updates and clears UIE.
        write(REG_B, B_SET | B_24H | B_UIE);
        assertEquals(B_SET | B_24H, read(REG_B));
        ctx.advance(3 * S);
        assertEquals(0, read(REG_C) & C_UF);
    }

    @Test
    void dividerResetStopsTheClockAndRestartsHalfASecondLater() {
        ctx.advanceTo(2 * S + 700 * MS);
        write(REG_A, 0x70); // divider reset
        ctx.advance(10 * S);
        assertEquals(0x02, read(SECONDS));
        assertEquals(0, read(REG_A) & A_UIP);
        write(REG_A, 0x26);
        long released = ctx.nanos();
        ctx.advanceTo(released + 500 * MS - 1);
        assertEquals(0x02, read(SECONDS));
        ctx.advanceTo(released + 500 * MS);
        assertEquals(0x03, read(SECONDS), "first update half a second after the reset is released");
        // Test settings of DV hold the clock too.
        write(REG_A, 0x36);
        ctx.advance(5 * S);
        assertEquals(0x03, read(SECONDS));
    }

    @Test
    void indexPortNmiBitAndRam() {
        assertFalse(rtc.nmiDisabled());
        rtc.ioWrite(INDEX_PORT, 1, 0x80 | 0x40);
        assertTrue(rtc.nmiDisabled());
        rtc.ioWrite(DATA_PORT, 1, 0x5A);
        rtc.ioWrite(INDEX_PORT, 1, 0x40);
        assertFalse(rtc.nmiDisabled());
        assertEquals(0x5A, rtc.ioRead(DATA_PORT, 1));
        assertEquals(0xFF, rtc.ioRead(INDEX_PORT, 1), "the index register is write-only");
        write(0x7F, 0x11);
        assertEquals(0x11, read(0x7F));
        write(REG_D, 0x00);
        write(REG_C, 0xFF);
        assertEquals(0x80, read(REG_D));
        assertEquals(0x00, read(REG_C));
        write(REG_A, 0xA6);
        assertEquals(0x26, read(REG_A) & 0x7F, "UIP is read-only");
    }

    /** A context whose machine has {@code ram} bytes of RAM, without allocating them. */
    static DeviceContext withRam(TestDeviceContext ctx, long ram, int cpus) {
        MachineInfo machine = new MachineInfo(ram, java.util.stream.IntStream.range(0, cpus).boxed().toList(), 2_000_000_000L);
        return new DeviceContext() {
            @Override public long nanos() { return ctx.nanos(); }
            @Override public VirtualTimer schedule(long atNanos, Runnable action) { return ctx.schedule(atNanos, action); }
            @Override public InterruptLine interruptLine(int gsi) { return ctx.interruptLine(gsi); }
            @Override public PhysicalMemory memory() { return ctx.memory(); }
            @Override public MachineInfo machine() { return machine; }
            @Override public CharBackend charBackend(String spec) { return ctx.charBackend(spec); }
            @Override public RandomGenerator random() { return ctx.random(); }
            @Override public void exitMachine(int status) { ctx.exitMachine(status); }
            @Override public void resetMachine() { ctx.resetMachine(); }
        };
    }

    static CmosRtc create(DeviceContext context, String config) {
        return (CmosRtc) DeviceRegistry.load().factory("cmos-rtc").create("rtc", ConfigFactory.parseString(config), context);
    }

    static int cmos(CmosRtc rtc, int reg) {
        rtc.ioWrite(INDEX_PORT, 1, reg);
        return (int) rtc.ioRead(DATA_PORT, 1);
    }

    static int word(CmosRtc rtc, int low) {
        return cmos(rtc, low) | cmos(rtc, low + 1) << 8;
    }

    @Test
    void memorySizeBytesFor128MiB() {
        CmosRtc r = create(withRam(ctx, 128 * MIB, 1), "");
        assertEquals(640, word(r, 0x15), "base memory in KiB");
        assertEquals(0xFFFF, word(r, 0x17), "127 MiB of extended memory caps at 65535 KiB");
        assertEquals(0xFFFF, word(r, 0x30));
        assertEquals((128 - 16) * 16, word(r, 0x34), "64 KiB units above 16 MiB");
        assertEquals(0, cmos(r, 0x5B) | cmos(r, 0x5C) | cmos(r, 0x5D));
        assertEquals(0, cmos(r, 0x5F), "one CPU");
        assertEquals(0x06, cmos(r, 0x14), "equipment: FPU, PS/2 mouse, no floppy");
        assertEquals(0x20, cmos(r, 0x37), "PS/2 century");
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++) sum += cmos(r, i);
        assertEquals(sum, cmos(r, 0x2E) << 8 | cmos(r, 0x2F), "AT checksum, big-endian");
    }

    @Test
    void memorySizeBytesFor6GiBAnd40MiB() {
        CmosRtc big = create(withRam(ctx, 6 * GIB, 4), "");
        assertEquals(640, word(big, 0x15));
        assertEquals(0xFFFF, word(big, 0x17));
        assertEquals((3072 - 16) * 16, word(big, 0x34), "3 GiB below 4 GiB");
        assertEquals(3 * GIB / 65536, cmos(big, 0x5B) | cmos(big, 0x5C) << 8 | cmos(big, 0x5D) << 16, "3 GiB above 4 GiB");
        assertEquals(3, cmos(big, 0x5F));

        CmosRtc split = create(withRam(ctx, 6 * GIB, 1), "ram-below-4g = 2G");
        assertEquals((2048 - 16) * 16, word(split, 0x34));
        assertEquals(4 * GIB / 65536, cmos(split, 0x5B) | cmos(split, 0x5C) << 8 | cmos(split, 0x5D) << 16);

        CmosRtc small = create(withRam(ctx, 40 * MIB, 1), "");
        assertEquals(39 * 1024, word(small, 0x17), "KiB above 1 MiB");
        assertEquals(24 * 16, word(small, 0x34));
    }

    @Test
    void factoryParameters() {
        CmosRtc r = create(ctx, "base-time = \"1999-12-31T23:59:58.5Z\", irq = 9");
        assertEquals(0x58, cmos(r, SECONDS));
        assertEquals(0x19, cmos(r, CENTURY));
        ctx.advanceTo(500 * MS + S);
        assertEquals(0x00, cmos(r, SECONDS));
        assertEquals(0x20, cmos(r, CENTURY), "the century rolls with the year");
        assertEquals(0x00, cmos(r, YEAR));
        cmos(r, REG_C);
        r.ioWrite(INDEX_PORT, 1, REG_B);
        r.ioWrite(DATA_PORT, 1, B_24H | B_UIE);
        ctx.advance(S);
        assertTrue(ctx.line(9).level, "irq parameter");

        var bad = assertThrows(ConfigException.class, () -> create(ctx, "base-time = yesterday"));
        assertTrue(bad.getMessage().contains("base-time"), bad.getMessage());
        var far = assertThrows(ConfigException.class, () -> create(ctx, "base-time = \"+12026-01-01T00:00:00Z\""));
        assertTrue(far.getMessage().contains("base-time"), far.getMessage());
        var ram = assertThrows(ConfigException.class, () -> create(ctx, "ram-below-4g = 5G"));
        assertTrue(ram.getMessage().contains("ram-below-4g"), ram.getMessage());
    }

    @Test
    void resetKeepsTimeAndRamButClearsEnablesAndFlags() {
        write(0x50, 0xAB);
        write(REG_B, B_24H | B_UIE | B_PIE | B_SQWE | B_BINARY);
        ctx.advance(S);
        assertTrue(irq8.level);
        rtc.ioWrite(INDEX_PORT, 1, 0x80);
        rtc.reset();
        assertFalse(irq8.level);
        assertFalse(rtc.nmiDisabled());
        assertEquals(B_24H | B_BINARY, read(REG_B));
        assertEquals(0, read(REG_C));
        assertEquals(0xAB, read(0x50));
        assertEquals(1, read(SECONDS));
    }
}
