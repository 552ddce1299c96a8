package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Create, start, pause, resume, reset and stop, driven through the {@link Hypervisor}. */
class VmLifecycleTest {
    private static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    /** Counts its boots in RAM the loader does not touch, prints the count, then spins. */
    private static final String COUNT_BOOTS = """
                incl 0x500
                mov 0x500, %eax
                add $'0', %al
                out %al, $0xe9
            1:  inc %ebx
                jmp 1b
            """;

    private static VmReport inspect(ActorRef<Hypervisor.Command> hv, String name) {
        TestProbe<VmReport> probe = kit.createTestProbe();
        hv.tell(new Hypervisor.InspectVm(name, probe.ref()));
        return probe.receiveMessage(Duration.ofSeconds(10));
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("timed out waiting until " + what);
            Thread.onSpinWait();
        }
    }

    @Test
    void pauseStopsTheGuestResumeContinuesItAndStopReportsIt() throws InterruptedException {
        ActorRef<Hypervisor.Command> hv = kit.spawn(Hypervisor.create(), "hv-pause");
        CharBackends.Capture console = new CharBackends.Capture();
        VmSpec spec = VmSpec.prepare(VmRun.config("spinner", TestKernels.file(COUNT_BOOTS), ""), Extensions.none(), console);
        TestProbe<VmReport> done = kit.createTestProbe();
        hv.tell(new Hypervisor.CreateVm(spec, done.ref()));
        await(() -> console.text().equals("1"), "the guest printed");
        assertEquals(VmReport.Reason.RUNNING, inspect(hv, "spinner").reason());

        hv.tell(new Hypervisor.PauseVm("spinner"));
        VmReport paused = inspect(hv, "spinner");
        assertEquals(VmReport.Reason.PAUSED, paused.reason());
        Thread.sleep(200);
        VmReport stillPaused = inspect(hv, "spinner");
        assertEquals(paused.retired(), stillPaused.retired(), "a paused guest retires no instructions");
        assertEquals(paused.virtualNanos(), stillPaused.virtualNanos(), "a paused guest's time stands still");

        hv.tell(new Hypervisor.ResumeVm("spinner"));
        await(() -> inspect(hv, "spinner").retired() > paused.retired(), "the resumed guest ran");

        TestProbe<List<String>> names = kit.createTestProbe();
        hv.tell(new Hypervisor.ListVms(names.ref()));
        assertEquals(List.of("spinner"), names.receiveMessage());

        hv.tell(new Hypervisor.StopVm("spinner", "test over"));
        VmReport end = done.receiveMessage(Duration.ofSeconds(10));
        assertEquals(VmReport.Reason.STOPPED, end.reason());
        assertEquals("test over", end.message());
        assertTrue(end.retired() > paused.retired());
        hv.tell(new Hypervisor.ListVms(names.ref()));
        assertEquals(List.of(), names.receiveMessage(), "a stopped VM is forgotten");
    }

    @Test
    void resetReloadsTheKernelAndKeepsRam() {
        ActorRef<Hypervisor.Command> hv = kit.spawn(Hypervisor.create(), "hv-reset");
        CharBackends.Capture console = new CharBackends.Capture();
        VmSpec spec = VmSpec.prepare(VmRun.config("rebooter", TestKernels.file(COUNT_BOOTS), ""), Extensions.none(), console);
        TestProbe<VmReport> done = kit.createTestProbe();
        hv.tell(new Hypervisor.CreateVm(spec, done.ref()));
        await(() -> console.text().equals("1"), "the first boot printed");
        hv.tell(new Hypervisor.ResetVm("rebooter"));
        await(() -> console.text().equals("12"), "the second boot printed");
        hv.tell(new Hypervisor.ResetVm("rebooter"));
        await(() -> console.text().equals("123"), "the third boot printed");
        hv.tell(new Hypervisor.StopVm("rebooter", "enough"));
        assertEquals(VmReport.Reason.STOPPED, done.receiveMessage(Duration.ofSeconds(10)).reason());
    }

    @Test
    void aSecondVmWithTheSameNameIsRefused() {
        ActorRef<Hypervisor.Command> hv = kit.spawn(Hypervisor.create(), "hv-names");
        var k = TestKernels.file(COUNT_BOOTS);
        TestProbe<VmReport> first = kit.createTestProbe(), second = kit.createTestProbe();
        hv.tell(new Hypervisor.CreateVm(VmSpec.prepare(VmRun.config("twin", k, ""), Extensions.none(), CharBackends.NULL), first.ref()));
        hv.tell(new Hypervisor.CreateVm(VmSpec.prepare(VmRun.config("twin", k, ""), Extensions.none(), CharBackends.NULL), second.ref()));
        VmReport refused = second.receiveMessage(Duration.ofSeconds(10));
        assertEquals(VmReport.Reason.CONFIG_ERROR, refused.reason());
        assertTrue(refused.message().contains("already running"), refused.message());
        hv.tell(new Hypervisor.StopVm("twin", "done"));
        assertEquals(VmReport.Reason.STOPPED, first.receiveMessage(Duration.ofSeconds(10)).reason());
    }
}
