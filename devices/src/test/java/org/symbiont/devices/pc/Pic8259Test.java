package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.TestDeviceContext;

class Pic8259Test {
    static final int M_CMD = 0x20, M_DATA = 0x21, S_CMD = 0xA0, S_DATA = 0xA1, ELCR0 = 0x4D0, ELCR1 = 0x4D1;
    static final int EOI = 0x20;

    final Pic8259 pic = new Pic8259("pic");
    final TestDeviceContext.Line intr = new TestDeviceContext.Line();

    Pic8259Test() {
        pic.connectOutput(intr);
    }

    int in(int port) {
        return (int) pic.ioRead(port, 1);
    }

    void out(int port, int value) {
        pic.ioWrite(port, 1, value);
    }

    /** Linux's init_8259A: vectors 0x30/0x38, cascade on IR2, 8086 mode, normal EOI; all masked but the cascade. */
    void linuxInit() {
        out(M_DATA, 0xFF);
        out(S_DATA, 0xFF);
        out(M_CMD, 0x11);  // ICW1: edge, cascade, ICW4
        out(M_DATA, 0x30); // ICW2: vector base
        out(M_DATA, 0x04); // ICW3: slave on IR2
        out(M_DATA, 0x01); // ICW4: 8086 mode
        out(S_CMD, 0x11);
        out(S_DATA, 0x38);
        out(S_DATA, 0x02); // ICW3: slave identity 2
        out(S_DATA, 0x01);
        out(M_DATA, 0xFB);
        out(S_DATA, 0xFF);
    }

    void unmask(int irq) {
        int port = irq < 8 ? M_DATA : S_DATA;
        out(port, in(port) & ~(1 << (irq & 7)));
    }

    int isr(int cmdPort) {
        out(cmdPort, 0x0B);
        int v = in(cmdPort);
        out(cmdPort, 0x0A);
        return v;
    }

    int irr(int cmdPort) {
        out(cmdPort, 0x0A);
        return in(cmdPort);
    }

    @Test
    void linuxInitThenATimerInterrupt() {
        linuxInit();
        assertEquals(0xFB, in(M_DATA), "port B reads the mask");
        assertEquals(0xFF, in(S_DATA));
        pic.setIrq(0, true);
        assertFalse(intr.level, "IRQ0 masked");
        assertEquals(0x01, irr(M_CMD), "but requested");
        unmask(0);
        assertTrue(intr.level);
        assertTrue(pic.outputAsserted());
        assertEquals(0x30, pic.acknowledge());
        assertFalse(intr.level, "in service blocks itself");
        assertEquals(0x01, isr(M_CMD));
        assertEquals(0x00, irr(M_CMD), "edge request consumed by the acknowledge");
        out(M_CMD, EOI);
        assertEquals(0x00, isr(M_CMD));
        assertFalse(intr.level, "the line stayed high: no new edge, no new request");
        pic.setIrq(0, false);
        pic.setIrq(0, true);
        assertTrue(intr.level);
        assertEquals(0x30, pic.acknowledge());
    }

    @Test
    void biosInitWithVector8AndInputLines() {
        // The PC BIOS programs the master at vector 8 and the slave at 0x70.
        out(M_CMD, 0x11);
        out(M_DATA, 0x08);
        out(M_DATA, 0x04);
        out(M_DATA, 0x01);
        out(S_CMD, 0x11);
        out(S_DATA, 0x70);
        out(S_DATA, 0x02);
        out(S_DATA, 0x01);
        assertEquals(0, in(M_DATA), "ICW1 cleared the mask");
        pic.input(1).pulse();
        assertEquals(0x09, pic.acknowledge(), "keyboard, pulsed: the edge stays latched");
        out(M_CMD, EOI);
        pic.input(14).set(true);
        assertEquals(0x76, pic.acknowledge());
        assertEquals(0x04, isr(M_CMD));
        assertEquals(0x40, isr(S_CMD));
        out(S_CMD, EOI);
        out(M_CMD, EOI);
        assertEquals(0, isr(M_CMD) | isr(S_CMD));
    }

    @Test
    void nestedPrioritiesAndNonSpecificEoi() {
        linuxInit();
        out(M_DATA, 0x00);
        pic.setIrq(3, true);
        assertEquals(0x33, pic.acknowledge());
        pic.setIrq(5, true);
        assertFalse(intr.level, "IRQ5 is lower than IRQ3 in service");
        pic.setIrq(1, true);
        assertTrue(intr.level, "IRQ1 is higher: it nests");
        assertEquals(0x31, pic.acknowledge());
        assertEquals(0x0A, isr(M_CMD));
        out(M_CMD, EOI); // ends the highest in service: IRQ1
        assertEquals(0x08, isr(M_CMD));
        assertFalse(intr.level);
        out(M_CMD, EOI);
        assertTrue(intr.level, "IRQ5 now");
        assertEquals(0x35, pic.acknowledge());
        // Specific EOI.
        out(M_CMD, 0x60 | 5);
        assertEquals(0, isr(M_CMD));
        // OCW2 0x40 is a no-operation.
        pic.setIrq(6, true);
        pic.acknowledge();
        out(M_CMD, 0x40);
        assertEquals(0x40, isr(M_CMD));
    }

    @Test
    void cascadeThroughIrq2() {
        linuxInit();
        unmask(8);
        pic.setIrq(8, true);
        assertTrue(intr.level);
        assertEquals(0x04, irr(M_CMD), "the slave's INT is the master's IR2");
        assertEquals(0x38, pic.acknowledge());
        assertEquals(0x04, isr(M_CMD));
        assertEquals(0x01, isr(S_CMD));
        unmask(12);
        pic.setIrq(12, true);
        assertFalse(intr.level, "IR2 in service on the master holds back the slave's other requests");
        out(S_CMD, EOI);
        out(M_CMD, EOI);
        assertTrue(intr.level);
        assertEquals(0x3C, pic.acknowledge());
        // A higher-priority master request still beats the slave.
        unmask(1);
        pic.setIrq(1, true);
        assertEquals(0x31, pic.acknowledge());
    }

    @Test
    void specialFullyNestedModeLetsHigherSlaveRequestsThrough() {
        linuxInit();
        out(M_CMD, 0x11);
        out(M_DATA, 0x30);
        out(M_DATA, 0x04);
        out(M_DATA, 0x11); // ICW4: 8086, special fully nested
        out(S_DATA, 0x00);
        pic.setIrq(12, true);
        assertEquals(0x3C, pic.acknowledge());
        pic.setIrq(9, true);
        assertTrue(intr.level, "IRQ9 outranks IRQ12 on the slave and passes the master's IR2 in service");
        assertEquals(0x39, pic.acknowledge());
        pic.setIrq(13, true);
        assertFalse(intr.level, "IRQ13 is lower than both in service");
    }

    @Test
    void levelTriggeringThroughTheElcr() {
        linuxInit();
        out(ELCR0, 0xFF);
        out(ELCR1, 0xFF);
        assertEquals(0xF8, in(ELCR0), "IRQ 0, 1, 2 are edge-only");
        assertEquals(0xDE, in(ELCR1), "IRQ 8, 13 are edge-only");
        out(ELCR0, 0x00);
        out(ELCR1, 0x02); // IRQ9 level (ACPI SCI)
        unmask(9);
        pic.setIrq(9, true);
        assertEquals(0x39, pic.acknowledge());
        out(S_CMD, EOI);
        out(M_CMD, EOI);
        assertTrue(intr.level, "the level is still asserted: interrupt again after EOI");
        assertEquals(0x39, pic.acknowledge());
        pic.setIrq(9, false);
        assertEquals(0x00, irr(S_CMD), "a level request goes when the line goes");
        out(S_CMD, EOI);
        out(M_CMD, EOI);
        assertFalse(intr.level);
        // An edge-triggered pulse stays requested until acknowledged.
        unmask(10);
        pic.setIrq(10, true);
        pic.setIrq(10, false);
        assertTrue(intr.level);
        assertEquals(0x3A, pic.acknowledge());
        out(S_CMD, EOI);
        out(M_CMD, EOI);
        assertFalse(intr.level);
    }

    @Test
    void vanishedRequestsGiveSpuriousIrq7AndIrq15() {
        linuxInit();
        out(ELCR0, 0x08); // IRQ3 level
        unmask(3);
        pic.setIrq(3, true);
        assertTrue(intr.level);
        pic.setIrq(3, false); // the device withdrew before INTA
        assertEquals(0x37, pic.acknowledge(), "IR7's vector");
        assertEquals(0x00, isr(M_CMD), "a spurious IRQ7 sets no ISR bit");
        // A vanished slave request: IRQ15's vector, the master's IR2 in service.
        out(ELCR1, 0x08); // IRQ11 level
        unmask(11);
        pic.setIrq(11, true);
        assertTrue(intr.level);
        out(S_DATA, 0xFF); // masked between INT and INTA
        assertEquals(0x3F, pic.acknowledge());
        assertEquals(0x04, isr(M_CMD));
        assertEquals(0x00, isr(S_CMD));
        out(M_CMD, EOI);
        // No request at all.
        assertEquals(0x37, pic.acknowledge());
    }

    @Test
    void pollModeAcknowledgesByReading() {
        linuxInit();
        out(M_DATA, 0x00);
        out(M_CMD, 0x0C); // OCW3: poll
        assertEquals(0x00, in(M_CMD), "no request: bit 7 clear");
        pic.setIrq(4, true);
        out(M_CMD, 0x0C);
        assertEquals(0x84, in(M_CMD));
        assertEquals(0x10, isr(M_CMD), "polling acknowledged IRQ4");
        assertEquals(0x00, in(M_DATA), "poll is one read only: port B reads the mask again");
    }

    @Test
    void autoEoiLeavesNothingInService() {
        out(M_CMD, 0x11);
        out(M_DATA, 0x20);
        out(M_DATA, 0x04);
        out(M_DATA, 0x03); // ICW4: 8086, auto-EOI
        pic.setIrq(5, true);
        assertEquals(0x25, pic.acknowledge());
        assertEquals(0, isr(M_CMD));
        pic.setIrq(6, true);
        assertTrue(intr.level, "nothing in service blocks lower levels");
    }

    @Test
    void rotationCommands() {
        linuxInit();
        out(M_DATA, 0x00);
        // Set priority: IR4 lowest, so IR5 is highest.
        out(M_CMD, 0xC0 | 4);
        pic.setIrq(1, true);
        pic.setIrq(6, true);
        assertEquals(0x36, pic.acknowledge(), "IR6 outranks IR1 after the rotation");
        out(M_CMD, 0xA0); // rotate on non-specific EOI: IR6 becomes lowest
        assertEquals(0x31, pic.acknowledge());
        pic.setIrq(6, false);
        pic.setIrq(6, true);
        assertFalse(intr.level, "IR6 is now the lowest priority, below IR1 in service");
        out(M_CMD, 0xE0 | 1); // rotate on specific EOI of IR1: IR1 lowest, IR2 highest
        assertEquals(0x36, pic.acknowledge());
        // Rotate in auto-EOI mode.
        out(M_CMD, 0x11);
        out(M_DATA, 0x30);
        out(M_DATA, 0x04);
        out(M_DATA, 0x03);
        out(M_CMD, 0x80); // set rotate in auto-EOI
        pic.setIrq(0, false);
        pic.setIrq(0, true);
        pic.setIrq(3, false);
        pic.setIrq(3, true);
        assertEquals(0x30, pic.acknowledge());
        pic.setIrq(0, false);
        pic.setIrq(0, true);
        assertEquals(0x33, pic.acknowledge(), "IR0 rotated to lowest: IR3 first");
        assertEquals(0x30, pic.acknowledge());
    }

    @Test
    void specialMaskModeOpensLowerLevels() {
        linuxInit();
        out(M_DATA, 0x00);
        pic.setIrq(3, true);
        assertEquals(0x33, pic.acknowledge());
        pic.setIrq(5, true);
        assertFalse(intr.level);
        out(M_DATA, 0x08); // mask the level in service
        out(M_CMD, 0x68);  // OCW3: set special mask mode
        assertTrue(intr.level, "lower levels are enabled");
        assertEquals(0x35, pic.acknowledge());
        out(M_CMD, EOI);
        assertEquals(0x08, isr(M_CMD), "non-specific EOI skipped the masked IR3 and ended IR5");
        out(M_CMD, 0x48); // reset special mask mode
        out(M_CMD, 0x60 | 3);
        assertEquals(0, isr(M_CMD));
    }

    @Test
    void icw1ResetsMaskAndEdgeDetection() {
        linuxInit();
        pic.setIrq(4, true);
        assertEquals(0x10, irr(M_CMD));
        out(M_CMD, 0x11);
        out(M_DATA, 0x30);
        out(M_DATA, 0x04);
        out(M_DATA, 0x01);
        assertEquals(0x00, in(M_DATA));
        assertEquals(0x00, irr(M_CMD), "pending edges dropped");
        pic.setIrq(4, true);
        assertEquals(0x00, irr(M_CMD), "a line already high must fall and rise again");
        pic.setIrq(4, false);
        pic.setIrq(4, true);
        assertEquals(0x10, irr(M_CMD));
        // ICW1's LTIM makes every input level-triggered.
        out(M_CMD, 0x19);
        out(M_DATA, 0x30);
        out(M_DATA, 0x04);
        out(M_DATA, 0x01);
        assertEquals(0x10, irr(M_CMD), "a high level is a request");
        pic.setIrq(4, false);
        assertEquals(0x00, irr(M_CMD));
    }

    @Test
    void singleModeTreatsIr2AsAnOrdinaryInput() {
        out(M_CMD, 0x13); // single, ICW4
        out(M_DATA, 0x40);
        out(M_DATA, 0x01); // ICW4 follows ICW2 directly
        assertEquals(0x00, in(M_DATA));
        pic.setIrq(2, true);
        assertEquals(0x42, pic.acknowledge());
        out(M_CMD, EOI);
        // ICW1 without IC4: ICW2 ends the sequence, auto-EOI off.
        out(M_CMD, 0x12);
        out(M_DATA, 0x48);
        out(M_DATA, 0xFE); // now OCW1
        assertEquals(0xFE, in(M_DATA));
    }

    @Test
    void slaveWithAnotherIdentityLeavesTheBusFloating() {
        linuxInit();
        out(S_CMD, 0x11);
        out(S_DATA, 0x38);
        out(S_DATA, 0x05);
        out(S_DATA, 0x01);
        pic.setIrq(8, true);
        assertEquals(0xFF, pic.acknowledge());
    }

    @Test
    void outputConnectionAndReset() {
        linuxInit();
        unmask(0);
        pic.setIrq(0, true);
        TestDeviceContext.Line late = new TestDeviceContext.Line();
        pic.connectOutput(late);
        assertTrue(late.level, "connecting reports the current level");
        out(ELCR1, 0x02);
        pic.reset();
        assertFalse(late.level);
        assertEquals(0, in(M_DATA));
        assertEquals(0, in(ELCR1));
        assertEquals(0x00, irr(M_CMD));
        pic.setIrq(0, false);
        pic.setIrq(0, true);
        assertEquals(0x00, pic.acknowledge(), "power-on vector base 0, IMR clear");
        assertThrows(IllegalArgumentException.class, () -> pic.setIrq(16, true));
    }

    @Test
    void factoryAndPorts() {
        try (TestDeviceContext ctx = new TestDeviceContext()) {
            var dev = (Pic8259) DeviceRegistry.load().factory("pic8259").create("pic", ConfigFactory.empty(), ctx);
            assertEquals(List.of(new PortRange(0x20, 2), new PortRange(0xA0, 2), new PortRange(0x4D0, 2)), dev.portRanges());
            dev.ioWrite(ELCR0, 2, 0x0E_08);
            assertEquals(0x0E_08L, dev.ioRead(ELCR0, 2), "ELCR as one 16-bit register");
        }
    }
}
