package org.symbiont.cli;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.SymbiontCluster;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A cluster member that hosts simulated nodes of the experiments run on the cluster, until it is
 * killed: SIGTERM or SIGINT make it leave the cluster gracefully first.
 */
@Command(name = "cluster-node", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Start a Symbiont cluster member that hosts simulated nodes of cluster experiments (experiment noise, "
                + "experiment scaling with --cluster-seed); it runs until killed. The first member names itself as the seed, "
                + "e.g. --port 2551 --seed 127.0.0.1:2551.")
final class ClusterNodeCommand implements Callable<Integer> {
    /** How long the member may take to join through its seed before the command gives up. */
    static final Duration JOIN_TIMEOUT = Duration.ofSeconds(60);

    @Option(names = "--seed", required = true, paramLabel = "HOST:PORT", description = "A member to join through (this member's own address to start a new cluster).")
    String seed;

    @Option(names = "--host", paramLabel = "HOST", description = "The address to listen on (default: ${DEFAULT-VALUE}).", defaultValue = "127.0.0.1")
    String host;

    @Option(names = "--port", paramLabel = "PORT", description = "The port to listen on, 0 for any free one (default: ${DEFAULT-VALUE}).", defaultValue = "0")
    int port;

    @Override
    public Integer call() {
        checkSeed(seed, "--seed");
        if (port < 0 || port > 65535) throw new UserError("--port must be from 0 (any free port) to 65535, got " + port);
        ActorSystem<Void> member = startMember(host, port, seed);
        CountDownLatch left = new CountDownLatch(1);
        Thread leave = new Thread(() -> {
            SymbiontCluster.stop(member);
            left.countDown();
        }, "symbiont-cluster-node-leave");
        Runtime.getRuntime().addShutdownHook(leave);
        // A kill-member fault ends the member's actor system (MemberControl): the process ends with it.
        member.getWhenTerminated().thenRun(left::countDown);
        try {
            SymbiontCluster.awaitMembers(member, 1, JOIN_TIMEOUT);
        } catch (IllegalStateException e) {
            throw new UserError("cluster member " + SymbiontCluster.address(member) + " could not join through " + seed + ": " + e.getMessage());
        }
        System.out.println("symbiont cluster-node: member " + SymbiontCluster.address(member) + " up (seed " + seed + ")");
        System.out.flush();
        // Until killed (or its actor system ends): the shutdown hook leaves the cluster, then the JVM ends.
        try {
            left.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    /** A seed as HOST:PORT, or a user error naming the option and what is wrong with it. */
    static void checkSeed(String seed, String option) {
        try {
            SymbiontCluster.checkHostPort(seed);
        } catch (IllegalArgumentException e) {
            throw new UserError(option + ": " + e.getMessage());
        }
    }

    /** Starts a member on {@code host}:{@code port} joining through {@code seed}; a bind failure is the user's to fix. */
    static ActorSystem<Void> startMember(String host, int port, String seed) {
        try {
            return SymbiontCluster.startMember(host, port, seed == null ? List.of() : List.of(seed));
        } catch (RuntimeException e) {
            throw new UserError("could not start a cluster member on " + host + ":" + port + ": " + e.getMessage());
        }
    }
}
