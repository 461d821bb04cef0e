import { AttributeType, AddressFamily, HEADER_LENGTH, MAGIC_COOKIE } from './constants.js';
import { parseIp } from './ip.js';

/**
 * The answer to a plain Binding request (20 bytes: Binding, class request, length 0, the magic
 * cookie) from `address`:`port`: a success response whose first attribute is XOR-MAPPED-ADDRESS
 * (RFC 8489 §14.2) followed by `suffix`, the rest of what `handleBindingRequest` answers such a
 * request on that socket (see `plainBindingSuffix`). Undefined for any other datagram, so the
 * caller hands it to the full handler. Builds one buffer and nothing else: it runs per request on
 * the Binding flood path.
 */
export function plainBindingAnswer(request: Buffer, address: string, port: number, suffix: Buffer): Buffer | undefined {
  if (request.length !== HEADER_LENGTH || request[0] !== 0 || request[1] !== 1 || request[2] !== 0 || request[3] !== 0) return undefined;
  if (request.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  const ip = parseIp(address);
  if (!ip) return undefined;
  const v4 = ip.family === 'IPv4';
  const valueLength = v4 ? 8 : 20;
  const bodyLength = 4 + valueLength + suffix.length;
  const out = Buffer.allocUnsafe(HEADER_LENGTH + bodyLength);
  out.writeUInt16BE(0x0101, 0);
  out.writeUInt16BE(bodyLength, 2);
  request.copy(out, 4, 4, HEADER_LENGTH);
  out.writeUInt16BE(AttributeType.XorMappedAddress, 20);
  out.writeUInt16BE(valueLength, 22);
  out.writeUInt16BE(v4 ? AddressFamily.IPv4 : AddressFamily.IPv6, 24);
  out.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 26);
  // X-Address: XORed with the cookie, then (IPv6) the transaction ID, i.e. request bytes 4 on.
  for (let i = 0; i < ip.bytes.length; i++) out[28 + i] = ip.bytes[i]! ^ request[4 + i]!;
  suffix.copy(out, 24 + valueLength);
  return out;
}
