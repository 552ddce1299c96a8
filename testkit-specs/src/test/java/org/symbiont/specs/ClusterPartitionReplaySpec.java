package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.cluster.ClusterFault;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.NodeResult;

/**
 * A partition run replays exactly: the same experiment with the same seeds and the same
 * partition, each time on a fresh cluster of two members (other ports, other timing), loses
 * the same frames and gives every node the same console, frame counts and virtual end time.
 */
class ClusterPartitionReplaySpec {
    @Test
    void aPartitionRunWithItsSeedsReplaysIdentically() {
        // Long enough that the LWK sends twice into the partition (after 100 ms, then 200 ms more).
        List<ClusterFault> faults = List.of(new ClusterFault.Partition(ClusterMemberFaultSpec.DURING_ALLREDUCE, List.of("1"), 250_000_000));
        ExperimentResult first = ClusterMemberFaultSpec.runOn(2, ClusterMemberFaultSpec.allreduce("replay", faults));
        ExperimentResult again = ClusterMemberFaultSpec.runOn(2, ClusterMemberFaultSpec.allreduce("replay", faults));
        assertTrue(first.succeeded(), first::failure);
        assertTrue(again.succeeded(), again::failure);
        assertEquals(List.of(new ExperimentResult.AppliedFault(ClusterMemberFaultSpec.DURING_ALLREDUCE, "partition",
                "members 1 with nodes node1, node3 cut off from the others for 250000000 ns: 4 frames lost")), first.faults());
        assertEquals(first.faults(), again.faults());
        assertEquals(first.virtualNanos(), again.virtualNanos());
        assertEquals(first.windows(), again.windows());
        for (int k = 0; k < first.nodes().size(); k++) {
            NodeResult a = first.nodes().get(k), b = again.nodes().get(k);
            assertEquals(a.console(), b.console(), "node " + k + " printed the same, measured times included");
            assertEquals(a.virtualNanos(), b.virtualNanos(), "node " + k);
            assertEquals(a.retired(), b.retired(), "node " + k);
            assertEquals(a.framesSent(), b.framesSent(), "node " + k);
            assertEquals(a.framesReceived(), b.framesReceived(), "node " + k);
        }
    }
}
