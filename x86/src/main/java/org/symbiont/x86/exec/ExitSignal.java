package org.symbiont.x86.exec;

/**
 * Control transfer for an exit to the VMM in the middle of an instruction (port I/O, MMIO, CPUID,
 * MSR, hypercall, second-stage paging fault). The exit itself is stored in the CPU. The
 * instruction is abandoned without side effects and re-executed once the VMM has completed it.
 */
public final class ExitSignal extends RuntimeException {
    public static final ExitSignal INSTANCE = new ExitSignal();

    private ExitSignal() {
        super("exit to the VMM", null, false, false);
    }
}
