package org.symbiont.x86.memory;

/** A VMM-side access to guest-physical memory fell outside guest RAM. */
public final class GuestMemoryException extends RuntimeException {
    public GuestMemoryException(String message) {
        super(message);
    }
}
