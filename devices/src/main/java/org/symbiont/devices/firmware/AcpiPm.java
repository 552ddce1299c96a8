package org.symbiont.devices.firmware;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.List;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.devices.VirtualTimer;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The ACPI fixed hardware of a PC chipset: the PM1a event and control register blocks and the
 * power-management timer (ACPI 6.5 section 4.8), laid out as in Intel's ICH9 and QEMU's q35
 * machine, and the ICH9 reset control register at port 0xCF9. The FADT {@link AcpiTables}
 * writes describes exactly this layout.
 *
 * <p>Ports, relative to {@code iobase} (0x600):
 * <ul>
 * <li>+0, 16 bits: PM1_STS. TMR_STS (bit 0) is set each time bit 23 (bit 31 with a 32-bit timer)
 *     of the timer changes; PWRBTN_STS (bit 8) when the VMM presses the power button
 *     ({@link #pressPowerButton()}). Writing 1 clears a bit. Other status bits belong to events
 *     this machine does not have (no BIOS to set GBL_STS, no sleep states to wake from, the RTC
 *     event is not in the fixed registers: FADT FIX_RTC) and read 0.
 * <li>+2, 16 bits: PM1_EN. TMR_EN, GBL_EN and PWRBTN_EN are read/write; other bits read 0.
 * <li>+4, 16 bits: PM1_CNT. SCI_EN (bit 0, set at reset: there is no SMM and the FADT has no
 *     SMI command port, so the machine is always in ACPI mode), BM_RLD (bit 1) and SLP_TYP
 *     (bits 10-12) are read/write; GBL_RLS (bit 2) and SLP_EN (bit 13) are write-only and read 0.
 *     Writing SLP_EN with SLP_TYP = {@link #S5_SLEEP_TYPE} (the value of the DSDT's \_S5, QEMU's
 *     value, so the well-known {@code outw(0x604, 0x2000)} works too) powers the machine off:
 *     {@link DeviceContext#exitMachine(int) exitMachine(0)}, as QEMU exits with status 0. Other
 *     sleep types are not offered by the DSDT and are ignored.
 * <li>+6, 16 bits: reserved, reads 0.
 * <li>+8, 32 bits: PM_TMR, read-only: 3.579545 MHz × virtual time, 24 bits wide (the upper byte
 *     reads 0) or 32 bits with {@code timer-bits = 32} (the FADT then sets TMR_VAL_EXT). It runs
 *     freely; a machine reset does not restart it.
 * </ul>
 * Registers may be accessed with any size at any offset; each byte goes to the register it lies
 * in. Bytes past the block read as 0xFF.
 *
 * <p>The SCI is ISA IRQ 9 (GSI 9, level-triggered, active high, per the MADT): asserted while
 * SCI_EN is set and a status bit is set together with its enable bit.
 *
 * <p>Reset control, port 0xCF9 (8 bits, when {@code reset-register} is on): a write with bit 2
 * (RST_CPU) set resets the machine ({@link DeviceContext#resetMachine()}); the FADT's reset
 * register points here with the value 0x06. Otherwise bits 1 (SYS_RST) and 3 (FULL_RST) are
 * stored and read back, as on ICH9. Port 0xCF9 lies inside the PCI configuration address
 * register's dword at 0xCF8: a PCI host bridge must leave byte accesses to 0xCF9 to this device.
 */
public final class AcpiPm implements PortIoDevice, Snapshottable {
    public static final long TIMER_HZ = 3_579_545;
    public static final int BLOCK_SIZE = 12;
    public static final int PM1_STS = 0, PM1_EN = 2, PM1_CNT = 4, PM_TMR = 8;
    public static final int PM1_EVT_LENGTH = 4, PM1_CNT_LENGTH = 2, PM_TMR_LENGTH = 4;
    public static final int RESET_PORT = 0xCF9, RESET_VALUE = 0x06;
    /** The SCI's ISA IRQ. */
    public static final int SCI_IRQ = 9;

    public static final int TMR_STS = 1, PWRBTN_STS = 1 << 8;
    public static final int TMR_EN = 1, GBL_EN = 1 << 5, PWRBTN_EN = 1 << 8;
    public static final int SCI_EN = 1, BM_RLD = 1 << 1, GBL_RLS = 1 << 2, SLP_EN = 1 << 13;
    public static final int SLP_TYP_SHIFT = 10, SLP_TYP_MASK = 7 << SLP_TYP_SHIFT;
    /** The SLP_TYP value of S5 (soft off) this machine uses, and the DSDT's \_S5 reports. */
    public static final int S5_SLEEP_TYPE = 0;

    private static final int ENABLE_BITS = TMR_EN | GBL_EN | PWRBTN_EN;
    private static final int CONTROL_BITS = SCI_EN | BM_RLD | SLP_TYP_MASK;
    private static final int EVENT_BITS = TMR_STS | PWRBTN_STS;
    private static final int RST_CPU = 1 << 2, RESET_STORED_BITS = 0x0A;

    private final String name;
    private final int base;
    private final int timerBits;
    private final boolean resetRegister;
    private final DeviceContext context;
    private final InterruptLine sci;
    private final List<PortRange> ports;

    private int status;
    private int enable;
    private int control;
    private int resetControl;
    /** The timer half-period (bit timerBits-1 period) already reflected in TMR_STS. */
    private long accountedEpoch;
    private VirtualTimer overflow;

    public AcpiPm(String name, int base, int timerBits, boolean resetRegister, DeviceContext context) {
        if (timerBits != 24 && timerBits != 32) throw new IllegalArgumentException("the ACPI PM timer has 24 or 32 bits, not " + timerBits);
        this.name = name;
        this.base = base;
        this.timerBits = timerBits;
        this.resetRegister = resetRegister;
        this.context = context;
        this.sci = context.interruptLine(SCI_IRQ);
        this.ports = resetRegister ? List.of(new PortRange(base, BLOCK_SIZE), new PortRange(RESET_PORT, 1)) : List.of(new PortRange(base, BLOCK_SIZE));
        reset();
    }

    public int ioBase() { return base; }
    public boolean timer32() { return timerBits == 32; }
    public boolean hasResetRegister() { return resetRegister; }

    @Override public String name() { return name; }
    @Override public List<PortRange> portRanges() { return ports; }

    @Override
    public void reset() {
        status = 0;
        enable = 0;
        control = SCI_EN;
        resetControl = 0;
        if (overflow != null) overflow.cancel();
        overflow = null;
        accountedEpoch = epoch(ticks(context.nanos()));
        sci.set(false);
    }

    /**
     * The VMM presses the power button (a graceful shutdown request): PWRBTN_STS is set, and the
     * SCI raised if the OS enabled the event. An ACPI OS then shuts down and enters S5.
     */
    public void pressPowerButton() {
        syncTimerStatus();
        status |= PWRBTN_STS;
        updateSci();
    }

    /** PM timer ticks at virtual time {@code nanos}: floor(nanos × 3579545 / 10^9), exactly. */
    static long ticks(long nanos) {
        return nanos / 1_000_000_000L * TIMER_HZ + nanos % 1_000_000_000L * TIMER_HZ / 1_000_000_000L;
    }

    /** The first virtual time at which {@link #ticks} reaches {@code t}. */
    static long nanosAt(long t) {
        return t / TIMER_HZ * 1_000_000_000L + Math.ceilDiv(t % TIMER_HZ * 1_000_000_000L, TIMER_HZ);
    }

    private long epoch(long ticks) {
        return ticks >>> (timerBits - 1);
    }

    private void syncTimerStatus() {
        long e = epoch(ticks(context.nanos()));
        if (e != accountedEpoch) {
            status |= TMR_STS;
            accountedEpoch = e;
        }
    }

    private void updateSci() {
        sci.set((control & SCI_EN) != 0 && (status & enable & EVENT_BITS) != 0);
    }

    /** Keeps a virtual-time event at the next timer-bit toggle while TMR_EN asks for the SCI. */
    private void armOverflow() {
        if ((enable & TMR_EN) != 0 && overflow == null) {
            overflow = context.schedule(nanosAt((accountedEpoch + 1) << (timerBits - 1)), this::overflowed);
        } else if ((enable & TMR_EN) == 0 && overflow != null) {
            overflow.cancel();
            overflow = null;
        }
    }

    private void overflowed() {
        overflow = null;
        syncTimerStatus();
        updateSci();
        armOverflow();
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    /** PM1 status, enable and control, the reset register, the timer epoch accounted for and the overflow timer. */
    @Override
    public void saveState(SectionWriter out) {
        out.u16(status).u16(enable).u16(control).u8(resetControl).i64(accountedEpoch);
        DeviceState.writeTimer(out, overflow);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        if (overflow != null) overflow.cancel();
        status = bits(in, EVENT_BITS, "PM1 status");
        enable = bits(in, ENABLE_BITS, "PM1 enable");
        control = bits(in, CONTROL_BITS, "PM1 control");
        int at = in.position();
        resetControl = in.u8("reset register");
        if ((resetControl & ~RESET_STORED_BITS) != 0) throw in.malformed(at, "reset register", String.format("is %#x, beyond bits %#x", resetControl, RESET_STORED_BITS));
        accountedEpoch = in.i64("timer epoch");
        overflow = DeviceState.readTimer(in, "overflow timer", context, this::overflowed);
        updateSci();
    }

    private static int bits(SectionReader in, int allowed, String field) throws SnapshotException {
        int at = in.position();
        int value = in.u16(field);
        if ((value & ~allowed) != 0) throw in.malformed(at, field, String.format("is %#x, beyond bits %#x", value, allowed));
        return value;
    }

    @Override
    public long ioRead(int port, int size) {
        if (resetRegister && port == RESET_PORT) {
            return size == 1 ? resetControl : resetControl | (-1L << 8) & mask(size);
        }
        syncTimerStatus();
        long timer = ticks(context.nanos()) & ((1L << timerBits) - 1);
        long v = 0;
        for (int k = 0; k < size; k++) {
            int off = port - base + k;
            long b = switch (off) {
                case 0, 1 -> status >>> (8 * off);
                case 2, 3 -> enable >>> (8 * (off - 2));
                case 4, 5 -> control >>> (8 * (off - 4));
                case 6, 7 -> 0;
                case 8, 9, 10, 11 -> timer >>> (8 * (off - 8));
                default -> 0xFF;
            };
            v |= (b & 0xFF) << (8 * k);
        }
        return v;
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    @Override
    public void ioWrite(int port, int size, long value) {
        if (resetRegister && port == RESET_PORT) {
            writeResetControl((int) value & 0xFF);
            return;
        }
        syncTimerStatus();
        int statusValue = 0, enableValue = 0, enableMask = 0, controlValue = 0, controlMask = 0;
        for (int k = 0; k < size; k++) {
            int off = port - base + k;
            int b = (int) (value >>> (8 * k)) & 0xFF;
            switch (off) {
                case 0, 1 -> statusValue |= b << (8 * off);
                case 2, 3 -> {
                    enableValue |= b << (8 * (off - 2));
                    enableMask |= 0xFF << (8 * (off - 2));
                }
                case 4, 5 -> {
                    controlValue |= b << (8 * (off - 4));
                    controlMask |= 0xFF << (8 * (off - 4));
                }
                default -> { } // reserved bytes and the read-only timer
            }
        }
        status &= ~statusValue;
        enable = (enable & ~enableMask | enableValue & enableMask) & ENABLE_BITS;
        if (controlMask != 0) writeControl(controlValue, controlMask);
        updateSci();
        armOverflow();
    }

    private void writeControl(int value, int byteMask) {
        control = (control & ~byteMask | value & byteMask) & CONTROL_BITS;
        if ((value & byteMask & SLP_EN) != 0 && (control & SLP_TYP_MASK) >>> SLP_TYP_SHIFT == S5_SLEEP_TYPE) {
            context.exitMachine(0);
        }
    }

    private void writeResetControl(int value) {
        if ((value & RST_CPU) != 0) {
            context.resetMachine();
        } else {
            resetControl = value & RESET_STORED_BITS;
        }
    }

    /**
     * {@code type = acpi-pm}. Parameters: {@code iobase} (default 0x600: PM1a event block at +0,
     * PM1a control at +4, PM timer at +8), {@code timer-bits} (24, the default as in QEMU, or 32),
     * {@code reset-register} (default true: the reset control register at port 0xCF9).
     */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "acpi-pm"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            int base = params.hasPath("iobase") ? params.getInt("iobase") : 0x600;
            if (base < 0 || base + BLOCK_SIZE > 0x10000 || (base & 3) != 0) {
                throw new ConfigException.BadValue(params.origin(), "iobase", String.format("must be a 4-byte aligned port with 12 ports below 0x10000, got %#x", base));
            }
            int bits = params.hasPath("timer-bits") ? params.getInt("timer-bits") : 24;
            if (bits != 24 && bits != 32) {
                throw new ConfigException.BadValue(params.origin(), "timer-bits", "must be 24 or 32, got " + bits);
            }
            boolean reset = !params.hasPath("reset-register") || params.getBoolean("reset-register");
            if (reset && base <= RESET_PORT && RESET_PORT < base + BLOCK_SIZE) {
                throw new ConfigException.BadValue(params.origin(), "iobase", String.format("%#x overlaps the reset register at 0xcf9", base));
            }
            return new AcpiPm(name, base, bits, reset, context);
        }
    }
}
