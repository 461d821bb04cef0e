import { digest, finishDigest, SHA1, SHA256, type BlockHash } from './sha.js';

/** A key's hash states after its inner and outer padded blocks (RFC 2104): each HMAC then starts there. */
interface KeyPads {
  inner: Int32Array;
  outer: Int32Array;
}

/** HMAC (RFC 2104) over one hash, with what it keeps between calls. */
interface Hmac {
  hash: BlockHash;
  /**
   * Pads per key Buffer, for as long as that Buffer lives: a server checks and signs with the same
   * cached long-term key for every request of a user, so the two key blocks are hashed once. A key
   * Buffer is therefore never changed in place once used (none is: keys are derived into new ones).
   */
  pads: WeakMap<Buffer, KeyPads>;
  /** The inner digest's bytes in the shared scratch block, as the outer hash's one part. */
  innerParts: Uint8Array[];
}

const state = new Int32Array(8);
const innerDigest = new Uint8Array(32);

function hmacOf(hash: BlockHash): Hmac {
  return { hash, pads: new WeakMap(), innerParts: [innerDigest.subarray(0, hash.digestBytes)] };
}

const HMAC_SHA1 = hmacOf(SHA1);
const HMAC_SHA256 = hmacOf(SHA256);

function keyPads({ hash, pads: cache }: Hmac, key: Buffer): KeyPads {
  let pads = cache.get(key);
  if (pads === undefined) {
    const k = key.length > 64 ? digest(hash, [key]) : key;
    const block = new Uint8Array(64);
    const padded = (fill: number): Int32Array => {
      block.fill(fill);
      for (let i = 0; i < k.length; i++) block[i]! ^= k[i]!;
      const padState = Int32Array.from(hash.iv);
      hash.compress(padState, block, 0);
      return padState;
    };
    pads = { inner: padded(0x36), outer: padded(0x5c) };
    block.fill(0);
    cache.set(key, pads);
  }
  return pads;
}

function hmac(h: Hmac, key: Buffer, parts: readonly Uint8Array[]): Buffer {
  const pads = keyPads(h, key);
  const out = Buffer.allocUnsafe(h.hash.digestBytes);
  state.set(pads.inner);
  finishDigest(h.hash, state, 64, parts, innerDigest, 0);
  state.set(pads.outer);
  finishDigest(h.hash, state, 64, h.innerParts, out, 0);
  return out;
}

/** HMAC-SHA1 as MESSAGE-INTEGRITY uses it (RFC 8489 §14.5), over the parts in order. */
export function hmacSha1(key: Buffer, ...parts: Uint8Array[]): Buffer {
  return hmac(HMAC_SHA1, key, parts);
}

/** HMAC-SHA256 as MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6) and the nonce MAC use it. */
export function hmacSha256(key: Buffer, ...parts: Uint8Array[]): Buffer {
  return hmac(HMAC_SHA256, key, parts);
}
