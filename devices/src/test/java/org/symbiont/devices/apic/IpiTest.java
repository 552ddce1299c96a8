package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.LocalApic.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Interprocessor interrupts written to the xAPIC ICR (SDM Vol. 3A 11.6) and their routing. */
class IpiTest {
    private static final int LOGICAL = 1 << 11, ASSERT = 1 << 14, LEVEL = 1 << 15;
    private static final int SELF = 1 << 18, ALL_INCLUDING_SELF = 2 << 18, ALL_EXCLUDING_SELF = 3 << 18;

    private static void sendIcr(ApicMachine m, int from, int destination, int low) {
        m.write(from, REG_ICR_HIGH, destination << 24);
        m.write(from, REG_ICR_LOW, low);
    }

    @Test
    void initAndStartupToOneApplicationProcessor() {
        try (ApicMachine m = new ApicMachine(3)) {
            sendIcr(m, 0, 1, LEVEL | ASSERT | 0x500);
            assertEquals(new Ipi(0, Ipi.Shorthand.NONE, 1, false, DeliveryMode.INIT, true, true, 0, false), m.ipis.getLast());
            assertEquals(LEVEL | ASSERT | 0x500, m.read(0, REG_ICR_LOW), "delivery status reads idle");
            assertEquals(0x0100_0000, m.read(0, REG_ICR_HIGH));
            assertEquals(List.of(0, 1, 0), List.of(m.core(0).inits, m.core(1).inits, m.core(2).inits));

            sendIcr(m, 0, 1, LEVEL | 0x500);   // INIT level de-assert (Linux sends it)
            assertTrue(m.ipis.getLast().isInitLevelDeassert());
            assertEquals(1, m.core(1).inits, "ignored by Pentium 4 and later APICs");

            sendIcr(m, 0, 1, ASSERT | 0x600 | 0x99);
            sendIcr(m, 0, 1, ASSERT | 0x600 | 0x99);
            assertEquals(List.of(0x99, 0x99), m.core(1).startups);
            assertEquals(List.of(), m.core(2).startups);
            assertEquals(DeliveryMode.STARTUP, m.ipis.getLast().deliveryMode());
            assertEquals(0x99, m.ipis.getLast().vector());
        }
    }

    @Test
    void broadcastInitAndStartupAsSeaBiosSendsThem() {
        try (ApicMachine m = new ApicMachine(3)) {
            m.write(0, REG_ICR_LOW, 0x000C_4500);
            m.write(0, REG_ICR_LOW, 0x000C_4600 | 0x9F);
            assertEquals(Ipi.Shorthand.ALL_EXCLUDING_SELF, m.ipis.getLast().shorthand());
            assertEquals(List.of(0, 1, 1), List.of(m.core(0).inits, m.core(1).inits, m.core(2).inits));
            assertEquals(List.of(), m.core(0).startups);
            assertEquals(List.of(0x9F), m.core(1).startups);
            assertEquals(List.of(0x9F), m.core(2).startups);
        }
    }

    @Test
    void nmiAndSmiToOneProcessor() {
        try (ApicMachine m = new ApicMachine(3)) {
            sendIcr(m, 1, 2, ASSERT | 0x400);
            sendIcr(m, 1, 0, ASSERT | 0x200);
            assertEquals(List.of(0, 0, 1), List.of(m.core(0).nmis, m.core(1).nmis, m.core(2).nmis));
            assertEquals(1, m.core(0).smis);
            assertEquals(1, m.ipis.getFirst().source());
        }
    }

    @Test
    void fixedInterruptsWithEachShorthand() {
        try (ApicMachine m = new ApicMachine(3)) {
            for (int k = 0; k < 3; k++) m.enable(k);
            sendIcr(m, 0, 2, ASSERT | SELF | 0x51);   // the destination field is ignored
            sendIcr(m, 0, 0, ASSERT | ALL_INCLUDING_SELF | 0x52);
            sendIcr(m, 0, 0, ASSERT | ALL_EXCLUDING_SELF | 0x53);
            sendIcr(m, 0, 1, ASSERT | 0x54);
            sendIcr(m, 0, 0xFF, ASSERT | 0x55);        // physical broadcast
            assertEquals(List.of(0x51, 0x52, 0x55), requested(m, 0));
            assertEquals(List.of(0x52, 0x53, 0x54, 0x55), requested(m, 1));
            assertEquals(List.of(0x52, 0x53, 0x55), requested(m, 2));

            sendIcr(m, 0, 1, ASSERT | LEVEL | 0x56);
            assertFalse(m.bit(1, REG_TMR, 0x56), "IPIs are issued edge-triggered (Table 11-3 note 2)");
        }
    }

    private static List<Integer> requested(ApicMachine m, int cpu) {
        return java.util.stream.IntStream.range(16, 256).filter(v -> m.bit(cpu, REG_IRR, v)).boxed().toList();
    }

    @Test
    void logicalDestinationsInTheFlatModel() {
        try (ApicMachine m = new ApicMachine(3)) {
            for (int k = 0; k < 3; k++) {
                m.enable(k);
                m.write(k, REG_LDR, 1 << (24 + k));
            }
            sendIcr(m, 1, 0x05, ASSERT | LOGICAL | 0x60);
            assertEquals(List.of(0x60), requested(m, 0));
            assertEquals(List.of(), requested(m, 1));
            assertEquals(List.of(0x60), requested(m, 2));
            assertTrue(m.ipis.getLast().logical());
            assertTrue(m.apic(1).matchesDestination(0xFF, true), "all ones: everyone");
            assertFalse(m.apic(1).matchesDestination(0x05, true));
        }
    }

    @Test
    void logicalDestinationsInTheClusterModel() {
        try (ApicMachine m = new ApicMachine(3)) {
            int[] ldr = {0x11, 0x12, 0x21};
            for (int k = 0; k < 3; k++) {
                m.enable(k);
                m.write(k, REG_DFR, 0x0FFF_FFFF);
                m.write(k, REG_LDR, ldr[k] << 24);
            }
            sendIcr(m, 2, 0x13, ASSERT | LOGICAL | 0x61);   // cluster 1, members 1 and 2
            sendIcr(m, 0, 0x21, ASSERT | LOGICAL | 0x62);   // cluster 2, member 1
            sendIcr(m, 0, 0x31, ASSERT | LOGICAL | 0x63);   // nobody
            sendIcr(m, 0, 0xFF, ASSERT | LOGICAL | 0x64);   // broadcast
            assertEquals(List.of(0x61, 0x64), requested(m, 0));
            assertEquals(List.of(0x61, 0x64), requested(m, 1));
            assertEquals(List.of(0x62, 0x64), requested(m, 2));
        }
    }

    @Test
    void lowestPriorityGoesToTheLeastBusyTarget() {
        try (ApicMachine m = new ApicMachine(3)) {
            for (int k = 0; k < 3; k++) {
                m.enable(k);
                m.write(k, REG_LDR, 1 << (24 + k));
            }
            m.write(1, REG_TPR, 0x40);
            m.write(2, REG_TPR, 0x10);
            assertEquals(0x40, m.read(1, REG_APR), "the TPR when it dominates");
            assertEquals(0x10, m.read(2, REG_APR));
            sendIcr(m, 0, 0x06, ASSERT | LOGICAL | 0x100 | 0x70);
            assertEquals(List.of(), requested(m, 1));
            assertEquals(List.of(0x70), requested(m, 2));
            assertEquals(0x70, m.read(2, REG_APR), "now the requested class");
        }
    }

    @Test
    void illegalVectorsAreFlaggedAtBothEndsAndReservedModesSendNothing() {
        try (ApicMachine m = new ApicMachine(2)) {
            m.enable(0);
            m.enable(1);
            sendIcr(m, 0, 1, ASSERT | 0x05);
            m.write(0, REG_ESR, 0);
            m.write(1, REG_ESR, 0);
            assertEquals(ESR_SEND_ILLEGAL_VECTOR, m.read(0, REG_ESR));
            assertEquals(ESR_RECEIVE_ILLEGAL_VECTOR, m.read(1, REG_ESR));
            assertEquals(-1, m.apic(1).pendingInterrupt());

            int sent = m.ipis.size();
            sendIcr(m, 0, 1, ASSERT | 0x300 | 0x40);
            sendIcr(m, 0, 1, ASSERT | 0x700 | 0x40);
            assertEquals(sent, m.ipis.size());
        }
    }
}
