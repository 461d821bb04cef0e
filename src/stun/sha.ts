/**
 * SHA-1 and SHA-256 (FIPS 180-4 §6.1, §6.2) in TypeScript, for HMAC with precomputed key states
 * (./hmac.ts). A STUN message is one or two 64-byte blocks; node:crypto spends more than that on
 * each call's set-up (an OpenSSL context and a JS object per HMAC). The rounds use 32-bit integer
 * arithmetic only, with no branch or table index that depends on the data, so timing does not
 * reveal the key or message.
 */

/** A Merkle–Damgård hash over 64-byte blocks with a 32-bit big-endian word state. */
export interface BlockHash {
  /** The initial hash value H(0). */
  readonly iv: Int32Array;
  /** Output length in bytes (the state's words, big-endian). */
  readonly digestBytes: number;
  /** Mixes the 64-byte block at `block[offset]` into `state`. */
  compress(state: Int32Array, block: Uint8Array, offset: number): void;
}

const W1 = new Int32Array(80);

/** SHA-1 (FIPS 180-4 §6.1): MESSAGE-INTEGRITY's hash. */
export const SHA1: BlockHash = {
  iv: Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0),
  digestBytes: 20,
  compress(state, b, o) {
    const w = W1;
    for (let i = 0; i < 16; i++, o += 4) w[i] = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = state[0]!, bb = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!;
    for (let i = 0; i < 80; i++) {
      let f: number;
      let k: number;
      if (i < 20) {
        f = (bb & c) | (~bb & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = bb ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (bb & c) | (bb & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = bb ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = t;
    }
    state[0] = (state[0]! + a) | 0;
    state[1] = (state[1]! + bb) | 0;
    state[2] = (state[2]! + c) | 0;
    state[3] = (state[3]! + d) | 0;
    state[4] = (state[4]! + e) | 0;
  },
};

const K256 = Int32Array.from(
  [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
  ].map((k) => k | 0),
);
const W256 = new Int32Array(64);

/** SHA-256 (FIPS 180-4 §6.2): MESSAGE-INTEGRITY-SHA256's hash, and the nonce MAC's. */
export const SHA256: BlockHash = {
  iv: Int32Array.from(
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19].map((v) => v | 0),
  ),
  digestBytes: 32,
  compress(state, b, o) {
    const w = W256;
    for (let i = 0; i < 16; i++, o += 4) w[i] = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = state[0]!, bb = state[1]!, c = state[2]!, d = state[3]!;
    let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K256[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    state[0] = (state[0]! + a) | 0;
    state[1] = (state[1]! + bb) | 0;
    state[2] = (state[2]! + c) | 0;
    state[3] = (state[3]! + d) | 0;
    state[4] = (state[4]! + e) | 0;
    state[5] = (state[5]! + f) | 0;
    state[6] = (state[6]! + g) | 0;
    state[7] = (state[7]! + h) | 0;
  },
};

/** The partial block and the length padding; hashing is synchronous, so one scratch block serves all. */
const pending = new Uint8Array(64);

/**
 * Hashes `parts` on from `state`, which has already absorbed `absorbed` bytes (a multiple of 64),
 * and writes the digest at `out[outOffset]`. `state` is consumed.
 */
export function finishDigest(
  hash: BlockHash,
  state: Int32Array,
  absorbed: number,
  parts: readonly Uint8Array[],
  out: Uint8Array,
  outOffset: number,
): void {
  let fill = 0;
  let total = absorbed;
  for (const part of parts) {
    const n = part.length;
    total += n;
    let i = 0;
    if (fill > 0) {
      while (i < n && fill < 64) pending[fill++] = part[i++]!;
      if (fill === 64) {
        hash.compress(state, pending, 0);
        fill = 0;
      }
    }
    for (; n - i >= 64; i += 64) hash.compress(state, part, i);
    while (i < n) pending[fill++] = part[i++]!;
  }
  pending[fill++] = 0x80;
  if (fill > 56) {
    pending.fill(0, fill, 64);
    hash.compress(state, pending, 0);
    fill = 0;
  }
  pending.fill(0, fill, 56);
  // The length in bits as a 64-bit big-endian number; `total` stays far below 2^53 bytes.
  writeWord(pending, 56, Math.floor(total / 0x20000000));
  writeWord(pending, 60, total << 3);
  hash.compress(state, pending, 0);
  for (let i = 0; i < hash.digestBytes >> 2; i++) writeWord(out, outOffset + 4 * i, state[i]!);
}

function writeWord(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

/** The digest of `parts` (used for HMAC keys longer than a block, RFC 2104 §2). */
export function digest(hash: BlockHash, parts: readonly Uint8Array[]): Buffer {
  const out = Buffer.alloc(hash.digestBytes);
  finishDigest(hash, Int32Array.from(hash.iv), 0, parts, out, 0);
  // What it hashes is a key: leave none of it in the shared scratch block.
  pending.fill(0);
  return out;
}
