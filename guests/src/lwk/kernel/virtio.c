/* The legacy virtio PCI transport (virtio 0.9.5): initialisation and split virtqueues. */
#include "virtio.h"

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FAILED      0x80
#define VIRTQ_ALIGN 4096

int64_t virtio_start(struct virtio_dev *dev, const char *name, struct pci_function f)
{
    uint32_t bar0 = pci_read(f, PCI_BAR0);
    if (!(bar0 & 1) || (bar0 & ~3u) == 0) {
        kprintf("lwk: %s at 00:%02x.%u: BAR0 is not an assigned I/O range (%x)\n", name, f.device, f.function, bar0);
        return -1;
    }
    uint32_t interrupt = pci_read(f, PCI_INTERRUPT);
    *dev = (struct virtio_dev){
        .name = name, .pci = f, .io = (uint16_t)(bar0 & ~3u),
        /* Pin 0: no INTx. Line 0xFF: firmware left it unconnected. */
        .irq = (interrupt >> 8 & 0xFF) ? (uint8_t)interrupt : 0xFF,
    };
    uint32_t command = pci_read(f, PCI_COMMAND) & 0xFFFF;
    command = (command | PCI_COMMAND_IO | PCI_COMMAND_BUS_MASTER) & ~PCI_COMMAND_INTX_OFF;
    pci_write(f, PCI_COMMAND, command);
    outb(dev->io + VIRTIO_STATUS, 0);   /* reset */
    outb(dev->io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    outb(dev->io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    return inl(dev->io + VIRTIO_HOST_FEATURES);
}

void virtio_set_features(const struct virtio_dev *dev, uint32_t features)
{
    outl(dev->io + VIRTIO_GUEST_FEATURES, features);
}

bool virtq_setup(const struct virtio_dev *dev, struct virtq *q, uint16_t index)
{
    outw(dev->io + VIRTIO_QUEUE_SELECT, index);
    uint16_t size = inw(dev->io + VIRTIO_QUEUE_SIZE);
    if (size == 0) {
        kprintf("lwk: %s has no queue %u\n", dev->name, index);
        return false;
    }
    /* virtio 0.9.5, 2.3: descriptors (16 bytes each), the available ring (flags, idx, ring,
     * used_event), then the used ring (flags, idx, ring, avail_event) on the next 4 KiB boundary. */
    size_t used_offset = (16UL * size + 2UL * (3 + size) + VIRTQ_ALIGN - 1) & ~(size_t)(VIRTQ_ALIGN - 1);
    size_t bytes = used_offset + 2UL * 3 + 8UL * size;
    uint8_t *mem = kalloc_pages((bytes + PAGE_SIZE - 1) / PAGE_SIZE);
    if (!mem) {
        kprintf("lwk: %s: no memory for queue %u (%u entries)\n", dev->name, index, size);
        return false;
    }
    *q = (struct virtq){
        .index = index, .size = size,
        .desc = (volatile struct virtq_desc *)mem,
        .avail = (volatile struct virtq_avail *)(mem + 16UL * size),
        .used = (volatile struct virtq_used *)(mem + used_offset),
    };
    outl(dev->io + VIRTIO_QUEUE_PFN, (uint32_t)(virt_to_phys(mem) / VIRTQ_ALIGN));
    return true;
}

void virtio_driver_ok(const struct virtio_dev *dev)
{
    outb(dev->io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
}

void virtio_fail(const struct virtio_dev *dev)
{
    outb(dev->io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FAILED);
}

void virtq_push(struct virtq *q, uint16_t head)
{
    q->avail->ring[q->avail->idx % q->size] = head;
    /* virtio 0.9.5, 2.4.1.2: the descriptors and ring entry before the index that publishes them. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    q->avail->idx++;
}

void virtq_notify(const struct virtio_dev *dev, const struct virtq *q)
{
    /* 2.4.1.4: the index update before the device can look at it, and no notification while
     * the device says it is still processing the ring (VRING_USED_F_NO_NOTIFY). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!(q->used->flags & VIRTQ_USED_F_NO_NOTIFY)) outw(dev->io + VIRTIO_QUEUE_NOTIFY, q->index);
}

bool virtq_pop(struct virtq *q, struct virtq_used_elem *out)
{
    if (q->used->idx == q->last_used) return false;
    /* The entry (and the buffer it returns) only after seeing the index that covers it. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
    out->id = e->id;
    out->len = e->len;
    q->last_used++;
    return true;
}
