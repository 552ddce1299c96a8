package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.Test;
import org.symbiont.cluster.Experiment;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.Interconnect;
import org.symbiont.cluster.NodeResult;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;

/**
 * Where nodes run does not change what they compute or when: the same experiment, with noise
 * of random phase drawn from each node's seed, on a cluster of one member and on one of three
 * members (three actor systems in this JVM on 127.0.0.1, joined through Artery TCP), gives every
 * node the same console output — result lines with their measured times included — and the same
 * virtual end time, frame for frame.
 */
class ClusterPlacementSpec {
    static final Interconnect NET = new Interconnect(5_000, 1_600_000_000L, 100, 5_000);

    static Experiment allreduce(String id) {
        return Experiment.ofRanks(id, 6, GuestImages.lwk(), "lwk.bin", "allreduce iters=4 compute=20000",
                r -> "memory = 64M\nseed = " + r + "\nnoise = [{ frequency = 1000, duration = 25us, phase = random }]", "", NET);
    }

    static ExperimentResult runOn(int members, String id) {
        List<ActorSystem<Void>> systems = new ArrayList<>();
        try {
            ActorSystem<Void> first = SymbiontCluster.startMember("127.0.0.1", 0, List.of());
            systems.add(first);
            String seed = SymbiontCluster.address(first);
            for (int m = 1; m < members; m++) systems.add(SymbiontCluster.startMember("127.0.0.1", 0, List.of(seed)));
            SymbiontCluster.awaitMembers(first, members, Duration.ofSeconds(60));
            return SymbiontCluster.run(first, allreduce(id), p -> { });
        } finally {
            for (ActorSystem<Void> s : systems.reversed()) SymbiontCluster.stop(s);
        }
    }

    @Test
    void oneMemberAndThreeMembersGiveIdenticalRuns() {
        ExperimentResult one = runOn(1, "placement-1");
        ExperimentResult three = runOn(3, "placement-3");
        assertTrue(one.succeeded(), one::failure);
        assertTrue(three.succeeded(), three::failure);
        assertEquals(1, one.members());
        assertTrue(three.members() > 1, "sharding spread the nodes over the members: " + three.members());
        for (int k = 0; k < one.nodes().size(); k++) {
            NodeResult a = one.nodes().get(k), b = three.nodes().get(k);
            assertTrue(a.guestExited() && a.guestStatus() == 1, a.console());
            assertEquals(a.console(), b.console(), "node " + k + " printed the same");
            assertEquals(a.virtualNanos(), b.virtualNanos(), "node " + k + " ended at the same virtual time");
            assertEquals(a.framesSent(), b.framesSent());
            assertTrue(a.stolenNanos() > 0, "noise took time from node " + k);
        }
        String line = ResultLine.find(one.nodes().getFirst().console()).orElseThrow().exact();
        assertTrue(line.startsWith("RESULT name=allreduce iters=4 compute=20000 count=4 nranks=6 ") && line.contains(" ok=1"), line);
        assertEquals(one.windows(), three.windows(), "the same windows of virtual time");
    }
}
