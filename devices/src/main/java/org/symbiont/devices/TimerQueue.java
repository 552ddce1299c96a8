package org.symbiont.devices;

import java.util.PriorityQueue;

/**
 * Events in virtual time, fired in deadline order; events with the same deadline fire in the
 * order they were scheduled, so a run is reproducible. Not thread-safe: one owner drives it.
 */
public final class TimerQueue {
    private final PriorityQueue<Entry> queue = new PriorityQueue<>();
    private long sequence;

    private final class Entry implements VirtualTimer, Comparable<Entry> {
        final long deadline;
        final long order;
        final Runnable action;
        boolean cancelled;

        Entry(long deadline, long order, Runnable action) {
            this.deadline = deadline;
            this.order = order;
            this.action = action;
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

    public VirtualTimer schedule(long deadlineNanos, Runnable action) {
        Entry e = new Entry(deadlineNanos, sequence++, action);
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
     * Runs every event due at {@code now} (deadline at or before it), including events those
     * actions schedule for no later than {@code now}. Returns how many ran.
     */
    public int fireDue(long now) {
        int fired = 0;
        while (true) {
            dropCancelled();
            Entry e = queue.peek();
            if (e == null || e.deadline > now) return fired;
            queue.poll();
            e.action.run();
            fired++;
        }
    }

    public boolean isEmpty() {
        return nextDeadline() == Long.MAX_VALUE;
    }

    private void dropCancelled() {
        while (!queue.isEmpty() && queue.peek().cancelled) queue.poll();
    }
}
