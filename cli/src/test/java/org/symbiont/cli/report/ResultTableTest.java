package org.symbiont.cli.report;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResultTableTest {
    /** An RFC 4180 reader: fields separated by commas, records by CRLF, quoted fields with doubled quotes. */
    private static List<List<String>> parseCsv(String text) {
        List<List<String>> records = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (quoted) {
                if (ch == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (ch == '"') {
                    quoted = false;
                } else {
                    field.append(ch);
                }
            } else if (ch == '"') {
                assertEquals(0, field.length(), "a quote inside an unquoted field");
                quoted = true;
            } else if (ch == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else if (ch == '\r') {
                assertEquals('\n', text.charAt(i + 1), "CR without LF outside quotes");
                i++;
                fields.add(field.toString());
                field.setLength(0);
                records.add(fields);
                fields = new ArrayList<>();
            } else {
                assertNotEquals('\n', ch, "LF without CR outside quotes");
                field.append(ch);
            }
        }
        assertFalse(quoted, "unterminated quote");
        assertTrue(fields.isEmpty() && field.isEmpty(), "the last record ends with CRLF");
        return records;
    }

    @Test
    void csvRoundTripsQuotingAndKeepsFullPrecision(@TempDir Path dir) throws IOException {
        String awkward = "a \"quoted\", multi\r\nline\nvalue";
        ResultTable t = new ResultTable(List.of("name, with comma", "value", "count"))
                .add(awkward, 0.1 + 0.2, 12345678901L)
                .add("plain", Double.NaN, -7)
                .add("", 1e-300, 0);
        Path file = dir.resolve("sub/results.csv");
        Locale old = Locale.getDefault();
        Locale.setDefault(Locale.GERMANY);
        try {
            t.writeCsv(file);
        } finally {
            Locale.setDefault(old);
        }
        List<List<String>> csv = parseCsv(Files.readString(file, StandardCharsets.UTF_8));
        assertEquals(List.of(
                List.of("name, with comma", "value", "count"),
                List.of(awkward, "0.30000000000000004", "12345678901"),
                List.of("plain", "NaN", "-7"),
                List.of("", "1.0E-300", "0")), csv);
        assertEquals(0.1 + 0.2, Double.parseDouble(csv.get(1).get(1)));
        assertTrue(Files.readString(file).startsWith("\"name, with comma\",value,count\r\n"));
    }

    @Test
    void markdownHasHeaderSeparatorAndRowsWithNumbersRightAligned() {
        String md = new ResultTable(List.of("page size", "faults", "ns per fault"))
                .add("4 KiB", 1234567, 812.3456)
                .add("2 MiB | huge", 12, 0.000123)
                .markdown();
        List<String> lines = md.lines().toList();
        assertEquals(4, lines.size(), md);
        assertEquals("| page size     |    faults | ns per fault |", lines.get(0));
        assertEquals("|---------------|----------:|-------------:|", lines.get(1));
        assertEquals("| 4 KiB         | 1,234,567 |        812.3 |", lines.get(2));
        assertEquals("| 2 MiB \\| huge |        12 |     1.23e-04 |", lines.get(3));
    }

    @Test
    void rowsMustMatchTheColumnsAndHoldStringsOrNumbers() {
        ResultTable t = new ResultTable(List.of("a", "b"));
        assertThrows(IllegalArgumentException.class, () -> t.add("x"));
        assertThrows(IllegalArgumentException.class, () -> t.add("x", List.of()));
        assertThrows(IllegalArgumentException.class, () -> t.add("x", null));
        t.add("x", 1);
        assertEquals(List.of(List.of("x", 1)), t.rows());
        assertEquals(List.of("a", "b"), t.columns());
        assertThrows(UnsupportedOperationException.class, () -> t.rows().clear());
    }
}
