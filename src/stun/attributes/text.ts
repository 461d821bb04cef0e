/** Byte limits of the UTF-8 text attributes (RFC 8489 §14.3, §14.9, §14.10, §14.14; RFC 8016 §3). */
export const TextLimit = {
  Username: 512,
  Realm: 763,
  Nonce: 763,
  Software: 763,
  AlternateDomain: 255,
} as const;

/** Decodes a UTF-8 text attribute; undefined when it exceeds `maxBytes` or is not valid UTF-8. */
export function decodeText(value: Buffer, maxBytes: number): string | undefined {
  if (value.length > maxBytes) return undefined;
  const text = value.toString('utf8');
  // Invalid sequences decode to U+FFFD; a round trip that changes the bytes means the input was bad.
  // Compare the bytes, not the count: a truncated 4-byte sequence (F0 90 80) becomes one U+FFFD,
  // which is 3 bytes too.
  if (text.includes('\uFFFD') && !Buffer.from(text, 'utf8').equals(value)) return undefined;
  return text;
}

/** Encodes a text attribute value, cut to `maxBytes` at a character boundary. */
export function encodeText(text: string, maxBytes: number): Buffer {
  let out = Buffer.from(text, 'utf8');
  if (out.length <= maxBytes) return out;
  let end = maxBytes;
  while (end > 0 && (out[end]! & 0xc0) === 0x80) end--;
  out = out.subarray(0, end);
  return out;
}
