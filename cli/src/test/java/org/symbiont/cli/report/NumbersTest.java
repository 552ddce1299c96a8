package org.symbiont.cli.report;

import static org.junit.jupiter.api.Assertions.*;

import java.math.BigInteger;
import org.junit.jupiter.api.Test;

class NumbersTest {
    @Test
    void readableNumbersRoundToFourDigitsWithRootLocaleSeparators() {
        assertEquals("1,234,567", Numbers.readable(1234567));
        assertEquals("-12,345,678,901,234,567,890", Numbers.readable(new BigInteger("-12345678901234567890")));
        assertEquals("3", Numbers.readable(3.0));
        assertEquals("2.5", Numbers.readable(2.5));
        assertEquals("0.3333", Numbers.readable(1.0 / 3));
        assertEquals("1,235", Numbers.readable(1234.5678));
        assertEquals("0.01235", Numbers.readable(0.0123456));
        assertEquals("1.5e-05", Numbers.readable(1.5e-5));
        assertEquals("1.235e+20", Numbers.readable(1.2345e20));
        assertEquals("-", Numbers.readable(Double.NaN));
        assertEquals("-inf", Numbers.readable(Double.NEGATIVE_INFINITY));
    }

    @Test
    void coordinatesHaveAtMostTwoDecimals() {
        assertEquals("0", Numbers.coordinate(-0.001));
        assertEquals("12.5", Numbers.coordinate(12.5));
        assertEquals("-3.07", Numbers.coordinate(-3.0749));
        assertEquals("100", Numbers.coordinate(99.999));
    }
}
