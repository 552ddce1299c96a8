package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.IoApic.*;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.TestDeviceContext;
import org.symbiont.devices.apic.ApicMachine.Message;

/** The I/O APIC as an OS programs it (Intel 82093AA datasheet, version 0x20 with an EOI register). */
class IoApicTest {
    private static final int LEVEL = 1 << 15, ACTIVE_LOW = 1 << 13, MASKED = 1 << 16, LOGICAL = 1 << 11;

    @Test
    void identificationAndResetState() {
        try (ApicMachine m = new ApicMachine(1)) {
            IoApic io = m.ioapic;
            assertEquals(List.of(new MmioRange(0xFEC0_0000L, 0x1000)), io.mmioRanges());
            assertEquals(0x0017_0020, m.ioRead(REG_VERSION), "24 entries, version 0x20");
            assertEquals(0, m.ioRead(REG_ID));
            m.ioWrite(REG_ID, 0xFFFF_FFFF);
            assertEquals(0x0F00_0000, m.ioRead(REG_ID), "a 4-bit ID in bits 27:24");
            assertEquals(0x0F00_0000, m.ioRead(REG_ARBITRATION), "the arbitration ID follows the ID");
            m.ioWrite(REG_VERSION, 0);
            assertEquals(0x0017_0020, m.ioRead(REG_VERSION), "read-only");
            for (int pin = 0; pin < PINS; pin++) {
                assertEquals(0x0001_0000, m.ioRead(REG_REDIRECTION + 2 * pin), "masked after reset");
                assertEquals(0, m.ioRead(REG_REDIRECTION + 2 * pin + 1));
            }
            assertEquals(0, m.ioRead(REG_REDIRECTION + 2 * PINS), "past the last entry");
            io.reset();
            assertEquals(0, m.ioRead(REG_ID));
        }
    }

    @Test
    void redirectionEntriesKeepTheirWritableBits() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.ioWrite(REG_REDIRECTION + 6, 0xFFFF_FFFF);
            m.ioWrite(REG_REDIRECTION + 7, 0xFFFF_FFFF);
            assertEquals(0x0001_AFFF, m.ioRead(REG_REDIRECTION + 6), "delivery status, remote IRR and 31:17 read 0");
            assertEquals(0xFF00_0000, m.ioRead(REG_REDIRECTION + 7), "destination 63:56");
            assertEquals(0xFF00_0000_0001_AFFFL, m.ioapic.redirectionEntry(3));
        }
    }

    @Test
    void accessSizes() {
        try (ApicMachine m = new ApicMachine(1)) {
            IoApic io = m.ioapic;
            io.mmioWrite(IOAPIC_BASE, 1, 0x01);
            assertEquals(0x01, io.mmioRead(IOAPIC_BASE, 4), "IOREGSEL reads back");
            assertEquals(0x20, io.mmioRead(IOAPIC_BASE + IOWIN, 1));
            assertEquals(0x17, io.mmioRead(IOAPIC_BASE + IOWIN + 2, 1));
            assertEquals(0x0017, io.mmioRead(IOAPIC_BASE + IOWIN + 2, 2));
            assertEquals(0x0017_0020L, io.mmioRead(IOAPIC_BASE + IOWIN, 8));
            io.mmioWrite(IOAPIC_BASE, 4, REG_ID);
            io.mmioWrite(IOAPIC_BASE + IOWIN + 3, 1, 0x05);
            io.mmioWrite(IOAPIC_BASE + IOWIN, 2, 0x0500);
            assertEquals(0, m.ioRead(REG_ID), "IOWIN takes dword writes only");
            io.mmioWrite(IOAPIC_BASE + IOWIN, 8, 0xFFFF_FFFF_0500_0000L);
            assertEquals(0x0500_0000, m.ioRead(REG_ID));
            assertEquals(0, io.mmioRead(IOAPIC_BASE + 0x20, 4));
        }
    }

    private static final long IOAPIC_BASE = IoApic.DEFAULT_BASE;

    @Test
    void edgeTriggeredPinsSendOnRisingEdges() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.route(4, 0x34, 0);
            m.ioapic.setIrq(4, true);
            m.ioapic.setIrq(4, true);
            assertEquals(List.of(new Message(0, false, DeliveryMode.FIXED, 0x34, false)), m.messages);
            m.ioapic.setIrq(4, false);
            assertEquals(1, m.messages.size());
            m.ioapic.line(4).pulse();
            assertEquals(2, m.messages.size());
        }
    }

    @Test
    void levelTriggeredPinsHoldRemoteIrrUntilTheEoi() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.route(9, LEVEL | LOGICAL | 0x39, 0x01);
            m.ioapic.setIrq(9, true);
            assertEquals(List.of(new Message(0x01, true, DeliveryMode.FIXED, 0x39, true)), m.messages);
            assertEquals(LEVEL | LOGICAL | 0x39 | (1 << 14), m.ioRead(REG_REDIRECTION + 18), "remote IRR");
            m.ioapic.setIrq(9, false);
            m.ioapic.setIrq(9, true);
            assertEquals(1, m.messages.size(), "nothing more until the EOI");

            m.ioapic.eoi(0x38);
            assertEquals(1, m.messages.size(), "another vector's EOI");
            m.ioapic.eoi(0x39);
            assertEquals(2, m.messages.size(), "still asserted at the EOI: sent again");
            m.ioapic.setIrq(9, false);
            m.ioapic.eoi(0x39);
            assertEquals(2, m.messages.size());
            assertEquals(0, m.ioRead(REG_REDIRECTION + 18) & (1 << 14));

            // The EOI register (version 0x20) does the same.
            m.ioapic.setIrq(9, true);
            assertEquals(3, m.messages.size());
            m.ioapic.setIrq(9, false);
            m.ioapic.mmioWrite(IOAPIC_BASE + EOI, 4, 0x39);
            assertEquals(0, m.ioRead(REG_REDIRECTION + 18) & (1 << 14));
        }
    }

    @Test
    void reprogrammingAsEdgeClearsRemoteIrr() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.route(5, LEVEL | 0x45, 0);
            m.ioapic.setIrq(5, true);
            m.ioapic.setIrq(5, false);
            m.ioWrite(REG_REDIRECTION + 10, MASKED | 0x45);
            m.ioWrite(REG_REDIRECTION + 10, LEVEL | 0x45);
            assertEquals(LEVEL | 0x45, m.ioRead(REG_REDIRECTION + 10), "Linux's recovery for I/O APICs without EOI register");
            m.ioapic.setIrq(5, true);
            assertEquals(2, m.messages.size());
        }
    }

    @Test
    void maskedPinsLoseEdgesButNotLevels() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.route(3, MASKED | 0x33, 0);
            m.ioapic.setIrq(3, true);
            m.ioWrite(REG_REDIRECTION + 6, 0x33);
            assertEquals(List.of(), m.messages, "an edge on a masked pin is lost");

            m.route(7, MASKED | LEVEL | 0x37, 0);
            m.ioapic.setIrq(7, true);
            assertEquals(List.of(), m.messages);
            m.ioWrite(REG_REDIRECTION + 14, LEVEL | 0x37);
            assertEquals(List.of(new Message(0, false, DeliveryMode.FIXED, 0x37, true)), m.messages, "unmasked while asserted");
        }
    }

    @Test
    void activeLowPolarityInvertsThePin() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.ioapic.setIrq(11, true);   // idle high, as an active-low PCI line
            m.route(11, LEVEL | ACTIVE_LOW | 0x4B, 0);
            assertEquals(List.of(), m.messages);
            m.ioapic.setIrq(11, false);
            assertEquals(1, m.messages.size());
            m.ioapic.setIrq(11, true);
            m.ioapic.eoi(0x4B);
            assertEquals(1, m.messages.size(), "deasserted (high) at the EOI");

            m.ioapic.setIrq(12, true);
            m.route(12, ACTIVE_LOW | 0x4C, 0);
            m.ioapic.setIrq(12, false);
            assertEquals(2, m.messages.size(), "the falling edge is the active edge");
            m.ioapic.setIrq(12, true);
            assertEquals(2, m.messages.size());
        }
    }

    @Test
    void nonFixedDeliveryModesAreEdgeTriggered() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.route(2, LEVEL | 0x400, 0);   // NMI
            m.ioapic.setIrq(2, true);
            assertEquals(List.of(new Message(0, false, DeliveryMode.NMI, 0, false)), m.messages);
            assertEquals(0, m.ioRead(REG_REDIRECTION + 4) & (1 << 14), "no remote IRR");
            assertEquals(1, m.core(0).nmis);
            m.ioapic.setIrq(2, false);
            m.ioapic.setIrq(2, true);
            assertEquals(2, m.core(0).nmis);

            m.route(6, 0x600 | 0x10, 0);   // reserved for the I/O APIC: nothing is sent
            m.ioapic.setIrq(6, true);
            assertEquals(2, m.messages.size());
        }
    }

    @Test
    void factoryAndBadParameters() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            var factory = DeviceRegistry.load().factory("ioapic");
            IoApic io = (IoApic) factory.create("io", ConfigFactory.parseString("base = \"0xfec01000\", id = 2"), ctx);
            assertEquals(List.of(new MmioRange(0xFEC0_1000L, 0x1000)), io.mmioRanges());
            io.mmioWrite(0xFEC0_1000L, 4, REG_ID);
            assertEquals(0x0200_0000, io.mmioRead(0xFEC0_1010L, 4));
            IoApic standard = (IoApic) factory.create("io", ConfigFactory.empty(), ctx);
            assertEquals(List.of(new MmioRange(0xFEC0_0000L, 0x1000)), standard.mmioRanges());
            for (String bad : new String[] {"id = 16", "base = 4660", "base = \"nowhere\""}) {
                var e = assertThrows(ConfigException.class, () -> factory.create("io", ConfigFactory.parseString(bad), ctx), bad);
                assertTrue(e.getMessage().contains(bad.substring(0, bad.indexOf(' '))), e.getMessage());
            }
            assertThrows(IllegalArgumentException.class, () -> io.setIrq(24, true));
        }
    }
}
