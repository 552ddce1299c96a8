package org.symbiont.devices;

import java.util.List;

/**
 * Facts about the machine that firmware-like devices report to the guest (fw_cfg, ACPI tables,
 * CMOS memory size).
 *
 * @param ramBytes   guest RAM in bytes
 * @param apicIds    the initial APIC ID of each vCPU, in vCPU order
 * @param tscHz      the virtual TSC frequency
 */
public record MachineInfo(long ramBytes, List<Integer> apicIds, long tscHz) {
    public MachineInfo {
        apicIds = List.copyOf(apicIds);
        if (apicIds.isEmpty()) throw new IllegalArgumentException("a machine has at least one CPU");
    }

    public int cpuCount() {
        return apicIds.size();
    }
}
