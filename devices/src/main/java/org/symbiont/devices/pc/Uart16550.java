package org.symbiont.devices.pc;

import com.typesafe.config.Config;
import java.util.List;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.DeviceParams;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.Snapshottable;
import org.symbiont.devices.VirtualTimer;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A 16550A UART (National Semiconductor PC16550D datasheet) as found at the PC's COM ports.
 *
 * <p>Registers: RBR/THR, IER, IIR/FCR, LCR (with the divisor latch access bit), MCR (with
 * loopback), LSR, MSR, SCR and the divisor latch DLL/DLM. The receiver has a 16-byte FIFO (or a
 * single holding register when FIFOs are off) with trigger levels 1/4/8/14 and the character
 * time-out indication; interrupts are prioritised as the datasheet's IIR table says (receiver
 * line status, then received data available or character time-out, then THR empty, then modem
 * status).
 *
 * <p>Transmission is instantaneous: a byte written to THR goes to the back end at once (which is
 * flushed at each newline), so THR and the transmitter are always empty and LSR.THRE/TEMT always
 * read 1 — guests that poll THRE before each byte never wait. The THR-empty interrupt follows the
 * datasheet and what guests expect of QEMU's model: it becomes pending each time THR empties (so
 * after every THR write), reading IIR while it is the reported source clears it, and setting
 * IER.ETBEI when it was clear makes it pending again because THR is empty (Windows and Linux's
 * THRE self-test rely on that).
 *
 * <p>Reception polls the back end on a virtual-time timer, one character time apart (start bit,
 * data bits, parity and stop bits at the baud rate 1.8432 MHz / 16 / divisor; 115200 baud 8N1 is
 * 86.8 µs), for as long as the receiver has room and the back end may still have input (a back
 * end that says its input ended is not polled again, so an idle guest's time can skip ahead);
 * reading RBR makes room and restarts it. The
 * character time-out fires four character times after the last character went into or out of a
 * non-empty FIFO. Back-end bytes carry no parity or framing errors; an overrun happens when the
 * receiver is full (in loopback, where transmission does not wait for the guest to read). The
 * word length and parity settings change the character time only: bytes pass whole in both
 * directions, as in QEMU, so a guest that prints before programming LCR (reset value: 5 data
 * bits) still prints what it meant. FCR bit 3 (DMA mode) only changes the RXRDY/TXRDY pins, which
 * a PC does not wire, and the transmit FIFO reset has nothing to clear.
 *
 * <p>The modem inputs from the back end are CTS, DSR and DCD asserted and RI clear (a connected
 * null-modem, as QEMU reports). In loopback (MCR bit 4) transmitted bytes come back to the
 * receiver, the back end is neither written nor read, and the modem inputs follow MCR (CTS = RTS,
 * DSR = DTR, RI = OUT1, DCD = OUT2), setting the MSR delta bits when they change. Setting the
 * break bit in LCR during loopback receives a break (a zero character with LSR.BI); outside
 * loopback a break is not conveyed, because the back end carries bytes only.
 *
 * <p>The interrupt line: the UART's INTR output reaches the PC's IRQ only through the buffer that
 * the OUT2 pin enables, as on every PC serial port. The line is therefore asserted when an
 * enabled interrupt is pending, MCR.OUT2 is set and loopback is off (in loopback the datasheet
 * forces the modem-control output pins, OUT2 among them, inactive). It is driven as a level and
 * changes only at the end of a register access.
 *
 * <p>Power-on state: the registers as the datasheet's master reset leaves them (IER, IIR = 1,
 * FCR, LCR, MCR cleared, LSR = 0x60), SCR cleared and the divisor 12 (9600 baud, what PC BIOSes
 * program; the datasheet leaves the latch undefined). A divisor of 0 divides by 65536, as the
 * 16-bit baud counter wraps.
 */
public final class Uart16550 extends IsaPortDevice implements Snapshottable {
    // Register offsets from the base port.
    static final int RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    static final int IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MSR = 0x08;

    static final int IIR_NONE = 0x01, IIR_MSR = 0x00, IIR_THRE = 0x02, IIR_RDA = 0x04, IIR_RLS = 0x06, IIR_TIMEOUT = 0x0C;
    static final int IIR_FIFOS_ENABLED = 0xC0;

    static final int FCR_ENABLE = 0x01, FCR_RX_RESET = 0x02, FCR_TX_RESET = 0x04;

    static final int LCR_STOP_BITS = 0x04, LCR_PARITY = 0x08, LCR_BREAK = 0x40, LCR_DLAB = 0x80;

    static final int MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;

    static final int LSR_DR = 0x01, LSR_OE = 0x02, LSR_PE = 0x04, LSR_FE = 0x08, LSR_BI = 0x10,
            LSR_THRE = 0x20, LSR_TEMT = 0x40, LSR_RX_FIFO_ERROR = 0x80;
    private static final int LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

    static final int MSR_DCTS = 0x01, MSR_DDSR = 0x02, MSR_TERI = 0x04, MSR_DDCD = 0x08,
            MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;

    /** The modem inputs a back end presents: a connected null-modem (CTS, DSR, DCD; no ring). */
    private static final int BACKEND_MODEM_INPUTS = MSR_CTS | MSR_DSR | MSR_DCD;

    private static final int FIFO_SIZE = 16;
    private static final int[] TRIGGER_LEVELS = {1, 4, 8, 14};
    /** Half-bit times per second at divisor 1: 1.8432 MHz / 16 = 115200 baud, two halves a bit. */
    private static final long HALF_BITS_PER_SECOND = 2 * 115_200;
    private static final int RESET_DIVISOR = 12;

    private final String name;
    private final int base;
    private final List<PortRange> ports;
    private final DeviceContext context;
    private final CharBackend backend;
    private final InterruptLine irq;

    private int ier;
    private int lcr;
    private int mcr;
    private int scr;
    private int divisor;
    private boolean fifosEnabled;
    private int triggerLevel;

    /** The receiver: a ring of up to 16 characters (1 when FIFOs are off) and their error bits. */
    private final byte[] rxData = new byte[FIFO_SIZE];
    private final byte[] rxErrors = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    /** The last character read from RBR (what RBR reads when the receiver is empty). */
    private int lastRead;

    /** LSR.OE/PE/FE/BI as reported: set by overruns and by the character at the top of the receiver. */
    private int lsrErrors;
    private boolean thrInterrupt;
    private boolean timeoutInterrupt;
    private int modemInputs;
    private int msrDeltas;

    private VirtualTimer pollTimer;
    /** The back end said no input will ever come: polling stopped for good. */
    private boolean inputEnded;
    private VirtualTimer timeoutTimer;
    private boolean irqAsserted;

    public Uart16550(String name, int base, InterruptLine irq, CharBackend backend, DeviceContext context) {
        this.name = name;
        this.base = base;
        this.ports = List.of(new PortRange(base, 8));
        this.context = context;
        this.backend = backend;
        this.irq = irq;
        powerOn();
    }

    @Override public String name() { return name; }
    @Override public List<PortRange> portRanges() { return ports; }

    @Override
    public void reset() {
        if (pollTimer != null) pollTimer.cancel();
        if (timeoutTimer != null) timeoutTimer.cancel();
        pollTimer = null;
        timeoutTimer = null;
        powerOn();
    }

    private void powerOn() {
        ier = 0;
        lcr = 0;
        mcr = 0;
        scr = 0;
        divisor = RESET_DIVISOR;
        fifosEnabled = false;
        triggerLevel = 1;
        rxHead = 0;
        rxCount = 0;
        lastRead = 0;
        lsrErrors = 0;
        thrInterrupt = false;
        timeoutInterrupt = false;
        modemInputs = BACKEND_MODEM_INPUTS;
        msrDeltas = 0;
        updateIrq();
        ensurePolling();
    }

    @Override
    protected int readByte(int port) {
        int value = switch (port - base) {
            case RBR -> dlab() ? divisor & 0xFF : readRbr();
            case IER -> dlab() ? divisor >>> 8 : ier;
            case IIR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLsr();
            case MSR -> readMsr();
            default -> scr;
        };
        updateIrq();
        return value;
    }

    @Override
    protected void writeByte(int port, int value) {
        long characterTime = characterNanos();
        switch (port - base) {
            case THR -> {
                if (dlab()) divisor = (divisor & 0xFF00) | value;
                else transmit(value);
            }
            case IER -> {
                if (dlab()) divisor = (divisor & 0x00FF) | value << 8;
                else writeIer(value);
            }
            case FCR -> writeFcr(value);
            case LCR -> writeLcr(value);
            case MCR -> writeMcr(value);
            case LSR, MSR -> { } // LSR is for factory testing only; MSR holds inputs
            default -> scr = value;
        }
        if (characterNanos() != characterTime && pollTimer != null) {
            // New line settings: the next character is one new character time away.
            pollTimer.cancel();
            pollTimer = null;
            ensurePolling();
        }
        updateIrq();
    }

    private boolean dlab() {
        return (lcr & LCR_DLAB) != 0;
    }

    private boolean loopback() {
        return (mcr & MCR_LOOP) != 0;
    }

    // ---- transmitter ----

    private void transmit(int b) {
        thrInterrupt = false;
        if (loopback()) {
            receive(b, 0);
        } else {
            backend.write(b);
            if (b == '\n') backend.flush();
        }
        // The byte left at once: THR is empty again.
        thrInterrupt = true;
    }

    private void writeIer(int value) {
        int old = ier;
        ier = value & (IER_RDA | IER_THRE | IER_RLS | IER_MSR);
        if ((ier & IER_THRE) != 0 && (old & IER_THRE) == 0) thrInterrupt = true; // THR is empty
    }

    // ---- receiver ----

    private int capacity() {
        return fifosEnabled ? FIFO_SIZE : 1;
    }

    /** A character arrives at the receiver with the given LSR error bits (PE/FE/BI). */
    private void receive(int b, int errors) {
        if (rxCount == capacity()) {
            lsrErrors |= LSR_OE;
            if (!fifosEnabled) {
                // 16450 mode: the new character overwrites the unread one.
                rxData[rxHead] = (byte) b;
                lsrErrors |= errors;
            }
        } else {
            int slot = (rxHead + rxCount) % FIFO_SIZE;
            rxData[slot] = (byte) b;
            rxErrors[slot] = (byte) errors;
            rxCount++;
            if (rxCount == 1) revealTopErrors();
        }
        restartTimeout();
    }

    /** The character at the top of the receiver shows its errors in LSR (datasheet: FIFO mode). */
    private void revealTopErrors() {
        lsrErrors |= rxErrors[rxHead];
        rxErrors[rxHead] = 0;
    }

    private int readRbr() {
        if (rxCount == 0) return lastRead;
        lastRead = rxData[rxHead] & 0xFF;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        if (rxCount > 0) revealTopErrors();
        restartTimeout();
        ensurePolling();
        return lastRead;
    }

    private void clearReceiver() {
        rxHead = 0;
        rxCount = 0;
        java.util.Arrays.fill(rxErrors, (byte) 0);
        restartTimeout();
    }

    /** A character went into or out of the receiver: the time-out indication clears and restarts. */
    private void restartTimeout() {
        timeoutInterrupt = false;
        if (timeoutTimer != null) timeoutTimer.cancel();
        timeoutTimer = null;
        if (fifosEnabled && rxCount > 0) {
            timeoutTimer = context.schedule(context.nanos() + 4 * characterNanos(), this::timeOut);
        }
    }

    private void timeOut() {
        timeoutTimer = null;
        if (fifosEnabled && rxCount > 0) timeoutInterrupt = true;
        updateIrq();
    }

    /** Polls the back end one character time from now, if the receiver can take a character. */
    private void ensurePolling() {
        if (pollTimer != null || inputEnded || loopback() || rxCount >= capacity()) return;
        pollTimer = context.schedule(context.nanos() + characterNanos(), this::poll);
    }

    private void poll() {
        pollTimer = null;
        if (!loopback() && rxCount < capacity()) {
            int b = backend.read();
            if (b >= 0) receive(b & 0xFF, 0);
            else if (b == CharBackend.END_OF_INPUT) inputEnded = true;
        }
        updateIrq();
        ensurePolling();
    }

    /** One character on the line: start bit, 5-8 data bits, optional parity, 1, 1.5 or 2 stop bits. */
    long characterNanos() {
        int dataBits = 5 + (lcr & 3);
        int stopHalfBits = (lcr & LCR_STOP_BITS) == 0 ? 2 : dataBits == 5 ? 3 : 4;
        int halfBits = 2 + 2 * dataBits + ((lcr & LCR_PARITY) != 0 ? 2 : 0) + stopHalfBits;
        long div = divisor == 0 ? 65536 : divisor;
        return Math.max(1, halfBits * div * 1_000_000_000L / HALF_BITS_PER_SECOND);
    }

    // ---- FIFO control, line and modem control ----

    private void writeFcr(int value) {
        boolean enable = (value & FCR_ENABLE) != 0;
        if (enable != fifosEnabled) {
            // Changing FCR0 clears both FIFOs (the transmitter is always empty).
            fifosEnabled = enable;
            clearReceiver();
        }
        if (enable) {
            // FCR1-FCR7 are programmed only while FCR0 is set.
            if ((value & FCR_RX_RESET) != 0) clearReceiver();
            triggerLevel = TRIGGER_LEVELS[value >>> 6];
        }
        ensurePolling();
    }

    private void writeLcr(int value) {
        boolean breakStarts = (value & LCR_BREAK) != 0 && (lcr & LCR_BREAK) == 0;
        lcr = value;
        if (breakStarts && loopback()) receive(0, LSR_BI);
    }

    private void writeMcr(int value) {
        mcr = value & (MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2 | MCR_LOOP);
        int inputs = BACKEND_MODEM_INPUTS;
        if (loopback()) {
            inputs = ((mcr & MCR_RTS) != 0 ? MSR_CTS : 0) | ((mcr & MCR_DTR) != 0 ? MSR_DSR : 0)
                    | ((mcr & MCR_OUT1) != 0 ? MSR_RI : 0) | ((mcr & MCR_OUT2) != 0 ? MSR_DCD : 0);
        }
        int changed = inputs ^ modemInputs;
        if ((changed & MSR_CTS) != 0) msrDeltas |= MSR_DCTS;
        if ((changed & MSR_DSR) != 0) msrDeltas |= MSR_DDSR;
        if ((changed & MSR_DCD) != 0) msrDeltas |= MSR_DDCD;
        if ((changed & MSR_RI) != 0 && (inputs & MSR_RI) == 0) msrDeltas |= MSR_TERI; // trailing edge
        modemInputs = inputs;
        ensurePolling();
    }

    private int readLsr() {
        int value = lsrErrors | LSR_THRE | LSR_TEMT;
        if (rxCount > 0) value |= LSR_DR;
        if (fifosEnabled && (errorsInReceiver() || (lsrErrors & (LSR_PE | LSR_FE | LSR_BI)) != 0)) {
            value |= LSR_RX_FIFO_ERROR;
        }
        lsrErrors = 0;
        return value;
    }

    private boolean errorsInReceiver() {
        for (int i = 0; i < rxCount; i++) {
            if (rxErrors[(rxHead + i) % FIFO_SIZE] != 0) return true;
        }
        return false;
    }

    private int readMsr() {
        int value = modemInputs | msrDeltas;
        msrDeltas = 0;
        return value;
    }

    // ---- interrupts ----

    /** The IIR interrupt identification (bits 3-0) of the highest-priority pending interrupt. */
    private int pendingInterrupt() {
        if ((ier & IER_RLS) != 0 && lsrErrors != 0) return IIR_RLS;
        if ((ier & IER_RDA) != 0) {
            if (timeoutInterrupt) return IIR_TIMEOUT;
            if (rxCount >= (fifosEnabled ? triggerLevel : 1)) return IIR_RDA;
        }
        if ((ier & IER_THRE) != 0 && thrInterrupt) return IIR_THRE;
        if ((ier & IER_MSR) != 0 && msrDeltas != 0) return IIR_MSR;
        return IIR_NONE;
    }

    private int readIir() {
        int id = pendingInterrupt();
        if (id == IIR_THRE) thrInterrupt = false; // reading IIR clears the THRE source it reports
        return id | (fifosEnabled ? IIR_FIFOS_ENABLED : 0);
    }

    private void updateIrq() {
        boolean asserted = pendingInterrupt() != IIR_NONE && (mcr & MCR_OUT2) != 0 && !loopback();
        if (asserted != irqAsserted) {
            irqAsserted = asserted;
            irq.set(asserted);
        }
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    @Override
    public void saveState(SectionWriter out) {
        out.u8(ier).u8(lcr).u8(mcr).u8(scr).u16(divisor).bool(fifosEnabled).u8(triggerLevel);
        out.bytes(rxData, 0, FIFO_SIZE).bytes(rxErrors, 0, FIFO_SIZE).u8(rxHead).u8(rxCount).u8(lastRead);
        out.u8(lsrErrors).bool(thrInterrupt).bool(timeoutInterrupt).u8(modemInputs).u8(msrDeltas);
        DeviceState.writeTimer(out, pollTimer);
        out.bool(inputEnded);
        DeviceState.writeTimer(out, timeoutTimer);
        out.bool(irqAsserted);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        if (pollTimer != null) pollTimer.cancel();
        if (timeoutTimer != null) timeoutTimer.cancel();
        ier = in.u8("IER");
        lcr = in.u8("LCR");
        mcr = in.u8("MCR");
        scr = in.u8("SCR");
        divisor = in.u16("divisor");
        fifosEnabled = in.bool("FIFOs enabled");
        int at = in.position();
        triggerLevel = in.u8("trigger level");
        if (java.util.Arrays.stream(TRIGGER_LEVELS).noneMatch(level -> level == triggerLevel)) {
            throw in.malformed(at, "trigger level", "is " + triggerLevel + ", not 1, 4, 8 or 14");
        }
        in.bytes(rxData, 0, FIFO_SIZE, "receiver data");
        in.bytes(rxErrors, 0, FIFO_SIZE, "receiver errors");
        rxHead = DeviceState.u8In(in, 0, FIFO_SIZE - 1, "receiver head");
        rxCount = DeviceState.u8In(in, 0, capacity(), "receiver count");
        lastRead = in.u8("last byte read");
        lsrErrors = in.u8("LSR errors");
        thrInterrupt = in.bool("THR empty interrupt");
        timeoutInterrupt = in.bool("time-out interrupt");
        modemInputs = in.u8("modem inputs");
        msrDeltas = in.u8("MSR deltas");
        pollTimer = DeviceState.readTimer(in, "receive poll timer", context, this::poll);
        inputEnded = in.bool("input ended");
        timeoutTimer = DeviceState.readTimer(in, "character time-out timer", context, this::timeOut);
        irqAsserted = in.bool("IRQ level");
        if (irqAsserted) irq.set(true);
    }

    /**
     * {@code type = uart16550}. Parameters: {@code port} 1..4 picks COM1-COM4's I/O base and IRQ
     * (0x3f8/4, 0x2f8/3, 0x3e8/4, 0x2e8/3; default 1); {@code iobase} and {@code irq} override
     * them; {@code chardev} is the back end (stdio, file:PATH, null or one the VMM defines;
     * default stdio).
     */
    public static final class Factory implements DeviceFactory {
        private static final int[] COM_BASES = {0x3F8, 0x2F8, 0x3E8, 0x2E8};
        private static final int[] COM_IRQS = {4, 3, 4, 3};

        @Override public String type() { return "uart16550"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            int com = DeviceParams.intIn(params, "port", 1, 4, 1);
            int base = DeviceParams.intIn(params, "iobase", 0, 0xFFF8, COM_BASES[com - 1]);
            int irq = DeviceParams.intIn(params, "irq", 0, 15, COM_IRQS[com - 1]);
            String chardev = DeviceParams.string(params, "chardev", "stdio");
            return new Uart16550(name, base, context.interruptLine(irq), context.charBackend(chardev), context);
        }
    }
}
