package org.symbiont.x86.difftest;

import org.symbiont.x86.Seeds;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Differential test against the host CPU: generated instruction sequences run natively (a small
 * harness compiled with gcc at test time) and in the emulator from the same registers, flags,
 * MXCSR, XMM registers and memory; the final GPRs, RIP or exception vector, defined status flags
 * and DF, XMM registers, MXCSR and the whole data region must match.
 *
 * <p>Properties (Maven passes them through surefire):
 * <ul>
 * <li>{@code symbiont.difftest.cases} — number of cases (pom default 100,000; {@code -P soak}: 5,000,000)
 * <li>{@code symbiont.difftest.seed} — the seed (default {@value #DEFAULT_SEED}); {@code random} picks one and prints it
 * <li>{@code symbiont.difftest.families} — comma-separated families to restrict to (default {@code all}),
 *     e.g. {@code alu,shift,sse-arith}; see {@link Family}
 * <li>{@code symbiont.difftest.first} — index of the first case (to re-run one case from a report)
 * <li>{@code symbiont.difftest.reports} — mismatches reported in full (default 20; the rest one line each)
 * </ul>
 *
 * <p>Examples:
 * <pre>
 *   mvn -o -pl x86 test -Dtest=DifferentialTest                                   # CI: fixed seed, 100,000 cases
 *   mvn -o -pl x86 test -Dtest=DifferentialTest -P soak -Dsymbiont.difftest.seed=random
 *   mvn -o -pl x86 test -Dtest=DifferentialTest -Dsymbiont.difftest.families=alu,cmov
 *   # soak from the command line, without Maven (after mvn -o -pl x86 test-compile):
 *   java -cp x86/target/classes:x86/target/test-classes org.symbiont.x86.difftest.DifferentialTest \
 *        --cases 5000000 --seed random [--families all] [--first 0] [--reports 20]
 * </pre>
 * Every mismatch prints the seed, the case index and a property line that reproduces it, the
 * code with its disassembly, the initial state, both final states and the differences. The test
 * fails at the end if any case mismatched, after printing the summary per family.
 */
class DifferentialTest {
    static final String DEFAULT_SEED = "0x5EED0F5EED";

    @Test
    void emulatorMatchesHostCpu() throws Exception {
        boolean gcc = NativeHarness.gccAvailable();
        if (!gcc) System.out.println("SKIPPED: gcc not found: the differential test against the host CPU does not run");
        Assumptions.assumeTrue(gcc, "gcc not found: differential test skipped");
        DifferentialRun run = new DifferentialRun(config(
                System.getProperty("symbiont.difftest.seed"),
                System.getProperty("symbiont.difftest.first"),
                System.getProperty("symbiont.difftest.cases"),
                System.getProperty("symbiont.difftest.families"),
                System.getProperty("symbiont.difftest.reports")), System.out);
        run.run();
        String summary = run.summary();
        System.out.print(summary);
        assertEquals(0, run.mismatches, summary);
    }

    static DifferentialRun.Config config(String seed, String first, String cases, String families, String reports) {
        long s;
        if (seed == null || seed.isBlank()) seed = DEFAULT_SEED;
        if (seed.equals("random")) {
            s = System.nanoTime() * 0x9E37_79B9_7F4A_7C15L;
            System.out.printf("difftest: random seed %#x%n", s);
        } else {
            s = Seeds.parse(seed);
        }
        long n = cases == null || cases.isBlank() ? 100_000 : Long.parseLong(cases.replace("_", ""));
        long f = first == null || first.isBlank() ? 0 : Long.parseLong(first);
        int r = reports == null || reports.isBlank() ? 20 : Integer.parseInt(reports);
        List<Family> fams = Family.parse(families);
        return new DifferentialRun.Config(s, f, n, fams, r);
    }

    /** Command-line soak: {@code --cases N --seed S|random --families LIST --first N --reports N}. */
    public static void main(String[] args) throws Exception {
        String seed = null, first = null, cases = "5000000", families = null, reports = null;
        for (int k = 0; k + 1 < args.length; k += 2) {
            switch (args[k]) {
                case "--seed" -> seed = args[k + 1];
                case "--first" -> first = args[k + 1];
                case "--cases" -> cases = args[k + 1];
                case "--families" -> families = args[k + 1];
                case "--reports" -> reports = args[k + 1];
                default -> throw new IllegalArgumentException("unknown option " + args[k]);
            }
        }
        if (!NativeHarness.gccAvailable()) {
            System.out.println("SKIPPED: gcc not found");
            return;
        }
        DifferentialRun run = new DifferentialRun(config(seed, first, cases, families, reports), System.out);
        run.run();
        System.out.print(run.summary());
        System.exit(run.mismatches == 0 ? 0 : 1);
    }
}
