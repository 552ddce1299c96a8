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
 * LWK_EMSGSIZE if it is longer than maxlen, LWK_EIO on a detected lost frame). The message's
 * bytes stay where the caller has them (a process's memory: no kernel copy of a whole message)
 * and move through `copy`, which msg_send calls for each frame it sends, again for frames sent
 * again, and msg_recv for each pool page of the message taken; an error it returns ends the call
 * with that error. A node buffers messages not yet received in a pool sized from its memory at
 * boot (its size is printed): a longer message is reported and dropped by the receiving node. */
struct msg_data {
    /* Moves n bytes between `offset` into the message and the kernel buffer kbuf: for msg_send
     * from the message into kbuf, for msg_recv from kbuf into the message. 0 or -LWK_E*. */
    int (*copy)(void *ctx, uint64_t offset, void *kbuf, uint32_t n);
    void *ctx;
};
bool msg_available(void);
int msg_send(int dst_rank, int tag, const struct msg_data *data, uint64_t len);
long msg_recv(int src_rank, int tag, const struct msg_data *data, uint64_t maxlen);

#endif
