package org.symbiont.cluster;

/**
 * How a node ended: its VM's end reason, the guest's exit status (or null), the VMM's message,
 * the virtual time it ended at, guest instructions retired, virtual time lost to noise, the
 * frames it sent and received, and what its console printed.
 */
public record NodeResult(int index, String name, String reason, Integer guestStatus, String message, long virtualNanos,
                         long retired, long stolenNanos, long framesSent, long framesReceived, String console)
        implements CborSerializable {

    /** The guest ended by itself (status 0 or not: that is the guest's result). */
    public boolean guestExited() {
        return reason.equals("GUEST_EXIT");
    }
}
