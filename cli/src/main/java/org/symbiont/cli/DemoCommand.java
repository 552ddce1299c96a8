package org.symbiont.cli;

import java.util.concurrent.Callable;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.boot.MultibootImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The main demo while the VMM is being built: a real guest program on the bare CPU core. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Boot the cpubench guest (Multiboot: 32-bit entry, switch to long mode, sieve of Eratosthenes) on the bare x86-64 core and report its speed.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--n", description = "Sieve size (default: ${DEFAULT-VALUE}).", defaultValue = "10000000")
    long n;

    @Override
    public Integer call() {
        if (n < 2 || n > 32L << 20) throw new UserError("--n must be between 2 and " + (32L << 20) + ", got " + n);
        System.out.println("Symbiont demo: the cpubench guest boots (Multiboot, 32-bit protected mode -> long mode) on the emulated x86-64 core.");
        MultibootImage image = MultibootImage.parse(GuestImages.cpubench(), "cpubench.bin");
        try (BareMetal m = new BareMetal(256L << 20, image, "cpubench.bin", "sieve n=" + n, true)) {
            BareMetal.Result r = m.run(Long.MAX_VALUE);
            if (r.exitCode() == null || r.exitCode() != 0) {
                System.out.println("guest stopped: " + r.stopReason());
                return 1;
            }
            System.out.printf("%,d guest instructions in %.2f s: %.0f million instructions per second (virtual time %,d cycles)%n",
                    r.instructions(), r.wallNanos() / 1e9, r.mips(), m.virtualCycles());
            return 0;
        }
    }
}
