package org.symbiont.cli;

import static org.symbiont.x86.Arch.*;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.CpuModel;
import org.symbiont.x86.Exit;
import org.symbiont.vmm.boot.BootImageException;
import org.symbiont.vmm.boot.MultibootImage;
import org.symbiont.vmm.boot.MultibootLoader;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * A Multiboot kernel on the bare CPU core, with just enough of a machine around it for the
 * CPU-only demo and benchmark: COM1 output (a transmitter that is always ready), the
 * isa-debug-exit port 0xf4 QEMU uses, CPUID from the CPU model, and nothing else (other ports
 * read as all ones, unknown MSRs raise #GP, hypercalls return -1).
 */
final class BareMetal implements AutoCloseable {
    private static final int COM1 = 0x3F8, DEBUG_EXIT = 0xF4;

    /** How a run ended. */
    record Result(Integer exitCode, String stopReason, long instructions, long wallNanos, String console) {
        double mips() {
            return instructions * 1e3 / wallNanos;
        }
    }

    private final PhysicalMemory memory;
    private final Cpu cpu;
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private final boolean echo;
    private int lineControl;

    /**
     * @param echo copy the guest's COM1 output to standard output as it arrives
     */
    BareMetal(long ramBytes, MultibootImage kernel, String name, String arguments, boolean echo) {
        this.echo = echo;
        this.memory = PhysicalMemory.allocate(ramBytes);
        this.cpu = new Cpu(0, memory, CpuModel.standard());
        try {
            MultibootLoader.load(kernel, name, arguments, memory, cpu);
        } catch (BootImageException e) {
            close();
            throw new UserError(e.getMessage());
        }
    }

    Result run(long maxInstructions) {
        long start = System.nanoTime();
        long first = cpu.retired;
        while (true) {
            long left = maxInstructions - (cpu.retired - first);
            if (left <= 0) return result(null, "instruction limit reached", first, start);
            Exit e = cpu.run(Math.min(left, 50_000_000));
            switch (e) {
                case Exit.PortOut o -> {
                    if (o.port() == DEBUG_EXIT) {
                        cpu.completeWrite();
                        return result((int) o.value(), "isa-debug-exit", first, start);
                    }
                    portWrite(o.port(), o.value());
                    cpu.completeWrite();
                }
                case Exit.PortIn in -> cpu.completeRead(portRead(in.port(), in.size()));
                case Exit.Cpuid q -> {
                    int[] r = cpu.model.cpuid(q.leaf(), q.subleaf(), cpu.id, (cpu.cr4 & CR4_OSXSAVE) != 0);
                    cpu.completeCpuid(r[0], r[1], r[2], r[3]);
                }
                case Exit.Rdmsr r -> cpu.failMsr();
                case Exit.Wrmsr w -> cpu.failMsr();
                case Exit.MmioRead r -> cpu.completeRead(-1L);
                case Exit.MmioWrite w -> cpu.completeWrite();
                case Exit.Hypercall h -> {
                    cpu.gpr[RAX] = -1L;
                    cpu.completeHypercall();
                }
                case Exit.Halt h -> {
                    if ((cpu.rflags & IF) == 0) return result(null, "halted with interrupts disabled", first, start);
                    return result(null, "halted waiting for an interrupt no device will raise", first, start);
                }
                case Exit.TripleFault t -> {
                    return result(null, "triple fault: " + t.reason(), first, start);
                }
                case Exit.PagingFault p -> throw new IllegalStateException("no second stage is installed: " + p);
                case Exit.ShadowFault _, Exit.ShadowCr3Write _, Exit.ShadowInvlpg _, Exit.ShadowPageTableWrite _ ->
                        throw new IllegalStateException("the bare core runs native paging: " + e);
                case Exit.Cr8Write w -> throw new IllegalStateException("CR8 writes stay in the core here (cr8Exits is off): " + w);
                case Exit.ExceptionIntercepted x -> throw new IllegalStateException("exceptions are delivered here (exceptionExiting is off): " + x);
                case Exit.InterruptWindow w -> cpu.setInterruptWindowExiting(false);
                case Exit.BudgetExhausted b -> { }
            }
        }
    }

    private Result result(Integer exitCode, String reason, long first, long start) {
        return new Result(exitCode, reason, cpu.retired - first, System.nanoTime() - start,
                console.toString(StandardCharsets.ISO_8859_1));
    }

    private void portWrite(int port, long value) {
        if (port == COM1 + 3) lineControl = (int) value & 0xFF;
        if (port == COM1 && (lineControl & 0x80) == 0) {
            console.write((int) value & 0xFF);
            if (echo) {
                System.out.write((int) value & 0xFF);
                if (value == '\n') System.out.flush();
            }
        }
    }

    private long portRead(int port, int size) {
        if (port == COM1 + 5) return 0x60;           // line status: transmitter empty
        if (port >= COM1 && port < COM1 + 8) return 0;
        return size == 1 ? 0xFF : size == 2 ? 0xFFFF : 0xFFFF_FFFFL;
    }

    long virtualCycles() {
        return cpu.virtualCycles();
    }

    @Override
    public void close() {
        cpu.detach();
        memory.close();
    }
}
