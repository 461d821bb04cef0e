/**
 * Stateless, expiring, client-bound NONCE values (RFC 8489 §9.2, with the "nonce cookie" of §9.2.1).
 * A nonce carries its own expiry and an HMAC over it, so the server keeps no per-client table and
 * any process holding the same key can check it. Pure: time comes in as `nowMs`.
 */
import { randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigError } from '../errors.js';
import { hmacSha256 } from '../stun/hmac.js';
import { ExpiringMap } from './expiring-map.js';

/** RFC 8489 §9.2.1: the prefix that marks a nonce as carrying STUN Security Features. */
export const NONCE_COOKIE = 'obMatJos2';

/**
 * RFC 8489 §18.1 STUN Security Features as masks of the 24-bit set. The RFC numbers the bits from
 * the most significant end (bit 0 = leftmost), so bit n is 1 << (23 - n).
 */
export const SecurityFeature = {
  /** Bit 0: the server sent PASSWORD-ALGORITHMS and expects it back (§9.2.4). */
  PasswordAlgorithms: 1 << 23,
  /** Bit 1: clients must send USERHASH instead of USERNAME (§9.2.5). */
  UsernameAnonymity: 1 << 22,
} as const;

/** The result of checking a nonce: authentic and current, authentic but expired, or not ours. */
export type NonceCheck = 'valid' | 'stale' | 'invalid';

/** How a NonceIssuer is set up. */
export interface NonceIssuerOptions {
  /**
   * HMAC key, at least 16 bytes. Default: 32 random bytes per process, so a restart turns every
   * outstanding nonce into 438 (clients retry). Processes sharing a port must share a key.
   */
  key?: Buffer;
  /** How long a nonce stays valid, in ms; default 600 000 (10 minutes). */
  lifetimeMs?: number;
  /**
   * Set the "Username anonymity" bit (default true). RFC 8489 §9.2.5 then obliges clients to send
   * USERHASH, which only finds static users: turn it off when REST (ephemeral) users are in use.
   */
  usernameAnonymity?: boolean;
}

const COOKIE_FEATURES_LENGTH = NONCE_COOKIE.length + 4; // 24 bits of features = 4 base64 characters
const EXPIRY_BYTES = 6; // ms since the epoch; 48 bits last until the year 10889
const SALT_BYTES = 4;
const MAC_BYTES = 16; // 128 bits of HMAC-SHA256 are plenty against forgery within a nonce lifetime
const TOKEN_BYTES = EXPIRY_BYTES + SALT_BYTES + MAC_BYTES;
const TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 4) / 3); // unpadded base64url
/** Length of every nonce this module mints (48 characters, well under RFC 8489's 128-character limit). */
export const NONCE_LENGTH = COOKIE_FEATURES_LENGTH + TOKEN_CHARS;
const BASE64_CHARS = /^[A-Za-z0-9+/]{4}$/;
/** How many authentic nonces a NonceIssuer remembers, so that a client's next request skips the MAC. */
const REMEMBERED_NONCES = 10_000;
/**
 * Salts come from a pooled CSPRNG draw: a randomBytes or randomFillSync call costs 4-6 µs however
 * few bytes it returns, and every 401 mints a nonce.
 */
const saltPool = Buffer.alloc(4096);
let saltOffset = saltPool.length;

function drawSalt(into: Buffer, offset: number): void {
  if (saltOffset + SALT_BYTES > saltPool.length) {
    randomFillSync(saltPool);
    saltOffset = 0;
  }
  saltPool.copy(into, offset, saltOffset, saltOffset + SALT_BYTES);
  saltOffset += SALT_BYTES;
}
const TOKEN_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${TOKEN_CHARS}}$`);

/**
 * The 24-bit STUN Security Features set of a nonce that starts with the nonce cookie (RFC 8489
 * §9.2.1), or undefined when it does not. Works on any nonce, ours or not: it authenticates nothing.
 */
export function nonceCookieFeatures(nonce: string): number | undefined {
  if (!nonce.startsWith(NONCE_COOKIE) || nonce.length < COOKIE_FEATURES_LENGTH) return undefined;
  const chars = nonce.slice(NONCE_COOKIE.length, COOKIE_FEATURES_LENGTH);
  if (!BASE64_CHARS.test(chars)) return undefined;
  return Buffer.from(chars, 'base64').readUIntBE(0, 3);
}

/** The cookie and feature characters for a feature set (base64 of the 3 bytes, most significant first). */
function cookiePrefix(features: number): string {
  const bytes = Buffer.alloc(3);
  bytes.writeUIntBE(features, 0, 3);
  return NONCE_COOKIE + bytes.toString('base64');
}

/**
 * Mints and checks nonces of the form cookie + features + base64url(expiry ‖ salt ‖ MAC), where
 * MAC = HMAC-SHA256(key, cookie+features ‖ expiry ‖ salt ‖ client IP) cut to 16 bytes. The MAC covers
 * the feature bits, so a man in the middle who clears "Password algorithms" to force MD5 (the
 * bid-down attack of RFC 8489 §9.2.1) turns the nonce invalid. The random salt makes nonces for two
 * ports behind one IP differ, as §9.2.4 requires, without keeping state.
 */
export class NonceIssuer {
  /** How long a minted nonce is valid, in ms. */
  readonly lifetimeMs: number;
  readonly #key: Buffer;
  readonly #prefix: string;
  readonly #prefixBytes: Buffer;
  /**
   * Nonces known to be authentic (minted here, or checked), with the client IP they are bound to
   * until their expiry: a client sends the same nonce with each request, and one HMAC each is enough.
   * A flood of 401s only evicts the oldest, which then cost their next request a MAC.
   */
  readonly #authentic = new ExpiringMap<string, string>(REMEMBERED_NONCES);

  constructor(options: NonceIssuerOptions = {}) {
    const key = options.key ?? randomBytes(32);
    if (key.length < 16) throw new ConfigError(`nonce key must be at least 16 bytes, got ${key.length}`);
    const lifetime = options.lifetimeMs ?? 600_000;
    if (!Number.isSafeInteger(lifetime) || lifetime <= 0) {
      throw new ConfigError(`nonce lifetime must be a positive whole number of ms, got ${lifetime}`);
    }
    // Copied so the caller cannot change the key under us.
    this.#key = Buffer.from(key);
    this.lifetimeMs = lifetime;
    let features = SecurityFeature.PasswordAlgorithms;
    if (options.usernameAnonymity ?? true) features |= SecurityFeature.UsernameAnonymity;
    this.#prefix = cookiePrefix(features);
    this.#prefixBytes = Buffer.from(this.#prefix, 'latin1');
  }

  /** A fresh nonce for `clientIp` (the source IP, without port), valid until nowMs + lifetimeMs. */
  mint(nowMs: number, clientIp: string): string {
    const expiry = Math.floor(nowMs) + this.lifetimeMs;
    if (!(nowMs >= 0) || expiry >= 2 ** (8 * EXPIRY_BYTES)) throw new RangeError(`nowMs out of range: ${nowMs}`);
    const token = Buffer.alloc(TOKEN_BYTES);
    token.writeUIntBE(expiry, 0, EXPIRY_BYTES);
    drawSalt(token, EXPIRY_BYTES);
    this.#mac(this.#prefixBytes, token, clientIp).copy(token, EXPIRY_BYTES + SALT_BYTES, 0, MAC_BYTES);
    const nonce = this.#prefix + token.toString('base64url');
    this.#authentic.set(nonce, clientIp, expiry);
    return nonce;
  }

  /**
   * Checks a nonce received from `clientIp`: 'invalid' unless it is byte-for-byte one this key minted
   * for that IP; then 'stale' once nowMs reaches its expiry, else 'valid'. The MAC is compared in
   * constant time, and checked before the expiry so a forged nonce never reads as merely stale.
   */
  check(nonce: string, nowMs: number, clientIp: string): NonceCheck {
    if (nonce.length !== NONCE_LENGTH || !nonce.startsWith(NONCE_COOKIE)) return 'invalid';
    if (this.#authentic.get(nonce, nowMs) === clientIp) return 'valid';
    const prefix = Buffer.from(nonce.slice(0, COOKIE_FEATURES_LENGTH), 'latin1');
    const tokenText = nonce.slice(COOKIE_FEATURES_LENGTH);
    if (!TOKEN_PATTERN.test(tokenText)) return 'invalid';
    const token = Buffer.from(tokenText, 'base64url');
    // Reject non-canonical spellings (stray low bits in the last character) of a valid token.
    if (token.length !== TOKEN_BYTES || token.toString('base64url') !== tokenText) return 'invalid';
    const expected = this.#mac(prefix, token, clientIp).subarray(0, MAC_BYTES);
    if (!timingSafeEqual(expected, token.subarray(EXPIRY_BYTES + SALT_BYTES))) return 'invalid';
    const expiry = token.readUIntBE(0, EXPIRY_BYTES);
    if (nowMs >= expiry) return 'stale';
    this.#authentic.set(nonce, clientIp, expiry);
    return 'valid';
  }

  /** Forgets remembered nonces that have expired by `nowMs` (the engine's sweep calls this). */
  forgetExpired(nowMs: number): void {
    this.#authentic.expire(nowMs);
  }

  #mac(prefix: Buffer, token: Buffer, clientIp: string): Buffer {
    // The client IP is the only variable-length field and comes last, so the input is unambiguous.
    return hmacSha256(this.#key, prefix, token.subarray(0, EXPIRY_BYTES + SALT_BYTES), Buffer.from(clientIp, 'utf8'));
  }

  /** Keeps the key out of console.log / util.inspect output. */
  [inspect.custom](): string {
    return `NonceIssuer { lifetimeMs: ${this.lifetimeMs} }`;
  }
}
