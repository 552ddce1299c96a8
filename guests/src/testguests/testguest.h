/* Shared declarations of the test guest: hardware access primitives and the small library
 * (console, PASS/FAIL, boot facts, interrupts, timing, ACPI, fw_cfg). */
#ifndef TESTGUEST_H
#define TESTGUEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Port I/O, MMIO, MSRs, CPUID, TSC ---- */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint32_t mmio_read32(uintptr_t addr) { return *(volatile uint32_t *)addr; }
static inline void mmio_write32(uintptr_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

struct cpuid_result { uint32_t eax, ebx, ecx, edx; };

static inline struct cpuid_result cpuid(uint32_t leaf)
{
    struct cpuid_result r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(0));
    return r;
}

/* LFENCE keeps RDTSC from executing ahead of earlier instructions (SDM: RDTSC is not serializing). */
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static inline void cli(void) { __asm__ volatile("cli" : : : "memory"); }
static inline void sti(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" : : : "memory"); }

/* ---- Console, PASS/FAIL, exit (lib.c) ---- */

/* 16550A registers, as offsets from the base port (DLL/DLM when LCR.DLAB is set). */
#define COM1 0x3F8
enum uart_register {
    UART_DATA = 0, UART_DLL = 0, UART_IER = 1, UART_DLM = 1, UART_IIR = 2, UART_FCR = 2,
    UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCRATCH = 7,
};
#define UART_LSR_DATA_READY 0x01
#define UART_LSR_THR_EMPTY 0x20
#define UART_LSR_TRANSMITTER_EMPTY 0x40

void console_init(void);
/* printf subset: %s %c %u %x, %lu %lx for 64-bit values, a '0' flag and a field width. */
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "FAIL <scenario>: <message>" and exits with status 1 through isa-debug-exit. */
_Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* isa-debug-exit (port 0xF4): QEMU exits with status (code << 1) | 1. */
_Noreturn void exit_guest(uint8_t code);
static inline const char *yes_no(bool b) { return b ? "yes" : "no"; }
/* Prints "<check>: yes", or "<check>: no" and FAILs with the check as the reason. */
void check(const char *what, bool ok);

extern const char *scenario_name;

/* ---- Memory and strings (lib.c; gcc may also call memcpy/memset itself) ---- */

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* ---- Boot facts and command line (lib.c) ---- */

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002
#define MULTIBOOT_INFO_MEMORY (1u << 0)
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MEM_MAP (1u << 6)
#define MULTIBOOT_MEMORY_AVAILABLE 1
#define MAX_MMAP_ENTRIES 32

struct mmap_entry { uint64_t base, length; uint32_t type; };

/* The multiboot information, copied out of the loader's memory at entry so that scenarios may
 * overwrite any RAM the guest image does not occupy. */
struct boot_facts {
    uint32_t flags, mem_lower_kib, mem_upper_kib;
    char cmdline[512];
    unsigned mmap_count;
    struct mmap_entry mmap[MAX_MMAP_ENTRIES];
};
extern struct boot_facts boot;
void boot_facts_copy(uint32_t multiboot_info_address);

/* The end of the available RAM that starts at 1 MiB, by the memory map (or else mem_upper). */
uint64_t multiboot_ram_top(void);
/* Whether a RAM size that firmware reports (fw_cfg, CMOS) agrees with the top of multiboot's RAM:
 * firmware may keep a little at the top for itself (SeaBIOS: 128 KiB), so up to 1 MiB more. */
bool ram_size_agrees(uint64_t firmware_bytes, uint64_t multiboot_top);

/* The command line from the scenario name on, and the words after the scenario name. */
extern const char *scenario_command, *scenario_args;
/* The value of "key=N" among the scenario arguments (decimal, or hex with 0x), or dflt. */
uint64_t arg_u64(const char *key, uint64_t dflt);
/* Whether "key=value" is among the scenario arguments. */
bool arg_is(const char *key, const char *value);

/* The guest image in memory, from the linker script. */
extern char __image_start[], __bss_end[];

/* ---- Interrupts, 8259A PIC, local APIC (intr.c) ---- */

struct interrupt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code, rip, cs, rflags, rsp, ss;
};
typedef void (*interrupt_handler)(struct interrupt_frame *frame);

void interrupts_init(void);
void interrupts_load(void);
void set_interrupt_handler(uint8_t vector, interrupt_handler handler);
void interrupt_dispatch(struct interrupt_frame *frame);

#define PIC_MASTER_VECTOR 0x20
#define PIC_SLAVE_VECTOR 0x28
/* Initialises both 8259As (ICW1-ICW4) with the vectors above, leaves only the IRQs whose bits are
 * set in enabled_irqs unmasked, and puts the local APIC in virtual-wire mode. */
void pic_init(uint16_t enabled_irqs);
void pic_eoi(unsigned irq);

#define LAPIC_BASE 0xFEE00000u
enum lapic_register {
    LAPIC_ID = 0x20, LAPIC_TPR = 0x80, LAPIC_EOI = 0xB0, LAPIC_SPURIOUS = 0xF0, LAPIC_ERROR_STATUS = 0x280,
    LAPIC_ICR_LOW = 0x300, LAPIC_ICR_HIGH = 0x310, LAPIC_LVT_TIMER = 0x320,
    LAPIC_LVT_LINT0 = 0x350, LAPIC_LVT_LINT1 = 0x360, LAPIC_TIMER_INITIAL = 0x380,
    LAPIC_TIMER_CURRENT = 0x390, LAPIC_TIMER_DIVIDE = 0x3E0,
};
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_TIMER_TSC_DEADLINE (2u << 17)
#define LAPIC_TIMER_DIVIDE_BY_16 0x3
#define LAPIC_SPURIOUS_VECTOR 0xFF

static inline uint32_t lapic_read(enum lapic_register reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(enum lapic_register reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
static inline uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
/* Software-enables this CPU's local APIC (spurious-interrupt vector register). */
void lapic_enable(void);

/* Waits until *count reaches target, sleeping in HLT with interrupts enabled. A one-shot local
 * APIC timer bounds the wait, so a device that never interrupts ends in FAIL, not a hang. */
void await_count(volatile uint32_t *count, uint32_t target, uint32_t timeout_ms, const char *what);
/* The same, busy-polling against the TSC: for waits on the local APIC timer itself. */
void spin_count(volatile uint32_t *count, uint32_t target, uint32_t timeout_ms, const char *what);

/* ---- Timing (timing.c) ---- */

#define PIT_HZ 1193182u
#define PIT_DIVISOR_1000HZ 1193
/* Channel 0 as the system timer: mode 2 (rate generator), 1193182 / 1193 = 1000 Hz on IRQ0. */
void pit_channel0_start_1000hz(void);
/* Busy-waits with PIT channel 2 (gated through port 0x61, mode 0, OUT2 polled). */
void pit_wait_us(uint32_t us);
/* The rate of `clock` in ticks per second, against 40 ms of PIT channel 2 (Linux's quick PIT
 * calibration: latched channel 2 counts, each read between two clock reads). A host that stalls the
 * guest at either end spoils a measurement, which is then repeated; FAIL after 20. */
uint64_t clock_rate_hz(uint64_t (*clock)(void), const char *what);
/* TSC ticks per millisecond, calibrated against PIT channel 2 on first use. */
uint64_t tsc_per_ms(void);
/* Local APIC timer ticks per millisecond at divide-by-16, calibrated against PIT channel 2. */
uint32_t lapic_timer_per_ms(void);
static inline uint64_t tsc_deadline_after_ms(uint32_t ms) { return rdtsc() + ms * tsc_per_ms(); }
static inline bool tsc_passed(uint64_t deadline) { return (int64_t)(rdtsc() - deadline) >= 0; }

/* ---- ACPI tables (acpi.c) ---- */

struct acpi_rsdp {
    char signature[8];
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt_address;
    uint32_t length;            /* revision >= 2 from here on */
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));

#define MAX_ACPI_TABLES 32
#define MAX_CPUS 64

bool acpi_checksum_ok(const void *bytes, size_t length);
/* The RSDP, found as an OS does (first KiB of the EBDA, then 0xE0000-0xFFFFF), checksums verified. */
const struct acpi_rsdp *acpi_find_rsdp(void);
/* The tables the XSDT (revision >= 2) or else the RSDT lists, checksums verified (FAIL if wrong). */
unsigned acpi_root_tables(const struct acpi_rsdp *rsdp, const struct acpi_header **tables, unsigned max);
/* A table with the given signature from the root table, or NULL. */
const struct acpi_header *acpi_find_table(const char signature[4]);

/* What the MADT ("APIC") says about the CPUs, the first I/O APIC and ISA IRQ 0. */
struct madt_facts {
    unsigned cpu_count;                 /* enabled processor local APIC entries */
    uint8_t cpu_apic_ids[MAX_CPUS];
    bool has_ioapic;
    uint8_t ioapic_id;
    uint32_t ioapic_address, ioapic_gsi_base;
    bool irq0_overridden;
    uint32_t irq0_gsi;
    uint16_t irq0_flags;                /* MPS INTI flags: polarity bits 1:0, trigger bits 3:2 */
};
/* Reads the MADT; FAIL if there is none. */
void madt_read(struct madt_facts *facts);

/* ---- QEMU fw_cfg, traditional interface (fwcfg.c) ---- */

enum fw_cfg_key {
    FW_CFG_SIGNATURE = 0x00, FW_CFG_ID = 0x01, FW_CFG_RAM_SIZE = 0x03, FW_CFG_NB_CPUS = 0x05,
    FW_CFG_FILE_DIR = 0x19,
};
void fw_cfg_select(enum fw_cfg_key key);
void fw_cfg_read(void *buffer, size_t length);
/* Whether key 0 reads "QEMU". */
bool fw_cfg_present(void);
/* A little-endian item of 1 to 8 bytes. */
uint64_t fw_cfg_read_le(enum fw_cfg_key key, unsigned bytes);

/* ---- PCI configuration space of bus 0 (pci.c) ---- */

enum pci_config_register {
    PCI_ID = 0x00, PCI_COMMAND = 0x04, PCI_CLASS = 0x08, PCI_HEADER = 0x0C, PCI_BAR0 = 0x10,
    PCI_INTERRUPT = 0x3C,
};
#define PCI_COMMAND_IO_SPACE 0x1
#define PCI_COMMAND_BUS_MASTER 0x4
#define PCI_HEADER_MULTI_FUNCTION 0x80
/* PCI_ID as a dword: the device ID in the high half, the vendor ID in the low half. */
#define PCI_ID_OF(vendor, device) ((uint32_t)(device) << 16 | (vendor))

uint32_t pci_read(unsigned device, unsigned function, enum pci_config_register reg);
void pci_write(unsigned device, unsigned function, enum pci_config_register reg, uint32_t v);
/* How many functions to look at in slot `device`: 0 if it is empty, 8 if function 0 says it is a
 * multi-function device, else 1 (absent functions among the 8 read vendor ID FFFFh). */
unsigned pci_function_slots(unsigned device);
/* The first function on bus 0 whose PCI_ID dword is `id`; false if there is none. */
bool pci_find(uint32_t id, unsigned *device, unsigned *function);

/* ---- Legacy virtio over PCI, virtio 0.9.5 (virtio.c) ---- */

#define VIRTIO_VENDOR 0x1AF4
/* The registers in BAR0's I/O space (virtio 0.9.5, 2.2.2); without MSI-X the device-specific
 * configuration follows at 0x14. */
enum virtio_register {
    VIRTIO_HOST_FEATURES = 0x00, VIRTIO_GUEST_FEATURES = 0x04, VIRTIO_QUEUE_PFN = 0x08,
    VIRTIO_QUEUE_SIZE = 0x0C, VIRTIO_QUEUE_SELECT = 0x0E, VIRTIO_QUEUE_NOTIFY = 0x10,
    VIRTIO_STATUS = 0x12, VIRTIO_ISR_STATUS = 0x13, VIRTIO_DEVICE_CONFIG = 0x14,
};
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_ALIGN 4096
/* The memory a queue of up to 256 entries takes: descriptors and available ring, padded to a
 * page, then the used ring. */
#define VIRTQ_MEMORY_256 (3 * VIRTQ_ALIGN)

struct virtq_desc { uint64_t address; uint32_t length; uint16_t flags, next; };
struct virtq_avail { uint16_t flags, index, ring[]; };
struct virtq_used_elem { uint32_t id, length; };
struct virtq_used { uint16_t flags, index; struct virtq_used_elem ring[]; };

/* A device found on PCI bus 0, driven through its legacy registers; `name` is for messages. */
struct virtio_device {
    const char *name;
    unsigned pci_device, pci_function;
    uint16_t io;
};

/* One split virtqueue in guest memory, as the driver sees it. */
struct virtqueue {
    uint16_t index, size;
    struct virtq_desc *descriptors;
    struct virtq_avail *avail;
    volatile struct virtq_used *used;
    uint16_t used_taken;        /* used-ring entries the driver has taken */
};

/* Enables the function's I/O decoding and bus mastering, then the first steps of device
 * initialisation (virtio 0.9.5, 2.2.1): reset, ACKNOWLEDGE, DRIVER. Returns the features the
 * device offers. FAIL if BAR0 is not an assigned I/O range. */
uint32_t virtio_start(struct virtio_device *dev, const char *name, unsigned pci_device, unsigned pci_function);
void virtio_accept_features(const struct virtio_device *dev, uint32_t features);
/* Sets up queue `index` in `memory` (page-aligned, `bytes` long, zeroed here) and gives its page
 * frame to the device. FAIL if the device has no such queue or it does not fit. */
void virtio_queue_setup(const struct virtio_device *dev, struct virtqueue *q, uint16_t index, void *memory, size_t bytes);
void virtio_driver_ok(const struct virtio_device *dev);
/* Writing 0 to the status resets the device: it stops using the queues and forgets them. */
void virtio_reset(const struct virtio_device *dev);
uint8_t virtio_config_read8(const struct virtio_device *dev, unsigned offset);
uint16_t virtio_config_read16(const struct virtio_device *dev, unsigned offset);
/* Reads and so clears the ISR status (bit 0 a used buffer, bit 1 a configuration change), which
 * deasserts the device's INTx#. */
uint8_t virtio_acknowledge_interrupt(const struct virtio_device *dev);
/* Puts the chain that starts at descriptor `head` in the available ring, without notifying. */
void virtq_make_available(struct virtqueue *q, uint16_t head);
void virtio_notify(const struct virtio_device *dev, const struct virtqueue *q);
/* Takes the next entry the device put in the used ring, if there is one. */
bool virtq_take_used(struct virtqueue *q, struct virtq_used_elem *elem);

static inline uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint16_t bswap16(uint16_t v) { return __builtin_bswap16(v); }
static inline uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

/* ---- Scenarios ---- */

void scenario_hello(void);
void scenario_debugexit(void);
void scenario_exitloop(void);
void scenario_scribble(void);
void scenario_pit(void);
void scenario_apic_timer(void);
void scenario_rtc(void);
void scenario_ioapic(void);
void scenario_smp(void);
void scenario_fwcfg(void);
void scenario_acpi(void);
void scenario_serial(void);
void scenario_pci(void);
void scenario_net(void);
void scenario_tpr(void);

#endif
