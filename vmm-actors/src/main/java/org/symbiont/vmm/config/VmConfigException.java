package org.symbiont.vmm.config;

/** A VM configuration that cannot be used; the message names the setting and what was expected. */
public final class VmConfigException extends RuntimeException {
    public VmConfigException(String message) {
        super(message);
    }
}
