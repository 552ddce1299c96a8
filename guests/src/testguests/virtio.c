/* The legacy virtio PCI transport (virtio 0.9.5) as a driver uses it: device initialisation
 * through the registers in BAR0's I/O space, and split virtqueues in guest memory. */
#include "testguest.h"

uint32_t virtio_start(struct virtio_device *dev, const char *name, unsigned pci_device, unsigned pci_function)
{
    uint32_t bar0 = pci_read(pci_device, pci_function, PCI_BAR0);
    if (!(bar0 & 1) || (bar0 & ~3u) == 0) fail("%s BAR0 is not an assigned I/O range (0x%x)", name, bar0);
    *dev = (struct virtio_device){ name, pci_device, pci_function, (uint16_t)(bar0 & ~3u) };
    pci_write(pci_device, pci_function, PCI_COMMAND,
              pci_read(pci_device, pci_function, PCI_COMMAND) | PCI_COMMAND_IO_SPACE | PCI_COMMAND_BUS_MASTER);
    virtio_reset(dev);
    outb(dev->io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    outb(dev->io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    return inl(dev->io + VIRTIO_HOST_FEATURES);
}

void virtio_accept_features(const struct virtio_device *dev, uint32_t features)
{
    outl(dev->io + VIRTIO_GUEST_FEATURES, features);
}

void virtio_queue_setup(const struct virtio_device *dev, struct virtqueue *q, uint16_t index, void *memory, size_t bytes)
{
    outw(dev->io + VIRTIO_QUEUE_SELECT, index);
    uint16_t size = inw(dev->io + VIRTIO_QUEUE_SIZE);
    /* virtio 0.9.5 2.3: the descriptors, the available ring, then the used ring on the next page. */
    size_t used_offset = (16u * size + 6u + 2u * size + VIRTQ_ALIGN - 1) & ~(size_t)(VIRTQ_ALIGN - 1);
    if (size == 0 || used_offset + 6u + 8u * size > bytes)
        fail("%s queue %u has %u entries, which do not fit in %lu bytes", dev->name, index, size, (unsigned long)bytes);
    memset(memory, 0, bytes);
    *q = (struct virtqueue){
        .index = index,
        .size = size,
        .descriptors = memory,
        .avail = (struct virtq_avail *)((uint8_t *)memory + 16u * size),
        .used = (volatile struct virtq_used *)((uint8_t *)memory + used_offset),
    };
    outl(dev->io + VIRTIO_QUEUE_PFN, (uint32_t)((uintptr_t)memory / VIRTQ_ALIGN));
}

void virtio_driver_ok(const struct virtio_device *dev)
{
    outb(dev->io + VIRTIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
}

void virtio_reset(const struct virtio_device *dev)
{
    outb(dev->io + VIRTIO_STATUS, 0);
}

uint8_t virtio_config_read8(const struct virtio_device *dev, unsigned offset)
{
    return inb((uint16_t)(dev->io + VIRTIO_DEVICE_CONFIG + offset));
}

uint16_t virtio_config_read16(const struct virtio_device *dev, unsigned offset)
{
    return inw((uint16_t)(dev->io + VIRTIO_DEVICE_CONFIG + offset));
}

uint8_t virtio_acknowledge_interrupt(const struct virtio_device *dev)
{
    return inb(dev->io + VIRTIO_ISR_STATUS);
}

void virtq_make_available(struct virtqueue *q, uint16_t head)
{
    q->avail->ring[q->avail->index % q->size] = head;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* the descriptors and the entry before the index that publishes them */
    q->avail->index++;
}

void virtio_notify(const struct virtio_device *dev, const struct virtqueue *q)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* the available index before the device looks at it */
    outw(dev->io + VIRTIO_QUEUE_NOTIFY, q->index);
}

bool virtq_take_used(struct virtqueue *q, struct virtq_used_elem *elem)
{
    if (q->used->index == q->used_taken) return false;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* the entry and the buffer it returns after the index */
    const volatile struct virtq_used_elem *entry = &q->used->ring[q->used_taken % q->size];
    elem->id = entry->id;
    elem->length = entry->length;
    q->used_taken++;
    return true;
}
