package org.symbiont.cli.report;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/**
 * A chart axis: the range it spans, linear or logarithmic, its labelled ticks and unlabelled minor
 * ones. Linear ticks step by 1, 2 or 5 times a power of ten and have no minor ones; logarithmic
 * ticks sit on decades, with minor ticks at 2 to 9 times each when every decade is labelled.
 */
record Axis(double lo, double hi, boolean log, List<Tick> ticks, List<Double> minor) {
    /**
     * The data spans at most this many steps between linear ticks: the step is the smallest 1, 2
     * or 5 times a power of ten that allows it, so the data spans more than 8 / 2.5 of them.
     */
    private static final int INTERVALS = 8;
    /** At most this many intervals between decades before every second (third, ...) one is skipped. */
    private static final int DECADES = 8;

    record Tick(double value, String label) {}

    Axis {
        ticks = List.copyOf(ticks);
        minor = List.copyOf(minor);
    }

    /** Where v lies along the axis: 0 at lo, 1 at hi. */
    double fraction(double v) {
        return log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
    }

    /**
     * A linear axis over the data's [min, max] (NaN: no data), from a tick at or below min up to
     * one at or above max; a finite {@code from} starts the axis there instead.
     */
    static Axis linear(double min, double max, double from) {
        boolean fixed = !Double.isNaN(from);
        double lo = fixed ? from : Double.isNaN(min) ? 0 : min;
        double hi = Double.isNaN(max) ? lo : Math.max(max, lo);
        if (hi == lo) {
            double pad = lo == 0 ? 1 : Math.abs(lo) / 10;
            hi += pad;
            if (!fixed) lo -= pad;
        }
        double raw = (hi / INTERVALS) - (lo / INTERVALS);
        int exponent = (int) Math.floor(Math.log10(raw));
        double f = raw / Math.pow(10, exponent);
        int mantissa = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
        if (mantissa == 10) {
            mantissa = 1;
            exponent++;
        }
        BigDecimal step = BigDecimal.valueOf(mantissa).scaleByPowerOfTen(exponent);
        double s = step.doubleValue();
        long first = fixed ? (long) Math.ceil(lo / s - 1e-9) : (long) Math.floor(lo / s + 1e-9);
        long last = (long) Math.ceil(hi / s - 1e-9);
        int decimals = Math.max(0, -exponent);
        double largest = Math.max(Math.abs(first * s), Math.abs(last * s));
        boolean scientific = largest >= 1e7 || decimals > 4;
        List<Tick> ticks = new ArrayList<>();
        for (long i = first; i <= last; i++) {
            BigDecimal v = BigDecimal.valueOf(i).multiply(step);
            ticks.add(new Tick(v.doubleValue(), Numbers.tick(v, decimals, scientific)));
        }
        return new Axis(fixed ? lo : ticks.getFirst().value(), ticks.getLast().value(), false, ticks, List.of());
    }

    /**
     * A logarithmic axis over the positive data's [min, max] (NaN: no data), from the decade at or
     * below min to the one at or above max; a finite, positive {@code from} starts the axis there.
     */
    static Axis log(double min, double max, double from) {
        boolean fixed = !Double.isNaN(from);
        if (fixed && !(from > 0)) throw new IllegalArgumentException("a logarithmic axis must start above 0, not at " + from);
        double lo = fixed ? from : Double.isNaN(min) ? 1 : min;
        double hi = Double.isNaN(max) ? lo : Math.max(max, lo);
        int loExp = (int) (fixed ? Math.ceil(Math.log10(lo)) : Math.floor(Math.log10(lo)));
        int hiExp = Math.max((int) Math.ceil(Math.log10(hi)), loExp + 1);
        int stride = Math.ceilDiv(hiExp - loExp, DECADES);
        hiExp = loExp + Math.ceilDiv(hiExp - loExp, stride) * stride;
        boolean scientific = loExp < -4 || hiExp > 6;
        List<Tick> ticks = new ArrayList<>();
        for (int e = loExp; e <= hiExp; e += stride) {
            BigDecimal v = BigDecimal.ONE.scaleByPowerOfTen(e);
            ticks.add(new Tick(v.doubleValue(), Numbers.tick(v, Math.max(0, -e), scientific)));
        }
        double start = fixed ? lo : ticks.getFirst().value(), end = ticks.getLast().value();
        List<Double> minor = new ArrayList<>();
        for (int e = loExp - 1; stride == 1 && e < hiExp; e++) {
            for (int m = 2; m <= 9; m++) {
                double v = BigDecimal.valueOf(m).scaleByPowerOfTen(e).doubleValue();
                if (v > start && v < end) minor.add(v);
            }
        }
        return new Axis(start, end, true, ticks, minor);
    }
}
