/* bench peer: a trivial batched UDP responder on 127.0.0.1 (recvmmsg/sendmmsg).
 *   -m echo : sends every datagram back to its source (the relay's echo peer; the generator ceiling)
 *   -m stun : answers STUN Binding requests with XOR-MAPPED-ADDRESS (the generator ceiling for Binding)
 * Usage: peer -p PORT [-m echo|stun] [-b BATCH] [-t MAX_SECONDS]   (exits after MAX_SECONDS, default 900)
 * Prints "ready PORT" on stdout once bound (PORT 0 picks a free one). */
#include "common.h"

#define MAXB 64
static volatile sig_atomic_t stop_flag = 0;
static void on_sig(int s) { (void)s; stop_flag = 1; }

int main(int argc, char **argv) {
  int port = 0, batch = MAXB, stun = 0; double max_s = 900;
  int c;
  while ((c = getopt(argc, argv, "p:m:b:t:")) != -1) {
    if (c == 'p') port = atoi(optarg);
    else if (c == 'm') stun = !strcmp(optarg, "stun");
    else if (c == 'b') batch = atoi(optarg);
    else if (c == 't') max_s = atof(optarg);
    else { fprintf(stderr, "usage: peer -p PORT [-m echo|stun] [-b BATCH] [-t SECONDS]\n"); return 2; }
  }
  if (batch < 1 || batch > MAXB) batch = MAXB;
  signal(SIGTERM, on_sig); signal(SIGINT, on_sig);
  struct sockaddr_in a = addr4("127.0.0.1", port);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int sz = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  socklen_t al = sizeof a; getsockname(fd, (struct sockaddr *)&a, &al);
  struct timeval tv = { 0, 200000 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  printf("ready %d\n", ntohs(a.sin_port)); fflush(stdout);

  static uint8_t bufs[MAXB][2048];
  static uint8_t out[MAXB][128];
  static struct sockaddr_in from[MAXB];
  struct mmsghdr in[MAXB], snd[MAXB];
  struct iovec iov[MAXB], oiov[MAXB];
  uint64_t deadline = now_ns() + (uint64_t)(max_s * 1e9), total = 0;
  while (!stop_flag && now_ns() < deadline) {
    for (int i = 0; i < batch; i++) {
      iov[i].iov_base = bufs[i]; iov[i].iov_len = sizeof bufs[i];
      memset(&in[i].msg_hdr, 0, sizeof in[i].msg_hdr);
      in[i].msg_hdr.msg_iov = &iov[i]; in[i].msg_hdr.msg_iovlen = 1;
      in[i].msg_hdr.msg_name = &from[i]; in[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    int n = recvmmsg(fd, in, batch, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    int k = 0;
    for (int i = 0; i < n; i++) {
      size_t len = in[i].msg_len;
      memset(&snd[k].msg_hdr, 0, sizeof snd[k].msg_hdr);
      snd[k].msg_hdr.msg_name = &from[i]; snd[k].msg_hdr.msg_namelen = sizeof from[i];
      if (!stun) {
        oiov[k].iov_base = bufs[i]; oiov[k].iov_len = len;
      } else {
        uint8_t *q = bufs[i];
        if (len < 20 || get16(q) != 0x0001 || get32(q + 4) != MAGIC) continue;
        uint8_t *r = out[k];
        put16(r, 0x0101); put16(r + 2, 12); put32(r + 4, MAGIC); memcpy(r + 8, q + 8, 12);
        put16(r + 20, 0x0020); put16(r + 22, 8); r[24] = 0; r[25] = 1;
        put16(r + 26, ntohs(from[i].sin_port) ^ (MAGIC >> 16));
        put32(r + 28, ntohl(from[i].sin_addr.s_addr) ^ MAGIC);
        oiov[k].iov_base = r; oiov[k].iov_len = 32;
      }
      snd[k].msg_hdr.msg_iov = &oiov[k]; snd[k].msg_hdr.msg_iovlen = 1;
      k++;
    }
    for (int off = 0; off < k;) {
      int s = sendmmsg(fd, snd + off, k - off, 0);
      if (s <= 0) break;
      off += s;
    }
    total += n;
  }
  fprintf(stderr, "peer: %llu datagrams\n", (unsigned long long)total);
  return 0;
}
