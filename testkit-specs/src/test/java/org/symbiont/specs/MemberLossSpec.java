package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.Test;
import org.symbiont.cluster.Experiment;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;

/**
 * A member that leaves while an experiment runs on it: the experiment stops and says which
 * member went and which nodes were on it; it does not hang.
 */
class MemberLossSpec {
    @Test
    void anExperimentWhoseMemberLeavesStopsWithAReport() throws Exception {
        ActorSystem<Void> first = SymbiontCluster.startMember("127.0.0.1", 0, List.of());
        String seed = SymbiontCluster.address(first);
        ActorSystem<Void> second = SymbiontCluster.startMember("127.0.0.1", 0, List.of(seed));
        ActorSystem<Void> third = SymbiontCluster.startMember("127.0.0.1", 0, List.of(seed));
        try {
            SymbiontCluster.awaitMembers(first, 3, Duration.ofSeconds(60));
            Experiment long_ = Experiment.ofRanks("loss", 6, GuestImages.lwk(), "lwk.bin", "allreduce iters=100000",
                    r -> "memory = 64M", "", ClusterPlacementSpec.NET);
            CountDownLatch running = new CountDownLatch(2);
            CompletableFuture<ExperimentResult> result = CompletableFuture.supplyAsync(() ->
                    SymbiontCluster.run(first, long_, p -> running.countDown()));
            assertTrue(running.await(120, TimeUnit.SECONDS), "the experiment runs");
            String gone = SymbiontCluster.address(third);
            SymbiontCluster.stop(third);
            ExperimentResult r = result.get(120, TimeUnit.SECONDS);
            assertFalse(r.succeeded());
            assertTrue(r.failure().contains("cluster member pekko://symbiont@" + gone + " left the cluster")
                    || r.failure().contains("cluster member pekko://symbiont@" + gone + " became unreachable"), r.failure());
            assertTrue(r.failure().contains("with nodes node"), r.failure());
        } finally {
            SymbiontCluster.stop(second);
            SymbiontCluster.stop(first);
        }
    }
}
