package org.symbiont.cli;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.ClusterScenario;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.NodeResult;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.ResultLine;

/**
 * {@code symbiont faults SCENARIO} for a cluster scenario ({@link ClusterScenario}): the
 * experiment without its faults and with them, each on a fresh cluster of the scenario's members
 * in this process (so member indices and node placement are the same every run), reported as the
 * VM scenarios are: the faults applied, how each run ended, whether rank 0's result line
 * survived, and the lines of rank 0's console that differ; each replay must give the same faults,
 * virtual times, frame counts and consoles.
 */
final class ClusterFaults {
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(60);

    private final Path file;
    private final ClusterScenario scenario;
    private final Duration timeout;
    private final byte[] lwk = GuestImages.lwk();

    ClusterFaults(Path file, Config config, double timeoutSeconds) {
        this.file = file;
        try {
            this.scenario = ClusterScenario.from(config, file.toString());
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
        this.timeout = Duration.ofNanos((long) (timeoutSeconds * 1e9));
    }

    /** The exit status: 0 when rank 0's result survived and every replay was identical, else 1. */
    int run(int replays) {
        ExperimentResult reference = run(false);
        ExperimentResult faulted = run(true);
        report(reference, faulted);
        String expected = rank0Result(reference);
        boolean survived = expected != null && expected.equals(rank0Result(faulted));
        for (int k = 1; k <= replays; k++) {
            String difference = difference(faulted, run(true));
            if (difference != null) {
                System.out.println("replay " + k + " of " + replays + ": differs (" + difference + ")");
                return 1;
            }
        }
        if (replays > 0) System.out.println("replay: " + replays + " run(s) identical (faults, virtual times, frames, consoles)");
        return survived ? 0 : 1;
    }

    /** One run on a fresh cluster, its members started one after another (member i is the i-th oldest). */
    private ExperimentResult run(boolean withFaults) {
        List<ActorSystem<Void>> members = new ArrayList<>();
        try {
            ActorSystem<Void> first = SymbiontCluster.startMember("127.0.0.1", 0, List.of());
            members.add(first);
            SymbiontCluster.awaitMembers(first, 1, JOIN_TIMEOUT);
            for (int m = 1; m < scenario.members(); m++) {
                members.add(SymbiontCluster.startMember("127.0.0.1", 0, List.of(SymbiontCluster.address(first))));
                SymbiontCluster.awaitMembers(first, m + 1, JOIN_TIMEOUT);
            }
            CompletableFuture<ExperimentResult> result = CompletableFuture.supplyAsync(() ->
                    SymbiontCluster.run(first, scenario.experiment("scenario", lwk, withFaults), p -> { }));
            return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new ExperimentFailed(file + ": the " + (withFaults ? "faulted" : "fault-free") + " run did not end within "
                    + timeout.toSeconds() + " s of wall time");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExperimentFailed("interrupted");
        } catch (ExecutionException e) {
            throw new UserError(file + ": " + e.getCause().getMessage());
        } finally {
            for (ActorSystem<Void> m : members.reversed()) if (!m.whenTerminated().isCompleted()) SymbiontCluster.stop(m);
        }
    }

    private void report(ExperimentResult reference, ExperimentResult run) {
        System.out.println("scenario " + file + " (" + scenario.nodes() + " nodes on " + scenario.members() + " members, seed "
                + scenario.seed() + ")");
        System.out.println("faults applied: " + run.faults().size());
        for (ExperimentResult.AppliedFault f : run.faults()) {
            System.out.printf(Locale.ROOT, "  %,15d ns  %-12s %s%n", f.nanos(), f.kind(), f.detail());
        }
        System.out.println("without faults: " + ending(reference));
        System.out.println("with faults:    " + ending(run));
        FaultsCommand.printResult(rank0Result(reference), rank0Result(run), "the fault-free run's rank 0 printed no RESULT line to compare with");
        if (run.nodes().getFirst() == null) {
            System.out.println("rank 0's console: none to compare (the experiment stopped before rank 0 ended)");
            return;
        }
        List<String> diff = FaultsCommand.ConsoleDiff.of(rank0Console(reference).lines().toList(), rank0Console(run).lines().toList());
        System.out.println("rank 0's console lines that differ: " + diff.size());
        for (String line : diff) System.out.println("  " + line);
    }

    private static String ending(ExperimentResult r) {
        String how = r.succeeded() ? "every node ended" : "stopped: " + r.failure();
        NodeResult rank0 = r.nodes().getFirst();
        String rank0End = rank0 == null ? "" : String.format(Locale.ROOT, "; rank 0 at %,d ns", rank0.virtualNanos());
        return how + String.format(Locale.ROOT, " (%,d ns of virtual time%s)", r.virtualNanos(), rank0End);
    }

    private static String rank0Console(ExperimentResult r) {
        return r.nodes().getFirst() == null ? "" : r.nodes().getFirst().console();
    }

    private static String rank0Result(ExperimentResult r) {
        return ResultLine.find(rank0Console(r)).map(ResultLine::exact).orElse(null);
    }

    /** What differs between two runs of the faulted experiment, or null when they are identical (member ports aside). */
    private static String difference(ExperimentResult first, ExperimentResult again) {
        if (!first.faults().equals(again.faults())) return "the faults applied: " + first.faults() + ", then " + again.faults();
        if (first.virtualNanos() != again.virtualNanos()) {
            return "virtual time " + first.virtualNanos() + " ns, then " + again.virtualNanos() + " ns";
        }
        if (first.windows() != again.windows()) return "windows " + first.windows() + ", then " + again.windows();
        if (first.succeeded() != again.succeeded()) return "how the experiment ended";
        for (int k = 0; k < first.nodes().size(); k++) {
            NodeResult a = first.nodes().get(k), b = again.nodes().get(k);
            if ((a == null) != (b == null)) return "whether node " + k + " ended";
            if (a == null) continue;
            if (a.virtualNanos() != b.virtualNanos() || !Objects.equals(a.guestStatus(), b.guestStatus())) return "node " + k + "'s ending";
            if (a.framesSent() != b.framesSent() || a.framesReceived() != b.framesReceived()) return "node " + k + "'s frames";
            if (!a.console().equals(b.console())) return "node " + k + "'s console output";
        }
        return null;
    }
}
