package org.symbiont.devices;

import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import java.util.SplittableRandom;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * A machine for testing one device model on its own: virtual time that the test advances (firing
 * due timers through the real {@link TimerQueue}), interrupt lines that record their level and
 * every change, guest memory, buffer-backed character devices.
 */
public final class TestDeviceContext implements DeviceContext, AutoCloseable {
    private long now;
    private final TimerQueue<Runnable> timers = new TimerQueue<>();
    private final PhysicalMemory memory;
    private final MachineInfo machine;
    private final Map<Integer, Line> lines = new HashMap<>();
    private final Map<String, Buffer> backends = new HashMap<>();
    private final SplittableRandom random = new SplittableRandom(1);
    public Integer exitStatus;
    public int resets;

    public TestDeviceContext() {
        this(16 << 20, 1);
    }

    public TestDeviceContext(long ramBytes, int cpus) {
        memory = PhysicalMemory.allocate(ramBytes);
        List<Integer> ids = new ArrayList<>();
        for (int k = 0; k < cpus; k++) ids.add(k);
        machine = new MachineInfo(ramBytes, ids, 2_000_000_000L);
    }

    /** An interrupt line that remembers its level and each change (true = asserted). */
    public static final class Line implements InterruptLine {
        public boolean level;
        public final List<Boolean> changes = new ArrayList<>();
        public int rises;

        @Override
        public void set(boolean asserted) {
            if (asserted && !level) rises++;
            if (asserted != level) changes.add(asserted);
            level = asserted;
        }
    }

    /** A character back end writing to a buffer, reading from a queue the test fills. */
    public static final class Buffer implements CharBackend {
        public final ByteArrayOutputStream out = new ByteArrayOutputStream();
        public final ArrayDeque<Integer> in = new ArrayDeque<>();

        @Override public void write(int b) { out.write(b); }
        @Override public int read() { return in.isEmpty() ? -1 : in.poll(); }

        public String text() {
            return out.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
        }

        public void type(String s) {
            for (char ch : s.toCharArray()) in.add((int) ch & 0xFF);
        }
    }

    /** Moves virtual time forward, firing due timers in order. */
    public void advance(long nanos) {
        advanceTo(now + nanos);
    }

    public void advanceTo(long t) {
        while (true) {
            long next = timers.nextDeadline();
            if (next > t) break;
            now = Math.max(now, next);
            timers.fireDue(now, (deadline, action) -> action.run());
        }
        now = t;
    }

    public Line line(int gsi) {
        return lines.computeIfAbsent(gsi, g -> new Line());
    }

    public Buffer buffer(String spec) {
        return backends.computeIfAbsent(spec, s -> new Buffer());
    }

    public TimerQueue<Runnable> timers() {
        return timers;
    }

    @Override public long nanos() { return now; }
    @Override public VirtualTimer schedule(long atNanos, Runnable action) { return timers.schedule(atNanos, action); }
    @Override public InterruptLine interruptLine(int gsi) { return line(gsi); }
    @Override public PhysicalMemory memory() { return memory; }
    @Override public MachineInfo machine() { return machine; }
    @Override public CharBackend charBackend(String spec) { return buffer(spec); }
    @Override public RandomGenerator random() { return random; }
    @Override public void exitMachine(int status) { exitStatus = status; }
    @Override public void resetMachine() { resets++; }

    @Override
    public void close() {
        memory.close();
    }
}
