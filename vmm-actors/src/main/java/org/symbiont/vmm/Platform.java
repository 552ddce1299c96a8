package org.symbiont.vmm;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.symbiont.devices.Device;
import org.symbiont.devices.DeviceRegistry;
import org.symbiont.devices.MmioDevice;
import org.symbiont.devices.MmioRange;
import org.symbiont.devices.PortIoDevice;
import org.symbiont.devices.PortRange;
import org.symbiont.devices.apic.CpuSignals;
import org.symbiont.devices.apic.Ipi;
import org.symbiont.devices.apic.IoApic;
import org.symbiont.devices.apic.LocalApic;
import org.symbiont.devices.firmware.AcpiPm;
import org.symbiont.devices.firmware.AcpiTables;
import org.symbiont.devices.firmware.FwCfg;
import org.symbiont.devices.firmware.MemoryMap;
import org.symbiont.devices.pc.CmosRtc;
import org.symbiont.devices.pc.Pic8259;
import org.symbiont.devices.pci.PciFunction;
import org.symbiont.devices.pci.PciHost;
import org.symbiont.devices.virtio.NetBackend;
import org.symbiont.devices.virtio.VirtioNet;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.vmm.config.VmConfigException;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * The PC around a VM's vCPUs: the configured devices and one local APIC per vCPU, each hosted by
 * its own {@link DeviceActor}; the port and MMIO buses; the interrupt wiring (device lines to the
 * 8259 pair and the I/O APIC, the 8259's INTR to the BSP's LINT0, I/O APIC messages and IPIs to
 * local APICs, level-triggered EOIs back to the I/O APIC); and what firmware would set up at
 * power-on (memory map, ACPI tables, fw_cfg files, PCI resources, the BSP's virtual-wire mode).
 *
 * <p>Threading: the VM supervisor and every device actor of a VM run on the VM's device thread
 * (in deterministic mode the vCPUs do too), so the supervisor may consult the models directly to
 * route: which local APICs an IPI selects, where a vCPU's APIC page is, what a PCI function
 * decodes. Models change state only inside their own actors.
 *
 * <p>Interrupt lines are numbered as on a PC: 0-15 are ISA IRQs (8259 inputs; on the I/O APIC the
 * same pin, except IRQ 0 which the MADT overrides to pin 2, as on QEMU's PC), 16-23 further I/O
 * APIC pins; PCI INTx lines arrive on the GSIs the host bridge routes them to (10 and 11).
 */
final class Platform {
    /** Above 3.5 GiB of RAM, QEMU's PC keeps 3 GiB below 4 GiB and puts the rest above. */
    static final long LOW_RAM_LIMIT = 0xE000_0000L, SPLIT_LOW_RAM = 0xC000_0000L, FOUR_GIB = 1L << 32;
    static final long PCI_WINDOW_END = IoApic.DEFAULT_BASE;

    /** A device and the actor hosting it. */
    record Hosted(String name, Device model, ActorRef<DeviceActor.Command> actor, DeviceActor.HostedContext context,
                  DeviceActor.Observer observer) {
        void call(Consumer<Device> action, long nanos) {
            actor.tell(new DeviceActor.Call(action, nanos));
        }

        void request(java.util.function.Function<Device, VcpuActor.Command> action, long nanos, ActorRef<VcpuActor.Command> replyTo) {
            actor.tell(new DeviceActor.Request(action, nanos, replyTo));
        }
    }

    private final ActorContext<VmSupervisor.Command> ctx;
    private final VmConfig config;
    private final VmServices services;
    private final DispatcherSelector dispatcher;
    final Map<String, Hosted> devices = new LinkedHashMap<>();
    /** A cluster node's NICs: where each takes the frames that arrive for it. */
    private final Map<String, Consumer<byte[]>> clusterReceivers = new HashMap<>();
    /** What a NIC receives, given its name and the frame that arrived (fault injection may corrupt it). */
    private java.util.function.BiFunction<String, byte[], byte[]> receivedFrames = (nic, frame) -> frame;
    final AddressBus<Hosted> ports = new AddressBus<>("I/O port");
    final AddressBus<Hosted> mmio = new AddressBus<>("MMIO");
    final Hosted[] lapics;
    private Hosted pic, ioapic, pciHost, fwCfg, acpiPm;
    private boolean hasRtc;
    final long ramBelow4g;
    final MemoryMap memoryMap;

    /**
     * The physical address space a VM with {@code ramBytes} of RAM needs: all of it below 4 GiB
     * when it fits under 3.5 GiB, otherwise 3 GiB below and the rest from 4 GiB (with a hole).
     */
    static long physicalSize(long ramBytes) {
        return ramBytes < LOW_RAM_LIMIT ? ramBytes : FOUR_GIB + (ramBytes - SPLIT_LOW_RAM);
    }

    Platform(ActorContext<VmSupervisor.Command> ctx, VmConfig config, VmServices services, DispatcherSelector dispatcher,
             List<ActorRef<VcpuActor.Command>> vcpus, NetworkLinks links, NodePort node) {
        this.ctx = ctx;
        this.config = config;
        this.services = services;
        this.dispatcher = dispatcher;
        long ram = config.memoryBytes();
        this.ramBelow4g = ram < LOW_RAM_LIMIT ? ram : SPLIT_LOW_RAM;
        List<MemoryMap.Region> regions = new ArrayList<>(MemoryMap.pcLegacyRegions());
        if (ram >= LOW_RAM_LIMIT) {
            regions.add(new MemoryMap.Region(SPLIT_LOW_RAM, FOUR_GIB - SPLIT_LOW_RAM, MemoryMap.Kind.HOLE));
            services.memory().addMmioHole(SPLIT_LOW_RAM, FOUR_GIB - SPLIT_LOW_RAM);
        }
        this.memoryMap = MemoryMap.build(physicalSize(ram), regions);

        DeviceRegistry registry = DeviceRegistry.load();
        for (VmConfig.DeviceSpec d : config.devices()) {
            if (d.type().equals("lapic")) {
                throw new VmConfigException(config.name() + ": device " + d.name() + ": local APICs come with the vCPUs; do not list them");
            }
            Device model;
            boolean passthrough;
            try {
                passthrough = d.params().hasPath("passthrough") && d.params().getBoolean("passthrough");
            } catch (com.typesafe.config.ConfigException e) {
                throw new VmConfigException(config.name() + ": device " + d.name() + ": passthrough: expected true or false");
            }
            DeviceActor.HostedContext dc = new DeviceActor.HostedContext(d.name(), services, passthrough ? 0 : config.costs().deviceTrap());
            try {
                model = registry.factory(d.type()).create(d.name(), d.params(), dc);
            } catch (com.typesafe.config.ConfigException | IllegalArgumentException e) {
                throw new VmConfigException(config.name() + ": device " + d.name() + ": " + e.getMessage());
            }
            if (passthrough && !(model instanceof PciFunction)) {
                // Palacios passes PCI functions through (their BARs virtualized, the rest the hardware's).
                throw new VmConfigException(config.name() + ": device " + d.name() + ": passthrough: only PCI devices can be passed through, "
                        + d.type() + " is not one");
            }
            Hosted h = host(model, dc, model instanceof Pic8259 ? picToBsp() : DeviceActor.Observer.NONE);
            devices.put(h.name(), h);
            takeRole(h);
        }
        this.lapics = new Hosted[vcpus.size()];
        for (int k = 0; k < lapics.length; k++) lapics[k] = createLocalApic(k, vcpus.get(k));
        wire(links, node);
        for (Hosted h : devices.values()) register(h);
        // fw_cfg's files belong to the machine, as QEMU adds them when it creates the machine: they
        // outlive a reset. Added before the device's actor handles anything (a snapshot's state replaces them).
        if (fwCfg != null) ((FwCfg) fwCfg.model()).addFile("etc/e820", memoryMap.e820Bytes());
    }

    /** A cluster node: a frame arrives at NIC {@code nic} at virtual time {@code nanos}. */
    void receiveFrame(String nic, byte[] frame, long nanos) {
        Consumer<byte[]> receiver = clusterReceivers.get(nic);
        if (receiver != null) devices.get(nic).call(d -> receiver.accept(receivedFrames.apply(nic, frame)), nanos);
    }

    /** Every frame a NIC receives goes through {@code filter} first (on the VM's thread, in the NIC's actor). */
    void filterReceivedFrames(java.util.function.BiFunction<String, byte[], byte[]> filter) {
        this.receivedFrames = filter;
    }

    // =====================================================================================
    // Creation and wiring
    // =====================================================================================

    /** Spawns the actor hosting {@code model}; the supervisor hears when it stops for good. */
    private Hosted host(Device model, DeviceActor.HostedContext dc, DeviceActor.Observer observer) {
        String name = model.name();
        ActorRef<DeviceActor.Command> actor = ctx.spawn(DeviceActor.create(model, dc, observer), "dev-" + name, dispatcher);
        ctx.watchWith(actor, new VmSupervisor.DeviceStopped(name));
        return new Hosted(name, model, actor, dc, observer);
    }

    /** Remembers the devices the platform wires: one of each at most. */
    private void takeRole(Hosted h) {
        switch (h.model()) {
            case Pic8259 p -> pic = unique(pic, h, "8259 interrupt controller");
            case IoApic a -> ioapic = unique(ioapic, h, "I/O APIC");
            case PciHost p -> pciHost = unique(pciHost, h, "PCI host bridge");
            case FwCfg f -> fwCfg = unique(fwCfg, h, "fw_cfg device");
            case AcpiPm a -> acpiPm = unique(acpiPm, h, "ACPI power-management device");
            case CmosRtc r -> hasRtc = true;
            default -> { }
        }
    }

    private Hosted unique(Hosted existing, Hosted added, String what) {
        if (existing != null) {
            throw new VmConfigException(config.name() + ": devices " + existing.name() + " and " + added.name()
                    + " are both a " + what + "; a PC has one");
        }
        return added;
    }

    /** The 8259's INTR output drives the BSP's LINT0 (virtual-wire mode, MP spec 3.6.2.2). */
    private DeviceActor.Observer picToBsp() {
        return new DeviceActor.Observer() {
            private boolean last;

            @Override
            public void afterCall(Device d) {
                boolean level = ((Pic8259) d).outputAsserted();
                if (level != last) {
                    last = level;
                    lapics[0].call(a -> ((LocalApic) a).setLint(0, level), 0);
                }
            }

            @Override
            public void restored(Device d) {
                last = ((Pic8259) d).outputAsserted();
            }
        };
    }

    /**
     * The local APIC of vCPU {@code k}: after every call into it, what it can deliver is posted to
     * the vCPU (only when it changed: the vCPU takes a posted vector at most once).
     */
    private Hosted createLocalApic(int k, ActorRef<VcpuActor.Command> vcpu) {
        String name = "lapic" + k;
        if (devices.containsKey(name)) throw new VmConfigException(config.name() + ": the device name " + name + " is reserved for vCPU " + k + "'s local APIC");
        DeviceActor.HostedContext dc = new DeviceActor.HostedContext(name, services, config.costs().deviceTrap());
        LocalApic apic = new LocalApic(name, services.machine().apicIds().get(k), k == 0,
                config.cpuModel().physicalAddressBits(), LocalApic.DEFAULT_TIMER_HZ, dc);
        ActorRef<VmSupervisor.Command> supervisor = services.supervisor();
        // Whatever can wake the vCPU is also told to the supervisor, which runs on this thread: in
        // parallel mode it must know before virtual time moves on (the vCPU itself is on another thread).
        apic.connectCpu(new CpuSignals() {
            @Override
            public void nmi() {
                vcpu.tell(new VcpuActor.Nmi());
                supervisor.tell(new VmSupervisor.InterruptPosted(k));
            }

            // No system-management mode: an SMI has nowhere to go (as on QEMU without SMM).
            @Override public void smi() { }
            @Override public void init() { vcpu.tell(new VcpuActor.Init()); }

            @Override
            public void startup(int vector) {
                vcpu.tell(new VcpuActor.Startup(vector));
                supervisor.tell(new VmSupervisor.InterruptPosted(k));
            }
        });
        // An IPI that selects its sender reaches it within the access that sent it, as on hardware,
        // where a self-IPI or self-NMI is taken at the next instruction boundary (SDM Vol. 3A
        // 11.6.1): the observer posts it before the vCPU resumes. The other targets, and the
        // arbitration of a lowest-priority IPI, go through the supervisor.
        apic.connectIpi(ipi -> {
            if (reachesSenderAtOnce(ipi, apic)) apic.acceptIpi(ipi);
            supervisor.tell(new VmSupervisor.IpiSent(ipi));
        });
        apic.connectEoi(vector -> supervisor.tell(new VmSupervisor.LevelEoi(vector)));
        DeviceActor.Observer post = new DeviceActor.Observer() {
            private int lastVector = -1, lastTpr;
            private boolean lastExtInt;

            @Override
            public void afterCall(Device d) {
                LocalApic a = (LocalApic) d;
                int v = a.pendingInterrupt();
                boolean posted = false;
                if (v != lastVector) {
                    lastVector = v;
                    vcpu.tell(new VcpuActor.InterruptPending(v));
                    posted = v >= 0;
                }
                boolean ext = a.extIntPending();
                if (ext != lastExtInt) {
                    lastExtInt = ext;
                    vcpu.tell(new VcpuActor.ExtIntPending(ext));
                    posted |= ext;
                }
                if (posted) supervisor.tell(new VmSupervisor.InterruptPosted(k));
                // The core's CR8 mirrors TPR[7:4]: reads of CR8 need no exit (SDM Vol. 3A 11.8.6).
                int tpr = a.taskPriority();
                if (tpr != lastTpr) {
                    lastTpr = tpr;
                    vcpu.tell(new VcpuActor.TaskPriority(tpr));
                }
            }

            @Override
            public void restored(Device d) {
                LocalApic a = (LocalApic) d;
                lastVector = a.pendingInterrupt();
                lastExtInt = a.extIntPending();
                lastTpr = a.taskPriority();
            }
        };
        // Not among the shared devices: a vCPU reaches only its own APIC page and MSRs.
        return host(apic, dc, post);
    }

    private void wire(NetworkLinks links, NodePort node) {
        ActorRef<VmSupervisor.Command> supervisor = services.supervisor();
        if (ioapic != null) {
            ((IoApic) ioapic.model()).connect((destination, logical, mode, vector, level) ->
                    supervisor.tell(new VmSupervisor.IoApicMessage(destination, logical, mode, vector, level)));
        }
        for (Hosted h : devices.values()) {
            if (h.model() instanceof PciFunction f && !(h.model() instanceof PciHost)) {
                if (pciHost == null) {
                    throw new VmConfigException(config.name() + ": device " + h.name() + " is a PCI device, but no pci-host is configured");
                }
                f.connectRangesChanged(() -> supervisor.tell(new VmSupervisor.RangesChanged(h.name())));
            }
            if (h.model() instanceof VirtioNet nic && nic.link().isPresent() && node != null) {
                // A cluster node's NIC: frames leave with their send time, and come back through receiveFrame.
                nic.connectBackend(new NetBackend() {
                    @Override public void transmit(byte[] frame, long nanos) { node.transmit(h.name(), frame, nanos); }
                    @Override public void connectReceiver(Consumer<byte[]> receiver) { clusterReceivers.put(h.name(), receiver); }
                });
            } else if (h.model() instanceof VirtioNet nic && nic.link().isPresent()) {
                NetBackend end = links.attach(nic.link().get(), config.name() + "/" + h.name(), nic.mac());
                nic.connectBackend(new NetBackend() {
                    @Override public void transmit(byte[] frame, long nanos) { end.transmit(frame, nanos); }

                    @Override
                    public void connectReceiver(Consumer<byte[]> receiver) {
                        // Frames come from another VM's thread: they reach the NIC as messages to its actor.
                        end.connectReceiver(frame -> h.call(d -> receiver.accept(receivedFrames.apply(h.name(), frame)), 0));
                    }
                });
            }
        }
        // Plug slots asked for first, so that automatic ones cannot take them.
        if (pciHost != null) {
            PciHost host = (PciHost) pciHost.model();
            for (Hosted h : devices.values()) {
                if (h.model() instanceof PciFunction f && !(h.model() instanceof PciHost) && f.requestedSlot().isPresent()) {
                    try {
                        host.plug(f.requestedSlot().getAsInt(), f);
                    } catch (IllegalArgumentException e) {
                        throw new VmConfigException(config.name() + ": device " + h.name() + ": " + e.getMessage());
                    }
                }
            }
            for (Hosted h : devices.values()) {
                if (h.model() instanceof PciFunction f && !(h.model() instanceof PciHost) && f.requestedSlot().isEmpty()) {
                    int slot = host.freeSlot();
                    if (slot < 0) throw new VmConfigException(config.name() + ": no free PCI slot for device " + h.name());
                    host.plug(slot, f);
                }
            }
        }
    }

    /** Puts a device's current ranges on the buses (again, after its decoding changed). */
    void register(Hosted h) {
        ports.removeOwner(h.name());
        mmio.removeOwner(h.name());
        try {
            if (h.model() instanceof PortIoDevice p) {
                for (PortRange r : p.portRanges()) ports.add(r.first(), r.count(), h, h.name());
            }
            if (h.model() instanceof MmioDevice m) {
                for (MmioRange r : m.mmioRanges()) mmio.add(r.base(), r.length(), h, h.name());
            }
        } catch (IllegalArgumentException e) {
            throw new VmConfigException(config.name() + ": " + e.getMessage());
        }
    }

    // =====================================================================================
    // Power-on: what firmware does before the kernel runs
    // =====================================================================================

    /**
     * Sets up the machine as firmware would at power-on and after a reset: ACPI tables in the BIOS
     * area, fw_cfg's memory map file, PCI resources, the BSP's local APIC in virtual-wire mode.
     * Device calls are queued behind any reset already sent to the same actors.
     */
    void powerOn(PhysicalMemory memory) {
        if (acpiPm != null) {
            AcpiTables tables = AcpiTables.forMachine(services.machine()).powerManagement((AcpiPm) acpiPm.model())
                    .bootArchitecture(false, false, false, hasRtc);
            if (ioapic != null) tables.ioApic(((IoApic) ioapic.model()).id(), ((IoApic) ioapic.model()).mmioRanges().getFirst().base());
            if (fwCfg != null) tables.fwCfg((FwCfg) fwCfg.model());
            if (pciHost != null) tables.pciInterrupts(pciIrqs());
            tables.write(memory);
        }
        if (pciHost != null && pic != null) {
            // PCI INTx lines are level-triggered and shared: the ELCR says so to the 8259 (as SeaBIOS sets it).
            int elcr = 0;
            for (int irq : pciIrqs()) elcr |= 1 << irq;
            int low = elcr & 0xFF, high = elcr >>> 8;
            pic.call(d -> {
                ((Pic8259) d).ioWrite(0x4D0, 1, low);
                ((Pic8259) d).ioWrite(0x4D1, 1, high);
            }, 0);
        }
        if (pciHost != null) {
            MmioRange window = new MmioRange(Math.max(ramBelow4g, LOW_RAM_LIMIT), PCI_WINDOW_END - Math.max(ramBelow4g, LOW_RAM_LIMIT));
            pciHost.call(d -> ((PciHost) d).assignResources(window), 0);
        }
        lapics[0].call(a -> ((LocalApic) a).programVirtualWire(), 0);
    }

    /** The ISA IRQs the PCI host bridge routes INTx lines to. */
    private List<Integer> pciIrqs() {
        return ((PciHost) pciHost.model()).pirqGsis().stream().filter(g -> g < 16).distinct().toList();
    }

    // =====================================================================================
    // Interrupt routing
    // =====================================================================================

    /** A device's interrupt line changed level. */
    void irqChanged(int line, boolean level, long nanos) {
        if (pic != null && line < 16) pic.call(d -> ((Pic8259) d).setIrq(line, level), nanos);
        if (ioapic != null) {
            int pin = line == 0 ? 2 : line;
            if (pin < IoApic.PINS) ioapic.call(d -> ((IoApic) d).setIrq(pin, level), nanos);
        }
    }

    /**
     * An IPI from a local APIC: to every APIC it selects, or the lowest-priority one among them;
     * the sender's own copy of a fixed, NMI or other non-arbitrated IPI it already took.
     */
    void deliverIpi(Ipi ipi, long nanos) {
        List<Hosted> targets = new ArrayList<>();
        for (Hosted h : lapics) {
            LocalApic target = (LocalApic) h.model();
            if (ipi.isDeliveredTo(target) && !(target.initialApicId() == ipi.source() && reachesSenderAtOnce(ipi, target))) {
                targets.add(h);
            }
        }
        for (Hosted h : lowestPriority(targets, ipi.deliveryMode())) h.call(a -> ((LocalApic) a).acceptIpi(ipi), nanos);
    }

    /** Whether vCPU {@code k}'s local APIC is globally disabled (IA32_APIC_BASE.EN clear). */
    boolean localApicDisabled(int k) {
        return ((LocalApic) lapics[k].model()).mode() == LocalApic.Mode.DISABLED;
    }

    /** Whether {@code sender} takes its own copy of {@code ipi} as it sends it (no arbitration needed). */
    private static boolean reachesSenderAtOnce(Ipi ipi, LocalApic sender) {
        return ipi.deliveryMode() != org.symbiont.devices.apic.DeliveryMode.LOWEST_PRIORITY && ipi.isDeliveredTo(sender);
    }

    /** A message from the I/O APIC. */
    void deliverMessage(int destination, boolean logical, int mode, int vector, boolean level, long nanos) {
        List<Hosted> targets = new ArrayList<>();
        for (Hosted h : lapics) if (((LocalApic) h.model()).matchesMessageDestination(destination, logical)) targets.add(h);
        for (Hosted h : lowestPriority(targets, mode)) h.call(a -> ((LocalApic) a).acceptMessage(mode, vector, level), nanos);
    }

    /**
     * Lowest-priority delivery (SDM Vol. 3A 11.6.2.4) goes to the one target with the lowest
     * arbitration priority; ties go to the lowest APIC ID, so the choice is reproducible.
     */
    private static List<Hosted> lowestPriority(List<Hosted> targets, int mode) {
        if (mode != org.symbiont.devices.apic.DeliveryMode.LOWEST_PRIORITY || targets.size() < 2) return targets;
        Hosted best = targets.getFirst();
        for (Hosted h : targets) {
            if (((LocalApic) h.model()).arbitrationPriority() < ((LocalApic) best.model()).arbitrationPriority()) best = h;
        }
        return List.of(best);
    }

    /** The EOI of a level-triggered vector reaches the I/O APIC (its remote IRR). */
    void levelEoi(int vector, long nanos) {
        if (ioapic != null) ioapic.call(d -> ((IoApic) d).eoi(vector), nanos);
    }

    /** The interrupt-acknowledge cycle of vCPU {@code k}'s ExtINT: the 8259 answers with a vector. */
    void acknowledgeExtInt(int k, ActorRef<VcpuActor.Command> replyTo, long nanos) {
        lapics[k].call(a -> ((LocalApic) a).extIntTaken(), nanos);
        if (pic == null) {
            replyTo.tell(new VcpuActor.ExtIntVector(0xFF)); // no 8259: the floating bus
        } else {
            pic.request(d -> new VcpuActor.ExtIntVector(((Pic8259) d).acknowledge()), nanos, replyTo);
        }
    }

    /** MOV to CR8 on vCPU {@code k}: the task priority of its local APIC. */
    void writeCr8(int k, long priority, ActorRef<VcpuActor.Command> replyTo, long nanos) {
        lapics[k].request(a -> {
            ((LocalApic) a).writeCr8((int) priority);
            return new VcpuActor.ExitDone(0);
        }, nanos, replyTo);
    }

    /** vCPU {@code k} took the vector its local APIC posted. */
    void interruptTaken(int k, int vector, long nanos) {
        lapics[k].call(a -> ((LocalApic) a).interruptTaken(vector), nanos);
    }

    // =====================================================================================
    // Exit routing
    // =====================================================================================

    /** Where an MMIO access of vCPU {@code k} goes: its own APIC page first, then the bus. */
    Hosted mmioTarget(int k, long address) {
        Hosted apic = lapics[k];
        for (MmioRange r : ((MmioDevice) apic.model()).mmioRanges()) {
            if (address >= r.base() && address - r.base() < r.length()) return apic;
        }
        return mmio.find(address);
    }

    /** The local APIC of vCPU {@code k} when it owns {@code msr} (APIC base, x2APIC registers, TSC deadline). */
    Hosted msrTarget(int k, int msr) {
        return ((LocalApic) lapics[k].model()).handlesMsr(msr) ? lapics[k] : null;
    }

    /** A hosted device by name, the local APICs included. */
    Hosted byName(String name) {
        Hosted h = devices.get(name);
        if (h != null) return h;
        for (Hosted l : lapics) if (l.name().equals(name)) return l;
        throw new IllegalArgumentException("no device " + name);
    }

    /** Every hosted device, the local APICs included, for reset. */
    List<Hosted> all() {
        List<Hosted> out = new ArrayList<>(devices.values());
        out.addAll(List.of(lapics));
        return out;
    }
}
