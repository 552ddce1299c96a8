package org.symbiont.x86.difftest;

import static org.symbiont.x86.Arch.*;

import java.util.Arrays;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.CpuModel;
import org.symbiont.x86.Exit;
import org.symbiont.x86.exec.Segmentation;
import org.symbiont.x86.memory.PhysicalMemory;

/**
 * The emulated side: one {@link Cpu} in 64-bit mode running each case at CPL 3 with page tables
 * that map exactly the code page and the data region as user pages (the data region not
 * executable, the page after the code not present). Every exception goes through an interrupt
 * gate to a ring-0 stub that is just HLT: the stub's address tells the vector, the frame on the
 * ring-0 stack the interrupted RIP, RSP and RFLAGS. Running off the end of the sequence is the
 * instruction fetch #PF at {@link Layout#CODE_END}.
 */
final class EmulatorRunner implements AutoCloseable {
    private static final long GDT = 0x500, TSS = 0x700, IDT = 0x1000;
    private static final long PML4 = 0x2000, PDPT = 0x3000, PD = 0x4000, PT_LOW = 0x5000, PT_CODE = 0x6000, PT_DATA = 0x7000;
    private static final long STUBS = 0x8000, KERNEL_STACK_TOP = 0x7_0000;
    static final long CODE_PA = 0x10_0000, DATA_PA = 0x10_1000;
    private static final int VECTORS = 32;
    private static final int USER_DATA = 0x23, USER_CODE = 0x2B;
    private static final long[] GDT_ENTRIES = {
        0,
        0x00AF_9A00_0000_FFFFL, // 0x08 64-bit code, DPL 0
        0x00CF_9200_0000_FFFFL, // 0x10 data, DPL 0
        0,
        0x00CF_F200_0000_FFFFL, // 0x23 data, DPL 3
        0x00AF_FA00_0000_FFFFL, // 0x2B 64-bit code, DPL 3
        tssLow(TSS, 0x67), TSS >>> 32, // 0x30 64-bit TSS
    };
    /** Instructions (REP iterations count one each) a case may take before it counts as hung. */
    private static final int BUDGET = 100_000;

    final PhysicalMemory memory;
    final Cpu cpu;
    private final byte[] codePage = new byte[4096];

    /** Status flags left undefined and registers with undefined values, as observed by the last run. */
    int undefinedFlags, taintedRegisters;

    EmulatorRunner() {
        memory = PhysicalMemory.allocate(2 << 20);
        cpu = new Cpu(0, memory, CpuModel.standard());
        for (int k = 0; k < GDT_ENTRIES.length; k++) memory.writeU64(GDT + 8L * k, GDT_ENTRIES[k]);
        memory.writeU64(TSS + 4, KERNEL_STACK_TOP); // RSP0
        for (int v = 0; v < VECTORS; v++) {
            long stub = STUBS + 16L * v;
            memory.writeU8(stub, 0xF4); // HLT
            memory.writeU64(IDT + 16L * v, (stub & 0xFFFF) | 0x08L << 16 | 0x8EL << 40 | (stub >>> 16 & 0xFFFF) << 48);
            memory.writeU64(IDT + 16L * v + 8, stub >>> 32);
        }
        memory.writeU64(PML4, PDPT | 7);
        memory.writeU64(PDPT, PD | 7);
        memory.writeU64(PD, PT_LOW | 3); // supervisor only: descriptor tables, stubs, ring-0 stack
        for (int e = 0; e < 256; e++) memory.writeU64(PT_LOW + 8L * e, (long) e << 12 | 3);
        memory.writeU64(PD + 8 * (Layout.CODE_PAGE >>> 21), PT_CODE | 7);
        memory.writeU64(PT_CODE + 8 * (Layout.CODE_PAGE >>> 12 & 511), CODE_PA | 7);
        memory.writeU64(PD + 8 * (Layout.DATA >>> 21), PT_DATA | 7);
        memory.writeU64(PT_DATA + 8 * (Layout.DATA >>> 12 & 511), DATA_PA | 7 | 1L << 63);

        cpu.cr0 = CR0_PE | CR0_PG | CR0_WP | CR0_ET | CR0_NE | CR0_MP;
        cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
        cpu.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
        cpu.cr3 = PML4;
        cpu.gdtBase = GDT;
        cpu.gdtLimit = 8 * GDT_ENTRIES.length - 1;
        cpu.idtBase = IDT;
        cpu.idtLimit = 16 * VECTORS - 1;
        Segmentation.loadCache(cpu, TR, 0x30, GDT_ENTRIES[6] | 0xBL << 40);
        cpu.mmu.flushAll();
    }

    private static long tssLow(long base, long limit) {
        return (limit & 0xFFFF) | (base & 0xFF_FFFFL) << 16 | 0x89L << 40 | (limit >>> 16 & 0xF) << 48 | (base >>> 24 & 0xFF) << 56;
    }

    /** Reads {@code size} bytes of the data region at linear {@code address} (1 if outside it: the access faults anyway). */
    static long readData(Cpu cpu, long address, int size) {
        if (!Layout.inData(address, size)) return 1;
        long v = 0;
        for (int k = 0; k < size; k++) v |= (long) cpu.memory.readU8(DATA_PA + address - Layout.DATA + k) << (8 * k);
        return v;
    }

    MachineState run(TestCase c) {
        Arrays.fill(codePage, (byte) 0xCC);
        System.arraycopy(c.code, 0, codePage, 4096 - c.code.length, c.code.length);
        memory.write(CODE_PA, codePage);
        memory.write(DATA_PA, c.initialData());

        System.arraycopy(c.gpr, 0, cpu.gpr, 0, 16);
        cpu.setRflags(c.rflags);
        System.arraycopy(c.xmm, 0, cpu.xmm, 0, 32);
        cpu.mxcsr = c.mxcsr;
        cpu.cpl = 3;
        Segmentation.loadCache(cpu, CS, USER_CODE, GDT_ENTRIES[5]);
        for (int s : new int[] {ES, SS, DS, FS, GS}) Segmentation.loadCache(cpu, s, USER_DATA, GDT_ENTRIES[4]);
        cpu.updateMode();
        cpu.rip = c.codeAddress();
        cpu.halted = false;
        cpu.cr2 = 0;
        undefinedFlags = taintedRegisters = 0;

        MachineState s = new MachineState();
        Exit exit = c.singleStep ? stepThrough(c) : cpu.run(BUDGET);
        if (exit != Exit.HALT) {
            s.outcome = exit instanceof Exit.BudgetExhausted ? MachineState.Outcome.TIMEOUT : MachineState.Outcome.ERROR;
            s.detail = exit.toString();
            s.rip = cpu.rip;
            System.arraycopy(cpu.gpr, 0, s.gpr, 0, 16);
            s.rflags = cpu.getRflags();
            s.mxcsr = cpu.mxcsr;
            System.arraycopy(cpu.xmm, 0, s.xmm, 0, 32);
            s.data = memory.read(DATA_PA, Layout.DATA_SIZE);
            return s;
        }
        long stub = cpu.rip - 1 - STUBS;
        if (cpu.cpl != 0 || stub < 0 || stub >= 16L * VECTORS || stub % 16 != 0) {
            throw new IllegalStateException(String.format("emulator halted outside the exception stubs at %#x", cpu.rip));
        }
        int vector = (int) (stub / 16);
        long frame = cpu.gpr[RSP];
        int skip = KERNEL_STACK_TOP - frame == 48 ? 8 : 0; // error code
        s.rip = memory.readU64(frame + skip);
        s.rflags = memory.readU64(frame + skip + 16);
        System.arraycopy(cpu.gpr, 0, s.gpr, 0, 16);
        s.gpr[RSP] = memory.readU64(frame + skip + 24);
        s.mxcsr = cpu.mxcsr;
        System.arraycopy(cpu.xmm, 0, s.xmm, 0, 32);
        s.data = memory.read(DATA_PA, Layout.DATA_SIZE);
        if (vector == EXC_PF && cpu.cr2 == Layout.CODE_END && s.rip == Layout.CODE_END) {
            s.outcome = MachineState.Outcome.COMPLETED;
        } else {
            s.outcome = MachineState.Outcome.FAULT;
            s.vector = vector;
            s.faultAddress = vector == EXC_PF ? cpu.cr2 : 0;
            if (skip != 0) s.detail = String.format("error code %#x", memory.readU64(frame));
        }
        return s;
    }

    /** Runs one instruction at a time, refining the undefined-flag and register masks from each step's effect. */
    private Exit stepThrough(TestCase c) {
        Step.Effect e = new Step.Effect();
        for (int n = 0; n < BUDGET; n++) {
            Step step = cpu.cpl == 3 ? c.stepAt(cpu.rip) : null;
            if (step != null) {
                if (step.dynamic != null) {
                    step.dynamic.effect(cpu, e);
                } else {
                    e.written = step.written;
                    e.undefined = step.undefined;
                    e.taintedRegisters = 0;
                }
            }
            Exit exit = cpu.run(1);
            if (step != null && cpu.cpl == 3) {
                undefinedFlags = (undefinedFlags & ~e.written) | e.undefined;
                taintedRegisters |= e.taintedRegisters;
            }
            if (!(exit instanceof Exit.BudgetExhausted)) return exit;
        }
        return Exit.BUDGET_EXHAUSTED;
    }

    @Override
    public void close() {
        cpu.detach();
        memory.close();
    }
}
