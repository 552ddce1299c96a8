package org.symbiont.guests;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A workload's result line, {@code RESULT name=NAME <exact fields> | <measured fields>}: the exact
 * fields (parameters, checksums, counts, residuals) are equal wherever the workload runs —
 * natively, under QEMU, under Symbiont in any mode — the measured ones (times, rates, kernel
 * counters) are not.
 *
 * @param name     the workload
 * @param exact    the exact part as printed, from {@code RESULT} to before {@code |}, trimmed
 * @param measured the measured fields by key
 */
public record ResultLine(String name, String exact, Map<String, String> measured) {
    private static final String PREFIX = "RESULT ";

    /** The first result line in a run's output, if any. */
    public static Optional<ResultLine> find(String output) {
        return output.lines().filter(l -> l.startsWith(PREFIX)).findFirst().map(ResultLine::parse);
    }

    /** Parses one line starting with {@code RESULT }. */
    public static ResultLine parse(String line) {
        if (!line.startsWith(PREFIX)) throw new IllegalArgumentException("not a result line: " + line);
        int bar = line.indexOf(" | ");
        String exact = (bar < 0 ? line : line.substring(0, bar)).trim();
        Map<String, String> measured = fields(bar < 0 ? "" : line.substring(bar + 3));
        String name = fields(exact.substring(PREFIX.length())).get("name");
        if (name == null) throw new IllegalArgumentException("a result line without name=: " + line);
        return new ResultLine(name, exact, measured);
    }

    /** The exact fields by key, in order. */
    public Map<String, String> exactFields() {
        return fields(exact.substring(PREFIX.length()));
    }

    /** A measured field as a number. */
    public double measuredNumber(String key) {
        String v = measured.get(key);
        if (v == null) throw new IllegalArgumentException("result line of " + name + " has no measured field " + key);
        return Double.parseDouble(v);
    }

    private static Map<String, String> fields(String text) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String word : text.trim().split(" +")) {
            int eq = word.indexOf('=');
            if (eq > 0) m.put(word.substring(0, eq), word.substring(eq + 1));
        }
        return m;
    }
}
