package org.symbiont.cluster;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.NetworkLinks;
import org.symbiont.vmm.NodePort;
import org.symbiont.vmm.VcpuReport;
import org.symbiont.vmm.VirtualTime;
import org.symbiont.vmm.VmDispatchers;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.VmSupervisor;
import org.symbiont.vmm.config.VmConfig;

/**
 * One simulated node, a Cluster Sharding entity: it runs its VM as a cluster node
 * ({@link NodePort}), sends the frames its NIC transmits to the nodes they are addressed to,
 * stamped with when they arrive (the {@link Interconnect}), keeps the frames that reach it until
 * the window they may be delivered in, and reports to the experiment's {@link Coordinator} at the
 * end of every window it was granted.
 *
 * <p>Determinism: a node delivers, at the start of a window, exactly the frames sent before that
 * window began (the coordinator starts a window only when every frame sent so far has reached its
 * node), sorted by arrival time, then sending node, then the sender's sequence number. What a VM
 * sees therefore does not depend on message timing or on which member each node lives on.
 */
public final class SimulatedNode extends AbstractBehavior<SimulatedNode.Command> {

    public static final EntityTypeKey<Command> TYPE = EntityTypeKey.create(Command.class, "symbiont-node");

    public sealed interface Command extends CborSerializable {}

    /** Create the node's VM and start it; it reports to {@code coordinator}. */
    public record Start(NodeSpec spec, Wiring wiring, ActorRef<Coordinator.Command> coordinator) implements Command {}

    /**
     * Deliver the frames sent before {@code fromNanos}, then run until {@code horizonNanos}; a
     * frame sent in the window between a node in {@code cutOff} (sorted node indices: one side
     * of a partition, usually empty) and a node outside it is lost.
     */
    public record Advance(long fromNanos, long horizonNanos, int[] cutOff) implements Command {}

    /** A frame from node {@code fromNode} (its {@code seq}-th), sent and arriving at those virtual times. */
    public record Frame(int fromNode, long seq, long sendNanos, long arrivalNanos, byte[] bytes) implements Command {}

    /** The experiment is over (or stopped): the VM stops if it still runs, then the node. */
    public record Stop(String why) implements Command {}

    private record Transmitted(byte[] frame, long sendNanos) implements Command {}

    private record WindowEnd(long nowNanos, long nextEventNanos) implements Command {}

    private record VmEnded(VmReport report) implements Command {}

    private static final Comparator<Frame> DELIVERY_ORDER = Comparator.comparingLong(Frame::arrivalNanos)
            .thenComparingInt(Frame::fromNode).thenComparingLong(Frame::seq);

    private final ClusterSharding sharding;
    private final String member;
    private NodeSpec spec;
    private Wiring wiring;
    private ActorRef<Coordinator.Command> coordinator;
    private ActorRef<VmSupervisor.Command> vm;
    private CharBackends.Capture console;
    private String nic;
    private long tscHz;
    /** Frames received and not yet delivered. */
    private final List<Frame> inbox = new ArrayList<>();
    /** When this node's NIC is free to start the next frame (LogGP's g and G). */
    private long nicFreeAt;
    private long sent, received, seq;
    /** Frames the interconnect lost to a partition. */
    private long lost;
    /** The partition's side in force for the window being run (sorted node indices; empty: none). */
    private int[] cutOff = new int[0];
    /** The VM's own next event at the end of its last window. */
    private long vmNextEvent;
    /** Between an Advance and the end of that window. */
    private boolean running;
    private boolean finished;
    private long windows;

    public static Behavior<Command> create() {
        return Behaviors.setup(SimulatedNode::new);
    }

    private SimulatedNode(ActorContext<Command> ctx) {
        super(ctx);
        this.sharding = ClusterSharding.get(ctx.getSystem());
        this.member = ctx.getSystem().address().toString();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Start.class, this::start)
                .onMessage(Advance.class, this::advance)
                .onMessage(Frame.class, this::frame)
                .onMessage(Transmitted.class, this::transmitted)
                .onMessage(WindowEnd.class, m -> {
                    running = false;
                    vmNextEvent = m.nextEventNanos();
                    coordinator.tell(new Coordinator.Reached(spec.index(), getContext().getSelf(), m.nowNanos(), nextEvent(),
                            sent, received, lost, member));
                    return this;
                })
                .onMessage(VmEnded.class, m -> {
                    finished = true;
                    running = false;
                    vm = null;
                    inbox.clear();
                    coordinator.tell(new Coordinator.Finished(spec.index(), result(m.report()), received, lost, windows));
                    return this;
                })
                .onMessage(Stop.class, m -> {
                    if (vm != null) vm.tell(new VmSupervisor.Stop(m.why()));
                    return Behaviors.stopped();
                })
                .build();
    }

    private Behavior<Command> start(Start m) {
        if (spec != null) return this;
        spec = m.spec();
        wiring = m.wiring();
        coordinator = m.coordinator();
        // A coordinator that is gone (its member died) can never end the experiment: the node goes too.
        getContext().watchWith(coordinator, new Stop("the experiment's coordinator is gone"));
        console = new CharBackends.Capture();
        VmSpec vmSpec;
        try {
            vmSpec = spec.vmSpec(console);
            VmConfig.DeviceSpec card = NodeSpec.interconnectNic(vmSpec.config());
            nic = card.name();
            long mac = parseMac(card.params().getString("mac"));
            if (wiring.nodeOf(mac) != spec.index()) {
                throw new IllegalArgumentException("node " + spec.name() + ": its NIC's MAC " + macText(mac)
                        + " is not the address the experiment gave it");
            }
        } catch (RuntimeException e) {
            finished = true;
            coordinator.tell(new Coordinator.Finished(spec.index(), failure("CONFIG_ERROR", e.getMessage()), 0, 0, 0));
            return this;
        }
        tscHz = vmSpec.config().cpuModel().tscHz();
        ActorRef<Command> self = getContext().getSelf();
        NodePort port = new NodePort() {
            @Override public void transmit(String device, byte[] frame, long sendNanos) { self.tell(new Transmitted(frame, sendNanos)); }
            @Override public void reached(long nowNanos, long nextEventNanos) { self.tell(new WindowEnd(nowNanos, nextEventNanos)); }
        };
        String dispatcherId = "symbiont.node." + wiring.entityId(spec.index());
        DispatcherSelector dispatcher = VmDispatchers.register(getContext().getSystem(), dispatcherId);
        ActorRef<VmReport> reports = getContext().messageAdapter(VmReport.class, VmEnded::new);
        vm = getContext().spawn(VmSupervisor.create(vmSpec, dispatcherId, new NetworkLinks(), port, reports), "vm", dispatcher);
        running = true;
        vm.tell(new VmSupervisor.Start());
        return this;
    }

    private Behavior<Command> advance(Advance m) {
        if (spec == null) return unstarted(m);
        if (finished || running) {
            if (finished) coordinator.tell(new Coordinator.Reached(spec.index(), getContext().getSelf(), m.horizonNanos(),
                    Long.MAX_VALUE, sent, received, lost, member));
            return this;
        }
        List<VmSupervisor.ArrivingFrame> due = new ArrayList<>();
        List<Frame> deliver = new ArrayList<>();
        inbox.removeIf(f -> {
            if (f.sendNanos() >= m.fromNanos()) return false;
            deliver.add(f);
            return true;
        });
        deliver.sort(DELIVERY_ORDER);
        for (Frame f : deliver) due.add(new VmSupervisor.ArrivingFrame(nic, f.arrivalNanos(), f.bytes()));
        running = true;
        windows++;
        cutOff = m.cutOff();
        vm.tell(new VmSupervisor.Advance(m.horizonNanos(), due));
        return this;
    }

    private Behavior<Command> frame(Frame f) {
        if (spec == null) return unstarted(f);
        received++;
        if (!finished) inbox.add(f);
        // A frame that came after this node reported its window: the coordinator must know it
        // arrived (every frame sent is counted in before the next window) and when it is due.
        if (!running) coordinator.tell(new Coordinator.Update(spec.index(), nextEvent(), received));
        return this;
    }

    /**
     * A message for a node that has no VM: sharding re-created it after its member left (there
     * is no checkpoint to restore it from). Its coordinator hears of the member's departure and
     * stops the experiment; the message is dropped.
     */
    private Behavior<Command> unstarted(Command m) {
        getContext().getLog().warn("node entity {} has no VM (its member left?): dropped {}", getContext().getSelf().path().name(),
                m.getClass().getSimpleName());
        return this;
    }

    /** A frame from the VM's NIC: it leaves when the NIC is free, and is addressed by its destination MAC. */
    private Behavior<Command> transmitted(Transmitted t) {
        if (finished) return this;
        Interconnect net = wiring.interconnect();
        long wire = net.wireNanos(t.frame().length);
        long depart = Math.max(t.sendNanos(), nicFreeAt);
        nicFreeAt = depart + Math.max(net.gapNanos(), wire);
        long arrival = depart + wire + net.latencyNanos();
        byte[] f = t.frame();
        if (f.length < 14) return this; // not an Ethernet frame: the fabric drops it
        if ((f[0] & 1) != 0) {
            // Broadcast and multicast: every other node gets a copy.
            for (int n = 0; n < wiring.nodes(); n++) {
                if (n != spec.index()) send(n, f.clone(), t.sendNanos(), arrival);
            }
        } else {
            int to = wiring.nodeOf(mac(f));
            if (to >= 0 && to != spec.index()) send(to, f, t.sendNanos(), arrival);
        }
        return this;
    }

    private void send(int to, byte[] frame, long sendNanos, long arrival) {
        if (isCutOff(spec.index()) != isCutOff(to)) {
            lost++;
            return;
        }
        sent++;
        sharding.entityRefFor(TYPE, wiring.entityId(to)).tell(new Frame(spec.index(), seq++, sendNanos, arrival, frame));
    }

    private boolean isCutOff(int node) {
        return java.util.Arrays.binarySearch(cutOff, node) >= 0;
    }

    private long nextEvent() {
        if (finished) return Long.MAX_VALUE;
        long next = vmNextEvent;
        for (Frame f : inbox) next = Math.min(next, f.arrivalNanos());
        return next;
    }

    private NodeResult result(VmReport r) {
        long stolen = 0;
        for (VcpuReport v : r.vcpus()) stolen += VirtualTime.cyclesToNanos(v.stolenCycles(), tscHz);
        String text = console.text();
        if (text.length() > 65536) text = text.substring(text.length() - 65536);
        return new NodeResult(spec.index(), spec.name(), r.reason().name(), r.guestStatus(), r.message(), r.virtualNanos(),
                r.retired(), stolen, sent, received, text);
    }

    private NodeResult failure(String reason, String message) {
        return new NodeResult(spec.index(), spec.name(), reason, null, message, 0, 0, 0, 0, 0, "");
    }

    private static long mac(byte[] frame) {
        long m = 0;
        for (int i = 0; i < 6; i++) m = (m << 8) | (frame[i] & 0xFF);
        return m;
    }

    static long parseMac(String text) {
        String[] parts = text.split(":", -1);
        if (parts.length != 6) throw new IllegalArgumentException("a MAC address like 02:4c:57:4b:00:01 expected, got " + text);
        long m = 0;
        for (String p : parts) m = (m << 8) | HexFormat.fromHexDigits(p);
        return m;
    }

    static String macText(long mac) {
        StringBuilder b = new StringBuilder();
        for (int i = 5; i >= 0; i--) b.append(String.format("%02x", (mac >>> (8 * i)) & 0xFF)).append(i > 0 ? ":" : "");
        return b.toString();
    }
}
