package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.LocalApic.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.MsrDevice.MsrAccessRefused;
import org.symbiont.devices.TestDeviceContext;

/** x2APIC mode: IA32_APIC_BASE transitions and the MSR interface (SDM Vol. 3A 11.12). */
class X2ApicTest {
    private static final long XAPIC = 0xFEE0_0800L, X2APIC = 0xFEE0_0C00L, DISABLED = 0xFEE0_0000L;
    private static final int TPR = 0x808, PPR = 0x80A, EOI = 0x80B, LDR = 0x80D, SVR = 0x80F, ESR = 0x828;
    private static final int ICR = 0x830, LVT_TIMER = 0x832, LVT_LINT0 = 0x835, SELF_IPI = 0x83F;

    private static ApicMachine x2apicMachine(int cpus) {
        ApicMachine m = new ApicMachine(cpus);
        for (LocalApic apic : m.apics) apic.wrmsr(MSR_APIC_BASE, apic.rdmsr(MSR_APIC_BASE) | 0x400);
        return m;
    }

    @Test
    void modeTransitionsFollowTheStateDiagram() {
        try (ApicMachine m = new ApicMachine(2)) {
            LocalApic apic = m.apic(1);
            assertThrows(MsrAccessRefused.class, () -> apic.rdmsr(0x802), "x2APIC MSRs need x2APIC mode");
            assertThrows(MsrAccessRefused.class, () -> apic.wrmsr(MSR_APIC_BASE, DISABLED | 0x400), "EN=0 with EXTD=1 is invalid");

            apic.wrmsr(MSR_APIC_BASE, X2APIC);
            assertEquals(Mode.X2APIC, apic.mode());
            assertEquals(X2APIC, apic.rdmsr(MSR_APIC_BASE));
            assertEquals(List.of(), apic.mmioRanges(), "no MMIO page in x2APIC mode");
            assertEquals(1, m.rangeChanges);
            assertEquals(0xFFFF_FFFFL, apic.mmioRead(LocalApic.DEFAULT_BASE + REG_ID, 4));
            assertThrows(MsrAccessRefused.class, () -> apic.wrmsr(MSR_APIC_BASE, XAPIC), "x2APIC → xAPIC is illegal");

            apic.wrmsr(MSR_APIC_BASE, DISABLED);
            assertEquals(Mode.DISABLED, apic.mode());
            assertThrows(MsrAccessRefused.class, () -> apic.wrmsr(MSR_APIC_BASE, X2APIC), "disabled → x2APIC is illegal");
            apic.wrmsr(MSR_APIC_BASE, XAPIC);
            assertEquals(Mode.XAPIC, apic.mode());
            assertEquals(List.of(new org.symbiont.devices.MmioRange(0xFEE0_0000L, 0x1000)), apic.mmioRanges());
            assertEquals(0x0100_0000, m.read(1, REG_ID), "the xAPIC ID is the x2APIC ID's low byte");
        }
    }

    @Test
    void enteringX2apicModeKeepsStateAndTakesTheInitialId() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.enable(0);
            m.write(0, REG_TPR, 0x30);
            m.write(0, REG_ID, 0x0900_0000);
            m.write(0, REG_LDR, 0x0100_0000);
            apic.acceptInterrupt(0x90, false);
            apic.wrmsr(MSR_APIC_BASE, 0xFEE0_0D00L);
            assertEquals(0, apic.rdmsr(0x802), "the initial x2APIC ID");
            assertEquals(0x30, apic.rdmsr(TPR));
            assertEquals(0x1FF, apic.rdmsr(SVR));
            assertEquals(0x0001, apic.rdmsr(LDR), "derived from the ID, not the xAPIC LDR");
            assertEquals(0x90, apic.pendingInterrupt());

            apic.acceptMessage(DeliveryMode.INIT, 0, false);
            assertEquals(Mode.X2APIC, apic.mode(), "INIT keeps x2APIC mode");
            assertEquals(0xFF, apic.rdmsr(SVR));
            assertEquals(-1, apic.pendingInterrupt());
        }
    }

    @Test
    void registersThroughMsrs() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            LocalApic apic = new LocalApic("lapic", 0x125, false, 40, DEFAULT_TIMER_HZ, ctx);
            apic.wrmsr(MSR_APIC_BASE, X2APIC);
            assertEquals(0x125, apic.rdmsr(0x802), "32-bit ID");
            assertEquals(0x125, apic.apicId());
            assertEquals(0x0005_0014, apic.rdmsr(0x803));
            assertEquals((0x12L << 16) | (1 << 5), apic.rdmsr(LDR), "cluster 0x12, member bit 5");

            apic.wrmsr(SVR, 0x1FF);
            apic.wrmsr(TPR, 0x45);
            assertEquals(0x45, apic.rdmsr(TPR));
            assertEquals(0x45, apic.rdmsr(PPR));
            apic.wrmsr(LVT_TIMER, 0x2_0040);
            assertEquals(0x2_0040, apic.rdmsr(LVT_TIMER));
            apic.wrmsr(LVT_LINT0, LVT_LEVEL | 0x700);
            assertEquals(LVT_LEVEL | 0x700, apic.rdmsr(LVT_LINT0));
            apic.wrmsr(0x838, 0xFFFF_FFFFL);
            assertEquals(0xFFFF_FFFFL, apic.rdmsr(0x838));
            apic.wrmsr(0x83E, 0xB);
            assertEquals(0xB, apic.rdmsr(0x83E));

            // Reserved bits (RsvdZ), write-only, read-only and absent registers: #GP.
            assertRefused(() -> apic.wrmsr(TPR, 0x100));
            assertRefused(() -> apic.wrmsr(TPR, 1L << 32));
            assertRefused(() -> apic.wrmsr(SVR, 0x1000), "no EOI-broadcast suppression");
            assertRefused(() -> apic.wrmsr(LVT_TIMER, 0x8_0000));
            assertRefused(() -> apic.wrmsr(0x83E, 0x4));
            assertRefused(() -> apic.wrmsr(EOI, 1));
            assertRefused(() -> apic.wrmsr(ESR, 1));
            assertRefused(() -> apic.rdmsr(EOI));
            assertRefused(() -> apic.rdmsr(SELF_IPI));
            for (int readOnly : new int[] {0x802, 0x803, PPR, LDR, 0x810, 0x820, 0x839}) {
                assertRefused(() -> apic.wrmsr(readOnly, 0));
            }
            for (int absent : new int[] {0x800, 0x809, 0x80C, 0x80E, 0x82F, 0x831, 0x840, 0x8FF}) {
                assertRefused(() -> apic.rdmsr(absent));
                assertRefused(() -> apic.wrmsr(absent, 0));
            }
            assertEquals(0x45, apic.rdmsr(TPR), "refused writes change nothing");
            apic.wrmsr(ESR, 0);
            assertEquals(0, apic.rdmsr(ESR), "x2APIC accesses never set the illegal-register error");
        }
    }

    private static void assertRefused(Runnable access) {
        assertRefused(access, "");
    }

    private static void assertRefused(Runnable access, String why) {
        assertThrows(MsrAccessRefused.class, access::run, why);
    }

    @Test
    void theIcrIsOne64BitMsrWithA32BitDestination() {
        try (ApicMachine m = x2apicMachine(2)) {
            LocalApic apic = m.apic(0);
            long icr = (0x1234_5678L << 32) | 0x4000 | 0x40;
            apic.wrmsr(ICR, icr);
            assertEquals(icr, apic.rdmsr(ICR));
            assertEquals(new Ipi(0, Ipi.Shorthand.NONE, 0x1234_5678, false, DeliveryMode.FIXED, true, false, 0x40, true), m.ipis.getLast());
            assertRefused(() -> apic.wrmsr(ICR, 0x1000 | 0x40), "delivery status is reserved in x2APIC mode");
            assertRefused(() -> apic.wrmsr(ICR, 0x2000 | 0x40));
            assertEquals(1, m.ipis.size());

            apic.wrmsr(ICR, (1L << 32) | 0x4000 | 0x41);   // physical, x2APIC ID 1
            assertEquals(-1, m.apic(1).pendingInterrupt(), "APIC 1 is software-disabled");
            m.apic(1).wrmsr(SVR, 0x1FF);
            apic.wrmsr(ICR, (1L << 32) | 0x4000 | 0x41);
            assertEquals(0x41, m.apic(1).pendingInterrupt());
            apic.wrmsr(SVR, 0x1FF);
            apic.wrmsr(ICR, (0xFFFF_FFFFL << 32) | 0x4000 | 0x42);   // broadcast
            assertEquals(0x42, apic.pendingInterrupt());
            assertEquals(0x42, m.apic(1).pendingInterrupt());
        }
    }

    @Test
    void selfIpiRegister() {
        try (ApicMachine m = x2apicMachine(1)) {
            LocalApic apic = m.apic(0);
            apic.wrmsr(SVR, 0x1FF);
            apic.wrmsr(SELF_IPI, 0x55);
            assertEquals(0x55, apic.pendingInterrupt());
            assertEquals(0, (apic.rdmsr(0x818 + 2) >> 21) & 1, "edge-triggered: TMR clear");
            assertEquals(List.of(), m.ipis, "handled locally");
            assertRefused(() -> apic.wrmsr(SELF_IPI, 0x155));
            apic.wrmsr(SELF_IPI, 0x05);
            apic.wrmsr(ESR, 0);
            assertEquals(ESR_SEND_ILLEGAL_VECTOR | ESR_RECEIVE_ILLEGAL_VECTOR, apic.rdmsr(ESR));
        }
    }

    @Test
    void logicalDestinationsInX2apicMode() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            LocalApic apic = new LocalApic("lapic", 0x23, false, 40, DEFAULT_TIMER_HZ, ctx);
            apic.wrmsr(MSR_APIC_BASE, X2APIC);
            assertTrue(apic.matchesDestination(0x23, false));
            assertFalse(apic.matchesDestination(0x24, false));
            assertTrue(apic.matchesDestination(0x0002_0008, true), "cluster 2, bit 3");
            assertTrue(apic.matchesDestination(0x0002_FFFF, true));
            assertFalse(apic.matchesDestination(0x0002_0004, true), "another member");
            assertFalse(apic.matchesDestination(0x0001_0008, true), "another cluster");
            assertTrue(apic.matchesDestination(0xFFFF_FFFF, false), "broadcast");
            assertTrue(apic.matchesDestination(0xFFFF_FFFF, true), "broadcast");
            assertFalse(apic.matchesDestination(0xFF, false));
            assertTrue(apic.matchesMessageDestination(0xFF, false), "an 8-bit broadcast from an I/O APIC");
            assertTrue(apic.matchesMessageDestination(0x23, false));
        }
    }
}
