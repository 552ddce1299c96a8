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
 * (its own thread, memory and devices), and the demo prints what each printed on its serial port
 * and a summary per guest.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Boot several guests at once in one JVM (a compute benchmark, an SMP start-up, timers and interrupts, ACPI, a guest scribbling over all its RAM, and the lightweight kernel running STREAM, a context-switch benchmark, a swapping workload and HPCCG on two nodes over virtio-net) and summarize each.")
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
                        "memperf mb=32 passes=2", "memory = 24M\ndevices += { name = swap0, type = virtio-blk, size = 64M }"),
                new Guest("hpccg-0", "the LWK: HPCCG's conjugate gradient on 2 nodes, rank 0 ...", lwk,
                        "hpccg nx=12 ny=12 nz=12 max_iter=60 rank=0 nranks=2",
                        "devices += { name = net0, type = virtio-net, link = demo-lan, mac = \"52:54:00:00:00:10\" }"),
                new Guest("hpccg-1", "... and rank 1, exchanging halos and dot products over virtio-net", lwk,
                        "hpccg nx=12 ny=12 nz=12 max_iter=60 rank=1 nranks=2",
                        "devices += { name = net0, type = virtio-net, link = demo-lan, mac = \"52:54:00:00:00:11\" }"));

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
        return failed == 0 ? 0 : 1;
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
