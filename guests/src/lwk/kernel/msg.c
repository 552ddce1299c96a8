/*
 * Message passing between the nodes of a run over the virtio-net NIC (drivers.h).
 *
 * Wire format: an Ethernet frame with EtherType 0x88B5 (IEEE local experimental) from the
 * sender's rank MAC to the receiver's, then the rest of struct frame_head, then up to
 * MSG_PAYLOAD bytes. A message is cut into fragments 0..count-1. Every DATA frame from node s to
 * node d carries a frame number (0, 1, 2, ... per (s, d)), every message a sequence number (per
 * (s, d)).
 *
 * Neither virtio nor the link waits for a receiver without buffers, and a hub (QEMU's socket
 * netdev) drops frames when a host socket overflows, so frames are acknowledged, go-back-N:
 * the receiver takes DATA frames strictly in frame order and says how far it got in CREDIT
 * frames (every WINDOW / 2 frames and at the end of each message); a frame beyond a gap is
 * dropped and answered with a NACK, and the sender sends again from the first frame missing.
 * The sender keeps at most WINDOW frames beyond the receiver's count in flight, and msg_send
 * returns once the receiving node has taken the whole message (the data to send again is the
 * caller's buffer). Before its first message to a node the sender sends HELLO frames until the
 * node answers with a CREDIT (a node still booting would drop the frames); HELLO also asks
 * again for credit when nothing moved for RESEND_NS, and the unacknowledged frames go again.
 *
 * Received frames are taken off the NIC by its interrupt (or by any waiter's net_poll) and
 * reassembled at once into a pool of pages, where complete messages wait for msg_recv. What
 * cannot happen with frames in order is still checked: a message whose fragments or sequence
 * numbers do not follow (a sender that gave up half way), or that does not fit in the pool, is
 * reported (kprintf naming both ranks) and kept as a failure in its place, so the msg_recv that
 * would have taken it gets -LWK_EIO; a message lost without a trace (a gap in the sequence
 * numbers) gives -LWK_EIO to the next msg_recv from that node with nothing to take.
 */
#include "drivers.h"
#include "virtio.h"

#define ETHERTYPE_MSG   0x88B5
#define MSG_VERSION     1
#define MSG_PAYLOAD     1400    /* bytes of a message per frame */
#define MAX_RANKS       65536   /* the two bytes of a rank MAC */
/* DATA frames in flight per destination. A NIC has 128 receive buffers: up to four senders'
 * windows fit; beyond, a frame meeting a full ring is lost and sent again after the NACK. */
#define WINDOW          32
#define CREDIT_EVERY    (WINDOW / 2)
/* The pool for messages not yet received: a quarter of the memory free at boot, 4 MiB at most;
 * below the minimum the node has no messages. Message slots: one per pool page (short messages
 * take a page each) and some for empty messages and failures. */
#define POOL_PAGES_MAX  1024
#define POOL_PAGES_MIN  8
#define SPARE_MESSAGES  64
#define HELLO_NS        10000000ULL         /* HELLO again after 10 ms without an answer */
/* Send again after this long without progress, doubling up to 1.6 s while nothing moves (a
 * halted VM's virtual time can run far ahead of its peers'). */
#define RESEND_NS       100000000ULL
#define RESEND_MAX_NS   1600000000ULL
#define WARN_NS         30000000000ULL      /* "still waiting" after 30 s */

enum frame_kind { KIND_DATA = 1, KIND_HELLO = 2, KIND_CREDIT = 3, KIND_NACK = 4 };

struct frame_head {
    uint8_t dst_mac[6], src_mac[6];
    uint16_t ethertype;         /* big-endian */
    /* the message header, little-endian */
    uint8_t kind, version;
    uint16_t src, dst;          /* ranks */
    uint16_t length;            /* payload bytes in this frame */
    uint32_t frame;             /* DATA: frame number; CREDIT, NACK: DATA frames taken from dst so far */
    uint32_t seq;               /* DATA: the message's sequence number */
    int32_t tag;
    uint32_t fragment, fragments;
    uint32_t total;             /* the message's length */
} __attribute__((packed));

/* What one node knows about another. */
struct peer {
    /* As a sender to it. */
    uint32_t tx_frame, tx_seq;
    volatile uint32_t tx_taken;     /* from its CREDIT and NACK frames */
    /* As a receiver from it. */
    uint32_t rx_frame, rx_seq;
    uint32_t credit_sent;
    int32_t assembling;             /* message being reassembled, or -1 */
    uint32_t lost;                  /* lost messages of unknown tag not reported to msg_recv yet */
    volatile bool up;               /* it has answered */
    bool rewind;                    /* it sent a NACK: send again from tx_taken (atomic) */
    bool nacked;                    /* a NACK for rx_frame went out */
    bool skipping;                  /* dropping frames until the next message starts */
};
_Static_assert(sizeof(struct peer) == 36, "per-peer state stays small: every node has one per rank");

/* FAILED: a message known to be lost (its source and tag came), for msg_recv to report. */
enum message_state { FREE, ASSEMBLING, COMPLETE, FAILED, TAKEN };

/* A message in the pool: its bytes in a chain of pool pages. */
struct message {
    uint8_t state;
    uint16_t src;
    int32_t tag;
    uint32_t seq, length, filled, next_fragment, fragments;
    uint64_t arrival;               /* messages of one (src, tag) are taken in arrival order */
    int32_t first_page, fill_page;
};

static int rank = -1, nranks;
static uint8_t own_mac[6];
static struct peer *peers;
static struct message *messages;
static uint8_t *pool;
static int32_t *page_next;          /* chains of pool pages, and the free list */
static int32_t free_page = -1;
static uint32_t free_pages, pool_pages, max_messages;
static uint64_t arrivals;
static spinlock_t msg_lock;         /* peers' receive side, messages, pool */
static spinlock_t send_lock;        /* one message at a time leaves this node, in order */

static void rank_mac(int r, uint8_t mac[6])
{
    mac[0] = 0x02; mac[1] = 0x4C; mac[2] = 0x57; mac[3] = 0x4B;
    mac[4] = (uint8_t)(r >> 8);
    mac[5] = (uint8_t)r;
}

/* The kernel option `key` as a number, `absent` without it; false if it is not a number up to
 * MAX_RANKS. */
static bool option(const char *key, int absent, int *out)
{
    char buf[16];
    const char *s = cmdline_get(key, buf, sizeof buf);
    *out = absent;
    if (!s) return true;
    if (!*s) return false;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > MAX_RANKS) return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

static inline uint64_t irq_disable(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) :: "memory");
    return flags;
}

static inline void irq_restore(uint64_t flags)
{
    if (flags & (1u << 9)) __asm__ volatile("sti" ::: "memory");
}

static struct frame_head frame_to(int dst, enum frame_kind kind)
{
    struct frame_head h = { .ethertype = __builtin_bswap16(ETHERTYPE_MSG), .kind = (uint8_t)kind,
                            .version = MSG_VERSION, .src = (uint16_t)rank, .dst = (uint16_t)dst };
    rank_mac(dst, h.dst_mac);
    __builtin_memcpy(h.src_mac, own_mac, 6);
    return h;
}

static void send_control(int dst, enum frame_kind kind, uint32_t frame)
{
    struct frame_head h = frame_to(dst, kind);
    h.frame = frame;
    net_transmit(&h, sizeof h, NULL, 0);
}

/* ---- the pool (msg_lock held) ---- */

static void message_free_pages(struct message *m)
{
    int32_t p = m->first_page;
    while (p >= 0) {
        int32_t next = page_next[p];
        page_next[p] = free_page;
        free_page = p;
        free_pages++;
        p = next;
    }
    m->first_page = m->fill_page = -1;
}

static void message_free(struct message *m)
{
    message_free_pages(m);
    m->state = FREE;
}

/* A pool message of `length` bytes with all its pages, or NULL when the pool is full. */
static struct message *message_alloc(int src, int tag, uint32_t length)
{
    uint32_t pages = (length + PAGE_SIZE - 1) / PAGE_SIZE;
    if (pages > free_pages) return NULL;
    struct message *m = NULL;
    for (unsigned i = 0; i < max_messages && !m; i++) {
        if (messages[i].state == FREE) m = &messages[i];
    }
    if (!m) return NULL;
    *m = (struct message){ .state = ASSEMBLING, .src = (uint16_t)src, .tag = tag, .length = length,
                           .arrival = arrivals++, .first_page = -1, .fill_page = -1 };
    int32_t *link = &m->first_page;
    for (uint32_t i = 0; i < pages; i++) {
        int32_t p = free_page;
        free_page = page_next[p];
        free_pages--;
        *link = p;
        link = &page_next[p];
    }
    *link = -1;
    m->fill_page = m->first_page;
    return m;
}

static void message_append(struct message *m, const uint8_t *data, uint32_t n)
{
    while (n) {
        uint32_t offset = m->filled % PAGE_SIZE;
        uint32_t chunk = PAGE_SIZE - offset < n ? PAGE_SIZE - offset : n;
        __builtin_memcpy(pool + (uint64_t)m->fill_page * PAGE_SIZE + offset, data, chunk);
        m->filled += chunk;
        data += chunk;
        n -= chunk;
        if (m->filled % PAGE_SIZE == 0) m->fill_page = page_next[m->fill_page];
    }
}

/* A taken message's bytes to where the caller wants them (no lock: its pages are its own). */
static int message_copy_out(const struct message *m, const struct msg_data *data)
{
    uint32_t done = 0;
    for (int32_t p = m->first_page; done < m->length; p = page_next[p]) {
        uint32_t chunk = m->length - done < PAGE_SIZE ? m->length - done : PAGE_SIZE;
        int err = data->copy(data->ctx, done, pool + (uint64_t)p * PAGE_SIZE, chunk);
        if (err) return err;
        done += chunk;
    }
    return 0;
}

/* ---- receiving (from net_poll, interrupts disabled) ---- */

static uint32_t fragments_of(uint32_t length)
{
    return length ? (length + MSG_PAYLOAD - 1) / MSG_PAYLOAD : 1;
}

/* The message being reassembled from p cannot be completed: it stays, without its pages, as a
 * failure for the msg_recv that would have taken it. */
static void abandon(struct peer *p)
{
    if (p->assembling >= 0) {
        message_free_pages(&messages[p->assembling]);
        messages[p->assembling].state = FAILED;
    }
    p->assembling = -1;
}

/* A message from src with that tag is lost: a failure in its place among src's messages (or one
 * of unknown tag when no slot is free). */
static void record_lost(struct peer *p, int src, int tag)
{
    struct message *m = message_alloc(src, tag, 0);
    if (m) m->state = FAILED;
    else p->lost++;
}

/* Messages numbered from p->rx_seq up to seq (excluded) never showed a frame: lost, tag unknown. */
static void skipped_messages(struct peer *p, uint32_t seq)
{
    int32_t missing = (int32_t)(seq - p->rx_seq);
    if (missing > 0) p->lost += (uint32_t)missing;
}

/* The next DATA frame from src in frame order. */
static void take_data(const struct frame_head *h, const uint8_t *payload, uint32_t payload_bytes)
{
    int src = h->src;
    struct peer *p = &peers[src];
    uint32_t fragments = fragments_of(h->total);
    uint32_t expected_length = h->fragment + 1 == fragments ? h->total - h->fragment * MSG_PAYLOAD : MSG_PAYLOAD;
    if (h->total > LWK_MSG_MAX || h->fragments != fragments || h->fragment >= fragments
        || h->length != expected_length || h->length > payload_bytes) {
        kprintf("lwk: msg: malformed frame from rank %d to rank %d (fragment %u of %u, %u bytes of %u)\n",
                src, rank, h->fragment, h->fragments, h->length, h->total);
        abandon(p);
        p->lost++;
        p->skipping = true;
        return;
    }
    if (h->fragment == 0) {
        if (p->assembling >= 0) {
            kprintf("lwk: msg: message %u from rank %d to rank %d lost its end\n", messages[p->assembling].seq, src, rank);
            abandon(p);
        }
        if (h->seq != p->rx_seq) {
            kprintf("lwk: msg: message %u from rank %d to rank %d came while %u was expected\n", h->seq, src, rank, p->rx_seq);
            skipped_messages(p, h->seq);
        }
        p->skipping = false;
        p->rx_seq = h->seq + 1;
        struct message *m = message_alloc(src, h->tag, h->total);
        if (!m) {
            kprintf("lwk: msg: no room to buffer a message of %u bytes from rank %d tag %d on rank %d: dropped\n",
                    h->total, src, h->tag, rank);
            record_lost(p, src, h->tag);
            p->skipping = true;
            return;
        }
        m->seq = h->seq;
        m->fragments = fragments;
        p->assembling = (int)(m - messages);
    } else if (p->skipping) {
        return;
    }
    struct message *m = p->assembling >= 0 ? &messages[p->assembling] : NULL;
    if (!m || h->seq != m->seq || h->fragment != m->next_fragment || h->tag != m->tag || h->total != m->length) {
        kprintf("lwk: msg: fragment %u of message %u from rank %d to rank %d came out of order\n", h->fragment, h->seq, src, rank);
        if (!m || h->seq != m->seq) record_lost(p, src, h->tag);   /* this frame's message lacks its start */
        abandon(p);
        p->skipping = true;
        return;
    }
    message_append(m, payload, h->length);
    if (++m->next_fragment == m->fragments) {
        m->state = COMPLETE;
        p->assembling = -1;
    }
}

static void send_credit(int src, struct peer *p)
{
    p->credit_sent = p->rx_frame;
    send_control(src, KIND_CREDIT, p->rx_frame);
}

static void receive_frame(const uint8_t *frame, uint32_t len)
{
    const struct frame_head *h = (const struct frame_head *)frame;
    if (len < sizeof *h || h->ethertype != __builtin_bswap16(ETHERTYPE_MSG) || __builtin_memcmp(h->dst_mac, own_mac, 6) != 0
        || h->version != MSG_VERSION || h->dst != rank || h->src >= nranks || h->src == rank)
        return;
    struct peer *p = &peers[h->src];
    uint64_t flags = spin_lock_irqsave(&msg_lock);
    int32_t ahead = (int32_t)(h->frame - p->rx_frame);
    switch (h->kind) {
    case KIND_DATA:
        if (ahead > 0) {
            /* A frame before this one is missing: ask once for everything from it. */
            if (!p->nacked) send_control(h->src, KIND_NACK, p->rx_frame);
            p->nacked = true;
        } else if (ahead < 0) {
            /* Sent again though taken: the sender missed a CREDIT. The last such frame answers. */
            if (h->frame + 1 == p->rx_frame) send_credit(h->src, p);
        } else {
            p->rx_frame++;
            p->nacked = false;
            take_data(h, frame + sizeof *h, len - (uint32_t)sizeof *h);
            if (h->fragment + 1 >= h->fragments || p->rx_frame - p->credit_sent >= CREDIT_EVERY) send_credit(h->src, p);
        }
        break;
    case KIND_HELLO:
        send_credit(h->src, p);
        break;
    case KIND_CREDIT:
    case KIND_NACK:
        /* The count only grows (frame numbers wrap: compare differences). */
        if ((int32_t)(h->frame - p->tx_taken) > 0) p->tx_taken = h->frame;
        p->up = true;
        if (h->kind == KIND_NACK) __atomic_store_n(&p->rewind, true, __ATOMIC_RELEASE);
        break;
    }
    spin_unlock_irqrestore(&msg_lock, flags);
}

/* ---- the interface ---- */

void msg_init(void)
{
    if (!net_present()) return;
    /* Without the options a node is rank 0 of 1 (as the core reads them). */
    int r, n;
    if (!option("nranks", 1, &n) || !option("rank", 0, &r) || n == 0 || n > MAX_RANKS || r >= n) {
        kprintf("lwk: msg: rank= and nranks= (at most %d) do not name a node of the run: no messages\n", MAX_RANKS);
        return;
    }
    peers = kalloc_pages((n * sizeof *peers + PAGE_SIZE - 1) / PAGE_SIZE);
    if (!peers) {
        kprintf("lwk: msg: no memory for the state of %d peers (%lu KiB): no messages\n", n, n * sizeof *peers / 1024);
        return;
    }
    uint64_t quarter = kalloc_free_pages() / 4;
    pool_pages = quarter < POOL_PAGES_MAX ? (uint32_t)quarter : POOL_PAGES_MAX;
    max_messages = pool_pages + SPARE_MESSAGES;
    if (pool_pages < POOL_PAGES_MIN) {
        kprintf("lwk: msg: %lu KiB free, too little for a message pool of %lu KiB: no messages\n",
                quarter * 4 * PAGE_SIZE / 1024, POOL_PAGES_MIN * PAGE_SIZE / 1024);
        return;
    }
    messages = kalloc_pages((max_messages * sizeof *messages + PAGE_SIZE - 1) / PAGE_SIZE);
    page_next = kalloc_pages((pool_pages * sizeof *page_next + PAGE_SIZE - 1) / PAGE_SIZE);
    pool = kalloc_pages(pool_pages);
    if (!messages || !page_next || !pool) {
        kprintf("lwk: msg: no memory for a message pool of %lu KiB: no messages\n", pool_pages * PAGE_SIZE / 1024);
        return;
    }
    for (int i = 0; i < n; i++) peers[i].assembling = -1;
    for (int32_t i = (int32_t)pool_pages - 1; i >= 0; i--) {
        page_next[i] = free_page;
        free_page = i;
    }
    free_pages = pool_pages;
    rank_mac(r, own_mac);
    rank = r;
    nranks = n;
    net_set_receiver(receive_frame);
    kprintf("lwk: msg: rank %d of %d, MAC 02:4c:57:4b:%02x:%02x, %lu KiB for messages not yet received\n", rank, nranks,
            own_mac[4], own_mac[5], pool_pages * PAGE_SIZE / 1024);
}

bool msg_available(void)
{
    return net_present() && nranks > 0;
}

/* A message to this node goes straight into the pool. While ASSEMBLING it is only this
 * sender's, so it is filled without the lock (copying may fault pages in). */
static int send_to_self(int tag, const struct msg_data *data, uint32_t len)
{
    uint64_t flags = spin_lock_irqsave(&msg_lock);
    struct message *m = message_alloc(rank, tag, len);
    spin_unlock_irqrestore(&msg_lock, flags);
    if (!m) {
        kprintf("lwk: msg: no room to buffer a message of %u bytes from rank %d to itself (tag %d)\n", len, rank, tag);
        return -LWK_ENOMEM;
    }
    uint8_t chunk[MSG_PAYLOAD];
    int err = 0;
    for (uint32_t done = 0; done < len && !err;) {
        uint32_t n = len - done < sizeof chunk ? len - done : (uint32_t)sizeof chunk;
        err = data->copy(data->ctx, done, chunk, n);
        if (!err) message_append(m, chunk, n);
        done += n;
    }
    flags = spin_lock_irqsave(&msg_lock);
    if (err) message_free(m);
    else m->state = COMPLETE;
    spin_unlock_irqrestore(&msg_lock, flags);
    return err;
}

int msg_send(int dst_rank, int tag, const struct msg_data *data, uint64_t len)
{
    if (!msg_available()) return -LWK_ENODEV;
    if (dst_rank < 0 || dst_rank >= nranks) return -LWK_EINVAL;
    if (len > LWK_MSG_MAX) return -LWK_EMSGSIZE;
    if (dst_rank == rank) return send_to_self(tag, data, (uint32_t)len);

    struct peer *p = &peers[dst_rank];
    uint8_t payload[MSG_PAYLOAD];
    spin_lock(&send_lock);
    uint32_t fragments = fragments_of((uint32_t)len);
    struct frame_head h = frame_to(dst_rank, KIND_DATA);
    h.seq = p->tx_seq++;
    h.tag = tag;
    h.fragments = fragments;
    h.total = (uint32_t)len;
    uint32_t first = p->tx_frame, end = first + fragments, next = first;
    p->tx_frame = end;
    uint64_t moved = clock_ns(), asked = 0, resend = RESEND_NS;
    uint32_t seen = p->tx_taken;
    bool warned = false;
    int err = 0;
    /* Halted between interrupts while the window is full: CREDIT and NACK frames interrupt. */
    for (;;) {
        uint64_t irq = irq_disable();
        net_poll();
        /* The NACK flag before the count it came with (the handler may run on another CPU). */
        bool rewind = __atomic_exchange_n(&p->rewind, false, __ATOMIC_ACQ_REL);
        uint32_t taken = p->tx_taken;
        if ((int32_t)(taken - end) >= 0) {
            irq_restore(irq);
            break;
        }
        if (rewind) next = taken;
        if ((int32_t)(next - taken) < 0) next = taken;
        if ((int32_t)(next - first) < 0) next = first;   /* only after an earlier send gave up */
        uint64_t now = clock_ns();
        if (taken != seen) {
            seen = taken;
            moved = now;
            resend = RESEND_NS;
        }
        if (p->up && next != end && next - taken < WINDOW) {
            irq_restore(irq);
            uint32_t i = next - first;
            h.frame = next;
            h.fragment = i;
            h.length = (uint16_t)(len - (uint64_t)i * MSG_PAYLOAD < MSG_PAYLOAD ? len - (uint64_t)i * MSG_PAYLOAD : MSG_PAYLOAD);
            err = data->copy(data->ctx, (uint64_t)i * MSG_PAYLOAD, payload, h.length);
            if (!err) err = net_transmit(&h, sizeof h, payload, h.length);
            if (err) break;
            next++;
            continue;
        }
        if (p->up ? now - moved > resend && now - asked > resend : now - asked > HELLO_NS) {
            send_control(dst_rank, KIND_HELLO, 0);
            if (p->up && resend < RESEND_MAX_NS) resend *= 2;
            asked = now;
            next = taken;   /* the frames or their CREDIT got lost: from the first not taken */
        }
        if (!warned && now - moved > WARN_NS) {
            kprintf("lwk: msg: rank %d still waiting for rank %d to %s\n", rank, dst_rank, p->up ? "take its frames" : "answer");
            warned = true;
        }
        /* Woken by CREDIT and NACK frames, or when the next HELLO (or the warning) is due. */
        uint64_t deadline = p->up ? (moved > asked ? moved : asked) + resend + 1 : asked + HELLO_NS + 1;
        if (!warned && moved + WARN_NS + 1 < deadline) deadline = moved + WARN_NS + 1;
        cpu_wait_for_interrupt_until(deadline);
        irq_restore(irq);
    }
    spin_unlock(&send_lock);
    return err;
}

long msg_recv(int src_rank, int tag, const struct msg_data *data, uint64_t maxlen)
{
    if (!msg_available()) return -LWK_ENODEV;
    if (src_rank < 0 || src_rank >= nranks) return -LWK_EINVAL;
    uint64_t start = clock_ns();
    bool warned = false;
    for (;;) {
        /* Interrupts stay off from the last look at the pool to the HLT in
         * cpu_wait_for_interrupt (STI; HLT), so a frame's interrupt cannot slip in between. */
        uint64_t irq = irq_disable();
        net_poll();
        spin_lock(&msg_lock);
        struct message *found = NULL;
        for (unsigned i = 0; i < max_messages; i++) {
            struct message *m = &messages[i];
            if ((m->state == COMPLETE || m->state == FAILED) && m->src == src_rank && m->tag == tag && (!found || m->arrival < found->arrival))
                found = m;
        }
        if (found && found->state == FAILED) {
            message_free(found);
            spin_unlock(&msg_lock);
            irq_restore(irq);
            return -LWK_EIO;
        }
        if (found) {
            found->state = TAKEN;
            spin_unlock(&msg_lock);
            irq_restore(irq);
            /* A message longer than the buffer is consumed all the same: the caller learns it
             * was there, and the pool does not keep what nobody can take. */
            int err = found->length > maxlen ? -LWK_EMSGSIZE : message_copy_out(found, data);
            long result = err ? err : (long)found->length;
            uint64_t flags = spin_lock_irqsave(&msg_lock);
            message_free(found);
            spin_unlock_irqrestore(&msg_lock, flags);
            /* The CREDIT for it out of the NIC: a node may end right after its last receive, and
             * its sender waits for that CREDIT (QEMU transmits from a bottom half). */
            net_flush();
            return result;
        }
        if (peers[src_rank].lost) {
            peers[src_rank].lost--;
            spin_unlock(&msg_lock);
            irq_restore(irq);
            return -LWK_EIO;
        }
        spin_unlock(&msg_lock);
        if (!warned && clock_ns() - start > WARN_NS) {
            kprintf("lwk: still waiting for a message from rank %d tag %d\n", src_rank, tag);
            warned = true;
        }
        /* Only frames wake it: no timer, so a simulator may skip this node's idle time (the
         * warning comes with the first wake-up after WARN_NS). */
        cpu_wait_for_interrupt();
        irq_restore(irq);
    }
}
