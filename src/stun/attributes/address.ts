import { AddressFamily, MAGIC_COOKIE } from '../constants.js';
import { formatIp, parseIp, type TransportAddress } from '../ip.js';

/**
 * RFC 8489 §14.1: MAPPED-ADDRESS and the plain-address family (ALTERNATE-SERVER, RESPONSE-ORIGIN,
 * OTHER-ADDRESS, RFC 3489 SOURCE-ADDRESS/CHANGED-ADDRESS). Undefined when the value is malformed.
 */
export function decodeAddress(value: Buffer): TransportAddress | undefined {
  if (value.length < 4) return undefined;
  const family = value[1];
  const port = value.readUInt16BE(2);
  if (family === AddressFamily.IPv4 && value.length === 8) {
    return { family: 'IPv4', address: formatIp(value.subarray(4, 8)), port };
  }
  if (family === AddressFamily.IPv6 && value.length === 20) {
    return { family: 'IPv6', address: formatIp(value.subarray(4, 20)), port };
  }
  return undefined;
}

/** Encodes a transport address as a plain address value (RFC 8489 §14.1). Throws on a non-IP string. */
export function encodeAddress(addr: TransportAddress): Buffer {
  const ip = parseIp(addr.address);
  if (!ip) throw new TypeError(`not an IP address: ${addr.address}`);
  const out = Buffer.alloc(4 + ip.bytes.length);
  out[1] = ip.family === 'IPv4' ? AddressFamily.IPv4 : AddressFamily.IPv6;
  out.writeUInt16BE(addr.port, 2);
  ip.bytes.copy(out, 4);
  return out;
}

/** XORs an address value in place with the cookie (and, for IPv6, the transaction ID). */
function xorInPlace(value: Buffer, transactionId: Buffer): void {
  value.writeUInt16BE(value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16), 2);
  value.writeUInt32BE((value.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0, 4);
  if (value.length === 20) for (let i = 0; i < 12; i++) value[8 + i]! ^= transactionId[i]!;
}

/** RFC 8489 §14.2: XOR-MAPPED-ADDRESS and the other XOR-* address attributes (peer, relayed). */
export function decodeXorAddress(value: Buffer, transactionId: Buffer): TransportAddress | undefined {
  if (value.length !== 8 && value.length !== 20) return undefined;
  const copy = Buffer.from(value);
  xorInPlace(copy, transactionId);
  return decodeAddress(copy);
}

/** Encodes a transport address as an XOR-* value for the given transaction (RFC 8489 §14.2). */
export function encodeXorAddress(addr: TransportAddress, transactionId: Buffer): Buffer {
  const out = encodeAddress(addr);
  xorInPlace(out, transactionId);
  return out;
}
