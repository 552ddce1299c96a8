package org.symbiont.vmm;

import org.apache.pekko.actor.typed.ActorRef;
import org.symbiont.devices.CharBackend;
import org.symbiont.devices.MachineInfo;
import org.symbiont.x86.memory.PhysicalMemory;

/** What a VM's actors share: its supervisor, memory, machine facts, back ends and seed. */
interface VmServices {
    ActorRef<VmSupervisor.Command> supervisor();

    PhysicalMemory memory();

    MachineInfo machine();

    CharBackend charBackend(String spec);

    long seed();

    /** A device changed an interrupt line (called on the VM's thread). */
    void lineChanged();

    /** How many interrupt-line changes there have been. */
    long lineChanges();
}
