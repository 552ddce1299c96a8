package org.symbiont.devices.firmware;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.TestDeviceContext;

/** fw_cfg driven as Linux's qemu_fw_cfg driver and SeaBIOS drive it. */
class FwCfgTest {
    private static final int SEL = 0x510, DATA = 0x511, DMA = 0x514;

    private static FwCfg create(TestDeviceContext ctx, String config) {
        return (FwCfg) DeviceRegistry.load().factory("fw_cfg").create("fw_cfg", ConfigFactory.parseString(config), ctx);
    }

    private static byte[] read(FwCfg d, int key, int n) {
        d.ioWrite(SEL, 2, key);
        byte[] b = new byte[n];
        for (int k = 0; k < n; k++) b[k] = (byte) d.ioRead(DATA, 1);
        return b;
    }

    private static long readLe(FwCfg d, int key, int n) {
        byte[] b = read(d, key, n);
        long v = 0;
        for (int k = n - 1; k >= 0; k--) v = (v << 8) | (b[k] & 0xFF);
        return v;
    }

    /** The file directory as a guest parses it: name to (selector, size). */
    private static Map<String, int[]> directory(FwCfg d) {
        d.ioWrite(SEL, 2, FwCfg.FILE_DIR);
        int count = ByteBuffer.wrap(readData(d, 4)).getInt();
        Map<String, int[]> out = new LinkedHashMap<>();
        for (int k = 0; k < count; k++) {
            ByteBuffer e = ByteBuffer.wrap(readData(d, 64));
            int size = e.getInt();
            int select = e.getShort() & 0xFFFF;
            e.getShort();
            byte[] name = new byte[56];
            e.get(name);
            int len = 0;
            while (name[len] != 0) len++;
            out.put(new String(name, 0, len, StandardCharsets.US_ASCII), new int[] {select, size});
        }
        return out;
    }

    private static byte[] readData(FwCfg d, int n) {
        byte[] b = new byte[n];
        for (int k = 0; k < n; k++) b[k] = (byte) d.ioRead(DATA, 1);
        return b;
    }

    @Test
    void wellKnownItemsDescribeTheMachine() {
        try (TestDeviceContext ctx = new TestDeviceContext(32 << 20, 3)) {
            FwCfg d = create(ctx, "uuid = \"12345678-9abc-def0-0011-223344556677\"\nmachine-id = 7");
            assertEquals(List.of(new PortRange(0x510, 2), new PortRange(0x514, 8)), d.portRanges());
            assertEquals("QEMU", new String(read(d, FwCfg.SIGNATURE, 4), StandardCharsets.US_ASCII));
            assertEquals(3, readLe(d, FwCfg.ID, 4), "traditional interface and DMA");
            assertArrayEquals(new byte[] {0x12, 0x34, 0x56, 0x78, (byte) 0x9a, (byte) 0xbc, (byte) 0xde, (byte) 0xf0,
                    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}, read(d, FwCfg.UUID_KEY, 16));
            assertEquals(32 << 20, readLe(d, FwCfg.RAM_SIZE, 8));
            assertEquals(1, readLe(d, FwCfg.NOGRAPHIC, 2));
            assertEquals(3, readLe(d, FwCfg.NB_CPUS, 2));
            assertEquals(7, readLe(d, FwCfg.MACHINE_ID, 4));
            assertEquals(3, readLe(d, FwCfg.MAX_CPUS, 2), "highest APIC ID + 1");
        }
    }

    @Test
    void theSignatureIsSelectedAfterResetAndReadsPastTheEndAreZero() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            FwCfg d = create(ctx, "");
            assertEquals('Q', d.ioRead(DATA, 1));
            assertEquals('E', d.ioRead(SEL, 1), "a byte read of the selector port reads data too, as in QEMU");
            assertEquals('M', d.ioRead(DATA, 1));
            assertEquals('U', d.ioRead(DATA, 1));
            assertEquals(0, d.ioRead(DATA, 1));
            assertEquals(0, d.ioRead(DATA, 1));
            d.ioWrite(SEL, 2, FwCfg.SIGNATURE);
            assertEquals('Q', d.ioRead(DATA, 1), "selecting resets the offset");
            d.ioRead(DATA, 1);
            d.reset();
            assertEquals('Q', d.ioRead(DATA, 1));
        }
    }

    @Test
    void writesAndUndecodedAccessesChangeNothing() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            FwCfg d = create(ctx, "");
            d.addFile("opt/x", new byte[] {1, 2, 3});
            int sel = directory(d).get("opt/x")[0];
            d.ioWrite(SEL, 2, sel);
            d.ioWrite(DATA, 1, 0x55);                 // data writes were removed in QEMU 2.4
            d.ioWrite(SEL, 4, FwCfg.SIGNATURE);        // not a 16-bit write: not a selection (QEMU 7.2)
            d.ioWrite(DATA, 2, FwCfg.SIGNATURE);       // nor a 16-bit write to the data port
            d.ioWrite(SEL, 1, 0);
            assertEquals(0, d.ioRead(SEL, 2), "wider reads return 0 and consume nothing, as in QEMU");
            assertEquals(0, d.ioRead(SEL, 4));
            assertEquals(0, d.ioRead(DATA, 2));
            assertEquals(1, d.ioRead(DATA, 1));
            assertEquals(2, d.ioRead(DATA, 1));
            assertArrayEquals(new byte[] {1, 2, 3}, d.fileContents("opt/x"));
            // the write-channel bit is ignored; the arch-local space and keys past the last file are empty
            assertEquals("QEMU", new String(read(d, 0x4000, 4), StandardCharsets.US_ASCII));
            assertArrayEquals(new byte[4], read(d, 0x8000, 4));
            assertArrayEquals(new byte[4], read(d, 0x3FFF, 4));
            assertArrayEquals(new byte[4], read(d, 0xFFFF, 4));
        }
    }

    @Test
    void filesAreListedSortedByNameWithBigEndianEntries() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            FwCfg d = create(ctx, "");
            assertEquals(0, directory(d).size());
            d.addFile("etc/e820", new byte[40]);
            d.addFile("etc/acpi/rsdp", "RSD PTR ".getBytes(StandardCharsets.US_ASCII));
            d.addFile("bootorder", new byte[0]);
            Map<String, int[]> dir = directory(d);
            assertEquals(List.of("bootorder", "etc/acpi/rsdp", "etc/e820"), List.copyOf(dir.keySet()));
            assertArrayEquals(new int[] {0x20, 0}, dir.get("bootorder"));
            assertArrayEquals(new int[] {0x21, 8}, dir.get("etc/acpi/rsdp"));
            assertArrayEquals(new int[] {0x22, 40}, dir.get("etc/e820"));
            assertEquals("RSD PTR ", new String(read(d, 0x21, 8), StandardCharsets.US_ASCII));
            d.ioWrite(SEL, 2, FwCfg.FILE_DIR);
            assertArrayEquals(new byte[] {0, 0, 0, 3}, readData(d, 4), "the count is big-endian");
        }
    }

    @Test
    void badFileNamesAreRefused() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            FwCfg d = create(ctx, "");
            d.addFile("etc/e820", new byte[1]);
            assertThrows(IllegalArgumentException.class, () -> d.addFile("etc/e820", new byte[1]));
            assertThrows(IllegalArgumentException.class, () -> d.addFile("x".repeat(56), new byte[1]));
            assertThrows(IllegalArgumentException.class, () -> d.addFile("", new byte[1]));
            assertThrows(IllegalArgumentException.class, () -> d.addFile("caf\u00e9", new byte[1]));
            d.addFile("y".repeat(55), new byte[1]);
        }
    }

    // ---- DMA ----

    private static final long DESC = 0x1000, BUF = 0x2000;

    /** Writes a descriptor and starts it as Linux does: iowrite32be(high) to +0, iowrite32be(low) to +4. */
    private static int dma(TestDeviceContext ctx, FwCfg d, long desc, int control, int length, long address) {
        ctx.memory().writeU32(desc, Integer.reverseBytes(control) & 0xFFFF_FFFFL);
        ctx.memory().writeU32(desc + 4, Integer.reverseBytes(length) & 0xFFFF_FFFFL);
        ctx.memory().writeU64(desc + 8, Long.reverseBytes(address));
        start(d, desc);
        return Integer.reverseBytes((int) ctx.memory().readU32(desc));
    }

    private static void start(FwCfg d, long desc) {
        d.ioWrite(DMA, 4, Integer.reverseBytes((int) (desc >>> 32)) & 0xFFFF_FFFFL);
        d.ioWrite(DMA + 4, 4, Integer.reverseBytes((int) desc) & 0xFFFF_FFFFL);
    }

    @Test
    void theDmaRegisterReadsAsItsSignature() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            FwCfg d = create(ctx, "");
            // ioread32be(+0) << 32 | ioread32be(+4) == 0x51454d5520434647 ("QEMU CFG")
            long hi = Integer.reverseBytes((int) d.ioRead(DMA, 4)) & 0xFFFF_FFFFL;
            long lo = Integer.reverseBytes((int) d.ioRead(DMA + 4, 4)) & 0xFFFF_FFFFL;
            assertEquals(0x51454d5520434647L, (hi << 32) | lo);
            assertEquals('E', d.ioRead(DMA + 1, 1));
            assertEquals(0x4746, d.ioRead(DMA + 6, 2));
            assertEquals(0, d.ioRead(DMA + 2, 4), "unaligned reads are refused (0), as in QEMU 7.2");
            assertEquals(0, d.ioRead(DMA + 5, 2));
            FwCfg plain = create(ctx, "dma = false");
            assertEquals(List.of(new PortRange(0x510, 2)), plain.portRanges());
            assertEquals(1, readLe(plain, FwCfg.ID, 4), "no DMA bit");
        }
    }

    @Test
    void dmaSelectAndReadCopiesTheItemAndZeroFillsPastItsEnd() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            FwCfg d = create(ctx, "");
            d.addFile("etc/test", new byte[] {10, 20, 30, 40, 50});
            int sel = directory(d).get("etc/test")[0];
            ctx.memory().write(BUF, new byte[] {-1, -1, -1, -1, -1, -1, -1, -1});
            int control = (sel << 16) | FwCfg.DMA_CTL_SELECT | FwCfg.DMA_CTL_READ;
            assertEquals(0, dma(ctx, d, DESC, control, 3, BUF));
            assertArrayEquals(new byte[] {10, 20, 30, -1}, ctx.memory().read(BUF, 4));
            // continues at the offset left by the previous transfer; past the end, zeros
            assertEquals(0, dma(ctx, d, DESC, FwCfg.DMA_CTL_READ, 5, BUF));
            assertArrayEquals(new byte[] {40, 50, 0, 0, 0, -1}, ctx.memory().read(BUF, 6));
            // the port interface shares the offset
            assertEquals(0, d.ioRead(DATA, 1));
            // the address register is 0 again: a low-half write alone addresses a 32-bit descriptor
            ctx.memory().writeU32(0x3000, Integer.reverseBytes((sel << 16) | FwCfg.DMA_CTL_SELECT | FwCfg.DMA_CTL_SKIP) & 0xFFFF_FFFFL);
            ctx.memory().writeU32(0x3004, Integer.reverseBytes(4) & 0xFFFF_FFFFL);
            ctx.memory().writeU64(0x3008, 0);
            d.ioWrite(DMA + 4, 4, Integer.reverseBytes(0x3000) & 0xFFFF_FFFFL);
            assertEquals(0, ctx.memory().readU32(0x3000));
            assertEquals(50, d.ioRead(DATA, 1), "skip advanced the offset by 4");
        }
    }

    @Test
    void dmaWritesOnlyIntoWritableItemsAndNeverPastTheirEnd() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            FwCfg d = create(ctx, "");
            d.addFile("etc/ro", new byte[4]);
            d.addWritableFile("etc/vmcoreinfo", new byte[16]);
            Map<String, int[]> dir = directory(d);
            int ro = dir.get("etc/ro")[0], rw = dir.get("etc/vmcoreinfo")[0];
            ctx.memory().write(BUF, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            int selectWrite = FwCfg.DMA_CTL_SELECT | FwCfg.DMA_CTL_WRITE;
            assertEquals(FwCfg.DMA_CTL_ERROR, dma(ctx, d, DESC, (ro << 16) | selectWrite, 4, BUF));
            assertArrayEquals(new byte[4], d.fileContents("etc/ro"));
            assertEquals(0, dma(ctx, d, DESC, (rw << 16) | selectWrite, 8, BUF));
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0}, d.fileContents("etc/vmcoreinfo"));
            // 8 more bytes at offset 8 fit; 12 would run past the end: dropped entirely
            assertEquals(FwCfg.DMA_CTL_ERROR, dma(ctx, d, DESC, FwCfg.DMA_CTL_WRITE, 12, BUF));
            assertArrayEquals(new byte[8], java.util.Arrays.copyOfRange(d.fileContents("etc/vmcoreinfo"), 8, 16));
            // read wins over write when both are set
            assertEquals(0, dma(ctx, d, DESC, (rw << 16) | FwCfg.DMA_CTL_SELECT | FwCfg.DMA_CTL_READ | FwCfg.DMA_CTL_WRITE, 2, BUF + 100));
            assertArrayEquals(new byte[] {1, 2}, ctx.memory().read(BUF + 100, 2));
        }
    }

    @Test
    void dmaToAddressesOutsideRamSetsTheErrorBit() {
        try (TestDeviceContext ctx = new TestDeviceContext(1 << 20, 1)) {
            FwCfg d = create(ctx, "");
            int control = (FwCfg.SIGNATURE << 16) | FwCfg.DMA_CTL_SELECT | FwCfg.DMA_CTL_READ;
            assertEquals(FwCfg.DMA_CTL_ERROR, dma(ctx, d, DESC, control, 4, (1 << 20) - 2));
            assertEquals(FwCfg.DMA_CTL_ERROR, dma(ctx, d, DESC, control, 100, 0xFFFF_FFFF_0000L), "zero fill past RAM");
            assertEquals(FwCfg.DMA_CTL_ERROR, dma(ctx, d, DESC, control | FwCfg.DMA_CTL_READ, -1, 0x10), "4 GiB of zeros do not fit");
            // a descriptor outside RAM: nothing happens, nothing throws
            d.ioWrite(DMA, 4, Integer.reverseBytes(0x10) & 0xFFFF_FFFFL);
            d.ioWrite(DMA + 4, 4, 0);
            // no operation bits: nothing transferred, control cleared
            assertEquals(0, dma(ctx, d, DESC, 0, 1000, BUF));
        }
    }

    @Test
    void badParametersAreConfigErrors() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            var e = assertThrows(ConfigException.class, () -> create(ctx, "uuid = banana"));
            assertTrue(e.getMessage().contains("uuid"), e.getMessage());
            e = assertThrows(ConfigException.class, () -> create(ctx, "iobase = 65530"));
            assertTrue(e.getMessage().contains("iobase"), e.getMessage());
        }
    }
}
