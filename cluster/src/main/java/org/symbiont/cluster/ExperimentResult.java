package org.symbiont.cluster;

import java.util.List;

/**
 * How an experiment went: each node's result by index (null for a node that had not ended when
 * it stopped), why it stopped early (null: every node ended), the windows of virtual time
 * (barriers) it took and node-windows run, the virtual time reached, the wall time, and over
 * how many cluster members the nodes were spread.
 */
public record ExperimentResult(List<NodeResult> nodes, String failure, long windows, long nodeWindows, long virtualNanos,
                               long wallNanos, int members) {

    public boolean succeeded() {
        return failure == null;
    }
}
