import { crc32 } from './crc32.js';
import { hmacSha1, hmacSha256 } from './hmac.js';
import { AttributeType, FINGERPRINT_XOR, HEADER_LENGTH, MAGIC_COOKIE, MessageClass } from './constants.js';
import { decodeMessageType, encodeMessageType } from './header.js';

/** One attribute as it stands in a message: its type, value and (when received) padding and offset. */
export interface StunAttribute {
  type: number;
  /** The value without padding; for a decoded message a view into the received bytes. */
  value: Buffer;
  /** Padding bytes as received (RFC 5769 pads with spaces); encoding uses zeros when absent. */
  padding?: Buffer;
  /** Offset of the attribute's 4-byte header in the received message. */
  offset?: number;
}

/** A STUN message, decoded or about to be encoded (RFC 8489 §5, §14). */
export interface StunMessage {
  method: number;
  cls: MessageClass;
  /** The 96-bit transaction ID (RFC 8489); for RFC 3489 messages the last 12 of its 16 bytes. */
  transactionId: Buffer;
  /** The 32 bits after the length: MAGIC_COOKIE, or the first 4 bytes of an RFC 3489 transaction ID. */
  cookie: number;
  attributes: StunAttribute[];
  /** The bytes this message was decoded from (needed to check integrity over the bytes as received). */
  raw?: Buffer;
}

/** Why bytes were not accepted as a STUN message; also the label values of the drop counter. */
export type StunDecodeFailure =
  | 'too-short'
  | 'not-stun'
  | 'bad-length'
  | 'bad-attribute-length'
  | 'fingerprint-not-last'
  | 'bad-fingerprint';

/** The result of decoding: a message, or the named reason it was rejected. */
export type StunDecodeResult = { ok: true; message: StunMessage } | { ok: false; reason: StunDecodeFailure };

/** True when the message carries the RFC 5389+ magic cookie; false for a classic RFC 3489 message. */
export function hasMagicCookie(m: Pick<StunMessage, 'cookie'>): boolean {
  return m.cookie === MAGIC_COOKIE;
}

/** Rounds a value length up to the 4-byte boundary attributes are padded to. */
export function padded(length: number): number {
  return (length + 3) & ~3;
}

/**
 * RFC 8489 §5 and §14: decodes one whole STUN message (one UDP datagram, or one frame cut from a
 * stream). Never throws; every length is checked before it is read. A FINGERPRINT, if present,
 * must be last and correct. Attribute values are views into `buf`, not copies.
 */
export function decodeMessage(buf: Buffer): StunDecodeResult {
  if (buf.length < HEADER_LENGTH) return { ok: false, reason: 'too-short' };
  const type = buf.readUInt16BE(0);
  if ((type & 0xc000) !== 0) return { ok: false, reason: 'not-stun' };
  const length = buf.readUInt16BE(2);
  if ((length & 3) !== 0 || HEADER_LENGTH + length !== buf.length) return { ok: false, reason: 'bad-length' };
  const cookie = buf.readUInt32BE(4);
  const { method, cls } = decodeMessageType(type);
  const attributes: StunAttribute[] = [];
  let offset = HEADER_LENGTH;
  while (offset < buf.length) {
    if (offset + 4 > buf.length) return { ok: false, reason: 'bad-attribute-length' };
    const attrType = buf.readUInt16BE(offset);
    const attrLength = buf.readUInt16BE(offset + 2);
    const valueStart = offset + 4;
    const next = valueStart + padded(attrLength);
    if (next > buf.length) return { ok: false, reason: 'bad-attribute-length' };
    const valueEnd = valueStart + attrLength;
    const attr: StunAttribute = { type: attrType, value: buf.subarray(valueStart, valueEnd), offset };
    if (next > valueEnd) attr.padding = buf.subarray(valueEnd, next);
    if (attrType === AttributeType.Fingerprint) {
      if (next !== buf.length) return { ok: false, reason: 'fingerprint-not-last' };
      if (attrLength !== 4 || attr.value.readUInt32BE(0) !== fingerprintOf(buf, offset)) {
        return { ok: false, reason: 'bad-fingerprint' };
      }
    }
    attributes.push(attr);
    offset = next;
  }
  return {
    ok: true,
    message: { method, cls, transactionId: buf.subarray(8, HEADER_LENGTH), cookie, attributes, raw: buf },
  };
}

/** RFC 8489 §14.7: CRC-32 of the message up to `fingerprintOffset`, XORed with 0x5354554E. */
export function fingerprintOf(buf: Buffer, fingerprintOffset: number): number {
  // The length field must already count the FINGERPRINT attribute; it does in any message we hash.
  return (crc32(buf.subarray(0, fingerprintOffset)) ^ FINGERPRINT_XOR) >>> 0;
}

/**
 * RFC 8489 §14: the attribute that counts for `type`: the first occurrence, ignoring everything
 * after MESSAGE-INTEGRITY except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (§14.5), and everything
 * after MESSAGE-INTEGRITY-SHA256 except FINGERPRINT (§14.6).
 */
export function getAttribute(m: StunMessage, type: number): StunAttribute | undefined {
  // A plain loop, not effectiveAttributes: handlers call this a dozen times per request, and an
  // array or a generator per call was most of a request's garbage.
  let stage = BEFORE_INTEGRITY;
  for (const a of m.attributes) {
    const next = nextStage(stage, a.type);
    if (next === IGNORED) continue;
    stage = next;
    if (a.type === type) return a;
  }
  return undefined;
}

/** The attributes a receiver processes, in order (see getAttribute for which are ignored). */
export function effectiveAttributes(m: StunMessage): StunAttribute[] {
  const out: StunAttribute[] = [];
  let stage = BEFORE_INTEGRITY;
  for (const a of m.attributes) {
    const next = nextStage(stage, a.type);
    if (next === IGNORED) continue;
    stage = next;
    out.push(a);
  }
  return out;
}

const BEFORE_INTEGRITY = 0;
const AFTER_INTEGRITY = 1;
const AFTER_INTEGRITY_SHA256 = 2;
const IGNORED = -1;

/** The scan's stage after an attribute of `type`, or IGNORED when RFC 8489 §14.5/§14.6 skip it. */
function nextStage(stage: number, type: number): number {
  if (type === AttributeType.Fingerprint) return stage;
  if (stage === AFTER_INTEGRITY_SHA256) return IGNORED;
  if (type === AttributeType.MessageIntegritySha256) return AFTER_INTEGRITY_SHA256;
  if (stage === AFTER_INTEGRITY) return IGNORED;
  return type === AttributeType.MessageIntegrity ? AFTER_INTEGRITY : BEFORE_INTEGRITY;
}

/** Options for the trailing attributes computed over the encoded message (RFC 8489 §14.5–§14.7). */
export interface EncodeOptions {
  /** Key for MESSAGE-INTEGRITY (HMAC-SHA1). */
  integrity?: Buffer;
  /** Key for MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256), added after MESSAGE-INTEGRITY if both are set. */
  integritySha256?: Buffer;
  /** Truncated MESSAGE-INTEGRITY-SHA256 length (16–32, a multiple of 4); default 32. */
  integritySha256Length?: number;
  /** Append FINGERPRINT as the last attribute. */
  fingerprint?: boolean;
}

/**
 * Encodes a STUN message. The integrity attributes and FINGERPRINT are computed here, last, in the
 * order RFC 8489 §14.5–§14.7 fixes, with the header length rewritten for each as the RFC requires.
 */
export function encodeMessage(m: Omit<StunMessage, 'raw'>, opts: EncodeOptions = {}): Buffer {
  const shaLength = opts.integritySha256Length ?? 32;
  let total = HEADER_LENGTH;
  for (const a of m.attributes) total += 4 + padded(a.value.length);
  if (opts.integrity) total += 24;
  if (opts.integritySha256) total += 4 + shaLength;
  if (opts.fingerprint) total += 8;
  const out = Buffer.alloc(total);
  out.writeUInt16BE(encodeMessageType(m.method, m.cls), 0);
  out.writeUInt32BE(m.cookie >>> 0, 4);
  m.transactionId.copy(out, 8, 0, 12);
  let offset = HEADER_LENGTH;
  for (const a of m.attributes) {
    out.writeUInt16BE(a.type, offset);
    out.writeUInt16BE(a.value.length, offset + 2);
    a.value.copy(out, offset + 4);
    offset += 4 + a.value.length;
    const pad = padded(a.value.length) - a.value.length;
    if (pad > 0 && a.padding && a.padding.length === pad) a.padding.copy(out, offset);
    offset += pad;
  }
  if (opts.integrity) {
    out.writeUInt16BE(offset + 24 - HEADER_LENGTH, 2);
    out.writeUInt16BE(AttributeType.MessageIntegrity, offset);
    out.writeUInt16BE(20, offset + 2);
    hmacSha1(opts.integrity, out.subarray(0, offset)).copy(out, offset + 4);
    offset += 24;
  }
  if (opts.integritySha256) {
    out.writeUInt16BE(offset + 4 + shaLength - HEADER_LENGTH, 2);
    out.writeUInt16BE(AttributeType.MessageIntegritySha256, offset);
    out.writeUInt16BE(shaLength, offset + 2);
    hmacSha256(opts.integritySha256, out.subarray(0, offset)).copy(out, offset + 4, 0, shaLength);
    offset += 4 + shaLength;
  }
  out.writeUInt16BE(total - HEADER_LENGTH, 2);
  if (opts.fingerprint) {
    out.writeUInt16BE(AttributeType.Fingerprint, offset);
    out.writeUInt16BE(4, offset + 2);
    out.writeUInt32BE(fingerprintOf(out, offset), offset + 4);
  }
  return out;
}
