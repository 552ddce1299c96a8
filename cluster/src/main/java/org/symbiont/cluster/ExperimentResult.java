package org.symbiont.cluster;

import java.util.List;

/**
 * How an experiment went: each node's result by index (null for a node that had not ended when
 * it stopped), why it stopped early (null: every node ended), the windows of virtual time
 * (barriers) it took and node-windows run, the virtual time reached, the wall time, and over
 * how many cluster members the nodes were spread, and the cluster faults applied, in order.
 */
public record ExperimentResult(List<NodeResult> nodes, String failure, long windows, long nodeWindows, long virtualNanos,
                               long wallNanos, int members, List<AppliedFault> faults) {

    /**
     * A cluster fault the coordinator applied at virtual time {@code nanos}: its kind and what it
     * did (the members and nodes it hit; for a partition, the frames lost).
     */
    public record AppliedFault(long nanos, String kind, String detail) {}

    public boolean succeeded() {
        return failure == null;
    }
}
