/* QEMU's fw_cfg, traditional I/O interface (QEMU docs/specs/fw_cfg.rst): a 16-bit selector at
 * port 0x510, then the item's bytes one at a time from port 0x511. */
#include "testguest.h"

#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA 0x511

void fw_cfg_select(enum fw_cfg_key key)
{
    outw(FW_CFG_PORT_SELECTOR, (uint16_t)key);
}

void fw_cfg_read(void *buffer, size_t length)
{
    for (uint8_t *p = buffer; length; length--) *p++ = inb(FW_CFG_PORT_DATA);
}

bool fw_cfg_present(void)
{
    char signature[4];
    fw_cfg_select(FW_CFG_SIGNATURE);
    fw_cfg_read(signature, sizeof signature);
    return memcmp(signature, "QEMU", 4) == 0;
}

uint64_t fw_cfg_read_le(enum fw_cfg_key key, unsigned bytes)
{
    uint8_t raw[8];
    uint64_t v = 0;
    fw_cfg_select(key);
    fw_cfg_read(raw, bytes);
    while (bytes--) v = (v << 8) | raw[bytes];
    return v;
}
