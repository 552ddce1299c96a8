package org.symbiont.vmm;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.config.VmConfig;

/**
 * Run by hand (not a test): N small 1-vCPU VMs in one {@link Vms#runAll}, wall time and live
 * threads. Arguments: the scenario of the test guest (e.g. {@code pit}: 100 PIT ticks with HLT,
 * many deterministic rounds), then the VM counts, e.g. {@code pit 64 256 512}. Each VM has
 * {@code -Dmemory=} of RAM (16M unless set).
 */
public final class ManyVmsMeasurement {
    public static void main(String[] args) throws Exception {
        String scenario = args[0];
        Path kernel = Files.createTempFile("testguest", ".bin");
        kernel.toFile().deleteOnExit();
        Files.write(kernel, GuestImages.testguest());
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        Vms.runAll(specs(kernel, scenario, 16), Duration.ofMinutes(10)); // warm-up
        for (int a = 1; a < args.length; a++) {
            int n = Integer.parseInt(args[a]);
            List<VmSpec> specs = specs(kernel, scenario, n);
            System.gc();
            threads.resetPeakThreadCount();
            int before = threads.getThreadCount();
            long cpuStart = os.getProcessCpuTime();
            long start = System.nanoTime();
            List<VmReport> reports = Vms.runAll(specs, Duration.ofMinutes(10));
            long wall = System.nanoTime() - start;
            long cpu = os.getProcessCpuTime() - cpuStart;
            Map<String, Integer> outcomes = new TreeMap<>();
            for (VmReport r : reports) outcomes.merge(r.reason() + "/" + r.guestStatus(), 1, Integer::sum);
            System.out.printf("%s N=%d wall %.2f s, %.2f ms per VM, process CPU %.2f s, live threads before %d, peak %d, outcomes %s%n",
                    scenario, n, wall / 1e9, wall / 1e6 / n, cpu / 1e9, before, threads.getPeakThreadCount(), outcomes);
        }
        System.exit(0);
    }

    private static List<VmSpec> specs(Path kernel, String scenario, int n) {
        List<VmSpec> specs = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            VmConfig c = VmRun.pcConfig("n" + k, kernel, "memory = " + System.getProperty("memory", "16M") + "\nconsole = null\nkernel.append = " + scenario);
            specs.add(VmSpec.prepare(c, Extensions.none(), new CharBackends.Capture()));
        }
        return specs;
    }
}
