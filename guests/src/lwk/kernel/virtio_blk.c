/*
 * virtio-blk (virtio 0.9.5, appendix D) on the legacy PCI transport: one request in flight at a
 * time on queue 0, completed by polling the used ring, so that it works with interrupts disabled
 * (the swap code reads and writes from the page-fault handler). The device is asked not to
 * interrupt at all.
 */
#include "drivers.h"
#include "virtio.h"

#define VIRTIO_BLK_F_SIZE_MAX   1   /* config size_max: the largest segment */
#define VIRTIO_BLK_F_SEG_MAX    2   /* config seg_max: the most data segments in a request */
#define VIRTIO_BLK_CONFIG_CAPACITY  0   /* u64, in 512-byte sectors */
#define VIRTIO_BLK_CONFIG_SIZE_MAX  8
#define VIRTIO_BLK_CONFIG_SEG_MAX   12
#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_S_OK     0
#define SECTOR_SIZE 512
/* Data segments per request, at most: one per page (or part of a page) of the buffer. */
#define MAX_SEGMENTS 128
#define STALL_NS (30ULL * 1000000000)

struct blk_request_header { uint32_t type, reserved; uint64_t sector; };

static struct virtio_dev dev;
static struct virtq queue;
static spinlock_t lock;
static uint64_t capacity;
static unsigned max_segments;
static uint32_t max_segment_bytes;
/* The request header and status byte, in a page of their own (their physical address is needed). */
static struct blk_request_header *header;
static volatile uint8_t *status;

bool virtio_blk_probe(struct pci_function f)
{
    int64_t offered = virtio_start(&dev, "virtio-blk", f);
    if (offered < 0) return false;
    uint32_t accepted = (uint32_t)offered & (1u << VIRTIO_BLK_F_SIZE_MAX | 1u << VIRTIO_BLK_F_SEG_MAX);
    virtio_set_features(&dev, accepted);
    uint64_t sectors = inl(dev.io + VIRTIO_CONFIG + VIRTIO_BLK_CONFIG_CAPACITY)
                       | (uint64_t)inl(dev.io + VIRTIO_CONFIG + VIRTIO_BLK_CONFIG_CAPACITY + 4) << 32;
    uint8_t *page = kalloc_pages(1);
    if (!page) kprintf("lwk: virtio-blk: no memory for requests\n");
    if (!page || !virtq_setup(&dev, &queue, 0)) {
        virtio_fail(&dev);
        return false;
    }
    if (queue.size < 4) {   /* a header, a status and the two data segments an unaligned sector may need */
        kprintf("lwk: virtio-blk: a queue of %u entries is too small\n", queue.size);
        virtio_fail(&dev);
        return false;
    }
    header = (struct blk_request_header *)page;
    status = page + sizeof *header;
    max_segments = queue.size - 2u < MAX_SEGMENTS ? queue.size - 2u : MAX_SEGMENTS;
    if (accepted & 1u << VIRTIO_BLK_F_SEG_MAX) {
        uint32_t seg_max = inl(dev.io + VIRTIO_CONFIG + VIRTIO_BLK_CONFIG_SEG_MAX);
        if (seg_max >= 2 && seg_max < max_segments) max_segments = seg_max;
    }
    max_segment_bytes = PAGE_SIZE;
    if (accepted & 1u << VIRTIO_BLK_F_SIZE_MAX) {
        uint32_t size_max = inl(dev.io + VIRTIO_CONFIG + VIRTIO_BLK_CONFIG_SIZE_MAX);
        if (size_max >= SECTOR_SIZE && size_max < max_segment_bytes) max_segment_bytes = size_max;
    }
    /* Polled: no used-buffer interrupts (2.4.2; honoured as a hint, and not needed). */
    queue.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    virtio_driver_ok(&dev);
    capacity = sectors;
    kprintf("lwk: virtio-blk at 00:%02x.%u, %lu sectors, irq %u\n", f.device, f.function, capacity, dev.irq);
    return true;
}

uint64_t blk_sectors(void)
{
    return capacity;
}

/* Describes up to `bytes` of buf as data segments after descriptor 0, at most max_segments of at
 * most max_segment_bytes, each within one page; returns how many bytes it took, a whole number
 * of sectors (the device's transfer unit), and the number of segments in *segments. */
static uint32_t describe_data(const uint8_t *buf, uint64_t bytes, bool device_writes, unsigned *segments)
{
    uint64_t taken = 0;
    unsigned n = 0;
    while (taken < bytes && n < max_segments) {
        uint64_t pa = virt_to_phys(buf + taken);
        uint64_t chunk = PAGE_SIZE - (pa & (PAGE_SIZE - 1));
        if (chunk > max_segment_bytes) chunk = max_segment_bytes;
        if (chunk > bytes - taken) chunk = bytes - taken;
        queue.desc[1 + n] = (struct virtq_desc){
            pa, (uint32_t)chunk, (uint16_t)(VIRTQ_DESC_F_NEXT | (device_writes ? VIRTQ_DESC_F_WRITE : 0)), (uint16_t)(2 + n) };
        taken += chunk;
        n++;
    }
    /* Give back a partial sector at the end (an unaligned buffer's last segment). */
    uint32_t excess = (uint32_t)(taken % SECTOR_SIZE);
    taken -= excess;
    while (excess) {
        uint32_t len = queue.desc[n].len;
        if (len > excess) {
            queue.desc[n].len = len - excess;
            excess = 0;
        } else {
            excess -= len;
            n--;
        }
    }
    *segments = n;
    return (uint32_t)taken;
}

/* One request: header, data segments, status (virtio 0.9.5, D.3). Called with the lock held. */
static int blk_request(uint32_t type, uint64_t sector, uint8_t *buf, uint64_t bytes, uint32_t *done)
{
    unsigned segments;
    *done = describe_data(buf, bytes, type == VIRTIO_BLK_T_IN, &segments);
    *header = (struct blk_request_header){ type, 0, sector };
    *status = 0xFF;
    queue.desc[0] = (struct virtq_desc){ virt_to_phys(header), sizeof *header, VIRTQ_DESC_F_NEXT, 1 };
    queue.desc[1 + segments] = (struct virtq_desc){ virt_to_phys((const void *)status), 1, VIRTQ_DESC_F_WRITE, 0 };
    virtq_push(&queue, 0);
    virtq_notify(&dev, &queue);
    struct virtq_used_elem used;
    uint64_t start = clock_ns();
    bool warned = false;
    while (!virtq_pop(&queue, &used)) {
        if (!warned && clock_ns() - start > STALL_NS) {
            kprintf("lwk: virtio-blk: still waiting for the %s of sector %lu\n", type == VIRTIO_BLK_T_IN ? "read" : "write", sector);
            warned = true;
        }
        cpu_relax();
    }
    if (*status != VIRTIO_BLK_S_OK) {
        kprintf("lwk: virtio-blk: %s of %u sectors at %lu failed, status %u\n", type == VIRTIO_BLK_T_IN ? "read" : "write",
                *done / SECTOR_SIZE, sector, *status);
        return -LWK_EIO;
    }
    return 0;
}

static int blk_transfer(uint32_t type, uint64_t sector, uint8_t *buf, uint32_t count)
{
    if (!capacity) return -LWK_ENODEV;
    if (sector > capacity || count > capacity - sector) return -LWK_EINVAL;
    uint64_t flags = spin_lock_irqsave(&lock);
    uint64_t left = (uint64_t)count * SECTOR_SIZE;
    int err = 0;
    while (left && !err) {
        uint32_t done;
        err = blk_request(type, sector, buf, left, &done);
        sector += done / SECTOR_SIZE;
        buf += done;
        left -= done;
    }
    spin_unlock_irqrestore(&lock, flags);
    return err;
}

int blk_read(uint64_t sector, void *buf, uint32_t count)
{
    return blk_transfer(VIRTIO_BLK_T_IN, sector, buf, count);
}

int blk_write(uint64_t sector, const void *buf, uint32_t count)
{
    /* The device only reads the buffer (its descriptors lack VIRTQ_DESC_F_WRITE). */
    return blk_transfer(VIRTIO_BLK_T_OUT, sector, (uint8_t *)(uintptr_t)buf, count);
}
