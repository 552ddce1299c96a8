/* Finding ACPI tables the way an OS does (ACPI 6.x section 5.2.5: RSDP search, RSDT/XSDT) and
 * reading the MADT (section 5.2.12). Every table found has its checksum verified. */
#include "testguest.h"

#define BDA_EBDA_SEGMENT 0x40E
#define RSDP_V1_LENGTH 20

bool acpi_checksum_ok(const void *bytes, size_t length)
{
    uint8_t sum = 0;
    for (const uint8_t *p = bytes; length; length--) sum = (uint8_t)(sum + *p++);
    return sum == 0;
}

static const struct acpi_rsdp *scan_for_rsdp(uintptr_t start, uintptr_t end)
{
    for (uintptr_t p = start; p + RSDP_V1_LENGTH <= end; p += 16) {
        const struct acpi_rsdp *rsdp = (const struct acpi_rsdp *)p;
        if (memcmp(rsdp->signature, "RSD PTR ", 8) != 0 || !acpi_checksum_ok(rsdp, RSDP_V1_LENGTH)) continue;
        if (rsdp->revision >= 2 && !acpi_checksum_ok(rsdp, rsdp->length)) fail("RSDP extended checksum wrong");
        return rsdp;
    }
    return NULL;
}

const struct acpi_rsdp *acpi_find_rsdp(void)
{
    uintptr_t ebda = (uintptr_t)*(volatile uint16_t *)BDA_EBDA_SEGMENT << 4;
    const struct acpi_rsdp *rsdp = NULL;
    if (ebda >= 0x400 && ebda < 0xA0000) rsdp = scan_for_rsdp(ebda, ebda + 1024);
    if (!rsdp) rsdp = scan_for_rsdp(0xE0000, 0x100000);
    return rsdp;
}

static const struct acpi_header *checked_table(uint64_t address, const char *what)
{
    if (address == 0 || address >= (1ul << 32)) fail("%s at 0x%lx is outside the identity map", what, address);
    const struct acpi_header *table = (const struct acpi_header *)(uintptr_t)address;
    if (!acpi_checksum_ok(table, table->length))
        fail("checksum of %s %c%c%c%c wrong", what, table->signature[0], table->signature[1],
             table->signature[2], table->signature[3]);
    return table;
}

unsigned acpi_root_tables(const struct acpi_rsdp *rsdp, const struct acpi_header **tables, unsigned max)
{
    bool extended = rsdp->revision >= 2 && rsdp->xsdt_address != 0;
    const struct acpi_header *root = checked_table(extended ? rsdp->xsdt_address : rsdp->rsdt_address,
                                                   extended ? "XSDT" : "RSDT");
    unsigned entry_size = extended ? 8 : 4;
    unsigned count = (root->length - sizeof *root) / entry_size;
    if (count > max) fail("more than %u ACPI tables", max);
    const uint8_t *entries = (const uint8_t *)(root + 1);
    for (unsigned i = 0; i < count; i++) {
        uint64_t address = 0;
        memcpy(&address, entries + i * entry_size, entry_size);
        tables[i] = checked_table(address, "table listed by the root table");
    }
    return count;
}

const struct acpi_header *acpi_find_table(const char signature[4])
{
    const struct acpi_rsdp *rsdp = acpi_find_rsdp();
    if (!rsdp) return NULL;
    const struct acpi_header *tables[MAX_ACPI_TABLES];
    unsigned count = acpi_root_tables(rsdp, tables, MAX_ACPI_TABLES);
    for (unsigned i = 0; i < count; i++) {
        if (memcmp(tables[i]->signature, signature, 4) == 0) return tables[i];
    }
    return NULL;
}

enum madt_entry_type { MADT_LOCAL_APIC = 0, MADT_IO_APIC = 1, MADT_INTERRUPT_SOURCE_OVERRIDE = 2 };

struct madt_local_apic { uint8_t type, length, processor_id, apic_id; uint32_t flags; } __attribute__((packed));
struct madt_io_apic { uint8_t type, length, id, reserved; uint32_t address, gsi_base; } __attribute__((packed));
struct madt_override {
    uint8_t type, length, bus, source;
    uint32_t gsi;
    uint16_t flags;
} __attribute__((packed));

#define MADT_ENTRIES_OFFSET 44     /* header, local APIC address, flags */
#define MADT_LOCAL_APIC_ENABLED 0x1

void madt_read(struct madt_facts *facts)
{
    const struct acpi_header *madt = acpi_find_table("APIC");
    if (!madt) fail("no MADT (\"APIC\") in the ACPI tables");
    *facts = (struct madt_facts){ 0 };
    const uint8_t *p = (const uint8_t *)madt + MADT_ENTRIES_OFFSET, *end = (const uint8_t *)madt + madt->length;
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        if (p[0] == MADT_LOCAL_APIC) {
            const struct madt_local_apic *e = (const void *)p;
            if ((e->flags & MADT_LOCAL_APIC_ENABLED) && facts->cpu_count < MAX_CPUS)
                facts->cpu_apic_ids[facts->cpu_count++] = e->apic_id;
        } else if (p[0] == MADT_IO_APIC && !facts->has_ioapic) {
            const struct madt_io_apic *e = (const void *)p;
            facts->has_ioapic = true;
            facts->ioapic_id = e->id;
            facts->ioapic_address = e->address;
            facts->ioapic_gsi_base = e->gsi_base;
        } else if (p[0] == MADT_INTERRUPT_SOURCE_OVERRIDE) {
            const struct madt_override *e = (const void *)p;
            if (e->bus == 0 && e->source == 0) {
                facts->irq0_overridden = true;
                facts->irq0_gsi = e->gsi;
                facts->irq0_flags = e->flags;
            }
        }
        p += p[1];
    }
}
