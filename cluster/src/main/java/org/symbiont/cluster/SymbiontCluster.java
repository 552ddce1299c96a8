package org.symbiont.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * Cluster members that host simulated nodes, and running an experiment on them. Every member
 * is the same: an actor system named {@value #SYSTEM} on Pekko Cluster over Artery TCP, with
 * the node entity type registered for Cluster Sharding; the member an experiment is started on
 * runs its {@link Coordinator} and hosts nodes too.
 */
public final class SymbiontCluster {
    private SymbiontCluster() {}

    /** Node entities and coordinators run beside the VMs, on their pool (see VmDispatchers.registerBesideVms). */
    static final String NODE_DISPATCHER = "symbiont.cluster.nodes";

    /** Every member's actor system has this name (members of one cluster must agree). */
    public static final String SYSTEM = "symbiont";

    /**
     * Starts a member listening on {@code host}:{@code port} (0: any free port) that joins the
     * cluster through {@code seeds} ("HOST:PORT" each; its own address to start a new cluster; empty:
     * it forms a cluster of its own).
     */
    public static ActorSystem<Void> startMember(String host, int port, List<String> seeds) {
        List<String> seedNodes = new ArrayList<>();
        for (String s : seeds) seedNodes.add("pekko://" + SYSTEM + "@" + checkHostPort(s));
        Config config = ConfigFactory.parseMap(java.util.Map.of(
                        "pekko.remote.artery.canonical.hostname", host,
                        "pekko.remote.artery.canonical.port", port))
                .withFallback(ConfigFactory.parseResources("symbiont-cluster.conf"))
                .withFallback(ConfigFactory.load());
        org.slf4j.LoggerFactory.getILoggerFactory();
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), SYSTEM, config);
        ClusterSharding.get(system).init(Entity.of(SimulatedNode.TYPE, ctx -> SimulatedNode.create())
                .withEntityProps(org.symbiont.vmm.VmDispatchers.registerBesideVms(system, NODE_DISPATCHER))
                .withMessageExtractor(new NodePlacement.ByNodeIndex())
                .withAllocationStrategy(new NodePlacement.RoundRobinByAge(system)));
        system.systemActorOf(MemberControl.create(), MemberControl.NAME, org.apache.pekko.actor.typed.Props.empty());
        Cluster cluster = Cluster.get(system);
        if (seedNodes.isEmpty()) {
            cluster.manager().tell(org.apache.pekko.cluster.typed.Join.create(cluster.selfMember().address()));
        } else {
            List<org.apache.pekko.actor.Address> addresses = new ArrayList<>();
            for (String s : seedNodes) addresses.add(org.apache.pekko.actor.AddressFromURIString.parse(s));
            cluster.manager().tell(new org.apache.pekko.cluster.typed.JoinSeedNodes(addresses));
        }
        return system;
    }

    /** "HOST:PORT" as given, or an error naming what is wrong with it. */
    public static String checkHostPort(String s) {
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) throw new IllegalArgumentException("seed \"" + s + "\": expected HOST:PORT");
        try {
            int p = Integer.parseInt(s.substring(colon + 1));
            if (p < 1 || p > 65535) throw new NumberFormatException();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("seed \"" + s + "\": the port must be a number from 1 to 65535");
        }
        return s;
    }

    /** The interconnect this member's configuration gives ({@code symbiont.cluster.interconnect}). */
    public static Interconnect interconnect(ActorSystem<?> system) {
        return Interconnect.from(system.settings().config().getConfig("symbiont.cluster.interconnect"), "symbiont.cluster.interconnect");
    }

    /** This member's address as HOST:PORT. */
    public static String address(ActorSystem<?> system) {
        var a = system.address();
        return a.getHost().orElse("?") + ":" + a.getPort().orElse(0);
    }

    /**
     * Waits until at least {@code count} members are up (this one included) and their node
     * regions have registered with sharding (only then are nodes placed on them), or fails after
     * {@code timeout}.
     */
    public static void awaitMembers(ActorSystem<?> system, int count, Duration timeout) {
        Cluster cluster = Cluster.get(system);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            int up = 0;
            for (var m : cluster.state().getMembers()) if (m.status() == MemberStatus.up()) up++;
            boolean selfUp = cluster.selfMember().status() == MemberStatus.up();
            if (selfUp && up >= count && registeredRegions(system) >= count) return;
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + up + " of " + count + " cluster members are up after " + timeout.toSeconds()
                        + " s" + (selfUp ? "" : " (this member has not joined: is the seed running and reachable?)"));
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for cluster members", e);
            }
        }
    }

    /** How many members' node regions the sharding coordinator knows (0 while it cannot say). */
    private static int registeredRegions(ActorSystem<?> system) {
        var region = org.apache.pekko.cluster.sharding.ClusterSharding.get(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(system))
                .shardRegion(SimulatedNode.TYPE.name());
        try {
            Object reply = org.apache.pekko.pattern.Patterns.ask(region,
                    org.apache.pekko.cluster.sharding.ShardRegion.getCurrentRegionsInstance(), Duration.ofSeconds(2))
                    .toCompletableFuture().get();
            return ((org.apache.pekko.cluster.sharding.ShardRegion.CurrentRegions) reply).getRegions().size();
        } catch (Exception e) {
            return 0;
        }
    }

    private static void checkFaultMembers(Experiment experiment, List<String> membersByAge, String self) {
        for (int k = 0; k < experiment.faults().size(); k++) {
            ClusterFault f = experiment.faults().get(k);
            String where = "experiment " + experiment.id() + ": faults[" + k + "] (" + f.kind() + ")";
            for (String member : f.members()) {
                int index = ClusterFault.memberIndex(member, membersByAge);
                if (index < 0 || index >= membersByAge.size()) {
                    throw new IllegalArgumentException(where + ": no member " + member + "; the members up are "
                            + String.join(", ", membersByAge.stream().map(a -> membersByAge.indexOf(a) + " = " + a).toList()));
                }
                if (f instanceof ClusterFault.KillMember && membersByAge.get(index).equals(self)) {
                    throw new IllegalArgumentException(where + ": member " + index + " (" + self + ") runs the experiment's"
                            + " coordinator and cannot be killed; name another member");
                }
            }
        }
    }

    /** Leaves the cluster and ends the member's actor system. */
    public static void stop(ActorSystem<?> system) {
        Cluster cluster = Cluster.get(system);
        cluster.manager().tell(org.apache.pekko.cluster.typed.Leave.create(cluster.selfMember().address()));
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            // Its threads are daemons: nothing more to wait for.
        }
    }

    /**
     * Runs {@code experiment} from this member (which must be up) and waits for its result;
     * {@code progress} hears about once a second. Its faults must name members that are up, and
     * not this one (it runs the coordinator), else an IllegalArgumentException says which.
     */
    public static ExperimentResult run(ActorSystem<?> system, Experiment experiment, Consumer<Coordinator.Progress> progress) {
        CompletableFuture<ExperimentResult> done = new CompletableFuture<>();
        Wiring wiring = experiment.wiring();
        List<String> membersByAge = NodePlacement.upMembersByAge(Cluster.get(system)).stream().map(Object::toString).toList();
        checkFaultMembers(experiment, membersByAge, system.address().toString());
        Duration stall = system.settings().config().getDuration("symbiont.cluster.stall-timeout");
        system.systemActorOf(Coordinator.create(experiment.nodes(), wiring, experiment.faults(), membersByAge, stall, progress, done),
                "experiment-" + experiment.id(),
                org.apache.pekko.actor.typed.DispatcherSelector.fromConfig(NODE_DISPATCHER));
        try {
            return done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the experiment ran", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }
}
