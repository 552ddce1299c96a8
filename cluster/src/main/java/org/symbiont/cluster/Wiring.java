package org.symbiont.cluster;

import java.util.Arrays;

/**
 * What every node of an experiment shares: the experiment's name, the interconnect, and the
 * address table (each node's MAC; a switch fabric that knows every port, so nothing is flooded).
 */
public record Wiring(String experiment, Interconnect interconnect, long[] sortedMacs, int[] nodeOfMac) implements CborSerializable {

    /** The wiring of nodes whose interconnect NICs have addresses {@code macs} (by node index). */
    public static Wiring of(String experiment, Interconnect interconnect, long[] macs) {
        Integer[] order = new Integer[macs.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Long.compare(macs[a], macs[b]));
        long[] sorted = new long[macs.length];
        int[] nodes = new int[macs.length];
        for (int i = 0; i < order.length; i++) {
            sorted[i] = macs[order[i]];
            nodes[i] = order[i];
            if (i > 0 && sorted[i] == sorted[i - 1]) {
                throw new IllegalArgumentException("nodes " + nodes[i - 1] + " and " + nodes[i] + " have the same MAC address "
                        + SimulatedNode.macText(sorted[i]));
            }
        }
        return new Wiring(experiment, interconnect, sorted, nodes);
    }

    public int nodes() {
        return sortedMacs.length;
    }

    /** The node with address {@code mac}, or -1. */
    public int nodeOf(long mac) {
        int k = Arrays.binarySearch(sortedMacs, mac);
        return k < 0 ? -1 : nodeOfMac[k];
    }

    /** The sharding entity id of node {@code index}. */
    public String entityId(int index) {
        return experiment + "-" + index;
    }
}
