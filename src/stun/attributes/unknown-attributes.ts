/** RFC 8489 §14.9: decodes UNKNOWN-ATTRIBUTES (a list of 16-bit types); undefined when malformed. */
export function decodeUnknownAttributes(value: Buffer): number[] | undefined {
  if (value.length % 2 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < value.length; i += 2) out.push(value.readUInt16BE(i));
  return out;
}

/** Encodes UNKNOWN-ATTRIBUTES. */
export function encodeUnknownAttributes(types: readonly number[]): Buffer {
  const out = Buffer.alloc(types.length * 2);
  types.forEach((t, i) => out.writeUInt16BE(t, i * 2));
  return out;
}
