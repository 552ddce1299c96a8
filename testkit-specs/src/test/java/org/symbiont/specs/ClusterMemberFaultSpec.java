package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.Test;
import org.symbiont.cluster.ClusterFault;
import org.symbiont.cluster.Experiment;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.NodeResult;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;

/**
 * Faults of the simulated cluster itself, on members that are actor systems of this JVM on
 * 127.0.0.1 (node k lives on member k mod M, the oldest member 0). A member killed at a virtual
 * time ends the experiment there with a report naming the fault, the member and its nodes. A
 * partition loses the frames sent across it; the LWK's message layer (go-back-N, sent again
 * after 100 ms of virtual time without progress) recovers once it is over: the allreduce
 * iteration it hit takes 100 ms instead of 155 us, and the sum is exact.
 * {@link ClusterPartitionReplaySpec} replays a partition.
 */
class ClusterMemberFaultSpec {
    /** The 4-rank allreduce's messages go between 11.7 and 12.4 ms of virtual time (after the LWK booted). */
    static final long DURING_ALLREDUCE = 11_900_000;

    static Experiment allreduce(String id, List<ClusterFault> faults) {
        return Experiment.ofRanks(id, 4, GuestImages.lwk(), "lwk.bin", "allreduce iters=4 compute=20000",
                r -> "memory = 64M\nseed = " + r, "", ClusterPlacementSpec.NET).withFaults(faults);
    }

    /** {@code experiment} on a fresh cluster of {@code members} members, started one after another so their ages are in order. */
    static ExperimentResult runOn(int members, Experiment experiment) {
        List<ActorSystem<Void>> systems = new ArrayList<>();
        try {
            ActorSystem<Void> first = SymbiontCluster.startMember("127.0.0.1", 0, List.of());
            systems.add(first);
            SymbiontCluster.awaitMembers(first, 1, Duration.ofSeconds(60));
            for (int m = 1; m < members; m++) {
                systems.add(SymbiontCluster.startMember("127.0.0.1", 0, List.of(SymbiontCluster.address(first))));
                SymbiontCluster.awaitMembers(first, m + 1, Duration.ofSeconds(60));
            }
            return SymbiontCluster.run(first, experiment, p -> { });
        } finally {
            for (ActorSystem<Void> s : systems.reversed()) {
                if (!s.whenTerminated().isCompleted()) SymbiontCluster.stop(s);
            }
        }
    }

    @Test
    void aKilledMemberEndsTheExperimentAtItsVirtualTimeWithAReportNamingTheFault() {
        ExperimentResult r = runOn(3, allreduce("kill", List.of(new ClusterFault.KillMember(DURING_ALLREDUCE, "2"))));
        assertFalse(r.succeeded());
        assertTrue(r.failure().matches("cluster member pekko://symbiont@127\\.0\\.0\\.1:\\d+ \\(member 2\\) "
                + "(left the cluster|became unreachable) with nodes node2 on it, killed by the injected fault kill-member at "
                + DURING_ALLREDUCE + " ns of virtual time; .*"), r.failure());
        assertEquals(List.of(new ExperimentResult.AppliedFault(DURING_ALLREDUCE, "kill-member", "member 2 with nodes node2")), r.faults());
        assertEquals(DURING_ALLREDUCE, r.virtualNanos(), "no window after the kill");
        for (NodeResult n : r.nodes()) assertNull(n, "no node ended: the allreduce waits for node2");
    }

    @Test
    void aPartitionLosesTheFramesAcrossItAndTheLwkRecoversBySendingAgain() {
        ExperimentResult clean = runOn(2, allreduce("partition-clean", List.of()));
        ExperimentResult faulted = runOn(2, allreduce("partition", List.of(
                new ClusterFault.Partition(DURING_ALLREDUCE, List.of("1"), 1_000_000))));
        assertTrue(clean.succeeded(), clean::failure);
        assertTrue(faulted.succeeded(), faulted::failure);
        assertEquals(List.of(new ExperimentResult.AppliedFault(DURING_ALLREDUCE, "partition",
                "members 1 with nodes node1, node3 cut off from the others for 1000000 ns: 2 frames lost")), faulted.faults());
        ResultLine before = ResultLine.find(clean.nodes().getFirst().console()).orElseThrow();
        ResultLine after = ResultLine.find(faulted.nodes().getFirst().console()).orElseThrow();
        assertTrue(before.exact().contains(" ok=1"), before.exact());
        assertEquals(before.exact(), after.exact(), "the sum is exact");
        assertTrue(before.measuredNumber("max_us") < 1_000, before.toString());
        // The lost frames are sent again 100 ms (RESEND_NS) after the last progress.
        assertTrue(after.measuredNumber("max_us") >= 100_000 && after.measuredNumber("max_us") < 101_000, after.toString());
        assertEquals(before.measuredNumber("min_us"), after.measuredNumber("min_us"), 1.0, "the other iterations as before");
        for (int k = 0; k < 4; k++) {
            NodeResult a = clean.nodes().get(k), b = faulted.nodes().get(k);
            assertTrue(b.guestExited() && b.guestStatus() == 1, b.console());
            assertEquals(a.framesSent() + 1, b.framesSent(), "node " + k + " sent one frame again: " + b.framesSent());
            long later = b.virtualNanos() - a.virtualNanos();
            assertTrue(later > 99_000_000 && later < 101_000_000, "node " + k + " ended " + later + " ns later");
        }
    }
}
