/** IP address text <-> bytes, without the OS (the codec must stay pure and give exact bytes). */

/** An IP address family as the STUN address attributes name it. */
export type IpFamily = 'IPv4' | 'IPv6';

/** A transport address: IP, port and family (RFC 8489 §3 "transport address"). */
export interface TransportAddress {
  family: IpFamily;
  address: string;
  port: number;
}

/**
 * Parses dotted-quad IPv4 text into 4 bytes, or undefined when it is not one (no leading zeros, no
 * part over 255). A character loop, not split and a regular expression: it runs for every address
 * a response or a Data indication carries.
 */
export function parseIPv4(text: string): Buffer | undefined {
  const n = text.length;
  if (n < 7 || n > 15) return undefined;
  const out = Buffer.allocUnsafe(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return undefined;
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

/** Parses IPv6 text (with `::` compression, an optional embedded IPv4 tail, no zone) into 16 bytes. */
export function parseIPv6(text: string): Buffer | undefined {
  if (text.length === 0 || text.length > 45 || text.includes('%')) return undefined;
  let head = text;
  let v4: Buffer | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    v4 = parseIPv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...left, ...new Array<number>(missing).fill(0), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  if (v4) v4.copy(out, 12);
  return out;
}

/** Parses IPv4 or IPv6 text into its family and bytes. */
export function parseIp(text: string): { family: IpFamily; bytes: Buffer } | undefined {
  const v4 = parseIPv4(text);
  if (v4) return { family: 'IPv4', bytes: v4 };
  const v6 = parseIPv6(text);
  if (v6) return { family: 'IPv6', bytes: v6 };
  return undefined;
}

/** Whether 16 address bytes are an IPv4-mapped IPv6 address (::ffff:0:0/96, RFC 4291 §2.5.5.2). */
export function isIPv4Mapped(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Formats 4 or 16 address bytes as text (RFC 5952 canonical form for IPv6). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  // RFC 5952 §5: IPv4-mapped addresses in mixed notation, as Node reports them.
  if (isIPv4Mapped(bytes)) {
    return `::ffff:${formatIp(bytes.subarray(12))}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952 §4.2: compress the longest run (first on ties) of two or more zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
