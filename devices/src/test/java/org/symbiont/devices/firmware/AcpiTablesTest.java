package org.symbiont.devices.firmware;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * Reads the tables back the way a kernel does (Linux's acpi_find_root_pointer and table
 * validation, ACPICA's FADT conversion, the MADT walk), from guest memory only.
 */
class AcpiTablesTest {

    /** A table found through the XSDT, validated. */
    private record Table(String signature, long address, int length, int revision, byte[] bytes) {
        int u8(int at) { return bytes[at] & 0xFF; }
        int u16(int at) { return u8(at) | u8(at + 1) << 8; }
        long u32(int at) { return u16(at) | (long) u16(at + 2) << 16; }
        long u64(int at) { return u32(at) | u32(at + 4) << 32; }
    }

    private static int sum(byte[] b, int from, int length) {
        int s = 0;
        for (int k = from; k < from + length; k++) s += b[k];
        return s & 0xFF;
    }

    private static String ascii(byte[] b, int from, int length) {
        return new String(b, from, length, StandardCharsets.US_ASCII);
    }

    /** Scans the BIOS area on 16-byte boundaries for a valid RSDP, as Linux does. */
    private static long findRsdp(PhysicalMemory m) {
        for (long a = 0xE0000; a < 0x100000; a += 16) {
            byte[] b = m.read(a, 36);
            if (!ascii(b, 0, 8).equals("RSD PTR ") || sum(b, 0, 20) != 0) continue;
            if (b[15] >= 2 && sum(b, 0, 36) != 0) continue;
            return a;
        }
        return -1;
    }

    private static Table table(PhysicalMemory m, long address) {
        byte[] head = m.read(address, 36);
        int length = (int) (head[4] & 0xFF | (head[5] & 0xFF) << 8 | (head[6] & 0xFF) << 16 | (long) (head[7] & 0xFF) << 24);
        assertTrue(length >= 36, "table length");
        byte[] all = m.read(address, length);
        assertEquals(0, sum(all, 0, length), "checksum of " + ascii(all, 0, 4));
        assertEquals(AcpiTables.OEM_ID, ascii(all, 10, 6));
        return new Table(ascii(all, 0, 4), address, length, all[8], all);
    }

    /** Every table the XSDT lists, by signature, after checking the RSDT lists the same. */
    private static Map<String, Table> tables(PhysicalMemory m) {
        long rsdpAt = findRsdp(m);
        assertEquals(AcpiTables.REGION_BASE, rsdpAt);
        byte[] rsdp = m.read(rsdpAt, 36);
        assertEquals(2, rsdp[15], "ACPI 2.0+ RSDP");
        Table r = new Table("RSDP", rsdpAt, 36, 2, rsdp);
        assertEquals(36, r.u32(20));
        Table xsdt = table(m, r.u64(24));
        Table rsdt = table(m, r.u32(16));
        assertEquals("XSDT", xsdt.signature());
        assertEquals("RSDT", rsdt.signature());
        int n = (xsdt.length() - 36) / 8;
        assertEquals(n, (rsdt.length() - 36) / 4);
        Map<String, Table> out = new LinkedHashMap<>();
        for (int k = 0; k < n; k++) {
            assertEquals(xsdt.u64(36 + 8 * k), rsdt.u32(36 + 4 * k));
            Table t = table(m, xsdt.u64(36 + 8 * k));
            assertNull(out.put(t.signature(), t), "one of each");
        }
        return out;
    }

    private record MadtEntry(int type, byte[] bytes) {
        int u8(int at) { return bytes[at] & 0xFF; }
        int u16(int at) { return u8(at) | u8(at + 1) << 8; }
        long u32(int at) { return u16(at) | (long) u16(at + 2) << 16; }
    }

    private static List<MadtEntry> madtEntries(Table madt) {
        List<MadtEntry> out = new ArrayList<>();
        int at = 44;
        while (at < madt.length()) {
            int type = madt.u8(at), len = madt.u8(at + 1);
            assertTrue(len >= 2 && at + len <= madt.length(), "MADT entry fits");
            out.add(new MadtEntry(type, java.util.Arrays.copyOfRange(madt.bytes(), at, at + len)));
            at += len;
        }
        assertEquals(madt.length(), at);
        return out;
    }

    @Test
    void aKernelFindsValidTablesInTheBiosArea() {
        try (PhysicalMemory m = PhysicalMemory.allocate(16 << 20)) {
            AcpiTables.Layout layout = new AcpiTables(List.of(0)).write(m);
            assertTrue(layout.end() <= AcpiTables.REGION_END);
            Map<String, Table> t = tables(m);
            assertEquals(List.of("FACP", "APIC"), List.copyOf(t.keySet()));
            Table fadt = t.get("FACP");
            assertEquals(AcpiTables.FADT_LENGTH, fadt.length());
            assertEquals(6, fadt.revision());
            assertEquals(5, fadt.u8(131), "minor revision");
            // FACS and DSDT: the 32-bit and 64-bit pointers agree (no ACPICA mismatch warning)
            assertEquals(fadt.u32(36), fadt.u64(132));
            assertEquals(fadt.u32(40), fadt.u64(140));
            long facsAt = fadt.u64(132);
            assertEquals(0, facsAt % 64, "the FACS is 64-byte aligned");
            byte[] facs = m.read(facsAt, 64);
            assertEquals("FACS", ascii(facs, 0, 4));
            assertEquals(64, facs[4]);
            assertEquals(2, facs[32], "FACS version");
            Table dsdt = table(m, fadt.u64(140));
            assertEquals("DSDT", dsdt.signature());
            assertEquals(2, dsdt.revision());
            Map<String, Object> names = AmlReader.read(dsdt.bytes(), 36);
            assertEquals(List.of(0L, 0L, 0L, 0L), names.get("\\_S5_"));
            assertEquals(1, names.size(), "no fw_cfg node unless asked");
            // every table lies in the region the memory map reserves
            for (long a : new long[] {layout.rsdp(), layout.facs(), layout.dsdt(), layout.madt(), layout.fadt(), layout.rsdt(), layout.xsdt()}) {
                assertTrue(a >= MemoryMap.BIOS_AREA.base() && a < MemoryMap.BIOS_AREA.end());
            }
        }
    }

    @Test
    void theFadtDescribesTheAcpiPmDeviceAndDrivesIt() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            AcpiPm pm = (AcpiPm) DeviceRegistry.load().factory("acpi-pm").create("pm", ConfigFactory.empty(), ctx);
            new AcpiTables(List.of(0)).powerManagement(pm).write(ctx.memory());
            Table fadt = tables(ctx.memory()).get("FACP");
            assertEquals(9, fadt.u16(46), "SCI_INT");
            assertEquals(0, fadt.u32(48), "no SMI_CMD: always in ACPI mode");
            assertEquals(0x600, fadt.u32(56), "PM1a_EVT_BLK");
            assertEquals(0, fadt.u32(60), "no PM1b");
            assertEquals(0x604, fadt.u32(64), "PM1a_CNT_BLK");
            assertEquals(0x608, fadt.u32(76), "PM_TMR_BLK");
            assertEquals(0, fadt.u32(80), "no GPE0 block");
            assertEquals(4, fadt.u8(88));
            assertEquals(2, fadt.u8(89));
            assertEquals(4, fadt.u8(91));
            assertEquals(0xFFF, fadt.u16(96), "no C2");
            assertEquals(0xFFF, fadt.u16(98), "no C3");
            long flags = fadt.u32(112);
            assertEquals(0, flags & AcpiTables.FADT_HW_REDUCED);
            assertEquals(0, flags & AcpiTables.FADT_PWR_BUTTON, "the power button is the fixed one");
            assertEquals(0, flags & AcpiTables.FADT_TMR_VAL_EXT, "24-bit timer");
            assertNotEquals(0, flags & AcpiTables.FADT_RESET_REG_SUP);
            assertNotEquals(0, flags & AcpiTables.FADT_WBINVD);
            int boot = fadt.u16(109);
            assertEquals(AcpiTables.BOOT_LEGACY_DEVICES | AcpiTables.BOOT_VGA_NOT_PRESENT, boot);
            // generic addresses: system I/O, widths matching the lengths
            assertGas(fadt, 148, 32, 0x600);
            assertGas(fadt, 172, 16, 0x604);
            assertGas(fadt, 208, 32, 0x608);
            assertGas(fadt, 116, 8, 0xCF9);
            assertEquals(6, fadt.u8(128), "RESET_VALUE");

            // Drive the device through what the FADT says, as ACPICA does.
            ctx.advanceTo(1_000_000_000L);
            assertEquals(3_579_545, pm.ioRead((int) fadt.u64(212), 4));
            pm.ioWrite((int) fadt.u64(120), 1, fadt.u8(128));
            assertEquals(1, ctx.resets);
            Table dsdt = table(ctx.memory(), fadt.u64(140));
            @SuppressWarnings("unchecked")
            long slpTyp = ((List<Long>) AmlReader.read(dsdt.bytes(), 36).get("\\_S5_")).getFirst();
            int cnt = (int) fadt.u32(64);
            pm.ioWrite(cnt, 2, slpTyp << 10 | AcpiPm.SCI_EN);
            assertNull(ctx.exitStatus);
            pm.ioWrite(cnt, 2, slpTyp << 10 | AcpiPm.SCI_EN | AcpiPm.SLP_EN);
            assertEquals(0, ctx.exitStatus, "S5 powers off");
        }
    }

    private static void assertGas(Table t, int at, int bits, long address) {
        assertEquals(1, t.u8(at), "system I/O space");
        assertEquals(bits, t.u8(at + 1), "bit width");
        assertEquals(0, t.u8(at + 2), "bit offset");
        assertEquals(address, t.u64(at + 4));
    }

    @Test
    void theMadtListsEveryCpuTheIoApicOverridesAndNmis() {
        try (TestDeviceContext ctx = new TestDeviceContext(16 << 20, 1)) {
            new AcpiTables(List.of(0, 2, 4, 6)).ioApic(8, AcpiTables.IO_APIC_ADDRESS).write(ctx.memory());
            Table madt = tables(ctx.memory()).get("APIC");
            assertEquals(5, madt.revision());
            assertEquals(0xFEE0_0000L, madt.u32(36));
            assertEquals(1, madt.u32(40), "PCAT_COMPAT");
            List<MadtEntry> e = madtEntries(madt);
            List<int[]> cpus = new ArrayList<>();
            MadtEntry ioapic = null;
            Map<Integer, MadtEntry> overrides = new HashMap<>();
            List<MadtEntry> nmis = new ArrayList<>();
            for (MadtEntry x : e) {
                switch (x.type()) {
                    case 0 -> {
                        assertEquals(8, x.bytes().length);
                        cpus.add(new int[] {x.u8(2), x.u8(3), (int) x.u32(4)});
                    }
                    case 1 -> ioapic = x;
                    case 2 -> overrides.put(x.u8(3), x);
                    case 4 -> nmis.add(x);
                    default -> fail("unexpected MADT entry type " + x.type());
                }
            }
            assertEquals(4, cpus.size());
            for (int k = 0; k < 4; k++) assertArrayEquals(new int[] {k, 2 * k, 1}, cpus.get(k), "UID, APIC ID, enabled");
            assertNotNull(ioapic);
            assertEquals(12, ioapic.bytes().length);
            assertEquals(8, ioapic.u8(2));
            assertEquals(0xFEC0_0000L, ioapic.u32(4));
            assertEquals(0, ioapic.u32(8), "GSI base");
            assertEquals(2, overrides.size());
            assertEquals(0, overrides.get(0).u8(2), "ISA bus");
            assertEquals(2, overrides.get(0).u32(4), "IRQ0 -> GSI 2");
            assertEquals(0, overrides.get(0).u16(8), "conforms to ISA: edge, active high");
            assertEquals(9, overrides.get(9).u32(4));
            assertEquals(0x000D, overrides.get(9).u16(8), "level, active high");
            assertEquals(1, nmis.size());
            assertEquals(0xFF, nmis.getFirst().u8(2), "all processors");
            assertEquals(1, nmis.getFirst().u8(5), "LINT1");
            long flags = tables(ctx.memory()).get("FACP").u32(112);
            assertEquals(0, flags & AcpiTables.FADT_FORCE_APIC_PHYSICAL, "4 CPUs may use logical mode");
        }
    }

    @Test
    void pciInterruptsAreLevelTriggeredActiveHighOverrides() {
        try (TestDeviceContext ctx = new TestDeviceContext(16 << 20, 1)) {
            new AcpiTables(List.of(0)).pciInterrupts(List.of(10, 10, 11, 9)).write(ctx.memory());
            Map<Integer, MadtEntry> overrides = new HashMap<>();
            for (MadtEntry x : madtEntries(tables(ctx.memory()).get("APIC"))) if (x.type() == 2) overrides.put(x.u8(3), x);
            assertEquals(java.util.Set.of(0, 9, 10, 11), overrides.keySet(), "IRQ 9 (the SCI) once, 10 and 11 once each");
            for (int irq : List.of(10, 11)) {
                assertEquals(irq, overrides.get(irq).u32(4), "IRQ n -> GSI n");
                assertEquals(0x000D, overrides.get(irq).u16(8), "level, active high");
            }
            assertThrows(IllegalArgumentException.class, () -> new AcpiTables(List.of(0)).pciInterrupts(List.of(2)));
        }
    }

    @Test
    void apicIdsAbove254UseX2apicEntriesAndManyCpusForcePhysicalMode() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            List<Integer> ids = new ArrayList<>();
            for (int k = 0; k < 9; k++) ids.add(k);
            ids.add(300);
            new AcpiTables(ids).write(ctx.memory());
            Map<String, Table> t = tables(ctx.memory());
            assertNotEquals(0, t.get("FACP").u32(112) & AcpiTables.FADT_FORCE_APIC_PHYSICAL);
            List<MadtEntry> e = madtEntries(t.get("APIC"));
            assertEquals(9, e.stream().filter(x -> x.type() == 0).count());
            MadtEntry x2 = e.stream().filter(x -> x.type() == 9).findFirst().orElseThrow();
            assertEquals(16, x2.bytes().length);
            assertEquals(300, x2.u32(4), "x2APIC ID");
            assertEquals(1, x2.u32(8), "enabled");
            assertEquals(9, x2.u32(12), "UID");
            MadtEntry x2nmi = e.stream().filter(x -> x.type() == 10).findFirst().orElseThrow();
            assertEquals(12, x2nmi.bytes().length);
            assertEquals(0xFFFF_FFFFL, x2nmi.u32(4), "all processors");
            assertEquals(1, x2nmi.u8(8), "LINT1");
        }
    }

    @Test
    void aThirtyTwoBitTimerAndTheFwCfgNodeAreDescribed() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            var reg = DeviceRegistry.load();
            AcpiPm pm = (AcpiPm) reg.factory("acpi-pm").create("pm", ConfigFactory.parseString("timer-bits = 32\nreset-register = false"), ctx);
            FwCfg fw = (FwCfg) reg.factory("fw_cfg").create("fw", ConfigFactory.empty(), ctx);
            new AcpiTables(List.of(0)).powerManagement(pm).fwCfg(fw).bootArchitecture(true, true, false, false).write(ctx.memory());
            Table fadt = tables(ctx.memory()).get("FACP");
            long flags = fadt.u32(112);
            assertNotEquals(0, flags & AcpiTables.FADT_TMR_VAL_EXT);
            assertEquals(0, flags & AcpiTables.FADT_RESET_REG_SUP);
            assertEquals(0, flags & AcpiTables.FADT_HEADLESS, "an 8042 is a local input device");
            assertEquals(0, fadt.u64(120), "no reset register");
            assertEquals(AcpiTables.BOOT_LEGACY_DEVICES | AcpiTables.BOOT_8042 | AcpiTables.BOOT_VGA_NOT_PRESENT
                    | AcpiTables.BOOT_CMOS_RTC_NOT_PRESENT, fadt.u16(109));
            Map<String, Object> names = AmlReader.read(table(ctx.memory(), fadt.u64(140)).bytes(), 36);
            assertEquals("QEMU0002", names.get("\\_SB_.FWCF._HID"));
            assertEquals(0x0BL, names.get("\\_SB_.FWCF._STA"));
            // IO (Decode16, 0x510, 0x510, 1, 12), end tag
            assertArrayEquals(new byte[] {0x47, 1, 0x10, 0x05, 0x10, 0x05, 1, 12, 0x79, 0}, (byte[]) names.get("\\_SB_.FWCF._CRS"));
        }
    }

    @Test
    void theTablesNeedTheBiosAreaInRam() {
        try (PhysicalMemory m = PhysicalMemory.allocate(0xE0000)) {
            assertThrows(IllegalArgumentException.class, () -> new AcpiTables(List.of(0)).write(m));
        }
    }

    @Test
    void pkgLengthsOfEveryWidthDecode() {
        for (int n : new int[] {0, 61, 62, 63, 200, 4093, 4094, 5000, 0xFFFFC, 0xFFFFD}) {
            byte[] enc = new AcpiTables.Aml().packaged(new AcpiTables.Aml().bytes(new byte[n])).toByteArray();
            int[] pos = {0};
            int end = AmlReader.pkgEnd(enc, pos);
            assertEquals(enc.length, end, "PkgLength for " + n + " content bytes");
            assertEquals(enc.length - n, pos[0]);
        }
    }

    /**
     * Just enough of an AML interpreter to read the DSDT: named objects (integers, strings,
     * packages of integers, buffers) inside scopes and devices, by full path. Anything else fails.
     */
    static final class AmlReader {
        static Map<String, Object> read(byte[] aml, int from) {
            Map<String, Object> out = new LinkedHashMap<>();
            int[] pos = {from};
            terms(aml, pos, aml.length, "", out);
            assertEquals(aml.length, pos[0]);
            return out;
        }

        /** Reads a PkgLength at pos; returns the absolute end of the package. */
        static int pkgEnd(byte[] a, int[] pos) {
            int start = pos[0];
            int lead = a[pos[0]++] & 0xFF;
            int follow = lead >>> 6;
            if (follow == 0) return start + (lead & 0x3F);
            int len = lead & 0x0F;
            for (int k = 0; k < follow; k++) len |= (a[pos[0]++] & 0xFF) << (4 + 8 * k);
            return start + len;
        }

        private static String nameString(byte[] a, int[] pos) {
            StringBuilder s = new StringBuilder();
            if (a[pos[0]] == '\\') {
                s.append('\\');
                pos[0]++;
            }
            s.append(new String(a, pos[0], 4, StandardCharsets.US_ASCII));
            pos[0] += 4;
            return s.toString();
        }

        private static String path(String scope, String name) {
            if (name.startsWith("\\")) return name;
            return (scope.isEmpty() ? "\\" : scope + ".") + name;
        }

        private static void terms(byte[] a, int[] pos, int end, String scope, Map<String, Object> out) {
            while (pos[0] < end) {
                int op = a[pos[0]++] & 0xFF;
                switch (op) {
                    case 0x08 -> {
                        String n = path(scope, nameString(a, pos));
                        out.put(n, data(a, pos));
                    }
                    case 0x10 -> {
                        int e = pkgEnd(a, pos);
                        String n = path(scope, nameString(a, pos));
                        terms(a, pos, e, n, out);
                    }
                    case 0x5B -> {
                        assertEquals(0x82, a[pos[0]++] & 0xFF, "DeviceOp");
                        int e = pkgEnd(a, pos);
                        String n = path(scope, nameString(a, pos));
                        terms(a, pos, e, n, out);
                    }
                    default -> fail(String.format("unexpected AML opcode %#x at %d", op, pos[0] - 1));
                }
                assertTrue(pos[0] <= end, "object runs past its package");
            }
        }

        private static Object data(byte[] a, int[] pos) {
            int op = a[pos[0]++] & 0xFF;
            return switch (op) {
                case 0x00 -> 0L;
                case 0x01 -> 1L;
                case 0x0A -> (long) (a[pos[0]++] & 0xFF);
                case 0x0B -> {
                    long v = (a[pos[0]] & 0xFF) | (a[pos[0] + 1] & 0xFF) << 8;
                    pos[0] += 2;
                    yield v;
                }
                case 0x0D -> {
                    int s = pos[0];
                    while (a[pos[0]] != 0) pos[0]++;
                    yield new String(a, s, pos[0]++ - s, StandardCharsets.US_ASCII);
                }
                case 0x11 -> {
                    int e = pkgEnd(a, pos);
                    long size = (Long) data(a, pos);
                    byte[] b = java.util.Arrays.copyOfRange(a, pos[0], e);
                    assertEquals(size, b.length, "buffer size");
                    pos[0] = e;
                    yield b;
                }
                case 0x12 -> {
                    int e = pkgEnd(a, pos);
                    int count = a[pos[0]++] & 0xFF;
                    List<Long> items = new ArrayList<>();
                    for (int k = 0; k < count; k++) items.add((Long) data(a, pos));
                    assertEquals(e, pos[0], "package length");
                    yield items;
                }
                default -> throw new AssertionError(String.format("unexpected AML data opcode %#x", op));
            };
        }
    }
}
