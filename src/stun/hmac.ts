import { createHmac } from 'node:crypto';

/** HMAC-SHA1 as MESSAGE-INTEGRITY uses it (RFC 8489 §14.5). */
export function hmacSha1(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha1', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-SHA256 as MESSAGE-INTEGRITY-SHA256 uses it (RFC 8489 §14.6). */
export function hmacSha256(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}
