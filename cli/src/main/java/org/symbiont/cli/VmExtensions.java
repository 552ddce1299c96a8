package org.symbiont.cli;

import org.symbiont.symbiotic.Symbiotic;
import org.symbiont.vmm.Extensions;

/** The extensions every VM the command line creates has: the symbiotic interfaces (off unless its configuration enables them). */
final class VmExtensions {
    private VmExtensions() {}

    /** A fresh set for one VM. */
    static Extensions forVm() {
        Extensions e = Extensions.none();
        Symbiotic.install(e);
        return e;
    }
}
