package org.symbiont.specs;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.Test;
import org.symbiont.cluster.ClusterFault;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.SymbiontCluster;

/**
 * A kill-member fault on a member in a JVM of its own ({@code symbiont cluster-node}), named by
 * its address: at the fault's virtual time its actor system ends and its process exits; the
 * experiment stops with the report naming the fault.
 */
class MemberProcessKillSpec {
    @Test
    void aKilledMemberProcessExitsAndTheExperimentReportsTheFault() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String address = "127.0.0.1:" + port;
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process member = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "org.symbiont.cli.Main",
                "cluster-node", "--host", "127.0.0.1", "--port", Integer.toString(port), "--seed", address)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        ActorSystem<Void> here = null;
        try {
            CompletableFuture<String> up = CompletableFuture.supplyAsync(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(member.getInputStream()))) {
                    String line;
                    while ((line = r.readLine()) != null) if (line.startsWith("symbiont cluster-node: member ")) return line;
                    return "ended";
                } catch (Exception e) {
                    return e.toString();
                }
            });
            assertTrue(up.get(90, TimeUnit.SECONDS).startsWith("symbiont cluster-node: member " + address), "the member process is up");
            here = SymbiontCluster.startMember("127.0.0.1", 0, List.of(address));
            SymbiontCluster.awaitMembers(here, 2, Duration.ofSeconds(90));
            ExperimentResult r = SymbiontCluster.run(here, ClusterMemberFaultSpec.allreduce("process-kill",
                    List.of(new ClusterFault.KillMember(ClusterMemberFaultSpec.DURING_ALLREDUCE, address))), p -> { });
            assertFalse(r.succeeded());
            assertTrue(r.failure().startsWith("cluster member pekko://symbiont@" + address + " (member 0) "), r.failure());
            assertTrue(r.failure().contains("with nodes node0, node2 on it, killed by the injected fault kill-member at "
                    + ClusterMemberFaultSpec.DURING_ALLREDUCE + " ns of virtual time"), r.failure());
            assertTrue(member.waitFor(60, TimeUnit.SECONDS), "the killed member's process exited");
        } finally {
            member.destroyForcibly();
            if (here != null) SymbiontCluster.stop(here);
        }
    }
}
