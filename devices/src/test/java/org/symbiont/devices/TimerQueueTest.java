package org.symbiont.devices;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TimerQueueTest {
    @Test
    void firesInDeadlineThenSchedulingOrder() {
        TimerQueue<Runnable> q = new TimerQueue<>();
        List<String> fired = new ArrayList<>();
        q.schedule(30, () -> fired.add("c"));
        q.schedule(10, () -> fired.add("a"));
        q.schedule(30, () -> fired.add("d"));
        q.schedule(20, () -> fired.add("b"));
        assertEquals(10, q.nextDeadline());
        assertEquals(2, q.fireDue(20, (deadline, action) -> action.run()));
        assertEquals(List.of("a", "b"), fired);
        assertEquals(2, q.fireDue(100, (deadline, action) -> action.run()));
        assertEquals(List.of("a", "b", "c", "d"), fired);
        assertTrue(q.isEmpty());
        assertEquals(Long.MAX_VALUE, q.nextDeadline());
    }

    @Test
    void cancelledEventsNeverFireAndEventsScheduledForNowFireInTheSamePass() {
        TimerQueue<Runnable> q = new TimerQueue<>();
        List<String> fired = new ArrayList<>();
        VirtualTimer t = q.schedule(5, () -> fired.add("cancelled"));
        q.schedule(5, () -> {
            fired.add("first");
            q.schedule(5, () -> fired.add("chained"));
            q.schedule(6, () -> fired.add("later"));
        });
        t.cancel();
        assertEquals(2, q.fireDue(5, (deadline, action) -> action.run()));
        assertEquals(List.of("first", "chained"), fired);
        assertEquals(6, q.nextDeadline());
    }

    @Test
    void pendingListsLiveEventsInFiringOrder() {
        TimerQueue<String> q = new TimerQueue<>();
        q.schedule(7, "late");
        VirtualTimer gone = q.schedule(3, "cancelled");
        q.schedule(3, "first");
        q.schedule(3, "second");
        gone.cancel();
        assertEquals(List.of(new TimerQueue.Pending<>(3, "first"), new TimerQueue.Pending<>(3, "second"),
                new TimerQueue.Pending<>(7, "late")), q.pending());
        q.clear();
        assertTrue(q.pending().isEmpty());
        assertEquals(0, q.fireDue(100, (t, e) -> fail("cleared event fired: " + e)));
    }
}
