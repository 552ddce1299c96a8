/*
 * The symbiotic interface between the LWK and the VMM, byte-compatible with Palacios' SymSpy and
 * SymCall (see ../shared/reference/palacios.md, sections 6.2-6.9), plus the state this kernel
 * publishes in the SymSpy pages beyond Palacios' fields. The VMM side (module symbiotic) uses the
 * same numbers and offsets.
 */
#ifndef LWK_SYMBIOTIC_H
#define LWK_SYMBIOTIC_H

/* Discovery: CPUID leaf 0x90000000 returns "V3V" in EAX when the VMM is symbiotic. */
#define SYM_CPUID_LEAF        0x90000000u
#define SYM_CPUID_MAGIC       0x00563356u     /* "V3V", little-endian */

/* SymSpy: the guest writes the guest-physical address of a page it allocated (4 KiB aligned). */
#define SYMSPY_GLOBAL_MSR     0x534u          /* one page for the VM */
#define SYMSPY_LOCAL_MSR      0x535u          /* one page per vCPU */

/* SymCall registration MSRs (0x53A-0x53F are not used). SS = CS + 8. */
#define SYMCALL_RIP_MSR       0x536u
#define SYMCALL_RSP_MSR       0x537u
#define SYMCALL_CS_MSR        0x538u
#define SYMCALL_GS_MSR        0x539u
#define SYMCALL_FS_MSR        0x540u

/* Return hypercalls (VMMCALL or VMCALL, number in RAX). */
#define SYMCALL_RET_HCALL     0x535u          /* success: results in RBX, RCX, RDX, RSI, RDI */
#define SYMCALL_ERR_HCALL     0x536u          /* failure: RBX = errno */

/* Call numbers (RAX on entry; arguments in RBX, RCX, RDX, RSI, RDI). */
#define SYMCALL_TEST          1u   /* returns RBX+1, RCX+2, RDX+3, RSI+4, RDI+5 */
#define SYMCALL_MEM_LOOKUP    10u  /* the paper's query_vaddr, below */

/*
 * MEM_LOOKUP: RBX = a user virtual address of the current process, RCX = the value of the PTE
 * the VMM found for it (a swap entry, abi.h's LWK_SWP_ENTRY layout). Returns:
 *   RBX = the address, or 0 if the VMM must not map the page itself (no such region, or the
 *         PTE no longer holds that swap entry)
 *   RCX = the region's permissions as x86 page-fault error-code bits: SYM_PERM_PRESENT (the
 *         address is in a region of the process), SYM_PERM_WRITE, SYM_PERM_USER
 *   RDX = the current process id
 *   RSI = 1 if the swap slot's page is in the swap cache (resident in guest memory), else 0
 * The handler never blocks, never faults and changes nothing.
 */
#define SYM_PERM_PRESENT      0x1u
#define SYM_PERM_WRITE        0x2u
#define SYM_PERM_USER         0x4u

/* errno values for SYMCALL_ERR_HCALL. */
#define SYM_ENOSYS            38u  /* unknown call number */

/* Global SymSpy page (Palacios' layout at 0..139, then this kernel's state from 256). */
#define SYMSPY_MAGIC_OFF         0      /* 8 bytes: "V3V" and zeros, written by the VMM */
#define SYMSPY_FEATURES_OFF      8      /* u32 feature flags (VMM) */
#define SYMSPY_PCI_MAP_OFF       12     /* 128 bytes: passthrough PCI bitmap (VMM) */
#define SYMSPY_G_VERSION_OFF     256    /* u32: 1 once the guest filled its fields */
#define SYMSPY_G_SWAP_TYPE_OFF   260    /* u32: the swap area's type (LWK_SWP_TYPE of its entries) */
#define SYMSPY_G_SWAP_PAGES_OFF  264    /* u64: slots in the swap area, 0 without swap */
#define SYMSPY_G_SWAP_SECTOR_OFF 272    /* u64: first disk sector of slot 0 */
#define SYMSPY_G_SWAP_OUTS_OFF   280    /* u64: pages written to swap so far */
#define SYMSPY_G_SWAP_INS_OFF    288    /* u64: pages read back from swap so far */

/* Local (per-vCPU) SymSpy page (Palacios' layout at 0..11, then this kernel's state from 64). */
#define SYMSPY_L_MAGIC_OFF       0      /* 8 bytes: "V3V." and the vCPU id in decimal (VMM) */
#define SYMSPY_L_FLAGS_OFF       8      /* u32: bit 0 symcall active (VMM), bit 1 symcall enabled (guest) */
#define SYMSPY_L_SYMCALL_ACTIVE  0x1u
#define SYMSPY_L_SYMCALL_ENABLED 0x2u
#define SYMSPY_L_PID_OFF         64     /* u32: the process running on this CPU, 0 when idle */
#define SYMSPY_L_CR3_OFF         72     /* u64: its page-table root (guest-physical) */
#define SYMSPY_L_SWITCHES_OFF    80     /* u64: context switches on this CPU */

#endif
