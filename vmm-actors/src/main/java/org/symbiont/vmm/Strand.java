package org.symbiont.vmm;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A serial executor over a pool: its tasks run one at a time, in the order submitted, each
 * seeing everything the previous one did, possibly on different threads of the pool. A turn on
 * a pool thread runs the queued tasks until none is left, or, once it has had the thread for
 * {@link #TURN_NANOS} while other work waits for the pool, it yields the thread (the turn goes to
 * the back of the pool's queue): many strands share few threads fairly, while a lone busy strand
 * keeps its thread without a hand-over.
 *
 * <p>Shutting a strand down stops only the strand: tasks already accepted still run, new ones
 * are rejected, and once the last has run the strand is terminated and {@code onTermination}
 * runs. {@link #shutdownNow} returns the tasks not started and interrupts nothing (the pool's
 * threads are not the strand's to interrupt).
 */
final class Strand extends AbstractExecutorService {
    /** Tasks a turn runs between two checks whether to yield the pool thread. */
    static final int BATCH = 32;
    /**
     * How long a turn keeps its pool thread while other work waits. Tasks can be sub-microsecond
     * message hops: yielding every batch would switch VMs every few microseconds and make each
     * turn start with cold caches (measured, 512 VMs: 83 s of CPU with a yield every batch, 39 s so).
     */
    static final long TURN_NANOS = 1_000_000;

    // Bits of state. SCHEDULED: a turn is queued on or running in the pool (at most one is).
    // Consecutive tasks on different threads are ordered by the release of SCHEDULED and the claim
    // that follows, or by the pool's queue when a turn yields: each sees what the previous did.
    private static final int SCHEDULED = 1;
    private static final int SHUTDOWN = 2;
    private static final int TERMINATED = 4;

    private final ThreadPoolExecutor pool;
    private final Consumer<Strand> onTermination;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicInteger state = new AtomicInteger();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private final Runnable turn = this::runTurn;

    Strand(ThreadPoolExecutor pool, Consumer<Strand> onTermination) {
        this.pool = pool;
        this.onTermination = onTermination;
    }

    @Override
    public void execute(Runnable task) {
        Objects.requireNonNull(task);
        if ((state.get() & SHUTDOWN) != 0) throw rejected();
        tasks.add(task);
        // Shut down meanwhile: the task is rejected unless a turn has already taken it (then it runs).
        if ((state.get() & SHUTDOWN) != 0 && tasks.remove(task)) throw rejected();
        if (claim()) pool.execute(turn);
    }

    /**
     * Runs {@code action} as a task of this strand once no other task is queued: the check is a
     * task itself, queued again behind the others as long as there are any.
     */
    void whenIdle(Runnable action) {
        execute(new Runnable() {
            @Override
            public void run() {
                if (tasks.isEmpty()) action.run();
                else execute(this);
            }
        });
    }

    private void runTurn() {
        do {
            if (!runTasks()) {
                pool.execute(turn); // still SCHEDULED: the strand continues behind the work already waiting
                return;
            }
            state.getAndAdd(-SCHEDULED);
            // A task queued between the last poll and the release found the strand scheduled: run it too.
        } while (!tasks.isEmpty() && claim());
        tryTerminate();
    }

    /** Runs queued tasks until none is left (true) or until it should yield the pool thread (false). */
    private boolean runTasks() {
        long start = System.nanoTime();
        int ran = 0;
        for (Runnable task; (task = tasks.poll()) != null; ) {
            try {
                task.run();
            } catch (Throwable t) {
                // As a pool thread would: report it and go on (the strand must not stall).
                Thread current = Thread.currentThread();
                current.getUncaughtExceptionHandler().uncaughtException(current, t);
            }
            if (++ran == BATCH) {
                if (!pool.getQueue().isEmpty() && System.nanoTime() - start >= TURN_NANOS) return false;
                ran = 0;
            }
        }
        return true;
    }

    /** Takes the right to run a turn; allowed after shutdown too, so that accepted tasks run. */
    private boolean claim() {
        for (int s = state.get(); (s & (SCHEDULED | TERMINATED)) == 0; s = state.get()) {
            if (state.compareAndSet(s, s | SCHEDULED)) return true;
        }
        return false;
    }

    /** Terminates the strand if it is shut down, no turn is scheduled and no task is left. */
    private void tryTerminate() {
        while (state.get() == SHUTDOWN) {
            if (!tasks.isEmpty()) {
                if (claim()) pool.execute(turn); // that turn terminates the strand when it ends
                return;
            }
            if (state.compareAndSet(SHUTDOWN, SHUTDOWN | TERMINATED)) {
                // As ThreadPoolExecutor.terminated(): done before anyone sees the strand terminated.
                try {
                    onTermination.accept(this);
                } finally {
                    terminated.countDown();
                }
                return;
            }
        }
    }

    @Override
    public void shutdown() {
        for (int s = state.get(); (s & SHUTDOWN) == 0; s = state.get()) {
            if (state.compareAndSet(s, s | SHUTDOWN)) break;
        }
        tryTerminate();
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown();
        List<Runnable> notStarted = new ArrayList<>();
        for (Runnable task; (task = tasks.poll()) != null; ) notStarted.add(task);
        tryTerminate();
        return notStarted;
    }

    @Override
    public boolean isShutdown() {
        return (state.get() & SHUTDOWN) != 0;
    }

    @Override
    public boolean isTerminated() {
        return terminated.getCount() == 0;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return terminated.await(timeout, unit);
    }

    private static RejectedExecutionException rejected() {
        return new RejectedExecutionException("the strand is shut down");
    }
}
