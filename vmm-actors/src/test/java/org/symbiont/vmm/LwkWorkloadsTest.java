package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.LwkCase;
import org.symbiont.guests.ResultLine;
import org.symbiont.vmm.config.VmConfig;

/**
 * The lightweight kernel and its workloads on Symbiont: every case of the guests module's
 * {@code lwk/cases.txt} prints the result line it prints natively and under QEMU (where the
 * guests module's tests check both), with one to four vCPUs, under swapping, time-sliced, as
 * several machines on one Ethernet segment, and under every virtual paging method. A run is reproducible in deterministic mode down to
 * its measured times, and the image rebuilt from the sources (where gcc is) gives the same.
 */
class LwkWorkloadsTest {
    @TempDir
    static Path dir;
    private static Path kernel;

    @BeforeAll
    static void writeKernel() throws IOException {
        kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
    }

    static List<String> cases() {
        return LwkCase.all().stream().map(LwkCase::name).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void printsTheExpectedResult(String name) throws IOException {
        assertResult(LwkCase.named(name), kernel, "");
    }

    /** Every single-node case under each virtual paging method: the same result line as under native paging. */
    static List<String> casesUnderEachPagingMethod() {
        List<String> list = new ArrayList<>();
        for (LwkCase c : LwkCase.all()) {
            if (c.nodes() > 1) continue;
            for (String paging : List.of("shadow-vtlb", "shadow-cached", "nested")) list.add(c.name() + " " + paging);
        }
        return list;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("casesUnderEachPagingMethod")
    void everyPagingMethodGivesTheSameResult(String caseAndPaging) throws IOException {
        String[] parts = caseAndPaging.split(" ");
        String paging = switch (parts[1]) {
            case "shadow-vtlb" -> "paging { mode = shadow, strategy = vtlb }";
            case "shadow-cached" -> "paging { mode = shadow, strategy = cached }";
            default -> "paging { mode = nested }";
        };
        assertResult(LwkCase.named(parts[0]), kernel, paging);
    }

    @Test
    void smpRunsInParallelModeToo() throws IOException {
        assertResult(LwkCase.named("smp4"), kernel, "mode = parallel");
    }

    @Test
    void aDeterministicRunIsReproducedExactlyTimesIncluded() throws IOException {
        LwkCase c = LwkCase.named("stream-timesliced");
        List<VmRun> first = run(c, kernel, "");
        List<VmRun> second = run(c, kernel, "");
        assertEquals(first.getFirst().console, second.getFirst().console);
        assertEquals(first.getFirst().report.virtualNanos(), second.getFirst().report.virtualNanos());
    }

    @Test
    void eachFaultingProcessIsKilledAloneWithAReport() throws IOException {
        String console = run(LwkCase.named("faults"), kernel, "").getFirst().console;
        for (String fault : List.of("page fault at 0x0 ", "page fault at 0xffff800000000000 ", "invalid opcode", "divide error",
                "general protection fault")) {
            assertEquals(1, console.lines().filter(l -> l.contains(fault) && l.endsWith(", killed")).count(), () -> fault + "\n" + console);
        }
    }

    @Test
    void theImageRebuiltFromTheSourcesGivesTheSameResults() throws IOException {
        Path rebuilt = Path.of("..", "guests", "target", "rebuilt", "lwk", "lwk.bin");
        if (!Files.exists(rebuilt)) System.err.println("SKIPPED: " + rebuilt + " was not built (no gcc): only the committed image was booted");
        assumeTrue(Files.exists(rebuilt), "the images were not rebuilt");
        for (String name : List.of("smp4", "memperf-swap")) assertResult(LwkCase.named(name), rebuilt.toAbsolutePath(), "");
    }

    private static void assertResult(LwkCase c, Path image, String extra) throws IOException {
        List<VmRun> runs = run(c, image, extra);
        for (VmRun r : runs) {
            assertEquals(VmReport.Reason.GUEST_EXIT, r.report.reason(), () -> c.name() + ": " + r.report.message() + "\n" + r.console);
            assertEquals(c.vmExitStatus(), r.report.guestStatus(), () -> c.name() + " on " + r.report.vm() + ": exit status\n" + r.console);
        }
        String console = runs.getFirst().console;
        assertTrue(console.contains("lwk: " + c.cpus() + " CPUs,"), () -> c.name() + " boots all its CPUs\n" + console);
        assertEquals(c.expected(), ResultLine.find(console).map(ResultLine::exact).orElse("(no result line)"), () -> c.name() + "\n" + console);
    }

    /** The case's machines, one per node, on one switched link; node 0 first. */
    private static List<VmRun> run(LwkCase c, Path image, String extra) throws IOException {
        List<VmConfig> configs = new ArrayList<>();
        for (int rank = 0; rank < c.nodes(); rank++) {
            StringBuilder hocon = new StringBuilder(extra).append('\n')
                    .append("memory = ").append(c.memoryMiB()).append("M\n")
                    .append("cpus = ").append(c.cpus()).append('\n')
                    .append("console = null\n")
                    .append("kernel.append = \"").append(c.cmdline(rank)).append("\"\n");
            if (c.swapMiB() > 0) {
                Path disk = Files.createTempFile(dir, "swap", ".img");
                try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
                    f.setLength((long) c.swapMiB() << 20);
                }
                hocon.append("devices += { name = swap0, type = virtio-blk, file = \"").append(disk).append("\" }\n");
            }
            if (c.nodes() > 1) {
                hocon.append("devices += { name = net0, type = virtio-net, link = \"lwk-").append(c.name())
                        .append("\", mac = \"52:54:00:12:34:").append(String.format("%02x", rank + 0x10)).append("\" }\n");
            }
            configs.add(VmRun.pcConfig(c.name() + "-" + rank, image, hocon.toString()));
        }
        return VmRun.runAll(configs, Extensions.none());
    }
}
