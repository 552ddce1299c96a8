package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * A VM that is a cluster node ({@link NodePort}): it never runs past the horizon it was granted,
 * reports there with its next event, continues on {@link VmSupervisor.Advance}, ends exactly as a
 * VM whose time runs free, and refuses a frame that would arrive in its past.
 */
class ClusterNodeVmSpec {
    private static final ActorTestKit kit = ActorTestKit.create();
    private static final Path LOOP = TestKernels.file("""
                mov $1000000, %ecx
            1:  dec %ecx
                jnz 1b
            """ + TestKernels.exit(0));
    private static int vms;

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    /** A NodePort that records the windows' ends. */
    private static final class Reports implements NodePort {
        final LinkedBlockingQueue<long[]> reached = new LinkedBlockingQueue<>();

        @Override public void transmit(String nic, byte[] frame, long sendNanos) { }

        @Override public void reached(long nowNanos, long nextEventNanos) { reached.add(new long[] {nowNanos, nextEventNanos}); }

        long[] next() throws InterruptedException {
            long[] r = reached.poll(30, TimeUnit.SECONDS);
            assertNotNull(r, "the node reports the end of its window");
            return r;
        }
    }

    private static ActorRef<VmSupervisor.Command> node(Reports port, TestProbe<VmReport> done) {
        VmSpec spec = VmSpec.prepare(VmRun.config("node", LOOP, "memory = 16M\n"), Extensions.none(), new CharBackends.Capture());
        String dispatcher = "symbiont.test.node." + vms++;
        ActorRef<VmSupervisor.Command> vm = kit.spawn(VmSupervisor.create(spec, dispatcher, new NetworkLinks(), port, done.ref()),
                "node-" + vms, VmDispatchers.register(kit.system(), dispatcher));
        vm.tell(new VmSupervisor.Start());
        return vm;
    }

    @Test
    void aNodeRunsWindowByWindowToTheSameEndAsAFreeVm() throws InterruptedException {
        long free = VmRun.run(VmRun.config("free", LOOP, "memory = 16M\n")).report.virtualNanos();
        Reports port = new Reports();
        TestProbe<VmReport> done = kit.createTestProbe();
        ActorRef<VmSupervisor.Command> vm = node(port, done);
        assertArrayEquals(new long[] {0, 0}, port.next(), "at time 0 with a runnable vCPU, before any window");
        long horizon = 0;
        int windows = 0;
        while (horizon + 100_000 < free) {
            horizon += 100_000;
            vm.tell(new VmSupervisor.Advance(horizon, List.of()));
            windows++;
            long[] r = port.next();
            assertEquals(horizon, r[0], "a node stops exactly at its horizon");
            assertEquals(horizon, r[1], "its vCPU is runnable: its next event is now");
        }
        vm.tell(new VmSupervisor.Advance(horizon + 1_000_000, List.of()));
        VmReport report = done.receiveMessage(Duration.ofSeconds(30));
        assertEquals(VmReport.Reason.GUEST_EXIT, report.reason(), report.message());
        assertEquals(free, report.virtualNanos(), "windows do not change what the guest does or when");
        assertTrue(windows >= 9, "about 1 ms in windows of 100 us: " + windows);
    }

    @Test
    void aFrameThatWouldArriveInTheNodesPastEndsItWithAnError() throws InterruptedException {
        Reports port = new Reports();
        TestProbe<VmReport> done = kit.createTestProbe();
        ActorRef<VmSupervisor.Command> vm = node(port, done);
        port.next();
        vm.tell(new VmSupervisor.Advance(200_000, List.of()));
        assertEquals(200_000, port.next()[0]);
        vm.tell(new VmSupervisor.Advance(400_000, List.of(new VmSupervisor.ArrivingFrame("net0", 150_000, new byte[60]))));
        VmReport report = done.receiveMessage(Duration.ofSeconds(30));
        assertEquals(VmReport.Reason.VMM_ERROR, report.reason());
        assertTrue(report.message().contains("would arrive at 150000 ns of virtual time, in this node's past (it is at 200000 ns)"),
                report.message());
    }
}
