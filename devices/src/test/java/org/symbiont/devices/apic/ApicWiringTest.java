package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.LocalApic.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** An I/O APIC and local APICs wired through their interfaces, driven as a kernel would. */
class ApicWiringTest {
    private static final int LEVEL = 1 << 15, ACTIVE_LOW = 1 << 13, LOGICAL = 1 << 11;
    private static final int REMOTE_IRR = 1 << 14;

    @Test
    void aLevelTriggeredDeviceInterruptEndsWithTheEoiReachingTheIoApic() {
        try (ApicMachine m = new ApicMachine(2)) {
            m.enable(0);
            m.route(10, LEVEL | ACTIVE_LOW | 0x5A, 0);
            m.ioapic.setIrq(10, true);   // the PCI line idles high
            m.ioapic.setIrq(10, false);  // the device asserts INTx#
            assertEquals(0x5A, m.apic(0).pendingInterrupt());
            assertTrue(m.bit(0, REG_TMR, 0x5A), "accepted as level-triggered");
            assertEquals(-1, m.apic(1).pendingInterrupt());

            assertEquals(0x5A, m.take(0));
            m.ioapic.setIrq(10, true);   // the handler quiets the device
            m.eoi(0);
            assertEquals(List.of(0x5A), m.eois);
            assertEquals(0, m.ioRead(IoApic.REG_REDIRECTION + 20) & REMOTE_IRR, "the EOI reached the I/O APIC");
            assertEquals(-1, m.apic(0).pendingInterrupt());
            assertEquals(1, m.messages.size());
        }
    }

    @Test
    void aLineStillAssertedAtTheEoiInterruptsAgain() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.enable(0);
            m.route(11, LEVEL | 0x5B, 0);
            m.ioapic.setIrq(11, true);
            assertEquals(0x5B, m.take(0));
            m.eoi(0);
            assertEquals(0x5B, m.apic(0).pendingInterrupt(), "re-delivered");
            assertEquals(REMOTE_IRR, m.ioRead(IoApic.REG_REDIRECTION + 22) & REMOTE_IRR);
            assertEquals(0x5B, m.take(0));
            m.ioapic.setIrq(11, false);
            m.eoi(0);
            assertEquals(-1, m.apic(0).pendingInterrupt());
            assertEquals(List.of(0x5B, 0x5B), m.eois);
        }
    }

    @Test
    void edgeTriggeredInterruptsDoNotBroadcastEois() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.enable(0);
            m.route(1, 0x31, 0);
            m.ioapic.line(1).pulse();
            assertFalse(m.bit(0, REG_TMR, 0x31));
            assertEquals(0x31, m.take(0));
            m.eoi(0);
            assertEquals(List.of(), m.eois);
        }
    }

    @Test
    void logicalAndLowestPriorityRedirection() {
        try (ApicMachine m = new ApicMachine(3)) {
            for (int k = 0; k < 3; k++) {
                m.enable(k);
                m.write(k, REG_LDR, 1 << (24 + k));
            }
            m.route(4, LOGICAL | 0x44, 0x02);
            m.ioapic.line(4).pulse();
            assertEquals(List.of(-1, 0x44, -1), pending(m));

            m.write(0, REG_TPR, 0x20);
            m.write(2, REG_TPR, 0x10);
            m.route(5, LOGICAL | 0x100 | 0x45, 0x05);   // lowest priority among APICs 0 and 2
            m.ioapic.line(5).pulse();
            assertEquals(List.of(-1, 0x44, 0x45), pending(m));
        }
    }

    private static List<Integer> pending(ApicMachine m) {
        return m.apics.stream().map(LocalApic::pendingInterrupt).toList();
    }

    @Test
    void anExtIntRedirectionAsksThe8259() {
        try (ApicMachine m = new ApicMachine(1)) {
            m.route(0, 0x700, 0);
            m.ioapic.setIrq(0, true);
            assertTrue(m.apic(0).extIntPending());
            assertEquals(1, m.core(0).wakeups);
            m.apic(0).extIntTaken();
            assertFalse(m.apic(0).extIntPending());
        }
    }

    @Test
    void x2apicModeStillReceivesIoApicBroadcasts() {
        try (ApicMachine m = new ApicMachine(2)) {
            for (LocalApic apic : m.apics) {
                apic.wrmsr(MSR_APIC_BASE, apic.rdmsr(MSR_APIC_BASE) | 0x400);
                apic.wrmsr(0x80F, 0x1FF);
            }
            m.route(6, 0x46, 0xFF);
            m.ioapic.line(6).pulse();
            assertEquals(List.of(0x46, 0x46), pending(m));
            m.route(7, 0x47, 0x01);
            m.ioapic.line(7).pulse();
            assertEquals(0x47, m.apic(1).pendingInterrupt());
        }
    }
}
