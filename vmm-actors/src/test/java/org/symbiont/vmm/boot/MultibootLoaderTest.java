package org.symbiont.vmm.boot;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.devices.firmware.AcpiTables;
import org.symbiont.devices.firmware.MemoryMap;
import org.symbiont.guests.GuestImages;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.CpuModel;
import org.symbiont.x86.memory.PhysicalMemory;

/** The information structure checked field by field, read from guest memory as a kernel reads it. */
class MultibootLoaderTest {
    private static final long MiB = 1 << 20;

    /** The Multiboot information as a kernel sees it. */
    private record Info(PhysicalMemory m, long at) {
        long u32(int off) { return m.readU32(at + off); }
        String string(long address) {
            int n = 0;
            while (m.readU8(address + n) != 0) n++;
            return new String(m.read(address, n), StandardCharsets.UTF_8);
        }
        /** The mmap walked with each entry's size field, as the specification says to. */
        List<MemoryMap.Entry> mmap() {
            List<MemoryMap.Entry> out = new ArrayList<>();
            long p = u32(48), end = p + u32(44);
            while (p < end) {
                long size = m.readU32(p);
                int type = (int) m.readU32(p + 20);
                out.add(new MemoryMap.Entry(m.readU64(p + 4), m.readU64(p + 12),
                        Arrays.stream(MemoryMap.Type.values()).filter(t -> t.code == type).findFirst().orElseThrow()));
                p += size + 4;
            }
            assertEquals(end, p);
            return out;
        }
    }

    private static MemoryMap pcMap(long ram) {
        return MemoryMap.build(ram, MemoryMap.pcLegacyRegions());
    }

    @Test
    void theBenchmarkGuestGetsTheInformationQemuGives() {
        try (PhysicalMemory m = PhysicalMemory.allocate(64 * MiB)) {
            byte[] junk = new byte[1 << 20];
            Arrays.fill(junk, (byte) 0xCC);
            m.write(MiB, junk);                                     // the bss must come out zeroed
            MultibootImage kernel = MultibootImage.parse(GuestImages.cpubench(), "cpubench.bin");
            MemoryMap map = pcMap(64 * MiB);
            MultibootLoader.Loaded loaded = MultibootLoader.load(kernel, "cpubench.bin", "sieve n=100", List.of(), map, m);
            assertEquals(0x9500, loaded.info());
            assertEquals(kernel.entry(), loaded.entry());

            MultibootImage.Segment s = kernel.segments()[0];
            assertArrayEquals(s.bytes(), m.read(s.address(), s.bytes().length));
            for (long a = s.address() + s.bytes().length; a < s.end(); a += 61) assertEquals(0, m.readU8(a), "bss");

            Info info = new Info(m, loaded.info());
            assertEquals(0x24F, info.u32(0), "mem, boot device, cmdline, mods, mmap, boot loader name");
            assertEquals(639, info.u32(4), "mem_lower");
            assertEquals(63 * 1024, info.u32(8), "mem_upper: 1 MiB to the end of RAM");
            assertEquals(0x8000FFFFL, info.u32(12), "boot_device");
            assertEquals("cpubench.bin sieve n=100", info.string(info.u32(16)));
            assertEquals(0, info.u32(20), "mods_count");
            long modsAddr = info.u32(24);
            assertEquals((s.end() + 4095) & -4096L, modsAddr, "the area after the kernel, page-aligned");
            for (int off = 28; off < 44; off += 4) assertEquals(0, info.u32(off), "no symbols");
            assertEquals(map.entries(), info.mmap());
            assertEquals(new MemoryMap.Entry(AcpiTables.REGION_BASE, 0x20000, MemoryMap.Type.RESERVED), info.mmap().get(2),
                    "the ACPI tables' area is reserved");
            for (int off = 52; off < 64; off += 4) assertEquals(0, info.u32(off), "no drives, no config table");
            assertEquals("symbiont", info.string(info.u32(64)));
            for (int off = 68; off < 88; off += 4) assertEquals(0, info.u32(off), "no APM, no VBE");
            assertEquals(modsAddr, info.u32(16), "with no modules the strings start where the (empty) module list does");
            assertEquals(info.u32(16) + "cpubench.bin sieve n=100".length() + 1, info.u32(64), "the boot loader name follows");
            assertEquals((info.u32(64) + "symbiont".length() + 1 + 4095) & -4096L, loaded.end());
        }
    }

    @Test
    void theProcessorStartsInTheMultibootEntryState() {
        try (PhysicalMemory m = PhysicalMemory.allocate(16 * MiB)) {
            Cpu cpu = new Cpu(0, m, CpuModel.standard());
            MultibootImage kernel = MultibootImage.parse(GuestImages.cpubench(), "cpubench.bin");
            MultibootLoader.load(kernel, "cpubench.bin", null, m, cpu);
            assertEquals(0x2BADB002L, cpu.gpr[RAX]);
            assertEquals(0x9500, cpu.gpr[RBX]);
            assertEquals(kernel.entry(), cpu.rip);
            assertEquals(CR0_PE | CR0_ET, cpu.cr0, "protected mode, paging off");
            assertEquals(0, cpu.getRflags() & IF, "interrupts off");
            assertEquals("cpubench.bin ", new Info(m, 0x9500).string(m.readU32(0x9500 + 16)), "QEMU's \"%s %s\" with no arguments");
        }
    }

    @Test
    void anElfKernelWithTwoSegmentsAndModules() {
        try (PhysicalMemory m = PhysicalMemory.allocate(32 * MiB)) {
            byte[] elf = MultibootImageTest.elf32(0x100020, new int[][] {{0x100000, 0x40, 0x40}, {0x200000, 0x10, 0x1800}});
            MultibootImage kernel = MultibootImage.parse(elf, "kernel.elf");
            byte[] one = new byte[5000], two = {42};
            Arrays.fill(one, (byte) 7);
            List<MultibootLoader.Module> mods = List.of(new MultibootLoader.Module("boot/one.bin arg1 arg2", one),
                    new MultibootLoader.Module("two.bin", two));
            MultibootLoader.Loaded loaded = MultibootLoader.load(kernel, "kernel.elf", "console=ttyS0", mods, pcMap(32 * MiB), m);
            assertEquals(0x100020, loaded.entry());
            assertEquals(1, m.readU8(0x100000), "first segment at its physical address");
            assertEquals(0x11, m.readU8(0x200000), "second segment");
            assertEquals(0, m.readU8(0x200010), "its bss");

            Info info = new Info(m, loaded.info());
            assertEquals(2, info.u32(20));
            long list = info.u32(24);
            assertEquals(0x202000, list, "after the second segment's bss, page-aligned");
            long start1 = m.readU32(list), end1 = m.readU32(list + 4), string1 = m.readU32(list + 8);
            long start2 = m.readU32(list + 16), end2 = m.readU32(list + 20), string2 = m.readU32(list + 24);
            assertEquals(0, m.readU32(list + 12), "reserved");
            assertEquals(0, start1 % 4096);
            assertEquals(list + 4096, start1, "modules start on the page after the list and strings");
            assertEquals(start1 + 5000, end1, "mod_end is the first byte after the module");
            assertEquals((end1 + 4095) & -4096L, start2, "each module page-aligned");
            assertEquals(start2 + 1, end2);
            assertArrayEquals(one, m.read(start1, 5000));
            assertEquals(42, m.readU8(start2));
            assertEquals("boot/one.bin arg1 arg2", info.string(string1), "the whole -initrd entry, as QEMU");
            assertEquals("two.bin", info.string(string2));
            assertEquals(list + 32, string1, "strings follow the list");
            assertEquals("kernel.elf console=ttyS0", info.string(info.u32(16)));
            assertEquals((end2 + 4095) & -4096L, loaded.end());
        }
    }

    /**
     * The addresses QEMU 7.2 gave a kernel loaded at 0x100000 with 0x1114 bytes (0x114 in the file),
     * run as {@code -kernel k.elf -append "hello world" -initrd "m1.bin arg1 arg2,m2.bin"}
     * with a 5000-byte m1.bin and a 1-byte m2.bin (observed with a kernel printing its information).
     */
    @Test
    void theLayoutIsQemus() {
        try (PhysicalMemory m = PhysicalMemory.allocate(64 * MiB)) {
            MultibootImage kernel = MultibootImage.parse(MultibootImageTest.elf32(0x100000, new int[][] {{0x100000, 0x114, 0x1114}}), "k.elf");
            List<MultibootLoader.Module> mods = List.of(new MultibootLoader.Module("m1.bin arg1 arg2", new byte[5000]),
                    new MultibootLoader.Module("m2.bin", new byte[1]));
            MultibootLoader.Loaded loaded = MultibootLoader.load(kernel, "k.elf", "hello world", mods, pcMap(64 * MiB), m);
            Info info = new Info(m, loaded.info());
            assertEquals(0x24F, info.u32(0));
            assertEquals(639, info.u32(4));
            assertEquals(0x8000FFFFL, info.u32(12));
            assertEquals(0x102038, info.u32(16), "cmdline");
            assertEquals(2, info.u32(20));
            assertEquals(0x102000, info.u32(24), "mods_addr");
            assertEquals(0x9000, info.u32(48), "mmap_addr");
            assertEquals(0x10204A, info.u32(64), "boot_loader_name");
            long[] expected = {0x103000, 0x104388, 0x102020, 0x105000, 0x105001, 0x102031};
            for (int k = 0; k < 6; k++) assertEquals(expected[k], m.readU32(0x102000 + 4L * (k + k / 3)), "module field " + k);
            assertEquals("k.elf hello world", info.string(0x102038));
        }
    }

    @Test
    void modulesAreReadFromQemusInitrdSyntax(@TempDir Path dir) throws IOException {
        Path a = dir.resolve("a.bin"), b = dir.resolve("b,c.bin");
        Files.write(a, new byte[] {1, 2, 3});
        Files.write(b, new byte[] {4});
        assertEquals(List.of("x y", "p,q", "z"), MultibootLoader.moduleStrings("x y,p,,q,z"));
        assertEquals(List.of(), MultibootLoader.moduleStrings(""));
        List<MultibootLoader.Module> mods = MultibootLoader.readModules(a + " first arg," + b.toString().replace(",", ",,"));
        assertEquals(2, mods.size());
        assertEquals(a + " first arg", mods.get(0).commandLine());
        assertEquals(a.toString(), mods.get(0).fileName());
        assertArrayEquals(new byte[] {1, 2, 3}, mods.get(0).contents());
        assertEquals(b.toString(), mods.get(1).commandLine());
        assertArrayEquals(new byte[] {4}, mods.get(1).contents());
        BootImageException e = assertThrows(BootImageException.class, () -> MultibootLoader.readModules(a + "," + dir.resolve("missing.img") + " x"));
        assertTrue(e.getMessage().startsWith(dir.resolve("missing.img") + ": cannot read module file"), e.getMessage());
    }

    @Test
    void whatDoesNotFitIsRefusedNamingTheFile() {
        try (PhysicalMemory m = PhysicalMemory.allocate(4 * MiB)) {
            MemoryMap map = pcMap(4 * MiB);
            MultibootImage big = MultibootImage.parse(MultibootImageTest.elf32(0x100000, new int[][] {{0x100000, 16, 0x400000}}), "big.elf");
            BootImageException e = assertThrows(BootImageException.class, () -> MultibootLoader.load(big, "big.elf", "", List.of(), map, m));
            assertTrue(e.getMessage().startsWith("big.elf: segment [0x100000, 0x500000) does not fit in guest RAM"), e.getMessage());

            MultibootImage small = MultibootImage.parse(MultibootImageTest.elf32(0x100000, new int[][] {{0x100000, 16, 16}}), "k");
            var mod = new MultibootLoader.Module("initrd.img", new byte[3 * (int) MiB]);
            e = assertThrows(BootImageException.class, () -> MultibootLoader.load(small, "k", "", List.of(mod), map, m));
            assertTrue(e.getMessage().startsWith("initrd.img: module [0x102000, 0x402000) does not fit"), e.getMessage());

            MultibootImage inBios = MultibootImage.parse(MultibootImageTest.elf32(0xF0000, new int[][] {{0xF0000, 16, 16}}), "bios.elf");
            e = assertThrows(BootImageException.class, () -> MultibootLoader.load(inBios, "bios.elf", "", List.of(), map, m));
            assertTrue(e.getMessage().startsWith("bios.elf: segment [0xf0000, 0xf0010) does not fit in guest RAM"), e.getMessage());
            assertTrue(e.getMessage().endsWith("available ranges: [0x0, 0x9fc00), [0x100000, 0x400000))"), e.getMessage());

            MultibootImage low = MultibootImage.parse(MultibootImageTest.elf32(0x8000, new int[][] {{0x8000, 16, 0x2000}}), "low.elf");
            e = assertThrows(BootImageException.class, () -> MultibootLoader.load(low, "low.elf", "", List.of(), map, m));
            assertTrue(e.getMessage().contains("overlaps the Multiboot information area"), e.getMessage());

            e = assertThrows(BootImageException.class, () -> MultibootLoader.load(small, "k", "a\0b", List.of(), map, m));
            assertTrue(e.getMessage().contains("NUL"), e.getMessage());
        }
    }

    @Test
    void theMemoryMapCanHoldTheVmmsReservedRanges() {
        try (PhysicalMemory m = PhysicalMemory.allocate(8 * MiB)) {
            List<MemoryMap.Region> regions = new ArrayList<>(MemoryMap.pcLegacyRegions());
            regions.add(new MemoryMap.Region(0x70_0000, MiB, MemoryMap.Kind.ACPI_NVS));
            regions.add(new MemoryMap.Region(0xFEC0_0000L, 0x1000, MemoryMap.Kind.RESERVED));
            MemoryMap map = MemoryMap.build(8 * MiB, regions);
            MultibootImage kernel = MultibootImage.parse(GuestImages.cpubench(), "cpubench.bin");
            MultibootLoader.Loaded loaded = MultibootLoader.load(kernel, "cpubench.bin", "", List.of(), map, m);
            Info info = new Info(m, loaded.info());
            assertEquals(map.entries(), info.mmap());
            assertEquals(6 * 1024, info.u32(8), "mem_upper stops at the first reserved range");
        }
    }
}
