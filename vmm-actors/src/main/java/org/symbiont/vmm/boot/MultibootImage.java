package org.symbiont.vmm.boot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * A kernel image in the Multiboot v1 format, as {@code qemu-system-x86_64 -kernel} loads it
 * (QEMU's hw/i386/multiboot.c is the reference): the header (magic 0x1BADB002, flags, checksum)
 * 4-byte aligned in the first 8 KiB, and either the load addresses of the header (flag bit 16,
 * the "a.out kludge", used by flat images) or an ELF32 i386 executable whose PT_LOAD program
 * headers are loaded at their physical addresses ({@code p_paddr}); the entry point is the
 * header's {@code entry_addr} or the ELF {@code e_entry}, used as it is, as QEMU does.
 *
 * <p>Header flags: bit 0 (page-aligned modules) and bit 1 (memory information) are always
 * honoured; bit 2 (video mode) is ignored as QEMU ignores it (the information structure then has
 * no video fields); bits 3-15 are not defined by the specification, which requires a loader to
 * refuse a kernel asking for a requirement it does not know, so such kernels are refused (QEMU
 * would boot them).
 *
 * @param segments what to copy where, sorted by address, never overlapping
 * @param entry    the 32-bit entry point
 */
public record MultibootImage(Segment[] segments, long entry) {

    /** Bytes to place at a guest-physical address, followed by {@code zeroFill} zero bytes. */
    public record Segment(long address, byte[] bytes, long zeroFill) {
        public long end() {
            return address + bytes.length + zeroFill;
        }
    }

    public static final int MAGIC = 0x1BADB002;
    /** Header flags: page-align modules, memory information, video mode, the a.out kludge's addresses. */
    public static final int FLAG_PAGE_ALIGN = 1, FLAG_MEMORY_INFO = 1 << 1, FLAG_VIDEO_MODE = 1 << 2, FLAG_ADDRESSES = 1 << 16;
    /** QEMU looks for the 48-byte header at 4-byte offsets below 8192 - 48. */
    private static final int SEARCH_LIMIT = 8192 - 48;
    private static final long FOUR_GIB = 1L << 32;
    private static final int EM_386 = 3, EM_X86_64 = 62;

    /** The lowest address the image occupies. */
    public long start() {
        return segments[0].address();
    }

    /** The first address after the image, including its zero-filled part. */
    public long end() {
        long end = 0;
        for (Segment s : segments) end = Math.max(end, s.end());
        return end;
    }

    /** Reads and parses a kernel file; the messages name it as given. */
    public static MultibootImage read(Path file) {
        return parse(readFile(file, "kernel"), file.toString());
    }

    static byte[] readFile(Path file, String what) {
        try {
            if (Files.size(file) > Integer.MAX_VALUE - 8) {
                throw new BootImageException(file + ": " + what + " file of " + Files.size(file) + " bytes is too big to load");
            }
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new BootImageException(file + ": cannot read " + what + " file (" + e + ")");
        }
    }

    public static MultibootImage parse(byte[] file, String name) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int header = -1;
        for (int off = 0; off < SEARCH_LIMIT && off + 12 <= file.length; off += 4) {
            if (b.getInt(off) == MAGIC && b.getInt(off) + b.getInt(off + 4) + b.getInt(off + 8) == 0) {
                header = off;
                break;
            }
        }
        if (header < 0) {
            throw new BootImageException(name + ": not a Multiboot v1 kernel (no header with magic 0x1BADB002 and a valid checksum in the first 8 KiB)");
        }
        int flags = b.getInt(header + 4);
        if ((flags & 0xFFF8) != 0) {
            throw new BootImageException(String.format(
                    "%s: Multiboot header requires features this loader does not know (flags %#x; defined are bits 0-2 and 16)", name, flags));
        }
        if ((flags & FLAG_ADDRESSES) != 0) return fromLoadAddresses(b, file, header, name);
        return fromElf32(b, file, name);
    }

    private static MultibootImage fromLoadAddresses(ByteBuffer b, byte[] file, int header, String name) {
        if (header + 32 > file.length) throw new BootImageException(name + ": Multiboot header truncated");
        long headerAddr = b.getInt(header + 12) & 0xFFFF_FFFFL;
        long loadAddr = b.getInt(header + 16) & 0xFFFF_FFFFL;
        long loadEnd = b.getInt(header + 20) & 0xFFFF_FFFFL;
        long bssEnd = b.getInt(header + 24) & 0xFFFF_FFFFL;
        long entry = b.getInt(header + 28) & 0xFFFF_FFFFL;
        if (headerAddr < loadAddr) {
            throw new BootImageException(String.format("%s: Multiboot header_addr %#x lies below load_addr %#x", name, headerAddr, loadAddr));
        }
        if (headerAddr - loadAddr > header) {
            throw new BootImageException(String.format(
                    "%s: Multiboot header_addr %#x - load_addr %#x is more than the header's offset %#x in the file", name, headerAddr, loadAddr, header));
        }
        long fileOffset = header - (headerAddr - loadAddr);
        long length;
        if (loadEnd != 0) {
            if (loadEnd < loadAddr) {
                throw new BootImageException(String.format("%s: Multiboot load_end_addr %#x lies below load_addr %#x", name, loadEnd, loadAddr));
            }
            length = loadEnd - loadAddr;
        } else {
            length = file.length - fileOffset;
        }
        if (fileOffset + length > file.length) {
            throw new BootImageException(String.format("%s: Multiboot load_end_addr %#x runs past the end of the file (%d bytes)", name, loadEnd, file.length));
        }
        if (loadAddr + length > FOUR_GIB) {
            throw new BootImageException(String.format("%s: kernel of %#x bytes at %#x does not fit in the 32-bit address space", name, length, loadAddr));
        }
        long zero = 0;
        if (bssEnd != 0) {
            if (bssEnd < loadAddr + length) {
                throw new BootImageException(String.format("%s: Multiboot bss_end_addr %#x lies below load_end_addr %#x", name, bssEnd, loadAddr + length));
            }
            zero = bssEnd - (loadAddr + length);
        }
        byte[] bytes = Arrays.copyOfRange(file, (int) fileOffset, (int) (fileOffset + length));
        return new MultibootImage(new Segment[] {new Segment(loadAddr, bytes, zero)}, entry);
    }

    private static MultibootImage fromElf32(ByteBuffer b, byte[] file, String name) {
        if (file.length < 52 || b.getInt(0) != 0x464C457F) {
            throw new BootImageException(name + ": Multiboot header without load addresses, and the file is not an ELF executable");
        }
        int machine = b.getShort(18) & 0xFFFF;
        if (file[4] != 1 || machine == EM_X86_64) {
            throw new BootImageException(name + ": 64-bit ELF kernels are not Multiboot v1 images; link the kernel as ELF32 or give the header load addresses (flag bit 16)");
        }
        if (file[5] != 1) throw new BootImageException(name + ": ELF file is not little-endian");
        if (machine != EM_386) throw new BootImageException(name + ": ELF machine is not i386 (e_machine " + machine + ")");
        long entry = b.getInt(24) & 0xFFFF_FFFFL;
        long phoff = b.getInt(28) & 0xFFFF_FFFFL;
        int phentsize = b.getShort(42) & 0xFFFF;
        int phnum = b.getShort(44) & 0xFFFF;
        if (phnum > 0 && phentsize < 32) throw new BootImageException(name + ": ELF program header entries of " + phentsize + " bytes are too small");
        List<Segment> segs = new ArrayList<>();
        for (int k = 0; k < phnum; k++) {
            long ph = phoff + (long) k * phentsize;
            if (ph + 32 > file.length) throw new BootImageException(name + ": ELF program header " + k + " lies outside the file");
            int p = (int) ph;
            if (b.getInt(p) != 1) continue; // PT_LOAD
            long offset = b.getInt(p + 4) & 0xFFFF_FFFFL;
            long paddr = b.getInt(p + 12) & 0xFFFF_FFFFL;
            long filesz = b.getInt(p + 16) & 0xFFFF_FFFFL;
            long memsz = b.getInt(p + 20) & 0xFFFF_FFFFL;
            if (offset + filesz > file.length) throw new BootImageException(name + ": ELF segment " + k + " runs past the end of the file");
            if (memsz < filesz) throw new BootImageException(name + ": ELF segment " + k + " has p_memsz < p_filesz");
            if (paddr + memsz > FOUR_GIB) {
                throw new BootImageException(String.format("%s: ELF segment %d [%#x, %#x) does not fit in the 32-bit address space", name, k, paddr, paddr + memsz));
            }
            if (memsz == 0) continue;
            byte[] bytes = Arrays.copyOfRange(file, (int) offset, (int) (offset + filesz));
            segs.add(new Segment(paddr, bytes, memsz - filesz));
        }
        if (segs.isEmpty()) throw new BootImageException(name + ": ELF file has no loadable segments");
        segs.sort(Comparator.comparingLong(Segment::address));
        for (int k = 1; k < segs.size(); k++) {
            Segment a = segs.get(k - 1), c = segs.get(k);
            if (c.address() < a.end()) {
                throw new BootImageException(String.format("%s: ELF segments [%#x, %#x) and [%#x, %#x) overlap", name, a.address(), a.end(), c.address(), c.end()));
            }
        }
        return new MultibootImage(segs.toArray(Segment[]::new), entry);
    }
}
