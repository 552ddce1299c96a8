/* The MADT (ACPI 6.x 5.2.12): CPUs' local APIC IDs, the I/O APIC and the ISA interrupt source
 * overrides. Found through the RSDP (5.2.5.1: EBDA, then 0xE0000-0xFFFFF) and the RSDT/XSDT. */
#include "core.h"

struct acpi_rsdp {
    char signature[8];
    uint8_t checksum;
    char oem[6];
    uint8_t revision;
    uint32_t rsdt;
    uint32_t length;
    uint64_t xsdt;
    uint8_t xchecksum, reserved[3];
} __attribute__((packed));

struct acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_revision, creator, creator_revision;
} __attribute__((packed));

struct madt madt;

static bool checksum_ok(const void *p, size_t n)
{
    uint8_t sum = 0;
    for (const uint8_t *b = p; n; n--) sum = (uint8_t)(sum + *b++);
    return sum == 0;
}

static const struct acpi_rsdp *rsdp_scan(uint64_t start, uint64_t end)
{
    for (uint64_t a = start; a + 20 <= end; a += 16) {
        const struct acpi_rsdp *r = phys_to_virt(a);
        if (memcmp(r->signature, "RSD PTR ", 8) == 0 && checksum_ok(r, 20)) return r;
    }
    return NULL;
}

static const struct acpi_header *table_at(uint64_t pa)
{
    const struct acpi_header *h = phys_to_virt(pa);
    if (!pa || !checksum_ok(h, h->length)) return NULL;
    return h;
}

static const struct acpi_header *madt_find(void)
{
    uint64_t ebda = (uint64_t)*(volatile uint16_t *)phys_to_virt(0x40E) << 4;
    const struct acpi_rsdp *r = NULL;
    if (ebda >= 0x400 && ebda < 0xA0000) r = rsdp_scan(ebda, ebda + 1024);
    if (!r) r = rsdp_scan(0xE0000, 0x100000);
    if (!r) return NULL;
    bool x = r->revision >= 2 && r->xsdt;
    const struct acpi_header *root = table_at(x ? r->xsdt : r->rsdt);
    if (!root) return NULL;
    unsigned esize = x ? 8 : 4, n = (root->length - sizeof *root) / esize;
    const uint8_t *entries = (const uint8_t *)(root + 1);
    for (unsigned i = 0; i < n; i++) {
        uint64_t pa = 0;
        memcpy(&pa, entries + i * esize, esize);
        const struct acpi_header *t = table_at(pa);
        if (t && memcmp(t->signature, "APIC", 4) == 0) return t;
    }
    return NULL;
}

void acpi_init(void)
{
    const struct acpi_header *t = madt_find();
    if (!t) {
        /* No MADT: one CPU, no I/O APIC (the 8259A routes the ISA interrupts). */
        madt.ncpus = 1;
        return;
    }
    const uint8_t *p = (const uint8_t *)t + 44, *end = (const uint8_t *)t + t->length;
    for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
        if (p[0] == 0 && (p[4] & 1) && madt.ncpus < MAX_CPUS) {           /* processor local APIC, enabled */
            madt.apic_ids[madt.ncpus++] = p[3];
        } else if (p[0] == 1 && !madt.has_ioapic) {                        /* I/O APIC */
            madt.has_ioapic = true;
            memcpy(&madt.ioapic_address, p + 4, 4);
            memcpy(&madt.ioapic_gsi_base, p + 8, 4);
        } else if (p[0] == 2 && p[2] == 0 && p[3] < 16) {                   /* ISA interrupt source override */
            madt.isa[p[3]].present = true;
            memcpy(&madt.isa[p[3]].gsi, p + 4, 4);
            memcpy(&madt.isa[p[3]].flags, p + 8, 2);
        }
    }
    if (madt.ncpus == 0) madt.ncpus = 1;
}
