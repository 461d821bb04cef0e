/**
 * Structure-aware mutation of STUN/TURN messages and ChannelData frames for fuzzing: bit flips,
 * length-field lies, attribute duplication, reordering and removal, truncation, giant and zero
 * lengths, padding tricks, splices of two messages and plain random bytes. Deterministic for a seed,
 * so a failing input can be replayed. It knows the wire format on its own (a TLV walk), so that a
 * bug in src/stun cannot hide from it.
 */
import { readFileSync } from 'node:fs';
import { bytes, vectors } from '../vectors/index.js';

/** A small fast PRNG (xorshift32): reproducible runs, and no crypto cost per input. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }

  /** A 32-bit unsigned integer. */
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** One attribute as it sits in a message: its TLV bytes with padding. */
interface Tlv {
  type: number;
  /** The whole TLV: 4 header bytes, value, padding. */
  raw: Buffer;
}

/** Splits a STUN body into TLVs as far as they are well formed; the rest is returned as a tail. */
function splitTlvs(msg: Buffer): { tlvs: Tlv[]; tail: Buffer } {
  const tlvs: Tlv[] = [];
  let off = 20;
  while (off + 4 <= msg.length) {
    const len = msg.readUInt16BE(off + 2);
    const end = off + 4 + ((len + 3) & ~3);
    if (end > msg.length) break;
    tlvs.push({ type: msg.readUInt16BE(off), raw: msg.subarray(off, end) });
    off = end;
  }
  return { tlvs, tail: msg.subarray(off) };
}

/** A message rebuilt from a header and TLVs, with its length field telling the truth. */
function rebuild(header: Buffer, parts: Buffer[]): Buffer {
  const out = Buffer.concat([header.subarray(0, 20), ...parts]);
  if (out.length >= 20) out.writeUInt16BE(Math.min(0xffff, out.length - 20), 2);
  return out;
}

/** Attribute types worth aiming at: every one the server reads, plus unknown required/optional ones. */
const INTERESTING_TYPES = [
  0x0001, 0x0003, 0x0006, 0x0008, 0x0009, 0x000a, 0x000c, 0x000d, 0x0012, 0x0013, 0x0014, 0x0015, 0x0016,
  0x0017, 0x0018, 0x0019, 0x001a, 0x001c, 0x001d, 0x001e, 0x0020, 0x0022, 0x0024, 0x0025, 0x0026, 0x0027,
  0x002a, 0x8000, 0x8002, 0x8003, 0x8022, 0x8023, 0x8027, 0x8028, 0x8029, 0x802a, 0x802b, 0x802c, 0xc7e0,
  0x0030, 0x7fff, 0xffff,
];
const INTERESTING_U16 = [0, 1, 3, 4, 5, 8, 19, 20, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xfffc, 0xffff];
const INTERESTING_U8 = [0, 1, 0x7f, 0x80, 0xfe, 0xff];

/** The kinds of mutation; a fuzz run reports how many inputs each produced. */
export const MUTATIONS = [
  'bit-flip',
  'byte-set',
  'length-lie',
  'attr-length-lie',
  'attr-duplicate',
  'attr-reorder',
  'attr-drop',
  'attr-type',
  'attr-insert',
  'truncate',
  'extend',
  'giant-length',
  'zero-length',
  'padding-trick',
  'splice',
  'header-type',
  'random',
] as const;
/** One kind of mutation. */
export type Mutation = (typeof MUTATIONS)[number];

/** Applies one mutation of kind `kind` to `input` (never modified), within `maxSize` bytes. */
export function mutateOnce(rng: Rng, input: Buffer, kind: Mutation, seeds: readonly Buffer[], maxSize: number): Buffer {
  const b = Buffer.from(input);
  switch (kind) {
    case 'bit-flip': {
      if (b.length === 0) return rng.bytes(1 + rng.int(20));
      for (let n = 1 + rng.int(8); n > 0; n--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    }
    case 'byte-set': {
      if (b.length === 0) return b;
      b[rng.int(b.length)] = rng.pick(INTERESTING_U8);
      return b;
    }
    case 'length-lie': {
      if (b.length < 4) return b;
      const real = b.length - (b[0]! >> 6 === 1 ? 4 : 20);
      b.writeUInt16BE(Math.max(0, Math.min(0xffff, rng.pick([real + 1, real - 1, real + 4, real - 4, real * 2, rng.int(0x10000)]))), 2);
      return b;
    }
    case 'attr-length-lie': {
      const { tlvs } = splitTlvs(b);
      if (tlvs.length === 0) return b;
      const t = rng.pick(tlvs);
      const off = t.raw.byteOffset - b.byteOffset;
      const len = t.raw.readUInt16BE(2);
      const remaining = b.length - off - 4;
      b.writeUInt16BE(Math.max(0, Math.min(0xffff, rng.pick([len + 1, len - 1, len + 4, remaining, remaining + 1, 0, 0xffff, rng.int(0x10000)]))), off + 2);
      return b;
    }
    case 'attr-duplicate': {
      const { tlvs, tail } = splitTlvs(b);
      if (tlvs.length === 0) return b;
      const parts = tlvs.map((t) => t.raw);
      const copy = rng.pick(tlvs).raw;
      for (let n = 1 + rng.int(rng.int(4) === 0 ? 50 : 3); n > 0; n--) parts.splice(rng.int(parts.length + 1), 0, copy);
      return cap(rebuild(b, [...parts, tail]), maxSize);
    }
    case 'attr-reorder': {
      const { tlvs, tail } = splitTlvs(b);
      const parts = tlvs.map((t) => t.raw);
      for (let i = parts.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [parts[i], parts[j]] = [parts[j]!, parts[i]!];
      }
      return rebuild(b, [...parts, tail]);
    }
    case 'attr-drop': {
      const { tlvs, tail } = splitTlvs(b);
      if (tlvs.length === 0) return b;
      const parts = tlvs.map((t) => t.raw);
      parts.splice(rng.int(parts.length), 1);
      return rebuild(b, [...parts, tail]);
    }
    case 'attr-type': {
      const { tlvs } = splitTlvs(b);
      if (tlvs.length === 0) return b;
      const off = rng.pick(tlvs).raw.byteOffset - b.byteOffset;
      b.writeUInt16BE(rng.int(3) === 0 ? rng.int(0x10000) : rng.pick(INTERESTING_TYPES), off);
      return b;
    }
    case 'attr-insert': {
      const { tlvs, tail } = splitTlvs(b);
      const parts = tlvs.map((t) => t.raw);
      const len = rng.pick([0, 1, 2, 3, 4, 8, 12, 16, 20, 32, rng.int(600)]);
      const tlv = Buffer.alloc(4 + ((len + 3) & ~3));
      tlv.writeUInt16BE(rng.pick(INTERESTING_TYPES), 0);
      tlv.writeUInt16BE(len, 2);
      rng.bytes(len).copy(tlv, 4);
      parts.splice(rng.int(parts.length + 1), 0, tlv);
      return cap(rebuild(b, [...parts, tail]), maxSize);
    }
    case 'truncate':
      return b.subarray(0, rng.int(b.length + 1));
    case 'extend':
      return cap(Buffer.concat([b, rng.int(2) === 0 ? Buffer.alloc(rng.int(64)) : rng.bytes(rng.int(64))]), maxSize);
    case 'giant-length': {
      if (b.length < 4) return b;
      b.writeUInt16BE(rng.pick([0xffff, 0xfffc, 0xfff0, 0x8000]), 2);
      // Sometimes really send that much (up to the transport's limit), sometimes only claim it.
      return rng.int(3) === 0 ? cap(Buffer.concat([b, Buffer.alloc(Math.min(maxSize, 0xffff))]), maxSize) : b;
    }
    case 'zero-length': {
      if (b.length < 4) return b;
      b.writeUInt16BE(0, 2);
      return rng.int(2) === 0 ? b.subarray(0, b[0]! >> 6 === 1 ? 4 : 20) : b;
    }
    case 'padding-trick': {
      const { tlvs, tail } = splitTlvs(b);
      if (tlvs.length === 0) return b;
      const t = rng.pick(tlvs);
      const len = t.raw.readUInt16BE(2);
      const parts = tlvs.map((x) => x.raw);
      const i = tlvs.indexOf(t);
      const variant = rng.int(4);
      if (variant === 0) {
        // Non-zero padding bytes.
        const p = Buffer.from(t.raw);
        for (let k = 4 + len; k < p.length; k++) p[k] = 0xff;
        parts[i] = p;
      } else if (variant === 1) {
        // Length not a multiple of 4 and no padding at all (RFC 3489 style), shifting everything after.
        parts[i] = t.raw.subarray(0, 4 + len);
      } else if (variant === 2) {
        // A value that claims to end inside the next attribute's header.
        const p = Buffer.from(t.raw);
        p.writeUInt16BE(Math.min(0xffff, len + 1 + rng.int(3)), 2);
        parts[i] = p;
      } else {
        // An attribute nested in another's padding: a TLV hidden in a value.
        const inner = Buffer.alloc(8);
        inner.writeUInt16BE(rng.pick(INTERESTING_TYPES), 0);
        inner.writeUInt16BE(4, 2);
        const outer = Buffer.alloc(4 + 8);
        outer.writeUInt16BE(t.type, 0);
        outer.writeUInt16BE(1 + rng.int(8), 2);
        inner.copy(outer, 4);
        parts[i] = outer;
      }
      return cap(rebuild(b, [...parts, tail]), maxSize);
    }
    case 'splice': {
      const other = rng.pick(seeds);
      const at = rng.int(b.length + 1);
      return cap(Buffer.concat([b.subarray(0, at), other.subarray(rng.int(other.length + 1))]), maxSize);
    }
    case 'header-type': {
      if (b.length < 2) return b;
      // Any method and class, or a ChannelData channel number, or a first byte of neither kind.
      b.writeUInt16BE(rng.pick([rng.int(0x4000), 0x4000 | rng.int(0x4000), rng.int(0x10000), rng.pick(INTERESTING_U16)]), 0);
      return b;
    }
    case 'random': {
      const r = rng.bytes(rng.pick([0, 1, 3, 4, 19, 20, 21, 24, 28, 36, 64, 200, rng.int(maxSize + 1)]));
      if (r.length > 0 && rng.int(2) === 0) r[0] = r[0]! & 0x7f; // STUN or ChannelData, so it gets past the first byte
      if (r.length >= 8 && rng.int(2) === 0) r.writeUInt32BE(0x2112a442, 4);
      if (r.length >= 4 && rng.int(2) === 0) r.writeUInt16BE(Math.max(0, r.length - (r[0]! >> 6 === 1 ? 4 : 20)), 2);
      return r;
    }
  }
}

function cap(b: Buffer, maxSize: number): Buffer {
  return b.length > maxSize ? b.subarray(0, maxSize) : b;
}

/** One fuzz input: 1 to 4 stacked mutations of a seed, and which they were. */
export function mutate(rng: Rng, seeds: readonly Buffer[], maxSize: number): { data: Buffer; kinds: Mutation[] } {
  let data = rng.pick(seeds);
  const kinds: Mutation[] = [];
  for (let n = 1 + rng.int(rng.int(4) === 0 ? 4 : 2); n > 0; n--) {
    const kind = rng.pick(MUTATIONS);
    kinds.push(kind);
    data = mutateOnce(rng, data, kind, seeds, maxSize);
  }
  return { data, kinds };
}

/** The file of messages captured from real clients (see its `note`). */
export const CAPTURED_PATH = new URL('../../../test/fuzz/fixtures/captured.json', import.meta.url);

/** Every STUN and ChannelData vector, and every message captured from a real client. */
export function corpusSeeds(): Buffer[] {
  const fromVectors = vectors.filter((v) => v.kind === 'stun' || v.kind === 'channeldata').map(bytes);
  const captured = (JSON.parse(readFileSync(CAPTURED_PATH, 'utf8')) as { messages: Array<{ hex: string }> }).messages.map((m) =>
    Buffer.from(m.hex, 'hex'),
  );
  return [...fromVectors, ...captured];
}
