/* Firmware interface scenarios: QEMU's fw_cfg (docs/specs/fw_cfg.rst) and the ACPI tables with
 * the PM timer. */
#include "testguest.h"

#define FW_CFG_ID_TRADITIONAL (1u << 0)
#define FW_CFG_ID_DMA (1u << 1)
#define FW_CFG_FILE_FIRST 0x20
#define FW_CFG_PORT_DMA_HIGH 0x514
#define FW_CFG_PORT_DMA_LOW 0x518
#define FW_CFG_DMA_ERROR (1u << 0)
#define FW_CFG_DMA_READ (1u << 1)
#define FW_CFG_DMA_SELECT (1u << 3)

/* The file directory's entries (all fields big-endian). */
struct fw_cfg_file {
    uint32_t size;
    uint16_t select;
    uint16_t reserved;
    char name[56];
} __attribute__((packed));

/* The DMA interface's request (all fields big-endian); the device clears control when done. */
struct fw_cfg_dma_access {
    uint32_t control;
    uint32_t length;
    uint64_t address;
} __attribute__((packed));

static bool name_terminated(const char *name, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (!name[i]) return i > 0;
    }
    return false;
}

/* Reads the directory: checks every entry (a terminated name, a file selector), their order by
 * name, and notes the ACPI files. */
static bool read_file_directory(bool *has_rsdp, bool *has_tables)
{
    uint32_t count;
    fw_cfg_select(FW_CFG_FILE_DIR);
    fw_cfg_read(&count, sizeof count);
    count = bswap32(count);
    if (count == 0 || count > 4096) return false;
    struct fw_cfg_file previous = { 0 }, file;
    for (uint32_t i = 0; i < count; i++) {
        fw_cfg_read(&file, sizeof file);
        if (!name_terminated(file.name, sizeof file.name) || bswap16(file.select) < FW_CFG_FILE_FIRST) return false;
        if (i > 0 && strcmp(previous.name, file.name) >= 0) return false;
        if (strcmp(file.name, "etc/acpi/rsdp") == 0) *has_rsdp = true;
        if (strcmp(file.name, "etc/acpi/tables") == 0) *has_tables = true;
        previous = file;
    }
    return true;
}

/* The signature read through the DMA interface: the request's address goes to port 0x514 as a
 * big-endian 64-bit value, high half first; writing the low half starts the transfer. */
static bool dma_signature_ok(void)
{
    static volatile struct fw_cfg_dma_access access __attribute__((aligned(16)));
    static volatile char signature[4];
    access.control = bswap32((FW_CFG_SIGNATURE << 16) | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ);
    access.length = bswap32(sizeof signature);
    access.address = bswap64((uint64_t)(uintptr_t)signature);
    uint64_t address = (uint64_t)(uintptr_t)&access;
    __asm__ volatile("" : : : "memory");
    outl(FW_CFG_PORT_DMA_HIGH, bswap32((uint32_t)(address >> 32)));
    outl(FW_CFG_PORT_DMA_LOW, bswap32((uint32_t)address));
    uint64_t deadline = tsc_deadline_after_ms(100);
    while (bswap32(access.control) & ~FW_CFG_DMA_ERROR) {
        if (tsc_passed(deadline)) fail("the fw_cfg DMA request did not complete in 100 ms");
    }
    return !(bswap32(access.control) & FW_CFG_DMA_ERROR) && memcmp((const char *)signature, "QEMU", 4) == 0;
}

/* The sum of the available RAM in the multiboot memory map. */
static uint64_t multiboot_available_ram(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < boot.mmap_count; i++) {
        if (boot.mmap[i].type == MULTIBOOT_MEMORY_AVAILABLE) total += boot.mmap[i].length;
    }
    return total;
}

/* "fwcfg": signature, interface ID, CPU count, RAM size, the file directory, and the DMA interface
 * when offered. */
void scenario_fwcfg(void)
{
    check("fw_cfg signature QEMU", fw_cfg_present());
    uint32_t id = (uint32_t)fw_cfg_read_le(FW_CFG_ID, 4);
    print("fw_cfg id traditional %s dma %s\n", yes_no(id & FW_CFG_ID_TRADITIONAL), yes_no(id & FW_CFG_ID_DMA));
    print("fw_cfg cpus %lu\n", fw_cfg_read_le(FW_CFG_NB_CPUS, 2));
    uint64_t ram_size = fw_cfg_read_le(FW_CFG_RAM_SIZE, 8);
    print("fw_cfg ram %lu MiB\n", ram_size >> 20);
    /* Below the PCI hole all RAM is one range from 0; the map leaves out only firmware's bits
     * (EBDA, the top 128 KiB for SeaBIOS) and the legacy hole at 640 KiB-1 MiB. */
    check("fw_cfg ram agrees with multiboot", ram_size_agrees(ram_size, multiboot_ram_top())
                                              && multiboot_available_ram() <= ram_size);
    bool has_rsdp = false, has_tables = false;
    if (!read_file_directory(&has_rsdp, &has_tables)) fail("the fw_cfg file directory is malformed or not sorted by name");
    print("fw_cfg files: ok\n");
    print("fw_cfg etc/acpi/rsdp %s etc/acpi/tables %s\n", has_rsdp ? "found" : "absent", has_tables ? "found" : "absent");
    if (id & FW_CFG_ID_DMA) check("fw_cfg dma signature QEMU", dma_signature_ok());
}

/* ---- acpi ---- */

#define FADT_FACS 36
#define FADT_DSDT 40
#define FADT_PM_TIMER_BLOCK 76
#define FADT_PM_TIMER_LENGTH 91
#define FADT_FLAGS 112
#define FADT_X_FACS 132
#define FADT_X_DSDT 140
#define FADT_TIMER_32_BIT (1u << 8)   /* TMR_VAL_EXT */
#define PM_TIMER_HZ 3579545u

static uint32_t fadt_u32(const struct acpi_header *fadt, unsigned offset)
{
    uint32_t v;
    memcpy(&v, (const uint8_t *)fadt + offset, sizeof v);
    return v;
}

/* A 64-bit X_ field when the FADT is long enough to have it and it is set, else the 32-bit one. */
static uint64_t fadt_address(const struct acpi_header *fadt, unsigned offset32, unsigned offset64)
{
    uint64_t v = 0;
    if (fadt->length >= offset64 + 8) memcpy(&v, (const uint8_t *)fadt + offset64, sizeof v);
    return v ? v : fadt_u32(fadt, offset32);
}

static uint16_t pm_timer_port;
static uint32_t pm_timer_mask;
static uint64_t pm_timer_extended;

/* The PM timer as a 64-bit clock: it wraps every 4.7 s (24 bits), far longer than one measurement. */
static uint64_t pm_timer_clock(void)
{
    uint32_t now = inl(pm_timer_port) & pm_timer_mask;
    pm_timer_extended += (now - (uint32_t)pm_timer_extended) & pm_timer_mask;
    return pm_timer_extended;
}

static void sort_signatures(char (*signatures)[5], unsigned count)
{
    for (unsigned i = 1; i < count; i++) {
        for (unsigned j = i; j > 0 && strcmp(signatures[j - 1], signatures[j]) > 0; j--) {
            char swap[5];
            memcpy(swap, signatures[j], 5);
            memcpy(signatures[j], signatures[j - 1], 5);
            memcpy(signatures[j - 1], swap, 5);
        }
    }
}

/* "acpi": RSDP, RSDT (and XSDT from revision 2), every table they list, the DSDT and FACS from the
 * FADT, all checksummed; the PM timer's rate against PIT channel 2. */
void scenario_acpi(void)
{
    const struct acpi_rsdp *rsdp = acpi_find_rsdp();
    if (!rsdp) fail("no RSDP in the EBDA or at 0xE0000-0xFFFFF");
    print("rsdp revision %u checksum ok\n", rsdp->revision);
    const struct acpi_header *tables[MAX_ACPI_TABLES];
    unsigned count = acpi_root_tables(rsdp, tables, MAX_ACPI_TABLES);
    const struct acpi_header *rsdt = (const struct acpi_header *)(uintptr_t)rsdp->rsdt_address;
    if (!rsdp->rsdt_address || memcmp(rsdt->signature, "RSDT", 4) != 0 || !acpi_checksum_ok(rsdt, rsdt->length))
        fail("no RSDT with a good checksum at 0x%x", rsdp->rsdt_address);
    print("rsdt checksum ok\n");
    if (rsdp->revision >= 2 && rsdp->xsdt_address) print("xsdt checksum ok\n");   /* acpi_root_tables checked it */

    char signatures[MAX_ACPI_TABLES + 2][5];
    unsigned found = 0;
    const struct acpi_header *fadt = NULL;
    for (unsigned i = 0; i < count; i++) {
        memcpy(signatures[found], tables[i]->signature, 4);
        signatures[found++][4] = 0;
        if (memcmp(tables[i]->signature, "FACP", 4) == 0) fadt = tables[i];
    }
    if (!fadt) fail("no FADT (\"FACP\") in the root table");
    uint64_t dsdt_address = fadt_address(fadt, FADT_DSDT, FADT_X_DSDT);
    const struct acpi_header *dsdt = (const struct acpi_header *)(uintptr_t)dsdt_address;
    if (dsdt_address == 0 || dsdt_address >= (1ul << 32) || memcmp(dsdt->signature, "DSDT", 4) != 0)
        fail("the FADT's DSDT at 0x%lx is not a DSDT", dsdt_address);
    if (!acpi_checksum_ok(dsdt, dsdt->length)) fail("checksum of the DSDT wrong");
    memcpy(signatures[found++], "DSDT", 5);
    uint64_t facs_address = fadt_address(fadt, FADT_FACS, FADT_X_FACS);
    if (facs_address && facs_address < (1ul << 32) && memcmp((const void *)(uintptr_t)facs_address, "FACS", 4) == 0)
        memcpy(signatures[found++], "FACS", 5);
    sort_signatures(signatures, found);
    print("tables:");
    for (unsigned i = 0; i < found; i++) print(" %s", signatures[i]);
    print("\n");
    print("table checksums ok\n");

    pm_timer_port = (uint16_t)fadt_u32(fadt, FADT_PM_TIMER_BLOCK);
    if (pm_timer_port == 0 || ((const uint8_t *)fadt)[FADT_PM_TIMER_LENGTH] != 4) fail("the FADT gives no PM timer");
    pm_timer_mask = (fadt_u32(fadt, FADT_FLAGS) & FADT_TIMER_32_BIT) ? 0xFFFFFFFFu : 0x00FFFFFFu;
    pm_timer_extended = inl(pm_timer_port) & pm_timer_mask;
    uint64_t rate = clock_rate_hz(pm_timer_clock, "the ACPI PM timer");
    uint64_t difference = rate > PM_TIMER_HZ ? rate - PM_TIMER_HZ : PM_TIMER_HZ - rate;
    if (difference * 20 > PM_TIMER_HZ) fail("the PM timer runs at %lu Hz by the PIT, not 3579545 +-5%%", rate);
    print("pm timer ok\n");
}
