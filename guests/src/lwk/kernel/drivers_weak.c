/* Stand-ins for the drivers (drivers.h) while the kernel is built without them: no devices. The
 * real definitions in pci.c, virtio*.c and msg.c replace these at link time. */
#include "drivers.h"

__attribute__((weak)) void drivers_init(void) {}
__attribute__((weak)) uint64_t blk_sectors(void) { return 0; }
__attribute__((weak)) int blk_read(uint64_t sector, void *buf, uint32_t count) { (void)sector; (void)buf; (void)count; return -LWK_ENODEV; }
__attribute__((weak)) int blk_write(uint64_t sector, const void *buf, uint32_t count) { (void)sector; (void)buf; (void)count; return -LWK_ENODEV; }
__attribute__((weak)) bool msg_available(void) { return false; }
__attribute__((weak)) int msg_send(int dst_rank, int tag, const struct msg_data *data, uint64_t len) { (void)dst_rank; (void)tag; (void)data; (void)len; return -LWK_ENODEV; }
__attribute__((weak)) long msg_recv(int src_rank, int tag, const struct msg_data *data, uint64_t maxlen) { (void)src_rank; (void)tag; (void)data; (void)maxlen; return -LWK_ENODEV; }
