import { randomBytes } from 'node:crypto';
import type { TransportAddress } from '../stun/ip.js';

/** RFC 8656 §7.2: a port reserved by EVEN-PORT's R bit is held for about 30 seconds. */
export const RESERVATION_LIFETIME_MS = 30_000;

/** A reserved relay address and when its hold ends. */
interface Reservation {
  address: TransportAddress;
  expiresAt: number;
}

/**
 * RESERVATION-TOKEN bookkeeping (RFC 8656 §14.9): token → reserved relay address. The transport
 * holds the reserved socket; this table decides which token is valid and which holds have ended.
 */
export class ReservationTable {
  private readonly byToken = new Map<string, Reservation>();

  /** Reserves `address`, returning the 8-byte token (random, so it cannot be guessed). */
  reserve(address: TransportAddress, now: number): Buffer {
    const token = randomBytes(8);
    this.byToken.set(token.toString('hex'), { address, expiresAt: now + RESERVATION_LIFETIME_MS });
    return token;
  }

  /** The address a valid, unexpired token reserves, without using the token up. */
  peek(token: Buffer, now: number): TransportAddress | undefined {
    const r = this.byToken.get(token.toString('hex'));
    return r && r.expiresAt > now ? r.address : undefined;
  }

  /** Uses up a token: the reserved address (its socket now belongs to the new allocation), or undefined. */
  take(token: Buffer, now: number): TransportAddress | undefined {
    const key = token.toString('hex');
    const r = this.byToken.get(key);
    // An expired hold stays until expire() hands it to the transport, which closes its socket.
    if (!r || r.expiresAt <= now) return undefined;
    this.byToken.delete(key);
    return r.address;
  }

  /** Removes and returns the reservations whose hold ended, so the transport can close their sockets. */
  expire(now: number): Array<{ token: string; address: TransportAddress }> {
    const out: Array<{ token: string; address: TransportAddress }> = [];
    for (const [token, r] of this.byToken) {
      if (r.expiresAt <= now) {
        this.byToken.delete(token);
        out.push({ token, address: r.address });
      }
    }
    return out;
  }
}
