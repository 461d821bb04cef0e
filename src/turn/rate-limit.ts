import { formatIp, isIPv4Mapped, parseIPv6 } from '../stun/ip.js';

/**
 * The key a client address is limited under: an IPv4 address as it is, an IPv6 one by its /64.
 * A subscriber is usually given a whole /64 (RFC 6177), so a per-address budget would hand one
 * client 2^64 fresh budgets. IPv4-mapped IPv6 (dual-stack sockets) counts as its IPv4 address.
 */
export function sourceKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const b = parseIPv6(ip);
  if (!b) return ip;
  if (isIPv4Mapped(b)) return formatIp(b.subarray(12));
  const prefix = Buffer.alloc(16);
  b.copy(prefix, 0, 0, 8);
  return `${formatIp(prefix)}/64`;
}

/** Token-bucket settings: `burst` requests at once, `perSecond` sustained. */
export interface RateLimit {
  burst: number;
  perSecond: number;
}

/** How many sources are tracked at most; the least recently refilled are forgotten first. */
const MAX_SOURCES = 50_000;

/**
 * A per-source token bucket (RFC 8656 §21 and security.md: unauthenticated requests are cheap to
 * send and each costs the server an answer). Pure: time comes in as an argument.
 */
export class SourceLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly limit: RateLimit) {}

  /** True when `source` has no whole token left (without taking one). */
  isEmpty(source: string, now: number): boolean {
    const b = this.buckets.get(source);
    if (!b) return false;
    return Math.min(this.limit.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.limit.perSecond) < 1;
  }

  /** True when `source` has a full bucket (no recent use), i.e. this would be its first take in a while. */
  isFull(source: string, now: number): boolean {
    const b = this.buckets.get(source);
    if (!b) return true;
    return Math.min(this.limit.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.limit.perSecond) >= this.limit.burst;
  }

  /**
   * Forgets the buckets that have refilled by `now`: a full bucket answers exactly as an absent one,
   * and every client IP that came once would otherwise keep one (~100 bytes) up to MAX_SOURCES.
   * Walks from the least recently used and stops at the first used within a full refill, so it
   * costs what it forgets.
   */
  forgetRefilled(now: number): void {
    const refillMs = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [source, b] of this.buckets) {
      if (!(now - b.at >= refillMs)) break;
      this.buckets.delete(source);
    }
  }

  /** How many sources have a bucket. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `source`; false when its bucket is empty. */
  take(source: string, now: number): boolean {
    let b = this.buckets.get(source);
    if (b) {
      // A wall clock stepping back must not drain buckets: elapsed time is never negative.
      b.tokens = Math.min(this.limit.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.limit.perSecond);
      b.at = now;
      // Re-insert so the Map's order stays least-recently-used first.
      this.buckets.delete(source);
    } else {
      b = { tokens: this.limit.burst, at: now };
      if (this.buckets.size >= MAX_SOURCES) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    this.buckets.set(source, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
