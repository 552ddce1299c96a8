package org.symbiont.vmm.boot;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.symbiont.guests.GuestImages;

class MultibootImageTest {

    @Test
    void theBenchmarkGuestLoadsAtOneMegabyteWithItsBss() {
        MultibootImage img = MultibootImage.parse(GuestImages.cpubench(), "cpubench.bin");
        assertEquals(1, img.segments().length);
        assertEquals(0x10_0000, img.segments()[0].address());
        assertTrue(img.segments()[0].zeroFill() > 4096 * 6, "page tables and stack live in the bss");
        assertTrue(img.entry() > 0x10_0000 && img.entry() < 0x10_0000 + img.segments()[0].bytes().length);
    }

    @Test
    void aFileWithoutAHeaderIsRejectedByName() {
        BootImageException e = assertThrows(BootImageException.class, () -> MultibootImage.parse(new byte[10000], "kernel.img"));
        assertTrue(e.getMessage().startsWith("kernel.img: not a Multiboot v1 kernel"), e.getMessage());
    }

    private static byte[] header(int flags, int... fields) {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MultibootImage.MAGIC).putInt(flags).putInt(-(MultibootImage.MAGIC + flags));
        for (int f : fields) b.putInt(f);
        return b.array();
    }

    @Test
    void loadAddressesMustBeConsistent() {
        // header_addr below load_addr
        byte[] f = header(0x10000, 0x100000, 0x100100, 0, 0, 0x100000);
        BootImageException e = assertThrows(BootImageException.class, () -> MultibootImage.parse(f, "k"));
        assertTrue(e.getMessage().contains("header_addr"), e.getMessage());
        // load_end_addr past the end of the file
        byte[] g = header(0x10000, 0x100000, 0x100000, 0x200000, 0, 0x100000);
        e = assertThrows(BootImageException.class, () -> MultibootImage.parse(g, "k"));
        assertTrue(e.getMessage().contains("load_end_addr"), e.getMessage());
    }

    @Test
    void videoModeRequestsAreIgnoredAsQemuDoesButUndefinedRequirementsAreRefused() {
        byte[] video = new byte[64];
        System.arraycopy(header(0x10004, 0x100000, 0x100000, 0, 0, 0x100000), 0, video, 0, 32);
        assertEquals(0x100000, MultibootImage.parse(video, "k").entry());
        BootImageException e = assertThrows(BootImageException.class, () -> MultibootImage.parse(header(0x10008), "k"));
        assertTrue(e.getMessage().contains("flags 0x10008"), e.getMessage());
    }

    @Test
    void elf64AndOtherMachinesAreRefusedWithTheReason() {
        byte[] elf64 = new byte[4096];
        ByteBuffer.wrap(elf64).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0x464C457F);
        elf64[4] = 2;
        System.arraycopy(header(0), 0, elf64, 64, 12);
        BootImageException e = assertThrows(BootImageException.class, () -> MultibootImage.parse(elf64, "vmlinux"));
        assertTrue(e.getMessage().contains("64-bit ELF"), e.getMessage());
        byte[] x8664 = elf32(0x100000, new int[][] {{0x100000, 16, 16}});
        ByteBuffer.wrap(x8664).order(ByteOrder.LITTLE_ENDIAN).putShort(18, (short) 62);
        e = assertThrows(BootImageException.class, () -> MultibootImage.parse(x8664, "k"));
        assertTrue(e.getMessage().contains("64-bit ELF"), e.getMessage());
        byte[] arm = elf32(0x100000, new int[][] {{0x100000, 16, 16}});
        ByteBuffer.wrap(arm).order(ByteOrder.LITTLE_ENDIAN).putShort(18, (short) 40);
        e = assertThrows(BootImageException.class, () -> MultibootImage.parse(arm, "k"));
        assertTrue(e.getMessage().contains("not i386"), e.getMessage());
    }

    @Test
    void theAoutKludgeIsCheckedAsQemuChecksIt() {
        // header at file offset 0 claiming to be 0x100 bytes into the image
        BootImageException e = assertThrows(BootImageException.class,
                () -> MultibootImage.parse(header(0x10000, 0x100100, 0x100000, 0, 0, 0x100000), "k"));
        assertTrue(e.getMessage().contains("more than the header's offset"), e.getMessage());
        e = assertThrows(BootImageException.class, () -> MultibootImage.parse(header(0x10000, 0x100000, 0x100000, 0xFFFFF, 0, 0x100000), "k"));
        assertTrue(e.getMessage().contains("load_end_addr 0xfffff lies below"), e.getMessage());
        e = assertThrows(BootImageException.class, () -> MultibootImage.parse(header(0x10000, 0x100000, 0x100000, 0x100040, 0x100020, 0x100000), "k"));
        assertTrue(e.getMessage().contains("bss_end_addr"), e.getMessage());
        e = assertThrows(BootImageException.class, () -> MultibootImage.parse(header(0x10000, 0xFFFFFFF0, 0xFFFFFFF0, 0, 0, 0), "k"));
        assertTrue(e.getMessage().contains("32-bit address space"), e.getMessage());
        // load_end_addr 0: the rest of the file; bss_end_addr: zero fill
        MultibootImage img = MultibootImage.parse(header(0x10000, 0x200000, 0x200000, 0, 0x200100, 0x200020), "k");
        assertEquals(64, img.segments()[0].bytes().length);
        assertEquals(0x100 - 64, img.segments()[0].zeroFill());
        assertEquals(0x200000, img.start());
        assertEquals(0x200100, img.end());
    }

    /** An ELF32 i386 executable with the Multiboot header at offset 4096 and PT_LOADs {paddr, filesz, memsz}. */
    static byte[] elf32(int entry, int[][] loads) {
        int dataAt = 8192;
        int size = dataAt;
        for (int[] l : loads) size += l[1];
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464C457F);
        b.put(4, (byte) 1);
        b.put(5, (byte) 1);
        b.putShort(16, (short) 2);
        b.putShort(18, (short) 3);
        b.putInt(24, entry);
        b.putInt(28, 52);
        b.putShort(42, (short) 32);
        b.putShort(44, (short) loads.length);
        int off = dataAt;
        for (int k = 0; k < loads.length; k++) {
            int ph = 52 + 32 * k;
            b.putInt(ph, 1);
            b.putInt(ph + 4, off);
            b.putInt(ph + 8, loads[k][0] + 0x4000_0000);   // a virtual address the loader must not use
            b.putInt(ph + 12, loads[k][0]);
            b.putInt(ph + 16, loads[k][1]);
            b.putInt(ph + 20, loads[k][2]);
            for (int i = 0; i < loads[k][1]; i++) b.put(off + i, (byte) (k * 16 + i + 1));
            off += loads[k][1];
        }
        byte[] file = b.array();
        System.arraycopy(header(0), 0, file, 4096, 12);
        return file;
    }

    @Test
    void elfSegmentsAreSortedEmptyOnesSkippedAndOverlapsRefused() {
        MultibootImage img = MultibootImage.parse(elf32(0x100000, new int[][] {{0x200000, 8, 64}, {0x300000, 0, 0}, {0x100000, 16, 16}}), "k");
        assertEquals(2, img.segments().length);
        assertEquals(0x100000, img.segments()[0].address());
        assertEquals(0x200000, img.segments()[1].address());
        assertEquals(56, img.segments()[1].zeroFill());
        assertEquals(0x200040, img.end());
        BootImageException e = assertThrows(BootImageException.class,
                () -> MultibootImage.parse(elf32(0x100000, new int[][] {{0x100000, 16, 0x2000}, {0x101000, 16, 16}}), "k.elf"));
        assertTrue(e.getMessage().startsWith("k.elf: ELF segments [0x100000, 0x102000) and [0x101000, 0x101010) overlap"), e.getMessage());
    }

    @Test
    void unreadableKernelFilesAreNamed() {
        BootImageException e = assertThrows(BootImageException.class, () -> MultibootImage.read(java.nio.file.Path.of("/nonexistent/kernel.elf")));
        assertTrue(e.getMessage().startsWith("/nonexistent/kernel.elf: cannot read kernel file"), e.getMessage());
    }

    @Test
    void elf32ProgramHeadersAreLoaded() {
        ByteBuffer b = ByteBuffer.allocate(8192).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464C457F);
        b.put(4, (byte) 1);                // ELFCLASS32
        b.put(5, (byte) 1);                // ELFDATA2LSB
        b.putShort(18, (short) 3);
        b.putInt(24, 0x100010);            // entry
        b.putInt(28, 52);                  // phoff
        b.putShort(42, (short) 32);
        b.putShort(44, (short) 1);
        b.putInt(52, 1);                   // PT_LOAD
        b.putInt(56, 4096);                // offset
        b.putInt(64, 0x100000);            // paddr
        b.putInt(68, 256);                 // filesz
        b.putInt(72, 4096);                // memsz
        byte[] file = b.array();
        System.arraycopy(header(0), 0, file, 4096, 12);
        MultibootImage img = MultibootImage.parse(file, "k.elf");
        assertEquals(0x100010, img.entry());
        assertEquals(0x100000, img.segments()[0].address());
        assertEquals(256, img.segments()[0].bytes().length);
        assertEquals(4096 - 256, img.segments()[0].zeroFill());
    }
}
