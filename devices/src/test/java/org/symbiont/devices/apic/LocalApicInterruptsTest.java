package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.LocalApic.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Requests, priorities, EOI and the LINT pins (SDM Vol. 3A 11.5.1, 11.8). */
class LocalApicInterruptsTest {
    @Test
    void taskPriorityFiltersByPriorityClass() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.enable(0);
            m.write(0, REG_TPR, 0x60);
            for (int vector : new int[] {0x31, 0x45, 0x52, 0x67}) apic.acceptInterrupt(vector, false);
            assertEquals(0x60, m.read(0, REG_PPR));
            assertEquals(-1, apic.pendingInterrupt(), "class 6 is not above a PPR of class 6");
            int wakeups = m.core(0).wakeups;
            m.write(0, REG_TPR, 0x5F);
            assertEquals(0x67, apic.pendingInterrupt());
            assertEquals(wakeups + 1, m.core(0).wakeups, "lowering the TPR wakes the core");

            assertEquals(0x67, apic.interruptTaken(0x67));
            assertTrue(m.bit(0, REG_ISR, 0x67));
            assertFalse(m.bit(0, REG_IRR, 0x67));
            assertEquals(0x60, m.read(0, REG_PPR), "the in-service class now dominates the TPR");
            assertEquals(-1, apic.pendingInterrupt(), "0x52 waits behind the in-service 0x67");
            m.eoi(0);
            assertEquals(0x5F, m.read(0, REG_PPR));
            assertEquals(-1, apic.pendingInterrupt(), "0x52 is class 5, not above the TPR's");
            m.write(0, REG_TPR, 0);
            assertEquals(List.of(0x52, 0x45, 0x31), List.of(takeAndEoi(m), takeAndEoi(m), takeAndEoi(m)));
            assertEquals(-1, apic.pendingInterrupt());
        }
    }

    @Test
    void cr8WritesTheTaskPriorityClass() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.enable(0);
            apic.acceptInterrupt(0x45, false);
            apic.writeCr8(4);
            assertEquals(0x40, m.read(0, REG_TPR), "TPR[7:4] = CR8[3:0]");
            assertEquals(0x40, apic.taskPriority());
            assertEquals(-1, apic.pendingInterrupt(), "class 4 is not above CR8 = 4");
            int wakeups = m.core(0).wakeups;
            apic.writeCr8(3);
            assertEquals(0x45, apic.pendingInterrupt());
            assertEquals(wakeups + 1, m.core(0).wakeups, "lowering CR8 wakes the core");
            m.write(0, REG_TPR, 0xA7);
            assertEquals(0xA7, apic.taskPriority(), "the core's CR8 follows TPR[7:4] = 0xA");
        }
    }

    private static int takeAndEoi(ApicMachine m) {
        int vector = m.take(0);
        m.eoi(0);
        return vector;
    }

    @Test
    void nestedInterruptsEndInReverseOrder() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.enable(0);
            apic.acceptInterrupt(0x41, false);
            assertEquals(0x41, m.take(0));
            apic.acceptInterrupt(0x42, false);
            assertEquals(-1, apic.pendingInterrupt(), "same class as the one in service");
            apic.acceptInterrupt(0x81, false);
            assertEquals(0x81, m.take(0), "a higher class nests");
            assertEquals(0x80, m.read(0, REG_PPR));
            assertEquals(0x80, m.read(0, REG_APR), "APR: highest of TPR, ISR and IRR classes");
            m.eoi(0);
            assertFalse(m.bit(0, REG_ISR, 0x81), "EOI ends the highest in-service vector");
            assertTrue(m.bit(0, REG_ISR, 0x41));
            m.eoi(0);
            assertFalse(m.bit(0, REG_ISR, 0x41));
            assertEquals(0x42, m.take(0));
            m.eoi(0);
            m.eoi(0);   // nothing in service: harmless
            assertEquals(0, m.read(0, REG_PPR));
            assertEquals(List.of(), m.eois, "edge-triggered vectors are not broadcast");
        }
    }

    @Test
    void anAcknowledgeThatFindsNothingDeliverableGetsTheSpuriousVector() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.write(0, REG_SVR, 0x1F7);
            apic.acceptInterrupt(0x50, false);
            assertEquals(0x50, apic.pendingInterrupt());
            m.write(0, REG_TPR, 0x80);   // raised between the request and the acknowledge (11.9)
            assertEquals(0xF7, apic.interruptTaken(0x50));
            assertFalse(m.bit(0, REG_ISR, 0x50), "a spurious interrupt sets no ISR bit");
            assertTrue(m.bit(0, REG_IRR, 0x50), "the request stays pending");
            assertEquals(0xF7, apic.interruptTaken(0x99), "never requested");
        }
    }

    @Test
    void levelTriggeredEoiGoesToTheListener() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.enable(0);
            apic.acceptInterrupt(0x61, true);
            assertTrue(m.bit(0, REG_TMR, 0x61));
            apic.acceptInterrupt(0x71, false);
            assertEquals(0x71, m.take(0));
            m.eoi(0);
            assertEquals(List.of(), m.eois);
            assertEquals(0x61, m.take(0));
            m.eoi(0);
            assertEquals(List.of(0x61), m.eois);
        }
    }

    @Test
    void lint0InExtIntModeAsksThe8259ForTheVector() {
        try (ApicMachine m = new ApicMachine(2)) {
            LocalApic bsp = m.apic(0);
            bsp.setLint(0, true);
            assertFalse(bsp.extIntPending(), "LINT0 is masked after reset: no firmware programmed it");
            bsp.setLint(0, false);

            bsp.programVirtualWire();
            assertEquals(0x8700, m.read(0, REG_LVT_LINT0));
            assertEquals(0x8400, m.read(0, REG_LVT_LINT1));
            assertTrue(bsp.isSoftwareEnabled());
            int wakeups = m.core(0).wakeups;
            bsp.setLint(0, true);
            assertTrue(bsp.extIntPending());
            assertEquals(wakeups + 1, m.core(0).wakeups);
            assertEquals(-1, bsp.pendingInterrupt(), "the vector does not come from the IRR");
            bsp.setLint(0, false);   // the 8259 drops INTR after its acknowledge
            assertFalse(bsp.extIntPending());
            m.write(0, REG_LVT_LINT0, LVT_MASKED | 0x700);
            bsp.setLint(0, true);
            assertFalse(bsp.extIntPending(), "masked");
            m.write(0, REG_LVT_LINT0, 0x700);
            assertTrue(bsp.extIntPending(), "unmasking with INTR high");
        }
    }

    @Test
    void lint1InNmiModeSignalsOnRisingEdges() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            apic.programVirtualWire();
            apic.setLint(1, true);
            apic.setLint(1, true);
            assertEquals(1, m.core(0).nmis);
            apic.setLint(1, false);
            apic.setLint(1, true);
            assertEquals(2, m.core(0).nmis);
            // Active low: the falling electrical edge is the assertion.
            m.write(0, REG_LVT_LINT1, 0x400 | LVT_ACTIVE_LOW);
            apic.setLint(1, false);
            assertEquals(3, m.core(0).nmis);
            apic.setLint(1, true);
            assertEquals(3, m.core(0).nmis);
        }
    }

    @Test
    void lint0FixedLevelTriggeredUsesRemoteIrr() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.enable(0);
            m.write(0, REG_LVT_LINT0, LVT_LEVEL | 0x70);
            apic.setLint(0, true);
            assertEquals(LVT_LEVEL | LVT_REMOTE_IRR | 0x70, m.read(0, REG_LVT_LINT0));
            assertTrue(m.bit(0, REG_TMR, 0x70));
            assertEquals(0x70, m.take(0));
            m.write(0, REG_LVT_LINT0, LVT_LEVEL | 0x70);
            assertEquals(LVT_LEVEL | LVT_REMOTE_IRR | 0x70, m.read(0, REG_LVT_LINT0), "remote IRR is read-only");
            m.eoi(0);
            assertEquals(List.of(0x70), m.eois);
            assertTrue(m.bit(0, REG_IRR, 0x70), "still asserted at the EOI: requested again");
            assertEquals(0x70, m.take(0));
            apic.setLint(0, false);
            m.eoi(0);
            assertEquals(0, m.read(0, REG_LVT_LINT0) & LVT_REMOTE_IRR);
            assertEquals(-1, apic.pendingInterrupt());
            // Edge-triggered fixed: one request per rising edge.
            m.write(0, REG_LVT_LINT1, 0x71);
            apic.setLint(1, true);
            assertEquals(0x71, m.take(0));
            m.eoi(0);
            apic.setLint(1, true);
            assertEquals(-1, apic.pendingInterrupt());
        }
    }

    @Test
    void messagesReachTheCoreEvenWhenSoftwareDisabled() {
        try (ApicMachine m = new ApicMachine(1)) {
            LocalApic apic = m.apic(0);
            m.write(0, REG_TPR, 0x20);
            apic.acceptMessage(DeliveryMode.NMI, 0, false);
            apic.acceptMessage(DeliveryMode.SMI, 0, false);
            apic.acceptMessage(DeliveryMode.STARTUP, 0x9A, false);
            apic.acceptMessage(DeliveryMode.FIXED, 0x40, false);
            assertEquals(1, m.core(0).nmis);
            assertEquals(1, m.core(0).smis);
            assertEquals(List.of(0x9A), m.core(0).startups);
            assertFalse(m.bit(0, REG_IRR, 0x40));

            apic.acceptMessage(DeliveryMode.EXTINT, 0, false);
            assertTrue(apic.extIntPending());
            apic.extIntTaken();
            assertFalse(apic.extIntPending());

            m.enable(0);
            m.write(0, REG_ID, 0x0700_0000);
            apic.acceptMessage(DeliveryMode.FIXED, 0x40, false);
            apic.acceptMessage(DeliveryMode.INIT, 0, false);
            assertEquals(1, m.core(0).inits);
            assertEquals(0x0700_0000, m.read(0, REG_ID), "INIT keeps the APIC ID");
            assertEquals(0xFF, m.read(0, REG_SVR), "and resets the rest");
            assertEquals(0, m.read(0, REG_TPR));
            assertFalse(m.bit(0, REG_IRR, 0x40));
            assertEquals(0xFEE0_0900L, apic.rdmsr(MSR_APIC_BASE));
        }
    }
}
