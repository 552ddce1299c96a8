package org.symbiont.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.symbiont.guests.GuestImages;

class ExperimentRunTest {
    static ActorSystem<Void> member;

    @BeforeAll
    static void start() {
        member = SymbiontCluster.startMember("127.0.0.1", 0, List.of());
        SymbiontCluster.awaitMembers(member, 1, Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() {
        SymbiontCluster.stop(member);
    }

    @Test
    void fourNodesAllreduce() {
        Interconnect net = new Interconnect(5_000, 1_600_000_000L, 100, 5_000);
        ExperimentResult r = SymbiontCluster.run(member, Experiment.ofRanks("ar4", 4, GuestImages.lwk(), "lwk.bin", "allreduce iters=5", rank -> "memory = 64M", "", net), p -> System.out.println(p));
        assertNull(r.failure(), r::failure);
        for (NodeResult n : r.nodes()) {
            System.out.println(n.name() + " " + n.reason() + " " + n.virtualNanos() + " retired " + n.retired() + " sent " + n.framesSent());
            assertEquals(1, n.guestStatus(), n.console()); // isa-debug-exit: (0 << 1) | 1
        }
        System.out.println(r.nodes().getFirst().console());
        System.out.println("windows " + r.windows() + " nodeWindows " + r.nodeWindows() + " wall " + r.wallNanos() / 1e6 + " ms");
        assertTrue(r.nodes().getFirst().console().contains("RESULT name=allreduce"));
    }
}
