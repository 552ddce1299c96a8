package org.symbiont.devices.misc;

import com.typesafe.config.Config;
import java.util.List;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.MmioDevice;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * QEMU's {@code pc-testdev}, the device kvm-unit-tests' x86 tests expect beside isa-debug-exit:
 * <ul>
 * <li>ports 0xE0-0xE3: a 32-bit scratch register, read and written by byte lanes;
 * <li>port 0xE4: a "flush page" register (QEMU re-protects the host page behind a guest-physical
 *     address to exercise KVM's MMU; Symbiont has no host mapping to protect, so writes are
 *     accepted and change nothing);
 * <li>ports 0xE8-0xEB: the same scratch register, each access split into bytes;
 * <li>ports 0x2000-0x2017: interrupt lines 0-23: a byte written drives line n high (nonzero) or low;
 * <li>MMIO 0xFF000000-0xFF00FFFF: 64 KiB of memory behind the MMIO path, so that instructions
 *     with such memory operands go through the VMM.
 * </ul>
 */
public final class PcTestdev implements PortIoDevice, MmioDevice, Snapshottable {
    public static final int SCRATCH = 0xE0, FLUSH_PAGE = 0xE4, SCRATCH_BYTES = 0xE8, IRQ_LINES = 0x2000, LINES = 24;
    public static final long IOMEM_BASE = 0xFF00_0000L;
    public static final int IOMEM_LENGTH = 0x1_0000;

    private static final List<PortRange> PORTS = List.of(new PortRange(SCRATCH, 12), new PortRange(IRQ_LINES, LINES));
    private static final List<MmioRange> MMIO = List.of(new MmioRange(IOMEM_BASE, IOMEM_LENGTH));

    private final String name;
    private final InterruptLine[] lines = new InterruptLine[LINES];
    private final boolean[] lineLevels = new boolean[LINES];
    private final byte[] iomem = new byte[IOMEM_LENGTH];
    private int scratch;

    public PcTestdev(String name, DeviceContext context) {
        this.name = name;
        for (int n = 0; n < LINES; n++) lines[n] = context.interruptLine(n);
    }

    @Override public String name() { return name; }
    @Override public List<PortRange> portRanges() { return PORTS; }
    @Override public List<MmioRange> mmioRanges() { return MMIO; }

    @Override
    public void reset() {
        scratch = 0;
        java.util.Arrays.fill(iomem, (byte) 0);
        for (int n = 0; n < LINES; n++) setLine(n, false);
    }

    @Override
    public long ioRead(int port, int size) {
        if (port >= IRQ_LINES || (port >= FLUSH_PAGE && port < SCRATCH_BYTES)) return 0; // write-only registers
        int shift = (port & 3) * 8;
        long mask = size >= 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1;
        return ((scratch & 0xFFFF_FFFFL) >>> shift) & mask;
    }

    @Override
    public void ioWrite(int port, int size, long value) {
        if (port >= IRQ_LINES) {
            setLine(port - IRQ_LINES, (value & 0xFF) != 0);
        } else if (port < FLUSH_PAGE || port >= SCRATCH_BYTES) {
            int shift = (port & 3) * 8;
            int bits = Math.min(32 - shift, 8 * size);
            long mask = ((1L << bits) - 1) << shift;
            scratch = (int) ((scratch & ~mask) | ((value << shift) & mask));
        }
    }

    private void setLine(int n, boolean level) {
        lineLevels[n] = level;
        lines[n].set(level);
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    /** The scratch register, the 64 KiB of memory and the levels of the interrupt lines. */
    @Override
    public void saveState(SectionWriter out) {
        out.i32(scratch).bytes(iomem, 0, IOMEM_LENGTH);
        for (boolean level : lineLevels) out.bool(level);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        scratch = in.i32("scratch register");
        in.bytes(iomem, 0, IOMEM_LENGTH, "memory");
        for (int n = 0; n < LINES; n++) {
            if (in.bool("line " + n + " level")) setLine(n, true);
        }
    }

    @Override
    public long mmioRead(long address, int size) {
        int at = (int) (address - IOMEM_BASE);
        long v = 0;
        for (int k = Math.min(size, IOMEM_LENGTH - at) - 1; k >= 0; k--) v = (v << 8) | (iomem[at + k] & 0xFF);
        return v;
    }

    @Override
    public void mmioWrite(long address, int size, long value) {
        int at = (int) (address - IOMEM_BASE);
        for (int k = 0; k < size && at + k < IOMEM_LENGTH; k++) iomem[at + k] = (byte) (value >>> (8 * k));
    }

    /** {@code type = pc-testdev}: no parameters. */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "pc-testdev"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            return new PcTestdev(name, context);
        }
    }
}
