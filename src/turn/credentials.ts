/**
 * The TURN user store: static users (name → password) and ephemeral "TURN REST API" users derived
 * from shared secrets (draft-uberti-behave-turn-rest-00, coturn `--use-auth-secret`). Pure: the
 * time of a check comes in as `nowMs`. Passwords, secrets and keys live in private fields only, so
 * logging or serialising a store shows counts, never a credential (DESIGN.md "Secrets").
 */
import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigError } from '../errors.js';
import { PasswordAlgorithm } from '../stun/constants.js';
import { TextLimit } from '../stun/attributes/text.js';
import { longTermKey as deriveLongTermKey, userhash } from '../stun/integrity.js';

/** An ephemeral credential as the REST API hands it out (`ttl` in seconds, as the draft's JSON has it). */
export interface RestCredential {
  username: string;
  password: string;
  ttl: number;
}

/** The parts of a REST username: `<expiry unix seconds>[:<user id>]`. */
export interface RestUsername {
  /** Expiry in Unix seconds. */
  expiry: number;
  /** The user id after the first ':'; undefined for a bare `<expiry>` (coturn accepts those). */
  userId: string | undefined;
}

/** Why no key exists for a username; the label values `unknown-user` and `expired-user` of auth metrics. */
export type KeyLookupFailure = 'unknown-user' | 'expired-user';

/**
 * Candidate long-term keys for a user. A REST user has one per configured secret, because the
 * username alone does not say which secret minted it (coturn also tries each secret in turn).
 */
export type KeyLookup = { ok: true; keys: readonly Buffer[] } | { ok: false; reason: KeyLookupFailure };

/** What a store is built from; a new store replaces the old one on reload (stores are immutable). */
export interface CredentialStoreOptions {
  /** Static long-term users, name → password. */
  users?: Readonly<Record<string, string>> | ReadonlyMap<string, string>;
  /** REST API shared secrets: the first mints, all are accepted (rotation). */
  secrets?: readonly string[];
  /** How many derived keys to keep; default 10 000. 0 disables the cache. */
  keyCacheSize?: number;
}

// Up to 12 digits covers any expiry until the year 33658 and keeps the number exact in a double.
const REST_EXPIRY = /^[0-9]{1,12}$/;
const DEFAULT_KEY_CACHE_SIZE = 10_000;
// Realms for which USERHASH tables are kept. The auth path only asks for the configured realm
// (wrong realms are refused first), so this only bounds memory against other callers.
const MAX_USERHASH_REALMS = 8;

/**
 * Parses a REST username `<expiry>:<user id>` or a bare `<expiry>`; undefined when it is not one.
 * The user id is everything after the first ':' (it may contain ':'), as coturn splits it.
 */
export function parseRestUsername(username: string): RestUsername | undefined {
  const colon = username.indexOf(':');
  const expiryText = colon < 0 ? username : username.slice(0, colon);
  if (!REST_EXPIRY.test(expiryText)) return undefined;
  return { expiry: Number(expiryText), userId: colon < 0 ? undefined : username.slice(colon + 1) };
}

/**
 * The account a username counts under for quotas and failure limits: a REST username's user id
 * (each credential minted for one user carries another expiry, and must not buy another quota or
 * another budget of guesses), else the username itself.
 */
export function accountOf(username: string): string {
  return parseRestUsername(username)?.userId ?? username;
}

/** The REST API password for a username: base64(HMAC-SHA1(secret, username)), as coturn computes it. */
export function restPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username, 'utf8').digest('base64');
}

/**
 * Mints an ephemeral credential valid for `ttlSeconds` from `nowMs` (draft-uberti-behave-turn-rest-00
 * §2.2). An empty `userId` gives a bare `<expiry>` username. Throws ConfigError for a TTL that is not
 * a positive whole number of seconds or a username over the 512-byte USERNAME limit.
 */
export function mintRestCredential(secret: string, userId: string, ttlSeconds: number, nowMs: number): RestCredential {
  if (secret.length === 0) throw new ConfigError('REST API secret must not be empty');
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new ConfigError(`credential TTL must be a positive whole number of seconds, got ${ttlSeconds}`);
  }
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = userId === '' ? String(expiry) : `${expiry}:${userId}`;
  if (Buffer.byteLength(username, 'utf8') > TextLimit.Username) {
    throw new ConfigError(`REST username would exceed ${TextLimit.Username} bytes; shorten the user id`);
  }
  return { username, password: restPassword(secret, username), ttl: ttlSeconds };
}

/**
 * Long-term credentials for the TURN server (RFC 8489 §9.2, RFC 8656 §9). Keys are derived on demand
 * and kept in a bounded LRU cache: a derivation costs an HMAC plus a hash per request otherwise.
 */
export class CredentialStore {
  readonly #users: ReadonlyMap<string, string>;
  readonly #secrets: readonly string[];
  readonly #cacheSize: number;
  // Map iteration order is insertion order, so re-inserting on a hit makes this an LRU.
  readonly #keyCache = new Map<string, readonly Buffer[]>();
  readonly #userhashTables = new Map<string, Map<string, string>>();

  constructor(options: CredentialStoreOptions = {}) {
    const users = options.users;
    // Copied, so a caller changing its map later cannot change who is allowed in.
    this.#users = new Map(users instanceof Map ? users : Object.entries((users ?? {}) as Record<string, string>));
    const secrets = [...(options.secrets ?? [])];
    if (secrets.some((s) => s.length === 0)) throw new ConfigError('REST API secrets must not be empty');
    this.#secrets = secrets;
    const size = options.keyCacheSize ?? DEFAULT_KEY_CACHE_SIZE;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ConfigError(`keyCacheSize must be a whole number ≥ 0, got ${size}`);
    }
    this.#cacheSize = size;
  }

  /** Number of static users and of REST secrets, for status output (never the values). */
  get counts(): { users: number; secrets: number } {
    return { users: this.#users.size, secrets: this.#secrets.length };
  }

  /**
   * RFC 8489 §9.2.2: the long-term key of `username` in `realm`, or undefined for an unknown or
   * expired user. For a REST user it is the key under the first (minting) secret; authentication
   * uses `longTermKeys`, which also accepts credentials minted with the other secrets.
   */
  longTermKey(username: string, realm: string, algorithm: PasswordAlgorithm, nowMs: number): Buffer | undefined {
    const r = this.longTermKeys(username, realm, algorithm, nowMs);
    return r.ok ? r.keys[0] : undefined;
  }

  /**
   * Every key `username` may be using in `realm`: one for a static user (static names win over
   * REST-shaped ones), one per secret for an unexpired REST user. An expired REST username
   * (expiry < now, in whole seconds) is refused before any key is derived.
   */
  longTermKeys(username: string, realm: string, algorithm: PasswordAlgorithm, nowMs: number): KeyLookup {
    const password = this.#users.get(username);
    let rest: RestUsername | undefined;
    if (password === undefined) {
      rest = this.#secrets.length > 0 ? parseRestUsername(username) : undefined;
      if (!rest) return { ok: false, reason: 'unknown-user' };
      if (rest.expiry * 1000 < nowMs) return { ok: false, reason: 'expired-user' };
    }
    // Length-prefixing the realm keeps ("a:b", "c") and ("a", "b:c") apart.
    const cacheKey = `${algorithm}:${realm.length}:${realm}:${username}`;
    const cached = this.#keyCache.get(cacheKey);
    if (cached) {
      this.#keyCache.delete(cacheKey);
      this.#keyCache.set(cacheKey, cached);
      return { ok: true, keys: cached };
    }
    const keys =
      password !== undefined
        ? [deriveLongTermKey(username, realm, password, algorithm)]
        : this.#secrets.map((s) => deriveLongTermKey(username, realm, restPassword(s, username), algorithm));
    if (this.#cacheSize > 0) {
      if (this.#keyCache.size >= this.#cacheSize) {
        const oldest = this.#keyCache.keys().next();
        if (!oldest.done) this.#keyCache.delete(oldest.value);
      }
      this.#keyCache.set(cacheKey, keys);
    }
    return { ok: true, keys };
  }

  /**
   * RFC 8489 §14.4: the static user whose USERHASH (SHA-256(username ":" realm)) is `hash`. REST
   * users cannot be found: their names are not known in advance, so there is nothing to hash.
   */
  findByUserhash(hash: Buffer, realm: string): string | undefined {
    if (hash.length !== 32) return undefined;
    let table = this.#userhashTables.get(realm);
    if (!table) {
      table = new Map();
      for (const name of this.#users.keys()) table.set(userhash(name, realm).toString('hex'), name);
      if (this.#userhashTables.size >= MAX_USERHASH_REALMS) this.#userhashTables.clear();
      this.#userhashTables.set(realm, table);
    }
    return table.get(hash.toString('hex'));
  }

  /** Keeps credentials out of logs: JSON shows only the counts. */
  toJSON(): { users: number; secrets: number } {
    return this.counts;
  }

  /** Keeps credentials out of console.log / util.inspect output. */
  [inspect.custom](): string {
    return `CredentialStore { users: ${this.#users.size}, secrets: ${this.#secrets.length} }`;
  }
}
