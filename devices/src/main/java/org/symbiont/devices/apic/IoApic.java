package org.symbiont.devices.apic;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;
import java.util.Arrays;
import java.util.List;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.MmioDevice;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * An I/O APIC with 24 interrupt pins, per the Intel 82093AA I/O APIC datasheet, reporting
 * version 0x20 and offering the EOI register at base + 0x40 of later (ICH) I/O APICs, as QEMU's
 * default I/O APIC does.
 *
 * <p><b>Registers.</b> IOREGSEL at base + 0x00 selects a register (bits 7:0), IOWIN at base + 0x10
 * reads or writes it: 0x00 ID (bits 27:24), 0x01 version (0x00170020: maximum redirection entry 23,
 * version 0x20), 0x02 arbitration ID (the ID, read-only, as on the 82093AA), 0x10 + 2n / 0x11 + 2n
 * the low and high halves of redirection entry n. Other indexes read 0 and ignore writes. Writing
 * a vector to the EOI register (base + 0x40, any size) acts as an EOI message for it
 * ({@link #eoi(int)}).
 *
 * <p><b>Access sizes.</b> The registers are dwords. Reads of 1, 2 or 4 bytes return the bytes of
 * IOREGSEL or of the selected register at their byte offset; a write of any size to IOREGSEL sets
 * the index from its low byte; writes to IOWIN take effect only as 32-bit stores at base + 0x10
 * (the 82093AA requires dword accesses), others are ignored; 8-byte accesses act as two dword
 * accesses. The window is 4 KiB (as QEMU); offsets other than these read 0.
 *
 * <p><b>Redirection entries</b> (datasheet 3.2.4): vector 7:0, delivery mode 10:8, destination
 * mode 11, delivery status 12 (read-only, always 0: messages are delivered immediately), polarity
 * 13, remote IRR 14 (read-only), trigger mode 15, mask 16, destination 63:56; the other bits are
 * reserved and read 0. All entries are masked after reset.
 *
 * <p><b>Interrupt semantics.</b> {@link #setIrq(int, boolean)} gives a pin's electrical level;
 * polarity active-low inverts it. An edge-triggered entry sends a message on each rising edge of
 * the asserted level while unmasked; an edge on a masked pin is lost (datasheet: "edge-sensitive
 * interrupts signaled on a masked interrupt pin are ignored"). A level-triggered entry sends a
 * message while its pin is asserted and unmasked and remote IRR is clear, and sets remote IRR; the
 * EOI message for its vector clears remote IRR and, if the pin is still asserted, it sends again.
 * Unmasking a level-triggered entry with its pin asserted sends. Only fixed and lowest-priority
 * entries are level-triggered: SMI, NMI, INIT and ExtINT are always edge (datasheet 3.2.4).
 * Reprogramming an entry as edge-triggered clears its remote IRR (as QEMU and KVM: Linux relies on
 * it to recover a stuck level interrupt on I/O APICs without an EOI register). Entries with the
 * reserved delivery modes 3 and 6 send nothing.
 */
public final class IoApic implements MmioDevice, Snapshottable {
    public static final long DEFAULT_BASE = 0xFEC0_0000L;
    public static final int PINS = 24;
    public static final int VERSION = 0x20;
    public static final int WINDOW_SIZE = 0x1000;
    public static final int IOREGSEL = 0x00, IOWIN = 0x10, EOI = 0x40;
    public static final int REG_ID = 0x00, REG_VERSION = 0x01, REG_ARBITRATION = 0x02, REG_REDIRECTION = 0x10;

    public static final long ENTRY_MASKED = 1L << 16, ENTRY_LEVEL = 1L << 15, ENTRY_REMOTE_IRR = 1L << 14;
    public static final long ENTRY_ACTIVE_LOW = 1L << 13, ENTRY_LOGICAL = 1L << 11;
    /** Software-writable bits of a redirection entry: destination, mask, trigger, polarity, destination mode, delivery mode, vector. */
    private static final long ENTRY_WRITABLE = 0xFF00_0000_0001_AFFFL;

    private final String name;
    private final long base;
    private final int resetId;
    private final List<MmioRange> ranges;
    private InterruptMessageSink sink = InterruptMessageSink.NONE;

    private int id;
    private int ioregsel;
    private final long[] entries = new long[PINS];
    /** The electrical level on each pin. */
    private final boolean[] pinLevel = new boolean[PINS];

    /** @param id the I/O APIC ID after reset (0-15) */
    public IoApic(String name, long base, int id) {
        if ((base & (WINDOW_SIZE - 1)) != 0) throw new IllegalArgumentException(String.format("I/O APIC base %#x is not 4 KiB aligned", base));
        if (id < 0 || id > 15) throw new IllegalArgumentException("I/O APIC ID must be 0..15, got " + id);
        this.name = name;
        this.base = base;
        this.resetId = id;
        this.ranges = List.of(new MmioRange(base, WINDOW_SIZE));
        reset();
    }

    /** Where interrupt messages go (the VMM routes them to the local APICs). */
    public void connect(InterruptMessageSink sink) {
        this.sink = sink;
    }

    /** The I/O APIC ID (register 0, bits 27:24), as firmware reports it in the MADT. */
    public int id() {
        return id;
    }

    @Override
    public String name() {
        return name;
    }

    /** ID back to its configured value, IOREGSEL 0, every entry masked; pin levels are inputs and stay. */
    @Override
    public void reset() {
        id = resetId;
        ioregsel = 0;
        Arrays.fill(entries, ENTRY_MASKED);
    }

    @Override
    public List<MmioRange> mmioRanges() {
        return ranges;
    }

    // ---------------------------------------------------------------- inputs

    /** The electrical level on {@code pin} (0-23). */
    public void setIrq(int pin, boolean level) {
        if (pin < 0 || pin >= PINS) throw new IllegalArgumentException("I/O APIC pin must be 0.." + (PINS - 1) + ", got " + pin);
        boolean was = pinLevel[pin];
        pinLevel[pin] = level;
        long entry = entries[pin];
        if (isLevelTriggered(entry)) {
            service(pin);
        } else if (level != was && asserted(pin, entry) && (entry & ENTRY_MASKED) == 0) {
            send(pin);
        }
    }

    /** Pin {@code pin} as an {@link InterruptLine}, for wiring a device or a GSI to it. */
    public InterruptLine line(int pin) {
        if (pin < 0 || pin >= PINS) throw new IllegalArgumentException("I/O APIC pin must be 0.." + (PINS - 1) + ", got " + pin);
        return level -> setIrq(pin, level);
    }

    /**
     * An EOI message for {@code vector} (a local APIC's EOI of a level-triggered interrupt, or a
     * write to the EOI register): every entry with that vector and remote IRR set gets remote IRR
     * cleared and sends again if its pin is still asserted.
     */
    public void eoi(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long entry = entries[pin];
            if ((entry & ENTRY_REMOTE_IRR) != 0 && (entry & 0xFF) == (vector & 0xFF)) {
                entries[pin] = entry & ~ENTRY_REMOTE_IRR;
                service(pin);
            }
        }
    }

    /** A level-triggered entry requests while asserted, unmasked and not already accepted. */
    private void service(int pin) {
        long entry = entries[pin];
        if (!isLevelTriggered(entry) || (entry & (ENTRY_MASKED | ENTRY_REMOTE_IRR)) != 0 || !asserted(pin, entry)) return;
        entries[pin] = entry | ENTRY_REMOTE_IRR;
        send(pin);
    }

    private void send(int pin) {
        long entry = entries[pin];
        int deliveryMode = (int) (entry >> 8) & 7;
        if (deliveryMode == 3 || deliveryMode == DeliveryMode.STARTUP) return;
        sink.deliver((int) (entry >>> 56), (entry & ENTRY_LOGICAL) != 0, deliveryMode, (int) entry & 0xFF, isLevelTriggered(entry));
    }

    private boolean asserted(int pin, long entry) {
        return pinLevel[pin] != ((entry & ENTRY_ACTIVE_LOW) != 0);
    }

    private static boolean isLevelTriggered(long entry) {
        int deliveryMode = (int) (entry >> 8) & 7;
        return (entry & ENTRY_LEVEL) != 0 && (deliveryMode == DeliveryMode.FIXED || deliveryMode == DeliveryMode.LOWEST_PRIORITY);
    }

    // ---------------------------------------------------------------- registers

    /** The redirection entry of {@code pin} as a 64-bit value (for diagnostics and tests). */
    public long redirectionEntry(int pin) {
        return entries[pin];
    }

    private int readRegister(int index) {
        if (index >= REG_REDIRECTION && index < REG_REDIRECTION + 2 * PINS) {
            long entry = entries[(index - REG_REDIRECTION) >> 1];
            return (int) ((index & 1) == 0 ? entry : entry >>> 32);
        }
        return switch (index) {
            case REG_ID, REG_ARBITRATION -> id << 24;
            case REG_VERSION -> ((PINS - 1) << 16) | VERSION;
            default -> 0;
        };
    }

    private void writeRegister(int index, int value) {
        if (index == REG_ID) {
            id = (value >>> 24) & 0xF;
        } else if (index >= REG_REDIRECTION && index < REG_REDIRECTION + 2 * PINS) {
            int pin = (index - REG_REDIRECTION) >> 1;
            long old = entries[pin];
            long written = (index & 1) == 0
                    ? (old & 0xFFFF_FFFF_0000_0000L) | Integer.toUnsignedLong(value)
                    : (old & 0xFFFF_FFFFL) | ((long) value << 32);
            long entry = (written & ENTRY_WRITABLE) | (old & ENTRY_REMOTE_IRR);
            if ((entry & ENTRY_LEVEL) == 0) entry &= ~ENTRY_REMOTE_IRR;
            entries[pin] = entry;
            service(pin);
        }
    }

    @Override
    public long mmioRead(long address, int size) {
        if (size == 8) return (mmioRead(address, 4) & 0xFFFF_FFFFL) | (mmioRead(address + 4, 4) << 32);
        long mask = (1L << (8 * size)) - 1;
        long offset = address - base;
        if (offset < 0 || offset >= WINDOW_SIZE) return mask;
        if (offset < IOREGSEL + 4) return (Integer.toUnsignedLong(ioregsel) >>> (8 * offset)) & mask;
        if (offset >= IOWIN && offset < IOWIN + 4) return (Integer.toUnsignedLong(readRegister(ioregsel)) >>> (8 * (offset - IOWIN))) & mask;
        return 0;
    }

    @Override
    public void mmioWrite(long address, int size, long value) {
        if (size == 8) {
            mmioWrite(address, 4, value);
            mmioWrite(address + 4, 4, value >>> 32);
            return;
        }
        long offset = address - base;
        if (offset == IOREGSEL) {
            ioregsel = (int) value & 0xFF;
        } else if (offset == IOWIN && size == 4) {
            writeRegister(ioregsel, (int) value);
        } else if (offset == EOI) {
            eoi((int) value & 0xFF);
        }
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    /** The ID, IOREGSEL, the redirection table (with remote IRR) and the input pin levels; it drives no lines. */
    @Override
    public void saveState(SectionWriter out) {
        out.u8(id).u8(ioregsel).i64s(entries);
        for (boolean level : pinLevel) out.bool(level);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        id = DeviceState.u8In(in, 0, 15, "ID");
        ioregsel = in.u8("IOREGSEL");
        for (int pin = 0; pin < PINS; pin++) {
            int at = in.position();
            long entry = in.i64("redirection entry " + pin);
            if ((entry & ~(ENTRY_WRITABLE | ENTRY_REMOTE_IRR)) != 0) {
                throw in.malformed(at, "redirection entry " + pin, String.format("is %#x, with reserved bits set", entry));
            }
            entries[pin] = entry;
        }
        for (int pin = 0; pin < PINS; pin++) pinLevel[pin] = in.bool("pin " + pin + " level");
    }

    @Override
    public String toString() {
        return "IoApic[" + name + " id " + id + String.format(" at %#x]", base);
    }

    /**
     * {@code type = ioapic}. Parameters: {@code base} (default 0xFEC00000; a number or a string
     * such as {@code "0xfec00000"}, 4 KiB aligned) and {@code id} (0-15, default 0: QEMU resets its
     * I/O APIC's ID register to 0 and its ACPI MADT reports ID 0).
     */
    public static final class Factory implements DeviceFactory {
        @Override
        public String type() {
            return "ioapic";
        }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            long base = params.hasPath("base") ? address(params, "base") : DEFAULT_BASE;
            if ((base & (WINDOW_SIZE - 1)) != 0 || base < 0 || base >= 1L << 52) {
                throw new ConfigException.BadValue(params.origin(), "base", String.format("must be a 4 KiB aligned physical address, got %#x", base));
            }
            int id = params.hasPath("id") ? params.getInt("id") : 0;
            if (id < 0 || id > 15) throw new ConfigException.BadValue(params.origin(), "id", "must be 0..15, got " + id);
            return new IoApic(name, base, id);
        }

        /** A number, or a string in Java integer syntax ({@code 0x} hexadecimal allowed). */
        private static long address(Config params, String path) {
            if (params.getValue(path).valueType() == ConfigValueType.STRING) {
                String text = params.getString(path).trim();
                try {
                    return Long.decode(text);
                } catch (NumberFormatException e) {
                    throw new ConfigException.BadValue(params.origin(), path, "must be an address such as 0xfec00000, got '" + text + "'");
                }
            }
            return params.getLong(path);
        }
    }
}
