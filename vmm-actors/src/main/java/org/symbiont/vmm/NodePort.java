package org.symbiont.vmm;

/**
 * A VM that is one node of a simulated cluster: its virtual time advances only in windows the
 * cluster grants ({@link VmSupervisor.Advance}), and its NICs' frames leave through here, stamped
 * with their virtual send time, instead of through a network of this JVM ({@link NetworkLinks}).
 * Both calls come on the VM's thread.
 */
public interface NodePort {
    /** NIC {@code nic} sent {@code frame} (which now belongs to the port) at virtual time {@code sendNanos}. */
    void transmit(String nic, byte[] frame, long sendNanos);

    /**
     * The VM reached the end of the window it was granted, {@code nowNanos}, and waits for the
     * next {@link VmSupervisor.Advance}. It next needs to run at {@code nextEventNanos}: now when a
     * vCPU is runnable, otherwise its next timer ({@link Long#MAX_VALUE}: none, only a frame can
     * wake it).
     */
    void reached(long nowNanos, long nextEventNanos);
}
