/* PCI configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2) on bus 0: register access and
 * finding a function by its vendor and device IDs. */
#include "testguest.h"

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC
#define PCI_CONFIG_ENABLE 0x80000000u

/* Enable bit, bus (0), device, function, register to 0xCF8; the dword at 0xCFC. */
uint32_t pci_read(unsigned device, unsigned function, enum pci_config_register reg)
{
    outl(PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | device << 11 | function << 8 | reg);
    return inl(PCI_CONFIG_DATA);
}

void pci_write(unsigned device, unsigned function, enum pci_config_register reg, uint32_t v)
{
    outl(PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | device << 11 | function << 8 | reg);
    outl(PCI_CONFIG_DATA, v);
}

unsigned pci_function_slots(unsigned device)
{
    if ((pci_read(device, 0, PCI_ID) & 0xFFFF) == 0xFFFF) return 0;
    return (pci_read(device, 0, PCI_HEADER) >> 16) & PCI_HEADER_MULTI_FUNCTION ? 8 : 1;
}

bool pci_find(uint32_t id, unsigned *device, unsigned *function)
{
    for (unsigned d = 0; d < 32; d++) {
        unsigned functions = pci_function_slots(d);
        for (unsigned f = 0; f < functions; f++) {
            if (pci_read(d, f, PCI_ID) == id) {
                *device = d;
                *function = f;
                return true;
            }
        }
    }
    return false;
}
