package org.symbiont.x86.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.TestMachine;
import org.symbiont.x86.mmu.PagingCosts;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowStrategy;

/**
 * The container and the CPU and memory sections read back with errors that say what is wrong
 * and where, and no corruption of a snapshot makes the reader throw anything but
 * {@link SnapshotException}.
 */
class SnapshotFormatTest {
    private static final long RAM = 8 << 20;
    private static final String CPU = CpuState.sectionName(0);
    private static TestMachine source;
    private static byte[] valid;

    /** A long-mode machine with its page tables and a little code: a small but real snapshot. */
    @BeforeAll
    static void snapshotOfALongModeMachine() {
        source = TestMachine.longMode(RAM);
        source.load(new byte[] {(byte) 0x48, (byte) 0xFF, (byte) 0xC0, (byte) 0xF4}); // inc rax; hlt
        source.run(1);
        valid = SnapshotRestoreTest.snapshot(source);
    }

    @AfterAll
    static void close() {
        source.close();
    }

    private static SnapshotException readFails(byte[] data) {
        return assertThrows(SnapshotException.class, () -> SnapshotFormat.read(data, name -> true));
    }

    private static void assertMessage(SnapshotException x, String... parts) {
        for (String p : parts) assertTrue(x.getMessage().contains(p), "'" + x.getMessage() + "' should mention '" + p + "'");
    }

    @Test
    void aValidSnapshotHasBothSectionsInOrder() throws SnapshotException {
        SnapshotFormat.Contents c = SnapshotFormat.read(valid, name -> true);
        assertEquals(List.of(MemoryImage.SECTION, CPU), new ArrayList<>(c.sections().keySet()));
        assertEquals(1, CpuState.decode(CPU, c.require(CPU)).retired());
        assertTrue(valid.length < 64 << 10, "all-zero pages are left out: " + valid.length + " bytes");
    }

    @Test
    void aSnapshotReadFromAStreamIsTheSnapshotReadFromItsBytes() throws Exception {
        SnapshotFormat.Contents fromBytes = SnapshotFormat.read(valid, name -> true);
        SnapshotFormat.Contents fromStream = SnapshotFormat.read(new java.io.ByteArrayInputStream(valid), valid.length, name -> true);
        assertEquals(fromBytes.sections().keySet(), fromStream.sections().keySet());
        for (String name : fromBytes.sections().keySet()) assertArrayEquals(fromBytes.require(name), fromStream.require(name), name);
        // A stream that ends before the size it was said to have.
        SnapshotException x = assertThrows(SnapshotException.class,
                () -> SnapshotFormat.read(new java.io.ByteArrayInputStream(valid, 0, valid.length / 2), valid.length, name -> true));
        assertMessage(x, "truncated", "the file ended");
    }

    /** Guest memory in parts (a section body is one Java array): the parts restored in order give the memory back. */
    @Test
    void guestMemoryInSeveralPartsIsRestoredWhole() throws SnapshotException {
        try (TestMachine m = new TestMachine(1 << 20); TestMachine target = new TestMachine(1 << 20)) {
            for (long page = 0; page < 200; page += 3) m.memory.writeU8((page << 12) + 5, (int) page + 1);
            java.util.List<byte[]> parts = MemoryImage.captureParts(m.memory, 64 << 10);
            assertTrue(parts.size() > 2, "several parts: " + parts.size());
            for (int k = 0; k < parts.size(); k++) MemoryImage.restore("memory." + k, parts.get(k), target.memory, k > 0);
            assertArrayEquals(MemoryImage.capture(m.memory), MemoryImage.capture(target.memory));
            assertEquals(1, MemoryImage.captureParts(m.memory, SnapshotFormat.MAX_SECTION_BYTES).size());
        }
    }

    @Test
    void truncatedFilesSayTheyAreTruncated() {
        for (int length : new int[] {0, 3, 8, 12, 17, 30, valid.length / 2, valid.length - 1}) {
            byte[] cut = java.util.Arrays.copyOf(valid, length);
            assertMessage(readFails(cut), "truncated");
        }
    }

    @Test
    void aFlippedBodyByteIsAChecksumMismatchNamingTheSection() {
        byte[] bad = valid.clone();
        bad[bad.length - 100] ^= 0x10; // inside the CPU section's body
        assertMessage(readFails(bad), "checksum mismatch", "section '" + CPU + "'");
        bad = valid.clone();
        bad[40] ^= 1; // inside the memory section's body
        assertMessage(readFails(bad), "checksum mismatch", "section 'memory'", "offset 16");
    }

    @Test
    void badMagicUnknownVersionAndTrailingBytes() {
        byte[] bad = valid.clone();
        bad[0] = 'X';
        assertMessage(readFails(bad), "bad magic");
        bad = valid.clone();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 2);
        assertMessage(readFails(bad), "unknown snapshot format version 2", "reads version 1");
        bad = java.util.Arrays.copyOf(valid, valid.length + 3);
        assertMessage(readFails(bad), "3 unexpected bytes after the last of 2 sections");
    }

    @Test
    void unknownAndMissingSections() throws SnapshotException {
        SnapshotException x = assertThrows(SnapshotException.class, () -> SnapshotFormat.read(valid, MemoryImage.SECTION::equals));
        assertMessage(x, "unknown section '" + CPU + "'");
        SnapshotFormat.Contents c = SnapshotFormat.read(valid, name -> true);
        assertMessage(assertThrows(SnapshotException.class, () -> c.require("devices")), "section 'devices' is missing");
    }

    @Test
    void restoringIntoADifferentMachineIsRefused() throws SnapshotException {
        SnapshotFormat.Contents c = SnapshotFormat.read(valid, name -> true);
        try (TestMachine small = new TestMachine(RAM / 2)) {
            SnapshotException x = assertThrows(SnapshotException.class,
                    () -> MemoryImage.restore(MemoryImage.SECTION, c.require(MemoryImage.SECTION), small.memory, false));
            assertMessage(x, "holds " + RAM + " bytes of RAM", "has " + RAM / 2);
            small.virtualize(PagingMode.SHADOW, ShadowStrategy.VTLB, PagingCosts.FREE);
            CpuState state = CpuState.decode(CPU, c.require(CPU));
            assertMessage(assertThrows(SnapshotException.class, () -> state.restore(small.cpu)), "SHADOW", "needs NATIVE");
        }
    }

    @Test
    void malformedValuesInAValidlyChecksummedSectionAreNamed() throws SnapshotException {
        byte[] cpu = SnapshotFormat.read(valid, name -> true).require(CPU).clone();
        int cplOffset = 4 /* layout */ + 16 * 8 + 8 + 8 + 4 + 3 * 8 + 2 * 8 * 4 + 2 * 8 * 8 + 8 + 4 + 8 + 4;
        ByteBuffer.wrap(cpu).order(ByteOrder.LITTLE_ENDIAN).putInt(cplOffset, 7);
        assertMessage(assertThrows(SnapshotException.class, () -> CpuState.decode(CPU, cpu)),
                "section '" + CPU + "' is malformed at offset " + cplOffset, "CPL is 7");
        assertMessage(assertThrows(SnapshotException.class, () -> CpuState.decode(CPU, java.util.Arrays.copyOf(cpu, 100))),
                "truncated section '" + CPU + "'");
    }

    /**
     * Random corruption (flipped bits, overwritten, cut or inserted bytes) of the file, and of a
     * section body under a recomputed checksum so that the section decoders see it: reading,
     * decoding and restoring either succeed or throw {@link SnapshotException}, nothing else.
     */
    @Test
    void randomCorruptionOnlyEverRaisesSnapshotException() throws SnapshotException {
        Random random = new Random(0x5EED);
        Map<String, byte[]> sections = SnapshotFormat.read(valid, name -> true).sections();
        int rejected = 0;
        try (TestMachine target = new TestMachine(RAM)) {
            for (int round = 0; round < 600; round++) {
                byte[] data;
                if (round % 2 == 0) {
                    data = corrupt(valid, random);
                } else {
                    String victim = random.nextBoolean() ? CPU : MemoryImage.SECTION;
                    List<SnapshotFormat.Section> rebuilt = new ArrayList<>();
                    for (var e : sections.entrySet()) {
                        byte[] body = e.getKey().equals(victim) ? corrupt(e.getValue(), random) : e.getValue();
                        rebuilt.add(new SnapshotFormat.Section(e.getKey(), body));
                    }
                    data = SnapshotFormat.toBytes(rebuilt);
                }
                try {
                    SnapshotFormat.Contents c = SnapshotFormat.read(data, name -> true);
                    CpuState state = CpuState.decode(CPU, c.require(CPU));
                    target.virtualize(state.pagingMode(), state.shadowStrategy(), state.pagingCosts());
                    MemoryImage.restore(MemoryImage.SECTION, c.require(MemoryImage.SECTION), target.memory, false);
                    state.restore(target.cpu);
                } catch (SnapshotException expected) {
                    assertNotNull(expected.getMessage());
                    rejected++;
                }
            }
        }
        assertTrue(rejected > 300, "most corruptions are caught: " + rejected + " of 600");
    }

    private static byte[] corrupt(byte[] original, Random random) {
        byte[] b = original.clone();
        switch (random.nextInt(4)) {
            case 0 -> {
                for (int k = 1 + random.nextInt(4); k > 0; k--) b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
            }
            case 1 -> {
                int at = random.nextInt(b.length);
                for (int k = 0; k < 8 && at + k < b.length; k++) b[at + k] = (byte) random.nextInt();
            }
            case 2 -> b = java.util.Arrays.copyOf(b, random.nextInt(b.length));
            default -> {
                int at = random.nextInt(b.length + 1);
                byte[] extra = new byte[1 + random.nextInt(16)];
                random.nextBytes(extra);
                byte[] grown = new byte[b.length + extra.length];
                System.arraycopy(b, 0, grown, 0, at);
                System.arraycopy(extra, 0, grown, at, extra.length);
                System.arraycopy(b, at, grown, at + extra.length, b.length - at);
                b = grown;
            }
        }
        return b;
    }
}
