package org.symbiont.x86.exec;

/**
 * Control transfer for an architectural exception raised while executing an instruction. The
 * vector and error code live in the {@link org.symbiont.x86.Cpu} that raised it; the one shared
 * instance carries no data and no stack trace, so raising a guest fault costs no allocation.
 */
public final class Fault extends RuntimeException {
    public static final Fault INSTANCE = new Fault();

    private Fault() {
        super("guest fault", null, false, false);
    }
}
