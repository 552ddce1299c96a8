package org.symbiont.vmm;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.dispatch.DispatcherConfigurator;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.Dispatchers;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;

/**
 * One serial dispatcher per VM, registered with the actor system when the VM is created: a
 * {@link Strand} over a pool shared by all VMs of the JVM, with a thread per processor. The
 * actors of a VM run one message at a time, FIFO and reproducibly, so an exit's round trip is a
 * few message hops on one thread, and the VM can tell when nothing is left to process
 * ({@link #whenIdle}): the scheduler starts a new round of vCPU slices only once every effect of
 * the previous one (interrupts raised by timers, IPIs) has reached its target. Thousands of VMs
 * share the processors' threads, taking turns.
 *
 * <p>In parallel mode each vCPU gets a dispatcher with a thread of its own
 * ({@link #registerOwnThread}), so that vCPUs run on separate cores at once.
 *
 * <p>The pool is JVM-wide, not per actor system: its threads stand for the host's processors,
 * which every actor system in the JVM shares (tests and benchmarks run several, one after
 * another or at once), and an idle thread ends after {@link #IDLE_THREAD_SECONDS}, so the pool
 * needs no tie to any actor system's life. Its threads are daemons.
 */
public final class VmDispatchers {
    private VmDispatchers() {}

    static final long IDLE_THREAD_SECONDS = 10;

    private static final Map<String, Strand> STRANDS = new ConcurrentHashMap<>();

    /** Created on first use. */
    private static final class SharedPool {
        static final ThreadPoolExecutor POOL = sharedPool();
    }

    private static ThreadPoolExecutor sharedPool() {
        int threads = Runtime.getRuntime().availableProcessors();
        AtomicInteger created = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, IDLE_THREAD_SECONDS, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), daemon(() -> "symbiont-vm-pool-" + created.incrementAndGet()));
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /**
     * Registers a dispatcher under {@code id} whose actors take turns on the shared pool, and
     * returns the selector to spawn actors on it.
     */
    public static DispatcherSelector register(ActorSystem<?> system, String id) {
        return register(system, id, OnSharedPool.class);
    }

    /**
     * Registers a dispatcher under {@code id} with a thread of its own (named {@code id}), and
     * returns the selector to spawn actors on it.
     */
    public static DispatcherSelector registerOwnThread(ActorSystem<?> system, String id) {
        return register(system, id, OnOwnThread.class);
    }

    /**
     * Registers a dispatcher under {@code id} for actors that work in lock step with VMs without
     * being part of one (a simulated cluster's nodes and its coordinator): their messages run on
     * the VMs' shared pool, different actors at once, so a message between them and a VM hands
     * work to a thread that is already running instead of waking another.
     */
    public static DispatcherSelector registerBesideVms(ActorSystem<?> system, String id) {
        return register(system, id, BesideVms.class);
    }

    private static DispatcherSelector register(ActorSystem<?> system, String id, Class<? extends ExecutorServiceConfigurator> executor) {
        Dispatchers dispatchers = Adapter.toClassic(system).dispatchers();
        Config cfg = ConfigFactory.parseMap(Map.of(
                        "id", id,
                        "type", "Dispatcher",
                        "executor", executor.getName(),
                        "throughput", 64))
                .withFallback(Adapter.toClassic(system).settings().config().getConfig("pekko.actor.default-dispatcher"));
        if (!dispatchers.registerConfigurator(id, new DispatcherConfigurator(cfg, dispatchers.prerequisites()))) {
            throw new IllegalStateException("dispatcher " + id + " is already registered");
        }
        return DispatcherSelector.fromConfig(id);
    }

    /**
     * Runs {@code action} on the dispatcher (as one of its tasks) once no message for any of its
     * actors is waiting. The dispatcher must have started (an actor on it has run).
     */
    public static void whenIdle(String id, Runnable action) {
        Strand s = STRANDS.get(id);
        if (s == null) throw new IllegalStateException("no running dispatcher " + id);
        s.whenIdle(action);
    }

    /**
     * Pekko shuts a dispatcher's executor down when the last actor on it has stopped (and would
     * create a new one if actors were spawned on it again): the strand ends, the pool stays.
     */
    public static final class OnSharedPool extends ExecutorServiceConfigurator {
        public OnSharedPool(Config config, DispatcherPrerequisites prerequisites) {
            super(config, prerequisites);
        }

        @Override
        public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
            return () -> strand(id, SharedPool.POOL, () -> {});
        }
    }

    /** The shared pool itself, for {@link #registerBesideVms}; shutting the dispatcher down leaves the pool running. */
    public static final class BesideVms extends ExecutorServiceConfigurator {
        public BesideVms(Config config, DispatcherPrerequisites prerequisites) {
            super(config, prerequisites);
        }

        @Override
        public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
            return () -> new java.util.concurrent.AbstractExecutorService() {
                private volatile boolean shutdown;

                @Override public void execute(Runnable task) {
                    if (shutdown) throw new java.util.concurrent.RejectedExecutionException("dispatcher " + id + " is shut down");
                    SharedPool.POOL.execute(task);
                }

                @Override public void shutdown() { shutdown = true; }
                @Override public java.util.List<Runnable> shutdownNow() { shutdown = true; return java.util.List.of(); }
                @Override public boolean isShutdown() { return shutdown; }
                @Override public boolean isTerminated() { return shutdown; }
                @Override public boolean awaitTermination(long timeout, TimeUnit unit) { return shutdown; }
            };
        }
    }

    /** A strand over a one-thread pool of its own, which ends with the strand. */
    public static final class OnOwnThread extends ExecutorServiceConfigurator {
        public OnOwnThread(Config config, DispatcherPrerequisites prerequisites) {
            super(config, prerequisites);
        }

        @Override
        public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
            return () -> {
                ThreadPoolExecutor own = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                        daemon(() -> id));
                return strand(id, own, own::shutdown);
            };
        }
    }

    private static ExecutorService strand(String id, ThreadPoolExecutor pool, Runnable afterTermination) {
        Strand s = new Strand(pool, ended -> {
            STRANDS.remove(id, ended);
            afterTermination.run();
        });
        STRANDS.put(id, s);
        return s;
    }

    private static ThreadFactory daemon(Supplier<String> names) {
        return r -> {
            Thread t = new Thread(r, names.get());
            t.setDaemon(true);
            return t;
        };
    }
}
