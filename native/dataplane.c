// turnkit native UDP data plane (issue 6, stage 2): one I/O thread with epoll and recvmmsg/sendmmsg
// that owns the UDP listener and relay sockets.
//
// The JavaScript engine stays the only authority on TURN state. It projects, per relay socket, the
// 5-tuple it belongs to and each usable channel binding with a deadline (the earliest of the
// binding's, its permission's and the allocation's expiry). With that projection this thread relays
// ChannelData both ways without calling into JavaScript; every other datagram (STUN requests, Send
// and Data indications, unknown or expired channels) is handed to JavaScript in batches through a
// thread-safe function, exactly as received. Nothing is ever relayed that the engine did not allow,
// and nothing here extends a deadline.
//
// Plain Binding requests (20 bytes: no attributes) on a listener that JavaScript gave a template
// are answered here too: XOR-MAPPED-ADDRESS, then the template — the attributes JavaScript's own
// answer carries after it (RESPONSE-ORIGIN, SOFTWARE), which do not depend on the request.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KIND_FREE 0
#define KIND_LISTENER 1
#define KIND_RELAY 2
// Channels projected per relay; an allocation with more still works, the rest take the slow path.
#define MAX_CHANNELS 8
#define MAX_PERMISSIONS 8
#define DENIED_PORTS 2
#define ROUTE_BUCKETS 65536
// Receive slots: one recvmmsg fills up to RECV_BATCH of them; queued sends toward clients point
// into them, so the pool is flushed (sendmmsg) before it can be reused.
#define SLOTS 256
#define RECV_BATCH 32
#define SLOT_BYTES (65536 + 8)
#define EVENTS 64
// A slow-path batch is handed over when it holds this many bytes or datagrams.
#define BATCH_BYTES (256 * 1024)
#define BATCH_FIRST_BYTES 4096
#define BATCH_PACKETS 256
// Finished slow-path batches waiting to be handed over (one round of reading makes at most
// EVENTS * 4 * RECV_BATCH / BATCH_PACKETS = 32; beyond READY_BATCHES they would be dropped).
#define READY_BATCHES 64
#define RETRY_MS 5
#define RECORD_HEADER 32

typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} addr_t;

typedef struct {
  uint16_t number;
  addr_t peer;
  int64_t valid_until_ms;
} channel_t;

// A permission (RFC 8656 §9) the engine projected: peer IP, deadline, and the ports of that IP
// the peer policy refuses (the server's own listening ports); 0 = none.
typedef struct {
  int family;
  uint8_t ip[16];
  uint16_t denied[DENIED_PORTS];
  int64_t valid_until_ms;
} permission_t;

typedef struct {
  int fd;
  uint32_t gen;
  uint8_t kind;
  int family;
  // Relay sockets: the 5-tuple (listener socket + client address) and the projected channels.
  int listener;
  addr_t client;
  int routed;
  int next_route;  // chain in the route hash
  // Each a block of exactly nch / nperm entries, or NULL: inline arrays of the maximum made every
  // socket ~650 bytes, and the socket array (doubled as it grows) ~1 KB per allocation at 10,000.
  int nch;
  channel_t *ch;
  int nperm;
  permission_t *perm;
  // Listeners: the Binding answer's attributes after XOR-MAPPED-ADDRESS, or NULL (slow path).
  uint8_t *tmpl;
  size_t tmpl_len;
} sock_t;

typedef struct {
  uint64_t to_peer_packets, to_peer_bytes, to_client_packets, to_client_bytes;
  uint64_t slow_packets, send_errors, truncated, slow_dropped, bindings;
} counters_t;

typedef struct {
  pthread_mutex_t lock;  // held by the I/O thread while it processes, and by JS while it mutates
  pthread_t thread;
  int epfd, wakefd, running;
  sock_t *socks;
  int nsocks, cap;
  // Indices of closed sockets, reused before the array grows: a scan for one cost an open O(n).
  int *free_idx;
  int nfree;
  int *routes;
  napi_threadsafe_function tsfn;
  counters_t c;
  // Slow-path batch under construction (owned by the I/O thread).
  uint8_t *batch;
  size_t batch_len, batch_cap;
  int batch_packets;
  struct batch_s *ready[READY_BATCHES];
  int nready;
  // Receive slots and the pending sendmmsg toward clients.
  uint8_t *slots;
  int slots_used;
  struct mmsghdr out[SLOTS];
  struct iovec out_iov[SLOTS][3];
  int out_fd[SLOTS];
  int nout;
  // Data indication headers for the pending sendmmsg, and the next transaction ID.
  uint8_t out_head[SLOTS][48];
  uint8_t data_txid[12];
} plane_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int addr_equal(const addr_t *a, const addr_t *b) {
  if (a->sa.sa_family != b->sa.sa_family) return 0;
  if (a->sa.sa_family == AF_INET) return a->v4.sin_port == b->v4.sin_port && a->v4.sin_addr.s_addr == b->v4.sin_addr.s_addr;
  return a->v6.sin6_port == b->v6.sin6_port && memcmp(&a->v6.sin6_addr, &b->v6.sin6_addr, 16) == 0;
}

static socklen_t addr_len(const addr_t *a) {
  return a->sa.sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static uint32_t route_hash(int listener, const addr_t *a) {
  uint32_t h = 2166136261u ^ (uint32_t)listener;
  const uint8_t *p;
  size_t n;
  uint16_t port;
  if (a->sa.sa_family == AF_INET) {
    p = (const uint8_t *)&a->v4.sin_addr;
    n = 4;
    port = a->v4.sin_port;
  } else {
    p = (const uint8_t *)&a->v6.sin6_addr;
    n = 16;
    port = a->v6.sin6_port;
  }
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  h = (h ^ (port & 0xff)) * 16777619u;
  h = (h ^ (port >> 8)) * 16777619u;
  return h & (ROUTE_BUCKETS - 1);
}

static int route_find(plane_t *p, int listener, const addr_t *client) {
  for (int i = p->routes[route_hash(listener, client)]; i >= 0; i = p->socks[i].next_route) {
    if (p->socks[i].listener == listener && addr_equal(&p->socks[i].client, client)) return i;
  }
  return -1;
}

static void route_remove(plane_t *p, int idx) {
  sock_t *s = &p->socks[idx];
  if (!s->routed) return;
  int *link = &p->routes[route_hash(s->listener, &s->client)];
  while (*link >= 0 && *link != idx) link = &p->socks[*link].next_route;
  if (*link == idx) *link = s->next_route;
  s->routed = 0;
  s->next_route = -1;
}

// ------------------------------------------------------------------------- slow path to JS --

typedef struct batch_s {
  uint8_t *data;
  size_t len;
} batch_t;

// Closes the batch under construction (called with the lock held: it never blocks).
static void finish_batch(plane_t *p) {
  if (p->batch_packets == 0) return;
  batch_t *b = malloc(sizeof(batch_t));
  if (!b || p->nready == READY_BATCHES) {
    p->c.slow_dropped += (uint64_t)p->batch_packets;
    free(b);
    free(p->batch);
  } else {
    b->data = p->batch;
    b->len = p->batch_len;
    p->ready[p->nready++] = b;
  }
  p->batch = NULL;
  p->batch_len = 0;
  p->batch_cap = 0;
  p->batch_packets = 0;
}

// Hands the finished batches to JavaScript (called without the lock). Never blocking, so that
// stopping the plane cannot deadlock: when JavaScript falls behind and its queue is full, the
// batches wait here and are retried every RETRY_MS, and no socket is read meanwhile (io_thread).
static void hand_over(plane_t *p) {
  int i = 0;
  for (; i < p->nready; i++) {
    batch_t *b = p->ready[i];
    napi_status st = napi_call_threadsafe_function(p->tsfn, b, napi_tsfn_nonblocking);
    if (st == napi_queue_full) break;
    if (st != napi_ok) {
      free(b->data);
      free(b);
    }
  }
  memmove(p->ready, p->ready + i, sizeof(p->ready[0]) * (size_t)(p->nready - i));
  p->nready -= i;
}

// Record (RECORD_HEADER bytes, then the datagram padded to 4): u32 socket index, u32 socket
// generation, u16 port, u8 family (4|6), u8 pad, 16 address bytes at 12, u32 length at 28.
static void to_slow_path(plane_t *p, int idx, const addr_t *from, const uint8_t *data, size_t len) {
  size_t need = RECORD_HEADER + ((len + 3) & ~(size_t)3);
  if (p->batch && p->batch_len + need > BATCH_BYTES) finish_batch(p);
  if (p->batch_len + need > p->batch_cap) {
    // Grown on demand: most batches hold a few requests, and a 256 KiB malloc each time would be
    // an mmap, page faults and an munmap per batch.
    size_t cap = p->batch_cap ? p->batch_cap * 2 : BATCH_FIRST_BYTES;
    while (cap < p->batch_len + need) cap *= 2;
    uint8_t *grown = realloc(p->batch, cap);
    if (!grown) {
      p->c.slow_dropped++;
      return;
    }
    p->batch = grown;
    p->batch_cap = cap;
  }
  uint8_t *r = p->batch + p->batch_len;
  uint32_t u = (uint32_t)idx;
  memcpy(r, &u, 4);
  memcpy(r + 4, &p->socks[idx].gen, 4);
  memset(r + 8, 0, RECORD_HEADER - 8);
  if (from->sa.sa_family == AF_INET) {
    uint16_t port = ntohs(from->v4.sin_port);
    memcpy(r + 8, &port, 2);
    r[10] = 4;
    memcpy(r + 12, &from->v4.sin_addr, 4);
  } else {
    uint16_t port = ntohs(from->v6.sin6_port);
    memcpy(r + 8, &port, 2);
    r[10] = 6;
    memcpy(r + 12, &from->v6.sin6_addr, 16);
  }
  uint32_t l = (uint32_t)len;
  memcpy(r + 28, &l, 4);
  memcpy(r + RECORD_HEADER, data, len);
  p->batch_len += need;
  p->c.slow_packets++;
  if (++p->batch_packets >= BATCH_PACKETS) finish_batch(p);
}

// -------------------------------------------------------------------------------- fast path --

static void flush_out(plane_t *p) {
  int i = 0;
  while (i < p->nout) {
    int j = i;
    while (j < p->nout && p->out_fd[j] == p->out_fd[i]) j++;
    int k = i;
    while (k < j) {
      int n = sendmmsg(p->out_fd[i], &p->out[k], (unsigned)(j - k), MSG_DONTWAIT);
      if (n <= 0) {
        // The datagram at k cannot go (full buffer, unreachable client): count it, move on.
        p->c.send_errors++;
        k++;
      } else {
        k += n;
      }
    }
    i = j;
  }
  p->nout = 0;
  p->slots_used = 0;
}

#define MAGIC_COOKIE 0x2112a442u
// Where in a receive slot a Binding answer and its destination are built (after the 20-byte request).
#define ANSWER_ADDR_OFFSET 64
#define ANSWER_OFFSET 128

static const uint8_t ZERO_PAD[4];

static uint16_t get16(const uint8_t *d) { return (uint16_t)(d[0] << 8 | d[1]); }
static uint32_t get32(const uint8_t *d) { return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]; }

// CRC-32 (the IEEE polynomial, as zlib's) for FINGERPRINT (RFC 8489 §14.7).
static uint32_t crc_table[256];
static void crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[n] = c;
  }
}
static uint32_t crc32_of(const uint8_t *d, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ d[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

// The projected permission on `rs` for this peer IP, if it is live at `now`.
static const permission_t *permission_for(const sock_t *rs, int family, const uint8_t *ip, int64_t now) {
  for (int i = 0; i < rs->nperm; i++) {
    const permission_t *m = &rs->perm[i];
    if (m->family == family && memcmp(m->ip, ip, family == AF_INET ? 4 : 16) == 0) return m->valid_until_ms > now ? m : NULL;
  }
  return NULL;
}

// Writes an XOR-MAPPED-ADDRESS or XOR-PEER-ADDRESS attribute (RFC 8489 §14.2) for `addr` at `a`,
// XORed with `cookie_txid` (the message's magic cookie followed by its transaction ID); returns the
// attribute's length, header included.
static size_t put_xor_address(uint8_t *a, uint16_t type, const addr_t *addr, const uint8_t *cookie_txid) {
  int v4 = addr->sa.sa_family == AF_INET;
  size_t xlen = v4 ? 8 : 20;
  a[0] = (uint8_t)(type >> 8);
  a[1] = (uint8_t)type;
  a[2] = 0;
  a[3] = (uint8_t)xlen;
  a[4] = 0;
  a[5] = v4 ? 1 : 2;
  uint16_t port = ntohs(v4 ? addr->v4.sin_port : addr->v6.sin6_port) ^ (uint16_t)(MAGIC_COOKIE >> 16);
  a[6] = (uint8_t)(port >> 8);
  a[7] = (uint8_t)port;
  const uint8_t *ip = v4 ? (const uint8_t *)&addr->v4.sin_addr : (const uint8_t *)&addr->v6.sin6_addr;
  for (size_t i = 0; i < (v4 ? 4u : 16u); i++) a[8 + i] = ip[i] ^ cookie_txid[i];
  return 4 + xlen;
}

// Queues one datagram toward `to` through the listener `fd` (sent by flush_out): `head_len` bytes
// of p->out_head[k] (0 for none), then `data`, then `pad` zero bytes.
static void queue_out_parts(plane_t *p, int k, int fd, void *to, size_t head_len, uint8_t *data, size_t len, size_t pad) {
  struct iovec *v = p->out_iov[k];
  int n = 0;
  if (head_len > 0) v[n++] = (struct iovec){.iov_base = p->out_head[k], .iov_len = head_len};
  v[n++] = (struct iovec){.iov_base = data, .iov_len = len};
  if (pad > 0) v[n++] = (struct iovec){.iov_base = (void *)ZERO_PAD, .iov_len = pad};
  memset(&p->out[k].msg_hdr, 0, sizeof(struct msghdr));
  p->out[k].msg_hdr.msg_iov = v;
  p->out[k].msg_hdr.msg_iovlen = (size_t)n;
  p->out[k].msg_hdr.msg_name = to;
  p->out[k].msg_hdr.msg_namelen = addr_len((addr_t *)to);
  p->out_fd[k] = fd;
  p->nout = k + 1;
}

static void queue_out(plane_t *p, int fd, void *to, uint8_t *data, size_t len) {
  queue_out_parts(p, p->nout, fd, to, 0, data, len, 0);
}

// A Binding request with no attributes, on a listener with a template: answered in its slot.
static int fast_binding(plane_t *p, int listener, const addr_t *from, uint8_t *d, size_t len) {
  sock_t *ls = &p->socks[listener];
  if (len != 20 || !ls->tmpl || d[0] != 0 || d[1] != 1 || d[2] != 0 || d[3] != 0) return 0;
  if (get32(d + 4) != MAGIC_COOKIE) return 0;
  addr_t *to = (addr_t *)(d + ANSWER_ADDR_OFFSET);
  *to = *from;
  uint8_t *r = d + ANSWER_OFFSET;
  size_t alen = put_xor_address(r + 20, 0x0020, from, d + 4);  // XOR-MAPPED-ADDRESS
  size_t body = alen + ls->tmpl_len;
  r[0] = 0x01;
  r[1] = 0x01;
  r[2] = (uint8_t)(body >> 8);
  r[3] = (uint8_t)body;
  memcpy(r + 4, d + 4, 16);  // cookie and transaction ID
  memcpy(r + 20 + alen, ls->tmpl, ls->tmpl_len);
  queue_out(p, ls->fd, to, r, 20 + body);
  p->c.bindings++;
  return 1;
}

// Client → peer: ChannelData on a listener for a routed 5-tuple and a live channel.
static int fast_from_client(plane_t *p, int listener, const addr_t *from, const uint8_t *d, size_t len, int64_t now) {
  if (len < 4 || (d[0] & 0xc0) != 0x40) return 0;
  uint16_t number = (uint16_t)(d[0] << 8 | d[1]);
  size_t dlen = (size_t)(d[2] << 8 | d[3]);
  if (dlen > len - 4) return 0;
  int r = route_find(p, listener, from);
  if (r < 0) return 0;
  sock_t *rs = &p->socks[r];
  for (int i = 0; i < rs->nch; i++) {
    channel_t *c = &rs->ch[i];
    if (c->number != number) continue;
    if (c->valid_until_ms <= now) return 0;
    if (sendto(rs->fd, d + 4, dlen, MSG_DONTWAIT, &c->peer.sa, addr_len(&c->peer)) < 0) {
      p->c.send_errors++;
    } else {
      p->c.to_peer_packets++;
      p->c.to_peer_bytes += dlen;
    }
    return 1;
  }
  return 0;
}

// Client → peer: a Send indication (RFC 8656 §11.2) for a routed 5-tuple, to a peer with a live
// projected permission, leaves from the relay as the engine would send it. Anything unusual —
// a second XOR-PEER-ADDRESS, integrity or other comprehension-required attributes, a bad
// FINGERPRINT, a refused port, a family the relay does not have — is left to the engine, which
// decides and counts.
static int fast_send_indication(plane_t *p, int listener, const addr_t *from, const uint8_t *d, size_t len, int64_t now) {
  if (len < 20 || d[0] != 0x00 || d[1] != 0x16 || get32(d + 4) != MAGIC_COOKIE || (size_t)get16(d + 2) + 20 != len || (len & 3)) return 0;
  const uint8_t *xpa = NULL, *data = NULL;
  size_t xpa_len = 0, data_len = 0;
  for (size_t off = 20; off < len;) {
    if (off + 4 > len) return 0;
    uint16_t type = get16(d + off), alen = get16(d + off + 2);
    size_t next = off + 4 + (((size_t)alen + 3) & ~(size_t)3);
    if (next > len) return 0;
    const uint8_t *v = d + off + 4;
    if (type == 0x0012) {  // XOR-PEER-ADDRESS
      if (xpa) return 0;
      xpa = v;
      xpa_len = alen;
    } else if (type == 0x0013) {  // DATA: the first one counts (RFC 8489 §14)
      if (!data) {
        data = v;
        data_len = alen;
      }
    } else if (type == 0x0008 || type == 0x001c) {  // MESSAGE-INTEGRITY(-SHA256): not in a Send
      return 0;
    } else if (type == 0x8028) {  // FINGERPRINT
      if (next != len || alen != 4 || get32(v) != (crc32_of(d, off) ^ 0x5354554eu)) return 0;
    } else if (type < 0x8000 && type != 0x001a) {
      // Comprehension-required and not DONT-FRAGMENT: the engine knows whether it is unknown, in
      // which case the indication is discarded (RFC 8489 §6.3.2).
      return 0;
    }
    off = next;
  }
  if (!xpa || !data) return 0;
  int family = xpa[1] == 1 && xpa_len == 8 ? AF_INET : xpa[1] == 2 && xpa_len == 20 ? AF_INET6 : 0;
  if (family == 0) return 0;
  int r = route_find(p, listener, from);
  if (r < 0) return 0;
  sock_t *rs = &p->socks[r];
  if (rs->family != family) return 0;
  uint8_t ip[16];
  for (size_t i = 0; i < (family == AF_INET ? 4u : 16u); i++) ip[i] = xpa[4 + i] ^ d[4 + i];  // cookie, then transaction ID
  const permission_t *m = permission_for(rs, family, ip, now);
  uint16_t port = get16(xpa + 2) ^ (uint16_t)(MAGIC_COOKIE >> 16);
  if (!m || port == 0) return 0;
  for (int i = 0; i < DENIED_PORTS; i++) if (m->denied[i] == port) return 0;
  addr_t to;
  memset(&to, 0, sizeof(to));
  if (family == AF_INET) {
    to.v4.sin_family = AF_INET;
    to.v4.sin_port = htons(port);
    memcpy(&to.v4.sin_addr, ip, 4);
  } else {
    to.v6.sin6_family = AF_INET6;
    to.v6.sin6_port = htons(port);
    memcpy(&to.v6.sin6_addr, ip, 16);
  }
  if (sendto(rs->fd, data, data_len, MSG_DONTWAIT, &to.sa, addr_len(&to)) < 0) {
    p->c.send_errors++;
  } else {
    p->c.to_peer_packets++;
    p->c.to_peer_bytes += data_len;
  }
  return 1;
}

// Peer → client without a channel but with a live permission: a Data indication (RFC 8656 §11.4)
// carrying XOR-PEER-ADDRESS and DATA, the attributes and order the engine's own has. Its header is
// built beside the datagram and sent with it in one sendmmsg entry, so the payload is not copied.
static int fast_data_indication(plane_t *p, sock_t *rs, const addr_t *from, uint8_t *d, size_t len, int64_t now) {
  int v4 = from->sa.sa_family == AF_INET;
  const uint8_t *ip = v4 ? (const uint8_t *)&from->v4.sin_addr : (const uint8_t *)&from->v6.sin6_addr;
  size_t xlen = v4 ? 8 : 20;
  size_t pad = (4 - (len & 3)) & 3;
  size_t body = 4 + xlen + 4 + len + pad;
  if (body > 0xffff || !permission_for(rs, from->sa.sa_family, ip, now)) return 0;
  sock_t *ls = &p->socks[rs->listener];
  if (ls->kind != KIND_LISTENER) return 0;
  // A counter is unique per sender (the engine's counts from 0; this one from 2^95).
  int t = 11;
  while (t >= 0 && ++p->data_txid[t] == 0) t--;
  int k = p->nout;
  uint8_t *h = p->out_head[k];
  h[0] = 0x00;  // Data indication (method 0x007, class indication)
  h[1] = 0x17;
  h[2] = (uint8_t)(body >> 8);
  h[3] = (uint8_t)body;
  h[4] = 0x21;
  h[5] = 0x12;
  h[6] = 0xa4;
  h[7] = 0x42;
  memcpy(h + 8, p->data_txid, 12);
  uint8_t *a = h + 20 + put_xor_address(h + 20, 0x0012, from, h + 4);  // XOR-PEER-ADDRESS
  a[0] = 0x00;  // DATA
  a[1] = 0x13;
  a[2] = (uint8_t)(len >> 8);
  a[3] = (uint8_t)len;
  queue_out_parts(p, k, ls->fd, &rs->client, 20 + 4 + xlen + 4, d, len, pad);
  p->c.to_client_packets++;
  p->c.to_client_bytes += len;
  return 1;
}

// Peer → client: a datagram on a relay from a peer with a live channel; `d` has 4 writable bytes
// before it for the ChannelData header. Without a channel, a Data indication.
static int fast_from_peer(plane_t *p, int relay, const addr_t *from, uint8_t *d, size_t len, int64_t now) {
  sock_t *rs = &p->socks[relay];
  if (!rs->routed || len > 0xffff) return 0;
  for (int i = 0; i < rs->nch; i++) {
    channel_t *c = &rs->ch[i];
    if (!addr_equal(&c->peer, from)) continue;
    if (c->valid_until_ms <= now) return 0;
    sock_t *ls = &p->socks[rs->listener];
    if (ls->kind != KIND_LISTENER) return 0;
    uint8_t *h = d - 4;
    h[0] = (uint8_t)(c->number >> 8);
    h[1] = (uint8_t)c->number;
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    queue_out(p, ls->fd, &rs->client, h, len + 4);
    p->c.to_client_packets++;
    p->c.to_client_bytes += len;
    return 1;
  }
  return fast_data_indication(p, rs, from, d, len, now);
}

// Reads what one socket has (up to RECV_BATCH datagrams per call, a few calls) and routes each.
static void drain_socket(plane_t *p, int idx, int64_t now) {
  struct mmsghdr in[RECV_BATCH];
  struct iovec iov[RECV_BATCH];
  addr_t from[RECV_BATCH];
  for (int round = 0; round < 4; round++) {
    sock_t *s = &p->socks[idx];
    if (s->kind == KIND_FREE) return;
    if (p->slots_used + RECV_BATCH > SLOTS) flush_out(p);
    for (int i = 0; i < RECV_BATCH; i++) {
      // 8 bytes of room before each datagram: the ChannelData header is written there in place.
      iov[i].iov_base = p->slots + (size_t)(p->slots_used + i) * SLOT_BYTES + 8;
      iov[i].iov_len = SLOT_BYTES - 8;
      memset(&in[i].msg_hdr, 0, sizeof(struct msghdr));
      in[i].msg_hdr.msg_iov = &iov[i];
      in[i].msg_hdr.msg_iovlen = 1;
      in[i].msg_hdr.msg_name = &from[i];
      in[i].msg_hdr.msg_namelen = sizeof(addr_t);
    }
    int n = recvmmsg(s->fd, in, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    p->slots_used += n;
    for (int i = 0; i < n; i++) {
      uint8_t *d = iov[i].iov_base;
      size_t len = in[i].msg_len;
      if (in[i].msg_hdr.msg_flags & MSG_TRUNC) {
        p->c.truncated++;
        continue;
      }
      int done = s->kind == KIND_LISTENER ? fast_from_client(p, idx, &from[i], d, len, now) || fast_binding(p, idx, &from[i], d, len) ||
                                                fast_send_indication(p, idx, &from[i], d, len, now)
                                          : fast_from_peer(p, idx, &from[i], d, len, now);
      if (!done) to_slow_path(p, idx, &from[i], d, len);
    }
    if (n < RECV_BATCH) return;
  }
}

static void *io_thread(void *arg) {
  plane_t *p = arg;
  struct epoll_event ev[EVENTS];
  while (1) {
    if (p->nready > 0) {
      // JavaScript is behind: read nothing more until it catches up, so that each socket's own
      // kernel buffer absorbs (and at worst drops) its own traffic — a flood on one relay cannot
      // crowd the others out of the one queue toward JavaScript.
      struct pollfd wake = {.fd = p->wakefd, .events = POLLIN};
      poll(&wake, 1, RETRY_MS);
      pthread_mutex_lock(&p->lock);
      int running = p->running;
      pthread_mutex_unlock(&p->lock);
      if (!running) break;
      hand_over(p);
      continue;
    }
    int n = epoll_wait(p->epfd, ev, EVENTS, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    pthread_mutex_lock(&p->lock);
    if (!p->running) {
      pthread_mutex_unlock(&p->lock);
      break;
    }
    int64_t now = now_ms();
    for (int i = 0; i < n; i++) {
      uint64_t tag = ev[i].data.u64;
      if (tag == UINT64_MAX) continue;  // wake-up
      int idx = (int)(tag & 0xffffffff);
      uint32_t gen = (uint32_t)(tag >> 32);
      if (idx >= p->nsocks || p->socks[idx].gen != gen || p->socks[idx].kind == KIND_FREE) continue;
      drain_socket(p, idx, now);
    }
    flush_out(p);
    finish_batch(p);
    pthread_mutex_unlock(&p->lock);
    hand_over(p);
  }
  return NULL;
}

// ------------------------------------------------------------------------------ N-API glue --

#define CHECK(call)                                              \
  do {                                                           \
    if ((call) != napi_ok) {                                     \
      napi_throw_error(env, NULL, "dataplane: " #call " failed"); \
      return NULL;                                               \
    }                                                            \
  } while (0)

static void free_batch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  batch_t *b = data;
  if (env == NULL) {
    free(b->data);
    free(b);
    return;
  }
  napi_value buf, undefined;
  if (napi_create_external_buffer(env, b->len, b->data, free_batch, NULL, &buf) != napi_ok) {
    free(b->data);
    free(b);
    return;
  }
  free(b);
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 1, &buf, NULL);
}

static plane_t *get_plane(napi_env env, napi_value v) {
  plane_t *p = NULL;
  if (napi_get_value_external(env, v, (void **)&p) != napi_ok) return NULL;
  return p;
}

static int parse_addr(napi_env env, napi_value ipv, uint32_t port, addr_t *out) {
  char ip[64];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, ipv, ip, sizeof(ip), &n) != napi_ok) return -1;
  memset(out, 0, sizeof(*out));
  if (inet_pton(AF_INET, ip, &out->v4.sin_addr) == 1) {
    out->v4.sin_family = AF_INET;
    out->v4.sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &out->v6.sin6_addr) == 1) {
    out->v6.sin6_family = AF_INET6;
    out->v6.sin6_port = htons((uint16_t)port);
    return 0;
  }
  return -1;
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

// create(onBatch) → plane
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name, ext;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = calloc(1, sizeof(plane_t));
  if (!p) return NULL;
  p->cap = 1024;
  p->socks = calloc((size_t)p->cap, sizeof(sock_t));
  p->free_idx = malloc(sizeof(int) * (size_t)p->cap);
  p->routes = malloc(sizeof(int) * ROUTE_BUCKETS);
  p->slots = malloc((size_t)SLOTS * SLOT_BYTES);
  if (!p->socks || !p->free_idx || !p->routes || !p->slots) {
    napi_throw_error(env, NULL, "dataplane: out of memory");
    return NULL;
  }
  for (int i = 0; i < ROUTE_BUCKETS; i++) p->routes[i] = -1;
  p->data_txid[0] = 0x80;
  pthread_mutex_init(&p->lock, NULL);
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev);
  CHECK(napi_create_string_utf8(env, "turnkit-dataplane", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, argv[0], NULL, name, 64, 1, NULL, NULL, NULL, call_js, &p->tsfn));
  p->running = 1;
  if (pthread_create(&p->thread, NULL, io_thread, p) != 0) {
    napi_throw_error(env, NULL, "dataplane: cannot start the I/O thread");
    return NULL;
  }
  CHECK(napi_create_external(env, p, NULL, NULL, &ext));
  return ext;
}

// open(plane, kind, ip, port, bufferBytes) → [index, boundPort, generation] or -errno
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = get_plane(env, argv[0]);
  uint32_t kind, port, bufsize;
  CHECK(napi_get_value_uint32(env, argv[1], &kind));
  CHECK(napi_get_value_uint32(env, argv[3], &port));
  CHECK(napi_get_value_uint32(env, argv[4], &bufsize));
  addr_t a;
  if (!p || parse_addr(env, argv[2], port, &a) < 0) return make_int(env, -EINVAL);
  int fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_int(env, -errno);
  if (a.sa.sa_family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bufsize > 0) {
    int b = (int)bufsize;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof(b));
  }
  if (bind(fd, &a.sa, addr_len(&a)) < 0) {
    int e = errno;
    close(fd);
    return make_int(env, -e);
  }
  addr_t bound;
  socklen_t bl = sizeof(bound);
  getsockname(fd, &bound.sa, &bl);
  pthread_mutex_lock(&p->lock);
  int idx;
  if (p->nfree > 0) {
    idx = p->free_idx[--p->nfree];
  } else {
    if (p->nsocks == p->cap) {
      sock_t *grown = realloc(p->socks, sizeof(sock_t) * (size_t)p->cap * 2);
      int *grown_free = grown ? realloc(p->free_idx, sizeof(int) * (size_t)p->cap * 2) : NULL;
      if (grown) p->socks = grown;
      if (!grown_free) {
        pthread_mutex_unlock(&p->lock);
        close(fd);
        return make_int(env, -ENOMEM);
      }
      memset(grown + p->cap, 0, sizeof(sock_t) * (size_t)p->cap);
      p->free_idx = grown_free;
      p->cap *= 2;
    }
    idx = p->nsocks++;
  }
  sock_t *s = &p->socks[idx];
  uint32_t gen = s->gen + 1;
  memset(s, 0, sizeof(*s));
  s->gen = gen;
  s->fd = fd;
  s->kind = (uint8_t)kind;
  s->family = a.sa.sa_family;
  s->next_route = -1;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)gen << 32) | (uint32_t)idx};
  epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
  pthread_mutex_unlock(&p->lock);
  napi_value r;
  CHECK(napi_create_array_with_length(env, 3, &r));
  napi_set_element(env, r, 0, make_int(env, idx));
  napi_set_element(env, r, 1, make_int(env, ntohs(bound.sa.sa_family == AF_INET ? bound.v4.sin_port : bound.v6.sin6_port)));
  napi_set_element(env, r, 2, make_int(env, gen));
  return r;
}

// Frees what a socket entry points at (projected channels and permissions, Binding template).
static void free_blocks(sock_t *s) {
  free(s->ch);
  s->ch = NULL;
  s->nch = 0;
  free(s->perm);
  s->perm = NULL;
  s->nperm = 0;
  free(s->tmpl);
  s->tmpl = NULL;
}

// close(plane, index)
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = get_plane(env, argv[0]);
  int32_t idx;
  CHECK(napi_get_value_int32(env, argv[1], &idx));
  if (!p || idx < 0 || idx >= p->nsocks) return NULL;
  pthread_mutex_lock(&p->lock);
  sock_t *s = &p->socks[idx];
  if (s->kind != KIND_FREE) {
    route_remove(p, idx);
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->kind = KIND_FREE;
    free_blocks(s);
    s->gen++;
    p->free_idx[p->nfree++] = idx;
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

// send(plane, index, buffer, ip, port) → bytes sent or -errno. A direct sendto from the JS thread:
// UDP sends are atomic, and only the JS thread changes which fd an index names.
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = get_plane(env, argv[0]);
  int32_t idx;
  uint32_t port;
  void *data;
  size_t len;
  CHECK(napi_get_value_int32(env, argv[1], &idx));
  CHECK(napi_get_buffer_info(env, argv[2], &data, &len));
  CHECK(napi_get_value_uint32(env, argv[4], &port));
  addr_t a;
  if (!p || idx < 0 || idx >= p->nsocks || p->socks[idx].kind == KIND_FREE) return make_int(env, -EBADF);
  if (parse_addr(env, argv[3], port, &a) < 0) return make_int(env, -EINVAL);
  ssize_t n = sendto(p->socks[idx].fd, data, len, MSG_DONTWAIT, &a.sa, addr_len(&a));
  return make_int(env, n < 0 ? -errno : n);
}

// route(plane, relayIndex, listenerIndex, clientIp, clientPort): the relay's 5-tuple.
static napi_value js_route(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = get_plane(env, argv[0]);
  int32_t relay, listener;
  uint32_t port;
  CHECK(napi_get_value_int32(env, argv[1], &relay));
  CHECK(napi_get_value_int32(env, argv[2], &listener));
  CHECK(napi_get_value_uint32(env, argv[4], &port));
  addr_t a;
  if (!p || relay < 0 || relay >= p->nsocks || listener < 0 || listener >= p->nsocks) return make_int(env, -EINVAL);
  if (parse_addr(env, argv[3], port, &a) < 0) return make_int(env, -EINVAL);
  pthread_mutex_lock(&p->lock);
  sock_t *s = &p->socks[relay];
  if (s->kind != KIND_RELAY) {
    pthread_mutex_unlock(&p->lock);
    return make_int(env, -EINVAL);
  }
  route_remove(p, relay);
  s->listener = listener;
  s->client = a;
  uint32_t h = route_hash(listener, &a);
  s->next_route = p->routes[h];
  p->routes[h] = relay;
  s->routed = 1;
  pthread_mutex_unlock(&p->lock);
  return make_int(env, 0);
}

// The arguments every projection call starts with — (plane, relayIndex, list, ...) — read into
// argv, *relay and *n (the list's length). NULL when they do not name a plane and a socket of it
// (an exception is pending if reading them failed).
static plane_t *projection_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, int32_t *relay, uint32_t *n) {
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = get_plane(env, argv[0]);
  CHECK(napi_get_value_int32(env, argv[1], relay));
  CHECK(napi_get_array_length(env, argv[2], n));
  return p && *relay >= 0 && *relay < p->nsocks ? p : NULL;
}

// Replaces the block at *slot with a copy of n entries of `size` bytes; returns how many it holds.
// Out of memory it holds none, which leaves that relay's packets to JavaScript (the slow path).
static int set_entries(void **slot, const void *src, int n, size_t size) {
  void *block = n > 0 ? realloc(*slot, size * (size_t)n) : NULL;
  if (!block) {
    free(*slot);
    *slot = NULL;
    return 0;
  }
  memcpy(block, src, size * (size_t)n);
  *slot = block;
  return n;
}

// channels(plane, relayIndex, numbers: number[], ips: string[], ports: number[], validUntilMs: number[])
// replaces the relay's projected channels (at most MAX_CHANNELS are kept).
static napi_value js_channels(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int32_t relay;
  uint32_t n;
  plane_t *p = projection_args(env, info, 6, argv, &relay, &n);
  if (!p) return make_int(env, -EINVAL);
  channel_t ch[MAX_CHANNELS];
  int nch = 0;
  for (uint32_t i = 0; i < n && nch < MAX_CHANNELS; i++) {
    napi_value num, ip, port, until;
    uint32_t number, portv;
    double valid;
    CHECK(napi_get_element(env, argv[2], i, &num));
    CHECK(napi_get_element(env, argv[3], i, &ip));
    CHECK(napi_get_element(env, argv[4], i, &port));
    CHECK(napi_get_element(env, argv[5], i, &until));
    CHECK(napi_get_value_uint32(env, num, &number));
    CHECK(napi_get_value_uint32(env, port, &portv));
    CHECK(napi_get_value_double(env, until, &valid));
    if (parse_addr(env, ip, portv, &ch[nch].peer) < 0) continue;
    ch[nch].number = (uint16_t)number;
    ch[nch].valid_until_ms = (int64_t)valid;
    nch++;
  }
  pthread_mutex_lock(&p->lock);
  sock_t *s = &p->socks[relay];
  if (s->kind == KIND_RELAY) {
    void *block = s->ch;
    s->nch = set_entries(&block, ch, nch, sizeof(channel_t));
    s->ch = block;
  }
  pthread_mutex_unlock(&p->lock);
  return make_int(env, nch);
}

// permissions(plane, relayIndex, ips: string[], validUntilMs: number[], deniedPorts: number[])
// replaces the relay's projected permissions (at most MAX_PERMISSIONS are kept); deniedPorts holds
// DENIED_PORTS entries per permission, 0 for none.
static napi_value js_permissions(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t relay;
  uint32_t n;
  plane_t *p = projection_args(env, info, 5, argv, &relay, &n);
  if (!p) return make_int(env, -EINVAL);
  permission_t perm[MAX_PERMISSIONS];
  int nperm = 0;
  for (uint32_t i = 0; i < n && nperm < MAX_PERMISSIONS; i++) {
    napi_value ip, until;
    double valid;
    addr_t a;
    CHECK(napi_get_element(env, argv[2], i, &ip));
    CHECK(napi_get_element(env, argv[3], i, &until));
    CHECK(napi_get_value_double(env, until, &valid));
    if (parse_addr(env, ip, 1, &a) < 0) continue;
    permission_t *m = &perm[nperm];
    memset(m, 0, sizeof(*m));
    m->family = a.sa.sa_family;
    memcpy(m->ip, a.sa.sa_family == AF_INET ? (void *)&a.v4.sin_addr : (void *)&a.v6.sin6_addr, a.sa.sa_family == AF_INET ? 4 : 16);
    for (uint32_t j = 0; j < DENIED_PORTS; j++) {
      napi_value port;
      uint32_t v;
      CHECK(napi_get_element(env, argv[4], i * DENIED_PORTS + j, &port));
      CHECK(napi_get_value_uint32(env, port, &v));
      m->denied[j] = (uint16_t)v;
    }
    m->valid_until_ms = (int64_t)valid;
    nperm++;
  }
  pthread_mutex_lock(&p->lock);
  sock_t *s = &p->socks[relay];
  if (s->kind == KIND_RELAY) {
    void *block = s->perm;
    s->nperm = set_entries(&block, perm, nperm, sizeof(permission_t));
    s->perm = block;
  }
  pthread_mutex_unlock(&p->lock);
  return make_int(env, nperm);
}

// bindingTemplate(plane, listenerIndex, suffix | null): the attributes after XOR-MAPPED-ADDRESS in
// a Binding answer on this listener; null answers every Binding in JavaScript.
static napi_value js_binding_template(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = get_plane(env, argv[0]);
  int32_t idx;
  CHECK(napi_get_value_int32(env, argv[1], &idx));
  if (!p || idx < 0 || idx >= p->nsocks) return make_int(env, -EINVAL);
  uint8_t *copy = NULL;
  size_t len = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (is_buffer) {
    void *data;
    CHECK(napi_get_buffer_info(env, argv[2], &data, &len));
    // The answer is built in the slot past the request; keep it well inside.
    if (len % 4 != 0 || len > 1024) return make_int(env, -EINVAL);
    copy = malloc(len ? len : 1);
    if (!copy) return make_int(env, -ENOMEM);
    memcpy(copy, data, len);
  }
  pthread_mutex_lock(&p->lock);
  sock_t *s = &p->socks[idx];
  if (s->kind == KIND_LISTENER) {
    free(s->tmpl);
    s->tmpl = copy;
    s->tmpl_len = len;
    copy = NULL;
  }
  pthread_mutex_unlock(&p->lock);
  free(copy);
  return make_int(env, 0);
}

// stats(plane) → [toPeerPackets, toPeerBytes, toClientPackets, toClientBytes, slowPackets, sendErrors, truncated, slowDropped, bindings]
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = get_plane(env, argv[0]);
  if (!p) return NULL;
  pthread_mutex_lock(&p->lock);
  counters_t c = p->c;
  pthread_mutex_unlock(&p->lock);
  uint64_t v[9] = {c.to_peer_packets, c.to_peer_bytes, c.to_client_packets, c.to_client_bytes, c.slow_packets, c.send_errors, c.truncated, c.slow_dropped, c.bindings};
  CHECK(napi_create_array_with_length(env, 9, &r));
  for (uint32_t i = 0; i < 9; i++) {
    napi_value x;
    napi_create_double(env, (double)v[i], &x);
    napi_set_element(env, r, i, x);
  }
  return r;
}

// destroy(plane): stops the thread and closes every socket.
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  plane_t *p = get_plane(env, argv[0]);
  if (!p || !p->running) return NULL;
  pthread_mutex_lock(&p->lock);
  p->running = 0;
  pthread_mutex_unlock(&p->lock);
  uint64_t one = 1;
  if (write(p->wakefd, &one, sizeof(one)) < 0) {
    // The eventfd cannot be full with one write; nothing else to do.
  }
  pthread_join(p->thread, NULL);
  for (int i = 0; i < p->nsocks; i++) {
    if (p->socks[i].kind != KIND_FREE) close(p->socks[i].fd);
    p->socks[i].kind = KIND_FREE;
    free_blocks(&p->socks[i]);
  }
  close(p->epfd);
  close(p->wakefd);
  free(p->batch);
  p->batch = NULL;
  for (int i = 0; i < p->nready; i++) {
    free(p->ready[i]->data);
    free(p->ready[i]);
  }
  p->nready = 0;
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
  // The plane struct itself stays allocated: the external that names it may still be referenced.
  free(p->slots);
  free(p->routes);
  free(p->socks);
  free(p->free_idx);
  p->free_idx = NULL;
  p->nfree = 0;
  p->socks = NULL;
  p->nsocks = 0;
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  crc_init();
  napi_property_descriptor props[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"route", NULL, js_route, NULL, NULL, NULL, napi_default, NULL},
      {"channels", NULL, js_channels, NULL, NULL, NULL, napi_default, NULL},
      {"permissions", NULL, js_permissions, NULL, NULL, NULL, napi_default, NULL},
      {"bindingTemplate", NULL, js_binding_template, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
