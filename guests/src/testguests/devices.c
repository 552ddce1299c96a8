/* Device scenarios: the 16550A UART's registers as a driver uses them, and PCI configuration
 * mechanism #1 with a legacy virtio-blk read (virtio 0.9.5). */
#include "testguest.h"

#define UART_IER_THR_EMPTY 0x02
#define UART_IIR_FIFOS_ENABLED 0xC0
#define UART_IIR_ID_MASK 0x0F
#define UART_IIR_THR_EMPTY 0x02
#define UART_LCR_DLAB 0x80
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08      /* gates the UART's interrupt onto the ISA line on a PC */
#define UART_MCR_LOOPBACK 0x10
#define COM1_IRQ 4

/* Polls the line status register for `bits` for up to 100 ms. */
static bool uart_wait_status(uint8_t bits)
{
    uint64_t deadline = tsc_deadline_after_ms(100);
    while ((inb(COM1 + UART_LSR) & bits) != bits) {
        if (tsc_passed(deadline)) return false;
    }
    return true;
}

static bool register_keeps(enum uart_register reg, uint8_t value)
{
    outb(COM1 + reg, value);
    return inb(COM1 + reg) == value;
}

/* In loopback the transmitter feeds the receiver: each byte comes back with LSR data-ready. */
static bool loopback_echoes_bytes(void)
{
    static const uint8_t bytes[] = { 0x55, 0xAA, 0x00, 0xFF, 'S' };
    for (size_t i = 0; i < sizeof bytes; i++) {
        outb(COM1 + UART_DATA, bytes[i]);
        if (!uart_wait_status(UART_LSR_DATA_READY) || inb(COM1 + UART_DATA) != bytes[i]) return false;
    }
    return !(inb(COM1 + UART_LSR) & UART_LSR_DATA_READY);
}

/* In loopback the modem control outputs drive the modem status inputs: DTR -> DSR (bit 5),
 * RTS -> CTS (bit 4), OUT1 -> RI (bit 6), OUT2 -> DCD (bit 7). */
static bool loopback_reflects_modem_control(void)
{
    static const struct { uint8_t control, status; } cases[] = {
        { UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT1 | UART_MCR_OUT2, 0xF0 },
        { UART_MCR_DTR | UART_MCR_OUT1, 0x60 },
        { UART_MCR_RTS | UART_MCR_OUT2, 0x90 },
        { 0, 0x00 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outb(COM1 + UART_MCR, UART_MCR_LOOPBACK | cases[i].control);
        if ((inb(COM1 + UART_MSR) & 0xF0) != cases[i].status) return false;
    }
    return true;
}

static volatile uint32_t uart_interrupts;
static volatile uint8_t uart_interrupt_identity;

static void uart_interrupt(struct interrupt_frame *frame)
{
    (void)frame;
    uart_interrupt_identity = inb(COM1 + UART_IIR);    /* reading IIR clears a THR-empty interrupt */
    outb(COM1 + UART_IER, 0);
    uart_interrupts++;
    pic_eoi(COM1_IRQ);
}

/* "serial": COM1's scratch, line control and divisor latch registers read back, FIFOs reported in
 * IIR, loopback of data and modem lines, and the THR-empty interrupt on IRQ4. The console is COM1
 * too, so the results are printed once the UART is back to normal. */
void scenario_serial(void)
{
    lapic_timer_per_ms();   /* for await_count's watchdog, calibrated while nothing else runs */
    bool scratch = register_keeps(UART_SCRATCH, 0x5A) && register_keeps(UART_SCRATCH, 0xA5);
    bool line_control = register_keeps(UART_LCR, 0x1B) && register_keeps(UART_LCR, 0x03);
    outb(COM1 + UART_LCR, UART_LCR_DLAB | 0x03);
    bool divisor = register_keeps(UART_DLL, 0x0C) && register_keeps(UART_DLM, 0x01);
    outb(COM1 + UART_DLL, 0x01);
    outb(COM1 + UART_DLM, 0x00);
    outb(COM1 + UART_LCR, 0x03);
    outb(COM1 + UART_FCR, 0xC7);
    bool fifos = (inb(COM1 + UART_IIR) & UART_IIR_FIFOS_ENABLED) == UART_IIR_FIFOS_ENABLED;

    uint8_t modem_control = inb(COM1 + UART_MCR);
    bool drained = uart_wait_status(UART_LSR_TRANSMITTER_EMPTY);   /* console output goes out first */
    outb(COM1 + UART_MCR, UART_MCR_LOOPBACK);
    while (inb(COM1 + UART_LSR) & UART_LSR_DATA_READY) inb(COM1 + UART_DATA);
    bool echoes = drained && loopback_echoes_bytes();
    bool modem_lines = loopback_reflects_modem_control();
    outb(COM1 + UART_MCR, modem_control);

    print("serial scratch register: %s\n", yes_no(scratch));
    print("serial line control readback: %s\n", yes_no(line_control));
    print("serial divisor latch readback: %s\n", yes_no(divisor));
    print("serial fifos enabled in iir: %s\n", yes_no(fifos));
    print("serial loopback data: %s\n", yes_no(echoes));
    print("serial loopback modem lines: %s\n", yes_no(modem_lines));
    if (!(scratch && line_control && divisor && fifos && echoes && modem_lines)) fail("a 16550A register check failed");

    pic_init(1u << COM1_IRQ);
    set_interrupt_handler(PIC_MASTER_VECTOR + COM1_IRQ, uart_interrupt);
    outb(COM1 + UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    if (!uart_wait_status(UART_LSR_THR_EMPTY)) fail("THR never empty");
    outb(COM1 + UART_IER, UART_IER_THR_EMPTY);
    await_count(&uart_interrupts, 1, 1000, "the THR-empty interrupt on IRQ4");
    pic_init(0);
    outb(COM1 + UART_MCR, modem_control);
    check("serial thr-empty interrupt on irq4", (uart_interrupt_identity & UART_IIR_ID_MASK) == UART_IIR_THR_EMPTY);
}

/* ---- pci ---- */

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC
enum pci_config_register {
    PCI_ID = 0x00, PCI_COMMAND = 0x04, PCI_CLASS = 0x08, PCI_HEADER = 0x0C, PCI_BAR0 = 0x10,
};
#define PCI_COMMAND_IO_SPACE 0x1
#define PCI_COMMAND_BUS_MASTER 0x4
#define PCI_HEADER_MULTI_FUNCTION 0x80
#define PCI_CLASS_HOST_BRIDGE 0x0600

/* Configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): enable bit, bus, device, function,
 * register to 0xCF8; the dword at 0xCFC. */
static uint32_t pci_read(unsigned device, unsigned function, enum pci_config_register reg)
{
    outl(PCI_CONFIG_ADDRESS, 0x80000000u | device << 11 | function << 8 | reg);
    return inl(PCI_CONFIG_DATA);
}

static void pci_write(unsigned device, unsigned function, enum pci_config_register reg, uint32_t v)
{
    outl(PCI_CONFIG_ADDRESS, 0x80000000u | device << 11 | function << 8 | reg);
    outl(PCI_CONFIG_DATA, v);
}

/* Legacy virtio PCI registers in BAR0's I/O space (virtio 0.9.5, 2.2.2). */
enum virtio_register {
    VIRTIO_HOST_FEATURES = 0x00, VIRTIO_GUEST_FEATURES = 0x04, VIRTIO_QUEUE_PFN = 0x08,
    VIRTIO_QUEUE_SIZE = 0x0C, VIRTIO_QUEUE_SELECT = 0x0E, VIRTIO_QUEUE_NOTIFY = 0x10,
    VIRTIO_STATUS = 0x12,
};
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTIO_BLK_T_IN 0
#define VIRTQ_ALIGN 4096

struct virtq_desc { uint64_t address; uint32_t length; uint16_t flags, next; };
struct virtq_avail { uint16_t flags, index, ring[]; };
struct virtq_used_elem { uint32_t id, length; };
struct virtq_used { uint16_t flags, index; struct virtq_used_elem ring[]; };
struct virtio_blk_request { uint32_t type, reserved; uint64_t sector; };

static uint8_t virtqueue_memory[32768] __attribute__((aligned(VIRTQ_ALIGN)));
static struct virtio_blk_request blk_request;
static uint8_t blk_sector[512];
static volatile uint8_t blk_status;

/* Reads sector 0 of a legacy virtio-blk device with one polled request on queue 0. */
static void virtio_blk_read_sector0(unsigned device, unsigned function)
{
    uint32_t bar0 = pci_read(device, function, PCI_BAR0);
    if (!(bar0 & 1) || (bar0 & ~3u) == 0) fail("virtio-blk BAR0 is not an assigned I/O range (0x%x)", bar0);
    uint16_t io = (uint16_t)(bar0 & ~3u);
    pci_write(device, function, PCI_COMMAND,
              pci_read(device, function, PCI_COMMAND) | PCI_COMMAND_IO_SPACE | PCI_COMMAND_BUS_MASTER);

    outb(io + VIRTIO_STATUS, 0);    /* reset */
    outb(io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    outb(io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    inl(io + VIRTIO_HOST_FEATURES);
    outl(io + VIRTIO_GUEST_FEATURES, 0);    /* none needed for one plain read */
    outw(io + VIRTIO_QUEUE_SELECT, 0);
    uint16_t size = inw(io + VIRTIO_QUEUE_SIZE);
    /* virtio 0.9.5 2.3: descriptors, the available ring, then the used ring on the next page. */
    size_t used_offset = (16u * size + 6u + 2u * size + VIRTQ_ALIGN - 1) & ~(size_t)(VIRTQ_ALIGN - 1);
    if (size == 0 || used_offset + 6u + 8u * size > sizeof virtqueue_memory)
        fail("virtio-blk queue 0 has %u entries", size);
    memset(virtqueue_memory, 0, sizeof virtqueue_memory);
    struct virtq_desc *descriptors = (struct virtq_desc *)virtqueue_memory;
    struct virtq_avail *avail = (struct virtq_avail *)(virtqueue_memory + 16u * size);
    volatile struct virtq_used *used = (volatile struct virtq_used *)(virtqueue_memory + used_offset);
    outl(io + VIRTIO_QUEUE_PFN, (uint32_t)((uintptr_t)virtqueue_memory / VIRTQ_ALIGN));
    outb(io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);

    blk_request = (struct virtio_blk_request){ VIRTIO_BLK_T_IN, 0, 0 };
    blk_status = 0xFF;
    descriptors[0] = (struct virtq_desc){ (uintptr_t)&blk_request, sizeof blk_request, VIRTQ_DESC_F_NEXT, 1 };
    descriptors[1] = (struct virtq_desc){ (uintptr_t)blk_sector, sizeof blk_sector, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
    descriptors[2] = (struct virtq_desc){ (uintptr_t)&blk_status, 1, VIRTQ_DESC_F_WRITE, 0 };
    avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    avail->ring[0] = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* the descriptors before the index that publishes them */
    avail->index = 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    outw(io + VIRTIO_QUEUE_NOTIFY, 0);
    uint64_t deadline = tsc_deadline_after_ms(1000);
    while (used->index == 0) {
        if (tsc_passed(deadline)) fail("virtio-blk did not complete the read in 1 s");
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (blk_status != 0) fail("virtio-blk read status %u", blk_status);
    outb(io + VIRTIO_STATUS, 0);
    print("virtio-blk sector 0:");
    for (int i = 0; i < 16; i++) print(" %02x", blk_sector[i]);
    print("\n");
}

/* "pci": every function on bus 0 as "00:DD.F vendor:device class", then, when there is a
 * virtio-blk device (1af4:1001), the first 16 bytes of its sector 0. */
void scenario_pci(void)
{
    bool host_bridge = false;
    int blk_device = -1, blk_function = -1;
    for (unsigned device = 0; device < 32; device++) {
        if ((pci_read(device, 0, PCI_ID) & 0xFFFF) == 0xFFFF) continue;
        unsigned functions = (pci_read(device, 0, PCI_HEADER) >> 16) & PCI_HEADER_MULTI_FUNCTION ? 8 : 1;
        for (unsigned function = 0; function < functions; function++) {
            uint32_t id = pci_read(device, function, PCI_ID);
            if ((id & 0xFFFF) == 0xFFFF) continue;
            uint32_t class = pci_read(device, function, PCI_CLASS) >> 8;
            print("00:%02x.%u %04x:%04x %06x\n", device, function, id & 0xFFFF, id >> 16, class);
            if (device == 0 && function == 0 && class >> 8 == PCI_CLASS_HOST_BRIDGE) host_bridge = true;
            if (id == 0x10011AF4 && blk_device < 0) {
                blk_device = (int)device;
                blk_function = (int)function;
            }
        }
    }
    check("host bridge at 00:00.0", host_bridge);
    if (blk_device >= 0) virtio_blk_read_sector0((unsigned)blk_device, (unsigned)blk_function);
}
