/* PCI bus 0 enumeration and the start of the drivers of the devices found. */
#include "drivers.h"
#include "pci.h"

#define PCI_CONFIG_ADDRESS  0xCF8
#define PCI_CONFIG_DATA     0xCFC
#define PCI_CONFIG_ENABLE   0x80000000u
#define PCI_MULTI_FUNCTION  0x80    /* header type bit 7 */

#define VIRTIO_VENDOR       0x1AF4
#define VIRTIO_NET_DEVICE   0x1000  /* legacy/transitional IDs: 0x1000 + (virtio type - 1) */
#define VIRTIO_BLK_DEVICE   0x1001

/* Configuration cycles are two port accesses: the address/data pair is shared by all CPUs. */
static spinlock_t config_lock;

static uint32_t config_address(struct pci_function f, unsigned reg)
{
    return PCI_CONFIG_ENABLE | (uint32_t)f.device << 11 | (uint32_t)f.function << 8 | (reg & 0xFC);
}

uint32_t pci_read(struct pci_function f, unsigned reg)
{
    uint64_t flags = spin_lock_irqsave(&config_lock);
    outl(PCI_CONFIG_ADDRESS, config_address(f, reg));
    uint32_t v = inl(PCI_CONFIG_DATA);
    spin_unlock_irqrestore(&config_lock, flags);
    return v;
}

void pci_write(struct pci_function f, unsigned reg, uint32_t value)
{
    uint64_t flags = spin_lock_irqsave(&config_lock);
    outl(PCI_CONFIG_ADDRESS, config_address(f, reg));
    outl(PCI_CONFIG_DATA, value);
    spin_unlock_irqrestore(&config_lock, flags);
}

void drivers_init(void)
{
    bool have_blk = false, have_net = false;
    for (uint8_t d = 0; d < 32; d++) {
        struct pci_function f0 = { d, 0 };
        if ((pci_read(f0, PCI_ID) & 0xFFFF) == 0xFFFF) continue;
        unsigned functions = (pci_read(f0, PCI_HEADER) >> 16) & PCI_MULTI_FUNCTION ? 8 : 1;
        for (uint8_t fn = 0; fn < functions; fn++) {
            struct pci_function f = { d, fn };
            uint32_t id = pci_read(f, PCI_ID);
            if ((id & 0xFFFF) != VIRTIO_VENDOR) continue;
            /* Only the first disk and NIC are driven (drivers.h). */
            if (id >> 16 == VIRTIO_BLK_DEVICE && !have_blk) have_blk = virtio_blk_probe(f);
            else if (id >> 16 == VIRTIO_NET_DEVICE && !have_net) have_net = virtio_net_probe(f);
        }
    }
    msg_init();
}
