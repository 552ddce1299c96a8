package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class VmDispatchersTest {
    private static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    /** Forwards each number down a chain of actors, recording the thread it ran on. */
    private static Behavior<Integer> relay(ActorRef<Integer> next, List<String> threads) {
        return Behaviors.receiveMessage(n -> {
            threads.add(Thread.currentThread().getName());
            if (next != null && n > 0) next.tell(n - 1);
            return Behaviors.same();
        });
    }

    @Test
    void aVmsActorsRunOnTheSharedPoolAndIdlenessIsDetectedAfterAllChainsFinish() throws Exception {
        DispatcherSelector d = VmDispatchers.register(kit.system(), "symbiont.test-vm");
        List<String> threads = new ArrayList<>();
        ActorRef<Integer> c = kit.spawn(relay(null, threads), "c", d);
        ActorRef<Integer> b = kit.spawn(relay(c, threads), "b", d);
        ActorRef<Integer> a = kit.spawn(relay(b, threads), "a", d);
        a.tell(0);
        Thread.sleep(100); // let the dispatcher's thread start
        CompletableFuture<Integer> seen = new CompletableFuture<>();
        kit.spawn(Behaviors.<Integer>setup(ctx -> {
            a.tell(5);
            a.tell(5);
            VmDispatchers.whenIdle("symbiont.test-vm", () -> seen.complete(threads.size()));
            return Behaviors.empty();
        }), "starter", d);
        assertEquals(1 + 3 + 3, seen.get(5, TimeUnit.SECONDS), "both chains reached c before the VM counted as idle");
        assertTrue(threads.stream().allMatch(t -> t.startsWith("symbiont-vm-pool-")), threads::toString);
    }

    @Test
    void aDispatcherWithItsOwnThreadRunsItsActorsThereAndTellsWhenIdle() throws Exception {
        DispatcherSelector d = VmDispatchers.registerOwnThread(kit.system(), "symbiont.test-vcpu");
        List<String> threads = new ArrayList<>();
        ActorRef<Integer> b = kit.spawn(relay(null, threads), "own-b", d);
        ActorRef<Integer> a = kit.spawn(relay(b, threads), "own-a", d);
        CompletableFuture<Integer> seen = new CompletableFuture<>();
        kit.spawn(Behaviors.<Integer>setup(ctx -> {
            a.tell(3);
            VmDispatchers.whenIdle("symbiont.test-vcpu", () -> seen.complete(threads.size()));
            return Behaviors.empty();
        }), "own-starter", d);
        assertEquals(2, seen.get(5, TimeUnit.SECONDS));
        assertEquals(List.of("symbiont.test-vcpu"), threads.stream().distinct().toList());
    }
}
