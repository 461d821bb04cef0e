/**
 * Independent re-implementations of the RFC 8489 procedures, written from the RFC text and sharing
 * no code with src/stun, so a test can tell "the codec agrees with itself" from "the codec agrees
 * with the RFC". Deliberately naive (bitwise CRC, a plain attribute walk).
 */
import { createHmac } from 'node:crypto';

/** RFC 8489 §5 / §14: where each attribute header starts, or undefined if the walk goes off the end. */
export function attributeOffsets(raw: Buffer): { type: number; offset: number; length: number }[] | undefined {
  const out: { type: number; offset: number; length: number }[] = [];
  let off = 20;
  while (off < raw.length) {
    if (off + 4 > raw.length) return undefined;
    const length = raw.readUInt16BE(off + 2);
    out.push({ type: raw.readUInt16BE(off), offset: off, length });
    off += 4 + Math.ceil(length / 4) * 4;
    if (off > raw.length) return undefined;
  }
  return out;
}

/**
 * RFC 8489 §14.5 / §14.6: HMAC over the text preceding the integrity attribute, with the header
 * length adjusted to point to the end of that attribute ("the length ... MUST be adjusted to point
 * to the end of the MESSAGE-INTEGRITY attribute").
 */
export function referenceIntegrity(
  raw: Buffer,
  attrOffset: number,
  attrValueLength: number,
  hash: 'sha1' | 'sha256',
  key: Buffer,
): Buffer {
  const text = Buffer.from(raw.subarray(0, attrOffset));
  text.writeUInt16BE(attrOffset + 4 + Math.ceil(attrValueLength / 4) * 4 - 20, 2);
  return createHmac(hash, key).update(text).digest();
}

/** CRC-32 as in ITU-T V.42 / ISO-HDLC (reflected polynomial 0xEDB88320), one bit at a time. */
export function referenceCrc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** RFC 8489 §14.7: CRC-32 of the message up to FINGERPRINT, XORed with 0x5354554e. */
export function referenceFingerprint(raw: Buffer, fingerprintOffset: number): number {
  return (referenceCrc32(raw.subarray(0, fingerprintOffset)) ^ 0x5354554e) >>> 0;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** "0x0020"-style spelling used by vectors.json for attribute and message types. */
export function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
