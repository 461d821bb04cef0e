import { createHash, timingSafeEqual } from 'node:crypto';
import { AttributeType, HEADER_LENGTH, PasswordAlgorithm } from './constants.js';
import { hmacSha1, hmacSha256 } from './hmac.js';
import { getAttribute, type StunAttribute, type StunMessage } from './message.js';
import { opaqueString } from './saslprep.js';

/**
 * The HMAC over a received message up to an integrity attribute, with the header length rewritten
 * to end at that attribute (RFC 8489 §14.5/§14.6). Hashes the bytes as received, padding included.
 */
function integrityOver(raw: Buffer, attr: StunAttribute, hmac: typeof hmacSha1, key: Buffer): Buffer {
  const offset = attr.offset!;
  const header = Buffer.from(raw.subarray(0, HEADER_LENGTH));
  header.writeUInt16BE(offset - HEADER_LENGTH + 4 + ((attr.value.length + 3) & ~3), 2);
  return hmac(key, header, raw.subarray(HEADER_LENGTH, offset));
}

/** RFC 8489 §14.5: true when the message has a MESSAGE-INTEGRITY that verifies under `key`. */
export function verifyMessageIntegrity(m: StunMessage, key: Buffer): boolean {
  const attr = getAttribute(m, AttributeType.MessageIntegrity);
  if (!attr || !m.raw || attr.offset === undefined || attr.value.length !== 20) return false;
  return timingSafeEqual(integrityOver(m.raw, attr, hmacSha1, key), attr.value);
}

/** RFC 8489 §14.6: true when MESSAGE-INTEGRITY-SHA256 (16–32 bytes, truncated HMAC) verifies. */
export function verifyMessageIntegritySha256(m: StunMessage, key: Buffer): boolean {
  const attr = getAttribute(m, AttributeType.MessageIntegritySha256);
  if (!attr || !m.raw || attr.offset === undefined) return false;
  const len = attr.value.length;
  if (len < 16 || len > 32 || len % 4 !== 0) return false;
  return timingSafeEqual(integrityOver(m.raw, attr, hmacSha256, key).subarray(0, len), attr.value);
}

/** RFC 8489 §9.1.1: the short-term key is the OpaqueString-prepared password. */
export function shortTermKey(password: string): Buffer {
  return Buffer.from(opaqueString(password) ?? password, 'utf8');
}

/**
 * RFC 8489 §9.2.2: the long-term key, MD5 or SHA-256 of "username:realm:password". The password is
 * prepared with OpaqueString where that is defined for it; a password that OpaqueString rejects is
 * hashed as given, which is what deployed servers (and RFC 5389's SASLprep for ASCII) do.
 */
export function longTermKey(
  username: string,
  realm: string,
  password: string,
  algorithm: PasswordAlgorithm = PasswordAlgorithm.MD5,
): Buffer {
  const input = `${username}:${opaqueString(realm) ?? realm}:${opaqueString(password) ?? password}`;
  return createHash(algorithm === PasswordAlgorithm.SHA256 ? 'sha256' : 'md5')
    .update(input, 'utf8')
    .digest();
}

/** RFC 8489 §14.4: USERHASH = SHA-256(OpaqueString(username) ":" OpaqueString(realm)). */
export function userhash(username: string, realm: string): Buffer {
  return createHash('sha256')
    .update(`${opaqueString(username) ?? username}:${opaqueString(realm) ?? realm}`, 'utf8')
    .digest();
}
