package org.symbiont.cli;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.Experiment;
import org.symbiont.cluster.ExperimentResult;
import org.symbiont.cluster.Interconnect;
import org.symbiont.cluster.LiveMigration;
import org.symbiont.cluster.NodeResult;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.CharBackends;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VcpuReport;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import org.symbiont.vmm.config.VmConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main demo: several guests the project ships boot at once in one JVM, each in its own VM
 * (its own memory and devices), and the demo prints what each printed on its serial port and a
 * summary per guest; then a small simulated cluster (module {@code cluster}, one member in this
 * process) runs HPCCG on LWK nodes whose virtual time advances in step; then a VM running STREAM
 * moves live between two cluster members and prints what it would have printed unmoved.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Boot several guests at once in one JVM (a compute benchmark, an SMP start-up, timers and interrupts, ACPI, a guest scribbling over all its RAM, and the lightweight kernel running STREAM, a context-switch benchmark and a swapping workload) and summarize each; then run HPCCG on a simulated cluster of LWK nodes in synchronized virtual time.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--n", description = "Size of the cpubench guest's sieve (default: ${DEFAULT-VALUE}).", defaultValue = "10000000")
    long n;

    /** A guest of the demo: its name, image, command line, and configuration beyond the defaults. */
    private record Guest(String name, String what, byte[] image, String append, String hocon) {}

    @Override
    public Integer call() throws IOException {
        if (n < 2 || n > 32L << 20) throw new UserError("--n must be between 2 and " + (32L << 20) + ", got " + n);
        byte[] testguest = GuestImages.testguest();
        byte[] lwk = GuestImages.lwk();
        List<Guest> guests = List.of(
                new Guest("sieve", "cpubench: a sieve of Eratosthenes in 64-bit mode", GuestImages.cpubench(), "sieve n=" + n, ""),
                new Guest("smp", "4 vCPUs: the BSP starts the APs with INIT/SIPI, found in the ACPI MADT", testguest, "smp", "cpus = 4"),
                new Guest("timers", "8254 PIT through the 8259 PIC, TSC calibrated against it", testguest, "pit", ""),
                new Guest("apic", "local APIC timer one-shot, periodic and TSC-deadline", testguest, "apic-timer", ""),
                new Guest("acpi", "ACPI tables checked as a kernel reads them; PM timer vs PIT", testguest, "acpi", ""),
                new Guest("scribbler", "writes a pattern over all of its RAM and checks it", testguest, "scribble", "memory = 64M"),
                new Guest("stream", "the LWK on 2 vCPUs: STREAM in 2 processes, each in its own address space", lwk,
                        "stream n=100000 procs=2", "cpus = 2"),
                new Guest("ctxsw", "the LWK: 4 processes on one CPU yielding to each other, time per switch", lwk,
                        "ctxsw procs=4 iters=5000", ""),
                new Guest("swapper", "the LWK: 32 MiB touched in 24 MiB of RAM, swapping to a virtio-blk disk", lwk,
                        "memperf mb=32 passes=2", "memory = 24M\ndevices += { name = swap0, type = virtio-blk, size = 64M }"));

        System.out.printf("Symbiont demo: %d guests boot at once in one JVM, each in its own VM (own thread, memory and devices):%n", guests.size());
        List<VmSpec> specs = new ArrayList<>();
        List<CharBackends.Capture> consoles = new ArrayList<>();
        for (Guest g : guests) {
            System.out.printf("  %-10s %s%n", g.name(), g.what());
            CharBackends.Capture console = new CharBackends.Capture();
            consoles.add(console);
            VmConfig config = VmConfig.from(ConfigFactory.parseString(g.hocon()
                    + "\nname = " + g.name() + "\nkernel.file = \"" + imageFile(g) + "\"\nkernel.append = \"" + g.append() + "\""),
                    "demo guest " + g.name());
            specs.add(VmSpec.prepare(config, VmExtensions.forVm(), console));
        }
        long start = System.nanoTime();
        List<VmReport> reports = Vms.runAll(specs, Duration.ofMinutes(10));
        long wall = System.nanoTime() - start;

        int failed = 0;
        for (int k = 0; k < guests.size(); k++) {
            System.out.printf("%n--- %s (serial output)%n", guests.get(k).name());
            for (String line : consoles.get(k).text().lines().toList()) System.out.println("  " + line);
            VmReport r = reports.get(k);
            if (r.reason() != VmReport.Reason.GUEST_EXIT || r.guestStatus() != 1) {
                failed++;
                System.out.println("  !! " + r.reason() + ": " + r.message());
            }
        }
        System.out.printf("%n%-10s %5s %-8s %15s %7s %14s  %s%n", "guest", "vCPUs", "result", "instructions", "MIPS", "virtual time", "exits by reason");
        long total = 0;
        for (VmReport r : reports) {
            total += r.retired();
            System.out.printf("%-10s %5d %-8s %,15d %7.0f %12.3f ms  %s%n", r.vm(), r.vcpus().size(), result(r), r.retired(),
                    r.mips(), r.virtualNanos() / 1e6, exits(r));
        }
        System.out.printf("%n%d guests, %,d guest instructions in %.2f s of host time (%d host cores).%n", reports.size(), total,
                wall / 1e9, Runtime.getRuntime().availableProcessors());
        boolean clusterPassed = cluster(lwk);
        return failed == 0 && clusterPassed && migration(lwk) ? 0 : 1;
    }

    /** Nodes of the demo's simulated cluster. */
    private static final int CLUSTER_NODES = 4;

    /**
     * HPCCG weak scaling's largest point in small: {@value #CLUSTER_NODES} LWK nodes on a
     * one-member cluster in this process, exchanging halos and dot products over the simulated
     * interconnect, their virtual time synchronized in windows of one link latency.
     */
    private static boolean cluster(byte[] lwk) {
        System.out.printf("%nA simulated cluster: %d LWK nodes run HPCCG's conjugate gradient (12 x 12 x 12 rows each, stacked),"
                + "%nexchanging halos and dot products over the interconnect; their virtual clocks advance in step.%n", CLUSTER_NODES);
        ActorSystem<Void> member = ClusterNodeCommand.startMember("127.0.0.1", 0, null);
        ExperimentResult r;
        Interconnect net;
        try {
            SymbiontCluster.awaitMembers(member, 1, Duration.ofSeconds(60));
            net = SymbiontCluster.interconnect(member);
            r = SymbiontCluster.run(member, Experiment.ofRanks("demo-" + Long.toString(System.currentTimeMillis(), 36), CLUSTER_NODES, lwk,
                    ClusterSession.KERNEL_NAME, "hpccg nx=12 ny=12 nz=12 max_iter=60", rank -> "memory = 16M", "", net), p -> { });
        } finally {
            SymbiontCluster.stop(member);
        }
        if (!r.succeeded()) {
            System.out.println("  !! the cluster stopped: " + r.failure());
            return false;
        }
        System.out.printf("%n--- node0 (serial output)%n");
        for (String line : r.nodes().getFirst().console().lines().toList()) System.out.println("  " + line);
        System.out.printf("%n%-10s %-8s %15s %14s %12s%n", "node", "result", "instructions", "virtual time", "frames out");
        boolean ok = true;
        for (NodeResult n : r.nodes()) {
            boolean pass = n.guestExited() && n.guestStatus() == ClusterSession.GUEST_SUCCESS;
            ok &= pass;
            System.out.printf("%-10s %-8s %,15d %12.3f ms %,12d%n", n.name(), pass ? "pass" : n.reason().toLowerCase(java.util.Locale.ROOT),
                    n.retired(), n.virtualNanos() / 1e6, n.framesSent());
        }
        System.out.printf("%n%d nodes in %,d windows of virtual time (%,d ns each) in %.2f s of host time.%n", CLUSTER_NODES, r.windows(),
                net.quantumNanos(), r.wallNanos() / 1e9);
        return ok;
    }

    /**
     * Live migration: an LWK running STREAM moves half-way through its run from one cluster member
     * to another in this process; what it printed on both, put together, is what it prints unmoved.
     */
    private static boolean migration(byte[] lwk) {
        System.out.printf("%nA VM moved while it runs: the LWK running STREAM migrates live, half-way, from one cluster member to"
                + "%nanother; what it printed before and after the move, put together, is what it prints when never moved.%n");
        Path kernel = imageFile(new Guest("stream", "", lwk, "", ""));
        VmConfig config = VmConfig.from(ConfigFactory.parseString("name = stream\nmemory = 64M\nkernel.file = \"" + kernel
                + "\"\nkernel.append = \"stream n=400000 ntimes=6\"\n"), "demo");
        CharBackends.Capture unmoved = new CharBackends.Capture(), before = new CharBackends.Capture(), after = new CharBackends.Capture();
        VmReport whole = Vms.run(VmSpec.prepare(config, Extensions.none(), unmoved), null, Duration.ofMinutes(5));
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String seed = "127.0.0.1:" + port;
        ActorSystem<Void> source = SymbiontCluster.startMember("127.0.0.1", port, List.of(seed));
        ActorSystem<Void> target = SymbiontCluster.startMember("127.0.0.1", 0, List.of(seed));
        LiveMigration.Outcome outcome;
        VmReport end;
        try {
            SymbiontCluster.awaitMembers(source, 2, Duration.ofSeconds(60));
            var arrived = LiveMigration.accept(target, VmSpec.prepare(config, Extensions.none(), after));
            outcome = LiveMigration.migrate(source, VmSpec.prepare(config, Extensions.none(), before), whole.virtualNanos() / 2,
                    LiveMigration.Settings.LIVE, Duration.ofMinutes(5));
            end = outcome.failure() == null ? arrived.join() : null;
        } finally {
            SymbiontCluster.stop(target);
            SymbiontCluster.stop(source);
        }
        if (outcome.failure() != null) {
            System.out.println("  !! the VM did not move: " + outcome.failure());
            return false;
        }
        System.out.printf("%n--- before the move (serial output)%n");
        for (String line : before.text().lines().toList()) System.out.println("  " + line);
        System.out.printf("--- after the move, on the other member%n");
        for (String line : after.text().lines().toList()) System.out.println("  " + line);
        boolean same = unmoved.text().equals(before.text() + after.text()) && end.virtualNanos() == whole.virtualNanos();
        System.out.printf("%n%s%nits output, timings read from the TSC included, %s that of the run never moved.%n",
                outcome.migration().summary(), same ? "is byte for byte" : "!! differs from");
        return same;
    }

    private static String result(VmReport r) {
        if (r.reason() == VmReport.Reason.GUEST_EXIT) return r.guestStatus() == 1 ? "pass" : "exit " + r.guestStatus();
        return r.reason().name().toLowerCase(java.util.Locale.ROOT);
    }

    private static String exits(VmReport r) {
        Map<String, Long> byReason = new TreeMap<>();
        for (VcpuReport v : r.vcpus()) v.exits().forEach((reason, s) -> byReason.merge(reason, s.count(), Long::sum));
        StringBuilder b = new StringBuilder();
        byReason.forEach((reason, count) -> b.append(b.isEmpty() ? "" : ", ").append(reason).append(' ').append(String.format("%,d", count)));
        return b.toString();
    }

    private static Path imageFile(Guest g) {
        try {
            Path p = Files.createTempFile("symbiont-demo-" + g.name(), ".bin");
            p.toFile().deleteOnExit();
            Files.write(p, g.image());
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the demo's guest image to a temporary file", e);
        }
    }
}
