package org.symbiont.x86;

import static org.symbiont.x86.Arch.*;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import org.symbiont.x86.exec.Segmentation;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.mmu.NestedPager;
import org.symbiont.x86.mmu.PagingCosts;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowPager;
import org.symbiont.x86.mmu.ShadowStrategy;

/**
 * A bare CPU with memory, set up directly in 64-bit long mode (or left at reset), for tests. It
 * answers exits the way a minimal VMM would: CPUID from the {@link CpuModel}, port 0xE9 as a
 * debug console, port 0x80 as a record of reported values, everything else as an error.
 *
 * <p>Layout of the long-mode setup: GDT at 0x500, IDT at 0x1000 with exception stubs at 0x8000
 * (each reports its vector on port 0x80 and halts), page tables at 0x2000.. identity-mapping
 * the first 4 GiB with 2 MiB pages (the first 2 MiB with 4 KiB pages), stack top at 0x80000,
 * code loaded at {@link #CODE}.
 */
public final class TestMachine implements AutoCloseable {
    public static final long CODE = 0x10_0000;
    public static final long STACK_TOP = 0x8_0000;
    public static final long GDT = 0x500, IDT = 0x1000, STUBS = 0x8000;
    public static final long PML4 = 0x2000, PDPT = 0x3000, PD0 = 0x4000, PT0 = 0x8_8000;
    public static final int CODE64_SEL = 0x08, DATA_SEL = 0x10, CODE32_SEL = 0x18, USER_CODE64 = 0x2B, USER_DATA = 0x23;
    public static final int TSS_SEL = 0x30;
    public static final long TSS = 0x700;

    public final PhysicalMemory memory;
    public final Cpu cpu;
    public final ByteArrayOutputStream console = new ByteArrayOutputStream();
    public final List<Long> reports = new ArrayList<>();
    public final List<Exit> exits = new ArrayList<>();

    /** The pagers answering shadow and nested paging exits, when {@link #virtualize} chose them. */
    public ShadowPager shadowPager;
    public NestedPager nestedPager;

    /**
     * Runs the guest's paging in {@code mode} from now on; {@link #run} answers the paging exits
     * the way the VMM does, through a {@link ShadowPager} or a {@link NestedPager}.
     */
    public TestMachine virtualize(PagingMode mode, ShadowStrategy strategy, PagingCosts costs) {
        cpu.mmu.configure(mode, strategy, costs);
        if (mode == PagingMode.SHADOW) {
            shadowPager = new ShadowPager(cpu, strategy);
            cpu.mmu.attach(shadowPager);
        } else if (mode == PagingMode.NESTED) {
            nestedPager = new NestedPager(memory, false);
            cpu.mmu.attach(nestedPager);
        }
        return this;
    }

    public TestMachine(long memorySize) {
        this(memorySize, 0);
    }

    /** A machine with {@code privateSize} bytes of VMM-private memory at {@link PhysicalMemory#PRIVATE_BASE}. */
    public TestMachine(long memorySize, long privateSize) {
        memory = PhysicalMemory.allocate(memorySize, privateSize);
        cpu = new Cpu(0, memory, CpuModel.standard());
    }

    /** Told of a guest fault on a non-present page-table entry under shadow paging (SwapBypass tests). */
    public interface MissingPteHandler {
        void fault(Exit.ShadowFault fault, long pte);
    }

    public MissingPteHandler missingPte;

    /** A machine with 64 MiB of RAM set up in 64-bit mode at CPL 0. */
    public static TestMachine longMode() {
        return longMode(64 << 20);
    }

    /** A machine with {@code memorySize} bytes of RAM (at least 8 MiB) set up in 64-bit mode at CPL 0. */
    public static TestMachine longMode(long memorySize) {
        TestMachine m = new TestMachine(memorySize);
        m.setupLongMode();
        return m;
    }

    public void setupLongMode() {
        long[] gdt = {
            0,
            0x00AF_9A00_0000_FFFFL, // 0x08 64-bit code, DPL 0
            0x00CF_9200_0000_FFFFL, // 0x10 data, DPL 0
            0x00CF_9A00_0000_FFFFL, // 0x18 32-bit code, DPL 0
            0x00CF_F200_0000_FFFFL, // 0x20 data, DPL 3
            0x00AF_FA00_0000_FFFFL, // 0x28 64-bit code, DPL 3
            tssLow(TSS, 0x67), TSS >>> 32, // 0x30 64-bit TSS (two slots)
        };
        for (int k = 0; k < gdt.length; k++) memory.writeU64(GDT + 8L * k, gdt[k]);
        memory.writeU64(TSS + 4, STACK_TOP); // RSP0
        // IDT: vector v -> stub at STUBS + 8v: mov al, v; out 0x80, al; hlt
        for (int v = 0; v < 32; v++) {
            long stub = STUBS + 8L * v;
            memory.write(stub, new byte[] {(byte) 0xB0, (byte) v, (byte) 0xE6, (byte) 0x80, (byte) 0xF4});
            memory.writeU64(IDT + 16L * v, gateLow(stub, CODE64_SEL, 0x8E));
            memory.writeU64(IDT + 16L * v + 8, stub >>> 32);
        }
        // Paging: PML4[0] -> PDPT; PDPT[0..3] -> PDs mapping 4 GiB with 2 MiB pages, except the
        // first 2 MiB, mapped with 4 KiB pages through PT0.
        memory.writeU64(PML4, PDPT | 0x7);
        for (int g = 0; g < 4; g++) {
            long pd = PD0 + 0x1000L * g;
            memory.writeU64(PDPT + 8L * g, pd | 0x7);
            for (int e = 0; e < 512; e++) {
                long pa = ((long) g << 30) | ((long) e << 21);
                memory.writeU64(pd + 8L * e, pa | 0x87);
            }
        }
        memory.writeU64(PD0, PT0 | 0x7);
        for (int e = 0; e < 512; e++) memory.writeU64(PT0 + 8L * e, ((long) e << 12) | 0x7);

        Cpu c = cpu;
        c.cr0 = CR0_PE | CR0_PG | CR0_WP | CR0_ET | CR0_NE | CR0_MP;
        c.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_PGE;
        c.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
        c.cr3 = PML4;
        c.gdtBase = GDT;
        c.gdtLimit = 8 * gdt.length - 1;
        c.idtBase = IDT;
        c.idtLimit = 16 * 32 - 1;
        c.cpl = 0;
        Segmentation.loadCache(c, CS, CODE64_SEL, gdt[1]);
        for (int s : new int[] {ES, SS, DS, FS, GS}) Segmentation.loadCache(c, s, DATA_SEL, gdt[2]);
        Segmentation.loadCache(c, TR, TSS_SEL, gdt[6] | (0xBL << 40));
        c.gpr[RSP] = STACK_TOP;
        c.setRflags(RFLAGS_FIXED1);
        c.updateMode();
        c.mmu.flushAll();
    }

    /**
     * Another vCPU on the same memory, in the same long-mode state as {@link #cpu} (page tables,
     * descriptor tables), with its own stack below {@code stackTop}.
     */
    public Cpu addCpu(int id, long stackTop) {
        Cpu c = new Cpu(id, memory, cpu.model);
        c.cr0 = cpu.cr0;
        c.cr4 = cpu.cr4;
        c.efer = cpu.efer;
        c.cr3 = cpu.cr3;
        c.gdtBase = cpu.gdtBase;
        c.gdtLimit = cpu.gdtLimit;
        c.idtBase = cpu.idtBase;
        c.idtLimit = cpu.idtLimit;
        for (int s = ES; s <= TR; s++) {
            c.segSel[s] = cpu.segSel[s];
            c.segBase[s] = cpu.segBase[s];
            c.segLimit[s] = cpu.segLimit[s];
            c.segAttr[s] = cpu.segAttr[s];
        }
        c.cpl = 0;
        c.gpr[RSP] = stackTop;
        c.setRflags(RFLAGS_FIXED1);
        c.updateMode();
        c.mmu.flushAll();
        return c;
    }

    static long tssLow(long base, long limit) {
        return (limit & 0xFFFF) | ((base & 0xFF_FFFFL) << 16) | (0x89L << 40) | ((limit >>> 16 & 0xF) << 48)
                | ((base >>> 24 & 0xFF) << 56);
    }

    static long gateLow(long offset, int selector, int typeAttr) {
        return (offset & 0xFFFF) | ((long) selector << 16) | ((long) typeAttr << 40) | ((offset >>> 16 & 0xFFFF) << 48);
    }

    /** Copies code to {@link #CODE} and points RIP at it. */
    public TestMachine load(byte[] code) {
        memory.write(CODE, code);
        cpu.rip = CODE;
        return this;
    }

    /** Runs until HLT with interrupts that cannot wake it, answering exits; returns the final exit. */
    public Exit run(long maxInstructions) {
        long start = cpu.retired;
        while (cpu.retired - start < maxInstructions) {
            Exit e = cpu.run(Math.min(1_000_000, maxInstructions - (cpu.retired - start)));
            switch (e) {
                case Exit.Cpuid q -> {
                    int[] r = cpu.model.cpuid(q.leaf(), q.subleaf(), cpu.id, (cpu.cr4 & CR4_OSXSAVE) != 0);
                    cpu.completeCpuid(r[0], r[1], r[2], r[3]);
                }
                case Exit.PortOut o when o.port() == 0xE9 -> {
                    console.write((int) o.value());
                    cpu.completeWrite();
                }
                case Exit.PortOut o when o.port() == 0x80 -> {
                    reports.add(o.value());
                    cpu.completeWrite();
                }
                case Exit.BudgetExhausted b -> { }
                case Exit.ShadowFault f when shadowPager != null -> {
                    long pte = shadowPager.handleFault(f.linear(), f.access(), f.user());
                    if (pte != 0 && missingPte != null) missingPte.fault(f, pte);
                    cpu.completePagingFault();
                }
                case Exit.ShadowCr3Write w when shadowPager != null -> {
                    shadowPager.cr3Written(w.cr3());
                    cpu.completePagingFault();
                }
                case Exit.ShadowInvlpg i when shadowPager != null -> {
                    shadowPager.invlpg(i.linear());
                    cpu.completePagingFault();
                }
                case Exit.ShadowPageTableWrite w when shadowPager != null -> {
                    shadowPager.pageTableWritten(w.guestPhysical(), w.size());
                    cpu.completePagingFault();
                }
                case Exit.PagingFault f when nestedPager != null -> {
                    nestedPager.handleFault(cpu, f.guestPhysical(), f.access());
                    cpu.completePagingFault();
                }
                default -> {
                    exits.add(e);
                    return e;
                }
            }
        }
        return Exit.BUDGET_EXHAUSTED;
    }

    public long reg(int r) {
        return cpu.gpr[r];
    }

    @Override
    public void close() {
        cpu.detach();
        memory.close();
    }
}
