package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.LocalApic.*;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.MsrDevice.MsrAccessRefused;
import org.symbiont.devices.TestDeviceContext;

/** The xAPIC register page and IA32_APIC_BASE as a kernel programs them (SDM Vol. 3A 11.4-11.6). */
class LocalApicRegistersTest {
    @Test
    void powerOnStateIsTheSdmsResetState() {
        try (ApicMachine m = new ApicMachine(2)) {
            assertEquals(List.of(new MmioRange(0xFEE0_0000L, 0x1000)), m.apic(0).mmioRanges());
            assertEquals(0xFEE0_0900L, m.apic(0).rdmsr(MSR_APIC_BASE), "enabled, BSP");
            assertEquals(0xFEE0_0800L, m.apic(1).rdmsr(MSR_APIC_BASE), "enabled, not BSP");
            assertEquals(0x0100_0000, m.read(1, REG_ID));
            assertEquals(0x0005_0014, m.read(0, REG_VERSION), "version 0x14, six LVT entries");
            assertEquals(0xFF, m.read(0, REG_SVR), "software-disabled, spurious vector 0xFF");
            assertEquals(0xFFFF_FFFF, m.read(0, REG_DFR), "flat model");
            assertEquals(0, m.read(0, REG_LDR));
            assertEquals(0, m.read(0, REG_TPR));
            for (int reg = REG_LVT_TIMER; reg <= REG_LVT_ERROR; reg += 0x10) {
                assertEquals(LVT_MASKED, m.read(0, reg), String.format("LVT %#x masked", reg));
            }
            assertEquals(0, m.read(0, REG_TIMER_INITIAL));
            assertEquals(0, m.read(0, REG_TIMER_CURRENT));
            assertEquals(0, m.read(0, REG_TIMER_DIVIDE));
        }
    }

    @Test
    void softwareEnableThroughTheSvrGatesFixedInterrupts() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            apic.acceptInterrupt(0x40, false);
            assertFalse(m.bit(0, REG_IRR, 0x40), "a software-disabled APIC accepts no fixed interrupt");
            assertEquals(-1, apic.pendingInterrupt());

            m.write(0, REG_SVR, 0x1EF);
            assertTrue(apic.isSoftwareEnabled());
            assertEquals(0x1EF, m.read(0, REG_SVR));
            apic.acceptInterrupt(0x40, false);
            assertTrue(m.bit(0, REG_IRR, 0x40));
            assertFalse(m.bit(0, REG_TMR, 0x40), "edge-triggered");
            assertEquals(0x40, apic.pendingInterrupt());
            assertEquals(1, m.core(0).wakeups);

            // Unmask an LVT entry, then software-disable: every mask comes back and cannot be cleared.
            m.write(0, REG_LVT_ERROR, 0xFE);
            assertEquals(0xFE, m.read(0, REG_LVT_ERROR));
            m.write(0, REG_SVR, 0xEF);
            assertEquals(LVT_MASKED | 0xFE, m.read(0, REG_LVT_ERROR));
            m.write(0, REG_LVT_ERROR, 0xFD);
            assertEquals(LVT_MASKED | 0xFD, m.read(0, REG_LVT_ERROR));
            assertEquals(0x40, apic.pendingInterrupt(), "pending requests are held across a software disable");
        }
    }

    @Test
    void idLogicalDestinationAndFormatRegisters() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.write(0, REG_ID, 0x0512_3456);
            assertEquals(0x0500_0000, m.read(0, REG_ID), "bits 31:24 only");
            assertEquals(5, m.apic(0).apicId());
            assertTrue(m.apic(0).matchesDestination(5, false));
            assertFalse(m.apic(0).matchesDestination(0, false));
            m.write(0, REG_LDR, 0x1234_5678);
            assertEquals(0x1200_0000, m.read(0, REG_LDR));
            m.write(0, REG_DFR, 0x0123_4567);
            assertEquals(0x0FFF_FFFF, m.read(0, REG_DFR), "cluster model; bits 27:0 read as ones");
            m.write(0, REG_VERSION, 0);
            assertEquals(0x0005_0014, m.read(0, REG_VERSION), "read-only");
        }
    }

    @Test
    void errorStatusRegisterUpdatesOnWriteAndSignalsTheErrorVector() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.enable(0);
            m.write(0, REG_LVT_ERROR, 0xFE);
            assertEquals(0, m.read(0, 0x2F0), "CMCI is not offered: a reserved register reads 0");
            assertEquals(0, m.read(0, REG_ESR), "the ESR changes only when written");
            assertEquals(0xFE, m.apic(0).pendingInterrupt(), "the error interrupt");
            m.write(0, REG_ESR, 0);
            assertEquals(ESR_ILLEGAL_REGISTER, m.read(0, REG_ESR));
            m.write(0, 0x3F0, 0x30);   // SELF IPI exists only in x2APIC mode
            m.apic(0).acceptInterrupt(3, false);
            assertFalse(m.bit(0, REG_IRR, 3), "vectors 0-15 are never requested");
            assertEquals(ESR_ILLEGAL_REGISTER, m.read(0, REG_ESR), "still the value of the last write");
            m.write(0, REG_ESR, 0);
            assertEquals(ESR_ILLEGAL_REGISTER | ESR_RECEIVE_ILLEGAL_VECTOR, m.read(0, REG_ESR));
            m.write(0, REG_ESR, 0);
            assertEquals(0, m.read(0, REG_ESR));
        }
    }

    @Test
    void accessSizes() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            assertEquals(0x14, apic.mmioRead(LAPIC_BASE + REG_VERSION, 1));
            assertEquals(0x05, apic.mmioRead(LAPIC_BASE + REG_VERSION + 2, 1));
            assertEquals(0x0005, apic.mmioRead(LAPIC_BASE + REG_VERSION + 2, 2));
            assertEquals(0, apic.mmioRead(LAPIC_BASE + REG_VERSION + 4, 4), "bytes 4-15 of a slot read 0");
            assertEquals(0x0005_0014L, apic.mmioRead(LAPIC_BASE + REG_VERSION, 8));

            apic.mmioWrite(LAPIC_BASE + REG_TPR, 1, 0x20);
            apic.mmioWrite(LAPIC_BASE + REG_TPR + 4, 4, 0x20);
            assertEquals(0, m.read(0, REG_TPR), "sub-dword and misaligned writes are ignored");
            apic.mmioWrite(LAPIC_BASE + REG_TPR, 8, 0x1234_5678_0000_0030L);
            assertEquals(0x30, m.read(0, REG_TPR), "an 8-byte store writes the register from its low dword");
            assertEquals(0, m.read(0, REG_ESR));
        }
    }

    private static final long LAPIC_BASE = LocalApic.DEFAULT_BASE;

    @Test
    void apicBaseRelocatesThePageAndTellsTheVmm() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.write(0, REG_TPR, 0x20);
            apic.wrmsr(MSR_APIC_BASE, 0xFED0_0800L);
            assertEquals(0xFED0_0900L, apic.rdmsr(MSR_APIC_BASE), "the BSP flag is read-only");
            assertEquals(List.of(new MmioRange(0xFED0_0000L, 0x1000)), apic.mmioRanges());
            assertEquals(1, m.rangeChanges);
            assertEquals(0x20, apic.mmioRead(0xFED0_0000L + REG_TPR, 4), "registers survive a relocation");
            assertEquals(0xFFFF_FFFFL, apic.mmioRead(LAPIC_BASE + REG_TPR, 4), "the old page is no longer decoded");
            apic.wrmsr(MSR_APIC_BASE, 0xFED0_0800L);
            assertEquals(1, m.rangeChanges, "an unchanged base is not a change");

            assertThrows(MsrAccessRefused.class, () -> apic.wrmsr(MSR_APIC_BASE, 0xFEE0_0800L | 0x200), "bit 9 reserved");
            assertThrows(MsrAccessRefused.class, () -> apic.wrmsr(MSR_APIC_BASE, 0xFEE0_0801L), "bits 7:0 reserved");
            assertThrows(MsrAccessRefused.class, () -> apic.wrmsr(MSR_APIC_BASE, (1L << 40) | 0x800), "beyond MAXPHYADDR");
            assertEquals(0xFED0_0900L, apic.rdmsr(MSR_APIC_BASE));
        }
    }

    @Test
    void globalDisableRemovesThePageResetsTheRegistersAndPassesLintThrough() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.enable(0);
            m.write(0, REG_TPR, 0x30);
            apic.acceptInterrupt(0x80, false);
            apic.wrmsr(MSR_APIC_BASE, 0xFEE0_0000L);
            assertEquals(Mode.DISABLED, apic.mode());
            assertEquals(List.of(), apic.mmioRanges());
            assertEquals(1, m.rangeChanges);
            assertEquals(-1, apic.pendingInterrupt());
            assertFalse(apic.matchesDestination(0xFF, false), "a disabled APIC receives nothing");
            assertThrows(MsrAccessRefused.class, () -> apic.rdmsr(0x808));

            // Without its APIC, the core's INTR and NMI pins are LINT0 and LINT1.
            apic.setLint(0, true);
            assertTrue(apic.extIntPending());
            apic.setLint(0, false);
            assertFalse(apic.extIntPending());
            apic.setLint(1, true);
            assertEquals(1, m.core(0).nmis);

            apic.wrmsr(MSR_APIC_BASE, 0xFEE0_0800L);
            assertEquals(2, m.rangeChanges);
            assertEquals(0, m.read(0, REG_TPR), "re-enabled in its reset state");
            assertEquals(0xFF, m.read(0, REG_SVR));
            assertFalse(m.bit(0, REG_IRR, 0x80));
        }
    }

    @Test
    void factoryReadsItsParameters() {
        try (TestDeviceContext ctx = new TestDeviceContext(16 << 20, 2)) {
            var factory = DeviceRegistry.load().factory("lapic");
            LocalApic ap = (LocalApic) factory.create("lapic1", ConfigFactory.parseString("apic-id = 1"), ctx);
            assertEquals(1, ap.initialApicId());
            assertFalse(ap.isBsp());
            LocalApic bsp = (LocalApic) factory.create("lapic0", ConfigFactory.empty(), ctx);
            assertTrue(bsp.isBsp(), "APIC ID 0 is the first CPU's");
            var e = assertThrows(ConfigException.class, () -> factory.create("x", ConfigFactory.parseString("timer-hz = 10"), ctx));
            assertTrue(e.getMessage().contains("timer-hz"), e.getMessage());
            e = assertThrows(ConfigException.class, () -> factory.create("x", ConfigFactory.parseString("physical-address-bits = 60"), ctx));
            assertTrue(e.getMessage().contains("physical-address-bits"), e.getMessage());
        }
    }
}
