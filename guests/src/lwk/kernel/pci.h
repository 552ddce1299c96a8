/*
 * PCI configuration space of bus 0 (configuration mechanism #1, PCI Local Bus 3.0, 3.2.2.3.2),
 * shared by the drivers, and the device drivers' entry points drivers_init calls.
 */
#ifndef LWK_PCI_H
#define LWK_PCI_H

#include "kernel.h"

#define PCI_ID          0x00    /* vendor ID (low half), device ID (high half) */
#define PCI_COMMAND     0x04
#define PCI_HEADER      0x0C    /* header type in bits 16-23 */
#define PCI_BAR0        0x10
#define PCI_INTERRUPT   0x3C    /* line (bits 0-7), pin (bits 8-15) */

#define PCI_COMMAND_IO          0x1
#define PCI_COMMAND_BUS_MASTER  0x4
#define PCI_COMMAND_INTX_OFF    0x400

/* A function on bus 0. */
struct pci_function {
    uint8_t device, function;
};

uint32_t pci_read(struct pci_function f, unsigned reg);
void pci_write(struct pci_function f, unsigned reg, uint32_t value);

/* Start a driver for the function; false when it cannot drive it (a message says why). */
bool virtio_blk_probe(struct pci_function f);
bool virtio_net_probe(struct pci_function f);
/* The message layer on top of the NIC, once the devices are known. */
void msg_init(void);

#endif
