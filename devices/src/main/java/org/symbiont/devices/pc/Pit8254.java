package org.symbiont.devices.pc;

import com.typesafe.config.Config;
import java.util.List;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.DeviceParams;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.devices.VirtualTimer;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The PC's 8254 programmable interval timer (Intel 82C54 datasheet) at ports 0x40-0x43, with the
 * system control port B at 0x61 that gates counter 2 and reads its output.
 *
 * <p>The three counters are clocked at 1.193182 MHz from virtual time: clock edge {@code j}
 * happens at {@code ceil(j * 10^9 / 1193182)} ns. Nothing ticks: a counter keeps the clock edge
 * its counting element was loaded at, and counts and outputs are computed from
 * {@link DeviceContext#nanos()} when read. Counter 0's output drives the IRQ line as a level
 * (high/low exactly as OUT0), so an edge-triggered 8259 input sees the rising edges and a level
 * consumer sees the level; a virtual-time timer fires at each OUT0 transition.
 *
 * <p>Implemented per the datasheet: modes 0-5 (6 and 7 are 2 and 3), binary and BCD counting,
 * access modes LSB, MSB and LSB-then-MSB (with separate read and write byte pointers, so reads
 * and writes may interleave), the counter latch command, the read-back command (count and status
 * latching; status = OUT, null count, programmed mode bits), gate semantics (counter 0 and 1
 * gates are tied high, counter 2's is port B bit 0: modes 0, 2, 3, 4 stop counting while it is
 * low, and 2 and 3 force OUT high; a rising gate triggers modes 1 and 5 and restarts 2 and 3),
 * the one-clock delay between writing a count and loading it, and when a new count takes effect
 * (mode 0: at once, the first byte of a two-byte count stopping the counter and dropping OUT;
 * mode 4: at once; modes 2 and 3: at the end of the current period or half-period, or at a gate
 * trigger; modes 1 and 5: at the next trigger). Mode 3 counts by two, with odd counts high for
 * (N+1)/2 clocks and low for (N-1)/2 as the datasheet describes.
 *
 * <p>Choices where the datasheet gives no answer: a count of 1 in modes 2 and 3 (illegal there)
 * acts as 2; an invalid BCD digit counts with its nibble value, modulo 10000; before a count is
 * loaded the counting element reads as whatever it held (0 at power-on); reading the control
 * port returns 0xFF (a write-only register leaves the bus floating).
 *
 * <p>Port B: bits 0-3 read back as written (counter 2 gate, speaker data enable, parity and
 * channel check enables; there is no speaker sound and no NMI source), bit 4 is the refresh
 * toggle, which changes every 15 µs of virtual time, bit 5 is counter 2's output, bits 6-7 read 0.
 *
 * <p>Power-on state as QEMU's (which guests written for QEMU see): every counter in mode 3,
 * binary, LSB-then-MSB, count 0 (65536) loaded — counter 0 gives IRQ0 at 18.2 Hz before anyone
 * programs it; counter 2 waits for its gate.
 */
public final class Pit8254 extends IsaPortDevice implements Snapshottable {
    static final long CLOCK_HZ = 1_193_182;
    static final int COUNTER0 = 0x40, CONTROL = 0x43, PORT_B = 0x61;
    static final long REFRESH_TOGGLE_NANOS = 15_000;
    static final int PORT_B_GATE2 = 0x01, PORT_B_REFRESH = 0x10, PORT_B_OUT2 = 0x20;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final List<PortRange> PORTS = List.of(new PortRange(COUNTER0, 4), new PortRange(PORT_B, 1));

    private final String name;
    private final DeviceContext context;
    private final InterruptLine irq;
    private final Counter[] counters = {new Counter(), new Counter(), new Counter()};
    private int portB;
    private boolean irqLevel;
    private VirtualTimer out0Timer;

    public Pit8254(String name, InterruptLine irq, DeviceContext context) {
        this.name = name;
        this.irq = irq;
        this.context = context;
        powerOn();
    }

    @Override public String name() { return name; }

    @Override
    public List<PortRange> portRanges() {
        return PORTS;
    }

    @Override
    public void reset() {
        powerOn();
    }

    private void powerOn() {
        long now = tickAt(context.nanos());
        portB = 0;
        for (int i = 0; i < 3; i++) {
            Counter c = counters[i];
            c.gate = i != 2;
            c.control(0x36, now);
            c.frozenCount = 0;
            c.writeData(0, now);
            c.writeData(0, now);
        }
        updateOut0();
    }

    // ---- clock ----

    /** The last clock edge at or before virtual time {@code nanos}. */
    static long tickAt(long nanos) {
        long seconds = Math.floorDiv(nanos, NANOS_PER_SECOND);
        long rest = Math.floorMod(nanos, NANOS_PER_SECOND);
        return seconds * CLOCK_HZ + rest * CLOCK_HZ / NANOS_PER_SECOND;
    }

    /** The virtual time of clock edge {@code tick}. */
    static long nanosOfTick(long tick) {
        long seconds = Math.floorDiv(tick, CLOCK_HZ);
        long rest = Math.floorMod(tick, CLOCK_HZ);
        return seconds * NANOS_PER_SECOND + Math.ceilDiv(rest * NANOS_PER_SECOND, CLOCK_HZ);
    }

    // ---- ports ----

    @Override
    protected int readByte(int port) {
        long now = tickAt(context.nanos());
        if (port == PORT_B) {
            int refresh = (context.nanos() / REFRESH_TOGGLE_NANOS & 1) != 0 ? PORT_B_REFRESH : 0;
            return portB | refresh | (counters[2].out(now) ? PORT_B_OUT2 : 0);
        }
        if (port == CONTROL) return 0xFF;
        return counters[port - COUNTER0].readData(now);
    }

    @Override
    protected void writeByte(int port, int value) {
        long now = tickAt(context.nanos());
        if (port == PORT_B) {
            portB = value & 0x0F;
            counters[2].setGate((value & PORT_B_GATE2) != 0, now);
        } else if (port == CONTROL) {
            writeControl(value, now);
        } else {
            counters[port - COUNTER0].writeData(value, now);
        }
        updateOut0();
    }

    private void writeControl(int value, long now) {
        int select = value >>> 6;
        if (select == 3) {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 pick counters.
            for (int i = 0; i < 3; i++) {
                if ((value & 2 << i) == 0) continue;
                if ((value & 0x20) == 0) counters[i].latchCount(now);
                if ((value & 0x10) == 0) counters[i].latchStatus(now);
            }
        } else if ((value & 0x30) == 0) {
            counters[select].latchCount(now);
        } else {
            counters[select].control(value, now);
        }
    }

    /** Sets IRQ to OUT0 and arms a timer for OUT0's next transition. */
    private void updateOut0() {
        long now = tickAt(context.nanos());
        Counter c = counters[0];
        c.catchUp(now);
        boolean level = c.out(now);
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
        long next = c.nextTransition(now);
        long deadline = next == Long.MAX_VALUE ? Long.MAX_VALUE : nanosOfTick(next);
        if (out0Timer != null && out0Timer.deadline() == deadline && deadline > context.nanos()) return;
        if (out0Timer != null) out0Timer.cancel();
        out0Timer = deadline == Long.MAX_VALUE ? null : context.schedule(deadline, this::updateOut0);
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    @Override
    public void saveState(SectionWriter out) {
        for (Counter c : counters) c.save(out);
        out.u8(portB).bool(irqLevel);
        DeviceState.writeTimer(out, out0Timer);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        if (out0Timer != null) out0Timer.cancel();
        for (int i = 0; i < 3; i++) counters[i].restore(in, "counter " + i + " ");
        portB = DeviceState.u8In(in, 0, 0x0F, "port B");
        irqLevel = in.bool("OUT0 level");
        if (irqLevel) irq.set(true);
        out0Timer = DeviceState.readTimer(in, "OUT0 timer", context, this::updateOut0);
    }

    static int toBcd(int value) {
        return value % 10 | value / 10 % 10 << 4 | value / 100 % 10 << 8 | value / 1000 % 10 << 12;
    }

    static int fromBcd(int bcd) {
        return (bcd & 0xF) + (bcd >>> 4 & 0xF) * 10 + (bcd >>> 8 & 0xF) * 100 + (bcd >>> 12 & 0xF) * 1000;
    }

    /**
     * One counter. Its counting element (CE) is described by the clock edge it was loaded or
     * resumed at ({@code baseTick}), the clocks already counted then ({@code baseClocks}) and the
     * initial count {@code n}: {@code k} clocks after loading, a mode 0 counter reads
     * {@code n - k}, and so on per mode.
     */
    private static final class Counter {
        // Programming.
        int mode;
        boolean bcd;
        /** 1 = LSB only, 2 = MSB only, 3 = LSB then MSB. */
        int access;
        /** The control word's bits 5-0, as the status byte reports them. */
        int modeBits;
        boolean gate;

        // The count register and the byte pointers.
        int countRegister;
        boolean countWritten;
        boolean writeMsbNext;
        int pendingLsb;
        boolean readMsbNext;
        int latchedCount = -1;
        int latchedStatus = -1;

        // The counting element.
        boolean loaded;
        boolean suspended;
        long baseTick;
        long baseClocks;
        int n;
        /** Mode 3: where in the period the count started (0, or the first low clock). */
        int phase;
        /** What the CE reads while not loaded. */
        int frozenCount;
        /** Modes 2 and 3: a count written during counting, loaded at {@code pendingTick}. */
        long pendingTick = Long.MAX_VALUE;
        int pendingN;
        int pendingPhase;
        /** The clock edge the count register reaches the CE at (null count until then). */
        long crLoadTick = Long.MAX_VALUE;

        void save(SectionWriter out) {
            out.u8(mode).bool(bcd).u8(access).u8(modeBits).bool(gate);
            out.u16(countRegister).bool(countWritten).bool(writeMsbNext).u8(pendingLsb).bool(readMsbNext);
            out.i32(latchedCount).i32(latchedStatus);
            out.bool(loaded).bool(suspended).i64(baseTick).i64(baseClocks).i32(n).i32(phase).i32(frozenCount);
            out.i64(pendingTick).i32(pendingN).i32(pendingPhase).i64(crLoadTick);
        }

        void restore(SectionReader in, String prefix) throws SnapshotException {
            mode = DeviceState.u8In(in, 0, 5, prefix + "mode");
            bcd = in.bool(prefix + "BCD");
            access = DeviceState.u8In(in, 1, 3, prefix + "access");
            modeBits = DeviceState.u8In(in, 0, 0x3F, prefix + "mode bits");
            gate = in.bool(prefix + "gate");
            countRegister = in.u16(prefix + "count register");
            countWritten = in.bool(prefix + "count written");
            writeMsbNext = in.bool(prefix + "write MSB next");
            pendingLsb = in.u8(prefix + "pending LSB");
            readMsbNext = in.bool(prefix + "read MSB next");
            latchedCount = in.i32In(-1, 0xFFFF, prefix + "latched count");
            latchedStatus = in.i32In(-1, 0xFF, prefix + "latched status");
            loaded = in.bool(prefix + "loaded");
            suspended = in.bool(prefix + "suspended");
            baseTick = in.i64(prefix + "base tick");
            baseClocks = in.i64(prefix + "base clocks");
            // A loaded counting element divides by its initial count; so does a pending reload.
            n = in.i32In(loaded ? 1 : 0, 65_536, prefix + "initial count");
            phase = in.i32In(0, 65_536, prefix + "phase");
            frozenCount = in.i32In(0, 0xFFFF, prefix + "frozen count");
            pendingTick = in.i64(prefix + "pending reload tick");
            pendingN = in.i32In(pendingTick == Long.MAX_VALUE ? 0 : 1, 65_536, prefix + "pending initial count");
            pendingPhase = in.i32In(0, 65_536, prefix + "pending phase");
            crLoadTick = in.i64(prefix + "count register load tick");
        }

        int modulus() {
            return bcd ? 10_000 : 65_536;
        }

        /** The initial count the count register holds, as a number of clocks. */
        int initialCount() {
            int v = bcd ? fromBcd(countRegister) % 10_000 : countRegister;
            if (v == 0) v = modulus();
            if (v == 1 && (mode == 2 || mode == 3)) v = 2;
            return v;
        }

        static int highClocks(int n) {
            return (n + 1) / 2;
        }

        void control(int value, long now) {
            catchUp(now);
            frozenCount = count(now);
            loaded = false;
            suspended = false;
            pendingTick = Long.MAX_VALUE;
            crLoadTick = Long.MAX_VALUE;
            mode = value >>> 1 & 7;
            if (mode > 5) mode -= 4;
            bcd = (value & 1) != 0;
            access = value >>> 4 & 3;
            modeBits = value & 0x3F;
            countWritten = false;
            writeMsbNext = false;
            readMsbNext = false;
            latchedCount = -1;
            latchedStatus = -1;
        }

        /** Loads the CE with {@code count} on clock edge {@code tick}. */
        void load(long tick, int count) {
            loaded = true;
            suspended = false;
            baseTick = tick;
            baseClocks = 0;
            n = count;
            phase = 0;
            pendingTick = Long.MAX_VALUE;
            crLoadTick = tick;
        }

        /** Applies a count that was waiting for the end of a period, if its edge has come. */
        void catchUp(long now) {
            if (pendingTick <= now) {
                int p = pendingPhase;
                load(pendingTick, pendingN);
                phase = p;
            }
        }

        /** Clocks counted since loading, as of clock edge {@code t}. */
        long clocks(long t) {
            if (suspended || t < baseTick) return baseClocks;
            return baseClocks + (t - baseTick);
        }

        /** The CE's value at clock edge {@code now}. */
        int count(long now) {
            if (!loaded) return frozenCount;
            long k = clocks(now);
            long value = switch (mode) {
                case 2 -> n - k % n;
                case 3 -> {
                    int high = highClocks(n);
                    long pos = (k + phase) % n;
                    long j = pos < high ? pos : pos - high;
                    yield (n % 2 == 0 ? n : n - 1) - 2 * j;
                }
                default -> n - k;
            };
            return (int) Math.floorMod(value, (long) modulus());
        }

        boolean out(long now) {
            catchUp(now);
            if (!loaded) return mode != 0;
            long k = clocks(now);
            return switch (mode) {
                case 0 -> k >= n;
                case 1 -> now < baseTick || k >= n;
                case 2 -> suspended || now < baseTick || k % n != n - 1;
                case 3 -> suspended || now < baseTick || (k + phase) % n < highClocks(n);
                case 4 -> suspended || n <= baseClocks || now != baseTick + n - baseClocks;
                default -> now != baseTick + n;
            };
        }

        boolean nullCount(long now) {
            return now < crLoadTick;
        }

        /** The next clock edge after {@code now} at which OUT changes, or {@link Long#MAX_VALUE}. */
        long nextTransition(long now) {
            if (!loaded) return Long.MAX_VALUE;
            long k = clocks(now);
            long next = switch (mode) {
                case 0 -> suspended || k >= n ? Long.MAX_VALUE : baseTick + n - baseClocks;
                case 1 -> now < baseTick ? baseTick : k < n ? baseTick + n : Long.MAX_VALUE;
                case 2 -> {
                    if (suspended) yield Long.MAX_VALUE;
                    if (now < baseTick) yield baseTick + n - 1;
                    long pos = k % n;
                    yield pos == n - 1 ? now + 1 : now + (n - 1 - pos);
                }
                case 3 -> {
                    if (suspended) yield Long.MAX_VALUE;
                    if (now < baseTick) yield baseTick + highClocks(n);
                    long pos = (k + phase) % n;
                    yield now + (pos < highClocks(n) ? highClocks(n) - pos : n - pos);
                }
                case 4 -> {
                    if (suspended || n <= baseClocks) yield Long.MAX_VALUE;
                    long strobe = baseTick + n - baseClocks;
                    yield now < strobe ? strobe : now == strobe ? strobe + 1 : Long.MAX_VALUE;
                }
                default -> {
                    long strobe = baseTick + n;
                    yield now < strobe ? strobe : now == strobe ? strobe + 1 : Long.MAX_VALUE;
                }
            };
            return Math.min(next, pendingTick);
        }

        void setGate(boolean level, long now) {
            if (level == gate) return;
            catchUp(now);
            gate = level;
            switch (mode) {
                case 1, 5 -> {
                    if (level && countWritten) load(now + 1, initialCount());
                }
                case 2, 3 -> {
                    if (!level) suspend(now);
                    else if (countWritten) load(now + 1, initialCount());
                }
                default -> {
                    if (!level) suspend(now);
                    else resume(now);
                }
            }
        }

        private void suspend(long now) {
            if (!loaded || suspended) return;
            baseClocks = clocks(now);
            suspended = true;
            pendingTick = Long.MAX_VALUE;
        }

        private void resume(long now) {
            if (!loaded || !suspended) return;
            // The clock edge at 'now' passed while the gate was low; the next one counts.
            if (now > baseTick) baseTick = now;
            suspended = false;
        }

        void writeData(int value, long now) {
            catchUp(now);
            switch (access) {
                case 1 -> countRegister = value;
                case 2 -> countRegister = value << 8;
                default -> {
                    if (!writeMsbNext) {
                        pendingLsb = value;
                        writeMsbNext = true;
                        if (mode == 0 && loaded) {
                            // Mode 0: the first byte stops counting and drops OUT at once.
                            frozenCount = count(now);
                            loaded = false;
                        }
                        return;
                    }
                    countRegister = pendingLsb | value << 8;
                    writeMsbNext = false;
                }
            }
            countWritten = true;
            countLoaded(now);
        }

        /** A complete count has been written at clock edge {@code now}: when does the CE get it? */
        private void countLoaded(long now) {
            switch (mode) {
                case 0, 4 -> {
                    load(now + 1, initialCount());
                    if (!gate) suspended = true;
                }
                case 1, 5 -> crLoadTick = Long.MAX_VALUE; // waits for a gate trigger
                default -> {
                    if (!gate) {
                        crLoadTick = Long.MAX_VALUE; // waits for the gate
                    } else if (!loaded || suspended || now < baseTick) {
                        load(now + 1, initialCount());
                    } else {
                        scheduleReload(now);
                    }
                }
            }
        }

        /** Modes 2 and 3 while counting: the new count loads at the end of the (half-)period. */
        private void scheduleReload(long now) {
            long k = clocks(now);
            int next = initialCount();
            if (mode == 2) {
                pendingTick = now + (n - k % n);
                pendingPhase = 0;
            } else {
                long pos = (k + phase) % n;
                int high = highClocks(n);
                if (pos < high) {
                    pendingTick = now + (high - pos);
                    pendingPhase = highClocks(next); // the new count starts with its low half
                } else {
                    pendingTick = now + (n - pos);
                    pendingPhase = 0;
                }
            }
            pendingN = next;
            crLoadTick = pendingTick;
        }

        void latchCount(long now) {
            if (latchedCount >= 0) return;
            catchUp(now);
            latchedCount = outputCount(now);
        }

        void latchStatus(long now) {
            if (latchedStatus >= 0) return;
            catchUp(now);
            latchedStatus = (out(now) ? 0x80 : 0) | (nullCount(now) ? 0x40 : 0) | modeBits;
        }

        private int outputCount(long now) {
            int c = count(now);
            return bcd ? toBcd(c) : c;
        }

        int readData(long now) {
            if (latchedStatus >= 0) {
                int s = latchedStatus;
                latchedStatus = -1;
                return s;
            }
            catchUp(now);
            int value = latchedCount >= 0 ? latchedCount : outputCount(now);
            int b;
            switch (access) {
                case 1 -> b = value & 0xFF;
                case 2 -> b = value >>> 8 & 0xFF;
                default -> {
                    b = readMsbNext ? value >>> 8 & 0xFF : value & 0xFF;
                    readMsbNext = !readMsbNext;
                    if (readMsbNext) return b;
                }
            }
            latchedCount = -1;
            return b;
        }
    }

    /** {@code type = pit8254}: ports 0x40-0x43 and 0x61; parameter {@code irq} (counter 0's line, default 0). */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "pit8254"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            int irq = DeviceParams.intIn(params, "irq", 0, 15, 0);
            return new Pit8254(name, context.interruptLine(irq), context);
        }
    }
}
