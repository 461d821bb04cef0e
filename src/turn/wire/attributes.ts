/** RFC 8656 §14.2 LIFETIME: seconds, 32 bits. Undefined when malformed. */
export function decodeLifetime(value: Buffer): number | undefined {
  return value.length === 4 ? value.readUInt32BE(0) : undefined;
}

/** Encodes LIFETIME. */
export function encodeLifetime(seconds: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(seconds >>> 0, 0);
  return out;
}

/** RFC 8656 §14.1 CHANNEL-NUMBER: 16-bit number then 16 bits RFFU. Undefined when malformed. */
export function decodeChannelNumber(value: Buffer): number | undefined {
  return value.length === 4 ? value.readUInt16BE(0) : undefined;
}

/** Encodes CHANNEL-NUMBER. */
export function encodeChannelNumber(channel: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt16BE(channel, 0);
  return out;
}

/** RFC 8656 §14.7 REQUESTED-TRANSPORT: the IP protocol number in the first byte. */
export function decodeRequestedTransport(value: Buffer): number | undefined {
  return value.length === 4 ? value[0] : undefined;
}

/** Encodes REQUESTED-TRANSPORT (17 = UDP, 6 = TCP). */
export function encodeRequestedTransport(protocol: number): Buffer {
  const out = Buffer.alloc(4);
  out[0] = protocol;
  return out;
}

/** IP protocol numbers REQUESTED-TRANSPORT carries. */
export const TransportProtocol = { UDP: 17, TCP: 6 } as const;

/** RFC 8656 §14.6 EVEN-PORT: the R bit asks to reserve the next-higher port too. */
export function decodeEvenPort(value: Buffer): { reserveNext: boolean } | undefined {
  return value.length >= 1 ? { reserveNext: (value[0]! & 0x80) !== 0 } : undefined;
}

/** Encodes EVEN-PORT (one byte, padded). */
export function encodeEvenPort(reserveNext: boolean): Buffer {
  return Buffer.from([reserveNext ? 0x80 : 0]);
}

/** RFC 8656 §14.1 REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY: 0x01 IPv4, 0x02 IPv6. */
export function decodeAddressFamily(value: Buffer): number | undefined {
  return value.length === 4 ? value[0] : undefined;
}

/**
 * ADDITIONAL-ADDRESS-FAMILY as draft-ietf-tram-turnbis numbered it before RFC 8656 registered 0x8000;
 * coturn's clients (turnutils_uclient -Z, 4.6) still send it. Same value layout. Not in the IANA
 * registry, hence not in `AttributeType`.
 */
export const ADDITIONAL_ADDRESS_FAMILY_DRAFT = 0x8032;

/** Encodes REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY. */
export function encodeAddressFamily(family: number): Buffer {
  const out = Buffer.alloc(4);
  out[0] = family;
  return out;
}

/** RFC 6062 §6.2.1 CONNECTION-ID: a 32-bit number naming one peer data connection. Undefined when malformed. */
export function decodeConnectionId(value: Buffer): number | undefined {
  return value.length === 4 ? value.readUInt32BE(0) : undefined;
}

/** Encodes CONNECTION-ID. */
export function encodeConnectionId(id: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(id >>> 0, 0);
  return out;
}
