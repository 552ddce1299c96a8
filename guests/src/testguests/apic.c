/* APIC scenarios: the I/O APIC routing the PIT as the MADT says, and starting the application
 * processors with INIT and STARTUP IPIs (Intel MultiProcessor Specification, appendix B). */
#include "testguest.h"

#define IOAPIC_REGISTER_SELECT 0x00
#define IOAPIC_WINDOW 0x10
enum ioapic_register { IOAPIC_ID = 0x00, IOAPIC_VERSION = 0x01, IOAPIC_REDIRECTION_TABLE = 0x10 };
#define IOAPIC_ACTIVE_LOW (1u << 13)
#define IOAPIC_LEVEL_TRIGGERED (1u << 15)
#define IOAPIC_MASKED (1u << 16)
#define IOAPIC_PIT_VECTOR 0x50
#define IOAPIC_LEVEL_TEST_VECTOR 0x51
/* MPS INTI flags in MADT interrupt source overrides (ACPI table 5.50). */
#define INTI_POLARITY_MASK 0x3
#define INTI_ACTIVE_LOW 0x3
#define INTI_TRIGGER_MASK 0xC
#define INTI_LEVEL_TRIGGERED 0xC

static uintptr_t ioapic_base;

static uint32_t ioapic_read(uint32_t reg)
{
    mmio_write32(ioapic_base + IOAPIC_REGISTER_SELECT, reg);
    return mmio_read32(ioapic_base + IOAPIC_WINDOW);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(ioapic_base + IOAPIC_REGISTER_SELECT, reg);
    mmio_write32(ioapic_base + IOAPIC_WINDOW, v);
}

/* A redirection entry: the destination (high half) first, so the entry is complete when the
 * low half, with the mask bit, is written. Physical destination mode, fixed delivery. */
static void ioapic_route(unsigned pin, uint32_t low, uint32_t destination_apic_id)
{
    ioapic_write(IOAPIC_REDIRECTION_TABLE + 2 * pin + 1, destination_apic_id << 24);
    ioapic_write(IOAPIC_REDIRECTION_TABLE + 2 * pin, low);
}

static volatile uint32_t ioapic_pit_ticks, level_test_interrupts;

static void ioapic_pit_tick(struct interrupt_frame *frame)
{
    (void)frame;
    ioapic_pit_ticks++;
    lapic_eoi();
}

static void level_test_interrupt(struct interrupt_frame *frame)
{
    (void)frame;
    level_test_interrupts++;
    lapic_eoi();
}

/* "ioapic": the I/O APIC's identity, ISA IRQ0 (the PIT) routed to the BSP at vector 0x50 through the
 * GSI the MADT gives it, 50 ticks counted with the 8259 masked; a masked level-triggered entry on
 * the same, asserted, line must deliver nothing. */
void scenario_ioapic(void)
{
    struct madt_facts madt;
    madt_read(&madt);
    if (!madt.has_ioapic) fail("the MADT lists no I/O APIC");
    print("madt ioapic id %u address 0x%x gsi base %u\n", madt.ioapic_id, madt.ioapic_address, madt.ioapic_gsi_base);
    ioapic_base = madt.ioapic_address;
    uint32_t id = (ioapic_read(IOAPIC_ID) >> 24) & 0x0F, version = ioapic_read(IOAPIC_VERSION);
    unsigned entries = ((version >> 16) & 0xFF) + 1;
    print("ioapic id %u version 0x%x redirection entries %u\n", id, version & 0xFF, entries);
    check("ioapic id matches madt", id == madt.ioapic_id);

    uint32_t gsi = madt.irq0_overridden ? madt.irq0_gsi : 2;
    print("isa irq0 -> gsi %u (%s)\n", gsi, madt.irq0_overridden ? "interrupt source override" : "no override, pin 2");
    if (gsi < madt.ioapic_gsi_base || gsi - madt.ioapic_gsi_base >= entries) fail("gsi %u is not on the I/O APIC", gsi);
    unsigned pin = gsi - madt.ioapic_gsi_base;
    /* ISA interrupts are edge triggered, active high, unless the override says otherwise. */
    uint32_t low = IOAPIC_PIT_VECTOR;
    if (madt.irq0_overridden && (madt.irq0_flags & INTI_POLARITY_MASK) == INTI_ACTIVE_LOW) low |= IOAPIC_ACTIVE_LOW;
    if (madt.irq0_overridden && (madt.irq0_flags & INTI_TRIGGER_MASK) == INTI_LEVEL_TRIGGERED) low |= IOAPIC_LEVEL_TRIGGERED;

    lapic_timer_per_ms();   /* for await_count's watchdog, calibrated before the PIT ticks start */
    pic_init(0);
    lapic_enable();
    set_interrupt_handler(IOAPIC_PIT_VECTOR, ioapic_pit_tick);
    set_interrupt_handler(IOAPIC_LEVEL_TEST_VECTOR, level_test_interrupt);
    ioapic_route(pin, low, lapic_id());
    pit_channel0_start_1000hz();
    await_count(&ioapic_pit_ticks, 50, 2000, "50 PIT ticks through the I/O APIC");
    ioapic_route(pin, low | IOAPIC_MASKED, lapic_id());
    print("ioapic ticks %u\n", 50);

    /* The PIT's OUT0 in mode 2 is high but for one clock per period: as a level it stays asserted. */
    ioapic_route(pin, IOAPIC_LEVEL_TEST_VECTOR | IOAPIC_LEVEL_TRIGGERED | IOAPIC_MASKED, lapic_id());
    sti();
    pit_wait_us(20000);
    cli();
    check("masked level-triggered pin silent", level_test_interrupts == 0);
}

/* ---- smp ---- */

#define AP_TRAMPOLINE_BASE 0x8000
#define AP_STACK_SIZE 16384
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)

extern const char ap_trampoline[], ap_trampoline_end[];
extern uint64_t ap_boot_stack;
static uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));
static volatile uint32_t aps_started, ap_slots_taken;
static volatile uint8_t ap_apic_ids[MAX_CPUS];

void ap_main(void);

/* Each application processor arrives here in long mode, on its own stack, with interrupts off. */
void ap_main(void)
{
    interrupts_load();
    lapic_enable();
    uint32_t slot = __atomic_fetch_add(&ap_slots_taken, 1, __ATOMIC_RELAXED);
    if (slot < MAX_CPUS) ap_apic_ids[slot] = (uint8_t)lapic_id();
    __atomic_fetch_add(&aps_started, 1, __ATOMIC_RELEASE);
    for (;;) __asm__ volatile("cli; hlt");
}

static void wait_icr_idle(void)
{
    uint64_t deadline = tsc_deadline_after_ms(100);
    while (lapic_read(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING) {
        if (tsc_passed(deadline)) fail("the ICR's delivery status stayed pending for 100 ms");
    }
}

static void send_ipi(uint32_t apic_id, uint32_t command)
{
    wait_icr_idle();
    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, command);     /* writing the low half sends */
    wait_icr_idle();
}

/* MP spec B.4: INIT, 10 ms, STARTUP, 200 us, STARTUP; the STARTUP vector is the page number of
 * the trampoline. Then up to 200 ms (by PIT channel 2) for the AP to check in. */
static bool start_ap(uint32_t apic_id, unsigned stack_index)
{
    uint32_t started_before = aps_started;
    ap_boot_stack = (uint64_t)(uintptr_t)(ap_stacks[stack_index] + AP_STACK_SIZE);
    lapic_write(LAPIC_ERROR_STATUS, 0);
    send_ipi(apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
    pit_wait_us(10000);
    for (int i = 0; i < 2; i++) {
        send_ipi(apic_id, ICR_STARTUP | ICR_LEVEL_ASSERT | (AP_TRAMPOLINE_BASE >> 12));
        pit_wait_us(200);
    }
    for (int ms = 0; ms < 200; ms++) {
        if (__atomic_load_n(&aps_started, __ATOMIC_ACQUIRE) != started_before) return true;
        pit_wait_us(1000);
    }
    return __atomic_load_n(&aps_started, __ATOMIC_ACQUIRE) != started_before;
}

/* "smp": the CPUs from the MADT (and fw_cfg's count), each application processor started with
 * INIT-SIPI-SIPI into long mode, where it records its APIC ID. */
void scenario_smp(void)
{
    struct madt_facts madt;
    madt_read(&madt);
    print("cpus in madt %u\n", madt.cpu_count);
    if (fw_cfg_present()) print("cpus from fw_cfg %lu\n", fw_cfg_read_le(FW_CFG_NB_CPUS, 2));
    else print("cpus from fw_cfg: no fw_cfg\n");

    lapic_enable();
    uint32_t bsp_id = lapic_id();
    size_t trampoline_size = (size_t)(ap_trampoline_end - ap_trampoline);
    if (trampoline_size > 4096) fail("the AP trampoline is larger than a page");
    memcpy((void *)AP_TRAMPOLINE_BASE, ap_trampoline, trampoline_size);
    unsigned expected = 0;
    for (unsigned i = 0; i < madt.cpu_count; i++) {
        uint32_t apic_id = madt.cpu_apic_ids[i];
        if (apic_id == bsp_id) continue;
        expected++;
        if (!start_ap(apic_id, i)) fail("the AP with APIC ID %u did not start within 200 ms", apic_id);
    }
    print("aps started %u\n", aps_started);
    if (aps_started != expected) fail("%u APs started, %u expected", aps_started, expected);

    uint8_t ids[MAX_CPUS];
    unsigned count = aps_started;
    for (unsigned i = 0; i < count; i++) {
        unsigned j = i;
        for (; j > 0 && ids[j - 1] > ap_apic_ids[i]; j--) ids[j] = ids[j - 1];
        ids[j] = ap_apic_ids[i];
    }
    print("ap apic ids:");
    if (count == 0) print(" none");
    for (unsigned i = 0; i < count; i++) print(" %u", ids[i]);
    print("\n");
}

/* ---- tpr ---- */

#define TPR_TEST_VECTOR 0x45
#define ICR_SELF (1u << 18)   /* destination shorthand 01: self */

static volatile uint32_t tpr_test_interrupts;

static void tpr_test_fired(struct interrupt_frame *frame)
{
    (void)frame;
    tpr_test_interrupts++;
    lapic_eoi();
}

static inline void write_cr8(uint64_t v) { __asm__ volatile("mov %0, %%cr8" : : "r"(v) : "memory"); }
static inline uint64_t read_cr8(void) { uint64_t v; __asm__ volatile("mov %%cr8, %0" : "=r"(v)); return v; }

/* "tpr": CR8 and the local APIC's TPR are one task priority (SDM Vol. 3A 11.8.6: CR8[3:0] is
 * TPR[7:4]), and it holds back interrupts whose priority class is not above it. */
void scenario_tpr(void)
{
    pic_init(0);
    lapic_enable();
    write_cr8(5);
    check("apic tpr follows cr8", lapic_read(LAPIC_TPR) == 0x50);
    lapic_write(LAPIC_TPR, 0x30);
    check("cr8 follows the apic tpr", read_cr8() == 3);

    set_interrupt_handler(TPR_TEST_VECTOR, tpr_test_fired);
    write_cr8(TPR_TEST_VECTOR >> 4);
    sti();
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, ICR_SELF | TPR_TEST_VECTOR);
    pit_wait_us(1000);
    check("cr8 at the vector's class holds it back", tpr_test_interrupts == 0);
    write_cr8((TPR_TEST_VECTOR >> 4) - 1);
    /* The interrupt is taken at the instruction boundary after the write. */
    check("lowering cr8 lets it in", tpr_test_interrupts == 1);
    cli();
    write_cr8(0);
}
