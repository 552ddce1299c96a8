package org.symbiont.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A kernel image in the Multiboot v1 format, as GRUB and {@code qemu-system-x86_64 -kernel}
 * load it: the header (magic 0x1BADB002) in the first 8 KiB, and either the load addresses of the
 * header (flag bit 16, the "a.out kludge", used by flat images) or an ELF32 executable's program
 * headers.
 *
 * @param segments what to copy where
 * @param entry    the 32-bit entry point
 */
public record MultibootImage(Segment[] segments, long entry) {

    /** Bytes to place at a guest-physical address, followed by {@code zeroFill} zero bytes. */
    public record Segment(long address, byte[] bytes, long zeroFill) {}

    public static final int MAGIC = 0x1BADB002;
    private static final int SEARCH = 8192;

    public static MultibootImage parse(byte[] file, String name) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int header = -1;
        for (int off = 0; off + 12 <= Math.min(SEARCH, file.length); off += 4) {
            if (b.getInt(off) == MAGIC && b.getInt(off) + b.getInt(off + 4) + b.getInt(off + 8) == 0) {
                header = off;
                break;
            }
        }
        if (header < 0) {
            throw new BootImageException(name + ": not a Multiboot v1 kernel (no header with magic 0x1BADB002 and a valid checksum in the first 8 KiB)");
        }
        int flags = b.getInt(header + 4);
        if ((flags & 0xFFFC) != 0) {
            throw new BootImageException(String.format("%s: Multiboot header requests unsupported features (flags %#x; video modes are not supported)", name, flags));
        }
        if ((flags & 0x10000) != 0) return fromLoadAddresses(b, file, header, name);
        return fromElf32(b, file, name);
    }

    private static MultibootImage fromLoadAddresses(ByteBuffer b, byte[] file, int header, String name) {
        if (header + 32 > file.length) throw new BootImageException(name + ": Multiboot header truncated");
        long headerAddr = b.getInt(header + 12) & 0xFFFF_FFFFL;
        long loadAddr = b.getInt(header + 16) & 0xFFFF_FFFFL;
        long loadEnd = b.getInt(header + 20) & 0xFFFF_FFFFL;
        long bssEnd = b.getInt(header + 24) & 0xFFFF_FFFFL;
        long entry = b.getInt(header + 28) & 0xFFFF_FFFFL;
        long fileOffset = header - (headerAddr - loadAddr);
        if (headerAddr < loadAddr || fileOffset < 0) {
            throw new BootImageException(String.format("%s: Multiboot header_addr %#x lies below load_addr %#x", name, headerAddr, loadAddr));
        }
        long length = loadEnd == 0 ? file.length - fileOffset : loadEnd - loadAddr;
        if (length < 0 || fileOffset + length > file.length) {
            throw new BootImageException(String.format("%s: Multiboot load_end_addr %#x runs past the end of the file (%d bytes)", name, loadEnd, file.length));
        }
        long zero = bssEnd == 0 ? 0 : bssEnd - (loadAddr + length);
        if (zero < 0) throw new BootImageException(String.format("%s: Multiboot bss_end_addr %#x lies below load_end_addr", name, bssEnd));
        byte[] bytes = java.util.Arrays.copyOfRange(file, (int) fileOffset, (int) (fileOffset + length));
        return new MultibootImage(new Segment[] {new Segment(loadAddr, bytes, zero)}, entry);
    }

    private static MultibootImage fromElf32(ByteBuffer b, byte[] file, String name) {
        if (file.length < 52 || b.getInt(0) != 0x464C457F) {
            throw new BootImageException(name + ": Multiboot header without load addresses, and the file is not an ELF executable");
        }
        if (file[4] != 1) {
            throw new BootImageException(name + ": 64-bit ELF kernels are not Multiboot v1 images; link the kernel as ELF32 or give the header load addresses (flag bit 16)");
        }
        if (b.getShort(18) != 3) throw new BootImageException(name + ": ELF machine is not i386");
        long entry = b.getInt(24) & 0xFFFF_FFFFL;
        int phoff = b.getInt(28);
        int phentsize = b.getShort(42) & 0xFFFF;
        int phnum = b.getShort(44) & 0xFFFF;
        java.util.List<Segment> segs = new java.util.ArrayList<>();
        for (int k = 0; k < phnum; k++) {
            int ph = phoff + k * phentsize;
            if (ph < 0 || ph + 32 > file.length) throw new BootImageException(name + ": ELF program header " + k + " lies outside the file");
            if (b.getInt(ph) != 1) continue; // PT_LOAD
            long offset = b.getInt(ph + 4) & 0xFFFF_FFFFL;
            long paddr = b.getInt(ph + 12) & 0xFFFF_FFFFL;
            long filesz = b.getInt(ph + 16) & 0xFFFF_FFFFL;
            long memsz = b.getInt(ph + 20) & 0xFFFF_FFFFL;
            if (offset + filesz > file.length) throw new BootImageException(name + ": ELF segment " + k + " runs past the end of the file");
            if (memsz < filesz) throw new BootImageException(name + ": ELF segment " + k + " has p_memsz < p_filesz");
            byte[] bytes = java.util.Arrays.copyOfRange(file, (int) offset, (int) (offset + filesz));
            segs.add(new Segment(paddr, bytes, memsz - filesz));
        }
        if (segs.isEmpty()) throw new BootImageException(name + ": ELF file has no loadable segments");
        return new MultibootImage(segs.toArray(Segment[]::new), entry);
    }
}
