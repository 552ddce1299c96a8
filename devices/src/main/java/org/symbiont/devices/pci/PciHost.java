package org.symbiont.devices.pci;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A PCI host bridge with one bus (bus 0), reached through configuration mechanism #1 (PCI Local
 * Bus Specification 3.0, section 3.2.2.3.2), with the identity of the Intel 82441FX (i440FX) PMC
 * that QEMU's {@code pc} machine has at 00:00.0: vendor 8086h, device 1237h, revision 02h, class
 * 060000h (host bridge), subsystem 1AF4h:1100h as QEMU sets it, command 0006h and status 0280h
 * hard-wired (datasheet defaults). The chipset registers past the standard header (PAM, SMRAM,
 * DRAM rows) are not modelled: they read 0 and ignore writes, as there is no BIOS to shadow.
 *
 * <p>CONFIG_ADDRESS (port 0CF8h) is a dword register: enable (bit 31), bus (23-16), device
 * (15-11), function (10-8), register (7-2); reserved bits 30-24 and 1-0 read 0. Only dword
 * accesses reach it, as the specification requires; other sizes at 0CF8h are not the bridge's
 * (reads return all ones, writes are dropped), which is why the bridge claims port 0CF8h alone
 * and leaves 0CF9h-0CFBh to others (0CF9h is the reset control register). CONFIG_DATA (0CFCh-0CFFh)
 * carries a configuration cycle to the selected register with the byte lanes of the access:
 * a byte, word or dword at 0CFCh + k reaches register + k; bytes of a misaligned access past
 * 0CFFh read all ones. With the enable bit clear, on another bus, at a function other than 0 or
 * at an empty slot, reads return all ones (vendor ID FFFFh: no device) and writes are dropped.
 *
 * <p>INTx routing is that of the PIIX3 behind QEMU's i440FX: pin INTA#-INTD# (1-4) of device d
 * drives PIRQ[(d + pin - 2) mod 4], and each PIRQ is wired to a GSI from a table (by default
 * PIRQA-D to 10, 10, 11, 11, the routing SeaBIOS programs into the PIIX3 before it boots a guest).
 * The lines are level-triggered and shared: a GSI is asserted while at least one function routed
 * to it asserts its INTx#.
 *
 * <p>{@link #assignResources} plays the firmware's part for a guest booted without a BIOS.
 *
 * <p>State ({@link Snapshottable}): CONFIG_ADDRESS and the host bridge's configuration space.
 * The plugged functions and the PIRQ routing are configuration; each function is a device with
 * its own state, and the levels of the shared GSIs follow the INTx# wires the functions drive
 * again when they are restored.
 */
public final class PciHost implements PortIoDevice, Snapshottable {
    public static final int CONFIG_ADDRESS = 0xCF8;
    public static final int CONFIG_DATA = 0xCFC;
    /** Where firmware starts placing I/O BARs (SeaBIOS on i440FX). */
    public static final int IO_WINDOW_BASE = 0xC000;
    public static final int IO_WINDOW_END = 0x10000;
    /** QEMU's i440FX: PIRQA-D as SeaBIOS routes them. */
    public static final List<Integer> DEFAULT_PIRQ_GSIS = List.of(10, 10, 11, 11);

    private static final int ENABLE = 0x8000_0000;
    /** The bits of CONFIG_ADDRESS that hold a value: enable, bus, device, function, register. */
    private static final int ADDRESS_BITS = 0x80FF_FFFC;
    private static final long ALL_ONES = 0xFFFF_FFFFL;

    private final String name;
    private final PciFunction[] slots = new PciFunction[32];
    private final PciConfigSpace bridge;
    private final int[] pirqGsis;
    private final Map<Integer, SharedLine> lines = new HashMap<>();
    private final List<PortRange> ports = List.of(new PortRange(CONFIG_ADDRESS, 1), new PortRange(CONFIG_DATA, 4));
    private int configAddress;

    /** A firmware BAR assignment: {@code base} of {@code size} in I/O or memory space. */
    public record Assignment(int device, int bar, boolean io, long base, long size) { }

    /** A GSI shared by the INTx# wires routed to it. */
    private static final class SharedLine {
        final InterruptLine out;
        int asserting;

        SharedLine(InterruptLine out) {
            this.out = out;
        }
    }

    /** One function's INTx# wire into the router; safe to drive from any thread. */
    private final class IntxWire implements InterruptLine {
        private final SharedLine line;
        private boolean asserted;

        IntxWire(SharedLine line) {
            this.line = line;
        }

        @Override
        public void set(boolean level) {
            synchronized (lines) {
                if (level == asserted) return;
                asserted = level;
                line.asserting += level ? 1 : -1;
                if (level && line.asserting == 1) line.out.set(true);
                if (!level && line.asserting == 0) line.out.set(false);
            }
        }
    }

    /**
     * A host bridge whose PIRQA-D drive the GSIs {@code pirqGsis} (four entries) of
     * {@code context}.
     */
    public PciHost(String name, List<Integer> pirqGsis, DeviceContext context) {
        if (pirqGsis.size() != 4) throw new IllegalArgumentException("PIRQA-D need four GSIs, got " + pirqGsis);
        this.name = name;
        this.pirqGsis = new int[4];
        for (int i = 0; i < 4; i++) {
            int gsi = pirqGsis.get(i);
            this.pirqGsis[i] = gsi;
            lines.computeIfAbsent(gsi, g -> new SharedLine(context.interruptLine(g)));
        }
        bridge = new PciConfigSpace(0x8086, 0x1237, 0x02, 0x060000, 0x1AF4, 0x1100);
        bridge.set(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        bridge.setWritable(PciConfigSpace.COMMAND, 2, 0);
        bridge.set(PciConfigSpace.STATUS, 2, 0x0280);
        slots[0] = new PciFunction() {
            @Override public int configRead(int offset, int size) { return bridge.read(offset, size); }
            @Override public void configWrite(int offset, int size, int value) { bridge.write(offset, size, value); }
            @Override public void connectInterrupt(InterruptLine intx) { bridge.connectInterrupt(intx); }
            @Override public void connectRangesChanged(Runnable listener) { bridge.connectRangesChanged(listener); }
            @Override public OptionalInt requestedSlot() { return OptionalInt.of(0); }
        };
    }

    @Override public String name() { return name; }
    @Override public List<PortRange> portRanges() { return ports; }

    /** Power-on: CONFIG_ADDRESS cleared. Plugged functions are reset as devices of their own. */
    @Override
    public void reset() {
        configAddress = 0;
        bridge.reset();
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    /** CONFIG_ADDRESS, then the host bridge's configuration space. */
    @Override
    public void saveState(SectionWriter out) {
        out.i32(configAddress);
        bridge.saveState(out);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        int at = in.position();
        int address = in.i32("CONFIG_ADDRESS");
        if ((address & ~ADDRESS_BITS) != 0) {
            throw in.malformed(at, "CONFIG_ADDRESS", String.format("is %#x, with reserved bits set", address));
        }
        configAddress = address;
        bridge.restoreState(in);
    }

    // ---- plugging functions ----

    /**
     * Plugs {@code fn} in as function 0 of {@code device} (1-31; 0 is the host bridge) and wires
     * its interrupt pin to its GSI.
     */
    public void plug(int device, PciFunction fn) {
        if (device < 1 || device > 31) throw new IllegalArgumentException("PCI device number " + device + " is not 1-31 (0 is the host bridge)");
        if (slots[device] != null) throw new IllegalArgumentException("PCI slot " + device + " is already taken");
        slots[device] = fn;
        int pin = fn.configRead(PciConfigSpace.INTERRUPT_PIN, 1) & 0xFF;
        fn.connectInterrupt(pin >= 1 && pin <= 4 ? new IntxWire(lines.get(gsi(device, pin))) : InterruptLine.NONE);
    }

    /** The GSIs PIRQA-D drive. */
    public List<Integer> pirqGsis() {
        return java.util.Arrays.stream(pirqGsis).boxed().toList();
    }

    /** The lowest free device number, or -1 when the bus is full. */
    public int freeSlot() {
        for (int d = 1; d < 32; d++) if (slots[d] == null) return d;
        return -1;
    }

    /** The function at {@code device} (0 is the host bridge), or null. */
    public PciFunction function(int device) {
        return slots[device];
    }

    /** The GSI that interrupt pin {@code pin} (1-4 for INTA#-INTD#) of {@code device} drives. */
    public int gsi(int device, int pin) {
        if (pin < 1 || pin > 4) throw new IllegalArgumentException("interrupt pin " + pin + " is not 1-4");
        return pirqGsis[(device + pin - 2) & 3];
    }

    // ---- configuration mechanism #1 ----

    @Override
    public long ioRead(int port, int size) {
        if (port == CONFIG_ADDRESS) return size == 4 ? configAddress & ALL_ONES : ALL_ONES;
        int lane = port - CONFIG_DATA;
        PciFunction fn = selected();
        if (fn == null || lane < 0 || lane > 3) return ALL_ONES;
        int register = configAddress & 0xFC;
        if (lane % size == 0 && lane + size <= 4) return fn.configRead(register + lane, size) & ALL_ONES >>> (32 - 8 * size);
        long value = 0;
        for (int i = 0; i < size; i++) {
            long b = lane + i < 4 ? fn.configRead(register + lane + i, 1) & 0xFF : 0xFF;
            value |= b << (8 * i);
        }
        return value;
    }

    @Override
    public void ioWrite(int port, int size, long value) {
        if (port == CONFIG_ADDRESS) {
            if (size == 4) configAddress = (int) value & ADDRESS_BITS;
            return;
        }
        int lane = port - CONFIG_DATA;
        PciFunction fn = selected();
        if (fn == null || lane < 0 || lane > 3) return;
        int register = configAddress & 0xFC;
        if (lane % size == 0 && lane + size <= 4) {
            fn.configWrite(register + lane, size, (int) value);
            return;
        }
        for (int i = 0; i < size && lane + i < 4; i++) {
            fn.configWrite(register + lane + i, 1, (int) (value >>> (8 * i)) & 0xFF);
        }
    }

    private PciFunction selected() {
        if ((configAddress & ENABLE) == 0) return null;
        int bus = (configAddress >>> 16) & 0xFF;
        int function = (configAddress >>> 8) & 7;
        if (bus != 0 || function != 0) return null;
        return slots[(configAddress >>> 11) & 0x1F];
    }

    // ---- firmware ----

    /**
     * Does what SeaBIOS does before it boots a guest: sizes every BAR of every plugged function
     * (with its decoding off), places I/O BARs upwards from {@link #IO_WINDOW_BASE} and memory
     * BARs (32- and 64-bit alike) upwards from the base of {@code mmioWindow}, largest first,
     * each naturally aligned; then enables I/O and memory decoding and writes each function's
     * interrupt line register with the GSI its pin is routed to. Everything goes through
     * configuration cycles, so each function reports its new ranges through its listener.
     *
     * @return the assignments, by device and BAR
     * @throws IllegalStateException when the BARs do not fit in the I/O window or in
     *         {@code mmioWindow} (a machine configuration error)
     */
    public List<Assignment> assignResources(MmioRange mmioWindow) {
        record Bar(int device, int bar, boolean io, boolean is64, long size) { }
        List<Bar> bars = new ArrayList<>();
        for (int d = 0; d < 32; d++) {
            PciFunction fn = slots[d];
            if (fn == null) continue;
            int command = fn.configRead(PciConfigSpace.COMMAND, 2);
            fn.configWrite(PciConfigSpace.COMMAND, 2, command & ~(PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_MEMORY));
            for (int b = 0; b < 6; b++) {
                int offset = PciConfigSpace.BAR0 + 4 * b;
                int old = fn.configRead(offset, 4);
                long mask = probe(fn, offset);
                if ((old & PciConfigSpace.BAR_IO) != 0) {
                    mask &= ~3L;
                    if (mask != 0) bars.add(new Bar(d, b, true, false, Long.lowestOneBit(mask)));
                    continue;
                }
                boolean is64 = (old & 0b110) == PciConfigSpace.BAR_MEMORY_64 && b < 5;
                mask &= ~0xFL;
                if (is64) mask |= probe(fn, offset + 4) << 32;
                if (mask != 0) bars.add(new Bar(d, b, false, is64, Long.lowestOneBit(mask)));
                if (is64) b++;
            }
        }
        bars.sort(Comparator.comparingLong(Bar::size).reversed());
        long nextIo = IO_WINDOW_BASE;
        long nextMemory = mmioWindow.base();
        List<Assignment> assignments = new ArrayList<>();
        for (Bar bar : bars) {
            long base = alignUp(bar.io ? nextIo : nextMemory, bar.size);
            long end = base + bar.size;
            if (bar.io ? end > IO_WINDOW_END : end > mmioWindow.end()) {
                throw new IllegalStateException(String.format("PCI %s BARs do not fit: %02x.0 BAR %d needs %#x bytes at %#x, past %#x",
                        bar.io ? "I/O" : "memory", bar.device, bar.bar, bar.size, base, bar.io ? IO_WINDOW_END : mmioWindow.end()));
            }
            if (bar.io) nextIo = end;
            else nextMemory = end;
            PciFunction fn = slots[bar.device];
            int offset = PciConfigSpace.BAR0 + 4 * bar.bar;
            fn.configWrite(offset, 4, (int) base);
            if (bar.is64) fn.configWrite(offset + 4, 4, (int) (base >>> 32));
            assignments.add(new Assignment(bar.device, bar.bar, bar.io, base, bar.size));
        }
        for (int d = 0; d < 32; d++) {
            PciFunction fn = slots[d];
            if (fn == null) continue;
            int pin = fn.configRead(PciConfigSpace.INTERRUPT_PIN, 1) & 0xFF;
            if (pin >= 1 && pin <= 4) fn.configWrite(PciConfigSpace.INTERRUPT_LINE, 1, gsi(d, pin));
            int command = fn.configRead(PciConfigSpace.COMMAND, 2);
            fn.configWrite(PciConfigSpace.COMMAND, 2, command | PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_MEMORY);
        }
        assignments.sort(Comparator.comparingInt(Assignment::device).thenComparingInt(Assignment::bar));
        return assignments;
    }

    /** Writes all ones to the BAR dword at {@code offset}, reads back its mask, restores it. */
    private static long probe(PciFunction fn, int offset) {
        int old = fn.configRead(offset, 4);
        fn.configWrite(offset, 4, -1);
        long mask = fn.configRead(offset, 4) & ALL_ONES;
        fn.configWrite(offset, 4, old);
        return mask;
    }

    private static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /**
     * {@code type = pci-host}, parameter {@code pirq-gsis} (four GSIs for PIRQA-D, default
     * {@code [10, 10, 11, 11]}).
     */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "pci-host"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            List<Integer> gsis = params.hasPath("pirq-gsis") ? params.getIntList("pirq-gsis") : DEFAULT_PIRQ_GSIS;
            if (gsis.size() != 4 || gsis.stream().anyMatch(g -> g < 0 || g > 255)) {
                throw new ConfigException.BadValue(params.origin(), "pirq-gsis",
                        "must be four GSIs (0-255) for PIRQA-D, got " + gsis);
            }
            return new PciHost(name, gsis, context);
        }
    }
}
