/* Shared helpers for the turnkit bench load generators (bench/gen): time, a 1 us latency
 * histogram, STUN message building with long-term-credential MESSAGE-INTEGRITY, /proc sampling.
 * Loopback only: every address these programs send to is given on the command line and the
 * orchestrator (bench/run.mjs) only ever passes 127.0.0.0/8. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/evp.h>

#define MAGIC 0x2112A442u

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "error: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* ---- latency histogram: 1 µs buckets up to 1 s, then one overflow bucket ---- */
#define HBUCKETS 1000001
typedef struct { uint32_t *b; uint64_t n; } hist_t;
static void hist_init(hist_t *h) { h->b = calloc(HBUCKETS, sizeof(uint32_t)); h->n = 0; if (!h->b) die("calloc"); }
static void hist_reset(hist_t *h) { memset(h->b, 0, HBUCKETS * sizeof(uint32_t)); h->n = 0; }
static inline void hist_add(hist_t *h, uint64_t ns) {
  uint64_t us = ns / 1000;
  if (us >= HBUCKETS - 1) us = HBUCKETS - 1;
  h->b[us]++; h->n++;
}
static long hist_pct(const hist_t *h, double p) {
  if (h->n == 0) return -1;
  uint64_t want = (uint64_t)(p * (double)h->n); if (want >= h->n) want = h->n - 1;
  uint64_t c = 0;
  for (long i = 0; i < HBUCKETS; i++) { c += h->b[i]; if (c > want) return i; }
  return HBUCKETS - 1;
}

/* ---- /proc sampling ---- */
static double proc_cpu_s(int pid) { /* utime + stime of all threads, seconds */
  if (pid <= 0) return -1;
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY); if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1); close(fd); if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')'); if (!p) return -1;
  p += 2; /* state is field 3 */
  unsigned long ut = 0, st = 0; int field = 3;
  for (char *tok = strtok(p, " "); tok; tok = strtok(NULL, " "), field++) {
    if (field == 14) ut = strtoul(tok, NULL, 10);
    if (field == 15) { st = strtoul(tok, NULL, 10); break; }
  }
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
static long proc_rss_kb(int pid) {
  if (pid <= 0) return -1;
  char path[64]; snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r"); if (!f) return -1;
  char line[256]; long kb = -1;
  while (fgets(line, sizeof line, f)) if (!strncmp(line, "VmRSS:", 6)) { kb = strtol(line + 6, NULL, 10); break; }
  fclose(f); return kb;
}
static double self_cpu_s(void) {
  struct rusage ru; getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
static void raise_nofile(void) {
  struct rlimit r; if (getrlimit(RLIMIT_NOFILE, &r) == 0) { r.rlim_cur = r.rlim_max; setrlimit(RLIMIT_NOFILE, &r); }
}

/* ---- addresses ---- */
static struct sockaddr_in addr4(const char *ip, int port) {
  struct sockaddr_in a; memset(&a, 0, sizeof a);
  a.sin_family = AF_INET; a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) { fprintf(stderr, "bad IPv4 address %s\n", ip); exit(2); }
  if ((ntohl(a.sin_addr.s_addr) >> 24) != 127) { fprintf(stderr, "refusing non-loopback address %s\n", ip); exit(2); }
  return a;
}
/* The i-th client source address: 127.1.x.y (distinct per client so per-IP limits apply per client). */
static struct sockaddr_in client_src(int i) {
  struct sockaddr_in a; memset(&a, 0, sizeof a);
  a.sin_family = AF_INET; a.sin_port = 0;
  uint32_t ip = (127u << 24) | (1u << 16) | (uint32_t)(((i / 250) % 250) << 8) | (uint32_t)(i % 250 + 1);
  if (i >= 62500) ip += (uint32_t)(i / 62500) << 16;
  a.sin_addr.s_addr = htonl(ip);
  return a;
}
static int udp_socket(const struct sockaddr_in *src, const struct sockaddr_in *dst, int bufsize) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (bufsize > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  }
  if (src && bind(fd, (const struct sockaddr *)src, sizeof *src) < 0) die("bind");
  if (dst && connect(fd, (const struct sockaddr *)dst, sizeof *dst) < 0) die("connect");
  return fd;
}

/* ---- STUN building ---- */
typedef struct { uint8_t b[1500]; size_t n; } msg_t;
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void msg_start(msg_t *m, uint16_t type, const uint8_t tid[12]) {
  put16(m->b, type); put16(m->b + 2, 0); put32(m->b + 4, MAGIC); memcpy(m->b + 8, tid, 12); m->n = 20;
}
static void msg_attr(msg_t *m, uint16_t type, const void *v, size_t len) {
  put16(m->b + m->n, type); put16(m->b + m->n + 2, (uint16_t)len);
  memcpy(m->b + m->n + 4, v, len);
  size_t padded = (len + 3) & ~(size_t)3;
  memset(m->b + m->n + 4 + len, 0, padded - len);
  m->n += 4 + padded; put16(m->b + 2, (uint16_t)(m->n - 20));
}
static void msg_xor_addr(msg_t *m, uint16_t type, const struct sockaddr_in *a) {
  uint8_t v[8] = {0, 1};
  put16(v + 2, ntohs(a->sin_port) ^ (MAGIC >> 16));
  put32(v + 4, ntohl(a->sin_addr.s_addr) ^ MAGIC);
  msg_attr(m, type, v, 8);
}
static void msg_integrity(msg_t *m, const uint8_t key[16]) {
  put16(m->b + 2, (uint16_t)(m->n - 20 + 24));
  unsigned int outlen = 20; uint8_t mac[20];
  HMAC(EVP_sha1(), key, 16, m->b, m->n, mac, &outlen);
  put16(m->b + m->n, 0x0008); put16(m->b + m->n + 2, 20); memcpy(m->b + m->n + 4, mac, 20); m->n += 24;
}
static void lt_key(const char *user, const char *realm, const char *pass, uint8_t key[16]) {
  char s[1024]; snprintf(s, sizeof s, "%s:%s:%s", user, realm, pass);
  MD5((const unsigned char *)s, strlen(s), key);
}
/* Finds attribute `type` in a STUN message; returns its value and length or NULL. */
static const uint8_t *stun_attr(const uint8_t *b, size_t n, uint16_t type, size_t *len) {
  if (n < 20) return NULL;
  size_t end = 20 + get16(b + 2); if (end > n) end = n;
  for (size_t off = 20; off + 4 <= end;) {
    uint16_t t = get16(b + off), l = get16(b + off + 2);
    if (off + 4 + l > end) return NULL;
    if (t == type) { *len = l; return b + off + 4; }
    off += 4 + ((l + 3u) & ~3u);
  }
  return NULL;
}
static int stun_error_code(const uint8_t *b, size_t n) {
  size_t l; const uint8_t *v = stun_attr(b, n, 0x0009, &l);
  if (!v || l < 4) return 0;
  return (v[2] & 7) * 100 + v[3];
}
static void json_hist(FILE *f, const hist_t *h) {
  fprintf(f, "\"samples\":%llu,\"p50_us\":%ld,\"p90_us\":%ld,\"p99_us\":%ld,\"p999_us\":%ld",
          (unsigned long long)h->n, hist_pct(h, 0.5), hist_pct(h, 0.9), hist_pct(h, 0.99), hist_pct(h, 0.999));
}
