package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.cluster.Experiment;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.NodeResult;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;

/**
 * A cluster of separate JVM processes on loopback, started as a user starts them
 * ({@code symbiont cluster-node --seed HOST:PORT}): an experiment run from a third member gives
 * exactly what it gives on one member in this JVM; when a member process dies mid-experiment,
 * the experiment stops with a report naming it.
 */
class SeparateJvmClusterSpec {
    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void killMembers() {
        for (Process p : processes) p.destroyForcibly();
    }

    /** Starts {@code symbiont cluster-node} in a JVM of its own and waits for its "up" line; returns its HOST:PORT. */
    private String startMemberProcess(int port, String seed) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "org.symbiont.cli.Main",
                "cluster-node", "--host", "127.0.0.1", "--port", Integer.toString(port), "--seed", seed)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        processes.add(p);
        CompletableFuture<String> up = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith("symbiont cluster-node: member ")) up.complete(line.split(" ")[3]);
                }
                up.completeExceptionally(new IllegalStateException("cluster-node ended without coming up: exit " + p.waitFor()));
            } catch (IOException | InterruptedException e) {
                up.completeExceptionally(e);
            }
        });
        reader.setDaemon(true);
        reader.start();
        try {
            return up.get(90, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("the member process came up", e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void threeMembersInTwoProcessesAndThisJvmComputeWhatOneMemberDoes() throws Exception {
        ExperimentResult alone = ClusterPlacementSpec.runOn(1, "jvm-alone");
        int port = freePort();
        String seed = startMemberProcess(port, "127.0.0.1:" + port);
        startMemberProcess(0, seed);
        ActorSystem<Void> here = SymbiontCluster.startMember("127.0.0.1", 0, List.of(seed));
        try {
            SymbiontCluster.awaitMembers(here, 3, Duration.ofSeconds(90));
            ExperimentResult spread = SymbiontCluster.run(here, ClusterPlacementSpec.allreduce("jvm-spread"), p -> { });
            assertTrue(alone.succeeded(), alone::failure);
            assertTrue(spread.succeeded(), spread::failure);
            assertTrue(spread.members() > 1, "nodes ran in other processes: " + spread.members());
            for (int k = 0; k < alone.nodes().size(); k++) {
                NodeResult a = alone.nodes().get(k), b = spread.nodes().get(k);
                assertEquals(a.console(), b.console(), "node " + k);
                assertEquals(a.virtualNanos(), b.virtualNanos(), "node " + k);
            }
        } finally {
            SymbiontCluster.stop(here);
        }
    }

    @Test
    void aMemberProcessThatDiesStopsTheExperimentWithAReport() throws Exception {
        int port = freePort();
        String seed = startMemberProcess(port, "127.0.0.1:" + port);
        String doomed = startMemberProcess(0, seed);
        ActorSystem<Void> here = SymbiontCluster.startMember("127.0.0.1", 0, List.of(seed));
        try {
            SymbiontCluster.awaitMembers(here, 3, Duration.ofSeconds(90));
            Experiment long_ = Experiment.ofRanks("jvm-loss", 6, GuestImages.lwk(), "lwk.bin", "allreduce iters=100000",
                    r -> "memory = 64M", "", ClusterPlacementSpec.NET);
            CountDownLatch running = new CountDownLatch(2);
            CompletableFuture<ExperimentResult> result = CompletableFuture.supplyAsync(() ->
                    SymbiontCluster.run(here, long_, p -> running.countDown()));
            assertTrue(running.await(120, TimeUnit.SECONDS), "the experiment runs");
            processes.get(1).destroyForcibly();
            ExperimentResult r = result.get(120, TimeUnit.SECONDS);
            assertFalse(r.succeeded());
            assertTrue(r.failure().contains("cluster member pekko://symbiont@" + doomed + " "), r.failure());
        } finally {
            SymbiontCluster.stop(here);
        }
    }
}
