package org.symbiont.guests;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One run of the LWK image ({@link GuestImages#lwk()}) with the exact part of the result line it
 * must print wherever it runs (natively for one node, under QEMU, under Symbiont), from
 * {@code lwk/cases.txt}.
 *
 * @param name      the case
 * @param cpus      vCPUs per machine
 * @param memoryMiB guest RAM per machine
 * @param swapMiB   size of the virtio-blk disk the kernel swaps to, 0 for none
 * @param nodes     machines on one Ethernet segment, each its own rank
 * @param status    the kernel's exit status (isa-debug-exit value): 0, or 100 when it killed a
 *                  faulting process (natively: some non-zero status)
 * @param cmdline   the kernel command line (the rank options are added per machine)
 * @param expected  the exact part of the result line ({@link ResultLine#exact()})
 */
public record LwkCase(String name, int cpus, int memoryMiB, int swapMiB, int nodes, int status, String cmdline, String expected) {
    private static final Pattern HEADER =
            Pattern.compile("case (\\S+) cpus=(\\d+) memory=(\\d+) swap=(\\d+) nodes=(\\d+)(?: status=(\\d+))?: (.+)");

    /** Every case, in file order. */
    public static List<LwkCase> all() {
        String resource = "lwk/cases.txt";
        String text;
        try (InputStream in = LwkCase.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException(resource + " is missing from the build");
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource, e);
        }
        List<LwkCase> cases = new ArrayList<>();
        List<String> lines = text.lines().filter(l -> !l.startsWith("#") && !l.isBlank()).toList();
        for (int i = 0; i < lines.size(); i += 2) {
            Matcher m = HEADER.matcher(lines.get(i));
            if (!m.matches() || i + 1 >= lines.size() || !lines.get(i + 1).startsWith("RESULT ")) {
                throw new IllegalStateException(resource + ": expected a case line and its RESULT line at \"" + lines.get(i) + "\"");
            }
            cases.add(new LwkCase(m.group(1), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                    Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)), m.group(6) == null ? 0 : Integer.parseInt(m.group(6)),
                    m.group(7), lines.get(i + 1)));
        }
        return List.copyOf(cases);
    }

    /** The case named {@code name}. */
    public static LwkCase named(String name) {
        return all().stream().filter(c -> c.name.equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no LWK case " + name));
    }

    /** The exit status of a VM or QEMU process running the case: (status << 1) | 1, as isa-debug-exit gives it. */
    public int vmExitStatus() {
        return (status << 1) | 1;
    }

    /** The program the command line runs. */
    public String program() {
        return cmdline.split(" ")[0];
    }

    /** The command line of machine {@code rank}. */
    public String cmdline(int rank) {
        return nodes == 1 ? cmdline : cmdline + " rank=" + rank + " nranks=" + nodes;
    }

    /** The program's arguments for its native twin (one node only). */
    public List<String> nativeArgs() {
        List<String> words = Arrays.asList(cmdline.split(" "));
        return words.subList(1, words.size());
    }

    /** The exact fields expected, by key. */
    public Map<String, String> expectedFields() {
        return ResultLine.parse(expected).exactFields();
    }
}
