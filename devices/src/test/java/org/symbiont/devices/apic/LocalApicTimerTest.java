package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.LocalApic.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.TestDeviceContext;

/**
 * The APIC timer on virtual time (SDM Vol. 3A 11.5.4): a 1 GHz bus clock by default, so with
 * divide-by-1 one count is one nanosecond; the test machine's TSC runs at 2 GHz.
 */
class LocalApicTimerTest {
    private static final int DIVIDE_BY_1 = 0xB, DIVIDE_BY_2 = 0x0, DIVIDE_BY_16 = 0x3;
    private static final int PERIODIC = 1 << 17, TSC_DEADLINE = 2 << 17;

    private static ApicMachine timerMachine() {
        ApicMachine m = new ApicMachine(1);
        m.enable(0);
        return m;
    }

    @Test
    void oneShotCountsDownAndInterruptsOnce() {
        try (ApicMachine m = timerMachine()) {
            m.write(0, REG_TIMER_DIVIDE, DIVIDE_BY_1);
            m.write(0, REG_LVT_TIMER, 0x30);
            m.write(0, REG_TIMER_INITIAL, 1000);
            assertEquals(1000, m.read(0, REG_TIMER_INITIAL));
            m.ctx.advance(400);
            assertEquals(600, m.read(0, REG_TIMER_CURRENT));
            m.ctx.advance(599);
            assertFalse(m.bit(0, REG_IRR, 0x30));
            m.ctx.advance(1);
            assertTrue(m.bit(0, REG_IRR, 0x30));
            assertEquals(List.of(1000L), m.core(0).wakeupTimes);
            assertEquals(0, m.read(0, REG_TIMER_CURRENT));
            assertEquals(0x30, m.take(0));
            m.eoi(0);
            m.ctx.advance(5000);
            assertEquals(1, m.core(0).wakeups, "one-shot");
            assertEquals(1000, m.read(0, REG_TIMER_INITIAL), "the initial count stays readable");
        }
    }

    @Test
    void theDivideConfigurationSlowsTheCount() {
        try (ApicMachine m = timerMachine()) {
            assertEquals(0, m.read(0, REG_TIMER_DIVIDE), "divide by 2 after reset");
            m.write(0, REG_TIMER_DIVIDE, 0xFFFF_FFF3);
            assertEquals(DIVIDE_BY_16, m.read(0, REG_TIMER_DIVIDE), "bits 0, 1 and 3 only");
            m.write(0, REG_LVT_TIMER, 0x30);
            m.write(0, REG_TIMER_INITIAL, 100);
            m.ctx.advance(800);
            assertEquals(50, m.read(0, REG_TIMER_CURRENT));
            m.ctx.advance(799);
            assertEquals(0, m.core(0).wakeups);
            m.ctx.advance(1);
            assertEquals(List.of(1600L), m.core(0).wakeupTimes);
        }
    }

    @Test
    void aDivideChangeWhileCountingContinuesFromTheCurrentCount() {
        try (ApicMachine m = timerMachine()) {
            m.write(0, REG_TIMER_DIVIDE, DIVIDE_BY_1);
            m.write(0, REG_LVT_TIMER, 0x30);
            m.write(0, REG_TIMER_INITIAL, 1000);
            m.ctx.advance(400);
            m.write(0, REG_TIMER_DIVIDE, DIVIDE_BY_2);
            assertEquals(600, m.read(0, REG_TIMER_CURRENT));
            m.ctx.advance(600);
            assertEquals(300, m.read(0, REG_TIMER_CURRENT));
            m.ctx.advance(1000);
            assertEquals(List.of(1600L), m.core(0).wakeupTimes);
        }
    }

    @Test
    void periodicReloadsAndInterruptsEveryPeriod() {
        try (ApicMachine m = timerMachine()) {
            m.write(0, REG_TIMER_DIVIDE, DIVIDE_BY_1);
            m.write(0, REG_LVT_TIMER, PERIODIC | 0x31);
            m.write(0, REG_TIMER_INITIAL, 500);
            for (int k = 0; k < 26; k++) {
                m.ctx.advance(100);
                if (m.apic(0).pendingInterrupt() == 0x31) {
                    m.take(0);
                    m.eoi(0);
                }
            }
            assertEquals(List.of(500L, 1000L, 1500L, 2000L, 2500L), m.core(0).wakeupTimes);
            assertEquals(400, m.read(0, REG_TIMER_CURRENT));
            m.write(0, REG_TIMER_INITIAL, 0);
            assertEquals(0, m.read(0, REG_TIMER_CURRENT), "writing 0 stops the timer");
            m.ctx.advance(10_000);
            assertEquals(5, m.core(0).wakeups);
        }
    }

    @Test
    void aMaskedTimerKeepsCountingWithoutInterrupts() {
        try (ApicMachine m = timerMachine()) {
            m.write(0, REG_TIMER_DIVIDE, DIVIDE_BY_1);
            m.write(0, REG_LVT_TIMER, LVT_MASKED | PERIODIC | 0x32);
            m.write(0, REG_TIMER_INITIAL, 300);
            m.ctx.advance(1000);
            assertEquals(0, m.core(0).wakeups);
            assertEquals(200, m.read(0, REG_TIMER_CURRENT), "reloaded at 300, 600 and 900");
            m.write(0, REG_LVT_TIMER, PERIODIC | 0x32);
            m.ctx.advance(500);
            assertEquals(List.of(1200L, 1500L), m.core(0).wakeupTimes);

            m.write(0, REG_LVT_TIMER, LVT_MASKED | 0x33);   // one-shot, masked: expires silently
            m.write(0, REG_TIMER_INITIAL, 100);
            m.ctx.advance(200);
            assertEquals(0, m.read(0, REG_TIMER_CURRENT));
            m.write(0, REG_LVT_TIMER, 0x33);
            m.ctx.advance(200);
            assertEquals(2, m.core(0).wakeups);
        }
    }

    @Test
    void switchingBetweenOneShotAndPeriodicKeepsCounting() {
        try (ApicMachine m = timerMachine()) {
            m.write(0, REG_TIMER_DIVIDE, DIVIDE_BY_1);
            m.write(0, REG_LVT_TIMER, 0x34);
            m.write(0, REG_TIMER_INITIAL, 1000);
            m.ctx.advance(300);
            m.write(0, REG_LVT_TIMER, PERIODIC | 0x34);
            assertEquals(700, m.read(0, REG_TIMER_CURRENT));
            m.ctx.advance(1800);
            assertEquals(List.of(1000L, 2000L), m.core(0).wakeupTimes);
        }
    }

    @Test
    void tscDeadlineFiresWhenTheTscReachesTheTarget() {
        try (ApicMachine m = timerMachine()) {
            LocalApic apic = m.apic(0);
            apic.wrmsr(MSR_TSC_DEADLINE, 4000);
            assertEquals(0, apic.rdmsr(MSR_TSC_DEADLINE), "ignored outside TSC-deadline mode");
            m.write(0, REG_LVT_TIMER, TSC_DEADLINE | 0x35);
            apic.wrmsr(MSR_TSC_DEADLINE, 4000);   // 2 GHz TSC: 2000 ns
            assertEquals(4000, apic.rdmsr(MSR_TSC_DEADLINE));
            m.write(0, REG_TIMER_INITIAL, 50);
            assertEquals(0, m.read(0, REG_TIMER_INITIAL), "initial-count writes are ignored");
            assertEquals(0, m.read(0, REG_TIMER_CURRENT));
            m.ctx.advance(1999);
            assertEquals(0, m.core(0).wakeups);
            m.ctx.advance(1);
            assertEquals(List.of(2000L), m.core(0).wakeupTimes);
            assertEquals(0, apic.rdmsr(MSR_TSC_DEADLINE), "cleared when it fires");
            assertEquals(0x35, m.take(0));
            m.eoi(0);

            apic.wrmsr(MSR_TSC_DEADLINE, 100);   // already past: pending before the WRMSR completes
            assertTrue(m.bit(0, REG_IRR, 0x35), "not left to a later timer tick");
            assertEquals(0, apic.rdmsr(MSR_TSC_DEADLINE));
            assertEquals(2, m.core(0).wakeups);
            m.take(0);
            m.eoi(0);

            apic.wrmsr(MSR_TSC_DEADLINE, 10_000);
            apic.wrmsr(MSR_TSC_DEADLINE, 0);      // disarm
            m.ctx.advance(10_000);
            assertEquals(2, m.core(0).wakeups);
            apic.wrmsr(MSR_TSC_DEADLINE, 0xFFFF_FFFF_FFFF_FFFFL);
            m.ctx.advance(1_000_000);
            assertEquals(2, m.core(0).wakeups, "a deadline beyond reach never fires");
        }
    }

    @Test
    void leavingTscDeadlineModeDisarmsTheTimer() {
        try (ApicMachine m = timerMachine()) {
            LocalApic apic = m.apic(0);
            m.write(0, REG_LVT_TIMER, TSC_DEADLINE | 0x35);
            apic.wrmsr(MSR_TSC_DEADLINE, 4000);
            m.write(0, REG_LVT_TIMER, 0x35);
            m.write(0, REG_LVT_TIMER, TSC_DEADLINE | 0x35);
            assertEquals(0, apic.rdmsr(MSR_TSC_DEADLINE));
            m.ctx.advance(10_000);
            assertEquals(0, m.core(0).wakeups);

            m.write(0, REG_LVT_TIMER, 0x35);
            m.write(0, REG_TIMER_INITIAL, 1000);
            m.write(0, REG_LVT_TIMER, TSC_DEADLINE | 0x35);
            assertEquals(0, m.read(0, REG_TIMER_INITIAL));
            m.ctx.advance(10_000);
            assertEquals(0, m.core(0).wakeups);
        }
    }

    @Test
    void theBusClockIsConfigurable() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            LocalApic apic = new LocalApic("lapic", 0, true, 40, 100_000_000L, ctx);
            int[] wakeups = {0};
            apic.connectWakeup(() -> wakeups[0]++);
            apic.mmioWrite(DEFAULT_BASE + REG_SVR, 4, 0x1FF);
            apic.mmioWrite(DEFAULT_BASE + REG_TIMER_DIVIDE, 4, DIVIDE_BY_1);
            apic.mmioWrite(DEFAULT_BASE + REG_LVT_TIMER, 4, 0x36);
            apic.mmioWrite(DEFAULT_BASE + REG_TIMER_INITIAL, 4, 10);
            ctx.advance(55);
            assertEquals(5, apic.mmioRead(DEFAULT_BASE + REG_TIMER_CURRENT, 4), "100 MHz: 10 ns a count");
            ctx.advance(44);
            assertEquals(0, wakeups[0]);
            ctx.advance(1);
            assertEquals(1, wakeups[0]);
        }
    }

    @Test
    void scalingIsExactAndSaturates() {
        assertEquals(3, ApicTimer.scale(10, 1, 3, false));
        assertEquals(4, ApicTimer.scale(10, 1, 3, true));
        assertEquals(6_000_000_000_000_000_000L, ApicTimer.scale(3_000_000_000_000_000_000L, 2_000_000_000L, 1_000_000_000L, false));
        assertEquals(Long.MAX_VALUE, ApicTimer.scale(Long.MAX_VALUE, 3, 2, false));
        // rest × mul overflows 64 bits: the exact fallback.
        assertEquals(9_999_999_999L, ApicTimer.scale(9_999_999_999L, 20_000_000_000L, 20_000_000_000L, false));
    }
}
