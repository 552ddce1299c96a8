package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterExperimentsTest {
    /** What a command printed to standard error, and its exit code. */
    private record Outcome(int code, String err) {}

    private static Outcome execute(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        System.setErr(new PrintStream(b, true));
        try {
            int code = Main.execute(args);
            return new Outcome(code, b.toString());
        } finally {
            System.setErr(old);
        }
    }

    private static void assertUserError(String expected, String... args) {
        Outcome o = execute(args);
        assertEquals(2, o.code(), o.err());
        assertTrue(o.err().contains("symbiont: ") && o.err().contains(expected), o.err());
        assertFalse(o.err().contains("at org."), o.err());
    }

    @Test
    void badArgumentsAreUserErrorsWithExitCode2() {
        assertUserError("name an experiment", "experiment");
        assertUserError("--phase must be random or synchronized", "experiment", "noise", "--phase", "sideways");
        assertUserError("--nodes: each count must be from 1 to 65535, got 0", "experiment", "noise", "--nodes", "1,0");
        assertUserError("no node counts left to run", "experiment", "scaling", "--nodes", "8,16", "--max-nodes", "4");
        assertUserError("--members 3 needs --cluster-seed", "experiment", "scaling", "--members", "3");
        assertUserError("--cluster-seed: seed \"localhost\": expected HOST:PORT", "experiment", "noise", "--cluster-seed", "localhost");
        assertUserError("--node-memory: memory: expected a multiple of 4K between 2M and 1T", "experiment", "noise", "--node-memory", "1M");
        assertUserError("No number in size-in-bytes value 'lots'", "experiment", "scaling", "--node-memory", "lots");
        assertUserError("65535 nodes of 1T guest RAM need", "experiment", "noise", "--nodes", "65535", "--node-memory", "1T");
        assertUserError("--max-iter must be from 1", "experiment", "scaling", "--max-iter", "0");
        assertUserError("--seed: seed \"127.0.0.1:70000\": the port must be a number from 1 to 65535", "cluster-node", "--seed", "127.0.0.1:70000");
        assertUserError("--port must be from 0", "cluster-node", "--seed", "127.0.0.1:2551", "--port", "-1");
    }

    /** The CSV's data rows, each by column name (the tables' cells hold no commas). */
    private static List<Map<String, String>> csvRows(Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        String[] header = lines.getFirst().split(",");
        return lines.subList(1, lines.size()).stream().map(l -> {
            String[] cells = l.split(",");
            Map<String, String> row = new HashMap<>();
            for (int i = 0; i < header.length; i++) row.put(header[i], cells[i]);
            return row;
        }).toList();
    }

    /**
     * Two nodes, a loop of two 50 ms compute phases: 100 ms, a whole period of the coarsest
     * pattern, so whatever their phases every node meets at least one detour of every pattern.
     */
    @Test
    void everyNoisePatternSlowsTheLoopDown(@TempDir Path out) throws IOException {
        Outcome o = execute("experiment", "noise", "--nodes", "2", "--iters", "2", "--compute", "4000000", "--node-memory", "16M",
                "--out", out.toString());
        assertEquals(0, o.code(), o.err());
        List<Map<String, String>> rows = csvRows(out.resolve("noise.csv"));
        assertEquals(NoiseExperiment.PATTERNS.size(), rows.size(), rows::toString);
        for (int i = 0; i < rows.size(); i++) {
            Map<String, String> row = rows.get(i);
            assertEquals("2", row.get("nodes"), row::toString);
            assertEquals(NoiseExperiment.PATTERNS.get(i).label(), row.get("noise"), row::toString);
            double slowdown = Double.parseDouble(row.get("slowdown %"));
            if (i == 0) assertEquals(0, slowdown, row::toString);
            else assertTrue(slowdown > 0, "each pattern takes 2.5% of the CPU: " + row);
        }
        // One 2.5 ms detour at least, on a loop of about 100 ms.
        assertTrue(Double.parseDouble(rows.get(1).get("slowdown %")) > 2, rows.get(1)::toString);
        assertTrue(Files.readString(out.resolve("noise.svg")).contains("10 Hz x 2500 us"));
    }

    @Test
    void virtualizationWithoutItsTechniquesIsSlowerThanNative(@TempDir Path out) throws IOException {
        Outcome o = execute("experiment", "scaling", "--nodes", "1,2", "--grid", "4", "--planes", "2", "--max-iter", "5",
                "--node-memory", "16M", "--out", out.toString());
        assertEquals(0, o.code(), o.err());
        List<Map<String, String>> rows = csvRows(out.resolve("scaling.csv"));
        assertEquals(2 * ScalingExperiment.CONFIGURATIONS.size(), rows.size(), rows::toString);
        Map<String, Double> seconds = new HashMap<>();
        for (Map<String, String> row : rows) seconds.put(row.get("nodes") + " " + row.get("configuration"), Double.parseDouble(row.get("virtual seconds")));
        for (int nodes : new int[] {1, 2}) {
            double nativeSeconds = seconds.get(nodes + " native");
            assertTrue(nativeSeconds > 0);
            assertTrue(nativeSeconds < seconds.get(nodes + " none of them"), seconds::toString);
            assertTrue(nativeSeconds <= seconds.get(nodes + " virtualized"), seconds::toString);
        }
        // Two nodes exchange frames: an emulated NIC traps on every doorbell, a passed-through one does not.
        assertTrue(seconds.get("2 virtualized") < seconds.get("2 no passthrough"), seconds::toString);
        assertTrue(Files.readString(out.resolve("scaling.svg")).contains("uncontrolled preemption"));
    }
}
