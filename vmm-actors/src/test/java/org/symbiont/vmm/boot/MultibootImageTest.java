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
    void videoModeRequestsAndElf64AreRefusedWithTheReason() {
        BootImageException e = assertThrows(BootImageException.class, () -> MultibootImage.parse(header(4), "k"));
        assertTrue(e.getMessage().contains("video"), e.getMessage());
        byte[] elf64 = new byte[4096];
        ByteBuffer.wrap(elf64).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0x464C457F);
        elf64[4] = 2;
        System.arraycopy(header(0), 0, elf64, 64, 12);
        e = assertThrows(BootImageException.class, () -> MultibootImage.parse(elf64, "vmlinux"));
        assertTrue(e.getMessage().contains("64-bit ELF"), e.getMessage());
    }

    @Test
    void elf32ProgramHeadersAreLoaded() {
        ByteBuffer b = ByteBuffer.allocate(8192).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464C457F);
        b.put(4, (byte) 1);
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
