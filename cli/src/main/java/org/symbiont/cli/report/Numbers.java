package org.symbiont.cli.report;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Locale;

/** Number formatting shared by tables and charts, the same in every locale. */
final class Numbers {
    private Numbers() {}

    /**
     * For people: integers with thousands separators, other values to four significant digits
     * without trailing zeros (scientific below 0.001 and from 10^15), NaN, the mark of a missing
     * value, as "-".
     */
    static String readable(Number n) {
        if (n instanceof BigInteger b) return String.format(Locale.ROOT, "%,d", b);
        if (n instanceof Long || n instanceof Integer || n instanceof Short || n instanceof Byte) {
            return String.format(Locale.ROOT, "%,d", n.longValue());
        }
        double d = n.doubleValue();
        if (Double.isNaN(d)) return "-";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        double a = Math.abs(d);
        if (d == Math.rint(d) && a < 1e15) return String.format(Locale.ROOT, "%,d", (long) d);
        if (a < 1e-3 || a >= 1e15) {
            String s = String.format(Locale.ROOT, "%.3e", d);
            int e = s.indexOf('e');
            return stripZeros(s.substring(0, e)) + s.substring(e);
        }
        int decimals = Math.max(0, 3 - (int) Math.floor(Math.log10(a)));
        return stripZeros(String.format(Locale.ROOT, "%,." + decimals + "f", d));
    }

    /** For machines: the shortest text that reads back as the same value. */
    static String exact(Number n) {
        return switch (n) {
            case Double d -> Double.toString(d);
            case Float f -> Float.toString(f);
            default -> n.toString();
        };
    }

    /** An SVG coordinate: at most two decimals, no exponent. */
    static String coordinate(double v) {
        long r = Math.round(v * 100);
        String sign = r < 0 ? "-" : "";
        r = Math.abs(r);
        long whole = r / 100, frac = r % 100;
        if (frac == 0) return sign + whole;
        return sign + whole + "." + (frac % 10 == 0 ? Long.toString(frac / 10) : (frac < 10 ? "0" : "") + frac);
    }

    /** An axis tick: with the given decimals and thousands separators, or as mantissa and exponent ("2.5e9"). */
    static String tick(BigDecimal v, int decimals, boolean scientific) {
        if (!scientific) return String.format(Locale.ROOT, "%,." + decimals + "f", v);
        if (v.signum() == 0) return "0";
        BigDecimal s = v.stripTrailingZeros();
        String digits = s.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - s.scale();
        String mantissa = digits.length() > 1 ? digits.charAt(0) + "." + digits.substring(1) : digits;
        return (v.signum() < 0 ? "-" : "") + mantissa + "e" + exponent;
    }

    private static String stripZeros(String s) {
        if (s.indexOf('.') < 0) return s;
        int end = s.length();
        while (s.charAt(end - 1) == '0') end--;
        if (s.charAt(end - 1) == '.') end--;
        return s.substring(0, end);
    }
}
