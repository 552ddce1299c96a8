package org.symbiont.vmm.boot;

/** A kernel image, module or command line the loader cannot use; the message names the file and the problem. */
public final class BootImageException extends RuntimeException {
    public BootImageException(String message) {
        super(message);
    }
}
