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
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.dispatch.DispatcherConfigurator;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.Dispatchers;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;

/**
 * One single-threaded dispatcher per VM (and, in parallel mode, per vCPU), registered with the
 * actor system when the VM is created. All actors of a VM run on its thread, so an exit's round
 * trip is a few in-thread message hops, message processing is FIFO and reproducible, and the
 * VM can tell when nothing is left to process ({@link #whenIdle}): the scheduler starts a new
 * round of vCPU slices only once every effect of the previous one (interrupts raised by timers,
 * IPIs) has reached its target.
 */
public final class VmDispatchers {
    private VmDispatchers() {}

    private static final Map<String, ThreadPoolExecutor> EXECUTORS = new ConcurrentHashMap<>();

    /** Registers a dispatcher with its own thread under {@code id} and returns the selector to spawn actors on it. */
    public static DispatcherSelector register(ActorSystem<?> system, String id) {
        Dispatchers dispatchers = Adapter.toClassic(system).dispatchers();
        Config cfg = ConfigFactory.parseMap(Map.of(
                        "id", id,
                        "type", "Dispatcher",
                        "executor", Executor.class.getName(),
                        "throughput", 64))
                .withFallback(Adapter.toClassic(system).settings().config().getConfig("pekko.actor.default-dispatcher"));
        if (!dispatchers.registerConfigurator(id, new DispatcherConfigurator(cfg, dispatchers.prerequisites()))) {
            throw new IllegalStateException("dispatcher " + id + " is already registered");
        }
        return DispatcherSelector.fromConfig(id);
    }

    /**
     * Runs {@code action} on the dispatcher's thread once no message for any of its actors is
     * waiting. The dispatcher must have started (an actor on it has run).
     */
    public static void whenIdle(String id, Runnable action) {
        ThreadPoolExecutor e = EXECUTORS.get(id);
        if (e == null) throw new IllegalStateException("no running dispatcher " + id);
        e.execute(new Runnable() {
            @Override
            public void run() {
                if (e.getQueue().isEmpty()) action.run();
                else e.execute(this);
            }
        });
    }

    /**
     * The executor behind a VM dispatcher: one named platform thread, a FIFO queue. Pekko shuts it
     * down when the last actor on the dispatcher has stopped (and would create a new one if
     * actors were spawned on it again).
     */
    public static final class Executor extends ExecutorServiceConfigurator {
        public Executor(Config config, DispatcherPrerequisites prerequisites) {
            super(config, prerequisites);
        }

        @Override
        public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
            return () -> {
                ThreadPoolExecutor e = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                        r -> {
                            Thread t = new Thread(r, id);
                            t.setDaemon(true);
                            return t;
                        }) {
                    @Override
                    protected void terminated() {
                        EXECUTORS.remove(id, this);
                    }
                };
                EXECUTORS.put(id, e);
                return (ExecutorService) e;
            };
        }
    }
}
