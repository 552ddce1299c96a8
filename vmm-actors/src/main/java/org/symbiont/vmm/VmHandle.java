package org.symbiont.vmm;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.memory.PhysicalMemory;

/** What an extension may reach of the VM it serves once the machine is built (see {@link Extensions#onStart}). */
public interface VmHandle {
    VmConfig config();

    /** The VM's guest-physical memory: the VMM reads and writes it without exits. */
    PhysicalMemory memory();

    /** Whether the 4 KiB page at {@code gpa} is RAM the guest may use (an available range of its memory map). */
    boolean isRam(long gpa);

    int vcpuCount();

    ActorRef<VcpuActor.Command> vcpu(int index);

    /** The virtual TSC frequency, for converting virtual time to cycles. */
    long tscHz();

    /** For asks to the VM's actors. */
    Scheduler scheduler();

    /** Completes when the VM has ended (its report sent): asks to its actors get no answer after that. */
    java.util.concurrent.CompletionStage<Void> whenEnded();
}
