package org.symbiont.devices.firmware;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.TestDeviceContext;

/** The ACPI fixed registers driven as ACPICA drives them. */
class AcpiPmTest {
    private static final int STS = 0x600, EN = 0x602, CNT = 0x604, TMR = 0x608;

    private static AcpiPm create(TestDeviceContext ctx, String config) {
        return (AcpiPm) DeviceRegistry.load().factory("acpi-pm").create("pm", ConfigFactory.parseString(config), ctx);
    }

    @Test
    void layoutAndPowerOnState() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = create(ctx, "");
            assertEquals(List.of(new PortRange(0x600, 12), new PortRange(0xCF9, 1)), pm.portRanges());
            assertEquals(0, pm.ioRead(STS, 2));
            assertEquals(0, pm.ioRead(EN, 2));
            assertEquals(AcpiPm.SCI_EN, pm.ioRead(CNT, 2), "always in ACPI mode");
            assertEquals(0, pm.ioRead(0x606, 2));
            assertEquals(0xFF, pm.ioRead(0x60B, 2) >>> 8, "past the block");
            AcpiPm alt = create(ctx, "iobase = 45056\nreset-register = false");
            assertEquals(List.of(new PortRange(0xB000, 12)), alt.portRanges());
        }
    }

    @Test
    void theTimerCountsAt3579545HzFromVirtualTimeAndWrapsAt24Bits() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = create(ctx, "");
            assertEquals(0, pm.ioRead(TMR, 4));
            ctx.advanceTo(279);
            assertEquals(0, pm.ioRead(TMR, 4), "279 ns is 0.9987 ticks");
            ctx.advanceTo(280);
            assertEquals(1, pm.ioRead(TMR, 4), "280 ns is 1.0023 ticks");
            ctx.advanceTo(1_000_000_000L);
            assertEquals(3_579_545, pm.ioRead(TMR, 4));
            ctx.advanceTo(5_000_000_000L);                            // 17 897 725 ticks: past 2^24
            assertEquals(17_897_725 - (1 << 24), pm.ioRead(TMR, 4));
            assertEquals((17_897_725 - (1 << 24)) & 0xFF, pm.ioRead(TMR, 1), "byte reads");
            assertEquals(0, pm.ioRead(TMR + 3, 1), "the top byte of a 24-bit timer");
            pm.ioWrite(TMR, 4, 0);
            assertEquals(17_897_725 - (1 << 24), pm.ioRead(TMR, 4), "read-only");
            // a long time: exact arithmetic, no overflow (about 3.2 years)
            ctx.advanceTo(100_000_000_000_000_000L);
            long ticks = java.math.BigInteger.valueOf(100_000_000_000_000_000L).multiply(java.math.BigInteger.valueOf(3_579_545))
                    .divide(java.math.BigInteger.valueOf(1_000_000_000L)).longValue();
            assertEquals(ticks & 0xFF_FFFF, pm.ioRead(TMR, 4));
        }
    }

    @Test
    void aThirtyTwoBitTimerUsesAllBits() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = create(ctx, "timer-bits = 32");
            assertTrue(pm.timer32());
            ctx.advanceTo(5_000_000_000L);
            assertEquals(17_897_725, pm.ioRead(TMR, 4));
        }
    }

    @Test
    void timerStatusSetsOnEachMsbToggleAndRaisesTheSciWhenEnabled() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = create(ctx, "");
            long half = AcpiPm.nanosAt(1 << 23);                      // bit 23 first becomes 1
            assertEquals(2_343_484_438L, half);
            ctx.advanceTo(half - 1);
            assertEquals(0, pm.ioRead(STS, 2));
            ctx.advanceTo(half);
            assertEquals(AcpiPm.TMR_STS, pm.ioRead(STS, 2));
            assertFalse(ctx.line(9).level, "not enabled");
            pm.ioWrite(STS, 2, AcpiPm.TMR_STS);                       // write 1 to clear
            assertEquals(0, pm.ioRead(STS, 2));
            pm.ioWrite(EN, 2, AcpiPm.TMR_EN);
            assertEquals(AcpiPm.TMR_EN, pm.ioRead(EN, 2));
            ctx.advanceTo(AcpiPm.nanosAt(2L << 23) - 1);
            assertFalse(ctx.line(9).level);
            ctx.advanceTo(AcpiPm.nanosAt(2L << 23));                  // bit 23 falls back to 0: an event too
            assertTrue(ctx.line(9).level, "the scheduled event raised the SCI without a register access");
            pm.ioWrite(STS, 2, AcpiPm.TMR_STS);
            assertFalse(ctx.line(9).level);
            ctx.advanceTo(AcpiPm.nanosAt(3L << 23));
            assertTrue(ctx.line(9).level);
            pm.ioWrite(EN, 2, 0);
            assertFalse(ctx.line(9).level, "disabling drops the line; status stays");
            assertEquals(AcpiPm.TMR_STS, pm.ioRead(STS, 2));
            assertTrue(ctx.timers().isEmpty(), "no event is kept while TMR_EN is clear");
        }
    }

    @Test
    void thePowerButtonRaisesTheSciOnlyInAcpiModeWithItsEnableSet() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = create(ctx, "");
            pm.pressPowerButton();
            assertEquals(AcpiPm.PWRBTN_STS, pm.ioRead(STS, 2));
            assertFalse(ctx.line(9).level);
            pm.ioWrite(EN + 1, 1, AcpiPm.PWRBTN_EN >>> 8);             // byte write to the high half
            assertEquals(AcpiPm.PWRBTN_EN, pm.ioRead(EN, 2));
            assertTrue(ctx.line(9).level);
            pm.ioWrite(CNT, 2, 0);                                    // SCI_EN off: events would go to SMI
            assertFalse(ctx.line(9).level);
            pm.ioWrite(CNT, 2, AcpiPm.SCI_EN);
            assertTrue(ctx.line(9).level);
            // a 32-bit write to the event block: clears status (low half) and writes enable (high half)
            pm.ioWrite(STS, 4, AcpiPm.PWRBTN_STS | (long) AcpiPm.PWRBTN_EN << 16);
            assertEquals(AcpiPm.PWRBTN_EN << 16, pm.ioRead(STS, 4));
            assertFalse(ctx.line(9).level);
            pm.ioWrite(EN, 2, 0xFFFF);
            assertEquals(AcpiPm.TMR_EN | AcpiPm.GBL_EN | AcpiPm.PWRBTN_EN, pm.ioRead(EN, 2), "only the events this block has");
        }
    }

    @Test
    void enteringS5EndsTheMachineAndOtherSleepTypesDoNot() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = create(ctx, "");
            // ACPICA: SLP_TYP first, then SLP_TYP | SLP_EN
            pm.ioWrite(CNT, 2, AcpiPm.SCI_EN | 5 << AcpiPm.SLP_TYP_SHIFT);
            assertEquals(AcpiPm.SCI_EN | 5 << AcpiPm.SLP_TYP_SHIFT, pm.ioRead(CNT, 2));
            pm.ioWrite(CNT, 2, AcpiPm.SCI_EN | 5 << AcpiPm.SLP_TYP_SHIFT | AcpiPm.SLP_EN);
            assertNull(ctx.exitStatus, "S5 is SLP_TYP 0 here; 5 is not offered");
            assertEquals(AcpiPm.SCI_EN | 5 << AcpiPm.SLP_TYP_SHIFT, pm.ioRead(CNT, 2), "SLP_EN reads 0");
            pm.ioWrite(CNT, 2, AcpiPm.SCI_EN | AcpiPm.S5_SLEEP_TYPE << AcpiPm.SLP_TYP_SHIFT);
            assertNull(ctx.exitStatus, "SLP_TYP alone does nothing");
            pm.ioWrite(CNT, 2, 0x2000);                               // the QEMU shutdown idiom outw(0x604, 0x2000)
            assertEquals(0, ctx.exitStatus);
        }
    }

    @Test
    void theResetRegisterResetsOnRstCpuAndStoresTheOtherBits() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = create(ctx, "");
            pm.ioWrite(0xCF9, 1, 0x02);
            assertEquals(0, ctx.resets);
            assertEquals(0x02, pm.ioRead(0xCF9, 1));
            pm.ioWrite(0xCF9, 1, AcpiPm.RESET_VALUE);
            assertEquals(1, ctx.resets);
            pm.ioWrite(0xCF9, 1, 0x0E);
            assertEquals(2, ctx.resets);
            pm.ioWrite(0xCF9, 1, 0xFB);
            assertEquals(0x0A, pm.ioRead(0xCF9, 1));
            pm.reset();
            assertEquals(0, pm.ioRead(0xCF9, 1));
        }
    }

    @Test
    void resetClearsTheEventStateButNotTheTimer() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = create(ctx, "");
            pm.ioWrite(EN, 2, AcpiPm.TMR_EN | AcpiPm.PWRBTN_EN);
            pm.pressPowerButton();
            assertTrue(ctx.line(9).level);
            ctx.advance(1_000_000);
            long t = pm.ioRead(TMR, 4);
            pm.reset();
            assertFalse(ctx.line(9).level);
            assertEquals(0, pm.ioRead(STS, 2));
            assertEquals(0, pm.ioRead(EN, 2));
            assertEquals(t, pm.ioRead(TMR, 4));
            assertTrue(ctx.timers().isEmpty());
        }
    }

    @Test
    void badParametersAreConfigErrors() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            var e = assertThrows(ConfigException.class, () -> create(ctx, "timer-bits = 16"));
            assertTrue(e.getMessage().contains("timer-bits"), e.getMessage());
            e = assertThrows(ConfigException.class, () -> create(ctx, "iobase = 1537"));
            assertTrue(e.getMessage().contains("iobase"), e.getMessage());
            e = assertThrows(ConfigException.class, () -> create(ctx, "iobase = 3312"));
            assertTrue(e.getMessage().contains("0xcf9"), e.getMessage());
        }
    }
}
