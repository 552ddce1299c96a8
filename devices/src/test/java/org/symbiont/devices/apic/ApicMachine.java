package org.symbiont.devices.apic;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.symbiont.devices.TestDeviceContext;

/**
 * Local APICs (IDs 0..n-1, the first the BSP) and an I/O APIC wired together the way the VMM
 * does it: IPIs routed with {@link Ipi#isDeliveredTo}, I/O APIC messages with
 * {@link LocalApic#matchesMessageDestination}, lowest priority to the lowest APR, EOIs of
 * level-triggered vectors broadcast to the I/O APIC. Each core's signals are recorded. Register
 * helpers access the APICs as a guest does (MMIO dwords).
 */
final class ApicMachine implements AutoCloseable {
    static final long LAPIC = LocalApic.DEFAULT_BASE;
    static final long IOAPIC = IoApic.DEFAULT_BASE;

    /** What one core was told. */
    static final class Core implements CpuSignals {
        int nmis, smis, inits, wakeups;
        final List<Integer> startups = new ArrayList<>();
        final List<Long> wakeupTimes = new ArrayList<>();

        @Override public void nmi() { nmis++; }
        @Override public void smi() { smis++; }
        @Override public void init() { inits++; }
        @Override public void startup(int vector) { startups.add(vector); }
    }

    record Message(int destination, boolean logical, int deliveryMode, int vector, boolean levelTriggered) { }

    final TestDeviceContext ctx;
    final List<LocalApic> apics = new ArrayList<>();
    final List<Core> cores = new ArrayList<>();
    final List<Ipi> ipis = new ArrayList<>();
    final List<Message> messages = new ArrayList<>();
    final List<Integer> eois = new ArrayList<>();
    final IoApic ioapic = new IoApic("ioapic", IOAPIC, 0);
    int rangeChanges;

    ApicMachine(int cpus) {
        ctx = new TestDeviceContext(16 << 20, cpus);
        for (int k = 0; k < cpus; k++) {
            LocalApic apic = new LocalApic("lapic" + k, k, k == 0, 40, LocalApic.DEFAULT_TIMER_HZ, ctx);
            Core core = new Core();
            apic.connectCpu(core);
            apic.connectIpi(this::route);
            apic.connectEoi(vector -> {
                eois.add(vector);
                ioapic.eoi(vector);
            });
            apic.connectWakeup(() -> {
                core.wakeups++;
                core.wakeupTimes.add(ctx.nanos());
            });
            apic.connectRangesChanged(() -> rangeChanges++);
            apics.add(apic);
            cores.add(core);
        }
        ioapic.connect(this::deliver);
    }

    private void route(Ipi ipi) {
        ipis.add(ipi);
        List<LocalApic> targets = apics.stream().filter(ipi::isDeliveredTo).toList();
        if (ipi.deliveryMode() == DeliveryMode.LOWEST_PRIORITY) targets = lowest(targets);
        for (LocalApic target : targets) target.acceptIpi(ipi);
    }

    private void deliver(int destination, boolean logical, int deliveryMode, int vector, boolean levelTriggered) {
        messages.add(new Message(destination, logical, deliveryMode, vector, levelTriggered));
        List<LocalApic> targets = apics.stream().filter(a -> a.matchesMessageDestination(destination, logical)).toList();
        if (deliveryMode == DeliveryMode.LOWEST_PRIORITY) targets = lowest(targets);
        for (LocalApic target : targets) target.acceptMessage(deliveryMode, vector, levelTriggered);
    }

    private static List<LocalApic> lowest(List<LocalApic> targets) {
        return targets.stream().min(Comparator.comparingInt(LocalApic::arbitrationPriority)).stream().toList();
    }

    LocalApic apic(int k) {
        return apics.get(k);
    }

    Core core(int k) {
        return cores.get(k);
    }

    int read(int cpu, int reg) {
        return (int) apic(cpu).mmioRead(LAPIC + reg, 4);
    }

    void write(int cpu, int reg, int value) {
        apic(cpu).mmioWrite(LAPIC + reg, 4, Integer.toUnsignedLong(value));
    }

    /** Software-enables an APIC with spurious vector 0xFF, as every kernel does first. */
    void enable(int cpu) {
        write(cpu, LocalApic.REG_SVR, 0x1FF);
    }

    /** The bit for {@code vector} in ISR (0x100), TMR (0x180) or IRR (0x200), read through MMIO. */
    boolean bit(int cpu, int bitmapBase, int vector) {
        return (read(cpu, bitmapBase + 0x10 * (vector >> 5)) & (1 << (vector & 31))) != 0;
    }

    /** The CPU side of taking the pending interrupt: returns the vector (or -1 if none). */
    int take(int cpu) {
        int vector = apic(cpu).pendingInterrupt();
        return vector < 0 ? -1 : apic(cpu).interruptTaken(vector);
    }

    void eoi(int cpu) {
        write(cpu, LocalApic.REG_EOI, 0);
    }

    int ioRead(int index) {
        ioapic.mmioWrite(IOAPIC + IoApic.IOREGSEL, 4, index);
        return (int) ioapic.mmioRead(IOAPIC + IoApic.IOWIN, 4);
    }

    void ioWrite(int index, int value) {
        ioapic.mmioWrite(IOAPIC + IoApic.IOREGSEL, 4, index);
        ioapic.mmioWrite(IOAPIC + IoApic.IOWIN, 4, Integer.toUnsignedLong(value));
    }

    /** Programs redirection entry {@code pin}: high half (destination) first, then low, as Linux does. */
    void route(int pin, int low, int destination) {
        ioWrite(IoApic.REG_REDIRECTION + 2 * pin + 1, destination << 24);
        ioWrite(IoApic.REG_REDIRECTION + 2 * pin, low);
    }

    @Override
    public void close() {
        ctx.close();
    }
}
