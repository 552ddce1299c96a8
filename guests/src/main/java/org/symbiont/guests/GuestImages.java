package org.symbiont.guests;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/** The guest images built by this module, packaged as resources. */
public final class GuestImages {
    private GuestImages() {}

    /**
     * The CPU benchmark guest: a multiboot v1 image (flat, with load addresses in its header)
     * taking "intloop|sieve|triad [n=N] [rounds=R]" on its command line.
     */
    public static byte[] cpubench() {
        return resource("cpubench.bin");
    }

    /**
     * The test guest: a multiboot v1 image (flat, with load addresses in its header) whose command
     * line {@code <scenario> [key=value ...]} selects one scenario. It prints its results on COM1,
     * ends with {@code PASS <scenario>} or {@code FAIL <scenario>: <reason>}, and writes 0 (pass) or
     * 1 (fail) to isa-debug-exit at port 0xF4, so QEMU exits with status 1 or 3. Its output is the
     * same on every run; the expected output under QEMU is in the test resources
     * {@code org/symbiont/guests/expected/}.
     *
     * <ul>
     *   <li>{@code hello}: the multiboot flags, mem_lower/mem_upper against the memory map, the
     *       available memory ranges, the command line echoed.
     *   <li>{@code debugexit code=N}: says so and exits with isa-debug-exit code N (QEMU status 2N+1).
     *   <li>{@code pit}: the 8259A pair initialised, PIT channel 0 at 1000 Hz on IRQ0 for 100 ticks
     *       with HLT, its latched count, the TSC (calibrated with PIT channel 2) against the ticks.
     *   <li>{@code apic-timer}: the local APIC (CPUID, IA32_APIC_BASE), its timer one-shot,
     *       periodic and, where CPUID offers it, TSC-deadline.
     *   <li>{@code ioapic}: the I/O APIC's identity; the PIT routed through it as the MADT says;
     *       a masked level-triggered entry stays silent.
     *   <li>{@code smp}: the CPUs from the MADT and fw_cfg; every AP started with INIT-SIPI-SIPI into
     *       long mode, where it reports its APIC ID (run it with several vCPUs, or one).
     *   <li>{@code fwcfg}: QEMU's fw_cfg: signature, ID, CPU count, RAM size, file directory, DMA.
     *   <li>{@code acpi}: RSDP, RSDT/XSDT, FADT, MADT, DSDT checksummed; the PM timer against the PIT.
     *   <li>{@code rtc}: the CMOS clock's time format, CMOS memory sizes, 64 periodic interrupts.
     *   <li>{@code serial}: the 16550A registers, loopback, and the THR-empty interrupt on IRQ4.
     *   <li>{@code pci}: bus 0 listed (machine-specific: for exploration, not comparison), and sector
     *       0 of a legacy virtio-blk device if there is one.
     *   <li>{@code scribble}: a pattern written and checked over all RAM outside the image.
     *   <li>{@code exitloop [n=N] [port=P]}: N writes to I/O port P (default 100000 to 0x80), a
     *       benchmark of exit round trips; numbers take a 0x prefix for hex.
     * </ul>
     */
    public static byte[] testguest() {
        return resource("testguest.bin");
    }

    /**
     * The lightweight kernel (LWK) with the HPC workloads as its user programs: a multiboot v1
     * image (flat, with load addresses in its header) whose command line is {@code PROGRAM
     * [key=value ...]}: the program (hello, stream, gups, hpccg, sieve, memperf, ctxsw, allreduce),
     * its parameters and the kernel's options (procs, cpus, slice, swap, rank, nranks, quiet).
     * Each program prints one {@link ResultLine}; the kernel ends the VM through isa-debug-exit
     * with the largest exit status of its processes (0 when all went well, so QEMU exits with 1).
     */
    public static byte[] lwk() {
        return resource("lwk.bin");
    }

    /**
     * The native Linux twin of an LWK program, built from the same object files, extracted to a
     * temporary executable taking the same {@code key=value} arguments; empty where the build had
     * no gcc to build it.
     */
    public static Optional<Path> lwkNative(String program) {
        try (InputStream in = GuestImages.class.getResourceAsStream("lwk-native/" + program)) {
            if (in == null) return Optional.empty();
            Path p = Files.createTempFile("lwk-" + program, "");
            Files.write(p, in.readAllBytes());
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
            p.toFile().deleteOnExit();
            return Optional.of(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the native " + program, e);
        }
    }

    /**
     * The native twin of the CPU benchmark, built from the same workload object file, extracted to
     * a temporary executable: "cpubench-native WORKLOAD [N] [ROUNDS]".
     */
    public static Path cpubenchNative() {
        try {
            Path p = Files.createTempFile("cpubench-native", "");
            Files.write(p, resource("cpubench-native"));
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
            p.toFile().deleteOnExit();
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the native benchmark", e);
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = GuestImages.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("guest image " + name + " is missing from the build");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read guest image " + name, e);
        }
    }
}
