package org.symbiont.devices.pc;

import com.typesafe.config.Config;
import java.util.List;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.InterruptLine;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.Snapshottable;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The PC's pair of 8259A programmable interrupt controllers (Intel 8259A datasheet) with the
 * PIIX/ICH edge/level control registers: master at ports 0x20-0x21, slave at 0xA0-0xA1 cascaded
 * on the master's IR2, ELCR at 0x4D0 (IRQ 0-7) and 0x4D1 (IRQ 8-15).
 *
 * <p>Programming: ICW1-ICW4 (single or cascade, ICW4 needed, LTIM, vector base, cascade map or
 * slave identity, auto-EOI, special fully nested mode), OCW1 (mask), OCW2 (non-specific and
 * specific EOI, rotate on EOI, rotate in auto-EOI mode, set priority), OCW3 (read IRR or ISR,
 * poll, special mask mode). Vectors are always formed as in 8086 mode (ICW2 bits 7-3, the level
 * in bits 2-0): an x86 CPU cannot take an 8080-style CALL sequence. The buffered-mode bits of ICW4
 * are electrical and change nothing here.
 *
 * <p>Triggering: a line whose ELCR bit is set (or any line when ICW1.LTIM is set) is level
 * triggered — its IRR bit follows the input. Other lines are edge triggered: a rising input
 * latches IRR, which stays set until the interrupt is acknowledged even if the input falls first
 * (as in QEMU, so devices may {@link InterruptLine#pulse() pulse} a line; the real part would
 * answer such a vanished request with the IR7 default vector). IRQ 0, 1, 2, 8 and 13 are
 * edge-only in the ELCR, as on the PIIX. ICW1 resets the edge detectors: a line already high must
 * fall and rise again to request.
 *
 * <p>Special mask mode follows the datasheet: requests at every unmasked level not in service
 * are enabled, whatever is in service, and a non-specific EOI skips in-service levels that are
 * masked. IRQ2's input on the master is the slave's INT output wired-OR with GSI 2, if the VMM
 * routes anything there.
 *
 * <p>Acknowledge (the INTA cycle): the highest-priority request is moved from IRR to ISR (not in
 * auto-EOI mode) and its vector returned; through IR2, when ICW3 of the master marks it as a
 * slave input, the slave supplies the vector if its ICW3 identity is 2 (otherwise no chip drives
 * the bus and the CPU reads 0xFF). A request that has vanished gives the spurious IR7 vector
 * without setting ISR; a vanished slave request gives the slave's IR7 (IRQ15) vector with the
 * master's IR2 in service, which the guest ends with an EOI to the master only.
 *
 * <p>Power-on state (the datasheet leaves it undefined until ICW1; QEMU's reset values): nothing
 * requested, in service or masked, vector bases 0, ELCR 0 (all edge), cascade wiring IR2, ready
 * for OCWs.
 *
 * <p>Wiring for the VMM: {@link #input(int)} or {@link #setIrq(int, boolean)} for ISA IRQs 0-15,
 * {@link #connectOutput(InterruptLine)} for the INT pin towards the CPU, and
 * {@link #acknowledge()} when the CPU takes the interrupt.
 */
public final class Pic8259 extends IsaPortDevice implements Snapshottable {
    static final int MASTER_BASE = 0x20, SLAVE_BASE = 0xA0, ELCR_BASE = 0x4D0;
    /** The master's input the slave's output drives. */
    static final int CASCADE_IR = 2;
    private static final List<PortRange> PORTS =
            List.of(new PortRange(MASTER_BASE, 2), new PortRange(SLAVE_BASE, 2), new PortRange(ELCR_BASE, 2));

    private final String name;
    private final Chip master = new Chip(true, 0xF8);
    private final Chip slave = new Chip(false, 0xDE);
    private final InterruptLine[] inputs = new InterruptLine[16];
    private InterruptLine output = InterruptLine.NONE;
    private boolean outputLevel;
    /** GSI 2's level: it shares the master's IR2 with the slave's output. */
    private boolean irq2Line;

    public Pic8259(String name) {
        this.name = name;
        for (int i = 0; i < 16; i++) {
            int irq = i;
            inputs[i] = level -> setIrq(irq, level);
        }
        powerOn();
    }

    @Override public String name() { return name; }

    @Override
    public List<PortRange> portRanges() {
        return PORTS;
    }

    @Override
    public void reset() {
        powerOn();
    }

    private void powerOn() {
        master.powerOn();
        slave.powerOn();
        master.icw3 = 1 << CASCADE_IR;
        slave.icw3 = CASCADE_IR;
        update();
    }

    // ---- the VMM's side ----

    /** The interrupt line for ISA IRQ {@code irq} (0-15): a wire into the controller's IR input. */
    public InterruptLine input(int irq) {
        checkIrq(irq);
        return inputs[irq];
    }

    /** Drives ISA IRQ {@code irq} (0-15) to {@code level}. */
    public void setIrq(int irq, boolean level) {
        checkIrq(irq);
        if (irq >= 8) {
            slave.setInput(irq - 8, level);
        } else if (irq == CASCADE_IR) {
            irq2Line = level;
        } else {
            master.setInput(irq, level);
        }
        update();
    }

    /** Connects the master's INT pin (towards the CPU's INTR); it is set to the current level at once. */
    public void connectOutput(InterruptLine intr) {
        output = intr;
        intr.set(outputLevel);
    }

    /** Whether INT is asserted: an interrupt is waiting for {@link #acknowledge()}. */
    public boolean outputAsserted() {
        return outputLevel;
    }

    /**
     * The INTA cycle: answers the vector of the highest-priority pending request and moves it into
     * service (see the class comment for the cascade and the spurious IR7/IRQ15 vectors).
     */
    public int acknowledge() {
        int irq = master.highestRequest();
        int vector;
        if (irq < 0) {
            vector = master.vectorBase | 7;
        } else {
            if (irq == CASCADE_IR && cascaded()) {
                vector = slaveVector();
            } else {
                vector = master.vectorBase | irq;
            }
            master.acknowledge(irq);
        }
        update();
        return vector;
    }

    private int slaveVector() {
        if ((slave.icw3 & 7) != CASCADE_IR) return 0xFF;
        int irq = slave.highestRequest();
        if (irq < 0) return slave.vectorBase | 7;
        slave.acknowledge(irq);
        return slave.vectorBase | irq;
    }

    private boolean cascaded() {
        return !master.single && (master.icw3 & 1 << CASCADE_IR) != 0;
    }

    private static void checkIrq(int irq) {
        if (irq < 0 || irq > 15) throw new IllegalArgumentException("ISA IRQ " + irq + " is not 0..15");
    }

    /** Propagates the slave's INT to the master's IR2 and the master's INT to the output. */
    private void update() {
        master.setInput(CASCADE_IR, slave.highestRequest() >= 0 || irq2Line);
        boolean level = master.highestRequest() >= 0;
        if (level != outputLevel) {
            outputLevel = level;
            output.set(level);
        }
    }

    // ---- the guest's side ----

    @Override
    protected int readByte(int port) {
        int value = switch (port) {
            case MASTER_BASE, MASTER_BASE + 1 -> master.read(port & 1);
            case SLAVE_BASE, SLAVE_BASE + 1 -> slave.read(port & 1);
            case ELCR_BASE -> master.elcr;
            default -> slave.elcr;
        };
        update();
        return value;
    }

    @Override
    protected void writeByte(int port, int value) {
        switch (port) {
            case MASTER_BASE, MASTER_BASE + 1 -> master.write(port & 1, value);
            case SLAVE_BASE, SLAVE_BASE + 1 -> slave.write(port & 1, value);
            case ELCR_BASE -> master.writeElcr(value);
            default -> slave.writeElcr(value);
        }
        update();
    }

    @Override
    public int stateVersion() {
        return 1;
    }

    /** Both chips (with their input pin levels), GSI 2's level and the INT level. */
    @Override
    public void saveState(SectionWriter out) {
        master.save(out);
        slave.save(out);
        out.bool(irq2Line).bool(outputLevel);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        master.restore(in, "master ");
        slave.restore(in, "slave ");
        irq2Line = in.bool("IRQ 2 level");
        outputLevel = in.bool("INT level");
        if (outputLevel) output.set(true);
    }

    /** One 8259A. */
    private static final class Chip {
        private static final int ICW1 = 0x10, ICW1_IC4 = 0x01, ICW1_SNGL = 0x02, ICW1_LTIM = 0x08;
        private static final int ICW4_AEOI = 0x02, ICW4_SFNM = 0x10;
        private static final int OCW3 = 0x08, OCW3_RIS = 0x01, OCW3_RR = 0x02, OCW3_POLL = 0x04,
                OCW3_SMM = 0x20, OCW3_ESMM = 0x40;
        /** Where the next write to the odd port goes: an OCW1, or the awaited ICW. */
        private static final int READY = 0, AWAIT_ICW2 = 2, AWAIT_ICW3 = 3, AWAIT_ICW4 = 4;

        final boolean isMaster;
        /** The IRQs the ELCR may make level-triggered. */
        final int elcrMask;

        int pins;
        int irr;
        int isr;
        int imr;
        int elcr;
        /** The IR with the highest priority; the others follow in rotating order. */
        int highestPriority;
        int vectorBase;
        /** Master: the IRs with a slave; slave: its identity (bits 2-0). */
        int icw3;
        boolean levelTriggeredAll;
        boolean single;
        boolean expectIcw4;
        boolean autoEoi;
        boolean rotateOnAutoEoi;
        boolean specialFullyNested;
        boolean specialMask;
        boolean poll;
        boolean readIsr;
        int initStep;

        Chip(boolean isMaster, int elcrMask) {
            this.isMaster = isMaster;
            this.elcrMask = elcrMask;
        }

        void save(SectionWriter out) {
            out.u8(pins).u8(irr).u8(isr).u8(imr).u8(elcr).u8(highestPriority).u8(vectorBase).u8(icw3);
            out.bool(levelTriggeredAll).bool(single).bool(expectIcw4).bool(autoEoi).bool(rotateOnAutoEoi);
            out.bool(specialFullyNested).bool(specialMask).bool(poll).bool(readIsr).u8(initStep);
        }

        void restore(SectionReader in, String prefix) throws SnapshotException {
            pins = in.u8(prefix + "input pins");
            irr = in.u8(prefix + "IRR");
            isr = in.u8(prefix + "ISR");
            imr = in.u8(prefix + "IMR");
            int at = in.position();
            elcr = in.u8(prefix + "ELCR");
            if ((elcr & ~elcrMask) != 0) {
                throw in.malformed(at, prefix + "ELCR", String.format("is %#x, beyond the IRQs it can make level-triggered (%#x)", elcr, elcrMask));
            }
            highestPriority = DeviceState.u8In(in, 0, 7, prefix + "highest priority IR");
            at = in.position();
            vectorBase = in.u8(prefix + "vector base");
            if ((vectorBase & 7) != 0) throw in.malformed(at, prefix + "vector base", String.format("is %#x, not a multiple of 8", vectorBase));
            icw3 = in.u8(prefix + "ICW3");
            levelTriggeredAll = in.bool(prefix + "level-triggered mode");
            single = in.bool(prefix + "single mode");
            expectIcw4 = in.bool(prefix + "ICW4 expected");
            autoEoi = in.bool(prefix + "automatic EOI");
            rotateOnAutoEoi = in.bool(prefix + "rotate on automatic EOI");
            specialFullyNested = in.bool(prefix + "special fully nested mode");
            specialMask = in.bool(prefix + "special mask mode");
            poll = in.bool(prefix + "poll command");
            readIsr = in.bool(prefix + "read ISR");
            at = in.position();
            initStep = in.u8(prefix + "initialization step");
            if (initStep != READY && initStep != AWAIT_ICW2 && initStep != AWAIT_ICW3 && initStep != AWAIT_ICW4) {
                throw in.malformed(at, prefix + "initialization step", "is " + initStep + ", not 0 (ready), 2, 3 or 4 (awaiting that ICW)");
            }
        }

        void powerOn() {
            isr = 0;
            imr = 0;
            elcr = 0;
            irr = 0;
            highestPriority = 0;
            vectorBase = 0;
            levelTriggeredAll = false;
            single = false;
            expectIcw4 = false;
            autoEoi = false;
            rotateOnAutoEoi = false;
            specialFullyNested = false;
            specialMask = false;
            poll = false;
            readIsr = false;
            initStep = READY;
        }

        int levelTriggered() {
            return levelTriggeredAll ? 0xFF : elcr;
        }

        void setInput(int ir, boolean level) {
            int bit = 1 << ir;
            if ((levelTriggered() & bit) != 0) {
                irr = level ? irr | bit : irr & ~bit;
            } else if (level && (pins & bit) == 0) {
                irr |= bit;
            }
            pins = level ? pins | bit : pins & ~bit;
        }

        /** 0 for the highest-priority IR set in {@code mask}, 7 for the lowest; 8 when none. */
        int priority(int mask) {
            if (mask == 0) return 8;
            int p = 0;
            while ((mask & 1 << ((p + highestPriority) & 7)) == 0) p++;
            return p;
        }

        int irAtPriority(int p) {
            return (p + highestPriority) & 7;
        }

        /** The IR this chip would signal on INT now, or -1. */
        int highestRequest() {
            int requests = irr & ~imr;
            if (specialMask) {
                // Special mask mode: every unmasked level not itself in service may interrupt.
                int p = priority(requests & ~isr);
                return p == 8 ? -1 : irAtPriority(p);
            }
            int p = priority(requests);
            if (p == 8) return -1;
            int inService = isr;
            // Special fully nested mode: the slave's IR stays open for its higher-priority requests.
            if (specialFullyNested && isMaster) inService &= ~icw3;
            return p < priority(inService) ? irAtPriority(p) : -1;
        }

        void acknowledge(int ir) {
            int bit = 1 << ir;
            if ((levelTriggered() & bit) == 0) irr &= ~bit;
            if (autoEoi) {
                if (rotateOnAutoEoi) highestPriority = (ir + 1) & 7;
            } else {
                isr |= bit;
            }
        }

        int read(int a0) {
            if (poll) {
                poll = false;
                int ir = highestRequest();
                if (ir < 0) return 0;
                acknowledge(ir);
                return 0x80 | ir;
            }
            if (a0 == 1) return imr;
            return readIsr ? isr : irr;
        }

        void write(int a0, int value) {
            if (a0 == 0) {
                if ((value & ICW1) != 0) icw1(value);
                else if ((value & OCW3) != 0) ocw3(value);
                else ocw2(value);
                return;
            }
            switch (initStep) {
                case AWAIT_ICW2 -> {
                    vectorBase = value & 0xF8;
                    initStep = single ? (expectIcw4 ? AWAIT_ICW4 : READY) : AWAIT_ICW3;
                }
                case AWAIT_ICW3 -> {
                    icw3 = value;
                    initStep = expectIcw4 ? AWAIT_ICW4 : READY;
                }
                case AWAIT_ICW4 -> {
                    autoEoi = (value & ICW4_AEOI) != 0;
                    specialFullyNested = (value & ICW4_SFNM) != 0;
                    initStep = READY;
                }
                default -> imr = value;
            }
        }

        /** ICW1 starts initialization (datasheet: "Initialization Command Words"). */
        private void icw1(int value) {
            levelTriggeredAll = (value & ICW1_LTIM) != 0;
            single = (value & ICW1_SNGL) != 0;
            expectIcw4 = (value & ICW1_IC4) != 0;
            // The edge sense circuits reset: edge requests are dropped, level ones follow their pins.
            irr = pins & levelTriggered();
            imr = 0;
            isr = 0;
            highestPriority = 0; // IR7 lowest
            icw3 = 7;            // slave address 7
            specialMask = false;
            readIsr = false;
            poll = false;
            rotateOnAutoEoi = false;
            if (!expectIcw4) {
                autoEoi = false;
                specialFullyNested = false;
            }
            initStep = AWAIT_ICW2;
        }

        private void ocw2(int value) {
            int ir = value & 7;
            switch (value >>> 5) {
                case 0 -> rotateOnAutoEoi = false;
                case 1 -> nonSpecificEoi(false);
                case 2 -> { } // no operation
                case 3 -> isr &= ~(1 << ir);
                case 4 -> rotateOnAutoEoi = true;
                case 5 -> nonSpecificEoi(true);
                case 6 -> highestPriority = (ir + 1) & 7;
                default -> {
                    isr &= ~(1 << ir);
                    highestPriority = (ir + 1) & 7;
                }
            }
        }

        private void nonSpecificEoi(boolean rotate) {
            // In special mask mode a non-specific EOI does not clear a masked in-service level.
            int p = priority(specialMask ? isr & ~imr : isr);
            if (p == 8) return;
            int ir = irAtPriority(p);
            isr &= ~(1 << ir);
            if (rotate) highestPriority = (ir + 1) & 7;
        }

        private void ocw3(int value) {
            if ((value & OCW3_ESMM) != 0) specialMask = (value & OCW3_SMM) != 0;
            if ((value & OCW3_POLL) != 0) poll = true;
            if ((value & OCW3_RR) != 0) readIsr = (value & OCW3_RIS) != 0;
        }

        void writeElcr(int value) {
            elcr = value & elcrMask;
            int level = levelTriggered();
            irr = (irr & ~level) | (pins & level);
        }
    }

    /** {@code type = pic8259}: the master/slave pair and the ELCR at their standard ports; no parameters. */
    public static final class Factory implements DeviceFactory {
        @Override public String type() { return "pic8259"; }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            return new Pic8259(name);
        }
    }
}
