package org.symbiont.vmm.boot;

import static org.symbiont.x86.Arch.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.symbiont.devices.firmware.MemoryMap;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.exec.Segmentation;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Loads a Multiboot v1 kernel and its modules the way {@code qemu-system-x86_64 -kernel K
 * -append ARGS -initrd "M1 args,M2"} does (QEMU's hw/i386/multiboot.c and its multiboot option
 * ROM are the reference), and puts the boot processor in the entry state of the Multiboot
 * specification, section 3.2.
 *
 * <p>Guest memory after loading, as QEMU lays it out:
 * <ul>
 * <li>the kernel image at its load addresses;
 * <li>from the first page boundary after the kernel: the module list (16 bytes per module:
 *     mod_start, mod_end, string), then the module strings, then the kernel command line, then
 *     the boot loader name {@value #BOOTLOADER_NAME} (QEMU writes "qemu"; this loader names
 *     itself so that a guest can tell);
 * <li>from the next page boundary: each module, each starting on a page boundary;
 * <li>the memory map at 0x9000 (Multiboot {@code mmap} entries: size 20, base, length, type)
 *     and the information structure at 0x9500, in low memory
 *     where QEMU's option ROM puts them.
 * </ul>
 * The information structure has flags 0x24F, as QEMU's: mem_lower and mem_upper (KiB of
 * available memory from 0 and from 1 MiB, up to the first gap in the memory map), boot_device
 * 0x8000FFFF (QEMU's value: first BIOS hard disk, no partition), cmdline (the kernel's file name,
 * a space, then the arguments: "name " when there are none, exactly as QEMU), mods_count and
 * mods_addr (set even with no modules), mmap_length and mmap_addr, boot_loader_name.
 *
 * <p>Module strings are the whole {@code -initrd} entry, file name included ("file1 arg"), as
 * QEMU passes them. Everything loaded must lie in available memory of the {@link MemoryMap}
 * given, below 4 GiB and away from the information area at 0x9000-0x9557; anything else is a
 * {@link BootImageException} naming the file.
 *
 * <p>One difference from QEMU: QEMU aligns the module area relative to the kernel's load address,
 * so a kernel loaded at an address that is not page-aligned gets modules that are not either;
 * this loader aligns absolute addresses, as the header's page-alignment flag asks.
 */
public final class MultibootLoader {
    private MultibootLoader() {}

    public static final long MMAP_ADDRESS = 0x9000, INFO_ADDRESS = 0x9500;
    public static final int INFO_SIZE = 88;
    /** The memory map must fit between 0x9000 and the information structure. */
    public static final int MAX_MMAP_ENTRIES = (int) (INFO_ADDRESS - MMAP_ADDRESS) / 24;
    public static final int BOOTLOADER_MAGIC = 0x2BADB002;
    public static final String BOOTLOADER_NAME = "symbiont";
    public static final int BOOT_DEVICE = 0x8000FFFF;

    /** Information structure flags. */
    public static final int INFO_MEMORY = 1, INFO_BOOT_DEVICE = 1 << 1, INFO_CMDLINE = 1 << 2, INFO_MODS = 1 << 3,
            INFO_MMAP = 1 << 6, INFO_BOOT_LOADER_NAME = 1 << 9;
    /** Offsets in the information structure. */
    public static final int MBI_FLAGS = 0, MBI_MEM_LOWER = 4, MBI_MEM_UPPER = 8, MBI_BOOT_DEVICE = 12, MBI_CMDLINE = 16,
            MBI_MODS_COUNT = 20, MBI_MODS_ADDR = 24, MBI_MMAP_LENGTH = 44, MBI_MMAP_ADDR = 48, MBI_BOOT_LOADER_NAME = 64;

    private static final long PAGE = 4096, FOUR_GIB = 1L << 32;

    /** A module: its string (file name, optionally followed by a space and arguments) and contents. */
    public record Module(String commandLine, byte[] contents) {
        /** The file name: the string up to the first space. */
        public String fileName() {
            return fileNameOf(commandLine);
        }
    }

    private static String fileNameOf(String moduleString) {
        int space = moduleString.indexOf(' ');
        return space < 0 ? moduleString : moduleString.substring(0, space);
    }

    /**
     * What was loaded: the entry point, the information structure's address, and the first
     * page boundary after everything placed above the kernel (the lowest free address there).
     */
    public record Loaded(long entry, long info, long end) {}

    /**
     * Splits a QEMU {@code -initrd} value into module strings: entries separated by commas, a
     * doubled comma standing for a comma in a name (QEMU's option syntax).
     */
    public static List<String> moduleStrings(String initrd) {
        List<String> out = new ArrayList<>();
        if (initrd == null || initrd.isEmpty()) return out;
        StringBuilder cur = new StringBuilder();
        for (int k = 0; k < initrd.length(); k++) {
            char c = initrd.charAt(k);
            if (c == ',' && k + 1 < initrd.length() && initrd.charAt(k + 1) == ',') {
                cur.append(',');
                k++;
            } else if (c == ',') {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }

    /** Reads the modules a QEMU {@code -initrd} value names; an unreadable file is named in the error. */
    public static List<Module> readModules(String initrd) {
        List<Module> out = new ArrayList<>();
        for (String s : moduleStrings(initrd)) out.add(readModule(s));
        return out;
    }

    /** Reads one module given as "file [arguments]"; an unreadable file is named in the error. */
    public static Module readModule(String moduleString) {
        String file = fileNameOf(moduleString);
        if (file.isEmpty()) throw new BootImageException("module '" + moduleString + "': empty module file name");
        Path path;
        try {
            path = Path.of(file);
        } catch (InvalidPathException e) {
            throw new BootImageException(file + ": not a valid module file name (" + e.getMessage() + ")");
        }
        return new Module(moduleString, MultibootImage.readFile(path, "module"));
    }

    /**
     * Loads the kernel and modules into {@code memory} and writes the information structure and
     * memory map; the processor is not touched (see {@link #start}).
     *
     * @param kernelName the kernel's file name as the user gave it (the command line starts with it)
     * @param arguments  the kernel's arguments ({@code -append}), or null
     * @param map        the guest's memory map, reported to the kernel and checked against
     */
    public static Loaded load(MultibootImage kernel, String kernelName, String arguments, List<Module> modules,
                              MemoryMap map, PhysicalMemory memory) {
        List<MemoryMap.Entry> entries = map.entries();
        if (entries.size() > MAX_MMAP_ENTRIES) {
            throw new BootImageException("the memory map has " + entries.size() + " entries; at most " + MAX_MMAP_ENTRIES + " fit below the information structure");
        }
        if (!map.isAvailable(MMAP_ADDRESS, INFO_ADDRESS + INFO_SIZE - MMAP_ADDRESS) || memory.size() < INFO_ADDRESS + INFO_SIZE) {
            throw new BootImageException(String.format("the Multiboot information area [%#x, %#x) is not available RAM in the memory map",
                    MMAP_ADDRESS, INFO_ADDRESS + INFO_SIZE));
        }
        for (MultibootImage.Segment s : kernel.segments()) {
            checkPlace(map, memory, kernelName, "segment", s.address(), s.end());
        }

        // The area after the kernel: module list, strings, boot loader name.
        String commandLine = kernelName + " " + (arguments == null ? "" : arguments);
        long modsAddr = align(kernel.end());
        long stringsAt = modsAddr + 16L * modules.size();
        List<byte[]> moduleStrings = new ArrayList<>();
        long at = stringsAt;
        for (Module m : modules) {
            byte[] s = cString(m.commandLine(), m.fileName());
            moduleStrings.add(s);
            at += s.length;
        }
        long commandLineAt = at;
        byte[] cmd = cString(commandLine, kernelName);
        long loaderNameAt = commandLineAt + cmd.length;
        byte[] loaderName = cString(BOOTLOADER_NAME, BOOTLOADER_NAME);
        long areaEnd = loaderNameAt + loaderName.length;
        checkPlace(map, memory, kernelName, "Multiboot module list and command lines", modsAddr, areaEnd);

        long[] moduleStart = new long[modules.size()];
        long next = align(areaEnd);
        for (int k = 0; k < modules.size(); k++) {
            Module m = modules.get(k);
            moduleStart[k] = next;
            checkPlace(map, memory, m.fileName(), "module", next, next + m.contents().length);
            next = align(next + m.contents().length);
        }

        for (MultibootImage.Segment s : kernel.segments()) {
            memory.write(s.address(), s.bytes());
            zero(memory, s.address() + s.bytes().length, s.zeroFill());
        }
        long string = stringsAt;
        for (int k = 0; k < modules.size(); k++) {
            long entry = modsAddr + 16L * k;
            memory.writeU32(entry, moduleStart[k]);
            memory.writeU32(entry + 4, moduleStart[k] + modules.get(k).contents().length);
            memory.writeU32(entry + 8, string);
            memory.writeU32(entry + 12, 0);
            memory.write(string, moduleStrings.get(k));
            string += moduleStrings.get(k).length;
            memory.write(moduleStart[k], modules.get(k).contents());
        }
        memory.write(commandLineAt, cmd);
        memory.write(loaderNameAt, loaderName);

        for (int k = 0; k < entries.size(); k++) {
            MemoryMap.Entry e = entries.get(k);
            long p = MMAP_ADDRESS + 24L * k;
            memory.writeU32(p, 20);
            memory.writeU64(p + 4, e.base());
            memory.writeU64(p + 12, e.length());
            memory.writeU32(p + 20, e.type().code);
        }
        zero(memory, INFO_ADDRESS, INFO_SIZE);
        memory.writeU32(INFO_ADDRESS + MBI_FLAGS, INFO_MEMORY | INFO_BOOT_DEVICE | INFO_CMDLINE | INFO_MODS | INFO_MMAP | INFO_BOOT_LOADER_NAME);
        memory.writeU32(INFO_ADDRESS + MBI_MEM_LOWER, map.availableFrom(0) >>> 10);
        memory.writeU32(INFO_ADDRESS + MBI_MEM_UPPER, Math.min(map.availableFrom(0x10_0000) >>> 10, 0xFFFF_FFFFL));
        memory.writeU32(INFO_ADDRESS + MBI_BOOT_DEVICE, BOOT_DEVICE & 0xFFFF_FFFFL);
        memory.writeU32(INFO_ADDRESS + MBI_CMDLINE, commandLineAt);
        memory.writeU32(INFO_ADDRESS + MBI_MODS_COUNT, modules.size());
        memory.writeU32(INFO_ADDRESS + MBI_MODS_ADDR, modsAddr);
        memory.writeU32(INFO_ADDRESS + MBI_MMAP_LENGTH, 24L * entries.size());
        memory.writeU32(INFO_ADDRESS + MBI_MMAP_ADDR, MMAP_ADDRESS);
        memory.writeU32(INFO_ADDRESS + MBI_BOOT_LOADER_NAME, loaderNameAt);
        return new Loaded(kernel.entry(), INFO_ADDRESS, next);
    }

    /**
     * Loads a kernel without modules with the memory map of a PC ({@link MemoryMap#pcLegacyRegions()})
     * and starts the boot processor at it.
     */
    public static void load(MultibootImage kernel, String name, String arguments, PhysicalMemory memory, Cpu bsp) {
        MemoryMap map = MemoryMap.build(memory.size(), MemoryMap.pcLegacyRegions());
        start(bsp, load(kernel, name, arguments, List.of(), map, memory));
    }

    private static long align(long a) {
        return (a + PAGE - 1) & -PAGE;
    }

    private static byte[] cString(String s, String owner) {
        if (s.indexOf('\0') >= 0) throw new BootImageException(owner + ": a Multiboot string cannot contain a NUL character");
        return (s + "\0").getBytes(StandardCharsets.UTF_8);
    }

    private static void checkPlace(MemoryMap map, PhysicalMemory memory, String file, String what, long start, long end) {
        if (end > FOUR_GIB) {
            throw new BootImageException(String.format("%s: %s [%#x, %#x) lies beyond 4 GiB, which Multiboot cannot address", file, what, start, end));
        }
        if (end > memory.size() || !map.isAvailable(start, end - start) && end > start) {
            throw new BootImageException(String.format(
                    "%s: %s [%#x, %#x) does not fit in guest RAM (%#x bytes; available ranges: %s)",
                    file, what, start, end, memory.size(), available(map)));
        }
        if (start < INFO_ADDRESS + INFO_SIZE && end > MMAP_ADDRESS) {
            throw new BootImageException(String.format("%s: %s [%#x, %#x) overlaps the Multiboot information area [%#x, %#x)",
                    file, what, start, end, MMAP_ADDRESS, INFO_ADDRESS + INFO_SIZE));
        }
    }

    private static String available(MemoryMap map) {
        StringBuilder s = new StringBuilder();
        for (MemoryMap.Entry e : map.entries()) {
            if (e.type() != MemoryMap.Type.AVAILABLE) continue;
            if (!s.isEmpty()) s.append(", ");
            s.append(String.format("[%#x, %#x)", e.base(), e.end()));
        }
        return s.toString();
    }

    private static void zero(PhysicalMemory memory, long at, long count) {
        byte[] zeros = new byte[(int) Math.min(count, 1 << 16)];
        for (long done = 0; done < count; done += zeros.length) {
            memory.write(at + done, zeros, 0, (int) Math.min(zeros.length, count - done));
        }
    }

    /**
     * Puts the boot processor in the state Multiboot v1 specifies at entry (section 3.2): 32-bit
     * protected mode, paging off, flat 4 GiB code (selector 0x08) and data (0x10) segments,
     * interrupts off, EAX = 0x2BADB002, EBX = the information structure, EIP = the entry point.
     */
    public static void start(Cpu c, Loaded loaded) {
        c.cr0 = CR0_PE | CR0_ET;
        Segmentation.loadCache(c, CS, 0x08, 0x00CF_9A00_0000_FFFFL);
        for (int s : new int[] {ES, SS, DS, FS, GS}) Segmentation.loadCache(c, s, 0x10, 0x00CF_9200_0000_FFFFL);
        c.setRflags(RFLAGS_FIXED1);
        c.gpr[RAX] = BOOTLOADER_MAGIC & 0xFFFF_FFFFL;
        c.gpr[RBX] = loaded.info();
        c.rip = loaded.entry();
        c.updateMode();
        c.mmu.flushAll();
    }
}
