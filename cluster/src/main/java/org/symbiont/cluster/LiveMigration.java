package org.symbiont.cluster;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.symbiont.vmm.NetworkLinks;
import org.symbiont.vmm.VmDispatchers;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSnapshot;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.VmSupervisor;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * Live migration of a running VM from one cluster member to another, as QEMU does it: the
 * receiving member builds the same machine and waits ({@link #accept}); the sending member runs
 * the VM and, from a virtual time on, copies its memory while it keeps running — a first pass
 * sends every page in use, each later pass the pages the guest changed meanwhile — until a pass
 * finds few enough, or enough passes were made; then it pauses the VM (stop-and-copy), sends the
 * last changed pages and the rest of its state (vCPUs, devices, timers), and the receiving member
 * runs it on. The guest sees nothing: its virtual time stands still while it is paused, so its
 * output is byte for byte that of a VM never moved. Downtime (wall-clock time from the pause to
 * the VM running on the receiver) and pages sent are reported.
 *
 * <p>Pages travel in batches of at most {@link Settings#pagesPerBatch}, at most
 * {@link Settings#batchesInFlight} unacknowledged, so a member's outbound queue never overflows.
 */
public final class LiveMigration {
    private LiveMigration() {}

    /**
     * How memory is copied: pages per message; messages sent ahead of their acknowledgement; a
     * pass that finds at most {@code stopCopyPages} changed pages ends the copying while the VM
     * runs, as does the {@code maxPasses}th pass. No passes ({@link #COLD}): cold migration, the VM
     * paused from the start while all of its memory is copied.
     */
    public record Settings(int pagesPerBatch, int batchesInFlight, long stopCopyPages, int maxPasses) {
        public static final Settings LIVE = new Settings(256, 4, 1024, 8);
        public static final Settings COLD = new Settings(256, 4, 0, 0);

        public Settings {
            if (pagesPerBatch < 1 || pagesPerBatch > 512) throw new IllegalArgumentException("pages per batch: 1 to 512, got " + pagesPerBatch);
            if (batchesInFlight < 1) throw new IllegalArgumentException("batches in flight: at least 1, got " + batchesInFlight);
            if (maxPasses < 0) throw new IllegalArgumentException("passes: 0 (cold) or more, got " + maxPasses);
        }
    }

    /**
     * What a migration did: virtual times it began and paused at, pages each pass sent while the
     * VM ran, pages sent while it was paused, bytes in all, and wall-clock total time and downtime.
     */
    public record Report(String vm, String target, long startedAtNanos, long pausedAtNanos, List<Long> pagesPerPass,
                         long stopAndCopyPages, long bytesSent, long totalNanos, long downtimeNanos) {
        public long pagesSent() {
            return pagesPerPass.stream().mapToLong(Long::longValue).sum() + stopAndCopyPages;
        }

        public String summary() {
            return String.format(java.util.Locale.ROOT,
                    "migrated %s to %s at %.3f ms of virtual time: %d pages (%.1f MiB) in %d pass(es) %s while it ran, %d paused; "
                            + "total %.0f ms, downtime %.1f ms",
                    vm, target, pausedAtNanos / 1e6, pagesSent(), bytesSent / 1048576.0, pagesPerPass.size(), pagesPerPass,
                    stopAndCopyPages, totalNanos / 1e6, downtimeNanos / 1e6);
        }
    }

    /**
     * How a migration went: its report, or (null and) why it failed; and the report of the VM on
     * the sending member — stopped once it moved, or, when the migration failed, however it ended
     * after running on there (as QEMU's source resumes: a failed migration loses nothing).
     */
    public record Outcome(Report migration, String failure, VmReport source) {}

    /** Under this key a member accepting VM {@code vm} is found. */
    static ServiceKey<TargetCommand> targetKey(String vm) {
        return ServiceKey.create(TargetCommand.class, "symbiont-migration-" + vm);
    }

    // ---- messages between the members ----

    /** To the receiving member. */
    public sealed interface TargetCommand extends CborSerializable {}

    /** Pages of guest memory: host page numbers, and 4 KiB of contents each. */
    public record Pages(long[] pages, byte[] contents, ActorRef<SourceCommand> replyTo) implements TargetCommand {}

    /** The paused VM's state with memory as a delta over the pages sent ({@link VmSnapshot}'s bytes). */
    public record Complete(byte[] state, ActorRef<SourceCommand> replyTo) implements TargetCommand {}

    /** To the sending member. */
    public sealed interface SourceCommand extends CborSerializable {}

    public record PagesAcknowledged(int stored) implements SourceCommand {}

    /** The VM runs on the receiving member ({@code error} null), or why it could not. */
    public record Running(String member, String error) implements SourceCommand {}

    // =====================================================================================
    // Receiving member
    // =====================================================================================

    /**
     * Waits on this member for a VM built from {@code spec} to arrive, then runs it; the future
     * completes with its report when it ends there.
     */
    public static CompletableFuture<VmReport> accept(ActorSystem<?> member, VmSpec spec) {
        CompletableFuture<VmReport> report = new CompletableFuture<>();
        String vm = spec.config().name();
        member.systemActorOf(Behaviors.<TargetCommand>setup(ctx -> target(ctx, spec, report)), "migration-target-" + vm, Props.empty());
        return report;
    }

    private sealed interface TargetInternal extends TargetCommand {}

    private record Stored(VmSupervisor.PagesStored stored) implements TargetInternal {}

    private record Restored(VmSupervisor.IncomingStarted started) implements TargetInternal {}

    private record TargetVmEnded(VmReport report) implements TargetInternal {}

    private static Behavior<TargetCommand> target(ActorContext<TargetCommand> ctx, VmSpec spec, CompletableFuture<VmReport> report) {
        String vm = spec.config().name();
        String dispatcherId = "symbiont.incoming." + vm;
        ActorRef<VmSupervisor.Command> supervisor = ctx.spawn(VmSupervisor.createIncoming(spec, dispatcherId,
                ctx.messageAdapter(VmReport.class, TargetVmEnded::new)), "vm", VmDispatchers.register(ctx.getSystem(), dispatcherId));
        supervisor.tell(new VmSupervisor.Start());
        ctx.getSystem().receptionist().tell(Receptionist.register(targetKey(vm), ctx.getSelf()));
        ActorRef<VmSupervisor.PagesStored> stored = ctx.messageAdapter(VmSupervisor.PagesStored.class, Stored::new);
        ActorRef<VmSupervisor.IncomingStarted> restored = ctx.messageAdapter(VmSupervisor.IncomingStarted.class, Restored::new);
        String self = SymbiontCluster.address(ctx.getSystem());
        // The VM answers in the order it was asked: whom to acknowledge next.
        ArrayDeque<ActorRef<SourceCommand>> waitingForStore = new ArrayDeque<>();
        ActorRef<SourceCommand>[] completer = new ActorRef[1];
        return Behaviors.receive(TargetCommand.class)
                .onMessage(Pages.class, m -> {
                    waitingForStore.add(m.replyTo());
                    supervisor.tell(new VmSupervisor.IncomingPages(m.pages(), m.contents(), stored));
                    return Behaviors.same();
                })
                .onMessage(Stored.class, m -> {
                    ActorRef<SourceCommand> source = waitingForStore.poll();
                    if (source != null) source.tell(new PagesAcknowledged(m.stored().count()));
                    return Behaviors.same();
                })
                .onMessage(Complete.class, m -> {
                    VmSnapshot state;
                    try {
                        state = VmSnapshot.fromBytes(m.state());
                    } catch (SnapshotException e) {
                        m.replyTo().tell(new Running(self, vm + ": the migrated state is malformed: " + e.getMessage()));
                        supervisor.tell(new VmSupervisor.Stop("the migrated state was malformed"));
                        return Behaviors.same();
                    }
                    completer[0] = m.replyTo();
                    supervisor.tell(new VmSupervisor.CompleteIncoming(state, restored));
                    return Behaviors.same();
                })
                .onMessage(Restored.class, m -> {
                    if (completer[0] != null) completer[0].tell(new Running(self, m.started().error()));
                    return Behaviors.same();
                })
                .onMessage(TargetVmEnded.class, m -> {
                    report.complete(m.report());
                    ctx.getSystem().receptionist().tell(Receptionist.deregister(targetKey(vm), ctx.getSelf()));
                    return Behaviors.stopped();
                })
                .build();
    }

    // =====================================================================================
    // Sending member
    // =====================================================================================

    /**
     * Runs {@code spec} on this member from power-on and, at the first scheduling-round boundary
     * at or after {@code atNanos} of virtual time, migrates it live to the member that
     * {@link #accept accepts} it. Returns once the VM runs on the receiving member (and was
     * stopped here), or, when it could not move (it ended first, the receiver refused its state
     * or went away), once it ended here; {@link IllegalStateException} when that took longer than
     * {@code timeout}.
     */
    public static Outcome migrate(ActorSystem<?> member, VmSpec spec, long atNanos, Settings settings, Duration timeout) {
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        member.systemActorOf(Behaviors.<SourceCommand>setup(ctx -> new Source(ctx, spec, atNanos, settings, outcome).start()),
                "migration-source-" + spec.config().name(), Props.empty());
        try {
            return outcome.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException(spec.config().name() + ": the migration did not complete within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while migrating " + spec.config().name(), e);
        }
    }

    private sealed interface SourceInternal extends SourceCommand {}

    private record ReachedStart(VmSupervisor.Paused paused) implements SourceInternal {}

    private record TargetsListed(Receptionist.Listing listing) implements SourceInternal {}

    private record Copied(VmSupervisor.DirtyPages pages) implements SourceInternal {}

    private record Saved(VmSupervisor.SnapshotTaken taken) implements SourceInternal {}

    private record PausedForCopy(VmSupervisor.Paused paused) implements SourceInternal {}

    private record SourceVmEnded(VmReport report) implements SourceInternal {}

    private record TargetGone() implements SourceInternal {}

    /** The sending side: runs the VM, then copies it over and stops it. */
    private static final class Source {
        private final ActorContext<SourceCommand> ctx;
        private final VmSpec spec;
        private final long atNanos;
        private final Settings settings;
        private final CompletableFuture<Outcome> outcome;
        /** The migration's report once the VM runs on the receiver, or why it could not move. */
        private Report moved;
        private String failure;
        private final ActorRef<VmSupervisor.Command> vm;
        private final ActorRef<VmSupervisor.DirtyPages> copied;
        private ActorRef<TargetCommand> target;
        private long startedAtNanos = -1, pausedAtNanos = -1;
        private long startedWall, pausedWall;
        private final List<Long> pagesPerPass = new ArrayList<>();
        private long passPages, stopAndCopyPages, bytes;
        private int inFlight;
        private boolean requesting, stopping, paused, saving;

        Source(ActorContext<SourceCommand> ctx, VmSpec spec, long atNanos, Settings settings, CompletableFuture<Outcome> outcome) {
            this.ctx = ctx;
            this.spec = spec;
            this.atNanos = atNanos;
            this.settings = settings;
            this.outcome = outcome;
            String dispatcherId = "symbiont.migrating." + spec.config().name();
            this.vm = ctx.spawn(VmSupervisor.create(spec, dispatcherId, new NetworkLinks(), null, null,
                    ctx.messageAdapter(VmReport.class, SourceVmEnded::new)), "vm", VmDispatchers.register(ctx.getSystem(), dispatcherId));
            this.copied = ctx.messageAdapter(VmSupervisor.DirtyPages.class, Copied::new);
        }

        Behavior<SourceCommand> start() {
            vm.tell(new VmSupervisor.Start());
            vm.tell(new VmSupervisor.PauseAt(atNanos, ctx.messageAdapter(VmSupervisor.Paused.class, ReachedStart::new)));
            return Behaviors.receive(SourceCommand.class)
                    .onMessage(ReachedStart.class, m -> {
                        startedAtNanos = m.paused().virtualNanos();
                        startedWall = System.nanoTime();
                        ctx.getSystem().receptionist().tell(Receptionist.subscribe(targetKey(spec.config().name()),
                                ctx.messageAdapter(Receptionist.Listing.class, TargetsListed::new)));
                        return Behaviors.same();
                    })
                    .onMessage(TargetsListed.class, m -> {
                        var targets = m.listing().getServiceInstances(targetKey(spec.config().name()));
                        if (target == null && !targets.isEmpty()) {
                            target = targets.iterator().next();
                            ctx.watchWith(target, new TargetGone());
                            if (settings.maxPasses() == 0) {
                                // Cold: the VM stays paused and all of its memory is copied in one pass.
                                stopping = paused = true;
                                pausedAtNanos = startedAtNanos;
                                pausedWall = startedWall;
                            } else {
                                vm.tell(new VmSupervisor.Resume()); // pausing at a round boundary changed nothing for the guest
                            }
                            requestPages();
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Copied.class, this::copied)
                    .onMessage(PagesAcknowledged.class, m -> {
                        inFlight--;
                        requestPages();
                        return Behaviors.same();
                    })
                    .onMessage(PausedForCopy.class, m -> {
                        paused = true;
                        pausedAtNanos = m.paused().virtualNanos();
                        pausedWall = System.nanoTime();
                        requestPages();
                        return Behaviors.same();
                    })
                    .onMessage(Saved.class, this::saved)
                    .onMessage(Running.class, m -> {
                        long now = System.nanoTime();
                        if (m.error() != null) return failed("the receiving member could not run it: " + m.error());
                        moved = new Report(spec.config().name(), m.member(), startedAtNanos, pausedAtNanos,
                                List.copyOf(pagesPerPass), stopAndCopyPages, bytes, now - startedWall, now - pausedWall);
                        vm.tell(new VmSupervisor.Stop("migrated to " + m.member()));
                        return Behaviors.same();
                    })
                    .onMessage(TargetGone.class, m -> moved != null ? Behaviors.same() : failed("the receiving member went away"))
                    .onMessage(SourceVmEnded.class, m -> {
                        String why = moved != null ? null : failure != null ? failure
                                : "it ended (" + m.report().reason() + ") before it had moved: " + m.report().message();
                        outcome.complete(new Outcome(moved, why, m.report()));
                        return Behaviors.stopped();
                    })
                    .build();
        }

        /** One batch at a time from the VM, while fewer than the window are unacknowledged. */
        private void requestPages() {
            if (requesting || saving || failure != null || (stopping && !paused) || inFlight >= settings.batchesInFlight() || target == null) return;
            requesting = true;
            vm.tell(new VmSupervisor.CopyDirtyPages(settings.pagesPerBatch(), copied));
        }

        private Behavior<SourceCommand> copied(Copied m) {
            requesting = false;
            if (failure != null) return Behaviors.same();
            VmSupervisor.DirtyPages p = m.pages();
            if (p.pages().length > 0) {
                target.tell(new Pages(p.pages(), p.contents(), ctx.getSelf()));
                inFlight++;
                bytes += p.contents().length;
                if (stopping) stopAndCopyPages += p.pages().length;
                else passPages += p.pages().length;
            }
            if (p.passComplete()) {
                if (stopping) {
                    // Every page has been compared with the VM paused: the rest of the state goes.
                    saving = true;
                    vm.tell(new VmSupervisor.TakeSnapshot(ctx.messageAdapter(VmSupervisor.SnapshotTaken.class, Saved::new), true));
                    return Behaviors.same();
                }
                pagesPerPass.add(passPages);
                boolean converged = p.pass() > 0 && passPages <= settings.stopCopyPages();
                passPages = 0;
                if (converged || pagesPerPass.size() >= settings.maxPasses()) {
                    // Paused at the end of the round in progress; the next pass, a whole one, is made paused.
                    stopping = true;
                    vm.tell(new VmSupervisor.PauseAt(0, ctx.messageAdapter(VmSupervisor.Paused.class, PausedForCopy::new)));
                    return Behaviors.same();
                }
            }
            requestPages();
            return Behaviors.same();
        }

        /** The VM cannot move: it runs on here (resumed if it was paused for the copy), and the outcome says why. */
        private Behavior<SourceCommand> failed(String why) {
            if (failure == null) {
                failure = why;
                vm.tell(new VmSupervisor.Resume());
            }
            return Behaviors.same();
        }

        private Behavior<SourceCommand> saved(Saved m) {
            if (m.taken().snapshot() == null) return failed(m.taken().refused());
            target.tell(new Complete(m.taken().snapshot().toBytes(), ctx.getSelf()));
            return Behaviors.same();
        }
    }
}
