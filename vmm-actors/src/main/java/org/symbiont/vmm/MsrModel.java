package org.symbiont.vmm;

import static org.symbiont.x86.Arch.*;

import java.util.HashMap;
import java.util.Map;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * The model-specific registers the VMM answers for the core (those the core does not hold and no
 * device claims): the identification and machine-check MSRs every x86 guest reads, and the
 * vendor MSRs Intel and AMD kernels touch without guarding against #GP. Reads return the stored
 * value, writes store it; any other MSR raises #GP(0), as on QEMU's TCG.
 */
final class MsrModel {
    private final Map<Integer, Long> values = new HashMap<>();

    MsrModel(boolean amd, long ramBytes) {
        values.put(0x17, 0L);                   // IA32_PLATFORM_ID
        values.put(0x8B, 0L);                   // IA32_BIOS_SIGN_ID (microcode revision)
        values.put(0x3A, 1L);                   // IA32_FEATURE_CONTROL: locked, nothing enabled
        values.put(0x179, 0L);                  // IA32_MCG_CAP: no banks
        values.put(0x17A, 0L);                  // IA32_MCG_STATUS
        values.put(0x1D9, 0L);                  // IA32_DEBUGCTL
        values.put(0xCE, 0L);                   // MSR_PLATFORM_INFO
        if (amd) {
            values.put(0xC001_0010, 0L);        // SYSCFG
            values.put(0xC001_0015, 0x0100_0000L); // HWCR: TscFreqSel
            values.put(0xC001_001A, Math.min(ramBytes, 0xC000_0000L)); // TOP_MEM
            values.put(0xC001_001D, ramBytes > 0x1_0000_0000L ? ramBytes : 0L); // TOP_MEM2
            values.put(0xC001_1022, 0L);        // DE_CFG
            values.put(0xC001_1029, 0L);        // DE_CFG2
            values.put(0xC001_0114, 0x10L);     // VM_CR: SVM disabled
            values.put(0xC001_0058, 0L);        // MMIO_CONF_BASE: no MMCONFIG
        }
    }

    boolean handles(int msr) {
        return values.containsKey(msr);
    }

    long read(int msr) {
        return values.get(msr);
    }

    void write(int msr, long value) {
        if (msr == 0x3A) return;            // locked
        values.put(msr, value);
    }

    /** Writes every MSR's value, for a VM snapshot. */
    void saveState(SectionWriter out) {
        out.i32(values.size());
        values.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> out.i32(e.getKey()).i64(e.getValue()));
    }

    /** Restores what {@link #saveState} wrote: the same MSRs (the CPU model decides which), their values. */
    void restoreState(SectionReader in) throws SnapshotException {
        int count = in.i32In(values.size(), values.size(), "MSR count");
        Map<Integer, Long> restored = new HashMap<>();
        for (int k = 0; k < count; k++) {
            int at = in.position();
            int msr = in.i32("MSR");
            if (!values.containsKey(msr)) {
                throw in.malformed(at, "MSR", String.format("is %#x, which this VM's CPU model does not have", msr));
            }
            restored.put(msr, in.i64("MSR value"));
        }
        values.putAll(restored);
    }

    static boolean isApicMsr(int msr) {
        return msr == MSR_APIC_BASE || msr == 0x6E0 || (msr >= 0x800 && msr <= 0x8FF);
    }
}
