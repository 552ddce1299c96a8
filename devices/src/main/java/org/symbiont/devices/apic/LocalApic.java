package org.symbiont.devices.apic;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceContext;
import org.symbiont.devices.DeviceFactory;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.MmioDevice;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.MsrDevice;
import org.symbiont.devices.Snapshottable;
import org.symbiont.x86.CpuModel;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A local APIC with x2APIC support, per Intel SDM Vol. 3A chapter 11 ("Advanced Programmable
 * Interrupt Controller"): one per vCPU. It owns IA32_APIC_BASE (MSR 0x1B), the 4 KiB xAPIC
 * register page, the x2APIC MSRs 0x800-0x8FF and IA32_TSC_DEADLINE (0x6E0).
 *
 * <p><b>What it models.</b> Version 0x14 with six LVT entries (timer, thermal, performance
 * counter, LINT0, LINT1, error; no CMCI), version register 0x00050014, no EOI-broadcast
 * suppression. IRR/ISR/TMR with the priority rules of 11.8.3 (PPR from TPR and the highest
 * in-service vector, a request deliverable only if its priority class is above the PPR's); EOI;
 * the error status register with its write-to-update semantics and error interrupt; flat and
 * cluster logical destinations (DFR/LDR) and the x2APIC's derived logical ID; IPIs from the ICR
 * and the x2APIC SELF IPI register; the LINT0/LINT1 inputs with fixed, NMI, SMI, INIT and ExtINT
 * delivery; the timer in one-shot, periodic and TSC-deadline modes on virtual time
 * ({@link ApicTimer}); software disable through the SVR (11.4.7.2) and global disable and x2APIC
 * mode through IA32_APIC_BASE with the legal transitions of 11.12.5.
 *
 * <p><b>State after power-up</b> (11.4.7.1, {@link #reset()}): base 0xFEE00000, globally enabled
 * in xAPIC mode, BSP flag as constructed, ID = the initial APIC ID, every LVT entry masked, SVR =
 * 0xFF (software-disabled, so no fixed interrupt is accepted), DFR flat. Firmware normally puts
 * the BSP into virtual-wire mode; there is no firmware here, so the VMM calls
 * {@link #programVirtualWire()} on the BSP's APIC at machine creation, as SeaBIOS does.
 *
 * <p><b>How the VMM drives it.</b> Maskable interrupts are polled: {@link #pendingInterrupt()}
 * (the vector the core should take now, or -1) and {@link #interruptTaken(int)} when it takes it;
 * {@link #extIntPending()} when the 8259 supplies the vector instead (LINT0 in ExtINT mode). NMI,
 * SMI, INIT and start-up go to the core through {@link CpuSignals}. The wake-up listener runs
 * whenever a maskable interrupt may have become deliverable. IPIs leave through {@link IpiSink}
 * as {@link Ipi} records; messages arrive through {@link #acceptIpi(Ipi)} and
 * {@link #acceptMessage(int, int, boolean)}; the EOI of a level-triggered vector is reported to the
 * EOI listener (the I/O APICs). Delivery is immediate, so the delivery-status bits of the ICR and
 * the LVT entries always read 0 (idle).
 *
 * <p><b>Register accesses.</b> xAPIC registers are 32 bits at 16-byte-aligned offsets. Reads of
 * 1, 2 or 4 bytes return the corresponding bytes of the register (bytes 4-15 of each 16-byte slot
 * read 0); writes take effect only as aligned 32-bit stores, smaller or misaligned ones are ignored
 * (as KVM does); 8-byte accesses act as two 32-bit ones. Reserved offsets (including the x2APIC-only
 * SELF IPI and the absent CMCI entry) set the "illegal register address" error (ESR bit 7) and read
 * 0; writes to read-only registers are ignored. In x2APIC mode the MSR accesses follow 11.12.1: a
 * read of a write-only or absent register, a write to a read-only one, and a write setting a
 * reserved bit are refused ({@link MsrAccessRefused}, #GP).
 *
 * <p><b>State</b> ({@link Snapshottable}): IA32_APIC_BASE (mode and base), every register, the
 * LINT pin levels, a waiting ExtINT message and the timer with its pending expiry. NMI, SMI,
 * INIT and start-up are not held here (they reach the core at once through {@link CpuSignals}),
 * so a pending one is the vCPU's state.
 */
public final class LocalApic implements MmioDevice, MsrDevice, Snapshottable {
    /** IA32_APIC_BASE: EN=0 (disabled), xAPIC (EN=1, EXTD=0), x2APIC (EN=1, EXTD=1). */
    public enum Mode { DISABLED, XAPIC, X2APIC }

    public static final long DEFAULT_BASE = 0xFEE0_0000L;
    public static final int MSR_APIC_BASE = 0x1B;
    public static final int MSR_TSC_DEADLINE = 0x6E0;
    public static final int MSR_X2APIC_FIRST = 0x800, MSR_X2APIC_LAST = 0x8FF;
    /** Version 0x14 (integrated xAPIC), maximum LVT entry 5 (six entries), no EOI-broadcast suppression. */
    public static final int VERSION = 0x0005_0014;
    /** The timer's bus clock by default: 1 GHz, as QEMU and KVM. */
    public static final long DEFAULT_TIMER_HZ = 1_000_000_000L;
    public static final int PAGE_SIZE = 0x1000;

    // xAPIC register offsets (SDM Table 11-1); x2APIC MSR = 0x800 + offset / 16 (Table 11-6).
    public static final int REG_ID = 0x020, REG_VERSION = 0x030, REG_TPR = 0x080, REG_APR = 0x090, REG_PPR = 0x0A0;
    public static final int REG_EOI = 0x0B0, REG_RRD = 0x0C0, REG_LDR = 0x0D0, REG_DFR = 0x0E0, REG_SVR = 0x0F0;
    public static final int REG_ISR = 0x100, REG_TMR = 0x180, REG_IRR = 0x200, REG_ESR = 0x280;
    public static final int REG_ICR_LOW = 0x300, REG_ICR_HIGH = 0x310;
    public static final int REG_LVT_TIMER = 0x320, REG_LVT_THERMAL = 0x330, REG_LVT_PMC = 0x340;
    public static final int REG_LVT_LINT0 = 0x350, REG_LVT_LINT1 = 0x360, REG_LVT_ERROR = 0x370;
    public static final int REG_TIMER_INITIAL = 0x380, REG_TIMER_CURRENT = 0x390, REG_TIMER_DIVIDE = 0x3E0;
    public static final int REG_SELF_IPI = 0x3F0;

    // LVT entries, SVR, ICR and ESR bits.
    public static final int LVT_MASKED = 1 << 16, LVT_LEVEL = 1 << 15, LVT_REMOTE_IRR = 1 << 14;
    public static final int LVT_ACTIVE_LOW = 1 << 13, LVT_DELIVERY_STATUS = 1 << 12;
    public static final int SVR_ENABLE = 1 << 8;
    public static final int ESR_SEND_ILLEGAL_VECTOR = 1 << 5, ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
    public static final int ESR_ILLEGAL_REGISTER = 1 << 7;

    private static final long APIC_BASE_BSP = 1 << 8, APIC_BASE_EXTD = 1 << 10, APIC_BASE_EN = 1 << 11;
    /** Indexes into {@link #lvt}: timer, thermal (1), performance counter (2), LINT0, LINT1, error. */
    private static final int LVT_TIMER = 0, LVT_LINT0 = 3, LVT_LINT1 = 4, LVT_ERROR = 5;
    private static final int LVT_COUNT = 6;
    /** Software-writable bits of each LVT entry (Figure 11-8): timer mode 18:17, mask, trigger, polarity, delivery mode, vector. */
    private static final int[] LVT_WRITABLE = {0x0007_00FF, 0x0001_07FF, 0x0001_07FF, 0x0001_A7FF, 0x0001_A7FF, 0x0001_00FF};
    /** SVR bits 7:0 vector, 8 enable, 9 focus-processor checking; 12 (EOI-broadcast suppression) is not offered. */
    private static final int SVR_WRITABLE = 0x3FF;
    /** ICR low: vector, delivery mode, destination mode, level, trigger mode, shorthand. */
    private static final int ICR_WRITABLE = 0x000C_CFFF;
    private static final int ICR_LOGICAL = 1 << 11, ICR_LEVEL = 1 << 14, ICR_TRIGGER_LEVEL = 1 << 15;

    private final String name;
    private final int initialApicId;
    private final boolean bsp;
    private final int physicalAddressBits;
    private final ApicTimer timer;

    private IpiSink ipiSink = IpiSink.NONE;
    private CpuSignals cpu = CpuSignals.NONE;
    private IntConsumer eoiListener = vector -> { };
    private Runnable wakeup = () -> { };
    private Runnable rangesChanged = () -> { };

    private Mode mode;
    private long baseAddress;
    private List<MmioRange> ranges = List.of();

    private int xapicId;
    private int tpr;
    private int ldr;
    private int dfr;
    private int svr;
    /** The ESR as software reads it, and the errors detected since the last ESR write. */
    private int esr, esrPending;
    private boolean signallingError;
    private int icrLow;
    /** The ICR's destination: 8 bits in xAPIC mode (ICR high bits 31:24), 32 bits in x2APIC mode. */
    private int icrDestination;
    private final int[] lvt = new int[LVT_COUNT];
    private final long[] irr = new long[4], isr = new long[4], tmr = new long[4];
    /** The electrical levels on the LINT0 and LINT1 pins. */
    private final boolean[] lintLevel = new boolean[2];
    /** An ExtINT message arrived and the core has not fetched its vector from the 8259 yet. */
    private boolean extIntMessage;

    /**
     * @param apicId              the initial APIC ID (the x2APIC ID; its low 8 bits are the xAPIC ID)
     * @param bsp                 the bootstrap processor's APIC (IA32_APIC_BASE bit 8)
     * @param physicalAddressBits MAXPHYADDR: base-address bits at and above it are reserved
     * @param timerHz             the timer's bus clock before the divider (1 kHz to 4 GHz)
     */
    public LocalApic(String name, int apicId, boolean bsp, int physicalAddressBits, long timerHz, DeviceContext context) {
        if (physicalAddressBits < 32 || physicalAddressBits > 52) {
            throw new IllegalArgumentException("physical address width must be 32..52 bits, got " + physicalAddressBits);
        }
        if (timerHz < 1_000 || timerHz > 4_000_000_000L) {
            throw new IllegalArgumentException("APIC timer frequency must be 1 kHz..4 GHz, got " + timerHz);
        }
        this.name = name;
        this.initialApicId = apicId;
        this.bsp = bsp;
        this.physicalAddressBits = physicalAddressBits;
        this.timer = new ApicTimer(context, timerHz, this::timerExpired);
        reset();
    }

    // ---------------------------------------------------------------- connections

    /** Where IPIs written to the ICR go. */
    public void connectIpi(IpiSink sink) {
        this.ipiSink = sink;
    }

    /** The core's NMI, SMI, INIT and start-up inputs. */
    public void connectCpu(CpuSignals signals) {
        this.cpu = signals;
    }

    /** Told the vector of every EOI of a level-triggered interrupt (the VMM broadcasts it to the I/O APICs). */
    public void connectEoi(IntConsumer listener) {
        this.eoiListener = listener;
    }

    /**
     * Run after any change that may have made a maskable interrupt deliverable
     * ({@link #pendingInterrupt()} ≥ 0 or {@link #extIntPending()}), so a halted vCPU wakes.
     */
    public void connectWakeup(Runnable listener) {
        this.wakeup = listener;
    }

    /**
     * Run when {@link #mmioRanges()} changed: the page was relocated through IA32_APIC_BASE, or
     * the APIC left or entered xAPIC mode (the page is decoded only in xAPIC mode).
     */
    public void connectRangesChanged(Runnable listener) {
        this.rangesChanged = listener;
    }

    // ---------------------------------------------------------------- identity and state

    @Override
    public String name() {
        return name;
    }

    /** The initial APIC ID given at creation (the x2APIC ID). */
    public int initialApicId() {
        return initialApicId;
    }

    /** The APIC ID now: the 32-bit x2APIC ID in x2APIC mode, else the 8-bit xAPIC ID register. */
    public int apicId() {
        return mode == Mode.X2APIC ? initialApicId : xapicId;
    }

    public boolean isBsp() {
        return bsp;
    }

    public Mode mode() {
        return mode;
    }

    /** SVR bit 8. */
    public boolean isSoftwareEnabled() {
        return (svr & SVR_ENABLE) != 0;
    }

    /**
     * Power-on reset (11.4.7.1 and 11.12.5.1): xAPIC mode at 0xFEE00000, ID = initial APIC ID,
     * registers in their reset state. The LINT pin levels are inputs and stay as they are.
     */
    @Override
    public void reset() {
        mode = Mode.XAPIC;
        baseAddress = DEFAULT_BASE;
        xapicId = initialApicId & 0xFF;
        resetRegisters();
        updateRanges();
    }

    /**
     * What firmware leaves on the BSP (SeaBIOS's smp_setup): the APIC software-enabled (SVR bit 8)
     * and the local interrupt pins in virtual-wire mode, LINT0 = ExtINT (the 8259's INTR) and
     * LINT1 = NMI, both unmasked (entries 0x8700 and 0x8400).
     */
    public void programVirtualWire() {
        writeSvr(svr | SVR_ENABLE);
        writeLvt(LVT_LINT0, 0x8700);
        writeLvt(LVT_LINT1, 0x8400);
    }

    /** Registers to their reset values; the ID, the mode and the base are kept (INIT, disable). */
    private void resetRegisters() {
        tpr = 0;
        ldr = 0;
        dfr = 0xF000_0000;
        svr = 0xFF;
        esr = esrPending = 0;
        icrLow = 0;
        icrDestination = 0;
        Arrays.fill(lvt, LVT_MASKED);
        Arrays.fill(irr, 0);
        Arrays.fill(isr, 0);
        Arrays.fill(tmr, 0);
        extIntMessage = false;
        timer.reset();
    }

    private void updateRanges() {
        List<MmioRange> now = mode == Mode.XAPIC ? List.of(new MmioRange(baseAddress, PAGE_SIZE)) : List.of();
        if (!now.equals(ranges)) {
            ranges = now;
            rangesChanged.run();
        }
    }

    // ---------------------------------------------------------------- interrupt acceptance

    /**
     * A fixed interrupt for this APIC (from an IPI, an I/O APIC or MSI message, or a local
     * source): sets its IRR bit, and its TMR bit for a level-triggered one. Vectors 0-15 are
     * illegal: they set "receive illegal vector" (ESR bit 6) and are dropped. A software-disabled
     * APIC accepts no fixed interrupts (11.4.7.2: it answers INIT, NMI, SMI and SIPI only, as KVM);
     * a globally disabled one nothing.
     */
    public void acceptInterrupt(int vector, boolean levelTriggered) {
        raise(vector & 0xFF, levelTriggered);
    }

    private boolean raise(int vector, boolean levelTriggered) {
        if (mode == Mode.DISABLED || !isSoftwareEnabled()) return false;
        if (vector < 16) {
            recordError(ESR_RECEIVE_ILLEGAL_VECTOR);
            return false;
        }
        set(irr, vector);
        if (levelTriggered) set(tmr, vector); else clear(tmr, vector);
        notifyIfDeliverable();
        return true;
    }

    /**
     * An interrupt message addressed to this APIC (an I/O APIC redirection entry, MSI, or an IPI's
     * content): fixed and lowest priority go to the IRR, NMI/SMI/start-up to the core, INIT resets
     * the APIC (11.4.7.3) and the core, ExtINT makes {@link #extIntPending()} true until
     * {@link #extIntTaken()}. Reserved delivery modes are dropped.
     */
    public void acceptMessage(int deliveryMode, int vector, boolean levelTriggered) {
        if (mode == Mode.DISABLED) return;
        switch (deliveryMode & 7) {
            case DeliveryMode.FIXED, DeliveryMode.LOWEST_PRIORITY -> acceptInterrupt(vector, levelTriggered);
            case DeliveryMode.SMI -> cpu.smi();
            case DeliveryMode.NMI -> cpu.nmi();
            case DeliveryMode.INIT -> init();
            case DeliveryMode.STARTUP -> cpu.startup(vector & 0xFF);
            case DeliveryMode.EXTINT -> {
                extIntMessage = true;
                wakeup.run();
            }
            default -> { }
        }
    }

    /**
     * An IPI the VMM routed here ({@link Ipi#isDeliveredTo(LocalApic)}). Pentium 4 and later
     * processors issue every IPI edge-triggered whatever its trigger-mode bit (SDM Table 11-3 note
     * 2), and an INIT level de-assert does nothing ({@link Ipi#isInitLevelDeassert()}).
     */
    public void acceptIpi(Ipi ipi) {
        if (ipi.isInitLevelDeassert()) return;
        acceptMessage(ipi.deliveryMode(), ipi.vector(), false);
    }

    /** INIT: registers reset, ID and IA32_APIC_BASE (so the mode) kept (11.4.7.3, 11.12.5.1); then the core. */
    private void init() {
        resetRegisters();
        cpu.init();
    }

    // ---------------------------------------------------------------- towards the core

    /**
     * The vector the core should take now, or -1: the highest IRR vector if its priority class
     * (bits 7:4) is above the PPR's (11.8.3.1). Fixed interrupts accepted before a software
     * disable stay pending and deliverable (11.4.7.2: "held and require masking or handling by
     * the CPU").
     */
    public int pendingInterrupt() {
        if (mode == Mode.DISABLED) return -1;
        int vector = highest(irr);
        if (vector < 0 || (vector & 0xF0) <= (processorPriority() & 0xF0)) return -1;
        return vector;
    }

    /**
     * The core acknowledged {@code vector} (it had come from {@link #pendingInterrupt()}): IRR →
     * ISR. Returns the vector the core must take: {@code vector}, or the spurious vector (SVR
     * 7:0, which sets no ISR bit) if it is no longer deliverable — the case of 11.9 where the
     * TPR rose or the APIC was reset between the request and the acknowledge.
     */
    public int interruptTaken(int vector) {
        if (mode == Mode.DISABLED || vector < 16 || vector > 255 || !test(irr, vector)
                || (vector & 0xF0) <= (processorPriority() & 0xF0)) {
            return svr & 0xFF;
        }
        clear(irr, vector);
        set(isr, vector);
        return vector;
    }

    /**
     * The 8259 should supply the next interrupt's vector (its INTA cycle): LINT0 is asserted,
     * unmasked and in ExtINT mode (ExtINT is always level-sensitive), or an ExtINT message is
     * waiting. A globally disabled APIC passes LINT0 straight through as the core's INTR pin.
     */
    public boolean extIntPending() {
        if (extIntMessage) return true;
        if (mode == Mode.DISABLED) return lintLevel[0];
        int entry = lvt[LVT_LINT0];
        return (entry & LVT_MASKED) == 0 && deliveryMode(entry) == DeliveryMode.EXTINT && lintAsserted(0, entry);
    }

    /** The core fetched an ExtINT vector from the 8259: a waiting ExtINT message is consumed. */
    public void extIntTaken() {
        extIntMessage = false;
    }

    /** PPR (11.8.3.1): the TPR if its class is at least the highest in-service class, else that class. */
    public int processorPriority() {
        int isrv = Math.max(highest(isr), 0);
        return (tpr & 0xF0) >= (isrv & 0xF0) ? tpr : isrv & 0xF0;
    }

    /**
     * APR (11.6.2.4, Figure 11-15), for lowest-priority arbitration: the TPR if its class is at
     * least the highest requested and above the highest in-service class, else the highest of
     * the three classes.
     */
    public int arbitrationPriority() {
        int irrv = Math.max(highest(irr), 0) & 0xF0;
        int isrv = Math.max(highest(isr), 0) & 0xF0;
        int tprClass = tpr & 0xF0;
        if (tprClass >= irrv && tprClass > isrv) return tpr;
        return Math.max(tprClass, Math.max(irrv, isrv));
    }

    private void notifyIfDeliverable() {
        if (pendingInterrupt() >= 0 || extIntPending()) wakeup.run();
    }

    // ---------------------------------------------------------------- destinations

    /**
     * Whether a message with this destination selects this APIC (11.6.2): physical mode compares
     * with the APIC ID; logical mode uses the LDR with the DFR's flat (bitwise AND) or cluster
     * (high nibble equal, low nibble AND) model in xAPIC mode, and the derived logical x2APIC ID
     * (cluster in bits 31:16, member bitmap in 15:0) in x2APIC mode. The all-ones destination
     * (0xFF in xAPIC mode, 0xFFFFFFFF in x2APIC mode) is a broadcast, in both destination modes
     * (as QEMU). A globally disabled APIC matches nothing.
     */
    public boolean matchesDestination(int destination, boolean logical) {
        return switch (mode) {
            case DISABLED -> false;
            case X2APIC -> {
                if (destination == 0xFFFF_FFFF) yield true;
                if (!logical) yield destination == initialApicId;
                int id = x2apicLogicalId();
                yield destination >>> 16 == id >>> 16 && (destination & id & 0xFFFF) != 0;
            }
            case XAPIC -> {
                int dest = destination & 0xFF;
                if (dest == 0xFF) yield true;
                if (!logical) yield dest == xapicId;
                int id = ldr >>> 24;
                yield switch (dfr >>> 28) {
                    case 0xF -> (id & dest) != 0;
                    case 0x0 -> id >>> 4 == dest >>> 4 && (id & dest & 0xF) != 0;
                    default -> false;
                };
            }
        };
    }

    /**
     * {@link #matchesDestination} for messages with an 8-bit destination (I/O APIC, MSI): in
     * x2APIC mode 0xFF is still a broadcast (KVM's behaviour for guests running x2APIC without
     * interrupt remapping); otherwise the destination is compared as in the APIC's mode.
     */
    public boolean matchesMessageDestination(int destination, boolean logical) {
        int dest = destination & 0xFF;
        if (mode == Mode.X2APIC && dest == 0xFF) return true;
        return matchesDestination(dest, logical);
    }

    /** The logical x2APIC ID (11.12.10.2): cluster = ID[19:4] in bits 31:16, bit ID[3:0] set in 15:0. */
    private int x2apicLogicalId() {
        return ((initialApicId >>> 4) << 16) | (1 << (initialApicId & 0xF));
    }

    // ---------------------------------------------------------------- LINT pins

    /**
     * The electrical level on LINT0 ({@code pin} 0) or LINT1 (1). Its LVT entry decides: the
     * polarity (bit 13), then fixed (edge, or level with remote IRR for LINT0; LINT1 is always
     * edge, 11.5.1), NMI, SMI and INIT on the rising edge, ExtINT (LINT0 only: the 8259 is wired
     * there) while asserted. A masked entry
     * ignores the pin. With the APIC globally disabled, LINT0 is the core's INTR and LINT1 its
     * NMI input.
     */
    public void setLint(int pin, boolean level) {
        if (pin != 0 && pin != 1) throw new IllegalArgumentException("LINT pin must be 0 or 1, got " + pin);
        boolean was = lintLevel[pin];
        lintLevel[pin] = level;
        if (mode == Mode.DISABLED) {
            if (pin == 1 && level && !was) cpu.nmi();
            if (pin == 0 && level) wakeup.run();
            return;
        }
        boolean activeLow = (lvt[LVT_LINT0 + pin] & LVT_ACTIVE_LOW) != 0;
        lintInput(pin, was != activeLow, level != activeLow);
    }

    private boolean lintAsserted(int pin, int entry) {
        return lintLevel[pin] != ((entry & LVT_ACTIVE_LOW) != 0);
    }

    private void lintInput(int pin, boolean wasAsserted, boolean asserted) {
        int index = LVT_LINT0 + pin;
        int entry = lvt[index];
        if ((entry & LVT_MASKED) != 0) return;
        boolean rising = asserted && !wasAsserted;
        switch (deliveryMode(entry)) {
            case DeliveryMode.FIXED -> {
                if (pin == 0 && (entry & LVT_LEVEL) != 0) {
                    // Level-sensitive: one request until the EOI clears remote IRR (11.5.1).
                    if (asserted && (entry & LVT_REMOTE_IRR) == 0 && raise(entry & 0xFF, true)) {
                        lvt[index] |= LVT_REMOTE_IRR;
                    }
                } else if (rising) {
                    raise(entry & 0xFF, false);
                }
            }
            case DeliveryMode.NMI -> { if (rising) cpu.nmi(); }
            case DeliveryMode.SMI -> { if (rising) cpu.smi(); }
            case DeliveryMode.INIT -> { if (rising) init(); }
            case DeliveryMode.EXTINT -> { if (pin == 0 && asserted) wakeup.run(); }
            default -> { }
        }
    }

    // ---------------------------------------------------------------- local sources

    private void timerExpired() {
        int entry = lvt[LVT_TIMER];
        if ((entry & LVT_MASKED) == 0) raise(entry & 0xFF, false);
    }

    /**
     * An error detected by this APIC: logged for the next ESR write, and signalled through the
     * error LVT entry when unmasked (an illegal vector there is logged but not signalled again).
     */
    private void recordError(int bits) {
        esrPending |= bits;
        int entry = lvt[LVT_ERROR];
        if ((entry & LVT_MASKED) == 0 && !signallingError) {
            signallingError = true;
            raise(entry & 0xFF, false);
            signallingError = false;
        }
    }

    // ---------------------------------------------------------------- EOI

    /**
     * EOI (11.8.5): clears the highest ISR bit; a level-triggered vector (TMR set) is reported to
     * the EOI listener, and a level-triggered LINT0 entry with that vector gets its remote IRR
     * cleared (and requests again if its pin is still asserted).
     */
    private void eoi() {
        int vector = highest(isr);
        if (vector < 0) return;
        clear(isr, vector);
        for (int pin = 0; pin < 2; pin++) {
            int index = LVT_LINT0 + pin;
            if ((lvt[index] & LVT_REMOTE_IRR) != 0 && (lvt[index] & 0xFF) == vector) {
                lvt[index] &= ~LVT_REMOTE_IRR;
                boolean asserted = lintAsserted(pin, lvt[index]);
                lintInput(pin, asserted, asserted);
            }
        }
        if (test(tmr, vector)) eoiListener.accept(vector);
        notifyIfDeliverable();
    }

    // ---------------------------------------------------------------- register writes shared by both modes

    private void writeTpr(int value) {
        tpr = value & 0xFF;
        notifyIfDeliverable();
    }

    /** The task-priority register, which the core's CR8 mirrors (bits 7:4, SDM Vol. 3A 11.8.6). */
    public int taskPriority() {
        return tpr;
    }

    /** MOV to CR8 with {@code priority} (0-15): TPR = priority << 4 (SDM Vol. 3A 11.8.6). */
    public void writeCr8(int priority) {
        writeTpr((priority & 0xF) << 4);
    }

    /** SVR: clearing the enable bit masks every LVT entry (11.4.7.2). */
    private void writeSvr(int value) {
        svr = value & SVR_WRITABLE;
        if (!isSoftwareEnabled()) {
            for (int i = 0; i < LVT_COUNT; i++) lvt[i] |= LVT_MASKED;
            timer.configure(timerMode(lvt[LVT_TIMER]), true);
        }
    }

    /** ESR write: the errors detected since the previous write become readable; the log restarts. */
    private void writeEsr() {
        esr = esrPending;
        esrPending = 0;
    }

    /** An LVT entry: read-only bits kept; while software-disabled the mask cannot be cleared (11.4.7.2). */
    private void writeLvt(int index, int value) {
        int readOnly = LVT_DELIVERY_STATUS | LVT_REMOTE_IRR;
        int entry = (value & LVT_WRITABLE[index]) | (lvt[index] & readOnly);
        if (!isSoftwareEnabled()) entry |= LVT_MASKED;
        lvt[index] = entry;
        if (index == LVT_TIMER) {
            timer.configure(timerMode(entry), (entry & LVT_MASKED) != 0);
        } else if (index == LVT_LINT0 || index == LVT_LINT1) {
            int pin = index - LVT_LINT0;
            boolean asserted = lintAsserted(pin, entry);
            lintInput(pin, asserted, asserted);
        }
    }

    /**
     * Sends the IPI the ICR describes. Reserved delivery modes (3, 7) send nothing; a fixed or
     * lowest-priority IPI with a vector below 16 sets "send illegal vector" (ESR bit 5) and is
     * still sent (its receivers reject it with "receive illegal vector").
     */
    private void sendIpi() {
        int deliveryMode = (icrLow >> 8) & 7;
        if (deliveryMode == 3 || deliveryMode == DeliveryMode.EXTINT) return;
        int vector = icrLow & 0xFF;
        if ((deliveryMode == DeliveryMode.FIXED || deliveryMode == DeliveryMode.LOWEST_PRIORITY) && vector < 16) {
            recordError(ESR_SEND_ILLEGAL_VECTOR);
        }
        boolean x2apic = mode == Mode.X2APIC;
        ipiSink.send(new Ipi(initialApicId, Ipi.Shorthand.of(icrLow >> 18), x2apic ? icrDestination : icrDestination & 0xFF,
                (icrLow & ICR_LOGICAL) != 0, deliveryMode, (icrLow & ICR_LEVEL) != 0, (icrLow & ICR_TRIGGER_LEVEL) != 0,
                vector, x2apic));
    }

    // ---------------------------------------------------------------- xAPIC page

    @Override
    public List<MmioRange> mmioRanges() {
        return ranges;
    }

    @Override
    public long mmioRead(long address, int size) {
        if (size == 8) return (mmioRead(address, 4) & 0xFFFF_FFFFL) | (mmioRead(address + 4, 4) << 32);
        long mask = (1L << (8 * size)) - 1;
        long offset = address - baseAddress;
        if (mode != Mode.XAPIC || offset < 0 || offset >= PAGE_SIZE) return mask;
        int within = (int) offset & 0xF;
        if (within >= 4) return 0;
        long value = Integer.toUnsignedLong(xapicRead((int) offset & 0xFF0));
        return (value >>> (8 * within)) & mask;
    }

    @Override
    public void mmioWrite(long address, int size, long value) {
        if (size == 8) {
            mmioWrite(address, 4, value);
            mmioWrite(address + 4, 4, value >>> 32);
            return;
        }
        long offset = address - baseAddress;
        if (mode != Mode.XAPIC || offset < 0 || offset >= PAGE_SIZE || size != 4 || (offset & 0xF) != 0) return;
        xapicWrite((int) offset, (int) value);
    }

    private int xapicRead(int reg) {
        switch (reg) {
            case REG_ID: return xapicId << 24;
            case REG_VERSION: return VERSION;
            case REG_TPR: return tpr;
            case REG_APR: return arbitrationPriority();
            case REG_PPR: return processorPriority();
            case REG_EOI: return 0;                 // write-only
            case REG_RRD: return 0;                 // remote read is not offered (Pentium 4 and later)
            case REG_LDR: return ldr;
            case REG_DFR: return dfr | 0x0FFF_FFFF;
            case REG_SVR: return svr;
            case REG_ESR: return esr;
            case REG_ICR_LOW: return icrLow;
            case REG_ICR_HIGH: return icrDestination << 24;
            case REG_LVT_TIMER, REG_LVT_THERMAL, REG_LVT_PMC, REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR:
                return lvt[(reg - REG_LVT_TIMER) >> 4];
            case REG_TIMER_INITIAL: return timer.initialCount();
            case REG_TIMER_CURRENT: return timer.currentCount();
            case REG_TIMER_DIVIDE: return timer.divideConfig();
            default:
                if (isBitmapRegister(reg)) return bitmapWord(reg);
                recordError(ESR_ILLEGAL_REGISTER);
                return 0;
        }
    }

    private void xapicWrite(int reg, int value) {
        switch (reg) {
            case REG_ID -> xapicId = value >>> 24;
            case REG_TPR -> writeTpr(value);
            case REG_EOI -> eoi();
            case REG_LDR -> ldr = value & 0xFF00_0000;
            case REG_DFR -> dfr = value & 0xF000_0000;
            case REG_SVR -> writeSvr(value);
            case REG_ESR -> writeEsr();
            case REG_ICR_LOW -> {
                icrLow = value & ICR_WRITABLE;
                sendIpi();
            }
            case REG_ICR_HIGH -> icrDestination = value >>> 24;
            case REG_LVT_TIMER, REG_LVT_THERMAL, REG_LVT_PMC, REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR ->
                    writeLvt((reg - REG_LVT_TIMER) >> 4, value);
            case REG_TIMER_INITIAL -> timer.writeInitialCount(value);
            case REG_TIMER_DIVIDE -> timer.writeDivideConfig(value);
            case REG_VERSION, REG_APR, REG_PPR, REG_RRD, REG_TIMER_CURRENT -> { }   // read-only: ignored
            default -> {
                if (!isBitmapRegister(reg)) recordError(ESR_ILLEGAL_REGISTER);
            }
        }
    }

    private static boolean isBitmapRegister(int reg) {
        return reg >= REG_ISR && reg < REG_IRR + 0x80;
    }

    /** One 32-bit word of ISR (0x100-0x170), TMR (0x180-0x1F0) or IRR (0x200-0x270). */
    private int bitmapWord(int reg) {
        int index = (reg - REG_ISR) >> 4;
        long[] bits = index < 8 ? isr : index < 16 ? tmr : irr;
        int word = index & 7;
        return (int) (bits[word >> 1] >>> (32 * (word & 1)));
    }

    // ---------------------------------------------------------------- MSRs

    @Override
    public boolean handlesMsr(int msr) {
        return msr == MSR_APIC_BASE || msr == MSR_TSC_DEADLINE || (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
    }

    @Override
    public long rdmsr(int msr) {
        if (msr == MSR_APIC_BASE) return apicBase();
        if (msr == MSR_TSC_DEADLINE) return timer.tscDeadline();
        return x2apicRead(x2apicRegister(msr));
    }

    @Override
    public void wrmsr(int msr, long value) {
        if (msr == MSR_APIC_BASE) {
            writeApicBase(value);
        } else if (msr == MSR_TSC_DEADLINE) {
            timer.writeTscDeadline(value);
        } else {
            x2apicWrite(x2apicRegister(msr), value);
        }
    }

    /** The xAPIC offset of an x2APIC MSR; refused unless in x2APIC mode (11.12.1.2). */
    private int x2apicRegister(int msr) {
        if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST) {
            throw new MsrAccessRefused(String.format("MSR %#x is not a local APIC register", msr));
        }
        if (mode != Mode.X2APIC) {
            throw new MsrAccessRefused(String.format("x2APIC MSR %#x accessed outside x2APIC mode", msr));
        }
        return (msr - MSR_X2APIC_FIRST) << 4;
    }

    public long apicBase() {
        return baseAddress | (bsp ? APIC_BASE_BSP : 0) | (mode == Mode.X2APIC ? APIC_BASE_EXTD : 0)
                | (mode != Mode.DISABLED ? APIC_BASE_EN : 0);
    }

    /**
     * IA32_APIC_BASE write (11.4.4, 11.12.5): bits 7:0, 9 and those at and above MAXPHYADDR are
     * reserved, the BSP flag is read-only. Legal mode changes: disabled → xAPIC, xAPIC → x2APIC,
     * either → disabled; x2APIC → xAPIC, disabled → x2APIC and EN=0 with EXTD=1 are refused.
     * Disabling resets the registers (11.4.3 allows losing them; 11.12.5.1 requires it from x2APIC
     * mode) but keeps the ID; entering x2APIC mode makes the ID the initial x2APIC ID and the
     * logical ID derived from it, the rest being kept.
     */
    private void writeApicBase(long value) {
        long reserved = 0x2FFL | (-1L << physicalAddressBits);
        if ((value & reserved) != 0) {
            throw new MsrAccessRefused(String.format("IA32_APIC_BASE write %#x sets reserved bits", value));
        }
        boolean enable = (value & APIC_BASE_EN) != 0, extended = (value & APIC_BASE_EXTD) != 0;
        if (extended && !enable) throw new MsrAccessRefused("IA32_APIC_BASE: EXTD=1 with EN=0 is invalid");
        Mode next = !enable ? Mode.DISABLED : extended ? Mode.X2APIC : Mode.XAPIC;
        if ((mode == Mode.X2APIC && next == Mode.XAPIC) || (mode == Mode.DISABLED && next == Mode.X2APIC)) {
            throw new MsrAccessRefused("IA32_APIC_BASE: illegal transition from " + mode + " to " + next);
        }
        baseAddress = value & ~0xFFFL;
        if (next != mode) {
            if (next == Mode.DISABLED) resetRegisters();
            if (next == Mode.X2APIC) xapicId = initialApicId & 0xFF;
            mode = next;
        }
        updateRanges();
    }

    private long x2apicRead(int reg) {
        switch (reg) {
            case REG_ID: return Integer.toUnsignedLong(initialApicId);
            case REG_LDR: return Integer.toUnsignedLong(x2apicLogicalId());
            case REG_ICR_LOW: return (Integer.toUnsignedLong(icrDestination) << 32) | Integer.toUnsignedLong(icrLow);
            case REG_VERSION, REG_TPR, REG_PPR, REG_SVR, REG_ESR,
                 REG_LVT_TIMER, REG_LVT_THERMAL, REG_LVT_PMC, REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR,
                 REG_TIMER_INITIAL, REG_TIMER_CURRENT, REG_TIMER_DIVIDE:
                return Integer.toUnsignedLong(xapicRead(reg));
            default:
                if (isBitmapRegister(reg)) return Integer.toUnsignedLong(bitmapWord(reg));
                throw new MsrAccessRefused(String.format("x2APIC MSR %#x is not readable", MSR_X2APIC_FIRST + (reg >> 4)));
        }
    }

    private void x2apicWrite(int reg, long value) {
        switch (reg) {
            case REG_TPR -> writeTpr((int) requireClear(reg, value, ~0xFFL));
            case REG_EOI -> {
                requireClear(reg, value, -1L);
                eoi();
            }
            case REG_SVR -> writeSvr((int) requireClear(reg, value, ~(long) SVR_WRITABLE));
            case REG_ESR -> {
                requireClear(reg, value, -1L);
                writeEsr();
            }
            case REG_ICR_LOW -> {
                // Delivery status (12) and bits 13, 17:16, 31:20 are reserved in x2APIC mode (11.12.9).
                requireClear(reg, value, 0xFFF3_3000L);
                icrLow = (int) value & ICR_WRITABLE;
                icrDestination = (int) (value >>> 32);
                sendIpi();
            }
            case REG_LVT_TIMER, REG_LVT_THERMAL, REG_LVT_PMC, REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR -> {
                int index = (reg - REG_LVT_TIMER) >> 4;
                long allowed = Integer.toUnsignedLong(LVT_WRITABLE[index] | LVT_DELIVERY_STATUS
                        | (index == LVT_LINT0 || index == LVT_LINT1 ? LVT_REMOTE_IRR : 0));
                writeLvt(index, (int) requireClear(reg, value, ~allowed));
            }
            case REG_TIMER_INITIAL -> timer.writeInitialCount((int) requireClear(reg, value, ~0xFFFF_FFFFL));
            case REG_TIMER_DIVIDE -> timer.writeDivideConfig((int) requireClear(reg, value, ~0xBL));
            case REG_SELF_IPI -> selfIpi((int) requireClear(reg, value, ~0xFFL));
            default -> throw new MsrAccessRefused(String.format("x2APIC MSR %#x is not writable", MSR_X2APIC_FIRST + (reg >> 4)));
        }
    }

    /** x2APIC registers are RsvdZ: a write setting a reserved bit raises #GP (11.12.1.3). */
    private static long requireClear(int reg, long value, long reserved) {
        if ((value & reserved) != 0) {
            throw new MsrAccessRefused(String.format("x2APIC MSR %#x write %#x sets reserved bits", MSR_X2APIC_FIRST + (reg >> 4), value));
        }
        return value;
    }

    /** SELF IPI (11.12.11): a fixed, edge-triggered interrupt to this APIC. */
    private void selfIpi(int vector) {
        if (vector < 16) recordError(ESR_SEND_ILLEGAL_VECTOR);
        raise(vector, false);
    }

    // ---------------------------------------------------------------- state

    @Override
    public int stateVersion() {
        return 1;
    }

    /**
     * Mode and base, the xAPIC ID, TPR, logical ID and DFR model, SVR, ESR (readable and pending),
     * ICR, the LVT entries (with remote IRR), IRR/ISR/TMR, the LINT pin levels, a waiting ExtINT
     * message, then the timer (its mode and mask are the LVT timer entry's). The PPR and APR are
     * derived from these. It drives no interrupt lines.
     */
    @Override
    public void saveState(SectionWriter out) {
        out.u8(mode.ordinal()).i64(baseAddress).u8(xapicId).u8(tpr).u8(ldr >>> 24).u8(dfr >>> 28).u16(svr)
                .i32(esr).i32(esrPending).i32(icrLow).i32(icrDestination).i32s(lvt).i64s(irr).i64s(isr).i64s(tmr)
                .bool(lintLevel[0]).bool(lintLevel[1]).bool(extIntMessage);
        timer.saveState(out);
    }

    @Override
    public void restoreState(SectionReader in) throws SnapshotException {
        mode = Mode.values()[DeviceState.u8In(in, 0, Mode.values().length - 1, "mode")];
        int at = in.position();
        long base = in.i64("base address");
        if ((base & 0xFFFL) != 0 || (base & (-1L << physicalAddressBits)) != 0) {
            throw in.malformed(at, "base address", String.format("is %#x, not a page below 2^%d", base, physicalAddressBits));
        }
        baseAddress = base;
        xapicId = in.u8("xAPIC ID");
        tpr = in.u8("TPR");
        ldr = in.u8("LDR") << 24;
        dfr = DeviceState.u8In(in, 0, 15, "DFR model") << 28;
        at = in.position();
        svr = in.u16("SVR");
        if ((svr & ~SVR_WRITABLE) != 0) throw in.malformed(at, "SVR", String.format("is %#x, with reserved bits set", svr));
        int errors = ESR_SEND_ILLEGAL_VECTOR | ESR_RECEIVE_ILLEGAL_VECTOR | ESR_ILLEGAL_REGISTER;
        esr = readBits(in, "ESR", errors);
        esrPending = readBits(in, "ESR pending errors", errors);
        icrLow = readBits(in, "ICR", ICR_WRITABLE);
        icrDestination = in.i32("ICR destination");
        for (int i = 0; i < LVT_COUNT; i++) {
            at = in.position();
            int entry = readBits(in, "LVT entry " + i, LVT_WRITABLE[i] | (i == LVT_LINT0 ? LVT_REMOTE_IRR : 0));
            if (!isSoftwareEnabled() && (entry & LVT_MASKED) == 0) {
                throw in.malformed(at, "LVT entry " + i, "is unmasked while the APIC is software-disabled");
            }
            lvt[i] = entry;
        }
        readVectors(in, irr, "IRR");
        readVectors(in, isr, "ISR");
        readVectors(in, tmr, "TMR");
        lintLevel[0] = in.bool("LINT0 level");
        lintLevel[1] = in.bool("LINT1 level");
        extIntMessage = in.bool("ExtINT message");
        timer.restoreState(in, timerMode(lvt[LVT_TIMER]), (lvt[LVT_TIMER] & LVT_MASKED) != 0);
        updateRanges();
    }

    /** An i32 with no bits outside {@code allowed}. */
    private static int readBits(SectionReader in, String field, int allowed) throws SnapshotException {
        int at = in.position();
        int v = in.i32(field);
        if ((v & ~allowed) != 0) throw in.malformed(at, field, String.format("is %#x, with reserved bits set", v));
        return v;
    }

    /** A 256-bit vector bitmap; vectors 0-15 are never accepted, so their bits are never set. */
    private static void readVectors(SectionReader in, long[] into, String field) throws SnapshotException {
        int at = in.position();
        in.i64s(into, field);
        if ((into[0] & 0xFFFF) != 0) {
            throw in.malformed(at, field, String.format("has vectors below 16 set (%#x)", into[0] & 0xFFFF));
        }
    }

    // ---------------------------------------------------------------- helpers

    private static int deliveryMode(int lvtEntry) {
        return (lvtEntry >> 8) & 7;
    }

    private static int timerMode(int lvtEntry) {
        return (lvtEntry >> 17) & 3;
    }

    private static void set(long[] bits, int vector) {
        bits[vector >> 6] |= 1L << vector;
    }

    private static void clear(long[] bits, int vector) {
        bits[vector >> 6] &= ~(1L << vector);
    }

    private static boolean test(long[] bits, int vector) {
        return (bits[vector >> 6] & (1L << vector)) != 0;
    }

    /** The highest set vector, or -1. */
    private static int highest(long[] bits) {
        for (int word = 3; word >= 0; word--) {
            if (bits[word] != 0) return word * 64 + 63 - Long.numberOfLeadingZeros(bits[word]);
        }
        return -1;
    }

    @Override
    public String toString() {
        return "LocalApic[" + name + " id " + apicId() + " " + mode + "]";
    }

    /**
     * {@code type = lapic}. Parameters: {@code apic-id} (the initial APIC ID, default 0),
     * {@code bsp} (default: whether apic-id is the first CPU's), {@code physical-address-bits}
     * (default the standard CPU model's, 40), {@code timer-hz} (the timer's bus clock, default
     * 1 GHz). The VMM normally creates one per vCPU with the constructor.
     */
    public static final class Factory implements DeviceFactory {
        @Override
        public String type() {
            return "lapic";
        }

        @Override
        public Device create(String name, Config params, DeviceContext context) {
            int apicId = params.hasPath("apic-id") ? params.getInt("apic-id") : 0;
            if (apicId < 0) throw new ConfigException.BadValue(params.origin(), "apic-id", "must be a non-negative APIC ID, got " + apicId);
            boolean bsp = params.hasPath("bsp") ? params.getBoolean("bsp") : apicId == context.machine().apicIds().getFirst();
            int bits = params.hasPath("physical-address-bits") ? params.getInt("physical-address-bits")
                    : CpuModel.standard().physicalAddressBits();
            if (bits < 32 || bits > 52) {
                throw new ConfigException.BadValue(params.origin(), "physical-address-bits", "must be 32..52, got " + bits);
            }
            long hz = params.hasPath("timer-hz") ? params.getLong("timer-hz") : DEFAULT_TIMER_HZ;
            if (hz < 1_000 || hz > 4_000_000_000L) {
                throw new ConfigException.BadValue(params.origin(), "timer-hz", "must be 1000..4000000000 (Hz), got " + hz);
            }
            return new LocalApic(name, apicId, bsp, bits, hz, context);
        }
    }
}
