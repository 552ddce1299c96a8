package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.GuestScenario;
import org.symbiont.vmm.config.VmConfig;

/**
 * Two VMs of one JVM cabled by their virtio-net cards ({@code link = cable}): the test guest's
 * {@code net} scenario brings each card up, sends frames from one VM to the other and an
 * acknowledgement back, in both execution modes; each VM prints, line for line, what the same
 * image printed under QEMU with two processes on a socket netdev ({@link GuestScenario}
 * {@code net-send} and {@code net-recv}). A link is a switch: a third VM on it changes nothing.
 */
class VirtioNetLinkTest {
    private static String nic(String vm) {
        return "devices += { name = net0, type = virtio-net, link = cable, mac = \"52:54:00:00:00:" + vm.charAt(0) + "a\" }\n";
    }
    private static final GuestScenario SENDER = GuestScenario.load("net-send");
    private static final GuestScenario RECEIVER = GuestScenario.load("net-recv");

    @TempDir
    static Path dir;
    private static Path kernel;

    @BeforeAll
    static void writeKernel() throws Exception {
        kernel = dir.resolve("testguest.bin");
        Files.write(kernel, GuestImages.testguest());
    }

    private static VmConfig vm(String name, String cmdline, String extra) {
        return VmRun.pcConfig(name, kernel, nic(name) + "kernel.append = \"" + cmdline + "\"\n" + extra);
    }

    private static void assertPrintsWhatQemuPrints(GuestScenario expected, VmRun run) {
        assertEquals(VmReport.Reason.GUEST_EXIT, run.report.reason(), () -> run.report.message() + "\n" + run.console);
        assertEquals(expected.exitStatus(), run.report.guestStatus(), () -> run.report.vm() + "'s exit status\n" + run.console);
        List<String> actual = run.console.lines().toList();
        assertEquals(String.join("\n", expected.reconciledWith(actual)), String.join("\n", actual),
                () -> run.report.vm() + "'s output differs from QEMU's (expected/" + expected.name() + ".txt)");
    }

    private static void exchange(String extra) {
        List<VmRun> runs = VmRun.runAll(List.of(vm("a", SENDER.cmdline(), extra), vm("b", RECEIVER.cmdline(), extra)), Extensions.none());
        assertPrintsWhatQemuPrints(SENDER, runs.get(0));
        assertPrintsWhatQemuPrints(RECEIVER, runs.get(1));
    }

    @Test
    void aSenderAndAReceiverExchangeFramesOverTheLink() {
        exchange("");
    }

    @Test
    void aSenderAndAReceiverExchangeFramesOverTheLinkInParallelMode() {
        exchange("mode = parallel");
    }

    @Test
    void aThirdVmOnTheLinkLeavesThePairUndisturbed() {
        // The link is a switch: the bystander's card is plugged in too, and gets the flooded frames it never reads.
        List<VmRun> runs = VmRun.runAll(List.of(vm("a", SENDER.cmdline(), ""), vm("b", RECEIVER.cmdline(), ""), vm("c", "hello", "")),
                Extensions.none());
        assertPrintsWhatQemuPrints(SENDER, runs.get(0));
        assertPrintsWhatQemuPrints(RECEIVER, runs.get(1));
        assertEquals(VmReport.Reason.GUEST_EXIT, runs.get(2).report.reason(), () -> runs.get(2).report.message());
    }

    @Test
    void twoNicsWithOneMacOnALinkAreAConfigurationError() {
        // Which VM plugs in last depends on how the host schedules their start: either may be refused.
        String same = "devices += { name = net0, type = virtio-net, link = lan, mac = \"52:54:00:12:34:56\" }\n";
        List<VmRun> runs = VmRun.runAll(List.of(VmRun.pcConfig("a", kernel, same + "kernel.append = hello\n"),
                VmRun.pcConfig("b", kernel, same + "kernel.append = hello\n")), Extensions.none());
        List<VmRun> refused = runs.stream().filter(r -> r.report.reason() == VmReport.Reason.CONFIG_ERROR).toList();
        assertEquals(1, refused.size(), () -> runs.stream().map(r -> r.report.vm() + ": " + r.report.reason() + " " + r.report.message()).toList().toString());
        VmReport report = refused.getFirst().report;
        assertTrue(report.message().contains(report.vm() + "/net0: MAC address 52:54:00:12:34:56 is already used on network link \"lan\""),
                report.message());
    }
}
