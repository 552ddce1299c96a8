package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code symbiont faults} with a cluster scenario: the example's report and replay, and scenarios it refuses. */
class ClusterFaultsCommandTest {
    @Test
    void theExamplePartitionLeavesTheSumExactAndReplays() {
        CommandRun r = CommandRun.of("faults", "--replay", "1", "../docs/faults/partitioned-allreduce.conf");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("(4 nodes on 2 members, seed 0)"), r.out());
        assertTrue(r.out().contains("11,900,000 ns  partition    members 1 with nodes node1, node3 cut off from the others for"
                + " 1000000 ns: 2 frames lost"), r.out());
        assertTrue(r.out().contains("without faults: every node ended (12,957,847 ns of virtual time"), r.out());
        assertTrue(r.out().contains("with faults:    every node ended (112,992,430 ns of virtual time"), r.out());
        assertTrue(r.out().contains("result: survived (RESULT name=allreduce iters=4 compute=20000 count=4 nranks=4 "), r.out());
        assertTrue(r.out().contains("replay: 1 run(s) identical"), r.out());
    }

    @Test
    void aBadClusterScenarioIsOneLineAndStatus2(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("cluster.conf");
        Files.writeString(file, "cluster { nodes = 4, members = 2, workload = allreduce }\n"
                + "faults = [{ at = 1ms, kind = kill-member, member = 0 }]\n");
        CommandRun r = CommandRun.of("faults", file.toString());
        assertEquals(2, r.status(), r.out() + r.err());
        assertEquals("symbiont: " + file + ": faults[0].member: expected a member other than 0, which runs the experiment's coordinator\n",
                r.err());
        Files.writeString(file, "cluster { nodes = 4, members = 2 }\nfaults = [{ at = 1ms, kind = kill-member, member = 1 }]\n");
        r = CommandRun.of("faults", file.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("symbiont: " + file + ": cluster.workload: expected the LWK workload"), r.err());
    }
}
