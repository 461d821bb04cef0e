/**
 * A map for the few entries an allocation's tables usually hold (one permission, one channel): the
 * first entry lives in the object itself and a Map is made only for a second one. An empty or
 * one-entry V8 Map costs ~180–290 bytes of heap; an allocation had three of them.
 *
 * Values are never undefined (undefined marks the empty inline slot). Iteration order is not
 * insertion order once the inline entry has been deleted.
 */
export class SmallMap<K, V> {
  private key: K | undefined = undefined;
  private value: V | undefined = undefined;
  /** Entries beyond the inline one; while it is non-empty, the inline slot is filled. */
  private more: Map<K, V> | undefined = undefined;

  /** Number of entries. */
  get size(): number {
    return (this.value === undefined ? 0 : 1) + (this.more?.size ?? 0);
  }

  /** The value for `key`, if any. */
  get(key: K): V | undefined {
    if (this.key === key && this.value !== undefined) return this.value;
    return this.more?.get(key);
  }

  /** True when `key` has a value. */
  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  /** Sets the value for `key`, replacing what it had. */
  set(key: K, value: V): this {
    if (this.value === undefined || this.key === key) {
      this.key = key;
      this.value = value;
    } else {
      (this.more ??= new Map()).set(key, value);
    }
    return this;
  }

  /** Removes `key`; true when it was there. */
  delete(key: K): boolean {
    if (this.value !== undefined && this.key === key) {
      this.key = undefined;
      this.value = undefined;
      // Keep the invariant: an entry of `more` moves inline, and the Map goes once empty.
      const more = this.more;
      if (more !== undefined) {
        const first = more.entries().next();
        if (!first.done) {
          more.delete(first.value[0]);
          this.key = first.value[0];
          this.value = first.value[1];
        }
        if (more.size === 0) this.more = undefined;
      }
      return true;
    }
    const more = this.more;
    if (more === undefined || !more.delete(key)) return false;
    if (more.size === 0) this.more = undefined;
    return true;
  }

  /** A snapshot of the entries: deleting while iterating it is safe. */
  entries(): Array<[K, V]> {
    const out: Array<[K, V]> = [];
    if (this.value !== undefined) out.push([this.key as K, this.value]);
    if (this.more !== undefined) for (const e of this.more) out.push(e);
    return out;
  }

  /** A snapshot of the keys. */
  keys(): K[] {
    return this.entries().map((e) => e[0]);
  }

  /** A snapshot of the values. */
  values(): V[] {
    return this.entries().map((e) => e[1]);
  }

  /** Iterates a snapshot of the entries, as `for (const [k, v] of map)`. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries()[Symbol.iterator]();
  }
}
