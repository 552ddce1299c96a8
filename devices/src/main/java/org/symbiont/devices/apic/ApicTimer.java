package org.symbiont.devices.apic;

import java.math.BigInteger;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.VirtualTimer;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The local APIC timer (SDM Vol. 3A 11.5.4): a 32-bit down-counter clocked by the APIC bus clock
 * divided by the divide configuration, in one-shot or periodic mode, or the TSC-deadline timer
 * (11.5.4.1). Everything is computed from virtual time: the current count is never stored but
 * derived from when counting started, and expiries are {@link DeviceContext#schedule} events.
 *
 * <p>The counter's clock: {@code frequencyHz} (QEMU and KVM use 1 GHz, one tick per nanosecond)
 * divided by 1, 2, 4 ... 128. The TSC the deadline compares with is
 * {@code nanos × tscHz / 10^9} (the machine's virtual TSC frequency).
 *
 * <p>Choices where the SDM is silent: a divide-configuration change while counting keeps the
 * current count and continues from it at the new rate (the partial tick in progress is dropped);
 * the reserved timer mode 3 never counts and initial-count writes in it are only stored. A periodic timer whose interrupt is masked keeps
 * counting (the current count stays exact) but schedules no events until it is unmasked.
 */
final class ApicTimer {
    static final int ONE_SHOT = 0, PERIODIC = 1, TSC_DEADLINE = 2;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private final DeviceContext context;
    private final long frequencyHz;
    private final long tscHz;
    /** Called when the timer expires with its interrupt unmasked: the APIC raises the LVT vector. */
    private final Runnable expired;

    private int mode;
    private boolean masked;
    private int divideConfig;
    private int initialCount;
    /** One-shot or periodic counting is in progress. */
    private boolean counting;
    /** When the count was {@link #originCount} (counting starts, or resumes after a divide change). */
    private long originNanos;
    private long originCount;
    private int divisor;
    /** The last periodic reload point (in counter ticks from the origin) already signalled. */
    private long signalledThrough;
    private long tscDeadline;
    private VirtualTimer event;

    ApicTimer(DeviceContext context, long frequencyHz, Runnable expired) {
        this.context = context;
        this.frequencyHz = frequencyHz;
        this.tscHz = context.machine().tscHz();
        this.expired = expired;
        reset();
    }

    /** Power-on state: one-shot, masked, stopped, divide by 2 (configuration 0). */
    void reset() {
        cancelEvent();
        mode = ONE_SHOT;
        masked = true;
        divideConfig = 0;
        divisor = divisorOf(0);
        initialCount = 0;
        counting = false;
        tscDeadline = 0;
    }

    /**
     * The LVT timer entry changed. A transition to or from TSC-deadline mode (or the reserved mode
     * 3) disarms the timer (SDM 11.5.4.1): counting stops, the initial count and IA32_TSC_DEADLINE
     * are cleared. Between one-shot and periodic the count continues, as on QEMU and KVM, which
     * guests that write the initial count before the LVT entry rely on.
     */
    void configure(int newMode, boolean newMasked) {
        if (newMode != mode) {
            if (counts(mode) && counts(newMode)) {
                long current = Integer.toUnsignedLong(currentCount());
                counting = current != 0;
                if (counting) startFrom(current);
            } else {
                counting = false;
                initialCount = 0;
                tscDeadline = 0;
            }
            mode = newMode;
        }
        masked = newMasked;
        reschedule();
    }

    private static boolean counts(int mode) {
        return mode == ONE_SHOT || mode == PERIODIC;
    }

    /** A write of the initial-count register: (re)starts counting, 0 stops; ignored in TSC-deadline mode. */
    void writeInitialCount(int value) {
        if (mode == TSC_DEADLINE) return;
        initialCount = value;
        counting = value != 0 && counts(mode);
        if (counting) startFrom(Integer.toUnsignedLong(value));
        reschedule();
    }

    int initialCount() {
        return initialCount;
    }

    /** The current-count register: 0 when stopped, after a one-shot expiry and in TSC-deadline mode. */
    int currentCount() {
        if (!counting) return 0;
        long ticks = ticksSinceOrigin();
        if (ticks < originCount) return (int) (originCount - ticks);
        if (mode == ONE_SHOT) return 0;
        long period = Integer.toUnsignedLong(initialCount);
        return (int) (period - (ticks - originCount) % period);
    }

    /** Divide configuration: bits 0, 1 and 3 (SDM Figure 11-10). */
    void writeDivideConfig(int value) {
        int config = value & 0xB;
        if (counting) {
            long current = Integer.toUnsignedLong(currentCount());
            if (current == 0) {
                counting = false;
            } else {
                startFrom(current);
            }
        }
        divideConfig = config;
        divisor = divisorOf(config);
        reschedule();
    }

    int divideConfig() {
        return divideConfig;
    }

    /** IA32_TSC_DEADLINE: reads 0 outside TSC-deadline mode and once the deadline has fired. */
    long tscDeadline() {
        return mode == TSC_DEADLINE ? tscDeadline : 0;
    }

    /** A write arms the timer (0 disarms it); ignored outside TSC-deadline mode. */
    void writeTscDeadline(long value) {
        if (mode != TSC_DEADLINE) return;
        tscDeadline = value;
        reschedule();
    }

    /** The virtual TSC at virtual time {@code nanos}. */
    long tscAt(long nanos) {
        return scale(nanos, tscHz, NANOS_PER_SECOND, false);
    }

    /**
     * The timer's state for {@link LocalApic#saveState}: divide configuration, initial count, the
     * counting origin, the last periodic reload signalled, IA32_TSC_DEADLINE and the pending
     * expiry. The mode and mask are the LVT timer entry's, saved with it.
     */
    void saveState(SectionWriter out) {
        out.u8(divideConfig).i32(initialCount).bool(counting).i64(originNanos).i64(originCount).i64(signalledThrough)
                .i64(tscDeadline);
        DeviceState.writeTimer(out, event);
    }

    /**
     * Replaces the timer's state with what {@link #saveState} wrote, in {@code lvtMode} and masked
     * as the restored LVT timer entry says; the pending expiry is re-armed at its saved deadline,
     * and must be armed exactly when the restored state has one to wait for.
     */
    void restoreState(SectionReader in, int lvtMode, boolean lvtMasked) throws SnapshotException {
        cancelEvent();
        mode = lvtMode;
        masked = lvtMasked;
        int at = in.position();
        int config = in.u8("timer divide configuration");
        if ((config & ~0xB) != 0) {
            throw in.malformed(at, "timer divide configuration", String.format("is %#x, with reserved bits set", config));
        }
        divideConfig = config;
        divisor = divisorOf(config);
        initialCount = in.i32("timer initial count");
        at = in.position();
        counting = in.bool("timer counting");
        if (counting && !counts(mode)) throw in.malformed(at, "timer counting", "is set in timer mode " + mode);
        if (counting && initialCount == 0) throw in.malformed(at, "timer counting", "is set with initial count 0");
        at = in.position();
        originNanos = in.i64("timer origin");
        if (counting && (originNanos < 0 || originNanos > context.nanos())) {
            throw in.malformed(at, "timer origin", "is " + originNanos + ", outside [0, " + context.nanos() + "]");
        }
        at = in.position();
        originCount = in.i64("timer origin count");
        if (counting && (originCount < 1 || originCount > 0xFFFF_FFFFL)) {
            throw in.malformed(at, "timer origin count", "is " + originCount + ", outside [1, 4294967295]");
        }
        at = in.position();
        signalledThrough = in.i64("timer periodic reload signalled");
        if (signalledThrough < 0) throw in.malformed(at, "timer periodic reload signalled", "is negative: " + signalledThrough);
        at = in.position();
        tscDeadline = in.i64("TSC deadline");
        if (mode != TSC_DEADLINE && tscDeadline != 0) {
            throw in.malformed(at, "TSC deadline", "is " + Long.toUnsignedString(tscDeadline) + " in timer mode " + mode);
        }
        boolean due = switch (mode) {
            case ONE_SHOT -> counting;
            case PERIODIC -> counting && !masked;
            case TSC_DEADLINE -> tscDeadline > 0 && scale(tscDeadline, NANOS_PER_SECOND, tscHz, true) != Long.MAX_VALUE;
            default -> false;
        };
        Runnable action = switch (mode) {
            case PERIODIC -> this::periodExpired;
            case TSC_DEADLINE -> this::deadlineReached;
            default -> this::oneShotExpired;
        };
        at = in.position();
        event = DeviceState.readTimer(in, "timer event", context, action);
        if ((event != null) != due) {
            cancelEvent();
            throw in.malformed(at, "timer event armed", "is " + !due + ", but the timer state has " + (due ? "an" : "no") + " expiry pending");
        }
    }

    private void startFrom(long count) {
        originNanos = context.nanos();
        originCount = count;
        signalledThrough = 0;
    }

    private long ticksSinceOrigin() {
        long busTicks = scale(context.nanos() - originNanos, frequencyHz, NANOS_PER_SECOND, false);
        return busTicks / divisor;
    }

    /** The virtual time at which the counter has advanced {@code ticks} from the origin. */
    private long timeOfTick(long ticks) {
        long busTicks = ticks > Long.MAX_VALUE / divisor ? Long.MAX_VALUE : ticks * divisor;
        long offset = scale(busTicks, NANOS_PER_SECOND, frequencyHz, true);
        return offset > Long.MAX_VALUE - originNanos ? Long.MAX_VALUE : originNanos + offset;
    }

    private void reschedule() {
        cancelEvent();
        switch (mode) {
            case ONE_SHOT -> {
                if (counting) event = context.schedule(timeOfTick(originCount), this::oneShotExpired);
            }
            case PERIODIC -> {
                if (counting && !masked) event = context.schedule(timeOfTick(nextReload()), this::periodExpired);
            }
            case TSC_DEADLINE -> {
                // A deadline with bit 63 set is beyond any TSC this machine reaches.
                if (tscDeadline > 0) {
                    long at = scale(tscDeadline, NANOS_PER_SECOND, tscHz, true);
                    // A deadline the TSC already reached expires at once (11.5.4.1), not at a later timer tick.
                    if (at <= context.nanos()) deadlineReached();
                    else if (at != Long.MAX_VALUE) event = context.schedule(at, this::deadlineReached);
                }
            }
            default -> { }
        }
    }

    /** The first reload point (count reaching 0) at or after now that has not been signalled. */
    private long nextReload() {
        long from = Math.max(ticksSinceOrigin(), signalledThrough + 1);
        if (from <= originCount) return originCount;
        long period = Integer.toUnsignedLong(initialCount);
        return originCount + Math.ceilDiv(from - originCount, period) * period;
    }

    private void oneShotExpired() {
        event = null;
        counting = false;
        if (!masked) expired.run();
    }

    private void periodExpired() {
        event = null;
        long ticks = ticksSinceOrigin();
        long period = Integer.toUnsignedLong(initialCount);
        signalledThrough = ticks < originCount ? originCount : originCount + (ticks - originCount) / period * period;
        reschedule();
        expired.run();
    }

    private void deadlineReached() {
        event = null;
        tscDeadline = 0;
        if (!masked) expired.run();
    }

    private void cancelEvent() {
        if (event != null) {
            event.cancel();
            event = null;
        }
    }

    /** Divide configuration → divisor: 000 → 2, 001 → 4, 010 → 8, 011 → 16, 100 → 32 ... 111 → 1. */
    private static int divisorOf(int config) {
        int code = (config & 3) | ((config >> 1) & 4);
        return code == 7 ? 1 : 2 << code;
    }

    /**
     * {@code value × mul / div}, rounded down or up, for {@code value ≥ 0}, {@code mul, div > 0};
     * saturates at {@link Long#MAX_VALUE}. Splitting {@code value} by {@code div} keeps the
     * products in 64 bits for the frequencies used here; larger ones fall back to BigInteger.
     */
    static long scale(long value, long mul, long div, boolean roundUp) {
        long whole = value / div;
        long rest = value % div;
        if (Math.multiplyHigh(whole, mul) != 0 || whole * mul < 0) return Long.MAX_VALUE;
        long part;
        if (Math.multiplyHigh(rest, mul) == 0 && rest * mul >= 0) {
            long product = rest * mul;
            part = product / div + (roundUp && product % div != 0 ? 1 : 0);
        } else {
            BigInteger[] qr = BigInteger.valueOf(rest).multiply(BigInteger.valueOf(mul)).divideAndRemainder(BigInteger.valueOf(div));
            part = qr[0].longValueExact() + (roundUp && qr[1].signum() != 0 ? 1 : 0);
        }
        long sum = whole * mul + part;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }
}
