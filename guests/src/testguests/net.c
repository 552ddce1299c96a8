/* "net role=send|recv [count=N]": two machines whose virtio-net cards (1af4:1000, legacy
 * virtio 0.9.5 with the network device of its appendix C) share a link exchange Ethernet frames.
 *
 * Each side brings its card up, takes its MAC address and the link status from the device
 * configuration, and posts receive buffers on queue 0. A frame that reaches a card with no
 * buffer posted is lost (neither virtio nor a cable waits for the receiver), so the receiver
 * announces itself with "symbiont ready" broadcasts until the first frame comes. The sender
 * waits for that announcement, sends count frames "symbiont frame <i>" to the broadcast address
 * on queue 1, and waits for "symbiont ack <count>", which the receiver sends to the sender's
 * address once it has every frame, in order.
 *
 * Every wait polls a used ring against a TSC deadline. The card may interrupt as well: its
 * INTx, if delivered, only has its ISR status read, which deasserts the line. */
#include "testguest.h"

#define VIRTIO_NET_PCI_ID PCI_ID_OF(VIRTIO_VENDOR, 0x1000)
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
/* The device configuration: the MAC address, then the status (u16). */
#define VIRTIO_NET_CONFIG_MAC 0
#define VIRTIO_NET_CONFIG_STATUS 6
#define RECEIVE_QUEUE 0
#define TRANSMIT_QUEUE 1

#define ETH_ADDRESS_BYTES 6
#define ETH_HEADER_BYTES 14
#define ETH_MIN_FRAME 60                /* without the FCS: shorter frames are padded with zeros */
#define ETH_MAX_FRAME 1518              /* with an 802.1Q tag, without the FCS */
#define ETHERTYPE_LOCAL_EXPERIMENTAL 0x88B5

/* The receive buffers each side posts: as nothing makes the sender wait for room, they bound
 * how many frames one exchange may have. */
#define RECEIVE_BUFFERS 64
#define DEFAULT_COUNT 8
/* The two machines start at about the same time: the first frame from the peer may take a
 * while; once the exchange runs, every frame and the acknowledgement follow promptly. (An
 * emulator's guest that spins may see its clock run much slower than the host's: these are
 * long enough for QEMU processes started one after the other, short enough that a failure on
 * an emulator 20 times slower than real time still ends in less than a minute.) */
#define PEER_TIMEOUT_MS 2000
#define FRAME_TIMEOUT_MS 500
#define ANNOUNCE_INTERVAL_MS 10
/* The longest payload text, "symbiont frame 4294967295", with its NUL. */
#define TEXT_BYTES 32
_Static_assert(ETH_HEADER_BYTES + TEXT_BYTES <= ETH_MIN_FRAME, "payload texts fit in a minimum-size frame");

static const char announcement[] = "symbiont ready";

/* virtio 0.9.5 appendix C: the header before every frame, in a descriptor of its own (without
 * VIRTIO_F_ANY_LAYOUT). Sent as zeros: no checksum to complete, no segmentation (GSO_NONE). */
struct virtio_net_hdr {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

struct ethernet_header {
    uint8_t destination[ETH_ADDRESS_BYTES], source[ETH_ADDRESS_BYTES];
    uint16_t ethertype;                 /* big-endian */
} __attribute__((packed));

static const uint8_t broadcast_address[ETH_ADDRESS_BYTES] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };

static struct virtio_device nic;
static unsigned nic_irq;
static uint8_t own_address[ETH_ADDRESS_BYTES];
static struct virtqueue receive_queue, transmit_queue;
static uint8_t receive_queue_memory[VIRTQ_MEMORY_256] __attribute__((aligned(VIRTQ_ALIGN)));
static uint8_t transmit_queue_memory[VIRTQ_MEMORY_256] __attribute__((aligned(VIRTQ_ALIGN)));
/* Receive buffer k is the chain of descriptors 2k (its header) and 2k + 1 (its frame); the
 * transmit queue has one chain, descriptors 0 and 1. */
static struct virtio_net_hdr receive_headers[RECEIVE_BUFFERS];
static uint8_t receive_frames[RECEIVE_BUFFERS][ETH_MAX_FRAME];
static struct virtio_net_hdr transmit_header;
static uint8_t transmit_frame[ETH_MIN_FRAME];
/* The last frame taken from the receive queue. */
static uint8_t received[ETH_MAX_FRAME];
static uint32_t received_length;

/* "<prefix> <n>" into text (TEXT_BYTES long). */
static void format_numbered(char *text, const char *prefix, uint32_t n)
{
    size_t length = strlen(prefix);
    memcpy(text, prefix, length);
    text[length++] = ' ';
    char digits[10];
    unsigned count = 0;
    do {
        digits[count++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (count) text[length++] = digits[--count];
    text[length] = 0;
}

/* The card's INTx, when it is delivered: the frames are polled, so there is only the line to
 * deassert. */
static void nic_interrupt(struct interrupt_frame *frame)
{
    (void)frame;
    virtio_acknowledge_interrupt(&nic);
    pic_eoi(nic_irq);
}

static void post_receive_buffer(unsigned buffer)
{
    virtq_make_available(&receive_queue, (uint16_t)(2 * buffer));
}

/* Device initialisation (virtio 0.9.5, 2.2.1) with VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS,
 * the checks of both, every receive buffer posted; then interrupts on, the INTx line unmasked
 * at the 8259 if firmware assigned one. */
static void nic_start(void)
{
    unsigned device, function;
    if (!pci_find(VIRTIO_NET_PCI_ID, &device, &function)) fail("no virtio-net device (1af4:1000) on PCI bus 0");
    uint32_t offered = virtio_start(&nic, "virtio-net", device, function);
    virtio_accept_features(&nic, offered & (1u << VIRTIO_NET_F_MAC | 1u << VIRTIO_NET_F_STATUS));

    bool any_address_bit = false;
    for (unsigned i = 0; i < ETH_ADDRESS_BYTES; i++) {
        own_address[i] = virtio_config_read8(&nic, VIRTIO_NET_CONFIG_MAC + i);
        any_address_bit |= own_address[i] != 0;
    }
    bool unicast_mac = (offered & 1u << VIRTIO_NET_F_MAC) && any_address_bit && !(own_address[0] & 1);
    print("net mac from device config: %s\n", yes_no(unicast_mac));
    if (!unicast_mac) fail("the device configuration holds no unicast MAC address (VIRTIO_NET_F_MAC)");
    /* Without VIRTIO_NET_F_STATUS there is no status field to say anything. */
    bool link_up = (offered & 1u << VIRTIO_NET_F_STATUS)
                   && (virtio_config_read16(&nic, VIRTIO_NET_CONFIG_STATUS) & VIRTIO_NET_S_LINK_UP);
    print("net link up: %s\n", yes_no(link_up));
    if (!link_up) fail("the status in the device configuration does not say the link is up (VIRTIO_NET_F_STATUS)");

    virtio_queue_setup(&nic, &receive_queue, RECEIVE_QUEUE, receive_queue_memory, sizeof receive_queue_memory);
    virtio_queue_setup(&nic, &transmit_queue, TRANSMIT_QUEUE, transmit_queue_memory, sizeof transmit_queue_memory);
    if (receive_queue.size < 2 * RECEIVE_BUFFERS || transmit_queue.size < 2)
        fail("virtio-net queues of %u and %u entries, %u and 2 needed", receive_queue.size, transmit_queue.size, 2 * RECEIVE_BUFFERS);
    for (unsigned k = 0; k < RECEIVE_BUFFERS; k++) {
        receive_queue.descriptors[2 * k] = (struct virtq_desc){
            (uintptr_t)&receive_headers[k], sizeof receive_headers[k], VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(2 * k + 1) };
        receive_queue.descriptors[2 * k + 1] = (struct virtq_desc){
            (uintptr_t)receive_frames[k], sizeof receive_frames[k], VIRTQ_DESC_F_WRITE, 0 };
        post_receive_buffer(k);
    }
    transmit_queue.descriptors[0] = (struct virtq_desc){ (uintptr_t)&transmit_header, sizeof transmit_header, VIRTQ_DESC_F_NEXT, 1 };
    transmit_queue.descriptors[1] = (struct virtq_desc){ (uintptr_t)transmit_frame, sizeof transmit_frame, 0, 0 };

    nic_irq = pci_read(device, function, PCI_INTERRUPT) & 0xFF;
    if (nic_irq < 16) {
        set_interrupt_handler(nic_irq < 8 ? PIC_MASTER_VECTOR + nic_irq : PIC_SLAVE_VECTOR + nic_irq - 8, nic_interrupt);
        pic_init((uint16_t)(1u << nic_irq));
    }
    virtio_driver_ok(&nic);
    virtio_notify(&nic, &receive_queue);    /* a device holding frames back for want of buffers takes them now */
    sti();
}

static void nic_stop(void)
{
    cli();
    virtio_reset(&nic);
}

/* Sends one frame with `text` as its payload and waits until the device has taken it, which
 * frees the one transmit chain. */
static void transmit(const uint8_t destination[ETH_ADDRESS_BYTES], const char *text)
{
    struct ethernet_header *header = (struct ethernet_header *)transmit_frame;
    memcpy(header->destination, destination, ETH_ADDRESS_BYTES);
    memcpy(header->source, own_address, ETH_ADDRESS_BYTES);
    header->ethertype = bswap16(ETHERTYPE_LOCAL_EXPERIMENTAL);
    memset(transmit_frame + ETH_HEADER_BYTES, 0, sizeof transmit_frame - ETH_HEADER_BYTES);
    memcpy(transmit_frame + ETH_HEADER_BYTES, text, strlen(text));
    virtq_make_available(&transmit_queue, 0);
    virtio_notify(&nic, &transmit_queue);
    uint64_t deadline = tsc_deadline_after_ms(FRAME_TIMEOUT_MS);
    struct virtq_used_elem sent;
    while (!virtq_take_used(&transmit_queue, &sent)) {
        if (tsc_passed(deadline)) fail("virtio-net did not take the frame \"%s\" within %u ms", text, FRAME_TIMEOUT_MS);
        cpu_relax();
    }
}

static const struct ethernet_header *received_header(void)
{
    return (const struct ethernet_header *)received;
}

/* Whether the frame taken is part of the exchange: our EtherType, to everyone or to this card. */
static bool received_is_ours(void)
{
    const struct ethernet_header *header = received_header();
    return received_length >= ETH_HEADER_BYTES && header->ethertype == bswap16(ETHERTYPE_LOCAL_EXPERIMENTAL)
           && (memcmp(header->destination, broadcast_address, ETH_ADDRESS_BYTES) == 0
               || memcmp(header->destination, own_address, ETH_ADDRESS_BYTES) == 0);
}

/* Takes the next frame of the exchange into `received` and gives its buffer back to the device;
 * false if none came before `deadline`. Other frames are dropped, as a NIC's driver would. */
static bool receive_before(uint64_t deadline)
{
    for (;;) {
        struct virtq_used_elem used;
        while (!virtq_take_used(&receive_queue, &used)) {
            if (tsc_passed(deadline)) return false;
            cpu_relax();
        }
        unsigned buffer = used.id / 2;
        if (used.id % 2 || buffer >= RECEIVE_BUFFERS || used.length < sizeof(struct virtio_net_hdr)
            || used.length > sizeof(struct virtio_net_hdr) + ETH_MAX_FRAME)
            fail("virtio-net returned receive chain %u with %u bytes", used.id, used.length);
        received_length = used.length - sizeof(struct virtio_net_hdr);
        memcpy(received, receive_frames[buffer], received_length);
        post_receive_buffer(buffer);
        virtio_notify(&nic, &receive_queue);
        if (received_is_ours()) return true;
    }
}

/* Whether the frame taken carries `text`: the text, then nothing but padding. */
static bool received_payload_is(const char *text)
{
    const uint8_t *payload = received + ETH_HEADER_BYTES;
    size_t n = strlen(text), length = received_length - ETH_HEADER_BYTES;
    if (length < n || memcmp(payload, text, n) != 0) return false;
    for (size_t i = n; i < length; i++) {
        if (payload[i] != 0) return false;
    }
    return true;
}

/* The printable start of the frame taken's payload, for messages. */
static const char *received_text(void)
{
    static char text[TEXT_BYTES];
    const uint8_t *payload = received + ETH_HEADER_BYTES;
    size_t n = 0;
    while (n < TEXT_BYTES - 1 && n < received_length - ETH_HEADER_BYTES && payload[n] >= ' ' && payload[n] < 0x7F) {
        text[n] = (char)payload[n];
        n++;
    }
    text[n] = 0;
    return text;
}

static void run_sender(uint32_t count)
{
    if (!receive_before(tsc_deadline_after_ms(PEER_TIMEOUT_MS)))
        fail("no \"%s\" from the peer within %u ms: is a role=recv machine on the link?", announcement, PEER_TIMEOUT_MS);
    if (!received_payload_is(announcement)) fail("the peer's first frame carried \"%s\", not \"%s\"", received_text(), announcement);

    char text[TEXT_BYTES];
    for (uint32_t i = 0; i < count; i++) {
        format_numbered(text, "symbiont frame", i);
        transmit(broadcast_address, text);
    }
    print("net sent %u frames\n", count);

    /* Announcements sent before the peer had the first frame may still come in. */
    char ack[TEXT_BYTES];
    format_numbered(ack, "symbiont ack", count);
    uint64_t deadline = tsc_deadline_after_ms(FRAME_TIMEOUT_MS);
    bool acked = false;
    while (!acked && receive_before(deadline)) {
        acked = received_payload_is(ack) && memcmp(received_header()->destination, own_address, ETH_ADDRESS_BYTES) == 0;
        if (!acked && !received_payload_is(announcement))
            fail("the peer sent \"%s\" while \"%s\" to this card was expected", received_text(), ack);
    }
    print("net ack received: %s\n", yes_no(acked));
    if (!acked) fail("no \"%s\" from the peer within %u ms", ack, FRAME_TIMEOUT_MS);
}

static void run_receiver(uint32_t count)
{
    uint64_t give_up = tsc_deadline_after_ms(PEER_TIMEOUT_MS);
    do {
        if (tsc_passed(give_up))
            fail("no frame from the peer within %u ms: is a role=send machine on the link?", PEER_TIMEOUT_MS);
        transmit(broadcast_address, announcement);
    } while (!receive_before(tsc_deadline_after_ms(ANNOUNCE_INTERVAL_MS)));
    uint8_t peer_address[ETH_ADDRESS_BYTES];
    memcpy(peer_address, received_header()->source, ETH_ADDRESS_BYTES);

    char text[TEXT_BYTES];
    for (uint32_t i = 0; i < count; i++) {
        if (i > 0 && !receive_before(tsc_deadline_after_ms(FRAME_TIMEOUT_MS)))
            fail("frame %u of %u did not come within %u ms", i + 1, count, FRAME_TIMEOUT_MS);
        format_numbered(text, "symbiont frame", i);
        if (!received_payload_is(text)) fail("frame %u of %u carried \"%s\", not \"%s\"", i + 1, count, received_text(), text);
    }
    print("net received %u frames in order: yes\n", count);
    format_numbered(text, "symbiont ack", count);
    transmit(peer_address, text);
}

void scenario_net(void)
{
    bool sender = arg_is("role", "send");
    if (!sender && !arg_is("role", "recv")) fail("role=send or role=recv expected");
    uint64_t count = arg_u64("count", DEFAULT_COUNT);
    if (count < 1 || count > RECEIVE_BUFFERS)
        fail("count=%lu: from 1 to %u frames, the receive buffers the peer posts", count, RECEIVE_BUFFERS);
    tsc_per_ms();   /* calibrated before the card may interrupt */
    nic_start();
    if (sender) run_sender((uint32_t)count);
    else run_receiver((uint32_t)count);
    nic_stop();
}
