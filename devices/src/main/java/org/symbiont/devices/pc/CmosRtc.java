package org.symbiont.devices.pc;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.DeviceParams;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.MachineInfo;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.devices.VirtualTimer;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The PC's CMOS real-time clock, a Motorola MC146818A (datasheet) with 128 bytes of CMOS RAM,
 * at ports 0x70 (index; bit 7 disables NMI, as PC chipsets wire it) and 0x71 (data), on IRQ 8.
 *
 * <p>Time: the clock reads {@code base-time} plus virtual time — never the host's clock. Seconds,
 * minutes, hours, day of week (1 = Sunday), day of month, month, year and the century byte 0x32
 * (which QEMU and its guests treat as part of the clock) are presented in BCD or binary (register
 * B's DM bit) and 24- or 12-hour format (bit 7 of the hour = PM), as the format bits are at the
 * moment of reading. The guest sets the time as the datasheet prescribes: SET in register B
 * stops updates and the registers hold what the guest writes; clearing SET continues from them
 * with the divider's phase kept. A time register written while the clock runs changes the time
 * at once. The day of week is derived from the date, as in QEMU. Out-of-range values the guest
 * writes are normalised the way mktime does (month 13 is January of the next year).
 *
 * <p>Register A: UIP reads 1 during the 244 µs before each once-a-second update (the update
 * itself takes no time, as in QEMU, so a guest that sees UIP = 0 has at least 244 µs to read a
 * consistent time); the divider bits DV2-0 run the clock for 000, 001 and 010, hold it for the
 * test settings 011-101, and reset the divider chain for 11x, the first update then coming half a
 * second after the reset is released; RS3-0 select the periodic rate (32768 Hz >> (RS - 1); RS 1
 * and 2 as 8 and 9). Register B: SET (which also clears UIE), PIE, AIE, UIE, DM, 24/12 as above;
 * SQWE is stored (the SQW pin is not wired on a PC) and DSE is stored without effect, as in QEMU.
 * Register C: PF, AF, UF are set by their events whether or not enabled; IRQF = PF·PIE + AF·AIE +
 * UF·UIE drives IRQ 8 as a level; reading C clears them all and lowers the line. Register D: VRT
 * reads 1. Periodic, alarm (with "don't care" alarm bytes 0xC0-0xFF) and update-ended interrupts
 * come from virtual-time timers, armed only while their interrupt is enabled and the line is low;
 * the flags themselves are brought up to date lazily on each access.
 *
 * <p>CMOS RAM 0x0E-0x7F: initialised as QEMU's PC machine does ({@code pc_cmos_init}), which is
 * what SeaBIOS and other guests written for QEMU read: 0x10/0x12 no floppy or legacy disk, 0x14
 * equipment 0x06 (FPU, PS/2 mouse; no floppy), 0x15/0x16 base memory 640 KiB, 0x17/0x18 and
 * 0x30/0x31 memory from 1 MiB to the end of low RAM in KiB (at most 65535), 0x34/0x35 low RAM
 * above 16 MiB in 64 KiB units (at most 65535), 0x5B-0x5D RAM above 4 GiB in 64 KiB units,
 * 0x5F the CPU count minus one, 0x37 the century (the PS/2 location). Low RAM is
 * {@code ram-below-4g} bytes (default: all of RAM when under 3.5 GiB, otherwise 3 GiB — QEMU's
 * i440FX split), the rest of RAM sitting above 4 GiB. The IBM AT checksum of 0x10-0x2D is stored
 * big-endian at 0x2E/0x2F. RAM survives a machine reset (battery backed).
 *
 * <p>Machine reset acts as the RESET pin: PIE, AIE, UIE, SQWE and the flags clear, the time,
 * divider, rate and RAM are kept; the index returns to 0 with NMI enabled.
 */
public final class CmosRtc extends IsaPortDevice implements Snapshottable {
    static final int INDEX_PORT = 0x70, DATA_PORT = 0x71;
    static final int SECONDS = 0x00, SECONDS_ALARM = 0x01, MINUTES = 0x02, MINUTES_ALARM = 0x03,
            HOURS = 0x04, HOURS_ALARM = 0x05, DAY_OF_WEEK = 0x06, DAY_OF_MONTH = 0x07, MONTH = 0x08,
            YEAR = 0x09, REG_A = 0x0A, REG_B = 0x0B, REG_C = 0x0C, REG_D = 0x0D, CENTURY = 0x32;
    static final int A_UIP = 0x80;
    static final int B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_SQWE = 0x08,
            B_BINARY = 0x04, B_24H = 0x02, B_DSE = 0x01;
    static final int C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10;
    static final int D_VRT = 0x80;
    /** UIP is held this long before each update: 8 periods of the 32.768 kHz time base. */
    static final long UIP_NANOS = 8 * 1_000_000_000L / 32_768;
    static final String DEFAULT_BASE_TIME = "2026-01-01T00:00:00Z";

    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final long TIME_BASE_HZ = 32_768;
    private static final long HALF_SECOND = NANOS_PER_SECOND / 2;
    private static final List<PortRange> PORTS = List.of(new PortRange(INDEX_PORT, 2));
    private static final int[] CLOCK_REGISTERS = {SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY};

    private final String name;
    private final DeviceContext context;
    private final InterruptLine irq;
    private final byte[] cmos = new byte[128];
    private int index;
    private boolean nmiDisabled;

    /** The divider chain's phase: second boundaries and periodic ticks count from here (ns). */
    private long originNanos;
    /** The clock's time at {@link #originNanos}, in seconds since the epoch (while it runs). */
    private long secondsAtOrigin;
    /** PF, AF and UF. */
    private int flags;
    /** The virtual time up to which {@link #flags} account for events. */
    private long flagsUpTo;
    private boolean irqLevel;
    private VirtualTimer timer;

    public CmosRtc(String name, Instant baseTime, long ramBelow4g, InterruptLine irq, DeviceContext context) {
        this.name = name;
        this.context = context;
        this.irq = irq;
        long now = context.nanos();
        originNanos = now - baseTime.getNano();
        secondsAtOrigin = baseTime.getEpochSecond();
        flagsUpTo = now;
        cmos[REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate (as PC BIOSes leave it)
        cmos[REG_B] = B_24H;
        cmos[REG_D] = (byte) D_VRT;
        fillFirmwareBytes(context.machine(), ramBelow4g);
    }

    @Override public String name() { return name; }

    @Override
    public List<PortRange> portRanges() {
        return PORTS;
    }

    /** Whether the guest disabled NMIs through bit 7 of the index port (for the VMM's NMI routing). */
    public boolean nmiDisabled() {
        return nmiDisabled;
    }

    @Override
    public void reset() {
        syncFlags();
        cmos[REG_B] &= (byte) ~(B_PIE | B_AIE | B_UIE | B_SQWE);
        flags = 0;
        index = 0;
        nmiDisabled = false;
        updateIrqAndTimer();
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    /** The 128 bytes, the index, the clock's origin, the flags accumulated so far, the IRQ level and the timer. */
    @Override
    public void saveState(SectionWriter out) {
        out.bytes(cmos, 0, cmos.length).u8(index).bool(nmiDisabled);
        out.i64(originNanos).i64(secondsAtOrigin).u8(flags).i64(flagsUpTo).bool(irqLevel);
        DeviceState.writeTimer(out, timer);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        if (timer != null) timer.cancel();
        in.bytes(cmos, 0, cmos.length, "CMOS bytes");
        index = DeviceState.u8In(in, 0, 0x7F, "index");
        nmiDisabled = in.bool("NMI disabled");
        originNanos = in.i64("clock origin");
        secondsAtOrigin = in.i64("seconds at origin");
        int at = in.position();
        flags = in.u8("register C flags");
        if ((flags & ~(C_PF | C_AF | C_UF)) != 0) throw in.malformed(at, "register C flags", String.format("is %#x, not PF/AF/UF bits", flags));
        flagsUpTo = in.i64("flags up to");
        irqLevel = in.bool("IRQ level");
        if (irqLevel) irq.set(true);
        timer = DeviceState.readTimer(in, "interrupt timer", context, this::timerFired);
    }

    // ---- memory-size and equipment bytes ----

    private void fillFirmwareBytes(MachineInfo machine, long ramBelow4g) {
        long above4g = machine.ramBytes() - ramBelow4g;
        setWord(0x15, Math.min(ramBelow4g / 1024, 640));
        long extended = ramBelow4g > (1 << 20) ? Math.min((ramBelow4g - (1 << 20)) / 1024, 65535) : 0;
        setWord(0x17, extended);
        setWord(0x30, extended);
        long above16m = ramBelow4g > (16 << 20) ? Math.min((ramBelow4g - (16 << 20)) / 65536, 65535) : 0;
        setWord(0x34, above16m);
        long high = above4g / 65536;
        cmos[0x5B] = (byte) high;
        cmos[0x5C] = (byte) (high >>> 8);
        cmos[0x5D] = (byte) (high >>> 16);
        cmos[0x5F] = (byte) (machine.cpuCount() - 1);
        cmos[0x14] = 0x06;
        cmos[0x37] = (byte) format(currentDateTime().getYear() / 100);
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++) sum += cmos[i] & 0xFF;
        cmos[0x2E] = (byte) (sum >>> 8);
        cmos[0x2F] = (byte) sum;
    }

    private void setWord(int at, long value) {
        cmos[at] = (byte) value;
        cmos[at + 1] = (byte) (value >>> 8);
    }

    // ---- ports ----

    @Override
    protected int readByte(int port) {
        if (port == INDEX_PORT) return 0xFF; // the index register is write-only
        syncFlags();
        int value = readRegister(index);
        updateIrqAndTimer();
        return value;
    }

    @Override
    protected void writeByte(int port, int value) {
        if (port == INDEX_PORT) {
            index = value & 0x7F;
            nmiDisabled = (value & 0x80) != 0;
            return;
        }
        syncFlags();
        writeRegister(index, value);
        updateIrqAndTimer();
    }

    private int readRegister(int reg) {
        switch (reg) {
            case SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> {
                return clockRunning() ? clockField(reg, currentDateTime()) : cmos[reg] & 0xFF;
            }
            case REG_A -> {
                return cmos[REG_A] & 0x7F | (updateImminent() ? A_UIP : 0);
            }
            case REG_C -> {
                int value = flags | (irqFlag() ? C_IRQF : 0);
                flags = 0;
                return value;
            }
            case REG_D -> {
                return D_VRT;
            }
            default -> {
                return cmos[reg] & 0xFF;
            }
        }
    }

    private void writeRegister(int reg, int value) {
        switch (reg) {
            case SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> {
                if (clockRunning()) {
                    freezeClockRegisters();
                    cmos[reg] = (byte) value;
                    startClockFromRegisters();
                } else {
                    cmos[reg] = (byte) value;
                }
            }
            case REG_A -> writeRegisterA(value);
            case REG_B -> writeRegisterB(value);
            case REG_C, REG_D -> { } // read-only
            default -> cmos[reg] = (byte) value;
        }
    }

    private void writeRegisterA(int value) {
        boolean wasRunning = dividerRunning();
        boolean clockWasRunning = clockRunning();
        if (clockWasRunning) freezeClockRegisters();
        cmos[REG_A] = (byte) (value & 0x7F);
        if (!wasRunning && dividerRunning()) {
            // Leaving divider reset: the first update comes half a second later.
            originNanos = context.nanos() - HALF_SECOND;
        }
        if (clockRunning()) startClockFromRegisters();
    }

    private void writeRegisterB(int value) {
        int old = cmos[REG_B] & 0xFF;
        if ((value & B_SET) != 0) {
            if ((old & B_SET) == 0 && clockRunning()) freezeClockRegisters();
            value &= ~B_UIE; // SET clears UIE
            cmos[REG_B] = (byte) value;
        } else {
            cmos[REG_B] = (byte) value;
            if ((old & B_SET) != 0 && clockRunning()) startClockFromRegisters();
        }
    }

    // ---- the clock ----

    /** The divider chain runs for DV = 000, 001, 010 (QEMU: any of the three time bases). */
    private boolean dividerRunning() {
        return (cmos[REG_A] & 0x70) <= 0x20;
    }

    /** Updates happen: the divider runs and SET is clear. */
    private boolean clockRunning() {
        return dividerRunning() && (cmos[REG_B] & B_SET) == 0;
    }

    private long secondsSinceOrigin(long nanos) {
        return Math.floorDiv(nanos - originNanos, NANOS_PER_SECOND);
    }

    private long currentSeconds() {
        return secondsAtOrigin + secondsSinceOrigin(context.nanos());
    }

    private LocalDateTime currentDateTime() {
        return LocalDateTime.ofEpochSecond(currentSeconds(), 0, ZoneOffset.UTC);
    }

    private boolean updateImminent() {
        return clockRunning()
                && Math.floorMod(context.nanos() - originNanos, NANOS_PER_SECOND) >= NANOS_PER_SECOND - UIP_NANOS;
    }

    private int clockField(int reg, LocalDateTime t) {
        return switch (reg) {
            case SECONDS -> format(t.getSecond());
            case MINUTES -> format(t.getMinute());
            case HOURS -> formatHour(t.getHour());
            case DAY_OF_WEEK -> format(t.getDayOfWeek().getValue() % 7 + 1);
            case DAY_OF_MONTH -> format(t.getDayOfMonth());
            case MONTH -> format(t.getMonthValue());
            case YEAR -> format(t.getYear() % 100);
            default -> format(t.getYear() / 100);
        };
    }

    /** Copies the running clock into its registers (updates are about to stop). */
    private void freezeClockRegisters() {
        LocalDateTime t = currentDateTime();
        for (int reg : CLOCK_REGISTERS) cmos[reg] = (byte) clockField(reg, t);
    }

    /** Continues the clock from what its registers hold, keeping the divider's phase. */
    private void startClockFromRegisters() {
        // Years stay below 25600 (century and year bytes at most 255), well inside java.time's range.
        long seconds = LocalDateTime.of(parse(cmos[CENTURY]) * 100 + parse(cmos[YEAR]), 1, 1, 0, 0)
                .plusMonths(parse(cmos[MONTH]) - 1L)
                .plusDays(parse(cmos[DAY_OF_MONTH]) - 1L)
                .plusHours(parseHour(cmos[HOURS]))
                .plusMinutes(parse(cmos[MINUTES]))
                .plusSeconds(parse(cmos[SECONDS]))
                .toEpochSecond(ZoneOffset.UTC);
        secondsAtOrigin = seconds - secondsSinceOrigin(context.nanos());
    }

    private boolean binary() {
        return (cmos[REG_B] & B_BINARY) != 0;
    }

    private int format(int value) {
        return binary() ? value : (value / 10) << 4 | value % 10;
    }

    private int formatHour(int hour24) {
        if ((cmos[REG_B] & B_24H) != 0) return format(hour24);
        int hour12 = hour24 % 12 == 0 ? 12 : hour24 % 12;
        return format(hour12) | (hour24 >= 12 ? 0x80 : 0);
    }

    private int parse(byte b) {
        int v = b & 0xFF;
        return binary() ? v : (v >>> 4) * 10 + (v & 0xF);
    }

    private int parseHour(byte b) {
        if ((cmos[REG_B] & B_24H) != 0) return parse(b);
        return parse((byte) (b & 0x7F)) % 12 + ((b & 0x80) != 0 ? 12 : 0);
    }

    // ---- interrupt flags ----

    /** Periodic interrupt period in 32.768 kHz cycles, or 0 when RS = 0. */
    private int periodicCycles() {
        int rs = cmos[REG_A] & 0x0F;
        if (rs == 0) return 0;
        if (rs <= 2) rs += 7;
        return 1 << (rs - 1);
    }

    /** 32.768 kHz cycles since the divider origin, as of {@code nanos}. */
    private long timeBaseCycles(long nanos) {
        long d = nanos - originNanos;
        return Math.floorDiv(d, NANOS_PER_SECOND) * TIME_BASE_HZ
                + Math.floorMod(d, NANOS_PER_SECOND) * TIME_BASE_HZ / NANOS_PER_SECOND;
    }

    /** The virtual time at which time-base cycle {@code cycle} is reached. */
    private long nanosOfCycle(long cycle) {
        return originNanos + Math.floorDiv(cycle, TIME_BASE_HZ) * NANOS_PER_SECOND
                + Math.ceilDiv(Math.floorMod(cycle, TIME_BASE_HZ) * NANOS_PER_SECOND, TIME_BASE_HZ);
    }

    /** Sets PF, UF and AF for the events between the last access and now. */
    private void syncFlags() {
        long now = context.nanos();
        long last = flagsUpTo;
        flagsUpTo = now;
        if (now <= last || !dividerRunning()) return;
        int period = periodicCycles();
        if (period != 0 && Math.floorDiv(timeBaseCycles(now), period) > Math.floorDiv(timeBaseCycles(last), period)) {
            flags |= C_PF;
        }
        if (clockRunning()) {
            long before = secondsAtOrigin + secondsSinceOrigin(last);
            long after = currentSeconds();
            if (after > before) {
                flags |= C_UF;
                if (nextAlarm(before) <= after) flags |= C_AF;
            }
        }
    }

    private boolean irqFlag() {
        int enables = cmos[REG_B] & (B_PIE | B_AIE | B_UIE);
        // PIE/AIE/UIE and PF/AF/UF sit at the same bit positions in registers B and C.
        return (flags & enables) != 0;
    }

    /** The first second after {@code seconds} whose time matches the alarm, or Long.MAX_VALUE. */
    private long nextAlarm(long seconds) {
        boolean[] hours = alarmValues(cmos[HOURS_ALARM], 24, true);
        boolean[] minutes = alarmValues(cmos[MINUTES_ALARM], 60, false);
        boolean[] secs = alarmValues(cmos[SECONDS_ALARM], 60, false);
        long today = Math.floorDiv(seconds, 86_400) * 86_400;
        for (long day = today; day <= today + 86_400; day += 86_400) {
            for (int h = 0; h < 24; h++) {
                if (!hours[h] || day + h * 3600 + 3599 <= seconds) continue;
                for (int m = 0; m < 60; m++) {
                    if (!minutes[m] || day + h * 3600 + m * 60 + 59 <= seconds) continue;
                    for (int s = 0; s < 60; s++) {
                        long candidate = day + h * 3600 + m * 60 + s;
                        if (secs[s] && candidate > seconds) return candidate;
                    }
                }
            }
        }
        return Long.MAX_VALUE;
    }

    /** Which values (0..count-1) an alarm byte accepts: all for "don't care" (0xC0-0xFF). */
    private boolean[] alarmValues(byte alarm, int count, boolean hour) {
        boolean[] accepted = new boolean[count];
        int a = alarm & 0xFF;
        for (int v = 0; v < count; v++) {
            accepted[v] = (a & 0xC0) == 0xC0 || (hour ? formatHour(v) : format(v)) == a;
        }
        return accepted;
    }

    /** Drives IRQ 8 from IRQF and arms a timer for the next event that would raise it. */
    private void updateIrqAndTimer() {
        boolean level = irqFlag();
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
        long next = level ? Long.MAX_VALUE : nextInterruptEvent();
        if (timer != null && timer.deadline() == next) return; // already armed for it
        if (timer != null) timer.cancel();
        timer = next == Long.MAX_VALUE ? null : context.schedule(next, this::timerFired);
    }

    /** When the next enabled periodic, update-ended or alarm event happens, or Long.MAX_VALUE. */
    private long nextInterruptEvent() {
        if (!dividerRunning()) return Long.MAX_VALUE;
        long now = context.nanos();
        long next = Long.MAX_VALUE;
        int b = cmos[REG_B];
        int period = periodicCycles();
        if ((b & B_PIE) != 0 && period != 0) {
            next = nanosOfCycle((Math.floorDiv(timeBaseCycles(now), period) + 1) * period);
        }
        if (clockRunning() && (b & B_UIE) != 0) {
            next = Math.min(next, originNanos + (secondsSinceOrigin(now) + 1) * NANOS_PER_SECOND);
        }
        if (clockRunning() && (b & B_AIE) != 0) {
            long alarm = nextAlarm(currentSeconds());
            if (alarm != Long.MAX_VALUE) {
                next = Math.min(next, originNanos + (alarm - secondsAtOrigin) * NANOS_PER_SECOND);
            }
        }
        return next;
    }

    private void timerFired() {
        timer = null;
        syncFlags();
        updateIrqAndTimer();
    }

    /**
     * {@code type = cmos-rtc}: ports 0x70-0x71. Parameters: {@code base-time} (ISO-8601 instant
     * the clock reads at virtual time 0; default 2026-01-01T00:00:00Z), {@code irq} (default 8),
     * {@code ram-below-4g} (bytes of RAM below 4 GiB; default: all of RAM under 3.5 GiB, else
     * 3 GiB).
     */
    public static final class Factory implements DeviceFactory {
        /** The years the century and year registers can show: 0000-9999. */
        private static final long FIRST_SECOND = LocalDateTime.of(0, 1, 1, 0, 0).toEpochSecond(ZoneOffset.UTC);
        private static final long END_SECOND = LocalDateTime.of(10_000, 1, 1, 0, 0).toEpochSecond(ZoneOffset.UTC);

        @Override public String type() { return "cmos-rtc"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            String text = DeviceParams.string(params, "base-time", DEFAULT_BASE_TIME);
            Instant base;
            try {
                base = Instant.parse(text);
            } catch (DateTimeException e) {
                throw new ConfigException.BadValue(params.origin(), "base-time",
                        "expected an ISO-8601 instant such as " + DEFAULT_BASE_TIME + ", got '" + text + "'");
            }
            if (base.getEpochSecond() < FIRST_SECOND || base.getEpochSecond() >= END_SECOND) {
                throw new ConfigException.BadValue(params.origin(), "base-time", "must lie in the years 0000-9999, got " + text);
            }
            int irq = DeviceParams.intIn(params, "irq", 0, 15, 8);
            long ram = context.machine().ramBytes();
            long below = ram >= 0xE000_0000L ? 0xC000_0000L : ram;
            if (params.hasPath("ram-below-4g")) {
                below = params.getBytes("ram-below-4g");
                if (below <= 0 || below > Math.min(ram, 1L << 32)) {
                    throw new ConfigException.BadValue(params.origin(), "ram-below-4g",
                            "must be more than 0 and at most the RAM size and 4 GiB, got " + below);
                }
            }
            return new CmosRtc(name, base, below, context.interruptLine(irq), context);
        }
    }
}
