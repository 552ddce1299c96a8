package org.symbiont.vmm.boot;

import static org.symbiont.x86.Arch.*;

import java.nio.charset.StandardCharsets;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.exec.Segmentation;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Loads a Multiboot v1 kernel the way {@code qemu-system-x86_64 -kernel} does: the image's
 * segments into guest memory, a Multiboot information structure (memory sizes, memory map,
 * command line), and the boot processor in the entry state of the specification, section 3.2:
 * 32-bit protected mode, paging off, flat segments, EAX = 0x2BADB002, EBX = the information.
 */
public final class MultibootLoader {
    private MultibootLoader() {}

    public static final long INFO = 0x9000, MMAP = 0x9100, CMDLINE = 0x9800;
    public static final int BOOTLOADER_MAGIC = 0x2BADB002;

    /**
     * @param name the kernel's file name (the command line starts with it, as QEMU and GRUB pass it)
     */
    public static void load(MultibootImage kernel, String name, String arguments, PhysicalMemory memory, Cpu bsp) {
        long ram = memory.size();
        for (MultibootImage.Segment s : kernel.segments()) {
            long end = s.address() + s.bytes().length + s.zeroFill();
            if (s.address() < 0x10_0000 || end > ram) {
                throw new BootImageException(String.format(
                        "%s: segment [%#x, %#x) does not fit in guest RAM [1 MiB, %#x): give the guest more memory",
                        name, s.address(), end, ram));
            }
            memory.write(s.address(), s.bytes());
        }
        String commandLine = arguments == null || arguments.isEmpty() ? name : name + " " + arguments;
        writeInformation(memory, commandLine);
        enterProtectedMode(bsp, kernel.entry());
    }

    private static void writeInformation(PhysicalMemory memory, String commandLine) {
        long ram = memory.size();
        byte[] cmd = (commandLine + "\0").getBytes(StandardCharsets.US_ASCII);
        if (cmd.length > 0x800) throw new BootImageException("kernel command line longer than 2047 bytes");
        memory.write(CMDLINE, cmd);
        // Memory map: conventional memory below the EBDA, and everything from 1 MiB up.
        long[][] ranges = {{0, 0x9_FC00}, {0x10_0000, ram - 0x10_0000}};
        for (int k = 0; k < ranges.length; k++) {
            long e = MMAP + 24L * k;
            memory.writeU32(e, 20);
            memory.writeU64(e + 4, ranges[k][0]);
            memory.writeU64(e + 12, ranges[k][1]);
            memory.writeU32(e + 20, 1);
        }
        memory.writeU32(INFO, 1 | 4 | 0x40);                     // mem_*, cmdline, mmap_* valid
        memory.writeU32(INFO + 4, 639);                          // mem_lower in KiB
        memory.writeU32(INFO + 8, (ram - 0x10_0000) >>> 10);     // mem_upper in KiB
        memory.writeU32(INFO + 16, CMDLINE);
        memory.writeU32(INFO + 44, 24L * ranges.length);
        memory.writeU32(INFO + 48, MMAP);
    }

    /** The machine state Multiboot v1 specifies at entry (section 3.2). */
    private static void enterProtectedMode(Cpu c, long entry) {
        c.cr0 = CR0_PE | CR0_ET;
        Segmentation.loadCache(c, CS, 0x08, 0x00CF_9A00_0000_FFFFL);
        for (int s : new int[] {ES, SS, DS, FS, GS}) Segmentation.loadCache(c, s, 0x10, 0x00CF_9200_0000_FFFFL);
        c.setRflags(RFLAGS_FIXED1);
        c.gpr[RAX] = BOOTLOADER_MAGIC & 0xFFFF_FFFFL;
        c.gpr[RBX] = INFO;
        c.rip = entry;
        c.updateMode();
        c.mmu.flushAll();
    }
}
