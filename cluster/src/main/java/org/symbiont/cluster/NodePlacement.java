package org.symbiont.cluster;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
import org.apache.pekko.cluster.typed.Cluster;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;

/**
 * Where nodes run: node k of every experiment is in shard k, and shard k goes to member k mod M
 * of the M members whose node regions are registered, in order of age (the oldest first). A
 * fault that names member 1 of a fresh cluster therefore hits the same nodes in every run, which
 * a partition's replay needs; the hashing default would place them by ports and timing. Shards
 * never move once placed (a node that moved would lose its running VM).
 */
final class NodePlacement {
    private NodePlacement() {}

    /** Shard id: the node index, the entity id's last part ({@code <experiment>-<index>}). */
    static final class ByNodeIndex extends ShardingMessageExtractor<ShardingEnvelope<SimulatedNode.Command>, SimulatedNode.Command> {
        @Override public String entityId(ShardingEnvelope<SimulatedNode.Command> envelope) { return envelope.entityId(); }

        @Override public String shardId(String entityId) { return entityId.substring(entityId.lastIndexOf('-') + 1); }

        @Override public SimulatedNode.Command unwrapMessage(ShardingEnvelope<SimulatedNode.Command> envelope) { return envelope.message(); }
    }

    /** The members that are up, the oldest first: member indices. */
    static List<Address> upMembersByAge(Cluster cluster) {
        List<Member> up = new ArrayList<>();
        for (Member m : cluster.state().getMembers()) if (m.status() == MemberStatus.up()) up.add(m);
        up.sort(Member.ageOrdering());
        return up.stream().map(Member::address).toList();
    }

    /** Shard k to the k mod M-th region by its member's age; no rebalancing. */
    static final class RoundRobinByAge extends ShardCoordinator.AbstractShardAllocationStrategy {
        private final Cluster cluster;

        RoundRobinByAge(ActorSystem<?> system) {
            this.cluster = Cluster.get(system);
        }

        @Override
        public Future<ActorRef> allocateShard(ActorRef requester, String shardId, Map<ActorRef, IndexedSeq<String>> current) {
            List<ActorRef> regions = regionsByAge(current.keySet());
            long index;
            try {
                index = Long.parseLong(shardId);
            } catch (NumberFormatException e) {
                index = shardId.hashCode() & 0x7fffffffL;
            }
            return Future.successful(regions.get((int) (index % regions.size())));
        }

        @Override
        public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> current, Set<String> inProgress) {
            return Future.successful(Set.of());
        }

        /** The regions of members that are up, oldest member first (all regions if none is up, by address). */
        private List<ActorRef> regionsByAge(Set<ActorRef> regions) {
            List<Address> members = upMembersByAge(cluster);
            List<ActorRef> up = new ArrayList<>();
            for (ActorRef r : regions) if (members.contains(memberAddress(r))) up.add(r);
            if (up.isEmpty()) {
                List<ActorRef> all = new ArrayList<>(regions);
                all.sort(Comparator.comparing(r -> memberAddress(r).toString()));
                return all;
            }
            up.sort(Comparator.comparingInt(r -> members.indexOf(memberAddress(r))));
            return up;
        }

        private Address memberAddress(ActorRef region) {
            Address a = region.path().address();
            return a.hasGlobalScope() ? a : cluster.selfMember().address();
        }
    }
}
