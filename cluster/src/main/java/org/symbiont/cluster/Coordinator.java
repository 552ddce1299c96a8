package org.symbiont.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * Runs one experiment: starts its nodes (sharding places them on the members) and keeps their
 * virtual time synchronized, conservatively, as dist-gem5 and SST do. Time advances in windows
 * of at most one interconnect quantum; a window starts once every node granted the previous one
 * has reached its end and every frame sent so far has reached the node it was sent to. Idle time
 * is skipped: the next window starts at the earliest thing any node has to do (a runnable vCPU,
 * a timer, a frame's arrival), and only the nodes with something to do in it are advanced; the
 * others keep their last report. Every decision depends only on what the nodes report, so the
 * same experiment gives the same windows, frames and results however its nodes are placed.
 *
 * <p>Cluster faults ({@link ClusterFault}) are applied when every node has reached their virtual
 * time: no window crosses one, and idle time is skipped up to it. A partition gives each window
 * the side it cuts off, and the nodes lose the frames sent across it in that window; a killed
 * member ends the windows, and its loss ends the experiment with a report naming the fault.
 *
 * <p>The experiment ends when every node has ended; it stops early, with a report, when a node
 * fails (the VMM's error, not the guest's exit status), when every remaining node waits for a
 * frame that cannot come, when a member hosting nodes leaves or becomes unreachable, or when no
 * window completes within the stall timeout.
 */
public final class Coordinator extends AbstractBehavior<Coordinator.Command> {

    public sealed interface Command extends CborSerializable {}

    /** Node {@code node} reached the end of its window at {@code nowNanos}; counts are totals so far. */
    public record Reached(int node, ActorRef<SimulatedNode.Command> ref, long nowNanos, long nextEventNanos, long sent,
                          long received, long lost, String member) implements Command {}

    /** A node that is not running received a frame: its next event and received total. */
    public record Update(int node, long nextEventNanos, long received) implements Command {}

    /** Node {@code node}'s VM ended; how many windows it ran. */
    public record Finished(int node, NodeResult result, long received, long lost, long windows) implements Command {}

    private record MemberGone(String address, String how) implements Command {}

    private record Tick() implements Command {}

    /** Where an experiment is: the virtual time its windows reached, how many, how many nodes ended. */
    public record Progress(long virtualNanos, long windows, int finished, int nodes, long wallNanos) {}

    /** Where a fault's virtual time is reached: its start, or a partition's end (ends first at equal times). */
    private record Boundary(long atNanos, ClusterFault fault, boolean end) {}

    private final List<NodeSpec> specs;
    private final Wiring wiring;
    private final ClusterSharding sharding;
    private final Consumer<Progress> progress;
    private final CompletableFuture<ExperimentResult> done;
    private final Duration stallTimeout;
    private final int n;
    private final long quantum;
    private final ActorRef<SimulatedNode.Command>[] refs;
    private final String[] members;
    private final long[] nextEvent, sent, received, lost;
    private final boolean[] awaiting, finished;
    private final NodeResult[] results;
    private int awaitingCount, finishedCount;
    private long sentTotal, receivedTotal, lostTotal;
    /** The members' addresses, the oldest first: what a fault's member index means. */
    private final List<String> membersByAge;
    private final List<Boundary> boundaries = new ArrayList<>();
    private int nextBoundary;
    private final List<ExperimentResult.AppliedFault> applied = new ArrayList<>();
    /** The side of the partition in force (sorted node indices; empty: none), its entry in applied, and the frames lost before it. */
    private int[] cutOff = new int[0];
    private int partitionEntry = -1;
    private long lostBeforePartition;
    /** A member a fault killed (no window starts after it), and what its loss report says of the fault. */
    private String killedMember, killedBy;
    private long windowStart, horizon, windows, nodeWindows;
    private final long startedAt = System.nanoTime();
    private long lastSteps = -1, lastProgressAt = System.nanoTime(), lastShownAt;
    private boolean over;

    /**
     * {@code faults} name members by index into {@code membersByAge} (addresses) or by address,
     * checked by {@link SymbiontCluster#run}.
     */
    public static Behavior<Command> create(List<NodeSpec> specs, Wiring wiring, List<ClusterFault> faults, List<String> membersByAge,
                                          Duration stallTimeout, Consumer<Progress> progress, CompletableFuture<ExperimentResult> done) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
                new Coordinator(ctx, timers, specs, wiring, faults, membersByAge, stallTimeout, progress, done)));
    }

    @SuppressWarnings("unchecked")
    private Coordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, List<NodeSpec> specs, Wiring wiring,
                        List<ClusterFault> faults, List<String> membersByAge, Duration stallTimeout, Consumer<Progress> progress,
                        CompletableFuture<ExperimentResult> done) {
        super(ctx);
        this.membersByAge = membersByAge;
        for (ClusterFault f : faults) {
            boundaries.add(new Boundary(f.atNanos(), f, false));
            if (f instanceof ClusterFault.Partition p) boundaries.add(new Boundary(p.endNanos(), f, true));
        }
        boundaries.sort(java.util.Comparator.comparingLong(Boundary::atNanos).thenComparing(b -> !b.end()));
        this.specs = specs;
        this.wiring = wiring;
        this.sharding = ClusterSharding.get(ctx.getSystem());
        this.progress = progress;
        this.done = done;
        this.stallTimeout = stallTimeout;
        this.n = specs.size();
        this.quantum = wiring.interconnect().quantumNanos();
        this.refs = new ActorRef[n];
        this.members = new String[n];
        this.nextEvent = new long[n];
        this.sent = new long[n];
        this.received = new long[n];
        this.lost = new long[n];
        this.awaiting = new boolean[n];
        this.finished = new boolean[n];
        this.results = new NodeResult[n];
        ActorRef<ClusterEvent.MemberEvent> memberEvents = ctx.messageAdapter(ClusterEvent.MemberEvent.class, e ->
                new MemberGone(e.member().address().toString(), e instanceof ClusterEvent.MemberRemoved ? "left the cluster" : null));
        ActorRef<ClusterEvent.ReachabilityEvent> reachability = ctx.messageAdapter(ClusterEvent.ReachabilityEvent.class, e ->
                new MemberGone(e.member().address().toString(), e instanceof ClusterEvent.UnreachableMember ? "became unreachable" : null));
        Cluster cluster = Cluster.get(ctx.getSystem());
        cluster.subscriptions().tell(Subscribe.create(memberEvents, ClusterEvent.MemberEvent.class));
        cluster.subscriptions().tell(Subscribe.create(reachability, ClusterEvent.ReachabilityEvent.class));
        timers.startTimerAtFixedRate(new Tick(), Duration.ofMillis(Math.max(100, stallTimeout.toMillis() / 4)));
        for (NodeSpec s : specs) {
            awaiting[s.index()] = true;
            sharding.entityRefFor(SimulatedNode.TYPE, wiring.entityId(s.index()))
                    .tell(new SimulatedNode.Start(s, wiring, ctx.getSelf()));
        }
        awaitingCount = n;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Reached.class, m -> {
                    int k = m.node();
                    refs[k] = m.ref();
                    members[k] = m.member();
                    nextEvent[k] = m.nextEventNanos();
                    count(k, m.sent(), m.received(), m.lost());
                    if (awaiting[k]) {
                        awaiting[k] = false;
                        awaitingCount--;
                    }
                    return advanceIfReady();
                })
                .onMessage(Update.class, m -> {
                    if (!finished[m.node()]) nextEvent[m.node()] = m.nextEventNanos();
                    count(m.node(), sent[m.node()], m.received(), lost[m.node()]);
                    return advanceIfReady();
                })
                .onMessage(Finished.class, m -> {
                    int k = m.node();
                    if (finished[k]) return this;
                    finished[k] = true;
                    finishedCount++;
                    results[k] = m.result();
                    nextEvent[k] = Long.MAX_VALUE;
                    count(k, m.result().framesSent(), m.received(), m.lost());
                    nodeWindows += m.windows();
                    if (awaiting[k]) {
                        awaiting[k] = false;
                        awaitingCount--;
                    }
                    String reason = m.result().reason();
                    if (!m.result().guestExited()) {
                        return fail("node " + m.result().name() + " ended with " + reason + ": " + m.result().message());
                    }
                    return advanceIfReady();
                })
                .onMessage(MemberGone.class, m -> {
                    if (m.how() == null || over) return this;
                    List<String> lostNodes = nodesOn(m.address());
                    boolean killed = m.address().equals(killedMember);
                    if (lostNodes.isEmpty() && awaitingCount == 0 && !killed) return this;
                    return fail("cluster member " + m.address() + (killed ? " (member " + membersByAge.indexOf(killedMember) + ")" : "")
                            + " " + m.how() + (lostNodes.isEmpty() ? "" : " with nodes " + abbreviate(lostNodes) + " on it")
                            + (killed ? ", killed by " + killedBy : "")
                            + "; their VMs are gone and there is no checkpoint to re-create them from, so the experiment stops");
                })
                .onMessage(Tick.class, m -> {
                    if (over) return this;
                    long now = System.nanoTime();
                    long steps = windows + finishedCount;
                    if (steps != lastSteps) {
                        lastSteps = steps;
                        lastProgressAt = now;
                        return this;
                    }
                    if (now - lastProgressAt < stallTimeout.toNanos()) return this;
                    List<String> waiting = new ArrayList<>();
                    for (int k = 0; k < n; k++) if (awaiting[k]) waiting.add(specs.get(k).name());
                    return fail("no window of virtual time completed for " + stallTimeout.toSeconds() + " s (at " + windowStart
                            + " ns); waiting for " + (waiting.isEmpty() ? "frames in flight" : "nodes " + abbreviate(waiting)));
                })
                .build();
    }

    private void count(int k, long nodeSent, long nodeReceived, long nodeLost) {
        sentTotal += nodeSent - sent[k];
        sent[k] = nodeSent;
        receivedTotal += nodeReceived - received[k];
        received[k] = nodeReceived;
        lostTotal += nodeLost - lost[k];
        lost[k] = nodeLost;
    }

    /** The nodes on the member at {@code address} that have not ended. */
    private List<String> nodesOn(String address) {
        List<String> names = new ArrayList<>();
        for (int k = 0; k < n; k++) if (!finished[k] && address.equals(members[k])) names.add(specs.get(k).name());
        return names;
    }

    /**
     * Once every node granted the last window has reported and every frame sent has been
     * received: the next window, from the earliest event of any node, for the nodes with
     * something to do in it.
     */
    private Behavior<Command> advanceIfReady() {
        if (over || killedMember != null || awaitingCount > 0 || sentTotal != receivedTotal) return this;
        if (finishedCount == n) return complete();
        while (nextBoundary < boundaries.size() && boundaries.get(nextBoundary).atNanos() <= horizon) {
            apply(boundaries.get(nextBoundary++));
            if (killedMember != null) return this;
        }
        long earliest = Long.MAX_VALUE;
        for (long t : nextEvent) earliest = Math.min(earliest, t);
        if (earliest == Long.MAX_VALUE) {
            List<String> waiting = new ArrayList<>();
            for (int k = 0; k < n; k++) if (!finished[k]) waiting.add(specs.get(k).name());
            return fail("nodes " + abbreviate(waiting) + " are all halted waiting for frames no node will send (at "
                    + windowStart + " ns of virtual time)");
        }
        long start = Math.max(horizon, earliest);
        long boundary = nextBoundary < boundaries.size() ? boundaries.get(nextBoundary).atNanos() : Long.MAX_VALUE;
        if (boundary <= start) {
            // Nothing runs before the fault's time: virtual time moves on to it.
            horizon = boundary;
            return advanceIfReady();
        }
        windowStart = start;
        horizon = Math.min(windowStart + quantum, boundary);
        windows++;
        for (int k = 0; k < n; k++) {
            if (!finished[k] && nextEvent[k] < horizon) {
                awaiting[k] = true;
                awaitingCount++;
                refs[k].tell(new SimulatedNode.Advance(windowStart, horizon, cutOff));
            }
        }
        long now = System.nanoTime();
        if (now - lastShownAt > 1_000_000_000L) {
            lastShownAt = now;
            progress.accept(new Progress(windowStart, windows, finishedCount, n, now - startedAt));
        }
        return this;
    }

    /** A fault's start or end, now that every node has reached its time. */
    private void apply(Boundary b) {
        switch (b.fault()) {
            case ClusterFault.KillMember kill -> {
                int index = ClusterFault.memberIndex(kill.member(), membersByAge);
                killedMember = membersByAge.get(index);
                List<String> on = nodesOn(killedMember);
                killedBy = "the injected fault kill-member at " + b.atNanos() + " ns of virtual time";
                applied.add(new ExperimentResult.AppliedFault(b.atNanos(), kill.kind(), "member " + index
                        + (on.isEmpty() ? " (no nodes of this experiment)" : " with nodes " + abbreviate(on))));
                MemberControl.of(getContext().getSystem(), killedMember).tell(new MemberControl.Terminate(killedBy));
            }
            case ClusterFault.Partition partition when !b.end() -> {
                List<Integer> indices = partition.members().stream().map(m -> ClusterFault.memberIndex(m, membersByAge)).sorted().toList();
                List<String> side = new ArrayList<>();
                List<Integer> nodes = new ArrayList<>();
                List<String> addresses = indices.stream().map(membersByAge::get).toList();
                for (int k = 0; k < n; k++) {
                    if (addresses.contains(members[k])) {
                        nodes.add(k);
                        side.add(specs.get(k).name());
                    }
                }
                cutOff = nodes.stream().mapToInt(Integer::intValue).toArray();
                lostBeforePartition = lostTotal;
                partitionEntry = applied.size();
                applied.add(new ExperimentResult.AppliedFault(b.atNanos(), partition.kind(), partitionDetail(partition, indices, side)));
            }
            case ClusterFault.Partition _ -> endPartition("");
        }
    }

    private static String partitionDetail(ClusterFault.Partition p, List<Integer> indices, List<String> side) {
        return "members " + indices.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(", "))
                + (side.isEmpty() ? " (no nodes of this experiment)" : " with nodes " + abbreviate(side))
                + " cut off from the others for " + p.durationNanos() + " ns";
    }

    /** The partition in force ends: its entry gets the frames lost to it. */
    private void endPartition(String note) {
        if (partitionEntry < 0) return;
        ExperimentResult.AppliedFault f = applied.get(partitionEntry);
        applied.set(partitionEntry, new ExperimentResult.AppliedFault(f.nanos(), f.kind(), f.detail() + ": "
                + (lostTotal - lostBeforePartition) + " frames lost" + note));
        partitionEntry = -1;
        cutOff = new int[0];
    }

    private Behavior<Command> complete() {
        progress.accept(new Progress(windowStart, windows, finishedCount, n, System.nanoTime() - startedAt));
        return end(null, "the experiment is over");
    }

    private Behavior<Command> fail(String why) {
        return end(why, "the experiment stopped: " + why);
    }

    /** The result to the one who asked ({@code failure} null: every node ended), and the nodes stopped. */
    private Behavior<Command> end(String failure, String toNodes) {
        over = true;
        endPartition(" (the experiment ended before the partition did)");
        done.complete(new ExperimentResult(Arrays.asList(results), failure, windows, nodeWindows, horizon,
                System.nanoTime() - startedAt, distinctMembers(), List.copyOf(applied)));
        stopNodes(toNodes);
        return Behaviors.stopped();
    }

    private void stopNodes(String why) {
        for (int k = 0; k < n; k++) {
            if (refs[k] != null) refs[k].tell(new SimulatedNode.Stop(why));
            else sharding.entityRefFor(SimulatedNode.TYPE, wiring.entityId(k)).tell(new SimulatedNode.Stop(why));
        }
    }

    private int distinctMembers() {
        return (int) Arrays.stream(members).filter(java.util.Objects::nonNull).distinct().count();
    }

    private static String abbreviate(List<String> names) {
        if (names.size() <= 8) return String.join(", ", names);
        return String.join(", ", names.subList(0, 8)) + " and " + (names.size() - 8) + " more";
    }
}
