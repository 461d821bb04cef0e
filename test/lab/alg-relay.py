#!/usr/bin/env python3
"""A NAT with an address-rewriting ALG, for nat-probe's lab (nat-lab.md, "Not built: alg-rewrite").

Runs in the lab's nat namespace. nftables TPROXYs every UDP datagram from the LAN to this
process (port LISTEN), which keeps its own mapping table: one outbound socket on PUBLIC per
client ip:port (so the mapping is endpoint-independent). Like a SIP ALG it rewrites addresses
inside payloads: on the way out the client's private IP becomes PUBLIC, on the way in PUBLIC
becomes the client's private IP (4-byte IPv4 values, wherever they appear). Answers reach the
client from the address they came from, through transparent sockets bound to that address.

    alg-relay.py LISTEN_PORT PUBLIC_IP LIFETIME_S [both|out|in]

The last argument picks the directions that are rewritten (default both).

Prints "ready" when listening; exits by itself after LIFETIME_S seconds.
"""
import selectors
import socket
import struct
import sys
import time

IP_TRANSPARENT = 19
IP_RECVORIGDSTADDR = 20
IP_ORIGDSTADDR = 20

listen_port, public, lifetime = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "both"
rewrite_out, rewrite_in = mode in ("both", "out"), mode in ("both", "in")
public_b = socket.inet_aton(public)
sel = selectors.DefaultSelector()


def transparent_socket(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    s.setsockopt(socket.SOL_IP, IP_RECVORIGDSTADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    return s


listener = transparent_socket(("0.0.0.0", listen_port))
sel.register(listener, selectors.EVENT_READ, ("in", None))
outbound = {}   # client (ip, port) -> socket on PUBLIC
client_of = {}  # outbound socket -> client (ip, port)
senders = {}    # remote (ip, port) -> transparent socket bound to it (answers come "from" it)


def sender(addr):
    s = senders.get(addr)
    if s is None:
        s = transparent_socket(addr)
        senders[addr] = s
        # TPROXY delivers later client datagrams for addr to this socket (it matches first), so
        # read from it too: what arrives here is outbound traffic to addr.
        sel.register(s, selectors.EVENT_READ, ("in", addr))
    return s


def orig_dst(ancdata):
    for level, kind, data in ancdata:
        if level == socket.SOL_IP and kind == IP_ORIGDSTADDR:
            port, = struct.unpack("!H", data[2:4])
            return socket.inet_ntoa(data[4:8]), port
    return None


def outbound_for(client):
    o = outbound.get(client)
    if o is None:
        o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        o.bind((public, 0))
        outbound[client] = o
        client_of[o] = client
        sel.register(o, selectors.EVENT_READ, ("out", client))
    return o


print("ready", flush=True)
deadline = time.monotonic() + lifetime
while (left := deadline - time.monotonic()) > 0:
    for key, _ in sel.select(timeout=left):
        s = key.fileobj
        kind, extra = key.data
        if kind == "in":
            data, anc, _flags, src = s.recvmsg(4096, 256)
            dst = extra or orig_dst(anc)
            if dst is None:
                continue
            private_b = socket.inet_aton(src[0])
            outbound_for(src).sendto(data.replace(private_b, public_b) if rewrite_out else data, dst)
        else:
            data, frm = s.recvfrom(4096)
            client = extra
            private_b = socket.inet_aton(client[0])
            sender(frm).sendto(data.replace(public_b, private_b) if rewrite_in else data, client)
