package org.symbiont.cli.report;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

class AxisTest {
    private static List<Double> values(Axis a) {
        return a.ticks().stream().map(Axis.Tick::value).toList();
    }

    private static List<String> labels(Axis a) {
        return a.ticks().stream().map(Axis.Tick::label).toList();
    }

    /** The ticks step evenly by 1, 2 or 5 times a power of ten, number 4 to 11, and cover [min, max]. */
    private static void assertNice(double min, double max) {
        Axis a = Axis.linear(min, max, Double.NaN);
        List<Double> t = values(a);
        assertTrue(t.size() >= 4 && t.size() <= 11, min + ".." + max + ": " + t);
        assertTrue(a.lo() <= min && a.hi() >= max, min + ".." + max + " not within " + a.lo() + ".." + a.hi());
        assertEquals(a.lo(), t.getFirst());
        assertEquals(a.hi(), t.getLast());
        double step = t.get(1) - t.get(0);
        double mantissa = step / Math.pow(10, Math.floor(Math.log10(step)));
        assertTrue(List.of(1L, 2L, 5L).contains(Math.round(mantissa)) && Math.abs(mantissa - Math.round(mantissa)) < 1e-9, "step " + step);
        for (int i = 0; i < t.size(); i++) {
            assertEquals(t.getFirst() + i * step, t.get(i), step * 1e-9, "evenly spaced " + t);
            assertEquals(0, Math.abs(t.get(i) / step - Math.rint(t.get(i) / step)), 1e-9, "a multiple of the step " + t);
        }
    }

    @Test
    void linearTicksAreOneTwoFiveStepsCoveringTheData() {
        assertNice(0, 1);
        assertNice(0, 7.3);
        assertNice(0.13, 0.87);
        assertNice(-42, 1234);
        assertNice(3e-7, 9.1e-6);
        assertNice(1e9, 4.3e9);
        assertNice(99.5, 100.5);
        assertNice(-0.003, -0.001);
        assertNice(5, 5);
        assertEquals(List.of(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), values(Axis.linear(0, 1, Double.NaN)));
        assertEquals(List.of("0.0", "0.2", "0.4", "0.6", "0.8", "1.0"), labels(Axis.linear(0, 1, Double.NaN)));
        assertEquals(List.of("0", "2,000", "4,000", "6,000", "8,000", "10,000"), labels(Axis.linear(0, 9400, Double.NaN)));
        assertEquals(List.of("0", "1e9", "2e9", "3e9", "4e9", "5e9"), labels(Axis.linear(0, 4.3e9, Double.NaN)));
    }

    @Test
    void aFixedStartIsKeptAndTicksStartAtTheFirstMultipleAboveIt() {
        Axis a = Axis.linear(0, 100, 15);
        assertEquals(15, a.lo());
        assertEquals(List.of(20.0, 40.0, 60.0, 80.0, 100.0), values(a));
    }

    @Test
    void logTicksSitOnDecadesCoveringTheData() {
        Axis a = Axis.log(3, 4500, Double.NaN);
        assertTrue(a.log());
        assertEquals(List.of(1.0, 10.0, 100.0, 1000.0, 10000.0), values(a));
        assertEquals(List.of("1", "10", "100", "1,000", "10,000"), labels(a));
        assertEquals(List.of(2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 20.0), a.minor().subList(0, 9), "unlabelled minor ticks at 2 to 9 times each decade");
        assertEquals(32, a.minor().size());
        assertEquals(List.of(), Axis.linear(0, 1, Double.NaN).minor());
        assertEquals(List.of(0.001, 0.01, 0.1, 1.0), values(Axis.log(0.002, 0.5, Double.NaN)));
        assertEquals(List.of(1e-9, 1e-7, 1e-5, 1e-3, 1e-1, 1e1, 1e3, 1e5, 1e7), values(Axis.log(5e-9, 2e6, Double.NaN)), "every second decade over 15");
        assertEquals(List.of("1e-9", "1e-7", "1e-5", "1e-3", "1e-1", "1e1", "1e3", "1e5", "1e7"), labels(Axis.log(5e-9, 2e6, Double.NaN)));
        assertEquals(List.of(), Axis.log(5e-9, 2e6, Double.NaN).minor(), "no minor ticks when decades are skipped");
        assertEquals(List.of(100.0, 1000.0), values(Axis.log(100, 100, Double.NaN)));
        Axis fixed = Axis.log(30, 800, 20);
        assertEquals(20, fixed.lo());
        assertEquals(List.of(100.0, 1000.0), values(fixed));
        assertEquals(30.0, fixed.minor().getFirst(), "minor ticks start above a fixed start");
        assertEquals(0.5, Axis.log(3, 4500, Double.NaN).fraction(100), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Axis.log(1, 10, 0));
    }
}
