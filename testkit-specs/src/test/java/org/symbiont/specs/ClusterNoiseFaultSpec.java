package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.Test;
import org.symbiont.cluster.Experiment;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.NodeResult;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;

/**
 * Faults on the nodes of a simulated cluster: noise that starts mid-experiment on every node and
 * a stall of one node's vCPU take virtual time from the nodes, every node ends later, and the sum every rank computes is exact. A member lost mid-experiment is
 * {@link MemberLossSpec}'s and {@link SeparateJvmClusterSpec}'s.
 */
class ClusterNoiseFaultSpec {
    private static final String FAULTS = """
            faults = [
              { at = 200us, kind = noise, frequency = 10000, duration = 10us, phase = random }
            ]
            """;

    private static Experiment allreduce(String id, boolean faulted) {
        return Experiment.ofRanks(id, 3, GuestImages.lwk(), "lwk.bin", "allreduce iters=4 compute=20000",
                r -> "memory = 64M\nseed = " + r + "\n" + (faulted ? FAULTS
                        + (r == 1 ? "faults += { at = 500us, kind = stall-vcpu, vcpu = 0, duration = 1ms }\n" : "") : ""),
                "", ClusterPlacementSpec.NET);
    }

    @Test
    void noiseAndAStallOnClusterNodesSlowTheAllreduceAndLeaveItsSumExact() {
        ActorSystem<Void> member = SymbiontCluster.startMember("127.0.0.1", 0, List.of());
        ExperimentResult clean, faulted;
        try {
            SymbiontCluster.awaitMembers(member, 1, Duration.ofSeconds(60));
            clean = SymbiontCluster.run(member, allreduce("fault-clean", false), p -> { });
            faulted = SymbiontCluster.run(member, allreduce("fault-noise", true), p -> { });
        } finally {
            SymbiontCluster.stop(member);
        }
        assertTrue(clean.succeeded(), clean::failure);
        assertTrue(faulted.succeeded(), faulted::failure);
        for (int k = 0; k < clean.nodes().size(); k++) {
            NodeResult a = clean.nodes().get(k), b = faulted.nodes().get(k);
            assertTrue(b.guestExited(), b.console());
            assertEquals(0, a.stolenNanos(), "node " + k + " without faults");
            long minimum = k == 1 ? 1_000_000 + 10_000 : 10_000;
            assertTrue(b.stolenNanos() >= minimum, "node " + k + " lost " + b.stolenNanos() + " ns");
            assertTrue(b.virtualNanos() > a.virtualNanos(), "node " + k + " ended later: " + a.virtualNanos() + " -> " + b.virtualNanos());
        }
        ResultLine cleanLine = ResultLine.find(clean.nodes().getFirst().console()).orElseThrow();
        ResultLine faultedLine = ResultLine.find(faulted.nodes().getFirst().console()).orElseThrow();
        assertTrue(cleanLine.exact().contains(" ok=1"), cleanLine.exact());
        assertEquals(cleanLine.exact(), faultedLine.exact(), "rank 0's sum is exact");
    }
}
