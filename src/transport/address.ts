import type { TransportAddress } from '../stun/ip.js';

/** Converts what Node reports for a peer (`rinfo`, `socket.remoteAddress`) into a TransportAddress. */
export function toTransportAddress(address: string, port: number): TransportAddress {
  // Link-local IPv6 peers carry a zone ("fe80::1%eth0") that has no place on the wire.
  const zone = address.indexOf('%');
  const ip = zone === -1 ? address : address.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return { family: 'IPv4', address: mapped[1]!, port };
  return { family: ip.includes(':') ? 'IPv6' : 'IPv4', address: ip, port };
}
