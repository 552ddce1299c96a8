package org.symbiont.vmm;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.symbiont.devices.TimerQueue;
import org.symbiont.devices.virtio.BlockBackend;
import org.symbiont.devices.virtio.VirtioBlock;
import org.symbiont.vmm.config.Fault;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * Applies a VM's configured {@link Fault}s, each at its virtual time through the VM's timer queue
 * (so a round ends there, as at a noise event), and records what each did. Everything runs on the
 * VM's thread; every random choice comes from the VM's seed and the fault's position in the list,
 * so a faulted run replays exactly. Its state (faults armed, lines held back, what was applied)
 * goes into a VM snapshot, so a restored VM goes on injecting where it left off.
 */
final class FaultInjector {
    /** The failure an injected device crash raises inside the device's actor. */
    static final class InjectedCrash extends RuntimeException {
        final boolean stopVm;

        InjectedCrash(String device, boolean stopVm) {
            super("injected fault: device " + device + " crashed");
            this.stopVm = stopVm;
        }
    }

    /** An interrupt fault armed on a line, with the occurrences it still takes. */
    private static final class ArmedInterrupt {
        final int index;
        final Fault.Interrupt fault;
        int remaining;

        ArmedInterrupt(int index, Fault.Interrupt fault, int remaining) {
            this.index = index;
            this.fault = fault;
            this.remaining = remaining;
        }
    }

    /** A frame corruption armed on a NIC, with the frames it still corrupts. */
    private static final class ArmedFrames {
        final int index;
        final String nic;
        int remaining, corrupted;

        ArmedFrames(int index, String nic, int remaining, int corrupted) {
            this.index = index;
            this.nic = nic;
            this.remaining = remaining;
            this.corrupted = corrupted;
        }
    }

    private final VmConfig config;
    private final TimerQueue<VmEvent> timers;
    private final long tscHz;
    private final List<ActorRef<VcpuActor.Command>> vcpus;
    private final Platform platform;
    private final PhysicalMemory memory;
    private final LongSupplier now;
    private final BiConsumer<VmConfig.NoiseSource, Long> startNoise;
    private final List<VmReport.AppliedFault> applied = new ArrayList<>();
    /** Per interrupt line: armed faults in the order they were armed. */
    @SuppressWarnings("unchecked")
    private final ArrayDeque<ArmedInterrupt>[] armed = new ArrayDeque[Fault.MAX_LINE + 1];
    /** Per line: a dropped assertion swallows the deassertion that follows it. */
    private final boolean[] dropping = new boolean[Fault.MAX_LINE + 1];
    /** Per line: until when changes wait behind a delayed assertion (so they keep their order). */
    private final long[] delayedUntil = new long[Fault.MAX_LINE + 1];
    /** Per line: the level the interrupt controllers last saw. */
    private final boolean[] forwardedLevel = new boolean[Fault.MAX_LINE + 1];
    private final List<ArmedFrames> frames = new ArrayList<>();

    /**
     * The injector of {@code config}'s faults; {@code now} is the VM's virtual time, {@code
     * startNoise} starts a noise source with its first event at the time given. Nothing is
     * scheduled yet: see {@link #scheduleAll}, or {@link #restoreState} for a restored VM.
     */
    FaultInjector(VmConfig config, TimerQueue<VmEvent> timers, long tscHz, List<ActorRef<VcpuActor.Command>> vcpus, Platform platform,
                  PhysicalMemory memory, LongSupplier now, BiConsumer<VmConfig.NoiseSource, Long> startNoise) {
        this.config = config;
        this.timers = timers;
        this.tscHz = tscHz;
        this.vcpus = vcpus;
        this.platform = platform;
        this.memory = memory;
        this.now = now;
        this.startNoise = startNoise;
        for (int line = 0; line <= Fault.MAX_LINE; line++) armed[line] = new ArrayDeque<>();
    }

    /** Schedules every configured fault at its time (a VM that starts from power-on). */
    void scheduleAll() {
        for (int k = 0; k < config.faults().size(); k++) timers.schedule(config.faults().get(k).atNanos(), new VmEvent.FaultDue(k));
    }

    /** The random choices of fault {@code index}: from the VM's seed and the fault's position. */
    private SplittableRandom randomOf(int index) {
        return new SplittableRandom(config.seed() ^ (index + 1) * 0x9E37_79B9_7F4A_7C15L);
    }

    /** Fires one of the injector's events (see {@link VmEvent}). */
    void fire(VmEvent event, long deadline) {
        switch (event) {
            case VmEvent.FaultDue d -> apply(d.index(), config.faults().get(d.index()));
            case VmEvent.LineLevel l -> forward(l.line(), l.level(), deadline);
            case VmEvent.LinePulse p -> {
                boolean current = forwardedLevel[p.line()];
                platform.irqChanged(p.line(), true, deadline);
                if (!current) platform.irqChanged(p.line(), false, deadline);
            }
            default -> throw new IllegalArgumentException("not a fault event: " + event);
        }
    }

    /** The faults applied so far, in order. */
    List<VmReport.AppliedFault> applied() {
        return List.copyOf(applied);
    }

    private void record(long nanos, Fault f, String detail) {
        applied.add(new VmReport.AppliedFault(nanos, f.kind(), detail));
    }

    private void apply(int index, Fault fault) {
        long at = fault.atNanos();
        SplittableRandom random = randomOf(index);
        switch (fault) {
            case Fault.FlipBit f -> flipBit(f, random);
            case Fault.StallVcpu f -> {
                vcpus.get(f.vcpu()).tell(new VcpuActor.Steal(VirtualTime.nanosToCycles(at + f.durationNanos(), tscHz)));
                record(at, f, "vCPU " + f.vcpu() + " stalled for " + f.durationNanos() + " ns");
            }
            case Fault.CrashDevice f -> {
                platform.byName(f.device()).call(d -> {
                    throw new InjectedCrash(f.device(), f.stopVm());
                }, at);
                record(at, f, "device " + f.device() + " crashed (policy " + (f.stopVm() ? "stop" : "restart") + ")");
            }
            case Fault.Interrupt f -> {
                armed[f.line()].add(new ArmedInterrupt(index, f, f.count()));
                record(at, f, "armed on line " + f.line() + " for " + f.count() + " assertion(s)"
                        + (f.effect() == Fault.InterruptEffect.DELAY ? ", " + f.delayNanos() + " ns late" : ""));
            }
            case Fault.CorruptDiskBlock f -> corruptDiskBlock(f, random);
            case Fault.CorruptFrame f -> {
                frames.add(new ArmedFrames(index, f.device(), f.count(), 0));
                record(at, f, "armed on " + f.device() + " for " + f.count() + " received frame(s)");
            }
            case Fault.Noise f -> {
                VmConfig.NoiseSource s = f.source();
                long first = at + (s.synchronizedPhase() ? s.periodNanos() : random.nextLong(s.periodNanos()));
                startNoise.accept(s, first);
                record(at, f, s.label() + ", first event at " + first + " ns");
            }
        }
    }

    private void flipBit(Fault.FlipBit f, SplittableRandom random) {
        long address = f.address();
        int bit = f.bit();
        if (f.random()) {
            // A byte of RAM the guest can use (not the BIOS area or a hole), drawn until one is.
            do address = random.nextLong(config.memoryBytes()); while (!platform.memoryMap.isAvailable(address & ~0xFFFL, 4096));
            bit = random.nextInt(8);
        }
        int before = memory.readU8(address);
        int after = before ^ 1 << bit;
        memory.writeU8(address, after);
        record(f.atNanos(), f, String.format("bit %d of 0x%x: 0x%02x -> 0x%02x", bit, address, before, after));
    }

    private void corruptDiskBlock(Fault.CorruptDiskBlock f, SplittableRandom random) {
        Platform.Hosted h = platform.byName(f.device());
        // Inside the disk's actor, so the change falls between two requests, never inside one.
        h.call(d -> {
            BlockBackend disk = ((VirtioBlock) d).backend();
            long offset = f.sector() * VirtioBlock.SECTOR;
            if (offset + VirtioBlock.SECTOR > disk.size()) {
                record(f.atNanos(), f, f.device() + ": sector " + f.sector() + " is past the end of the disk: nothing corrupted");
                return;
            }
            byte[] sector = new byte[VirtioBlock.SECTOR];
            List<Integer> flipped = new ArrayList<>();
            try {
                disk.read(offset, sector, 0, sector.length);
                for (int k = 0; k < f.bits(); k++) {
                    int bit = random.nextInt(VirtioBlock.SECTOR * 8);
                    sector[bit >>> 3] ^= (byte) (1 << (bit & 7));
                    flipped.add(bit);
                }
                disk.write(offset, sector, 0, sector.length);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            record(f.atNanos(), f, f.device() + ": sector " + f.sector() + ", bits " + flipped);
        }, f.atNanos());
    }

    /**
     * A device's interrupt line changed level: passed on to the interrupt controllers, unless an
     * armed fault drops, duplicates or delays it. Only assertions count as occurrences.
     */
    void irqChanged(int line, boolean level, long nanos) {
        if (line < 0 || line > Fault.MAX_LINE) {
            platform.irqChanged(line, level, nanos);
            return;
        }
        if (delayedUntil[line] > nanos) {
            timers.schedule(delayedUntil[line], new VmEvent.LineLevel(line, level));
            return;
        }
        if (!level && dropping[line]) {
            dropping[line] = false;
            return;
        }
        ArmedInterrupt a = level ? armed[line].peek() : null;
        if (a == null) {
            forward(line, level, nanos);
            return;
        }
        if (--a.remaining == 0) armed[line].poll();
        Fault.Interrupt f = a.fault;
        long when = nanos + f.delayNanos();
        switch (f.effect()) {
            case DROP -> {
                dropping[line] = true;
                record(nanos, f, "line " + line + ": assertion dropped");
            }
            case DUPLICATE -> {
                forward(line, true, nanos);
                // A second edge (a pulse unless the line is still high) once the first was likely taken.
                timers.schedule(when, new VmEvent.LinePulse(line));
                record(nanos, f, "line " + line + ": assertion duplicated at " + when + " ns");
            }
            case DELAY -> {
                delayedUntil[line] = when;
                timers.schedule(when, new VmEvent.LineLevel(line, true));
                record(nanos, f, "line " + line + ": assertion delayed to " + when + " ns");
            }
        }
    }

    private void forward(int line, boolean level, long nanos) {
        forwardedLevel[line] = level;
        platform.irqChanged(line, level, nanos);
    }

    /** A frame arriving at NIC {@code nic}: one bit flipped while a corruption is armed there. */
    byte[] receivedFrame(String nic, byte[] frame) {
        for (ArmedFrames a : frames) {
            if (a.remaining == 0 || !a.nic.equals(nic) || frame.length == 0) continue;
            a.remaining--;
            byte[] corrupted = frame.clone();
            // Each frame's bit from the fault's seed and how many frames it corrupted before: nothing to carry in a snapshot.
            long nth = a.corrupted++;
            int bit = new SplittableRandom(randomOf(a.index).nextLong() ^ (nth + 1) * 0xBF58_476D_1CE4_E5B9L).nextInt(frame.length * 8);
            corrupted[bit >>> 3] ^= (byte) (1 << (bit & 7));
            applied.add(new VmReport.AppliedFault(now.getAsLong(), "corrupt-frame", nic + ": bit " + bit + " of a "
                    + frame.length + "-byte frame"));
            return corrupted;
        }
        return frame;
    }

    /** Writes what the injector holds: faults applied, armed and held back per line, frame corruptions armed. */
    void saveState(SectionWriter out) {
        out.i32(applied.size());
        for (VmReport.AppliedFault a : applied) out.i64(a.nanos()).string(a.kind()).string(a.detail());
        for (int line = 0; line <= Fault.MAX_LINE; line++) {
            out.bool(dropping[line]).i64(delayedUntil[line]).bool(forwardedLevel[line]).i32(armed[line].size());
            for (ArmedInterrupt a : armed[line]) out.i32(a.index).i32(a.remaining);
        }
        out.i32(frames.size());
        for (ArmedFrames a : frames) out.i32(a.index).i32(a.remaining).i32(a.corrupted);
    }

    /** Restores what {@link #saveState} wrote, for a VM restored from a snapshot (its fault events come with its timers). */
    void restoreState(SectionReader in) throws SnapshotException {
        int count = in.i32In(0, 1 << 20, "faults applied");
        for (int k = 0; k < count; k++) {
            applied.add(new VmReport.AppliedFault(in.i64("fault time"), in.string("fault kind"), in.string("fault detail")));
        }
        for (int line = 0; line <= Fault.MAX_LINE; line++) {
            dropping[line] = in.bool("line " + line + " dropping");
            delayedUntil[line] = in.i64("line " + line + " delayed until");
            forwardedLevel[line] = in.bool("line " + line + " level");
            int n = in.i32In(0, config.faults().size(), "line " + line + " armed faults");
            for (int k = 0; k < n; k++) {
                int at = in.position();
                int index = in.i32In(0, config.faults().size() - 1, "armed fault index");
                if (!(config.faults().get(index) instanceof Fault.Interrupt f) || f.line() != line) {
                    throw in.malformed(at, "armed fault index", "is " + index + ", not an interrupt fault on line " + line);
                }
                armed[line].add(new ArmedInterrupt(index, f, in.i32In(1, f.count(), "armed fault remaining")));
            }
        }
        int n = in.i32In(0, config.faults().size(), "frame corruptions armed");
        for (int k = 0; k < n; k++) {
            int at = in.position();
            int index = in.i32In(0, config.faults().size() - 1, "frame corruption index");
            if (!(config.faults().get(index) instanceof Fault.CorruptFrame f)) {
                throw in.malformed(at, "frame corruption index", "is " + index + ", not a corrupt-frame fault");
            }
            int remaining = in.i32In(0, f.count(), "frame corruption remaining");
            frames.add(new ArmedFrames(index, f.device(), remaining, in.i32In(0, f.count(), "frames corrupted")));
        }
    }

    /** Whether an injected crash of a device whose policy is stop caused this failure. */
    static boolean stopsVm(Throwable failure) {
        return failure instanceof InjectedCrash c && c.stopVm;
    }
}
