package org.symbiont.cluster;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterFaultConfigTest {
    private static final String CLUSTER = "cluster { nodes = 4, members = 2, workload = \"allreduce iters=4\" }\n";

    private static ClusterScenario scenario(String hocon) {
        return ClusterScenario.from(ConfigFactory.parseString(hocon), "s.conf");
    }

    private static String error(String hocon) {
        return assertThrows(IllegalArgumentException.class, () -> scenario(hocon)).getMessage();
    }

    @Test
    void readsAScenarioWithBothKinds() {
        ClusterScenario s = scenario(CLUSTER + """
                cluster { seed = 7, memory = 32M, interconnect.latency = 10us }
                faults = [
                  { at = 2ms, kind = partition, members = [1], duration = 1ms }
                  { at = 5ms, kind = kill-member, member = "1" }
                ]
                """);
        assertEquals(4, s.nodes());
        assertEquals(2, s.members());
        assertEquals(7, s.seed());
        assertEquals("32M", s.memory());
        assertEquals(10_000, s.interconnect().latencyNanos());
        assertEquals(10_000, s.interconnect().quantumNanos(), "the default quantum is the latency");
        assertEquals(List.of(new ClusterFault.Partition(2_000_000, List.of("1"), 1_000_000), new ClusterFault.KillMember(5_000_000, "1")),
                s.faults());
        Experiment e = s.experiment("x", new byte[0], true);
        assertEquals(s.faults(), e.faults());
        assertTrue(e.nodes().get(3).vmConfig().contains("seed = 10"), e.nodes().get(3).vmConfig());
        assertTrue(s.experiment("y", new byte[0], false).faults().isEmpty());
    }

    @Test
    void membersMayBeNamedByAddressOutsideScenarios() {
        List<ClusterFault> faults = ClusterFault.read(ConfigFactory.parseString(
                "faults = [{ at = 0, kind = partition, members = [0, \"127.0.0.1:2552\"], duration = 5us }]"), "e");
        assertEquals(List.of(new ClusterFault.Partition(0, List.of("0", "127.0.0.1:2552"), 5_000)), faults);
        assertTrue(ClusterFault.read(ConfigFactory.parseString("x = 1"), "e").isEmpty());
    }

    @Test
    void errorsNameTheFileTheFieldAndWhatWasExpected() {
        assertEquals("s.conf: faults[0].kind: expected one of kill-member, partition, got \"sever\"",
                error(CLUSTER + "faults = [{ at = 1ms, kind = sever }]"));
        assertEquals("s.conf: faults[0].duration: expected a duration of virtual time (e.g. 2ms), 0 or more",
                error(CLUSTER + "faults = [{ at = 1ms, kind = partition, members = [1] }]"));
        assertEquals("s.conf: faults[0].duration: expected a positive duration (e.g. 1ms), got 0ns",
                error(CLUSTER + "faults = [{ at = 1ms, kind = partition, members = [1], duration = 0 }]"));
        assertEquals("s.conf: faults[0].at: expected a duration of virtual time (e.g. 2ms), 0 or more, got \"soon\"",
                error(CLUSTER + "faults = [{ at = soon, kind = kill-member, member = 1 }]"));
        assertEquals("s.conf: faults[0].at: expected a duration of virtual time (e.g. 2ms), 0 or more, got \"-1ms\"",
                error(CLUSTER + "faults = [{ at = -1ms, kind = kill-member, member = 1 }]"));
        assertEquals("s.conf: faults[0].members: expected a non-empty list of members (indices or HOST:PORT), the side cut off from the rest",
                error(CLUSTER + "faults = [{ at = 1ms, kind = partition, members = 1, duration = 1ms }]"));
        assertEquals("s.conf: faults[0].members[1]: expected each member once, got 1 again",
                error(CLUSTER + "faults = [{ at = 1ms, kind = partition, members = [1, 1], duration = 1ms }]"));
        assertEquals("s.conf: faults[0].member: expected a member index (0 is the oldest) or HOST:PORT, got \"one\"",
                error(CLUSTER + "faults = [{ at = 1ms, kind = kill-member, member = one }]"));
        assertEquals("s.conf: faults[0].member: expected a member index (0 is the oldest) or HOST:PORT, got -1",
                error(CLUSTER + "faults = [{ at = 1ms, kind = kill-member, member = -1 }]"));
        assertEquals("s.conf: faults: partitions must not overlap; one from 1000000ns to 3000000ns, another from 2000000ns",
                error(CLUSTER + """
                        faults = [
                          { at = 1ms, kind = partition, members = [1], duration = 2ms }
                          { at = 2ms, kind = partition, members = [1], duration = 2ms }
                        ]"""));
    }

    @Test
    void aScenarioNamesItsOwnMembersByIndexAndKeepsMemberZero() {
        assertEquals("s.conf: faults[0].member: expected member indices from 0 to 1 (the scenario's members run in this process on"
                + " ports of their own), got 2", error(CLUSTER + "faults = [{ at = 1ms, kind = kill-member, member = 2 }]"));
        assertEquals("s.conf: faults[0].members: expected member indices from 0 to 1 (the scenario's members run in this process on"
                        + " ports of their own), got 127.0.0.1:2552",
                error(CLUSTER + "faults = [{ at = 1ms, kind = partition, members = [\"127.0.0.1:2552\"], duration = 1ms }]"));
        assertEquals("s.conf: faults[0].member: expected a member other than 0, which runs the experiment's coordinator",
                error(CLUSTER + "faults = [{ at = 1ms, kind = kill-member, member = 0 }]"));
        assertEquals("s.conf: faults[0].members: expected some of the members, not all 2 (the others are the other side)",
                error(CLUSTER + "faults = [{ at = 1ms, kind = partition, members = [0, 1], duration = 1ms }]"));
    }

    @Test
    void theClusterBlockIsChecked() {
        String fault = "faults = [{ at = 1ms, kind = kill-member, member = 1 }]\n";
        assertEquals("s.conf: cluster.node: expected one of nodes, members, workload, memory, seed, interconnect",
                error("cluster { node = 4, members = 2, workload = x }\n" + fault));
        assertEquals("s.conf: cluster.nodes: expected a whole number from 1 to 256, got 0",
                error("cluster { nodes = 0, members = 2, workload = x }\n" + fault));
        assertEquals("s.conf: cluster.members: expected a whole number from 1 to 4, got 5",
                error("cluster { nodes = 4, members = 5, workload = x }\n" + fault));
        assertEquals("s.conf: cluster.nodes: expected a whole number from 1 to 256, got \"many\"",
                error("cluster { nodes = many, members = 2, workload = x }\n" + fault));
        assertEquals("s.conf: cluster.workload: expected the LWK workload and its arguments, e.g. \"allreduce iters=4 compute=20000\"",
                error("cluster { nodes = 4, members = 2 }\n" + fault));
        assertEquals("s.conf: cluster.memory: expected a size per node, e.g. 64M",
                error(CLUSTER + "cluster.memory = lots\n" + fault));
        assertTrue(error(CLUSTER + "cluster.interconnect { latency = 1us, quantum = 2us }\n" + fault)
                .startsWith("s.conf: cluster.interconnect: interconnect.quantum: expected 1ns up to the latency (1000ns)"));
        assertEquals("s.conf: faults: expected at least one fault", error(CLUSTER));
        assertEquals("s.conf: memory: expected only cluster { ... } and faults = [ ... ] in a cluster scenario (node settings go in cluster)",
                error(CLUSTER + "memory = 64M\n" + fault));
    }
}
