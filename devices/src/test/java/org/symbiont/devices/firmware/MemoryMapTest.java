package org.symbiont.devices.firmware;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.firmware.MemoryMap.Entry;
import org.symbiont.devices.firmware.MemoryMap.Kind;
import org.symbiont.devices.firmware.MemoryMap.Region;
import org.symbiont.devices.firmware.MemoryMap.Type;

class MemoryMapTest {
    private static final long MiB = 1 << 20, GiB = 1L << 30;

    @Test
    void aSmallPcLikeQemuWithSeaBios() {
        List<Region> regions = new ArrayList<>(MemoryMap.pcLegacyRegions());
        regions.add(new Region(0xFEC0_0000L, 0x1000, Kind.RESERVED));
        regions.add(new Region(0xFEE0_0000L, 0x1000, Kind.RESERVED));
        MemoryMap map = MemoryMap.build(128 * MiB, regions);
        assertEquals(List.of(
                new Entry(0, 0x9FC00, Type.AVAILABLE),
                new Entry(0x9FC00, 0x400, Type.RESERVED),
                new Entry(0xE0000, 0x20000, Type.RESERVED),
                new Entry(MiB, 127 * MiB, Type.AVAILABLE),
                new Entry(0xFEC0_0000L, 0x1000, Type.RESERVED),
                new Entry(0xFEE0_0000L, 0x1000, Type.RESERVED)), map.entries());
        assertEquals(639 * 1024, map.availableFrom(0), "mem_lower");
        assertEquals(127 * MiB, map.availableFrom(MiB), "mem_upper");
        assertEquals(0, map.availableFrom(0xA0000));
        assertTrue(map.isAvailable(MiB, 127 * MiB));
        assertFalse(map.isAvailable(MiB - 1, 2));
        assertFalse(map.isAvailable(0xE0000, 16));
        assertFalse(map.isAvailable(128 * MiB - 4, 8));
    }

    @Test
    void aPciHoleSplitsRamAndIsNotReported() {
        List<Region> regions = new ArrayList<>(MemoryMap.pcLegacyRegions());
        regions.add(new Region(3 * GiB, GiB, Kind.HOLE));
        regions.add(new Region(0x7FF0_0000L, MiB, Kind.ACPI_NVS));
        MemoryMap map = MemoryMap.build(6 * GiB, regions);
        List<Entry> e = map.entries();
        assertEquals(new Entry(MiB, 0x7FF0_0000L - MiB, Type.AVAILABLE), e.get(3));
        assertEquals(new Entry(0x7FF0_0000L, MiB, Type.ACPI_NVS), e.get(4));
        assertEquals(new Entry(0x8000_0000L, GiB, Type.AVAILABLE), e.get(5));
        assertEquals(new Entry(4 * GiB, 2 * GiB, Type.AVAILABLE), e.get(6));
        assertEquals(7, e.size());
        assertEquals(0x7FF0_0000L - MiB, map.availableFrom(MiB), "mem_upper stops at the first gap");
    }

    @Test
    void overlappingRegionsAreAVmmBug() {
        var e = assertThrows(IllegalArgumentException.class, () -> MemoryMap.build(64 * MiB,
                List.of(MemoryMap.BIOS_AREA, new Region(0xF0000, 0x1000, Kind.ACPI_RECLAIMABLE))));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Region(0x1000, 0, Kind.RESERVED));
    }

    @Test
    void e820BytesAreQemusPackedLayout() {
        MemoryMap map = MemoryMap.build(64 * MiB, MemoryMap.pcLegacyRegions());
        ByteBuffer b = ByteBuffer.wrap(map.e820Bytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(20 * 4, b.capacity());
        assertEquals(0, b.getLong(0));
        assertEquals(0x9FC00, b.getLong(8));
        assertEquals(1, b.getInt(16));
        assertEquals(0x9FC00, b.getLong(20));
        assertEquals(2, b.getInt(36));
        assertEquals(MiB, b.getLong(60));
        assertEquals(63 * MiB, b.getLong(68));
        assertEquals(1, b.getInt(76));
    }
}
