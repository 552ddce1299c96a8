/*
 * Devices the kernel drives: PCI configuration, legacy (0.9.5) virtio-PCI virtio-blk and
 * virtio-net, and message passing between nodes over virtio-net. Implemented in pci.c, virtio.c,
 * virtio_blk.c, virtio_net.c and msg.c; called by the core (swap, system calls, boot).
 */
#ifndef LWK_DRIVERS_H
#define LWK_DRIVERS_H

#include "kernel.h"

/* Enumerates PCI bus 0 (mechanism #1, ports 0xCF8/0xCFC) and starts the drivers of the devices
 * found; prints one line per device it drives. Called once by the bootstrap processor after
 * interrupts are set up and before any process starts. */
void drivers_init(void);

/* The first virtio-blk disk. blk_sectors is 0 when there is none. Sectors are 512 bytes.
 * blk_read/blk_write transfer `count` sectors to or from `buf`, a kernel address (direct map or
 * kernel image; it may cross page boundaries), wait until the device has finished and return 0,
 * or a negative LWK_E* value. They may be called from any CPU, with interrupts enabled or
 * disabled; requests are serialized internally. */
uint64_t blk_sectors(void);
int blk_read(uint64_t sector, void *buf, uint32_t count);
int blk_write(uint64_t sector, const void *buf, uint32_t count);

/* Message passing over the first virtio-net NIC between the nodes of a run (kernel options
 * rank= and nranks=). Node r's frames carry source MAC 02:4C:57:4B:(r >> 8):(r & 0xFF) and are
 * sent to the destination node's MAC of the same form, so a learning switch delivers them; a
 * message longer than one frame is split and reassembled in order; frames are acknowledged and
 * lost ones sent again (go-back-N). msg_send returns once the receiving node has the whole
 * message. msg_recv waits (interrupt driven, CPU halted in between) for the
 * next message from src with that tag, buffering messages that arrive for other (src, tag)
 * pairs, and returns its length, or a negative LWK_E* value (LWK_ENODEV without a NIC,
 * LWK_EMSGSIZE if it is longer than maxlen, LWK_EIO on a detected lost frame). Buffers are kernel
 * addresses. */
bool msg_available(void);
int msg_send(int dst_rank, int tag, const void *buf, uint64_t len);
long msg_recv(int src_rank, int tag, void *buf, uint64_t maxlen);

#endif
