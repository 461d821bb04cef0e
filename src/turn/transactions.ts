import { ExpiringMap } from './expiring-map.js';

/** RFC 8489 §6.3.1 / §6.2.1: a client retransmits for up to Rc × RTO ≈ 39.5 s; keep answers that long. */
export const TRANSACTION_WINDOW_MS = 40_000;

/** Upper bound on remembered answers, so a flood of requests cannot grow memory without limit. */
export const MAX_REMEMBERED = 100_000;

/**
 * Remembers the answer to a request for the transaction window, so that a retransmission gets the
 * same answer instead of being processed again (RFC 8656 §6.2: an Allocate retransmit must not see 437).
 * The engine keeps only the answers to requests that are not idempotent.
 */
export class TransactionCache {
  /**
   * Answers as latin1 strings (one byte per byte): a ~100-byte answer then costs ~130 bytes of heap,
   * where a Buffer of its own costs ~400 (the Buffer, its ArrayBuffer and backing store, and the bytes).
   */
  private readonly entries: ExpiringMap<string, string>;

  constructor(private readonly windowMs = TRANSACTION_WINDOW_MS, max = MAX_REMEMBERED) {
    this.entries = new ExpiringMap(max);
  }

  /** The remembered answer for this 5-tuple key and transaction ID, if still inside the window. */
  get(fiveTupleKey: string, transactionId: Buffer, now: number): Buffer | undefined {
    const answer = this.entries.get(key(fiveTupleKey, transactionId), now);
    return answer === undefined ? undefined : Buffer.from(answer, 'latin1');
  }

  /** Remembers an answer. */
  set(fiveTupleKey: string, transactionId: Buffer, response: Buffer, now: number): void {
    this.entries.expire(now);
    this.entries.set(key(fiveTupleKey, transactionId), response.toString('latin1'), now + this.windowMs);
  }

  /** Forgets answers older than the window. */
  expire(now: number): void {
    this.entries.expire(now);
  }

  /** Number of remembered answers. */
  get size(): number {
    return this.entries.size;
  }
}

function key(fiveTupleKey: string, transactionId: Buffer): string {
  // latin1 turns the 12 bytes into 12 characters: a fixed-length tail, so the key splits one way only.
  return fiveTupleKey + transactionId.toString('latin1');
}
