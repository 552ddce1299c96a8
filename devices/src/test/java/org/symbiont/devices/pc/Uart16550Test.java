package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.pc.Uart16550.*;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.TestDeviceContext;

class Uart16550Test {
    static final int COM1 = 0x3F8;
    /** One character at 115200 baud 8N1: 10 bits of 1/115200 s. */
    static final long CHAR_115200 = 10 * 1_000_000_000L / 115_200;

    final TestDeviceContext ctx = new TestDeviceContext();
    final Backend backend = new Backend();
    final TestDeviceContext.Line irq = ctx.line(4);
    final Uart16550 uart = new Uart16550("com1", COM1, irq, backend, ctx);

    /** A back end that also counts flushes. */
    static final class Backend implements CharBackend {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ArrayDeque<Integer> in = new ArrayDeque<>();
        int flushes;
        int flushedLength;
        boolean ended;
        int reads;

        @Override public void write(int b) { out.write(b); }

        @Override
        public int read() {
            reads++;
            return !in.isEmpty() ? in.poll() : ended ? END_OF_INPUT : NOTHING_YET;
        }

        @Override
        public void flush() {
            flushes++;
            flushedLength = out.size();
        }

        String text() {
            return out.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
        }

        void type(String s) {
            for (char c : s.toCharArray()) in.add((int) c);
        }
    }

    @AfterEach
    void close() {
        ctx.close();
    }

    int in(int reg) {
        return (int) uart.ioRead(COM1 + reg, 1);
    }

    void out(int reg, int value) {
        uart.ioWrite(COM1 + reg, 1, value);
    }

    /** 115200 baud 8N1, as Linux's console and most guests set it up. */
    void setup115200() {
        out(LCR, LCR_DLAB);
        out(DLL, 1);
        out(DLM, 0);
        out(LCR, 0x03);
    }

    @Test
    void powerOnStateIsTheDatasheetsMasterReset() {
        assertEquals(0x00, in(IER));
        assertEquals(0x01, in(IIR));
        assertEquals(0x00, in(LCR));
        assertEquals(0x00, in(MCR));
        assertEquals(0x60, in(LSR));
        assertEquals(0xB0, in(MSR), "CTS, DSR and DCD from the back end, no deltas");
        assertEquals(0x00, in(SCR));
        out(LCR, LCR_DLAB);
        assertEquals(12, in(DLL));
        assertEquals(0, in(DLM));
        assertFalse(irq.level);
    }

    @Test
    void linuxProbeRecognisesA16550A() {
        // Scratch register.
        out(SCR, 0xA5);
        assertEquals(0xA5, in(SCR));
        out(SCR, 0x5A);
        assertEquals(0x5A, in(SCR));
        // IER: the low four bits are writable, the rest read 0.
        out(IER, 0);
        assertEquals(0, in(IER) & 0x0F);
        out(IER, 0xFF);
        assertEquals(0x0F, in(IER));
        out(IER, 0);
        // Loopback check: MCR = LOOP | RTS | OUT2 makes MSR's top nibble CTS | DCD.
        int savedMcr = in(MCR);
        out(MCR, MCR_LOOP | 0x0A);
        assertEquals(0x90, in(MSR) & 0xF0);
        out(MCR, savedMcr);
        // FIFO detection: FCR enable gives IIR bits 7-6 = 11 (16550A, working FIFO).
        out(FCR, FCR_ENABLE);
        assertEquals(3, in(IIR) >> 6);
        // No 64-byte FIFO (16750): IIR bit 5 stays clear even with FCR bit 5 under DLAB.
        out(LCR, LCR_DLAB);
        out(FCR, FCR_ENABLE | 0x20);
        assertEquals(0, in(IIR) & 0x20);
        out(LCR, 0);
        // The divisor latch is read/write under DLAB and hides RBR/IER.
        out(LCR, LCR_DLAB);
        out(DLL, 0xAA);
        out(DLM, 0x55);
        assertEquals(0xAA, in(DLL));
        assertEquals(0x55, in(DLM));
        out(LCR, 0x03);
        assertEquals(0, in(IER));
        assertEquals(0x03, in(LCR));
    }

    @Test
    void polledOutputNeverWaitsAndFlushesAtNewline() {
        setup115200();
        for (char c : "hello\nworld".toCharArray()) {
            int lsr = in(LSR);
            assertEquals(LSR_THRE | LSR_TEMT, lsr & (LSR_THRE | LSR_TEMT), "THR empty before every byte");
            out(THR, c);
        }
        assertEquals("hello\nworld", backend.text());
        assertEquals(1, backend.flushes);
        assertEquals(6, backend.flushedLength, "flushed right after the newline");
        assertEquals(0x60, in(LSR));
    }

    @Test
    void bytesPassWholeWhateverTheWordLength() {
        // LCR = 0 (5 data bits) at power-on: a guest that prints without setting up still prints.
        out(THR, 'A');
        assertEquals("A", backend.text());
    }

    @Test
    void thrEmptyInterruptDrivesInterruptDrivenOutput() {
        setup115200();
        out(FCR, FCR_ENABLE | FCR_RX_RESET | FCR_TX_RESET);
        out(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
        assertFalse(irq.level);
        // Enabling ETBEI with THR empty raises the interrupt at once.
        out(IER, IER_THRE);
        assertTrue(irq.level);
        // The interrupt handler: IIR says THRE (and reading it clears that source).
        assertEquals(0xC0 | IIR_THRE, in(IIR));
        assertFalse(irq.level);
        assertEquals(0xC0 | IIR_NONE, in(IIR));
        // Writing the next byte: THR empties again at once, so the interrupt comes back.
        out(THR, 'x');
        assertTrue(irq.level);
        assertEquals(2, irq.rises);
        // A driver with nothing more to send disables ETBEI: the line drops.
        out(IER, 0);
        assertFalse(irq.level);
        // Re-enabling ETBEI with THR empty raises it again (Linux's THRE test, Windows).
        out(IER, IER_THRE);
        assertTrue(irq.level);
        assertEquals(0xC0 | IIR_THRE, in(IIR));
        out(IER, 0);
        out(IER, IER_THRE);
        assertEquals(0xC0 | IIR_THRE, in(IIR), "re-asserted after IER toggled");
        assertEquals("x", backend.text());
    }

    @Test
    void out2GatesTheInterruptLine() {
        out(IER, IER_THRE);
        assertEquals(IIR_THRE, in(IIR) & 0x0F, "pending in IIR");
        out(IER, 0);
        out(IER, IER_THRE);
        assertFalse(irq.level, "OUT2 clear: the PC's IRQ buffer is off");
        out(MCR, MCR_OUT2);
        assertTrue(irq.level);
        out(MCR, 0);
        assertFalse(irq.level);
    }

    @Test
    void characterTimeFollowsDivisorAndLineSettings() {
        setup115200();
        assertEquals(86_805, uart.characterNanos(), "115200 8N1");
        out(LCR, LCR_DLAB);
        out(DLL, 12);
        out(LCR, 0x02 | LCR_PARITY | 0x10 | LCR_STOP_BITS); // 7E2 at 9600: 1+7+1+2 = 11 bits
        assertEquals(11 * 1_000_000_000L / 9600, uart.characterNanos());
        out(LCR, 0x00 | LCR_STOP_BITS); // 5 data bits, 1.5 stop bits: 7.5 bits
        assertEquals(75 * 1_000_000_000L / 96_000, uart.characterNanos());
        out(LCR, LCR_DLAB);
        out(DLL, 0);
        out(DLM, 0);
        out(LCR, 0x03);
        assertEquals(10 * 65536 * 1_000_000_000L / 115_200, uart.characterNanos(), "divisor 0 divides by 65536");
    }

    @Test
    void receivedBytesArriveOneCharacterTimeApartIntoTheFifoWithTriggerLevel() {
        setup115200();
        out(FCR, FCR_ENABLE | FCR_RX_RESET | 0x40); // trigger level 4
        out(MCR, MCR_OUT2);
        out(IER, IER_RDA);
        backend.type("abcdef");
        ctx.advance(3 * CHAR_115200 + CHAR_115200 / 2);
        assertEquals(LSR_DR, in(LSR) & LSR_DR, "3 bytes in the FIFO");
        assertEquals(0xC1, in(IIR), "below the trigger level: no interrupt yet");
        assertFalse(irq.level);
        ctx.advance(CHAR_115200);
        assertEquals(0xC0 | IIR_RDA, in(IIR));
        assertTrue(irq.level);
        // Reading one byte drops the FIFO below the trigger: RDA clears.
        assertEquals('a', in(RBR));
        assertEquals(0xC1, in(IIR));
        assertFalse(irq.level);
        ctx.advance(CHAR_115200);
        assertEquals(0xC0 | IIR_RDA, in(IIR), "'e' arrived: 4 again");
        StringBuilder got = new StringBuilder("a");
        while ((in(LSR) & LSR_DR) != 0) got.append((char) in(RBR));
        assertEquals("abcde", got.toString());
        ctx.advance(CHAR_115200);
        assertEquals('f', in(RBR));
        assertEquals(0, in(LSR) & LSR_DR);
        assertEquals('f', in(RBR), "an empty receiver reads the last byte again");
    }

    @Test
    void inputThatEndedIsNotPolledAgainSoIdleTimeCanSkipAhead() {
        setup115200();
        out(FCR, FCR_ENABLE);
        backend.type("ok");
        backend.ended = true;
        ctx.advance(3 * CHAR_115200);
        assertEquals('o', in(RBR));
        assertEquals('k', in(RBR));
        int reads = backend.reads;
        assertEquals(Long.MAX_VALUE, ctx.timers().nextDeadline(), "no poll scheduled after the end of input");
        ctx.advance(1_000 * CHAR_115200);
        assertEquals(reads, backend.reads);
    }

    @Test
    void characterTimeoutReportsBytesBelowTheTriggerLevel() {
        setup115200();
        out(FCR, FCR_ENABLE | 0xC0); // trigger level 14
        out(MCR, MCR_OUT2);
        out(IER, IER_RDA);
        backend.type("hi");
        ctx.advance(2 * CHAR_115200);
        assertEquals(0xC1, in(IIR));
        // Four character times after the last byte arrived, the time-out fires.
        ctx.advance(4 * CHAR_115200 - 1);
        assertFalse(irq.level);
        ctx.advance(1);
        assertTrue(irq.level);
        assertEquals(0xC0 | IIR_TIMEOUT, in(IIR));
        // Reading a byte clears it and restarts the timer.
        assertEquals('h', in(RBR));
        assertFalse(irq.level);
        ctx.advance(4 * CHAR_115200);
        assertEquals(0xC0 | IIR_TIMEOUT, in(IIR));
        assertEquals('i', in(RBR));
        ctx.advance(10 * CHAR_115200);
        assertEquals(0xC1, in(IIR), "an empty FIFO times out never");
    }

    @Test
    void fullReceiverStopsPollingUntilTheGuestReads() {
        setup115200();
        backend.type("0123456789ABCDEFGHIJ");
        // FIFOs off: one holding register, so one byte is taken and the rest wait in the back end.
        ctx.advance(5 * CHAR_115200);
        assertEquals(19, backend.in.size());
        assertEquals(LSR_DR, in(LSR) & (LSR_DR | LSR_OE), "no overrun: the back end is not read while full");
        assertEquals('0', in(RBR));
        ctx.advance(CHAR_115200);
        assertEquals('1', in(RBR));
        // FIFOs on: sixteen bytes fit.
        out(FCR, FCR_ENABLE);
        ctx.advance(40 * CHAR_115200);
        assertEquals(2, backend.in.size());
        assertEquals(0, in(LSR) & LSR_OE);
        for (char c : "23456789ABCDEFGH".toCharArray()) assertEquals(c, in(RBR));
        ctx.advance(2 * CHAR_115200);
        assertEquals('I', in(RBR));
        assertEquals('J', in(RBR));
    }

    @Test
    void fifoResetAndDisableDiscardReceivedBytes() {
        setup115200();
        out(FCR, FCR_ENABLE);
        backend.type("xyz");
        ctx.advance(3 * CHAR_115200);
        out(FCR, FCR_ENABLE | FCR_RX_RESET);
        assertEquals(0, in(LSR) & LSR_DR);
        backend.type("q");
        ctx.advance(CHAR_115200);
        out(FCR, 0); // disabling clears the FIFOs too
        assertEquals(0, in(LSR) & LSR_DR);
        assertEquals(0x01, in(IIR), "IIR bits 7-6 clear without FIFOs");
    }

    @Test
    void loopbackReturnsTransmittedBytesAndKeepsThemFromTheBackEnd() {
        setup115200();
        out(FCR, FCR_ENABLE);
        backend.type("!");
        out(MCR, MCR_LOOP | MCR_OUT2);
        out(IER, IER_RDA | IER_THRE);
        for (char c : "ping".toCharArray()) out(THR, c);
        assertEquals("", backend.text());
        assertFalse(irq.level, "in loopback OUT2's pin is inactive, so no IRQ");
        assertEquals(0xC0 | IIR_RDA, in(IIR) & 0xCF, "but the interrupt is pending");
        StringBuilder got = new StringBuilder();
        while ((in(LSR) & LSR_DR) != 0) got.append((char) in(RBR));
        assertEquals("ping", got.toString());
        ctx.advance(10 * CHAR_115200);
        assertEquals(0, in(LSR) & LSR_DR, "the back end is not read in loopback");
        out(MCR, MCR_OUT2);
        ctx.advance(CHAR_115200);
        assertEquals('!', in(RBR), "reception resumes after loopback");
    }

    @Test
    void loopbackModemLinesFollowMcrWithDeltas() {
        in(MSR);
        out(MCR, MCR_LOOP);
        assertEquals(MSR_DCTS | MSR_DDSR | MSR_DDCD, in(MSR), "all inputs fell: deltas, no levels");
        out(MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2);
        assertEquals(0xF0 | MSR_DCTS | MSR_DDSR | MSR_DDCD, in(MSR), "RI rose: no TERI (trailing edge only)");
        out(MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT2);
        assertEquals(MSR_CTS | MSR_DSR | MSR_DCD | MSR_TERI, in(MSR));
        assertEquals(MSR_CTS | MSR_DSR | MSR_DCD, in(MSR), "reading MSR clears the deltas");
        // The modem status interrupt.
        out(IER, IER_MSR);
        out(MCR, MCR_LOOP | MCR_DTR | MCR_OUT2);
        assertEquals(IIR_MSR, in(IIR));
        in(MSR);
        assertEquals(IIR_NONE, in(IIR));
    }

    @Test
    void overrunInLoopbackRaisesTheLineStatusInterruptFirst() {
        setup115200();
        out(FCR, FCR_ENABLE);
        out(MCR, MCR_LOOP);
        out(IER, IER_RLS | IER_RDA | IER_THRE | IER_MSR);
        for (int i = 0; i < 17; i++) out(THR, 'a' + i);
        // RLS outranks RDA, THRE and MSR.
        assertEquals(0xC0 | IIR_RLS, in(IIR));
        assertEquals(LSR_DR | LSR_OE | LSR_THRE | LSR_TEMT, in(LSR));
        assertEquals(0, in(LSR) & LSR_OE, "reading LSR clears OE");
        assertEquals(0xC0 | IIR_RDA, in(IIR), "then received data");
        for (int i = 0; i < 16; i++) assertEquals('a' + i, in(RBR), "the 17th byte was lost");
        assertEquals(0xC0 | IIR_THRE, in(IIR), "then THR empty");
        assertEquals(0xC0 | IIR_MSR, in(IIR), "then modem status (loopback changed the inputs)");
        in(MSR);
        assertEquals(0xC1, in(IIR));
    }

    @Test
    void overrunWithoutFifosReplacesTheUnreadByte() {
        out(MCR, MCR_LOOP);
        out(THR, '1');
        out(THR, '2');
        assertEquals(LSR_DR | LSR_OE, in(LSR) & (LSR_DR | LSR_OE));
        assertEquals('2', in(RBR));
    }

    @Test
    void breakInLoopbackReceivesAZeroCharacterWithBreakIndication() {
        out(FCR, FCR_ENABLE);
        out(MCR, MCR_LOOP);
        out(THR, 'k');
        out(LCR, 0x03 | LCR_BREAK);
        assertEquals(LSR_DR | LSR_THRE | LSR_TEMT | LSR_RX_FIFO_ERROR, in(LSR), "the break is second in the FIFO");
        assertEquals('k', in(RBR));
        assertEquals(LSR_DR | LSR_BI | LSR_THRE | LSR_TEMT | LSR_RX_FIFO_ERROR, in(LSR), "now at the top");
        assertEquals(LSR_DR | LSR_THRE | LSR_TEMT, in(LSR), "reported once");
        assertEquals(0, in(RBR));
        out(LCR, 0x03 | LCR_BREAK);
        assertEquals(0, in(LSR) & LSR_DR, "a held break is one character");
    }

    @Test
    void wideAccessesSplitIntoByteRegisters() {
        out(SCR, 0x77);
        assertEquals(0xB0_60L, uart.ioRead(COM1 + LSR, 2), "LSR then MSR");
        assertEquals(0x77L, uart.ioRead(COM1 + SCR, 1));
        assertEquals(0xFFFFFF77L, uart.ioRead(COM1 + SCR, 4), "bytes beyond the device float high");
        uart.ioWrite(COM1 + LCR, 2, 0x0B_83); // LCR = DLAB | 8 bits, MCR = 0x0B
        assertEquals(0x0B, in(MCR));
        uart.ioWrite(COM1 + DLL, 2, 0x0001);
        assertEquals(1, in(DLL));
        assertEquals(0, in(DLM));
    }

    @Test
    void resetReturnsToPowerOnAndDropsTheLine() {
        out(MCR, MCR_OUT2);
        out(IER, IER_THRE);
        assertTrue(irq.level);
        out(SCR, 9);
        uart.reset();
        assertFalse(irq.level);
        assertEquals(0, in(IER));
        assertEquals(0, in(MCR));
        assertEquals(0, in(SCR));
        assertEquals(0x01, in(IIR));
    }

    @Test
    void factoryPicksComPortsAndChecksParameters() {
        var registry = DeviceRegistry.load();
        var com2 = (PortIoDevice) registry.factory("uart16550")
                .create("com2", ConfigFactory.parseString("port = 2, chardev = buf"), ctx);
        assertEquals(List.of(new PortRange(0x2F8, 8)), com2.portRanges());
        com2.ioWrite(0x2F8 + MCR, 1, MCR_OUT2);
        com2.ioWrite(0x2F8 + IER, 1, IER_THRE);
        assertTrue(ctx.line(3).level, "COM2 is on IRQ 3");
        com2.ioWrite(0x2F8, 1, 'z');
        assertEquals("z", ctx.buffer("buf").text());

        var custom = (PortIoDevice) registry.factory("uart16550")
                .create("c", ConfigFactory.parseString("port = 4, iobase = \"0x500\", irq = 11"), ctx);
        assertEquals(0x500, custom.portRanges().getFirst().first());
        custom.ioWrite(0x500, 1, '!');
        assertEquals("!", ctx.buffer("stdio").text(), "chardev defaults to stdio");

        var bad = assertThrows(ConfigException.class, () -> registry.factory("uart16550")
                .create("x", ConfigFactory.parseString("port = 5"), ctx));
        assertTrue(bad.getMessage().contains("port"), bad.getMessage());
        var badBase = assertThrows(ConfigException.class, () -> registry.factory("uart16550")
                .create("x", ConfigFactory.parseString("iobase = COM1"), ctx));
        assertTrue(badBase.getMessage().contains("iobase"), badBase.getMessage());
        var unquotedHex = (PortIoDevice) registry.factory("uart16550")
                .create("h", ConfigFactory.parseString("iobase = 0x2e8"), ctx);
        assertEquals(0x2E8, unquotedHex.portRanges().getFirst().first(), "HOCON reads 0x2e8 as a string");
        var badIrq = assertThrows(ConfigException.class, () -> registry.factory("uart16550")
                .create("x", ConfigFactory.parseString("irq = 16"), ctx));
        assertTrue(badIrq.getMessage().contains("irq"), badIrq.getMessage());
    }
}
