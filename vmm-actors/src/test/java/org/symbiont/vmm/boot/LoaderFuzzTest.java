package org.symbiont.vmm.boot;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.firmware.MemoryMap;
import org.symbiont.vmm.TestKernels;
import org.symbiont.x86.Seeds;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Malformed kernels: valid Multiboot images (the a.out kludge's load addresses, ELF32 with
 * several PT_LOADs) with their headers, program headers, sizes and addresses mutated, truncated or
 * padded, and random files with a valid Multiboot header somewhere in them, parsed and loaded
 * with modules into a small guest. Each either loads or is refused with a
 * {@link BootImageException} whose message names the file at fault; any other exception is a
 * loader bug. Inputs: system property {@code symbiont.hostile.loaders}, seed
 * {@code symbiont.hostile.seed}.
 */
class LoaderFuzzTest {
    private static final int CASES = Integer.getInteger("symbiont.hostile.loaders", 20_000);
    private static final long SEED = Seeds.parse(System.getProperty("symbiont.hostile.seed", "0x5EEDF022"));
    private static final long RAM = 8 << 20;
    private static final String KERNEL = "fuzz.kernel", MODULE = "fuzz.module";

    @Test
    void malformedKernelsLoadOrAreRefusedWithTheFileNamed() {
        SplittableRandom seeds = new SplittableRandom(SEED);
        MemoryMap map = MemoryMap.build(RAM, MemoryMap.pcLegacyRegions());
        int loaded = 0, refused = 0, crashes = 0;
        List<String> firstCrashes = new ArrayList<>();
        try (PhysicalMemory memory = PhysicalMemory.allocate(RAM)) {
            for (int k = 0; k < CASES; k++) {
                long seed = seeds.nextLong();
                SplittableRandom r = new SplittableRandom(seed);
                byte[] file = kernel(r);
                try {
                    MultibootImage image = MultibootImage.parse(file, KERNEL);
                    List<MultibootLoader.Module> modules = new ArrayList<>();
                    for (int m = r.nextInt(3); m > 0; m--) {
                        modules.add(new MultibootLoader.Module(MODULE + " arg" + m, new byte[r.nextInt(1 << r.nextInt(1, 23))]));
                    }
                    MultibootLoader.load(image, KERNEL, r.nextBoolean() ? null : "console=ttyS0", modules, map, memory);
                    loaded++;
                } catch (BootImageException e) {
                    String m = e.getMessage();
                    if (m == null || !(m.startsWith(KERNEL + ": ") || m.startsWith(MODULE + ": "))) {
                        if (crashes++ < 10) firstCrashes.add(String.format("seed %#x: refusal without the file's name: %s", seed, m));
                    } else {
                        refused++;
                    }
                } catch (RuntimeException e) {
                    if (crashes++ < 10) firstCrashes.add(String.format("seed %#x: %s", seed, e));
                }
            }
        }
        System.out.printf("FUZZ loaders: %d inputs, %d crashes, 0 hangs (%d loaded, %d refused)%n", CASES, crashes, loaded, refused);
        assertEquals(List.of(), firstCrashes, crashes + " inputs crashed the loader");
        assertEquals(CASES, loaded + refused);
        assertTrue(loaded > CASES / 20 && refused > CASES / 4, "the mutations reach both outcomes: " + loaded + " loaded, " + refused + " refused");
    }

    /** A kernel file: a mutated valid image most of the time, else random bytes around a valid header. */
    private static byte[] kernel(SplittableRandom r) {
        int kind = r.nextInt(10);
        if (kind < 2) return randomWithHeader(r);
        byte[] file = kind < 6 ? loadAddressImage(r) : elfImage(r);
        List<Integer> fields = new ArrayList<>();
        if (kind < 6) {
            for (int f = 12; f <= 28; f += 4) fields.add(f);
        } else {
            for (int f : new int[] {4, 16, 18, 24, 28, 32, 40, 42, 44, 46}) fields.add(f);
            int phnum = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getShort(44);
            for (int ph = 0; ph < phnum; ph++) for (int f = 0; f < 32; f += 4) fields.add(52 + 32 * ph + f);
        }
        for (int m = r.nextInt(1, 4); m > 0; m--) file = mutate(r, file, fields);
        return file;
    }

    /** The a.out kludge: a flat image with the header's load addresses, as {@link TestKernels#image} lays it out. */
    private static byte[] loadAddressImage(SplittableRandom r) {
        byte[] file = new byte[32 + r.nextInt(1, 4096)];
        r.nextBytes(file);
        int flags = MultibootImage.FLAG_ADDRESSES | MultibootImage.FLAG_MEMORY_INFO;
        int load = (int) TestKernels.LOAD, bssEnd = r.nextBoolean() ? 0 : load + file.length + r.nextInt(0x10000);
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt(MultibootImage.MAGIC).putInt(flags)
                .putInt(-(MultibootImage.MAGIC + flags)).putInt(load).putInt(load).putInt(0).putInt(bssEnd).putInt(load + 32);
        return file;
    }

    /** An ELF32 executable with one to four non-overlapping PT_LOADs above 1 MiB. */
    private static byte[] elfImage(SplittableRandom r) {
        int[][] loads = new int[r.nextInt(1, 5)][];
        int at = 0x10_0000;
        for (int k = 0; k < loads.length; k++) {
            int filesz = r.nextInt(0, 2048), memsz = filesz + r.nextInt(0, 65536);
            loads[k] = new int[] {at, filesz, memsz};
            at += (memsz + 0xFFF) & ~0xFFF;
        }
        return MultibootImageTest.elf32(0x10_0000, loads);
    }

    /** Random bytes with a valid Multiboot header (random flags) at a random 4-byte offset in the first 8 KiB. */
    private static byte[] randomWithHeader(SplittableRandom r) {
        byte[] file = new byte[r.nextInt(12, 16384)];
        r.nextBytes(file);
        int at = r.nextInt(Math.min(file.length - 12, 8192 - 48) / 4 + 1) * 4;
        int flags = r.nextBoolean() ? 0x10002 : r.nextInt();
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt(at, MultibootImage.MAGIC).putInt(at + 4, flags)
                .putInt(at + 8, -(MultibootImage.MAGIC + flags));
        return file;
    }

    /** One mutation: a header field set to a boundary value, a random byte, a truncation or padding. */
    private static byte[] mutate(SplittableRandom r, byte[] file, List<Integer> fields) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        switch (r.nextInt(6)) {
            case 0, 1, 2 -> {
                int field = fields.get(r.nextInt(fields.size()));
                if (field + 4 <= file.length) b.putInt(field, boundary(r, file.length));
            }
            case 3 -> file[r.nextInt(file.length)] = (byte) r.nextInt(256);
            case 4 -> file = Arrays.copyOf(file, r.nextInt(1, file.length + 1));
            default -> file = Arrays.copyOf(file, file.length + r.nextInt(1, 8192));
        }
        return file;
    }

    private static int boundary(SplittableRandom r, int fileLength) {
        return switch (r.nextInt(10)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> Integer.MAX_VALUE;
            case 3 -> Integer.MIN_VALUE;
            case 4 -> fileLength + r.nextInt(-64, 64);
            case 5 -> 0x10_0000 + r.nextInt(-0x1000, 0x1000);
            case 6 -> 0x9000 + r.nextInt(0x600);
            case 7 -> (int) RAM + r.nextInt(-0x2000, 0x2000);
            case 8 -> r.nextInt(0, 0x10000);
            default -> r.nextInt();
        };
    }
}
