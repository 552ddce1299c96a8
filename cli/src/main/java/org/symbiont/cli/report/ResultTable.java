package org.symbiont.cli.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A table of results: named columns, rows of cells (String or Number). It prints as a GitHub
 * markdown table for people, numbers rounded and right-aligned, and saves as CSV for programs,
 * numbers in full precision.
 */
public final class ResultTable {
    private final List<String> columns;
    private final List<List<Object>> rows = new ArrayList<>();

    public ResultTable(List<String> columns) {
        if (columns.isEmpty()) throw new IllegalArgumentException("a table needs at least one column");
        this.columns = List.copyOf(columns);
    }

    /** Appends a row; it must have one cell per column, each a String or a Number. */
    public ResultTable add(Object... cells) {
        if (cells.length != columns.size()) {
            throw new IllegalArgumentException("a row of " + cells.length + " cells for " + columns.size() + " columns " + columns);
        }
        for (Object c : cells) {
            if (!(c instanceof String || c instanceof Number)) {
                throw new IllegalArgumentException("a cell must be a String or a Number, not " + (c == null ? "null" : c.getClass().getName()));
            }
        }
        rows.add(List.of(cells));
        return this;
    }

    public List<String> columns() {
        return columns;
    }

    public List<List<Object>> rows() {
        return Collections.unmodifiableList(rows);
    }

    /**
     * A GitHub markdown table, padded to line up in a terminal: columns of numbers right-aligned,
     * numbers as {@link Numbers#readable}, '|' escaped and line breaks as {@code <br>}.
     */
    public String markdown() {
        int n = columns.size();
        List<List<String>> text = new ArrayList<>();
        text.add(columns.stream().map(ResultTable::markdownCell).toList());
        for (List<Object> row : rows) {
            text.add(row.stream().map(c -> c instanceof Number x ? Numbers.readable(x) : markdownCell((String) c)).toList());
        }
        boolean[] right = new boolean[n];
        int[] width = new int[n];
        for (int i = 0; i < n; i++) {
            int col = i;
            right[i] = !rows.isEmpty() && rows.stream().allMatch(r -> r.get(col) instanceof Number);
            width[i] = Math.max(3, text.stream().mapToInt(r -> length(r.get(col))).max().orElse(0));
        }
        StringBuilder b = new StringBuilder();
        for (int r = 0; r < text.size(); r++) {
            b.append('|');
            for (int i = 0; i < n; i++) b.append(' ').append(pad(text.get(r).get(i), width[i], right[i])).append(" |");
            b.append('\n');
            if (r == 0) {
                b.append('|');
                for (int i = 0; i < n; i++) b.append(right[i] ? "-".repeat(width[i] + 1) + ":" : "-".repeat(width[i] + 2)).append('|');
                b.append('\n');
            }
        }
        return b.toString();
    }

    /** Writes the table as CSV (RFC 4180: CRLF line ends, fields quoted when needed), UTF-8, numbers as {@link Numbers#exact}; creates the directory. */
    public void writeCsv(Path file) throws IOException {
        StringBuilder b = new StringBuilder();
        csvLine(b, columns);
        for (List<Object> row : rows) csvLine(b, row);
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        Files.writeString(file, b, StandardCharsets.UTF_8);
    }

    private static void csvLine(StringBuilder b, List<?> cells) {
        for (int i = 0; i < cells.size(); i++) {
            if (i > 0) b.append(',');
            Object c = cells.get(i);
            String s = c instanceof Number x ? Numbers.exact(x) : (String) c;
            if (s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
                b.append('"').append(s.replace("\"", "\"\"")).append('"');
            } else {
                b.append(s);
            }
        }
        b.append("\r\n");
    }

    private static String markdownCell(String s) {
        return s.replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>");
    }

    private static int length(String s) {
        return s.codePointCount(0, s.length());
    }

    private static String pad(String s, int width, boolean right) {
        String fill = " ".repeat(width - length(s));
        return right ? fill + s : s + fill;
    }
}
