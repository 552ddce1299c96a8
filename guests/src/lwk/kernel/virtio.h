/*
 * The legacy virtio PCI transport (virtio 0.9.5): device initialisation through the registers at
 * the start of BAR0's I/O space, and split virtqueues. Shared by virtio_blk.c and virtio_net.c;
 * plus the frame interface virtio_net.c gives msg.c.
 */
#ifndef LWK_VIRTIO_H
#define LWK_VIRTIO_H

#include "kernel.h"
#include "pci.h"

/* Registers in BAR0 (virtio 0.9.5, 2.2.2); without MSI-X the device configuration is at 0x14. */
#define VIRTIO_HOST_FEATURES    0x00
#define VIRTIO_GUEST_FEATURES   0x04
#define VIRTIO_QUEUE_PFN        0x08
#define VIRTIO_QUEUE_SIZE       0x0C
#define VIRTIO_QUEUE_SELECT     0x0E
#define VIRTIO_QUEUE_NOTIFY     0x10
#define VIRTIO_STATUS           0x12
#define VIRTIO_ISR              0x13
#define VIRTIO_CONFIG           0x14

#define VIRTQ_DESC_F_NEXT       1
#define VIRTQ_DESC_F_WRITE      2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY  1

struct virtq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct virtq_avail { uint16_t flags, idx, ring[]; };
struct virtq_used_elem { uint32_t id, len; };
struct virtq_used { uint16_t flags, idx; struct virtq_used_elem ring[]; };

struct virtio_dev {
    const char *name;
    struct pci_function pci;
    uint16_t io;        /* BAR0 */
    uint8_t irq;        /* interrupt line, 0xFF for none */
};

struct virtq {
    uint16_t index, size;
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
    uint16_t last_used;     /* used-ring entries taken by the driver */
};

/* Enables I/O decoding and bus mastering, resets the device and sets ACKNOWLEDGE and DRIVER
 * (virtio 0.9.5, 2.2.1). Returns the features the device offers, or -1 (with a message) if BAR0
 * is not an assigned I/O range. */
int64_t virtio_start(struct virtio_dev *dev, const char *name, struct pci_function f);
void virtio_set_features(const struct virtio_dev *dev, uint32_t features);
/* Allocates queue `index` (kalloc_pages) and gives it to the device; false (with a message) if
 * the device has no such queue or there is no memory. */
bool virtq_setup(const struct virtio_dev *dev, struct virtq *q, uint16_t index);
void virtio_driver_ok(const struct virtio_dev *dev);
/* Sets FAILED after a failed initialisation (virtio 0.9.5, 2.2.1 step 7 note). */
void virtio_fail(const struct virtio_dev *dev);
/* Reading the ISR status clears it and deasserts INTx (virtio 0.9.5, 2.2.2.3). */
static inline uint8_t virtio_isr(const struct virtio_dev *dev) { return inb(dev->io + VIRTIO_ISR); }

/* Puts the chain starting at descriptor `head` in the available ring (without notifying). */
void virtq_push(struct virtq *q, uint16_t head);
void virtq_notify(const struct virtio_dev *dev, const struct virtq *q);
/* Takes the next used-ring entry, if the device has returned one. */
bool virtq_pop(struct virtq *q, struct virtq_used_elem *out);

/* virtio_net.c for msg.c: whole Ethernet frames, without the virtio_net_hdr. */
bool net_present(void);
/* rx(frame, len) is called for each received frame, from the NIC's interrupt or net_poll, with
 * interrupts disabled; it may call net_transmit. */
void net_set_receiver(void (*rx)(const uint8_t *frame, uint32_t len));
/* Sends head followed by data as one frame (at most NET_MAX_FRAME bytes); returns 0 once the
 * NIC has it, -LWK_EIO if the NIC does not take it back within a second. */
#define NET_MAX_FRAME 1514
int net_transmit(const void *head, uint32_t head_len, const void *data, uint32_t data_len);
/* Waits until the device has taken every frame given to it: 0, or -LWK_EIO after a second. */
int net_flush(void);
/* Hands the frames received so far to the receiver. */
void net_poll(void);

#endif
