package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class StrandTest {
    private final ThreadPoolExecutor pool = new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
        Thread t = new Thread(r, "strand-test-pool");
        t.setDaemon(true);
        return t;
    });

    @AfterEach
    void stopPool() {
        pool.shutdownNow();
    }

    /** A strand's tasks: checks they never overlap and keeps plain (non-volatile) state across threads. */
    private static final class Recorder {
        final AtomicBoolean running = new AtomicBoolean();
        final List<Integer> order = new ArrayList<>(); // touched by the strand's tasks only
        final AtomicInteger overlaps = new AtomicInteger();

        Runnable task(int n, CountDownLatch done) {
            return () -> {
                if (!running.compareAndSet(false, true)) overlaps.incrementAndGet();
                order.add(n);
                Thread.onSpinWait();
                running.set(false);
                done.countDown();
            };
        }
    }

    @Test
    void manyStrandsOnTwoThreadsRunTheirTasksInOrderOneAtATime() throws Exception {
        int strands = 300, tasksEach = 400;
        List<Strand> list = new ArrayList<>();
        List<Recorder> recorders = new ArrayList<>();
        for (int k = 0; k < strands; k++) {
            list.add(new Strand(pool, s -> {}));
            recorders.add(new Recorder());
        }
        CountDownLatch done = new CountDownLatch(strands * tasksEach);
        // Two submitters, each feeding its own half of the strands, interleaved across strands.
        List<Thread> submitters = new ArrayList<>();
        for (int half = 0; half < 2; half++) {
            int first = half;
            submitters.add(Thread.ofPlatform().start(() -> {
                for (int n = 0; n < tasksEach; n++) {
                    for (int k = first; k < strands; k += 2) list.get(k).execute(recorders.get(k).task(n, done));
                }
            }));
        }
        for (Thread t : submitters) t.join();
        assertTrue(done.await(30, TimeUnit.SECONDS), "every task ran");
        List<List<Integer>> seen = new ArrayList<>();
        CountDownLatch read = new CountDownLatch(strands);
        // Read each strand's plain state on the strand itself.
        for (int k = 0; k < strands; k++) {
            Recorder r = recorders.get(k);
            list.get(k).execute(() -> {
                synchronized (seen) {
                    seen.add(List.copyOf(r.order));
                }
                read.countDown();
            });
        }
        assertTrue(read.await(10, TimeUnit.SECONDS));
        List<Integer> expected = new ArrayList<>();
        for (int n = 0; n < tasksEach; n++) expected.add(n);
        for (List<Integer> order : seen) assertEquals(expected, order);
        for (Recorder r : recorders) assertEquals(0, r.overlaps.get(), "no two tasks of a strand at once");
        assertEquals(2, pool.getPoolSize(), "all on the pool's two threads");
    }

    @Test
    void aBusyStrandYieldsThePoolToOthers() throws Exception {
        Strand busy1 = new Strand(pool, s -> {});
        Strand busy2 = new Strand(pool, s -> {});
        AtomicBoolean stop = new AtomicBoolean();
        for (Strand busy : List.of(busy1, busy2)) {
            // Each task queues the next: a strand that never runs out of work.
            busy.execute(new Runnable() {
                @Override
                public void run() {
                    if (!stop.get()) busy.execute(this);
                }
            });
        }
        Strand other = new Strand(pool, s -> {});
        CountDownLatch ran = new CountDownLatch(1);
        other.execute(ran::countDown);
        boolean otherRan = ran.await(5, TimeUnit.SECONDS);
        stop.set(true);
        assertTrue(otherRan, "a strand got a turn while two busy ones had both threads");
    }

    @Test
    void whenIdleRunsOnceEverythingQueuedBeforeAndMeanwhileHasRun() throws Exception {
        Strand strand = new Strand(pool, s -> {});
        List<String> log = new ArrayList<>(); // the strand's tasks only
        CountDownLatch gate = new CountDownLatch(1);
        CompletableFuture<List<String>> atIdle = new CompletableFuture<>();
        strand.execute(() -> {
            await(gate);
            log.add("a");
        });
        strand.execute(() -> {
            log.add("b");
            // Queued while the idle check waits: must run before it fires.
            strand.execute(() -> log.add("c"));
        });
        strand.whenIdle(() -> atIdle.complete(List.copyOf(log)));
        strand.execute(() -> log.add("d"));
        gate.countDown();
        assertEquals(List.of("a", "b", "d", "c"), atIdle.get(5, TimeUnit.SECONDS));
    }

    @Test
    void shutdownRunsAcceptedTasksRejectsNewOnesAndLeavesThePoolRunning() throws Exception {
        AtomicInteger terminations = new AtomicInteger();
        Strand strand = new Strand(pool, s -> terminations.incrementAndGet());
        CountDownLatch gate = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        strand.execute(() -> {
            await(gate);
            ran.incrementAndGet();
        });
        strand.execute(ran::incrementAndGet);
        strand.shutdown();
        assertTrue(strand.isShutdown());
        assertThrows(RejectedExecutionException.class, () -> strand.execute(ran::incrementAndGet));
        assertFalse(strand.awaitTermination(50, TimeUnit.MILLISECONDS), "a task is still running");
        assertFalse(strand.isTerminated());
        gate.countDown();
        assertTrue(strand.awaitTermination(5, TimeUnit.SECONDS));
        assertTrue(strand.isTerminated());
        assertEquals(2, ran.get());
        assertEquals(1, terminations.get());
        strand.shutdown();
        assertEquals(1, terminations.get(), "terminated once");
        assertFalse(pool.isShutdown());
        CountDownLatch poolWorks = new CountDownLatch(1);
        new Strand(pool, s -> {}).execute(poolWorks::countDown);
        assertTrue(poolWorks.await(5, TimeUnit.SECONDS));
    }

    @Test
    void anIdleStrandTerminatesAtOnceAndShutdownNowReturnsWhatDidNotStart() throws Exception {
        Strand idle = new Strand(pool, s -> {});
        idle.shutdown();
        assertTrue(idle.isTerminated());
        assertTrue(idle.awaitTermination(0, TimeUnit.SECONDS));

        Strand strand = new Strand(pool, s -> {});
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch gate = new CountDownLatch(1);
        strand.execute(() -> {
            started.countDown();
            await(gate);
        });
        Runnable never = () -> fail("a task returned by shutdownNow ran");
        strand.execute(never);
        assertTrue(started.await(5, TimeUnit.SECONDS));
        assertEquals(List.of(never), strand.shutdownNow());
        assertFalse(strand.isTerminated(), "the running task finishes first");
        gate.countDown();
        assertTrue(strand.awaitTermination(5, TimeUnit.SECONDS));
    }

    @Test
    void submittingWhileShuttingDownEitherRunsOrRejectsEachTask() throws Exception {
        for (int round = 0; round < 200; round++) {
            CountDownLatch terminated = new CountDownLatch(1);
            Strand strand = new Strand(pool, s -> terminated.countDown());
            AtomicInteger accepted = new AtomicInteger();
            AtomicInteger ran = new AtomicInteger();
            Thread submitter = Thread.ofPlatform().start(() -> {
                for (int n = 0; n < 1000; n++) {
                    try {
                        strand.execute(ran::incrementAndGet);
                        accepted.incrementAndGet();
                    } catch (RejectedExecutionException e) {
                        return;
                    }
                }
            });
            strand.shutdown();
            submitter.join();
            assertTrue(terminated.await(5, TimeUnit.SECONDS), "terminated");
            assertEquals(accepted.get(), ran.get(), "every accepted task ran before termination");
        }
    }

    private static void await(CountDownLatch gate) {
        try {
            assertTrue(gate.await(5, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
