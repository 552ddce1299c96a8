/*
 * virtio-net (virtio 0.9.5, appendix C) on the legacy PCI transport, as a carrier of whole
 * Ethernet frames for msg.c. No features: no mergeable receive buffers, so every buffer starts
 * with the 10-byte legacy virtio_net_hdr, sent as zeros; the device's own MAC address is not used
 * (msg.c puts the rank addresses in the frames).
 *
 * Receive queue 0 is kept full of buffers; used buffers are handed to the receiver from the
 * device's INTx interrupt, and from net_poll (which msg.c calls whenever it waits, so frames keep
 * coming even when the interrupt is routed elsewhere). Transmit queue 1 does not interrupt except
 * while a CPU waits for its buffers.
 */
#include "virtio.h"

#define RX_QUEUE 0
#define TX_QUEUE 1
#define NET_HDR_BYTES 10
/* Each buffer: the header at offset 0, the frame at offset 16, in 2 KiB. */
#define FRAME_OFFSET 16
#define BUFFER_BYTES 2048
#define MAX_RX_BUFFERS 128
#define MAX_TX_BUFFERS 64
#define TX_TIMEOUT_NS 1000000000ULL
#define ETH_MIN_FRAME 60    /* without the FCS: shorter frames are padded with zeros */

_Static_assert(FRAME_OFFSET + NET_MAX_FRAME <= BUFFER_BYTES, "a frame fits in a buffer");

static struct virtio_dev dev;
static bool present;
static struct virtq rxq, txq;
static spinlock_t rx_lock, tx_lock;
static uint8_t *rx_buffers, *tx_buffers;
static unsigned rx_count, tx_count;
/* Transmit buffers not lent to the device, as a stack of buffer numbers. */
static uint16_t tx_free[MAX_TX_BUFFERS];
static unsigned tx_free_count;
/* CPUs halted until transmit buffers come back: the device interrupts for them meanwhile. */
static unsigned tx_waiters;
static void (*receiver)(const uint8_t *frame, uint32_t len);

static void net_interrupt(void *ctx)
{
    (void)ctx;
    virtio_isr(&dev);
    net_poll();
}

bool virtio_net_probe(struct pci_function f)
{
    if (virtio_start(&dev, "virtio-net", f) < 0) return false;
    virtio_set_features(&dev, 0);
    if (!virtq_setup(&dev, &rxq, RX_QUEUE) || !virtq_setup(&dev, &txq, TX_QUEUE) || rxq.size < 2 || txq.size < 2) {
        virtio_fail(&dev);
        return false;
    }
    /* A buffer is a chain of two descriptors: without VIRTIO_F_ANY_LAYOUT the header must have a
     * descriptor of its own (C.3.1). */
    rx_count = rxq.size / 2 < MAX_RX_BUFFERS ? rxq.size / 2 : MAX_RX_BUFFERS;
    tx_count = txq.size / 2 < MAX_TX_BUFFERS ? txq.size / 2 : MAX_TX_BUFFERS;
    /* On a small machine: receive buffers in at most an eighth of the free memory, transmit
     * buffers in a sixteenth (two buffers a page). */
    uint64_t free_pages = kalloc_free_pages();
    if (rx_count > free_pages / 4) rx_count = (unsigned)(free_pages / 4);
    if (tx_count > free_pages / 8) tx_count = (unsigned)(free_pages / 8);
    rx_buffers = kalloc_pages((rx_count * BUFFER_BYTES + PAGE_SIZE - 1) / PAGE_SIZE);
    tx_buffers = kalloc_pages((tx_count * BUFFER_BYTES + PAGE_SIZE - 1) / PAGE_SIZE);
    if (!rx_buffers || !tx_buffers) {
        kprintf("lwk: virtio-net: no memory for buffers\n");
        virtio_fail(&dev);
        return false;
    }
    for (unsigned k = 0; k < rx_count; k++) {
        uint64_t pa = virt_to_phys(rx_buffers + k * BUFFER_BYTES);
        rxq.desc[2 * k] = (struct virtq_desc){ pa, NET_HDR_BYTES, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(2 * k + 1) };
        rxq.desc[2 * k + 1] = (struct virtq_desc){ pa + FRAME_OFFSET, NET_MAX_FRAME, VIRTQ_DESC_F_WRITE, 0 };
        virtq_push(&rxq, (uint16_t)(2 * k));
    }
    for (unsigned k = 0; k < tx_count; k++) {
        uint64_t pa = virt_to_phys(tx_buffers + k * BUFFER_BYTES);
        txq.desc[2 * k] = (struct virtq_desc){ pa, NET_HDR_BYTES, VIRTQ_DESC_F_NEXT, (uint16_t)(2 * k + 1) };
        txq.desc[2 * k + 1] = (struct virtq_desc){ pa + FRAME_OFFSET, 0, 0, 0 };
        tx_free[tx_free_count++] = (uint16_t)k;
    }
    txq.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    if (dev.irq != 0xFF) irq_register(dev.irq, true, net_interrupt, NULL);
    virtio_driver_ok(&dev);
    present = true;
    virtq_notify(&dev, &rxq);
    kprintf("lwk: virtio-net at 00:%02x.%u, %u receive buffers, irq %u\n", f.device, f.function, rx_count, dev.irq);
    return true;
}

bool net_present(void)
{
    return present;
}

void net_set_receiver(void (*rx)(const uint8_t *frame, uint32_t len))
{
    receiver = rx;
}

void net_poll(void)
{
    if (!present) return;
    uint64_t flags = spin_lock_irqsave(&rx_lock);
    struct virtq_used_elem used;
    bool refilled = false;
    while (virtq_pop(&rxq, &used)) {
        unsigned k = used.id / 2;
        if (used.id % 2 || k >= rx_count) {
            kprintf("lwk: virtio-net: used receive chain %u is not one of ours\n", used.id);
            continue;
        }
        if (receiver && used.len > NET_HDR_BYTES && used.len <= NET_HDR_BYTES + NET_MAX_FRAME)
            receiver(rx_buffers + k * BUFFER_BYTES + FRAME_OFFSET, used.len - NET_HDR_BYTES);
        virtq_push(&rxq, (uint16_t)(2 * k));
        refilled = true;
    }
    if (refilled) virtq_notify(&dev, &rxq);
    spin_unlock_irqrestore(&rx_lock, flags);
}

/* Takes back the transmit buffers the device has finished with. Called with tx_lock held. */
static void tx_reclaim(void)
{
    struct virtq_used_elem used;
    while (virtq_pop(&txq, &used)) {
        if (used.id % 2 == 0 && used.id / 2 < tx_count) tx_free[tx_free_count++] = (uint16_t)(used.id / 2);
    }
}

/* Takes tx_lock (interrupts disabled, the old RFLAGS in *flags) once the device has given back
 * enough transmit buffers that `wanted` are free; false, without the lock, after a second.
 * Called with interrupts enabled, the CPU halts while it waits and the device is asked to
 * interrupt for used transmit buffers meanwhile (virtio 0.9.5, 2.4.2): QEMU completes them in
 * its main loop, which a vCPU spinning under TCG starves. In an interrupt handler it polls. */
static bool tx_acquire(unsigned wanted, uint64_t *flags)
{
    uint64_t start = clock_ns();
    bool waiting = false;
    for (;;) {
        *flags = spin_lock_irqsave(&tx_lock);
        tx_reclaim();
        bool halt = *flags & (1u << 9);
        if (tx_free_count < wanted && halt) {
            if (!waiting) tx_waiters++;
            waiting = true;
            txq.avail->flags = 0;
            /* The flag before the last look at the ring: a buffer used after it interrupts. */
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            tx_reclaim();
        }
        bool ready = tx_free_count >= wanted;
        if (ready && waiting && --tx_waiters == 0) txq.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
        if (ready) return true;
        spin_unlock(&tx_lock);
        if (clock_ns() - start > TX_TIMEOUT_NS) {
            spin_lock(&tx_lock);
            if (waiting && --tx_waiters == 0) txq.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
            spin_unlock_irqrestore(&tx_lock, *flags);
            kprintf("lwk: virtio-net: the device has not returned a transmit buffer for a second\n");
            return false;
        }
        if (halt) {
            cpu_wait_for_interrupt_until(start + TX_TIMEOUT_NS + 1);
            __asm__ volatile("sti" ::: "memory");
        } else {
            cpu_relax();
        }
    }
}

int net_transmit(const void *head, uint32_t head_len, const void *data, uint32_t data_len)
{
    if (!present) return -LWK_ENODEV;
    if (head_len + data_len > NET_MAX_FRAME) return -LWK_EINVAL;
    uint64_t flags;
    if (!tx_acquire(1, &flags)) return -LWK_EIO;
    unsigned k = tx_free[--tx_free_count];
    uint8_t *frame = tx_buffers + k * BUFFER_BYTES + FRAME_OFFSET;
    __builtin_memcpy(frame, head, head_len);
    if (data_len) __builtin_memcpy(frame + head_len, data, data_len);
    uint32_t len = head_len + data_len;
    if (len < ETH_MIN_FRAME) {
        __builtin_memset(frame + len, 0, ETH_MIN_FRAME - len);
        len = ETH_MIN_FRAME;
    }
    txq.desc[2 * k + 1].len = len;
    virtq_push(&txq, (uint16_t)(2 * k));
    virtq_notify(&dev, &txq);
    spin_unlock_irqrestore(&tx_lock, flags);
    return 0;
}

int net_flush(void)
{
    if (!present) return -LWK_ENODEV;
    uint64_t flags;
    if (!tx_acquire(tx_count, &flags)) return -LWK_EIO;
    spin_unlock_irqrestore(&tx_lock, flags);
    return 0;
}
