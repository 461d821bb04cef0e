/** RFC 8489 §6.3.1 / §6.2.1: a client retransmits for up to Rc × RTO ≈ 39.5 s; keep answers that long. */
export const TRANSACTION_WINDOW_MS = 40_000;

/** Upper bound on remembered answers, so a flood of requests cannot grow memory without limit. */
export const MAX_REMEMBERED = 100_000;

/**
 * Remembers the answer to each request for the transaction window, so that a retransmission gets the
 * same answer instead of being processed again (RFC 8656 §6.2: an Allocate retransmit must not see 437).
 * Entries are kept in insertion order, which is also expiry order, so expiring is a walk from the front.
 */
export class TransactionCache {
  private readonly entries = new Map<string, { response: Buffer; expiresAt: number }>();

  constructor(private readonly windowMs = TRANSACTION_WINDOW_MS, private readonly max = MAX_REMEMBERED) {}

  /** The remembered answer for this 5-tuple key and transaction ID, if still inside the window. */
  get(fiveTupleKey: string, transactionId: Buffer, now: number): Buffer | undefined {
    const e = this.entries.get(key(fiveTupleKey, transactionId));
    return e && e.expiresAt > now ? e.response : undefined;
  }

  /** Remembers an answer. */
  set(fiveTupleKey: string, transactionId: Buffer, response: Buffer, now: number): void {
    this.expire(now);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key(fiveTupleKey, transactionId), { response, expiresAt: now + this.windowMs });
  }

  /** Forgets answers older than the window. */
  expire(now: number): void {
    for (const [k, e] of this.entries) {
      if (e.expiresAt > now) break;
      this.entries.delete(k);
    }
  }

  /** Number of remembered answers. */
  get size(): number {
    return this.entries.size;
  }
}

function key(fiveTupleKey: string, transactionId: Buffer): string {
  return `${fiveTupleKey}|${transactionId.toString('base64')}`;
}
