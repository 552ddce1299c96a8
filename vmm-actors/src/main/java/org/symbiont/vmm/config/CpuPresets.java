package org.symbiont.vmm.config;

import java.util.List;
import org.symbiont.x86.CpuModel;

/**
 * The processors a VM can present: an Intel-like and an AMD-like model. Both advertise exactly
 * what the core implements; they differ in the CPUID vendor and family/model, which is what
 * makes guests take their Intel or AMD paths (SYSENTER versus SYSCALL, vendor MSRs).
 */
public final class CpuPresets {
    private CpuPresets() {}

    public static final List<String> NAMES = List.of("intel", "amd");

    public static CpuModel byName(String name) {
        return switch (name) {
            case "intel" -> CpuModel.standard();
            // Family 17h (Zen), model 31h, stepping 0.
            case "amd" -> new CpuModel("AuthenticAMD", "Symbiont Virtual CPU (AMD)", 0x0083_0F10, 40, true, 2_000_000_000L);
            default -> null;
        };
    }
}
