#!/usr/bin/env node
// The "what plain Node 20 can do" ceiling on one core (as in ../shared/reference/perf-baseline.md):
// a minimal dgram STUN Binding responder and a minimal 4-byte-header UDP forwarder in one process.
// No auth, no permissions, no STUN parsing beyond the type. Loopback only.
// - A Binding request (first byte 0x00/0x01) gets a success response with XOR-MAPPED-ADDRESS.
// - A ChannelData-shaped datagram (first byte 0x40-0x7F) loses its 4-byte header and goes to
//   127.0.0.1:PEER_PORT from a relay socket of that client; what comes back gets the header again.
// Usage: node bench/servers/plain-node.mjs PORT PEER_PORT
import dgram from 'node:dgram';

const [port, peerPort] = process.argv.slice(2).map(Number);
const MAGIC = 0x2112a442;
const sock = dgram.createSocket('udp4');
const relays = new Map();

function relayFor(address, clientPort) {
  const key = `${address}:${clientPort}`;
  let r = relays.get(key);
  if (!r) {
    r = dgram.createSocket('udp4');
    r.bind(0, '127.0.0.1');
    r.on('message', (msg) => {
      const out = Buffer.allocUnsafe(msg.length + 4);
      out.writeUInt16BE(0x4000, 0);
      out.writeUInt16BE(msg.length, 2);
      msg.copy(out, 4);
      sock.send(out, clientPort, address);
    });
    relays.set(key, r);
  }
  return r;
}

sock.on('message', (msg, rinfo) => {
  if (msg.length >= 20 && msg[0] === 0 && msg[1] === 1 && msg.readUInt32BE(4) === MAGIC) {
    const res = Buffer.allocUnsafe(32);
    res.writeUInt16BE(0x0101, 0);
    res.writeUInt16BE(12, 2);
    msg.copy(res, 4, 4, 20);
    res.writeUInt32BE(0x00200008, 20);
    res.writeUInt16BE(0x0001, 24);
    res.writeUInt16BE(rinfo.port ^ (MAGIC >>> 16), 26);
    const ip = rinfo.address.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
    res.writeUInt32BE((ip ^ MAGIC) >>> 0, 28);
    sock.send(res, rinfo.port, rinfo.address);
  } else if (msg.length >= 4 && (msg[0] & 0xc0) === 0x40) {
    relayFor(rinfo.address, rinfo.port).send(msg.subarray(4), peerPort, '127.0.0.1');
  }
});
sock.bind(port, '127.0.0.1', () => {
  sock.setRecvBufferSize(4 << 20);
  sock.setSendBufferSize(4 << 20);
});
process.on('SIGTERM', () => process.exit(0));
