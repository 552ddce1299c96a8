package org.symbiont.guests;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One scenario of the test guest ({@link GuestImages#testguest()}) with the output QEMU 7.2 (TCG)
 * gave for it, so that another PC emulator can be compared with QEMU without QEMU installed. The
 * files and their format are described in {@code expected/README.md}: header lines
 * {@code # cmdline:}, {@code # qemu:} (extra QEMU arguments), {@code # exit:} (QEMU's exit status),
 * then the guest's lines, where a line starting with {@code ~ } may differ after its key.
 *
 * @param name       the file's name ({@code expected/<name>.txt})
 * @param cmdline    the multiboot command line
 * @param qemuArgs   QEMU arguments beyond the common ones (e.g. {@code -smp 4})
 * @param exitStatus QEMU's exit status: (isa-debug-exit value << 1) | 1
 * @param lines      the guest's output
 */
public record GuestScenario(String name, String cmdline, List<String> qemuArgs, int exitStatus, List<String> lines) {
    private static final String MAY_DIFFER = "~ ";

    /** Every scenario that runs alone (the net-send/net-recv pair needs two cabled machines). */
    public static final List<String> NAMES = List.of("hello", "debugexit", "pit", "apic-timer", "tpr", "ioapic", "smp", "smp-1cpu",
            "fwcfg", "acpi", "rtc", "serial", "scribble", "exitloop", "exitloop-port");

    public static GuestScenario load(String name) {
        String resource = "expected/" + name + ".txt";
        String text;
        try (InputStream in = GuestScenario.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalArgumentException("no test-guest scenario " + name + " (" + resource + ")");
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource, e);
        }
        String cmdline = null;
        List<String> qemuArgs = List.of();
        Integer exitStatus = null;
        List<String> lines = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("# cmdline: ")) cmdline = line.substring("# cmdline: ".length());
            else if (line.startsWith("# qemu: ")) qemuArgs = List.of(line.substring("# qemu: ".length()).split(" +"));
            else if (line.startsWith("# exit: ")) exitStatus = Integer.parseInt(line.substring("# exit: ".length()));
            else lines.add(line);
        }
        if (cmdline == null || exitStatus == null) throw new IllegalStateException(resource + " lacks # cmdline: or # exit:");
        return new GuestScenario(name, cmdline, qemuArgs, exitStatus, List.copyOf(lines));
    }

    /** The vCPU count the scenario runs with ({@code -smp N} among the QEMU arguments, else 1). */
    public int cpus() {
        int at = qemuArgs.indexOf("-smp");
        return at >= 0 ? Integer.parseInt(qemuArgs.get(at + 1)) : 1;
    }

    /** The scenario's name on the command line (its first word). */
    public String scenario() {
        return cmdline.split(" ")[0];
    }

    /**
     * The expected lines with every line allowed to differ replaced by the actual line at the same
     * place when that line has the same key (the text before the first ": "), so that comparing
     * the result with {@code actual} checks everything else exactly.
     */
    public List<String> reconciledWith(List<String> actual) {
        List<String> result = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.startsWith(MAY_DIFFER)) {
                String text = line.substring(MAY_DIFFER.length());
                String key = text.substring(0, text.indexOf(": ") + 2);
                line = i < actual.size() && actual.get(i).startsWith(key) ? actual.get(i) : text;
            }
            result.add(line);
        }
        return result;
    }
}
