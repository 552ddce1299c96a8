package org.symbiont.devices.firmware;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.symbiont.devices.MachineInfo;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * The ACPI tables a PC firmware leaves for the OS (ACPI 6.5, chapter 5), written into guest
 * memory as SeaBIOS would for QEMU's q35 machine, so that kernels that look for them the usual
 * way find them: an ACPI 2.0+ RSDP on a 16-byte boundary in the BIOS area 0xE0000-0xFFFFF (where
 * Linux, the BSDs and hobby kernels scan), an RSDT and an XSDT listing the FADT and the MADT, the
 * FADT pointing at the FACS and the DSDT.
 *
 * <p>Everything lies in {@code [REGION_BASE, REGION_END)} = 0xE0000-0xFFFFF, which the memory
 * map must report as reserved ({@link MemoryMap#BIOS_AREA}, part of
 * {@link MemoryMap#pcLegacyRegions()}). The region must stay ordinary RAM (not marked read-only):
 * the OS writes the FACS (global lock, waking vector).
 *
 * <p>Layout: RSDP at 0xE0000, FACS at 0xE0040 (64-byte aligned), then DSDT, MADT, FADT, RSDT and
 * XSDT, each on a 16-byte boundary.
 *
 * <ul>
 * <li>FADT revision 6 (minor 5, 276 bytes): SCI on IRQ 9; no SMI command port (the machine is
 *     always in ACPI mode); PM1a event block, PM1a control block and PM timer as {@link AcpiPm}
 *     lays them out (4, 2 and 4 bytes), in both the 32-bit fields and the X_ generic addresses;
 *     no GPE blocks; C2/C3 not supported (latencies 0xFFF); flags WBINVD, PROC_C1, SLP_BUTTON (no
 *     fixed sleep button; the power button is the fixed one), FIX_RTC, TMR_VAL_EXT with a 32-bit
 *     timer, RESET_REG_SUP with the reset register (port 0xCF9, value 0x06), HEADLESS without VGA
 *     and keyboard controller, FORCE_APIC_PHYSICAL_DESTINATION_MODE above 8 CPUs (as QEMU);
 *     HW_REDUCED_ACPI clear; IA-PC boot flags from {@link #bootArchitecture}.
 * <li>DSDT revision 2: {@code Name (\_S5, Package (4) {0, 0, 0, 0})} (SLP_TYP
 *     {@link AcpiPm#S5_SLEEP_TYPE}, as QEMU), and with {@link #fwCfg} QEMU's fw_cfg device node
 *     {@code \_SB.FWCF} (_HID "QEMU0002", _STA 0x0B, _CRS its I/O ports), through which Linux's
 *     qemu_fw_cfg driver finds the device.
 * <li>FACS version 2, 64 bytes, all zero but signature and length.
 * <li>MADT revision 5: local APIC address 0xFEE00000, flags PCAT_COMPAT (dual 8259s present);
 *     per vCPU, in vCPU order, a Processor Local APIC entry (UID = vCPU index, enabled), or a
 *     Processor Local x2APIC entry when the APIC ID or UID does not fit in a byte; one I/O APIC
 *     (ID, address, GSI base 0); interrupt source overrides ISA IRQ 0 → GSI 2 (flags 0: conforms
 *     to the ISA bus, edge-triggered active-high, as QEMU) and IRQ 9 → GSI 9 level-triggered
 *     active-high (the SCI), and each IRQ given to {@link #pciInterrupts} level-triggered
 *     active-high; Local APIC NMI on LINT1 for all processors (UID 0xFF), and the x2APIC
 *     form (UID 0xFFFFFFFF) when x2APIC entries exist.
 * </ul>
 */
public final class AcpiTables {
    public static final long REGION_BASE = 0xE_0000, REGION_END = 0x10_0000;
    public static final long LOCAL_APIC_ADDRESS = 0xFEE0_0000L, IO_APIC_ADDRESS = 0xFEC0_0000L;
    public static final String OEM_ID = "SYMBNT", OEM_TABLE_ID = "SYMBIONT", CREATOR_ID = "SYMB";
    public static final int FADT_REVISION = 6, FADT_MINOR_REVISION = 5, FADT_LENGTH = 276;
    public static final int MADT_REVISION = 5, DSDT_REVISION = 2, FACS_VERSION = 2;
    static final int HEADER_LENGTH = 36;

    // FADT flags (ACPI 6.5 table 5.10)
    public static final int FADT_WBINVD = 1, FADT_PROC_C1 = 1 << 2, FADT_PWR_BUTTON = 1 << 4, FADT_SLP_BUTTON = 1 << 5,
            FADT_FIX_RTC = 1 << 6, FADT_TMR_VAL_EXT = 1 << 8, FADT_RESET_REG_SUP = 1 << 10, FADT_HEADLESS = 1 << 12,
            FADT_FORCE_APIC_PHYSICAL = 1 << 19, FADT_HW_REDUCED = 1 << 20;
    // IA-PC boot architecture flags (ACPI 6.5 table 5.11)
    public static final int BOOT_LEGACY_DEVICES = 1, BOOT_8042 = 1 << 1, BOOT_VGA_NOT_PRESENT = 1 << 2,
            BOOT_CMOS_RTC_NOT_PRESENT = 1 << 5;

    private final List<Integer> apicIds;
    private int ioApicId;
    private long ioApicAddress = IO_APIC_ADDRESS;
    private int pmBase = 0x600;
    private boolean pmTimer32;
    private boolean resetRegister = true;
    private int fwCfgBase = -1;
    private boolean fwCfgDma;
    private boolean legacyDevices = true, i8042, vga, cmosRtc = true;

    /** Where each table went, and the end of what was written. */
    public record Layout(long rsdp, long facs, long dsdt, long madt, long fadt, long rsdt, long xsdt, long end) {}

    /**
     * Tables for processors with these initial APIC IDs (in vCPU order), an I/O APIC with ID 0 at
     * 0xFEC00000, {@link AcpiPm}'s default layout (iobase 0x600, 24-bit timer, reset register),
     * no fw_cfg node, and a PC with legacy devices, a CMOS RTC, no VGA and no 8042.
     */
    private final java.util.SortedSet<Integer> pciIrqs = new java.util.TreeSet<>();

    public AcpiTables(List<Integer> apicIds) {
        if (apicIds.isEmpty()) throw new IllegalArgumentException("a machine has at least one CPU");
        this.apicIds = List.copyOf(apicIds);
    }

    public static AcpiTables forMachine(MachineInfo machine) {
        return new AcpiTables(machine.apicIds());
    }

    /** The I/O APIC's ID register value and base address. */
    public AcpiTables ioApic(int id, long address) {
        if (id < 0 || id > 0xFF || address < 0 || address > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(String.format("I/O APIC ID %d / address %#x out of range", id, address));
        }
        this.ioApicId = id;
        this.ioApicAddress = address;
        return this;
    }

    /** Describes this power-management device in the FADT. */
    public AcpiTables powerManagement(AcpiPm pm) {
        return powerManagement(pm.ioBase(), pm.timer32(), pm.hasResetRegister());
    }

    public AcpiTables powerManagement(int ioBase, boolean timer32, boolean resetRegister) {
        this.pmBase = ioBase;
        this.pmTimer32 = timer32;
        this.resetRegister = resetRegister;
        return this;
    }

    /**
     * ISA IRQs that PCI devices' INTx lines share: level-triggered, active-high overrides in the
     * MADT (IRQ n to GSI n, as QEMU's tables declare for its PCI links), so an OS programs the
     * I/O APIC for what the wire does.
     */
    public AcpiTables pciInterrupts(java.util.Collection<Integer> irqs) {
        for (int irq : irqs) {
            if (irq < 1 || irq > 15 || irq == 2) throw new IllegalArgumentException("PCI interrupt on ISA IRQ " + irq + " is not 1, 3-15");
            if (irq != AcpiPm.SCI_IRQ) pciIrqs.add(irq);
        }
        return this;
    }

    /** Declares this fw_cfg device in the DSDT (\_SB.FWCF). */
    public AcpiTables fwCfg(FwCfg device) {
        this.fwCfgBase = device.ioBase();
        this.fwCfgDma = device.dmaEnabled();
        return this;
    }

    /**
     * The IA-PC boot architecture flags: ISA/LPC devices present, an 8042 keyboard controller at
     * ports 0x60/0x64, VGA present, a CMOS RTC at ports 0x70/0x71.
     */
    public AcpiTables bootArchitecture(boolean legacyDevices, boolean i8042, boolean vga, boolean cmosRtc) {
        this.legacyDevices = legacyDevices;
        this.i8042 = i8042;
        this.vga = vga;
        this.cmosRtc = cmosRtc;
        return this;
    }

    /**
     * Writes every table into {@code [REGION_BASE, REGION_END)} (first clearing the region, so the
     * tables can be rewritten at a machine reset).
     */
    public Layout write(PhysicalMemory memory) {
        if (memory.size() < REGION_END) {
            throw new IllegalArgumentException(String.format("ACPI tables need guest RAM up to %#x, the guest has %#x", REGION_END, memory.size()));
        }
        byte[] facs = facs();
        byte[] dsdt = dsdt();
        byte[] madt = madt();
        long rsdpAt = REGION_BASE;
        long facsAt = REGION_BASE + 64;
        long dsdtAt = facsAt + facs.length;
        long madtAt = align16(dsdtAt + dsdt.length);
        long fadtAt = align16(madtAt + madt.length);
        byte[] fadt = fadt(facsAt, dsdtAt);
        long rsdtAt = align16(fadtAt + fadt.length);
        byte[] rsdt = rsdt(fadtAt, madtAt);
        long xsdtAt = align16(rsdtAt + rsdt.length);
        byte[] xsdt = xsdt(fadtAt, madtAt);
        long end = xsdtAt + xsdt.length;
        if (end > REGION_END) throw new IllegalArgumentException("ACPI tables for " + apicIds.size() + " CPUs do not fit in the BIOS area");
        memory.write(REGION_BASE, new byte[(int) (REGION_END - REGION_BASE)]);
        memory.write(rsdpAt, rsdp(rsdtAt, xsdtAt));
        memory.write(facsAt, facs);
        memory.write(dsdtAt, dsdt);
        memory.write(madtAt, madt);
        memory.write(fadtAt, fadt);
        memory.write(rsdtAt, rsdt);
        memory.write(xsdtAt, xsdt);
        return new Layout(rsdpAt, facsAt, dsdtAt, madtAt, fadtAt, rsdtAt, xsdtAt, end);
    }

    private static long align16(long a) {
        return (a + 15) & ~15L;
    }

    // ---- tables ----

    private static ByteBuffer table(String signature, int length, int revision) {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(ascii(signature, 4)).putInt(length).put((byte) revision).put((byte) 0)
                .put(ascii(OEM_ID, 6)).put(ascii(OEM_TABLE_ID, 8)).putInt(1).put(ascii(CREATOR_ID, 4)).putInt(1);
        return b;
    }

    /** Sets the checksum byte (offset 9) so that all bytes of the table sum to 0. */
    private static byte[] sealed(ByteBuffer b) {
        byte[] t = b.array();
        t[9] = checksum(t, 0, t.length);
        return t;
    }

    /** The byte that makes {@code bytes[from, from + length)} sum to 0 modulo 256 (with it in place of a zero). */
    static byte checksum(byte[] bytes, int from, int length) {
        int sum = 0;
        for (int k = from; k < from + length; k++) sum += bytes[k];
        return (byte) -sum;
    }

    private static byte[] ascii(String s, int width) {
        byte[] b = new byte[width];
        byte[] src = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(src, 0, b, 0, Math.min(width, src.length));
        return b;
    }

    private static byte[] rsdp(long rsdt, long xsdt) {
        ByteBuffer b = ByteBuffer.allocate(36).order(ByteOrder.LITTLE_ENDIAN);
        b.put(ascii("RSD PTR ", 8)).put((byte) 0).put(ascii(OEM_ID, 6)).put((byte) 2).putInt((int) rsdt).putInt(36).putLong(xsdt);
        byte[] t = b.array();
        t[8] = checksum(t, 0, 20);
        t[32] = checksum(t, 0, 36);
        return t;
    }

    private static byte[] rsdt(long... tables) {
        ByteBuffer b = table("RSDT", HEADER_LENGTH + 4 * tables.length, 1);
        for (long t : tables) b.putInt((int) t);
        return sealed(b);
    }

    private static byte[] xsdt(long... tables) {
        ByteBuffer b = table("XSDT", HEADER_LENGTH + 8 * tables.length, 1);
        for (long t : tables) b.putLong(t);
        return sealed(b);
    }

    private static byte[] facs() {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.put(ascii("FACS", 4)).putInt(64);
        b.put(32, (byte) FACS_VERSION);
        return b.array();
    }

    private static final int SPACE_SYSTEM_IO = 1;

    /** A Generic Address Structure (ACPI 6.5 section 5.2.3.2). */
    private static void gas(ByteBuffer b, int at, int bitWidth, int accessSize, long address) {
        b.put(at, (byte) SPACE_SYSTEM_IO).put(at + 1, (byte) bitWidth).put(at + 2, (byte) 0).put(at + 3, (byte) accessSize).putLong(at + 4, address);
    }

    int fadtFlags() {
        int flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC;
        if (pmTimer32) flags |= FADT_TMR_VAL_EXT;
        if (resetRegister) flags |= FADT_RESET_REG_SUP;
        if (!vga && !i8042) flags |= FADT_HEADLESS;
        if (apicIds.size() > 8) flags |= FADT_FORCE_APIC_PHYSICAL;
        return flags;
    }

    int bootFlags() {
        return (legacyDevices ? BOOT_LEGACY_DEVICES : 0) | (i8042 ? BOOT_8042 : 0) | (vga ? 0 : BOOT_VGA_NOT_PRESENT)
                | (cmosRtc ? 0 : BOOT_CMOS_RTC_NOT_PRESENT);
    }

    /** FADT field offsets (ACPI 6.5 table 5.9). */
    static final int FADT_FIRMWARE_CTRL = 36, FADT_DSDT = 40, FADT_SCI_INT = 46, FADT_SMI_CMD = 48, FADT_PM1A_EVT_BLK = 56,
            FADT_PM1A_CNT_BLK = 64, FADT_PM_TMR_BLK = 76, FADT_PM1_EVT_LEN = 88, FADT_PM1_CNT_LEN = 89, FADT_PM_TMR_LEN = 91,
            FADT_P_LVL2_LAT = 96, FADT_P_LVL3_LAT = 98, FADT_IAPC_BOOT_ARCH = 109, FADT_FLAGS = 112, FADT_RESET_REG = 116,
            FADT_RESET_VALUE = 128, FADT_MINOR = 131, FADT_X_FIRMWARE_CTRL = 132, FADT_X_DSDT = 140, FADT_X_PM1A_EVT_BLK = 148,
            FADT_X_PM1A_CNT_BLK = 172, FADT_X_PM_TMR_BLK = 208, FADT_HYPERVISOR_ID = 268;

    private byte[] fadt(long facs, long dsdt) {
        ByteBuffer b = table("FACP", FADT_LENGTH, FADT_REVISION);
        b.putInt(FADT_FIRMWARE_CTRL, (int) facs).putInt(FADT_DSDT, (int) dsdt);
        b.putShort(FADT_SCI_INT, (short) AcpiPm.SCI_IRQ);
        b.putInt(FADT_SMI_CMD, 0);
        b.putInt(FADT_PM1A_EVT_BLK, pmBase).putInt(FADT_PM1A_CNT_BLK, pmBase + AcpiPm.PM1_CNT).putInt(FADT_PM_TMR_BLK, pmBase + AcpiPm.PM_TMR);
        b.put(FADT_PM1_EVT_LEN, (byte) AcpiPm.PM1_EVT_LENGTH).put(FADT_PM1_CNT_LEN, (byte) AcpiPm.PM1_CNT_LENGTH)
                .put(FADT_PM_TMR_LEN, (byte) AcpiPm.PM_TMR_LENGTH);
        b.putShort(FADT_P_LVL2_LAT, (short) 0xFFF).putShort(FADT_P_LVL3_LAT, (short) 0xFFF);
        b.putShort(FADT_IAPC_BOOT_ARCH, (short) bootFlags());
        b.putInt(FADT_FLAGS, fadtFlags());
        if (resetRegister) {
            gas(b, FADT_RESET_REG, 8, 1, AcpiPm.RESET_PORT);
            b.put(FADT_RESET_VALUE, (byte) AcpiPm.RESET_VALUE);
        }
        b.put(FADT_MINOR, (byte) FADT_MINOR_REVISION);
        b.putLong(FADT_X_FIRMWARE_CTRL, facs).putLong(FADT_X_DSDT, dsdt);
        gas(b, FADT_X_PM1A_EVT_BLK, 8 * AcpiPm.PM1_EVT_LENGTH, 0, pmBase);
        gas(b, FADT_X_PM1A_CNT_BLK, 8 * AcpiPm.PM1_CNT_LENGTH, 0, pmBase + AcpiPm.PM1_CNT);
        gas(b, FADT_X_PM_TMR_BLK, 8 * AcpiPm.PM_TMR_LENGTH, 0, pmBase + AcpiPm.PM_TMR);
        b.put(FADT_HYPERVISOR_ID, ascii("SYMBIONT", 8));
        return sealed(b);
    }

    public static final int MADT_LOCAL_APIC = 0, MADT_IO_APIC = 1, MADT_INTERRUPT_OVERRIDE = 2, MADT_LOCAL_APIC_NMI = 4,
            MADT_LOCAL_X2APIC = 9, MADT_LOCAL_X2APIC_NMI = 10;
    public static final int MADT_PCAT_COMPAT = 1, MADT_ENABLED = 1;
    /** MPS INTI flags: active-high polarity, level trigger. */
    public static final int INTI_ACTIVE_HIGH = 1, INTI_LEVEL = 3 << 2;

    private boolean needsX2apic(int index) {
        return apicIds.get(index) >= 0xFF || index >= 0xFF;
    }

    private byte[] madt() {
        int length = HEADER_LENGTH + 8;
        boolean anyX2apic = false;
        for (int k = 0; k < apicIds.size(); k++) {
            boolean x2 = needsX2apic(k);
            anyX2apic |= x2;
            length += x2 ? 16 : 8;
        }
        length += 12 + (2 + pciIrqs.size()) * 10 + 6 + (anyX2apic ? 12 : 0);
        ByteBuffer b = table("APIC", length, MADT_REVISION);
        b.putInt((int) LOCAL_APIC_ADDRESS).putInt(MADT_PCAT_COMPAT);
        for (int k = 0; k < apicIds.size(); k++) {
            if (needsX2apic(k)) {
                b.put((byte) MADT_LOCAL_X2APIC).put((byte) 16).putShort((short) 0).putInt(apicIds.get(k)).putInt(MADT_ENABLED).putInt(k);
            } else {
                b.put((byte) MADT_LOCAL_APIC).put((byte) 8).put((byte) k).put((byte) (int) apicIds.get(k)).putInt(MADT_ENABLED);
            }
        }
        b.put((byte) MADT_IO_APIC).put((byte) 12).put((byte) ioApicId).put((byte) 0).putInt((int) ioApicAddress).putInt(0);
        b.put((byte) MADT_INTERRUPT_OVERRIDE).put((byte) 10).put((byte) 0).put((byte) 0).putInt(2).putShort((short) 0);
        b.put((byte) MADT_INTERRUPT_OVERRIDE).put((byte) 10).put((byte) 0).put((byte) AcpiPm.SCI_IRQ).putInt(AcpiPm.SCI_IRQ)
                .putShort((short) (INTI_ACTIVE_HIGH | INTI_LEVEL));
        for (int irq : pciIrqs) {
            b.put((byte) MADT_INTERRUPT_OVERRIDE).put((byte) 10).put((byte) 0).put((byte) irq).putInt(irq)
                    .putShort((short) (INTI_ACTIVE_HIGH | INTI_LEVEL));
        }
        b.put((byte) MADT_LOCAL_APIC_NMI).put((byte) 6).put((byte) 0xFF).putShort((short) 0).put((byte) 1);
        if (anyX2apic) {
            b.put((byte) MADT_LOCAL_X2APIC_NMI).put((byte) 12).putShort((short) 0).putInt(-1).put((byte) 1).put(new byte[3]);
        }
        return sealed(b);
    }

    private byte[] dsdt() {
        Aml body = new Aml();
        // Name (\_S5, Package (4) {S5, 0, 0, 0}): SLP_TYPa, SLP_TYPb, reserved, reserved
        Aml s5 = new Aml().u8(4).integer(AcpiPm.S5_SLEEP_TYPE).integer(0).integer(0).integer(0);
        body.u8(Aml.NAME_OP).rootName("_S5_").u8(Aml.PACKAGE_OP).packaged(s5);
        if (fwCfgBase >= 0) {
            int ports = fwCfgDma ? 12 : 2;
            // IO (Decode16, base, base, 1, ports) and the end tag (checksum 0: "treat as valid")
            byte[] resources = {0x47, 0x01, (byte) fwCfgBase, (byte) (fwCfgBase >>> 8), (byte) fwCfgBase, (byte) (fwCfgBase >>> 8),
                    0x01, (byte) ports, 0x79, 0x00};
            Aml crs = new Aml().integer(resources.length).bytes(resources);
            Aml device = new Aml().name("FWCF")
                    .u8(Aml.NAME_OP).name("_HID").string("QEMU0002")
                    .u8(Aml.NAME_OP).name("_STA").integer(0x0B)
                    .u8(Aml.NAME_OP).name("_CRS").u8(Aml.BUFFER_OP).packaged(crs);
            Aml scope = new Aml().rootName("_SB_").u8(Aml.EXT_OP_PREFIX).u8(Aml.DEVICE_OP).packaged(device);
            body.u8(Aml.SCOPE_OP).packaged(scope);
        }
        byte[] aml = body.toByteArray();
        ByteBuffer b = table("DSDT", HEADER_LENGTH + aml.length, DSDT_REVISION);
        b.put(aml);
        return sealed(b);
    }

    /** Just enough of an AML encoder (ACPI 6.5 chapter 20) for the DSDT above. */
    static final class Aml {
        static final int ZERO_OP = 0x00, ONE_OP = 0x01, NAME_OP = 0x08, BYTE_PREFIX = 0x0A, WORD_PREFIX = 0x0B,
                DWORD_PREFIX = 0x0C, STRING_PREFIX = 0x0D, SCOPE_OP = 0x10, BUFFER_OP = 0x11, PACKAGE_OP = 0x12,
                EXT_OP_PREFIX = 0x5B, DEVICE_OP = 0x82, ROOT_CHAR = 0x5C;

        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Aml u8(int v) {
            out.write(v);
            return this;
        }

        Aml bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        /** A four-character name segment. */
        Aml name(String seg) {
            if (seg.length() != 4) throw new IllegalArgumentException("AML name segments have 4 characters: " + seg);
            return bytes(seg.getBytes(StandardCharsets.US_ASCII));
        }

        Aml rootName(String seg) {
            return u8(ROOT_CHAR).name(seg);
        }

        Aml string(String s) {
            return u8(STRING_PREFIX).bytes(s.getBytes(StandardCharsets.US_ASCII)).u8(0);
        }

        /** The shortest integer encoding: ZeroOp, OneOp, or a byte/word/dword constant. */
        Aml integer(long v) {
            if (v == 0) return u8(ZERO_OP);
            if (v == 1) return u8(ONE_OP);
            if (v <= 0xFF) return u8(BYTE_PREFIX).u8((int) v);
            if (v <= 0xFFFF) return u8(WORD_PREFIX).u8((int) v).u8((int) (v >>> 8));
            return u8(DWORD_PREFIX).u8((int) v).u8((int) (v >>> 8)).u8((int) (v >>> 16)).u8((int) (v >>> 24));
        }

        /** A PkgLength (which counts its own bytes) followed by {@code contents}. */
        Aml packaged(Aml contents) {
            byte[] c = contents.toByteArray();
            int total = c.length + 1;
            if (total <= 0x3F) {
                u8(total);
            } else if (c.length + 2 <= 0xFFF) {
                total = c.length + 2;
                u8(0x40 | (total & 0xF)).u8(total >>> 4);
            } else if (c.length + 3 <= 0xF_FFFF) {
                total = c.length + 3;
                u8(0x80 | (total & 0xF)).u8(total >>> 4).u8(total >>> 12);
            } else {
                total = c.length + 4;
                u8(0xC0 | (total & 0xF)).u8(total >>> 4).u8(total >>> 12).u8(total >>> 20);
            }
            return bytes(c);
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }
}
