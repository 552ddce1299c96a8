/* Device scenarios: the 16550A UART's registers as a driver uses them, and the functions on PCI
 * bus 0 with a legacy virtio-blk read (virtio 0.9.5). */
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

#define PCI_CLASS_HOST_BRIDGE 0x0600
#define VIRTIO_BLK_PCI_ID PCI_ID_OF(VIRTIO_VENDOR, 0x1001)
#define VIRTIO_BLK_T_IN 0

struct virtio_blk_request { uint32_t type, reserved; uint64_t sector; };

static uint8_t blk_queue_memory[VIRTQ_MEMORY_256] __attribute__((aligned(VIRTQ_ALIGN)));
static struct virtio_blk_request blk_request;
static uint8_t blk_sector[512];
static volatile uint8_t blk_status;

/* Reads sector 0 of a legacy virtio-blk device with one polled request on queue 0. */
static void virtio_blk_read_sector0(unsigned device, unsigned function)
{
    struct virtio_device blk;
    struct virtqueue requests;
    virtio_start(&blk, "virtio-blk", device, function);
    virtio_accept_features(&blk, 0);    /* none needed for one plain read */
    virtio_queue_setup(&blk, &requests, 0, blk_queue_memory, sizeof blk_queue_memory);
    virtio_driver_ok(&blk);

    blk_request = (struct virtio_blk_request){ VIRTIO_BLK_T_IN, 0, 0 };
    blk_status = 0xFF;
    struct virtq_desc *descriptors = requests.descriptors;
    descriptors[0] = (struct virtq_desc){ (uintptr_t)&blk_request, sizeof blk_request, VIRTQ_DESC_F_NEXT, 1 };
    descriptors[1] = (struct virtq_desc){ (uintptr_t)blk_sector, sizeof blk_sector, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
    descriptors[2] = (struct virtq_desc){ (uintptr_t)&blk_status, 1, VIRTQ_DESC_F_WRITE, 0 };
    requests.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    virtq_make_available(&requests, 0);
    virtio_notify(&blk, &requests);
    uint64_t deadline = tsc_deadline_after_ms(1000);
    struct virtq_used_elem completed;
    while (!virtq_take_used(&requests, &completed)) {
        if (tsc_passed(deadline)) fail("virtio-blk did not complete the read in 1 s");
    }
    if (blk_status != 0) fail("virtio-blk read status %u", blk_status);
    virtio_reset(&blk);
    print("virtio-blk sector 0:");
    for (int i = 0; i < 16; i++) print(" %02x", blk_sector[i]);
    print("\n");
}

/* "pci": every function on bus 0 as "00:DD.F vendor:device class", then, when there is a
 * virtio-blk device (1af4:1001), the first 16 bytes of its sector 0. */
void scenario_pci(void)
{
    bool host_bridge = false;
    for (unsigned device = 0; device < 32; device++) {
        unsigned functions = pci_function_slots(device);
        for (unsigned function = 0; function < functions; function++) {
            uint32_t id = pci_read(device, function, PCI_ID);
            if ((id & 0xFFFF) == 0xFFFF) continue;
            uint32_t class = pci_read(device, function, PCI_CLASS) >> 8;
            print("00:%02x.%u %04x:%04x %06x\n", device, function, id & 0xFFFF, id >> 16, class);
            if (device == 0 && function == 0 && class >> 8 == PCI_CLASS_HOST_BRIDGE) host_bridge = true;
        }
    }
    check("host bridge at 00:00.0", host_bridge);
    unsigned blk_device, blk_function;
    if (pci_find(VIRTIO_BLK_PCI_ID, &blk_device, &blk_function)) virtio_blk_read_sector0(blk_device, blk_function);
}
