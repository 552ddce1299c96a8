package org.symbiont.symbiotic;

import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.Hypervisor;
import org.symbiont.vmm.TestKernels;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.config.VmConfig;

/**
 * A test VM running a test kernel (32-bit assembly, see {@link TestKernels}) with the symbiotic
 * extensions installed, its debug console (port 0xE9) captured, under a {@link Hypervisor} of
 * the test kit.
 */
record SymbioticVm(String name, ActorRef<Hypervisor.Command> hypervisor, Symbiotic symbiotic, CharBackends.Capture console,
                   TestProbe<VmReport> reports, ActorTestKit kit) {
    static final Duration VM_ENDS = Duration.ofSeconds(30);

    /** Starts {@code source} with {@code hocon} over the defaults (64 MiB, the debug console added). */
    static SymbioticVm start(ActorTestKit kit, String name, String hocon, String source, Extensions ext, Symbiotic sym) {
        VmConfig config = VmConfig.from(ConfigFactory.parseString(hocon
                + "\nmemory = 64M\nname = " + name + "\nkernel.file = \"" + TestKernels.file(source) + "\"\n"
                + "devices += { name = debugcon, type = debugcon, chardev = console }"), "test " + name);
        CharBackends.Capture console = new CharBackends.Capture();
        TestProbe<VmReport> reports = kit.createTestProbe();
        ActorRef<Hypervisor.Command> hv = kit.spawn(Hypervisor.create(), "hv-" + name);
        hv.tell(new Hypervisor.CreateVm(VmSpec.prepare(config, ext, console), reports.ref()));
        return new SymbioticVm(name, hv, sym, console, reports, kit);
    }

    SymCalls calls() {
        return symbiotic.symCalls();
    }

    /** The vCPUs' registers and last exits, or how the VM ended, for a failure message. */
    String state() {
        TestProbe<VmReport> probe = kit.createTestProbe();
        hypervisor.tell(new Hypervisor.InspectVm(name, probe.ref()));
        try {
            return probe.receiveMessage(Duration.ofSeconds(10)).vcpus().getFirst().state();
        } catch (AssertionError notRunning) {
            VmReport ended = reports.receiveMessage(Duration.ofSeconds(1));
            return "the VM ended: " + ended.reason() + " " + ended.message();
        }
    }

    /** Waits until the guest printed {@code text} (failing on "FAIL" or after {@link #VM_ENDS}). */
    void awaitConsole(String text) throws InterruptedException {
        long deadline = System.nanoTime() + VM_ENDS.toNanos();
        while (!console.text().contains(text)) {
            if (console.text().contains("FAIL")) fail("the guest failed: " + console.text() + "\n" + state());
            if (System.nanoTime() > deadline) fail("the guest never printed \"" + text + "\": " + console.text() + "\n" + state());
            Thread.sleep(5);
        }
    }

    VmReport stop() {
        hypervisor.tell(new Hypervisor.StopVm(name, "test over"));
        return reports.receiveMessage(VM_ENDS);
    }
}
