package org.symbiont.devices;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Events in virtual time, fired in deadline order; events with the same deadline fire in the
 * order they were scheduled, so a run is reproducible. An event is a value the owner interprets
 * when it fires (a record describing what to do, not a closure), so the pending events can be
 * listed, saved and scheduled again in the same order. Not thread-safe: one owner drives it.
 */
public final class TimerQueue<E> {
    private final PriorityQueue<Entry> queue = new PriorityQueue<>();
    private long sequence;

    /** What fires an event: called with the event's deadline and the event. */
    @FunctionalInterface
    public interface Handler<E> {
        void fire(long deadline, E event);
    }

    /** A pending event and its deadline. */
    public record Pending<E>(long deadline, E event) {}

    private final class Entry implements VirtualTimer, Comparable<Entry> {
        final long deadline;
        final long order;
        final E event;
        boolean cancelled;

        Entry(long deadline, long order, E event) {
            this.deadline = deadline;
            this.order = order;
            this.event = event;
        }

        @Override
        public void cancel() {
            cancelled = true;
        }

        @Override
        public long deadline() {
            return deadline;
        }

        @Override
        public int compareTo(Entry o) {
            int c = Long.compare(deadline, o.deadline);
            return c != 0 ? c : Long.compare(order, o.order);
        }
    }

    public VirtualTimer schedule(long deadlineNanos, E event) {
        Entry e = new Entry(deadlineNanos, sequence++, event);
        queue.add(e);
        return e;
    }

    /** The earliest pending deadline, or {@link Long#MAX_VALUE} when nothing is scheduled. */
    public long nextDeadline() {
        dropCancelled();
        Entry e = queue.peek();
        return e == null ? Long.MAX_VALUE : e.deadline;
    }

    /**
     * Hands {@code fire} every event due at {@code now} (deadline at or before it), including
     * events scheduled meanwhile for no later than {@code now}. Returns how many fired.
     */
    public int fireDue(long now, Handler<? super E> fire) {
        int fired = 0;
        while (true) {
            dropCancelled();
            Entry e = queue.peek();
            if (e == null || e.deadline > now) return fired;
            queue.poll();
            fire.fire(e.deadline, e.event);
            fired++;
        }
    }

    /** The events not yet fired nor cancelled, in the order they will fire. */
    public List<Pending<E>> pending() {
        List<Entry> live = new ArrayList<>();
        for (Entry e : queue) if (!e.cancelled) live.add(e);
        live.sort(null);
        List<Pending<E>> out = new ArrayList<>(live.size());
        for (Entry e : live) out.add(new Pending<>(e.deadline, e.event));
        return out;
    }

    /** Removes every pending event (their handles' {@link VirtualTimer#cancel} becomes harmless). */
    public void clear() {
        for (Entry e : queue) e.cancelled = true;
        queue.clear();
    }

    public boolean isEmpty() {
        return nextDeadline() == Long.MAX_VALUE;
    }

    private void dropCancelled() {
        while (!queue.isEmpty() && queue.peek().cancelled) queue.poll();
    }
}
