import { digest, finishDigest, SHA1, SHA256, type BlockHash } from './sha.js';

/** A key's hash states after its inner and outer padded blocks (RFC 2104): each HMAC then starts there. */
interface KeyPads {
  inner: Int32Array;
  outer: Int32Array;
}

/**
 * Pads per key Buffer, for as long as that Buffer lives: a server checks and signs with the same
 * cached long-term key for every request of a user, so the two key blocks are hashed once. A key
 * Buffer is therefore never changed in place once used (none is: keys are derived into new ones).
 */
const padsByHash = new Map<BlockHash, WeakMap<Buffer, KeyPads>>([
  [SHA1, new WeakMap()],
  [SHA256, new WeakMap()],
]);

function keyPads(hash: BlockHash, key: Buffer): KeyPads {
  const cache = padsByHash.get(hash)!;
  let pads = cache.get(key);
  if (pads === undefined) {
    const k = key.length > 64 ? digest(hash, [key]) : key;
    const block = new Uint8Array(64);
    const padded = (fill: number): Int32Array => {
      block.fill(fill);
      for (let i = 0; i < k.length; i++) block[i]! ^= k[i]!;
      const state = Int32Array.from(hash.iv);
      hash.compress(state, block, 0);
      return state;
    };
    pads = { inner: padded(0x36), outer: padded(0x5c) };
    block.fill(0);
    cache.set(key, pads);
  }
  return pads;
}

const state = new Int32Array(8);
const innerDigest = new Uint8Array(32);
const innerParts = new Map<BlockHash, Uint8Array[]>([
  [SHA1, [innerDigest.subarray(0, SHA1.digestBytes)]],
  [SHA256, [innerDigest.subarray(0, SHA256.digestBytes)]],
]);

function hmac(hash: BlockHash, key: Buffer, parts: readonly Uint8Array[]): Buffer {
  const pads = keyPads(hash, key);
  const out = Buffer.allocUnsafe(hash.digestBytes);
  state.set(pads.inner);
  finishDigest(hash, state, 64, parts, innerDigest, 0);
  state.set(pads.outer);
  finishDigest(hash, state, 64, innerParts.get(hash)!, out, 0);
  return out;
}

/** HMAC-SHA1 as MESSAGE-INTEGRITY uses it (RFC 8489 §14.5), over the parts in order. */
export function hmacSha1(key: Buffer, ...parts: Uint8Array[]): Buffer {
  return hmac(SHA1, key, parts);
}

/** HMAC-SHA256 as MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6) and the nonce MAC use it. */
export function hmacSha256(key: Buffer, ...parts: Uint8Array[]): Buffer {
  return hmac(SHA256, key, parts);
}
