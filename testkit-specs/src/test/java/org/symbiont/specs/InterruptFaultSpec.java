package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.symbiont.vmm.VmReport;

/**
 * Interrupt faults as the test guest's timer scenarios see them: PIT ticks dropped never reach
 * its handler (it times out waiting), PIT ticks delayed keep their spacing (it passes, later by
 * the delay), RTC interrupts duplicated reach its handler with status C already read (no periodic
 * flag), and a fault on another line changes nothing.
 */
class InterruptFaultSpec {
    private static final String PIT = "kernel.append = pit\n";
    private static final String RTC = "kernel.append = rtc\n";
    private static final String PIT_PASSES = """
            pit ticks 100
            pit latched count within divisor and decreasing: yes
            tsc vs pit within 2%: yes
            PASS pit
            """;

    private static long applied(FaultedRun r, String kind) {
        return r.report().faults().stream().filter(f -> f.kind().equals(kind) && !f.detail().startsWith("armed")).count();
    }

    @Test
    void droppedPitTicksNeverReachTheGuestWhichTimesOutWaitingForThem() {
        FaultedRun r = FaultedRun.run(FaultedRun.testguest("pit-dropped", PIT
                + "faults = [{ at = 0, kind = drop-interrupt, line = 0, count = 1000000 }]"));
        assertEquals(VmReport.Reason.GUEST_EXIT, r.report().reason(), r::toString);
        assertTrue(r.console().contains("FAIL pit: timed out after 2000 ms waiting for 100 PIT ticks on IRQ0 (0 of 100)"), r.console());
        assertTrue(applied(r, "drop-interrupt") > 1000, "every tick of the 2 s wait was dropped: " + applied(r, "drop-interrupt"));
    }

    @Test
    void delayedPitTicksKeepTheirSpacingAndTheGuestPassesLaterByTheDelay() {
        FaultedRun clean = FaultedRun.run(FaultedRun.testguest("pit", PIT));
        FaultedRun delayed = FaultedRun.run(FaultedRun.testguest("pit-delayed", PIT
                + "faults = [{ at = 0, kind = delay-interrupt, line = 0, count = 1000000, delay = 300us }]"));
        assertTrue(clean.console().endsWith(PIT_PASSES), clean.console());
        assertEquals(clean.console(), delayed.console(), "the tick periods the guest measures are unchanged");
        assertEquals(clean.report().virtualNanos() + 300_000, delayed.report().virtualNanos(), "its last tick came 300 us late");
        assertTrue(delayed.report().faults().stream().skip(1)
                .allMatch(f -> f.detail().equals("line 0: assertion delayed to " + (f.nanos() + 300_000) + " ns")), delayed::toString);
        assertTrue(applied(delayed, "delay-interrupt") >= 100);
    }

    @Test
    void duplicatedRtcInterruptsArriveWithoutThePeriodicFlagAndFailTheGuestsCheck() {
        FaultedRun clean = FaultedRun.run(FaultedRun.testguest("rtc", RTC));
        FaultedRun duplicated = FaultedRun.run(FaultedRun.testguest("rtc-duplicated", RTC
                + "faults = [{ at = 0, kind = duplicate-interrupt, line = 8, count = 1000000, delay = 100us }]"));
        assertTrue(clean.console().contains("rtc status c periodic flag in every interrupt: yes\nPASS rtc"), clean.console());
        assertTrue(duplicated.console().contains("rtc status c periodic flag in every interrupt: no\n"
                + "FAIL rtc: rtc status c periodic flag in every interrupt"), duplicated.console());
        assertTrue(applied(duplicated, "duplicate-interrupt") >= 32, duplicated::toString);
    }

    @Test
    void dropsArmedOnAnotherLineLeaveThePitScenarioUnchanged() {
        FaultedRun clean = FaultedRun.run(FaultedRun.testguest("pit", PIT));
        FaultedRun other = FaultedRun.run(FaultedRun.testguest("pit-other-line", PIT
                + "faults = [{ at = 0, kind = drop-interrupt, line = 8, count = 1000000 }]"));
        assertEquals(clean.console(), other.console());
        assertEquals(clean.report().virtualNanos(), other.report().virtualNanos());
        assertEquals(0, applied(other, "drop-interrupt"), other::toString);
    }
}
