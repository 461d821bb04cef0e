/**
 * A bounded map whose entries each carry an expiry. Entries are kept in insertion order, which the
 * users keep (nearly) equal to expiry order by giving every entry the same lifetime, so expiring is
 * a walk from the front and making room drops the oldest. Pure: time comes in as `now`.
 */
export class ExpiringMap<K, V> {
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();

  /** `max`: how many entries it holds at most; beyond that each insert drops the oldest. */
  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`ExpiringMap bound must be a positive integer, got ${max}`);
  }

  /** The value for `key`, unless it has expired by `now` (an expired entry reads as absent). */
  get(key: K, now: number): V | undefined {
    const e = this.#entries.get(key);
    return e !== undefined && e.expiresAt > now ? e.value : undefined;
  }

  /** Holds `value` under `key` until `expiresAt`; when full, the oldest entry makes room. */
  set(key: K, value: V, expiresAt: number): void {
    if (this.#entries.size >= this.max && !this.#entries.has(key)) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, expiresAt });
  }

  /** Drops entries that have expired by `now`, from the front up to the first live one. */
  expire(now: number): void {
    for (const [k, e] of this.#entries) {
      if (e.expiresAt > now) break;
      this.#entries.delete(k);
    }
  }

  /** Number of entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.#entries.size;
  }
}
