package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.decode.Decoder;

/**
 * Writes of the control and debug registers with the checks of SDM Vol. 3A, 2.5 and the
 * "MOV—Move to/from Control Registers" and "MOV—Move to/from Debug Registers" pages of Vol. 2B,
 * and their side effects: IA-32e mode activation (EFER.LMA), PDPTE loads for PAE paging, TLB
 * flushes (SDM Vol. 3A, 4.10.4.1) and the derived mode. Every check runs before any register
 * changes, so a #GP leaves the processor untouched.
 */
public final class ControlRegisters {
    private ControlRegisters() {}

    /** CR0 bits this processor implements; the other low bits are ignored on write, ET reads as 1. */
    static final long CR0_IMPLEMENTED = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM
            | CR0_NW | CR0_CD | CR0_PG;

    /**
     * CR4 bits this processor implements (those CPUID advertises); setting any other bit (VME, PVI,
     * UMIP, LA57, VMXE, SMXE, PKE, CET, ...) raises #GP(0).
     */
    public static final long CR4_IMPLEMENTED = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE
            | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_FSGSBASE | CR4_PCIDE | CR4_OSXSAVE | CR4_SMEP | CR4_SMAP;

    /** CR4 bits whose change invalidates every TLB entry, global ones included. */
    private static final long CR4_FLUSH_ALL = CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_SMAP | CR4_PCIDE;
    /** CR4 bits whose change reloads the PDPTEs when PAE paging is in use (SDM Vol. 3A, 4.4.1). */
    private static final long CR4_PDPTE_RELOAD = CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP | CR4_SMAP;

    static final long DR7_GD = 1L << 13;
    static final long DR6_BD = 1L << 13;

    private static boolean paePaging(long cr0, long cr4, long efer) {
        return (cr0 & CR0_PG) != 0 && (cr4 & CR4_PAE) != 0 && (efer & EFER_LMA) == 0;
    }

    /** MOV to CR0 (and LMSW, which passes the merged value). */
    public static void writeCr0(Cpu c, long value) {
        if ((value >>> 32) != 0) throw c.gp0();
        long v = (value & CR0_IMPLEMENTED) | CR0_ET;
        if ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) throw c.gp0();
        if ((v & CR0_NW) != 0 && (v & CR0_CD) == 0) throw c.gp0();
        long old = c.cr0;
        long efer = c.efer;
        boolean enablesPaging = (v & CR0_PG) != 0 && (old & CR0_PG) == 0;
        boolean disablesPaging = (v & CR0_PG) == 0 && (old & CR0_PG) != 0;
        if (enablesPaging && (efer & EFER_LME) != 0) {
            // Activating IA-32e mode: PAE paging must be enabled, CS must not be a 64-bit segment
            // yet and TR must not hold a 16-bit TSS (SDM Vol. 3A, 10.8.5).
            if ((c.cr4 & CR4_PAE) == 0) throw c.gp0();
            if ((c.segAttr[CS] & Segmentation.AR_L) != 0) throw c.gp0();
            if ((c.segAttr[TR] & Segmentation.AR_TYPE) <= 3) throw c.gp0();
            efer |= EFER_LMA;
        }
        if (disablesPaging) {
            if (c.codeMode == Decoder.CODE64) throw c.gp0();
            if ((c.cr4 & CR4_PCIDE) != 0) throw c.gp0();
            efer &= ~EFER_LMA;
        }
        boolean reloadPdptes = paePaging(v, c.cr4, efer) && ((old ^ v) & (CR0_PG | CR0_CD | CR0_NW)) != 0;
        if (reloadPdptes && !c.mmu.pdptesValid(c.cr3)) throw c.gp0();
        c.cr0 = v;
        c.efer = efer;
        if (((old ^ v) & (CR0_PG | CR0_WP | CR0_CD)) != 0) c.mmu.flushAll();
        if (reloadPdptes) c.mmu.loadPdptes(c.cr3);
        c.updateMode();
    }

    /** MOV to CR3. {@code value} is the 64-bit source in 64-bit mode, the zero-extended 32-bit one otherwise. */
    public static void writeCr3(Cpu c, long value) {
        // Under shadow paging the load already took effect before the exit the VMM answered.
        if (c.mmu.resumingShadowExit()) return;
        long v = value;
        if (c.codeMode == Decoder.CODE64) {
            // With CR4.PCIDE, bit 63 asks not to flush the new PCID's entries; it is not stored.
            if ((c.cr4 & CR4_PCIDE) != 0) v &= ~(1L << 63);
            if ((v >>> c.model.physicalAddressBits()) != 0) throw c.gp0();
        } else {
            v &= 0xFFFF_FFFFL;
        }
        boolean reloadPdptes = paePaging(c.cr0, c.cr4, c.efer);
        if (reloadPdptes && !c.mmu.pdptesValid(v)) throw c.gp0();
        c.cr3 = v;
        // The TLB is not tagged with PCIDs, so every CR3 load drops the non-global entries, also
        // when bit 63 would allow keeping them: keeping them would leak the old address space.
        c.mmu.flushNonGlobal();
        if (reloadPdptes) c.mmu.loadPdptes(v);
        c.updateMode();
        c.mmu.cr3Loaded(v);
    }

    /** MOV to CR4. */
    public static void writeCr4(Cpu c, long value) {
        if ((value & ~CR4_IMPLEMENTED) != 0) throw c.gp0();
        long old = c.cr4;
        boolean lma = (c.efer & EFER_LMA) != 0;
        if (lma && (value & CR4_PAE) == 0) throw c.gp0();
        if ((value & CR4_PCIDE) != 0 && (old & CR4_PCIDE) == 0) {
            if (!lma || (c.cr3 & 0xFFF) != 0) throw c.gp0();
        }
        boolean reloadPdptes = paePaging(c.cr0, value, c.efer) && ((old ^ value) & CR4_PDPTE_RELOAD) != 0;
        if (reloadPdptes && !c.mmu.pdptesValid(c.cr3)) throw c.gp0();
        c.cr4 = value;
        if (((old ^ value) & CR4_FLUSH_ALL) != 0) c.mmu.flushAll();
        if (reloadPdptes) c.mmu.loadPdptes(c.cr3);
        c.updateMode();
    }

    /** MOV to CR8: the task-priority register, bits 3:0 (the local APIC's TPR bits 7:4, SDM Vol. 3A 11.8.6). */
    public static void writeCr8(Cpu c, long value) {
        if ((value & ~0xFL) != 0) throw c.gp0();
        if (c.cr8Exits) c.exitOrReplay(new Exit.Cr8Write(value));
        c.cr8 = value;
    }

    /** MOV to CR2. */
    public static void writeCr2(Cpu c, long value) {
        c.cr2 = value;
    }

    public static long readCr(Cpu c, int cr) {
        return switch (cr) {
            case 0 -> c.cr0;
            case 2 -> c.cr2;
            case 3 -> c.cr3;
            case 4 -> c.cr4;
            default -> c.cr8;
        };
    }

    /** Whether CRn exists (CR0, CR2, CR3, CR4, CR8); the others raise #UD. */
    static boolean crExists(int cr) {
        return cr == 0 || cr == 2 || cr == 3 || cr == 4 || cr == 8;
    }

    public static void writeCr(Cpu c, int cr, long value) {
        switch (cr) {
            case 0 -> writeCr0(c, value);
            case 2 -> writeCr2(c, value);
            case 3 -> writeCr3(c, value);
            case 4 -> writeCr4(c, value);
            default -> writeCr8(c, value);
        }
    }

    // ---- debug registers ----

    /**
     * The checks common to MOV from and to DRn: DR8-15 do not exist (#UD), CPL 0 (#GP(0)), DR4/DR5
     * raise #UD with CR4.DE and alias DR6/DR7 otherwise, and DR7.GD turns any access into a #DB
     * with DR6.BD set and GD cleared so the handler can use the registers (SDM Vol. 3A, 19.2.4).
     * Returns the register actually accessed.
     */
    static int checkDebugAccess(Cpu c, int dr) {
        if (dr > 7) throw c.ud();
        if (c.cpl != 0) throw c.gp0();
        if (dr == 4 || dr == 5) {
            if ((c.cr4 & CR4_DE) != 0) throw c.ud();
            dr += 2;
        }
        if ((c.dr[7] & DR7_GD) != 0) {
            c.dr[7] &= ~DR7_GD;
            c.dr[6] |= DR6_BD;
            throw c.fault(EXC_DB);
        }
        return dr;
    }

    /**
     * Writes DRn (n already resolved by {@link #checkDebugAccess}). DR6 and DR7 keep their fixed
     * bits (DR6: 31:16 and 11:4 read as 1, 12 as 0; DR7: 10 reads as 1, 11, 12, 14, 15 as 0);
     * setting any of their bits 63:32 raises #GP(0).
     */
    static void writeDebug(Cpu c, int dr, long value) {
        switch (dr) {
            case 6 -> {
                if ((value >>> 32) != 0) throw c.gp0();
                c.dr[6] = (value & 0xE00FL) | 0xFFFF_0FF0L;
            }
            case 7 -> {
                if ((value >>> 32) != 0) throw c.gp0();
                c.dr[7] = (value & 0xFFFF_23FFL) | 0x400L;
            }
            default -> c.dr[dr] = value;
        }
    }
}
