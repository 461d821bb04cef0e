/* bench load: the turnkit bench load generator (C, batched sendmmsg/recvmmsg, closed loop with a
 * window or paced at a fixed offered rate, latency in 1 us buckets, bounded in packets and seconds).
 *
 *   -m stun   STUN Binding requests to -p PORT; each answered request is one op.
 *   -m echo   raw datagrams of -l bytes to a UDP echo (the ceiling: a trivial C echo server).
 *   -m relay  TURN: -c clients, each Allocate (401 + long-term auth) + CreatePermission (+ ChannelBind),
 *             then round trips client -> server -> echo peer (-P PEERPORT) -> server -> client.
 *             Upstream ChannelData by default, -S Send indications (downstream Data indications,
 *             or ChannelData with -B which ChannelBinds anyway). -Z: no TURN setup, send 4-byte
 *             ChannelData frames straight to a plain forwarder. One op = one round trip = 2 relayed datagrams.
 *   -m alloc  -N allocations, -c in flight, each on its own socket and source IP (127.1.x.y):
 *             Allocate without credentials (401), then authenticated Allocate; -E adds CreatePermission
 *             + ChannelBind to each; -K 1000,10000 samples the server's RSS (-x PID) when that many are held.
 *
 * Common: -s sockets (stun/echo) -w window per socket/client -d seconds measured -W warm-up seconds
 *         -r offered ops/s (0 = closed loop, saturation) -n max ops measured -x server pid -y peer pid
 *         -u user -k password -R realm -T timeout ms (lost after it, default 500)
 *         -I first client source index: TURN clients bind 127.1.x.y from this index on, one address each.
 *         -b busy-poll: never sleep between answers, so the generator's own wake-up from an idle CPU
 *            (tens of µs on a VM whose idle vCPU halts) is not part of the round trips it measures.
 * Prints one JSON object on stdout. Only 127.0.0.0/8 addresses are accepted. */
#include "common.h"
#include <sys/epoll.h>

#define MAXB 64
#define MAXW 4096

typedef struct { uint64_t sent_ns; uint32_t gen; uint8_t busy; } slot_t;
typedef struct {
  int fd;
  slot_t *slots;
  uint16_t *freeq; int nfree;
  uint8_t prefix[96]; size_t prefix_len, id_off; /* per-send bytes; id (12 B) written at id_off */
  uint8_t key[16];
  struct sockaddr_in relayed;
} flow_t;

enum { M_STUN, M_ECHO, M_RELAY, M_ALLOC };
static int mode = M_STUN, nsock = 4, window = 16, plen = 100, nclients = 8, send_ind = 0, bind_anyway = 0, noturn = 0;
static int port = 0, peer_port = 0, server_pid = 0, peer_pid = 0, nalloc = 1000, extras = 0, timeout_ms = 500;
static double dur = 5, warm = 1, rate = 0; static long maxops = 0;
static int busy_poll = 0; /* -b */
static int src_base = 0; /* -I: first client source address index (a fresh range per run, so no 5-tuple repeats one of an earlier run) */
static const char *user = "test", *pass = "test", *realm = "example.org", *checkpoints = "";
static uint8_t tail[2048]; /* shared payload bytes after the id */
static flow_t *flows; static int nflows;
static struct sockaddr_in srv, peer;

/* ---------------------------------------------------------------- synchronous STUN transactions -- */
static void rand_tid(uint8_t t[12]) { for (int i = 0; i < 12; i++) t[i] = (uint8_t)rand(); }

static ssize_t transact(int fd, msg_t *m, uint8_t *resp, size_t cap) {
  for (int attempt = 0; attempt < 5; attempt++) {
    if (send(fd, m->b, m->n, 0) < 0) die("send");
    uint64_t until = now_ns() + 500000000ull;
    while (now_ns() < until) {
      struct pollfd p = { fd, POLLIN, 0 };
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = recv(fd, resp, cap, MSG_DONTWAIT);
      if (n >= 20 && resp[0] < 2 && !memcmp(resp + 8, m->b + 8, 12)) return n;
    }
  }
  return -1;
}
static void add_auth(msg_t *m, const char *nonce, size_t nonce_len, const uint8_t key[16]) {
  msg_attr(m, 0x0006, user, strlen(user));
  msg_attr(m, 0x0014, realm, strlen(realm));
  msg_attr(m, 0x0015, nonce, nonce_len);
  msg_integrity(m, key);
}
/* Allocate with the 401 round, then CreatePermission and optionally ChannelBind 0x4000 to `peer`. */
static int turn_setup(flow_t *f, int channel) {
  uint8_t tid[12], resp[1500], rt[4] = {17, 0, 0, 0}; msg_t m; ssize_t n;
  rand_tid(tid); msg_start(&m, 0x0003, tid); msg_attr(&m, 0x0019, rt, 4);
  if ((n = transact(f->fd, &m, resp, sizeof resp)) < 0) { fprintf(stderr, "allocate: no answer\n"); return -1; }
  size_t nl; const uint8_t *nv = stun_attr(resp, n, 0x0015, &nl);
  if (!nv) { fprintf(stderr, "allocate: no NONCE in answer (error %d)\n", stun_error_code(resp, n)); return -1; }
  char nonce[256]; memcpy(nonce, nv, nl); size_t nonce_len = nl;
  size_t rl; const uint8_t *rv = stun_attr(resp, n, 0x0014, &rl);
  char r[256]; if (rv) { memcpy(r, rv, rl); r[rl] = 0; realm = strdup(r); }
  lt_key(user, realm, pass, f->key);
  rand_tid(tid); msg_start(&m, 0x0003, tid); msg_attr(&m, 0x0019, rt, 4); add_auth(&m, nonce, nonce_len, f->key);
  if ((n = transact(f->fd, &m, resp, sizeof resp)) < 0 || get16(resp) != 0x0103) {
    fprintf(stderr, "authenticated allocate failed (%d)\n", n < 0 ? -1 : stun_error_code(resp, n)); return -1;
  }
  rand_tid(tid); msg_start(&m, 0x0008, tid); msg_xor_addr(&m, 0x0012, &peer); add_auth(&m, nonce, nonce_len, f->key);
  if ((n = transact(f->fd, &m, resp, sizeof resp)) < 0 || get16(resp) != 0x0108) {
    fprintf(stderr, "CreatePermission failed (%d)\n", n < 0 ? -1 : stun_error_code(resp, n)); return -1;
  }
  if (channel) {
    uint8_t ch[4] = {0x40, 0, 0, 0};
    rand_tid(tid); msg_start(&m, 0x0009, tid); msg_attr(&m, 0x000C, ch, 4); msg_xor_addr(&m, 0x0012, &peer);
    add_auth(&m, nonce, nonce_len, f->key);
    if ((n = transact(f->fd, &m, resp, sizeof resp)) < 0 || get16(resp) != 0x0109) {
      fprintf(stderr, "ChannelBind failed (%d)\n", n < 0 ? -1 : stun_error_code(resp, n)); return -1;
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- closed loop / paced engine -- */
static void flow_prefix(flow_t *f) {
  if (mode == M_STUN) {
    uint8_t tid[12] = {0}; msg_t m; msg_start(&m, 0x0001, tid);
    memcpy(f->prefix, m.b, 20); f->prefix_len = 20; f->id_off = 8;
  } else if (mode == M_ECHO) {
    f->prefix_len = 12; f->id_off = 0;
  } else if (!send_ind) { /* ChannelData: channel 0x4000, length plen */
    put16(f->prefix, 0x4000); put16(f->prefix + 2, (uint16_t)plen); f->prefix_len = 16; f->id_off = 4;
  } else { /* Send indication: XOR-PEER-ADDRESS + DATA(plen); the id opens the DATA value */
    uint8_t tid[12]; rand_tid(tid); msg_t m; msg_start(&m, 0x0016, tid); msg_xor_addr(&m, 0x0012, &peer);
    size_t padded = ((size_t)plen + 3) & ~(size_t)3;
    put16(m.b + m.n, 0x0013); put16(m.b + m.n + 2, (uint16_t)plen); m.n += 4;
    put16(m.b + 2, (uint16_t)(m.n - 20 + padded));
    memcpy(f->prefix, m.b, m.n); f->id_off = m.n; f->prefix_len = m.n + 12;
  }
}
static size_t tail_len(void) {
  if (mode == M_STUN) return 0;
  size_t t = (size_t)plen - 12;
  if (mode == M_RELAY && send_ind) t = (((size_t)plen + 3) & ~(size_t)3) - 12; /* DATA padding */
  return t;
}
/* The id of an answer, or NULL: 'T','K', flow(2), slot(2), gen(4), 0, 0. */
static const uint8_t *answer_id(const uint8_t *b, size_t n) {
  const uint8_t *id = NULL;
  if (mode == M_STUN) { if (n >= 20 && get16(b) == 0x0101) id = b + 8; }
  else if (mode == M_ECHO) { if (n >= 12) id = b; }
  else if ((b[0] & 0xC0) == 0x40) { if (n >= 16) id = b + 4; }
  else if (n >= 20 && get16(b) == 0x0017) { size_t l; const uint8_t *v = stun_attr(b, n, 0x0013, &l); if (v && l >= 12) id = v; }
  if (!id || id[0] != 'T' || id[1] != 'K') return NULL;
  return id;
}

static int run_loop(void) {
  static uint8_t pre[MAXB][96]; static uint8_t rbuf[MAXB][2048];
  struct mmsghdr sm[MAXB], rm[MAXB]; struct iovec siov[MAXB][2], riov[MAXB];
  size_t tl = tail_len();
  hist_t h; hist_init(&h);
  uint64_t t_start = now_ns(), t_meas = t_start + (uint64_t)(warm * 1e9), t_end = t_meas + (uint64_t)(dur * 1e9);
  uint64_t t_hard = t_end + 2000000000ull;
  int measuring = 0; uint64_t recvd = 0, lost = 0, sent = 0, sent_total = 0, late = 0;
  double cpu_srv0 = 0, cpu_peer0 = 0, cpu_self0 = 0; uint64_t t0 = 0, t1 = 0;
  uint64_t last_scan = t_start, tmo = (uint64_t)timeout_ms * 1000000ull;
  int rr = 0; double pace_t = (double)t_start;
  /* epoll: one syscall finds the sockets with answers, however many allocations there are */
  int ep = epoll_create1(EPOLL_CLOEXEC); if (ep < 0) die("epoll_create1");
  for (int i = 0; i < nflows; i++) {
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, flows[i].fd, &ev) < 0) die("epoll_ctl");
  }
  struct epoll_event *evs = calloc(nflows, sizeof *evs);
  int nready = 0;
  for (;;) {
    uint64_t now = now_ns();
    if (!measuring && now >= t_meas) {
      measuring = 1; hist_reset(&h); recvd = lost = sent = late = 0;
      cpu_srv0 = proc_cpu_s(server_pid); cpu_peer0 = proc_cpu_s(peer_pid); cpu_self0 = self_cpu_s(); t0 = now;
    }
    if (measuring && (now >= t_end || (maxops > 0 && (long)recvd >= maxops))) { t1 = now; break; }
    if (now >= t_hard) { t1 = now; break; }
    int activity = 0;
    /* receive: the sockets epoll reported (the last wait's, or a non-blocking look) */
    if (nready == 0) nready = epoll_wait(ep, evs, nflows, 0);
    for (int e = 0; e < nready; e++) {
      int fi = (int)evs[e].data.u32;
      flow_t *f = &flows[fi];
      for (int i = 0; i < MAXB; i++) {
        riov[i].iov_base = rbuf[i]; riov[i].iov_len = sizeof rbuf[i];
        memset(&rm[i].msg_hdr, 0, sizeof rm[i].msg_hdr); rm[i].msg_hdr.msg_iov = &riov[i]; rm[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(f->fd, rm, MAXB, MSG_DONTWAIT, NULL);
      if (n <= 0) continue;
      activity = 1; uint64_t rnow = now_ns();
      for (int i = 0; i < n; i++) {
        const uint8_t *id = answer_id(rbuf[i], rm[i].msg_len);
        if (!id || get16(id + 2) != fi) continue;
        uint16_t s = get16(id + 4); uint32_t g = get32(id + 6);
        if (s >= window || !f->slots[s].busy || f->slots[s].gen != g) { late++; continue; }
        if (measuring) { hist_add(&h, rnow - f->slots[s].sent_ns); recvd++; }
        f->slots[s].busy = 0; f->freeq[f->nfree++] = s;
      }
    }
    /* timeouts */
    now = now_ns();
    if (now - last_scan > 20000000ull) {
      last_scan = now;
      for (int fi = 0; fi < nflows; fi++) for (int s = 0; s < window; s++) {
        slot_t *sl = &flows[fi].slots[s];
        if (sl->busy && now - sl->sent_ns > tmo) { sl->busy = 0; flows[fi].freeq[flows[fi].nfree++] = (uint16_t)s; if (measuring) lost++; }
      }
    }
    /* send */
    long budget = -1;
    if (rate > 0) {
      double due = ((double)now - pace_t) * rate / 1e9;
      if (due < 1) budget = 0; else { budget = (long)due; pace_t += (double)budget * 1e9 / rate; }
      /* never bank more than 10 ms of sends */
      if ((double)now - pace_t > 1e7) pace_t = (double)now - 1e7;
    }
    for (int k = 0; k < nflows && budget != 0; k++) {
      int fi = (rr + k) % nflows; flow_t *f = &flows[fi];
      int cnt = f->nfree; if (budget > 0 && cnt > budget) cnt = (int)budget;
      if (rate > 0) { long share = budget / (nflows - k) + 1; if (cnt > share) cnt = (int)share; } /* paced: spread over flows */
      while (cnt > 0) {
        int b = cnt > MAXB ? MAXB : cnt;
        uint64_t snow = now_ns();
        for (int i = 0; i < b; i++) {
          uint16_t s = f->freeq[--f->nfree]; slot_t *sl = &f->slots[s];
          sl->gen++; sl->busy = 1; sl->sent_ns = snow;
          memcpy(pre[i], f->prefix, f->prefix_len);
          uint8_t *id = pre[i] + f->id_off;
          id[0] = 'T'; id[1] = 'K'; put16(id + 2, (uint16_t)fi); put16(id + 4, s); put32(id + 6, sl->gen); id[10] = id[11] = 0;
          siov[i][0].iov_base = pre[i]; siov[i][0].iov_len = f->prefix_len;
          siov[i][1].iov_base = tail; siov[i][1].iov_len = tl;
          memset(&sm[i].msg_hdr, 0, sizeof sm[i].msg_hdr);
          sm[i].msg_hdr.msg_iov = siov[i]; sm[i].msg_hdr.msg_iovlen = tl ? 2 : 1;
        }
        int done = sendmmsg(f->fd, sm, b, 0);
        if (done < 0) done = 0;
        /* unsent ones (buffer full) go back and count as lost if measuring */
        for (int i = done; i < b; i++) { uint16_t s = get16(pre[i] + f->id_off + 4); f->slots[s].busy = 0; f->freeq[f->nfree++] = s; }
        if (done > 0) activity = 1;
        if (measuring) sent += done;
        sent_total += done; cnt -= b; if (budget > 0) budget -= done;
        if (done < b) break;
      }
    }
    rr = (rr + 1) % nflows;
    nready = 0;
    if (!activity && !busy_poll) {
      uint64_t wait_ns = 5000000ull;
      if (rate > 0) { double next = pace_t + 1e9 / rate - (double)now_ns(); wait_ns = next > 0 ? (uint64_t)next : 0; }
      if (wait_ns > 0) {
        struct timespec ts = { (time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull) };
        nready = epoll_pwait2(ep, evs, nflows, &ts, NULL);
        if (nready < 0) nready = 0;
      }
    }
  }
  double el = (double)(t1 - t0) / 1e9;
  double cpu_srv = server_pid ? proc_cpu_s(server_pid) - cpu_srv0 : -1;
  double cpu_peer = peer_pid ? proc_cpu_s(peer_pid) - cpu_peer0 : -1;
  double cpu_self = self_cpu_s() - cpu_self0;
  printf("{\"mode\":\"%s\",\"elapsed_s\":%.4f,\"ops\":%llu,\"ops_per_s\":%.1f,\"sent\":%llu,\"lost\":%llu,\"loss_pct\":%.4f,\"late\":%llu,",
         mode == M_STUN ? "stun" : mode == M_ECHO ? "echo" : "relay", el, (unsigned long long)recvd, recvd / el,
         (unsigned long long)sent, (unsigned long long)lost, recvd + lost ? 100.0 * lost / (recvd + lost) : 0.0, (unsigned long long)late);
  printf("\"offered_per_s\":%.1f,\"sent_per_s\":%.1f,\"server_cpu_s\":%.3f,\"server_cpu_pct\":%.1f,\"server_us_per_op\":%.3f,\"peer_cpu_pct\":%.1f,\"gen_cpu_pct\":%.1f,\"gen_us_per_op\":%.3f,",
         rate, sent / el, cpu_srv, cpu_srv >= 0 ? 100 * cpu_srv / el : -1, cpu_srv >= 0 && recvd ? cpu_srv * 1e6 / recvd : -1,
         cpu_peer >= 0 ? 100 * cpu_peer / el : -1, 100 * cpu_self / el, recvd ? cpu_self * 1e6 / recvd : -1);
  json_hist(stdout, &h); printf("}\n");
  return recvd > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- allocation rate / memory -- */
typedef struct {
  int fd, stage, tries; uint64_t start_ns, sent_ns; uint8_t tid[12]; msg_t req;
  char nonce[256]; size_t nonce_len; uint8_t key[16];
} conn_t;

static void alloc_build(conn_t *c) {
  uint8_t rt[4] = {17, 0, 0, 0}, ch[4] = {0x40, 0, 0, 0};
  rand_tid(c->tid);
  if (c->stage <= 1) { msg_start(&c->req, 0x0003, c->tid); msg_attr(&c->req, 0x0019, rt, 4); }
  else if (c->stage == 2) { msg_start(&c->req, 0x0008, c->tid); msg_xor_addr(&c->req, 0x0012, &peer); }
  else { msg_start(&c->req, 0x0009, c->tid); msg_attr(&c->req, 0x000C, ch, 4); msg_xor_addr(&c->req, 0x0012, &peer); }
  if (c->stage >= 1) add_auth(&c->req, c->nonce, c->nonce_len, c->key);
}
static void alloc_send(conn_t *c) {
  c->sent_ns = now_ns();
  if (send(c->fd, c->req.b, c->req.n, 0) < 0 && errno != EAGAIN) die("send");
}

static int run_alloc(void) {
  raise_nofile();
  long cps[16]; int ncp = 0;
  for (const char *p = checkpoints; *p && ncp < 16;) { cps[ncp++] = strtol(p, (char **)&p, 10); if (*p == ',') p++; }
  conn_t *cs = calloc(nalloc, sizeof *cs);
  int ep = epoll_create1(EPOLL_CLOEXEC); if (ep < 0) die("epoll");
  hist_t h; hist_init(&h);
  uint8_t key[16]; int key_done = 0;
  long rss_idle = proc_rss_kb(server_pid);
  double cpu0 = proc_cpu_s(server_pid);
  uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(dur * 1e9), paused_ns = 0;
  int next = 0, inflight = 0, done = 0, failed = 0, cpi = 0, errs[700] = {0};
  long rss_at[16]; double cpu_at_cp = 0;
  struct epoll_event evs[256];
  while ((done + failed < nalloc) && now_ns() < deadline) {
    while (inflight < nsock && next < nalloc && !(cpi < ncp && done + failed + inflight >= cps[cpi])) {
      conn_t *c = &cs[next];
      struct sockaddr_in src = client_src(src_base + next);
      c->fd = udp_socket(&src, &srv, 0);
      struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)next };
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
      c->stage = 0; c->start_ns = now_ns(); alloc_build(c); alloc_send(c);
      next++; inflight++;
    }
    if (cpi < ncp && inflight == 0 && done + failed >= cps[cpi]) {
      uint64_t p0 = now_ns(); double cpu_p = proc_cpu_s(server_pid);
      usleep(1500000); rss_at[cpi] = proc_rss_kb(server_pid);
      cpu_at_cp += proc_cpu_s(server_pid) - cpu_p; /* idle CPU while sampling is not allocation cost */
      paused_ns += now_ns() - p0; deadline += now_ns() - p0; cpi++;
      continue;
    }
    int n = epoll_wait(ep, evs, 256, 20);
    uint8_t resp[1500];
    for (int e = 0; e < n; e++) {
      conn_t *c = &cs[evs[e].data.u32];
      ssize_t len;
      while ((len = recv(c->fd, resp, sizeof resp, MSG_DONTWAIT)) > 0) {
        if (len < 20 || memcmp(resp + 8, c->tid, 12) || c->stage < 0) continue;
        uint16_t type = get16(resp);
        if (type & 0x0010) { /* error response */
          int code = stun_error_code(resp, len);
          size_t nl; const uint8_t *nv = stun_attr(resp, len, 0x0015, &nl);
          if ((code == 401 && c->stage == 0) || code == 438) {
            if (!nv || nl > 255) { c->stage = -1; failed++; inflight--; break; }
            memcpy(c->nonce, nv, nl); c->nonce_len = nl;
            if (!key_done) {
              size_t rl; const uint8_t *rv = stun_attr(resp, len, 0x0014, &rl);
              if (rv && rl < 255) { char r[256]; memcpy(r, rv, rl); r[rl] = 0; realm = strdup(r); }
              lt_key(user, realm, pass, key); key_done = 1;
            }
            memcpy(c->key, key, 16);
            if (c->stage == 0) c->stage = 1;
            c->tries = 0; alloc_build(c); alloc_send(c);
          } else { if (code >= 0 && code < 700) errs[code]++; c->stage = -1; failed++; inflight--; }
          break;
        }
        /* success */
        if (c->stage <= 1) hist_add(&h, now_ns() - c->start_ns);
        if (c->stage <= 1 && !extras) c->stage = 99;
        else if (c->stage <= 1) c->stage = 2;
        else if (c->stage == 2) c->stage = 3;
        else c->stage = 99;
        if (c->stage == 99) { c->stage = -2; done++; inflight--; }
        else { c->tries = 0; alloc_build(c); alloc_send(c); }
        break;
      }
    }
    /* retransmit / give up */
    uint64_t now = now_ns();
    static uint64_t last = 0;
    if (now - last > 50000000ull) {
      last = now;
      for (int i = 0; i < next; i++) {
        conn_t *c = &cs[i];
        if (c->stage < 0 || now - c->sent_ns < 1000000000ull) continue;
        if (++c->tries > 3) { c->stage = -1; failed++; inflight--; errs[0]++; continue; }
        alloc_send(c);
      }
    }
  }
  double el = (double)(now_ns() - t0 - paused_ns) / 1e9;
  double cpu = proc_cpu_s(server_pid) - cpu0 - cpu_at_cp;
  /* the last checkpoint(s), reached as the loop ended */
  while (cpi < ncp && done + failed >= cps[cpi]) { usleep(1500000); rss_at[cpi++] = proc_rss_kb(server_pid); }
  printf("{\"mode\":\"alloc\",\"requested\":%d,\"done\":%d,\"failed\":%d,\"elapsed_s\":%.4f,\"ops_per_s\":%.1f,\"with_permission_and_channel\":%s,",
         nalloc, done, failed, el, done / el, extras ? "true" : "false");
  printf("\"server_cpu_s\":%.3f,\"server_us_per_op\":%.2f,\"rss_idle_kb\":%ld,\"rss_held_kb\":{", cpu, done ? cpu * 1e6 / done : -1, rss_idle);
  for (int i = 0; i < cpi; i++) printf("%s\"%ld\":%ld", i ? "," : "", cps[i], rss_at[i]);
  printf("},\"errors\":{");
  int first = 1;
  for (int i = 0; i < 700; i++) if (errs[i]) {
    if (i) printf("%s\"%d\":%d", first ? "" : ",", i, errs[i]); else printf("%s\"timeout\":%d", first ? "" : ",", errs[i]);
    first = 0;
  }
  printf("},");
  json_hist(stdout, &h); printf("}\n");
  fflush(stdout);
  return done > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  int c;
  while ((c = getopt(argc, argv, "m:p:P:s:w:c:l:d:W:r:n:x:y:u:k:R:N:K:T:I:SBZEb")) != -1) {
    switch (c) {
      case 'm': mode = !strcmp(optarg, "stun") ? M_STUN : !strcmp(optarg, "echo") ? M_ECHO : !strcmp(optarg, "relay") ? M_RELAY : !strcmp(optarg, "alloc") ? M_ALLOC : -1; break;
      case 'p': port = atoi(optarg); break;
      case 'P': peer_port = atoi(optarg); break;
      case 's': nsock = atoi(optarg); break;
      case 'c': nclients = atoi(optarg); nsock = nclients; break;
      case 'w': window = atoi(optarg); break;
      case 'l': plen = atoi(optarg); break;
      case 'd': dur = atof(optarg); break;
      case 'W': warm = atof(optarg); break;
      case 'r': rate = atof(optarg); break;
      case 'n': maxops = atol(optarg); break;
      case 'x': server_pid = atoi(optarg); break;
      case 'y': peer_pid = atoi(optarg); break;
      case 'u': user = optarg; break;
      case 'k': pass = optarg; break;
      case 'R': realm = optarg; break;
      case 'N': nalloc = atoi(optarg); break;
      case 'K': checkpoints = optarg; break;
      case 'T': timeout_ms = atoi(optarg); break;
      case 'I': src_base = atoi(optarg); break;
      case 'S': send_ind = 1; break;
      case 'B': bind_anyway = 1; break;
      case 'Z': noturn = 1; break;
      case 'E': extras = 1; break;
      case 'b': busy_poll = 1; break;
      default: fprintf(stderr, "see the comment at the top of bench/gen/load.c\n"); return 2;
    }
  }
  if (mode < 0 || port <= 0) { fprintf(stderr, "need -m stun|echo|relay|alloc and -p PORT\n"); return 2; }
  if (window < 1 || window > MAXW) { fprintf(stderr, "window 1..%d\n", MAXW); return 2; }
  if (dur <= 0 || dur > 120) { fprintf(stderr, "-d must be in (0, 120] seconds\n"); return 2; }
  if (plen < 16 || plen > 1400) { fprintf(stderr, "-l must be 16..1400\n"); return 2; }
  srand((unsigned)(now_ns() ^ getpid()));
  srv = addr4("127.0.0.1", port);
  if (peer_port) peer = addr4("127.0.0.1", peer_port);
  memset(tail, 0x5a, sizeof tail);
  if (mode == M_ALLOC) {
    if (nalloc < 1 || nalloc > 60000) { fprintf(stderr, "-N 1..60000\n"); return 2; }
    return run_alloc();
  }
  nflows = mode == M_RELAY ? nclients : nsock;
  if (nflows < 1 || nflows > 4096) { fprintf(stderr, "1..4096 sockets\n"); return 2; }
  raise_nofile();
  flows = calloc(nflows, sizeof *flows);
  for (int i = 0; i < nflows; i++) {
    flow_t *f = &flows[i];
    struct sockaddr_in src = client_src(src_base + i);
    f->fd = udp_socket(mode == M_RELAY && !noturn ? &src : NULL, &srv, 4 << 20);
    f->slots = calloc(window, sizeof(slot_t)); f->freeq = calloc(window, sizeof(uint16_t));
    for (int s = window - 1; s >= 0; s--) f->freeq[f->nfree++] = (uint16_t)s;
    if (mode == M_RELAY && !noturn) {
      /* blocking setup */
      int fl = fcntl(f->fd, F_GETFL); fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK);
      if (turn_setup(f, !send_ind || bind_anyway) < 0) { fprintf(stderr, "TURN setup failed for client %d\n", i); return 3; }
      fcntl(f->fd, F_SETFL, fl);
    }
    flow_prefix(f);
  }
  return run_loop();
}
