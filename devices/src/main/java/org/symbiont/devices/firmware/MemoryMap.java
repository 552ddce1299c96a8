package org.symbiont.devices.firmware;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The guest-physical memory map firmware reports to the guest — what the BIOS answers to INT 15h
 * E820, what the Multiboot {@code mmap} lists, what QEMU puts in the fw_cfg file {@code etc/e820}:
 * guest RAM, minus the regions the VMM takes out of it, plus the reserved regions it reports.
 *
 * <p>The VMM describes what it reserves as {@link Region}s: reported ones (reserved, ACPI
 * reclaimable, ACPI NVS) appear in the map with their type wherever they lie, also above RAM
 * (the local APIC and IOAPIC pages, for instance); holes (the legacy VGA window, a PCI hole in a
 * guest larger than 3 GiB) are only cut out of RAM and not reported, as PC firmware does. Every
 * byte of RAM outside the regions is {@link Type#AVAILABLE}. Regions may not overlap.
 *
 * <p>{@link #pcLegacyRegions()} is the low-memory layout of a PC as QEMU with SeaBIOS presents it,
 * with the whole BIOS area 0xE0000-0xFFFFF reserved because the ACPI tables live there (see
 * {@link AcpiTables}).
 */
public final class MemoryMap {

    /** Address range types; the numbers are the E820 and Multiboot {@code mmap} type codes. */
    public enum Type {
        AVAILABLE(1), RESERVED(2), ACPI_RECLAIMABLE(3), ACPI_NVS(4);

        public final int code;

        Type(int code) {
            this.code = code;
        }
    }

    /** One range of the map: {@code [base, base + length)}. */
    public record Entry(long base, long length, Type type) {
        public long end() {
            return base + length;
        }
    }

    /** What a region does to the map. */
    public enum Kind {
        /** Reported as reserved (firmware areas, MMIO the OS must not claim). */
        RESERVED(Type.RESERVED),
        /** Reported as ACPI reclaimable memory (tables the OS may reuse after reading them). */
        ACPI_RECLAIMABLE(Type.ACPI_RECLAIMABLE),
        /** Reported as ACPI NVS memory (preserved across sleep states). */
        ACPI_NVS(Type.ACPI_NVS),
        /** Taken out of RAM and not reported at all (VGA window, PCI hole). */
        HOLE(null);

        final Type reportedAs;

        Kind(Type reportedAs) {
            this.reportedAs = reportedAs;
        }
    }

    /** A range the VMM takes out of RAM or reports: {@code [base, base + length)}. */
    public record Region(long base, long length, Kind kind) {
        public Region {
            if (base < 0 || length <= 0 || base + length < base) {
                throw new IllegalArgumentException(String.format("memory region [%#x, +%#x) is not a valid range", base, length));
            }
        }

        public long end() {
            return base + length;
        }
    }

    /** The extended BIOS data area QEMU/SeaBIOS reserve below the VGA window (hence mem_lower = 639 KiB). */
    public static final Region EBDA = new Region(0x9_FC00, 0x400, Kind.RESERVED);
    /** The VGA window and option-ROM space: not RAM, not reported. */
    public static final Region VGA_AND_OPTION_ROMS = new Region(0xA_0000, 0x4_0000, Kind.HOLE);
    /** The BIOS area, where {@link AcpiTables} places the RSDP and the tables. */
    public static final Region BIOS_AREA = new Region(AcpiTables.REGION_BASE, AcpiTables.REGION_END - AcpiTables.REGION_BASE, Kind.RESERVED);

    private final List<Entry> entries;

    private MemoryMap(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** The low-memory regions of a PC: {@link #EBDA}, {@link #VGA_AND_OPTION_ROMS}, {@link #BIOS_AREA}. */
    public static List<Region> pcLegacyRegions() {
        return List.of(EBDA, VGA_AND_OPTION_ROMS, BIOS_AREA);
    }

    /**
     * The map of a guest with {@code ramBytes} of RAM at guest-physical {@code [0, ramBytes)} and
     * the given regions, sorted by address.
     *
     * @throws IllegalArgumentException when two regions overlap (a VMM configuration bug)
     */
    public static MemoryMap build(long ramBytes, List<Region> regions) {
        if (ramBytes <= 0) throw new IllegalArgumentException("guest RAM size must be positive, got " + ramBytes);
        List<Region> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparingLong(Region::base));
        for (int k = 1; k < sorted.size(); k++) {
            Region a = sorted.get(k - 1), b = sorted.get(k);
            if (b.base() < a.end()) {
                throw new IllegalArgumentException(String.format("memory regions [%#x, %#x) %s and [%#x, %#x) %s overlap",
                        a.base(), a.end(), a.kind(), b.base(), b.end(), b.kind()));
            }
        }
        List<Entry> out = new ArrayList<>();
        long cursor = 0;
        for (Region r : sorted) {
            if (r.base() > cursor && cursor < ramBytes) {
                out.add(new Entry(cursor, Math.min(r.base(), ramBytes) - cursor, Type.AVAILABLE));
            }
            if (r.kind().reportedAs != null) out.add(new Entry(r.base(), r.length(), r.kind().reportedAs));
            cursor = Math.max(cursor, r.end());
        }
        if (cursor < ramBytes) out.add(new Entry(cursor, ramBytes - cursor, Type.AVAILABLE));
        out.sort(Comparator.comparingLong(Entry::base));
        return new MemoryMap(out);
    }

    public List<Entry> entries() {
        return entries;
    }

    /** True when {@code [base, base + length)} lies inside one available range. */
    public boolean isAvailable(long base, long length) {
        for (Entry e : entries) {
            if (e.type() == Type.AVAILABLE && base >= e.base() && base + length <= e.end() && base + length >= base) return true;
        }
        return false;
    }

    /**
     * How many bytes of available memory follow {@code address} without a gap: 0 when
     * {@code address} is not available. Multiboot's mem_lower (from 0) and mem_upper (from 1 MiB)
     * are this in KiB.
     */
    public long availableFrom(long address) {
        for (Entry e : entries) {
            if (e.type() == Type.AVAILABLE && address >= e.base() && address < e.end()) return e.end() - address;
        }
        return 0;
    }

    /**
     * The map in the layout of QEMU's fw_cfg file {@code etc/e820} and of the BIOS E820 call: per
     * entry a little-endian 64-bit base, 64-bit length and 32-bit type, packed (20 bytes).
     */
    public byte[] e820Bytes() {
        ByteBuffer b = ByteBuffer.allocate(20 * entries.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (Entry e : entries) b.putLong(e.base()).putLong(e.length()).putInt(e.type().code);
        return b.array();
    }
}
