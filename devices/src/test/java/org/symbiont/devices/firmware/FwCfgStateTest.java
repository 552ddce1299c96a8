package org.symbiont.devices.firmware;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;

class FwCfgStateTest {
    static final int SEL = 0x510, DATA = 0x511, DMA = 0x514;
    static final long DESC = 0x1000, BUF = 0x2000;
    static final int E820 = FwCfg.FILE_FIRST + 1, VMCOREINFO = FwCfg.FILE_FIRST + 2;

    /** fw_cfg with a read-only and a writable file, as the VMM configures it. */
    static final class Machine {
        final TestDeviceContext ctx = new TestDeviceContext();
        final FwCfg fw = new FwCfg("fw_cfg", SEL, true, ctx, UUID.fromString("12345678-9abc-def0-1234-56789abcdef0"), true, 7);

        Machine() {
            fw.addFile("etc/e820", new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
            fw.addWritableFile("etc/vmcoreinfo", new byte[16]);
            fw.addFile("bootorder", "/pci@i0cf8/*@4\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }

        int dma(int control, int length, long address) {
            ctx.memory().writeU32(DESC, Integer.reverseBytes(control) & 0xFFFF_FFFFL);
            ctx.memory().writeU32(DESC + 4, Integer.reverseBytes(length) & 0xFFFF_FFFFL);
            ctx.memory().writeU64(DESC + 8, Long.reverseBytes(address));
            fw.ioWrite(DMA, 4, 0);
            fw.ioWrite(DMA + 4, 4, Integer.reverseBytes((int) DESC) & 0xFFFF_FFFFL);
            return Integer.reverseBytes((int) ctx.memory().readU32(DESC));
        }

        String dataBytes(int n) {
            byte[] b = new byte[n];
            for (int k = 0; k < n; k++) b[k] = (byte) fw.ioRead(DATA, 1);
            return HexFormat.of().formatHex(b);
        }

        /** A guest reading on from where it was, through the data port and DMA, and writing the writable file. */
        List<String> drive() {
            List<String> trace = new ArrayList<>();
            trace.add("port " + dataBytes(4));
            trace.add("dma " + dma(FwCfg.DMA_CTL_READ, 6, BUF) + " " + HexFormat.of().formatHex(ctx.memory().read(BUF, 6)));
            trace.add("dma " + dma(VMCOREINFO << 16 | FwCfg.DMA_CTL_SELECT | FwCfg.DMA_CTL_SKIP, 4, 0));
            trace.add("port " + dataBytes(6));
            ctx.memory().write(BUF, new byte[] {9, 9});
            trace.add("dma " + dma(FwCfg.DMA_CTL_WRITE, 2, BUF));
            trace.add("file " + HexFormat.of().formatHex(fw.fileContents("etc/vmcoreinfo")));
            fw.ioWrite(SEL, 2, VMCOREINFO);
            trace.add("port " + dataBytes(16));
            return trace;
        }
    }

    final List<Machine> machines = new ArrayList<>();

    Machine machine() {
        Machine m = new Machine();
        machines.add(m);
        return m;
    }

    @AfterEach
    void close() {
        machines.forEach(m -> m.ctx.close());
    }

    /** The writable file written by DMA, etc/e820 selected and partly read through the port. */
    Machine busyFwCfg() {
        Machine m = machine();
        m.ctx.memory().write(BUF, new byte[] {0x11, 0x22, 0x33, 0x44, 0x55});
        assertEquals(0, m.dma(VMCOREINFO << 16 | FwCfg.DMA_CTL_SELECT | FwCfg.DMA_CTL_WRITE, 5, BUF));
        m.fw.ioWrite(SEL, 2, E820);
        m.dataBytes(3);
        return m;
    }

    @Test
    void aRestoredFwCfgReadsOnWhereTheOriginalWas() throws Exception {
        Machine original = busyFwCfg();
        byte[] saved = DeviceState.save(original.fw);
        Machine twin = machine();
        DeviceState.restore(twin.fw, saved);
        List<String> expected = original.drive();
        assertEquals("port 04050607", expected.getFirst());
        assertTrue(expected.contains("file 11223344550000000000090900000000"), expected.toString());
        assertEquals(expected, twin.drive());
    }

    @Test
    void aPendingDmaAddressHighHalfIsKept() throws Exception {
        Machine original = machine();
        original.fw.ioWrite(DMA, 4, Integer.reverseBytes(1) & 0xFFFF_FFFFL);
        byte[] saved = DeviceState.save(original.fw);
        Machine twin = machine();
        DeviceState.restore(twin.fw, saved);
        assertArrayEquals(saved, DeviceState.save(twin.fw));
        assertFalse(Arrays.equals(saved, DeviceState.save(machine().fw)));
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        byte[] saved = DeviceState.save(busyFwCfg().fw);
        DeviceStateAssertions.assertCorruptStateRefused(() -> machine().fw, saved);
        // Layout: version (4), selector (2), data offset (4), DMA address (8), writable file count (4),
        // then each writable file's name (u16 length, bytes) and contents.
        DeviceStateAssertions.assertMalformedRefused(machine().fw, saved, 6, 11, "data offset");
        DeviceStateAssertions.assertMalformedRefused(machine().fw, saved, 10, 1, "DMA address");
        DeviceStateAssertions.assertMalformedRefused(machine().fw, saved, 18, 2, "writable file count");
        DeviceStateAssertions.assertMalformedRefused(machine().fw, saved, 24, 'x', "writable file name");
    }
}
