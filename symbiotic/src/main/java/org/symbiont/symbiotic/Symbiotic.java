package org.symbiont.symbiotic;

import static org.symbiont.symbiotic.SymbioticAbi.*;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.symbiont.devices.MsrDevice.MsrAccessRefused;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.SymCallResult;
import org.symbiont.vmm.VmHandle;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * Palacios' symbiotic interfaces for one VM, installed as {@link Extensions}: discovery by CPUID
 * leaf 0x90000000 (6.2), the SymSpy pages (6.3, {@link SymSpy}), the SymCall registration MSRs
 * (6.4) and SymCalls themselves ({@link SymCalls}). All of it answers only when the VM's
 * configuration says {@code symbiotic.enabled = true}; otherwise the leaf is the CPU model's and
 * the MSRs raise #GP, as on a VMM without them.
 *
 * <p>One instance per VM: {@code Symbiotic.install(Extensions.none())} before creating it.
 */
public final class Symbiotic {
    /** The SymCall registration MSRs, in the order of {@link SymCallEntry}'s fields. */
    private static final int[] REGISTRATION = {SYMCALL_RIP_MSR, SYMCALL_RSP_MSR, SYMCALL_CS_MSR, SYMCALL_GS_MSR, SYMCALL_FS_MSR};

    /** The entry a vCPU's guest registered through MSRs 0x536-0x540 (SS is {@code cs + 8}). */
    public record SymCallEntry(long rip, long rsp, long cs, long gsBase, long fsBase) {}

    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private VmHandle vm;
    private boolean enabled;
    private SymSpy spy;
    private SymCalls calls;
    /** Per vCPU: the values of the five registration MSRs. */
    private long[][] registration;

    private Symbiotic() {}

    /** Adds the hooks to {@code extensions} (of one VM) and returns the VMM side of that VM's interfaces. */
    public static Symbiotic install(Extensions extensions) {
        Symbiotic s = new Symbiotic();
        extensions.onStart(s::start).cpuid(s::cpuid).state("symbiotic", s.new SavedState());
        extensions.msr(SYMSPY_GLOBAL_MSR, s.new SymSpyGlobal());
        extensions.msr(SYMSPY_LOCAL_MSR, s.new SymSpyLocal());
        for (int k = 0; k < REGISTRATION.length; k++) extensions.msr(REGISTRATION[k], s.new Registration(k));
        extensions.swapGuest(new Extensions.SwapGuest() {
            @Override
            public Extensions.SwapArea swapArea() {
                SymSpy spy = s.symSpy();
                if (spy.guestVersion() != 1 || spy.swapPages() == 0) return null;
                return new Extensions.SwapArea(spy.swapType(), spy.swapSector(), spy.swapPages());
            }

            @Override
            public CompletionStage<SymCallResult> memLookup(int vcpu, long vaddr, long pte) {
                return s.symCalls().memLookup(vcpu, vaddr, pte);
            }
        });
        return s;
    }

    private void start(VmHandle handle) {
        if (vm != null) throw new IllegalStateException("a Symbiotic instance serves one VM; " + handle.config().name() + " is its second");
        vm = handle;
        enabled = handle.config().symbiotic().enabled();
        spy = new SymSpy(handle.memory(), handle.vcpuCount());
        registration = new long[handle.vcpuCount()][REGISTRATION.length];
        calls = new SymCalls(this, handle);
        started.complete(null);
    }

    /** Completes once the VM's machine is built (from then on {@link #symSpy()} and {@link #symCalls()} work). */
    public CompletionStage<Void> started() {
        return started;
    }

    public SymSpy symSpy() {
        requireStarted();
        return spy;
    }

    public SymCalls symCalls() {
        requireStarted();
        return calls;
    }

    /** Whether the VM's configuration enables the interfaces. */
    public boolean enabled() {
        requireStarted();
        return enabled;
    }

    /** The SymCall entry the guest registered on {@code vcpu} (zeros until it does). */
    public synchronized SymCallEntry entry(int vcpu) {
        requireStarted();
        long[] r = registration[vcpu];
        return new SymCallEntry(r[0], r[1], r[2], r[3], r[4]);
    }

    private void requireStarted() {
        if (!started.isDone()) throw new IllegalStateException("the VM has not been built yet: wait for started()");
    }

    /** Discovery (6.2): "V3V" in EAX, the virtualization extension in EBX; ECX and EDX are 0. */
    private int[] cpuid(int vcpu, int leaf, int subleaf) {
        if (leaf != CPUID_LEAF || !enabled) return null;
        boolean amd = vm.config().cpuModel().vendor().equals("AuthenticAMD");
        return new int[] {CPUID_MAGIC, amd ? CPUID_SVM : CPUID_VMX, 0, 0};
    }

    private void requireEnabled(int msr) {
        if (!enabled) throw new MsrAccessRefused(String.format("MSR %#x: the symbiotic interfaces are off", msr));
    }

    /** A page address written to a SymSpy MSR: masked to its page (6.3), which must be RAM, else #GP. */
    private long page(int msr, long value) {
        long gpa = value & ~0xFFFL;
        if (!vm.isRam(gpa)) throw new MsrAccessRefused(String.format("MSR %#x: %#x is not a RAM page", msr, value));
        return gpa;
    }

    /**
     * What a VM snapshot keeps of the interfaces: the SymSpy pages the guest named and each
     * vCPU's SymCall registration (what the guest wrote in the pages is in its memory).
     */
    private final class SavedState implements Extensions.StateHook {
        @Override
        public byte[] save() {
            synchronized (Symbiotic.this) {
                SectionWriter out = new SectionWriter().i32(registration.length).i64(spy.globalPage());
                for (int k = 0; k < registration.length; k++) out.i64(spy.localPage(k)).i64s(registration[k]);
                return out.toByteArray();
            }
        }

        @Override
        public void restore(byte[] body) throws SnapshotException {
            SectionReader in = new SectionReader("ext.symbiotic", body);
            int vcpus = registration.length;
            in.i32In(vcpus, vcpus, "vCPU count");
            long global = namedPage(in, "SymSpy global page");
            long[] local = new long[vcpus];
            long[][] entries = new long[vcpus][REGISTRATION.length];
            for (int k = 0; k < vcpus; k++) {
                local[k] = namedPage(in, "SymSpy local page");
                in.i64s(entries[k], "SymCall registration");
            }
            in.end();
            synchronized (Symbiotic.this) {
                spy.restore(global, local);
                for (int k = 0; k < vcpus; k++) registration[k] = entries[k];
            }
        }

        /** A page the guest named: 0 (none) or a RAM page. */
        private long namedPage(SectionReader in, String field) throws SnapshotException {
            int at = in.position();
            long gpa = in.i64(field);
            if (gpa != 0 && ((gpa & 0xFFF) != 0 || !vm.isRam(gpa))) throw in.malformed(at, field, String.format("is %#x, not a RAM page", gpa));
            return gpa;
        }
    }

    private final class SymSpyGlobal implements Extensions.MsrHook {
        @Override
        public long read(int vcpu) {
            requireEnabled(SYMSPY_GLOBAL_MSR);
            return spy.globalPage();
        }

        @Override
        public void write(int vcpu, long value) {
            requireEnabled(SYMSPY_GLOBAL_MSR);
            spy.mapGlobal(page(SYMSPY_GLOBAL_MSR, value));
        }
    }

    private final class SymSpyLocal implements Extensions.MsrHook {
        @Override
        public long read(int vcpu) {
            requireEnabled(SYMSPY_LOCAL_MSR);
            return spy.localPage(vcpu);
        }

        @Override
        public void write(int vcpu, long value) {
            requireEnabled(SYMSPY_LOCAL_MSR);
            spy.mapLocal(vcpu, page(SYMSPY_LOCAL_MSR, value));
        }
    }

    private final class Registration implements Extensions.MsrHook {
        private final int index;

        Registration(int index) {
            this.index = index;
        }

        @Override
        public long read(int vcpu) {
            requireEnabled(REGISTRATION[index]);
            synchronized (Symbiotic.this) {
                return registration[vcpu][index];
            }
        }

        @Override
        public void write(int vcpu, long value) {
            requireEnabled(REGISTRATION[index]);
            synchronized (Symbiotic.this) {
                registration[vcpu][index] = value;
            }
        }
    }
}
