import type { StunTransport } from '../stun/server.js';
import type { IpFamily, TransportAddress } from '../stun/ip.js';
import type { ChannelBinding } from './channels.js';
import { accountOf } from './credentials.js';
import { SmallMap } from './small-map.js';

/** RFC 8656 §2: the 5-tuple of a client's allocation, plus which listener it came in on. */
export interface FiveTuple {
  client: TransportAddress;
  server: TransportAddress;
  transport: StunTransport;
  /** The listener (socket or connection) the client talks to; responses leave through it. */
  listenerId: number;
}

/** The table key of a 5-tuple: one listener, one client address. */
export function fiveTupleKey(listenerId: number, clientIp: string, clientPort: number): string {
  return `${listenerId}|${clientIp}|${clientPort}`;
}

/** RFC 8656 §2.2: one allocation — a relayed transport address with its permissions and channels. */
export interface Allocation {
  readonly id: number;
  readonly key: string;
  readonly fiveTuple: FiveTuple;
  /** The username that created it; later requests must use the same (RFC 8656 §6.2, 441). */
  readonly username: string;
  /** The address the relay socket is bound to. */
  readonly relayed: TransportAddress;
  /** What XOR-RELAYED-ADDRESS says (the public address behind 1:1 NAT, else `relayed`). */
  readonly advertised: TransportAddress;
  /**
   * RFC 8656 §7.2 dual allocation: the IPv6 relay next to the IPv4 one. Both share this allocation's
   * lifetime, quota slot and permission table (permissions are per peer IP, so families never mix).
   */
  readonly additional?: { relayed: TransportAddress; advertised: TransportAddress };
  /** RFC 6062: 'tcp' for a TCP allocation (Connect and ConnectionAttempt instead of Send and channels); absent for UDP. */
  readonly relayTransport?: 'tcp';
  expiresAt: number;
  /** When it was created (for the lifetime histogram). */
  readonly createdAt: number;
  /** Peer IP → permission expiry (RFC 8656 §9). */
  readonly permissions: SmallMap<string, number>;
  /** Channel number → binding (client → peer lookups). */
  readonly channelsByNumber: SmallMap<number, ChannelBinding>;
  /**
   * Peer IP → its binding, or port → binding when that IP has bindings on several ports (peer →
   * client lookups without building a string per packet; one IP, one port is the common case, and
   * a Map per allocation for it cost ~190 bytes of heap).
   */
  readonly channelsByPeer: SmallMap<string, ChannelBinding | Map<number, ChannelBinding>>;
}

/** True when the allocation has a relayed address of `family` (a dual allocation has both). */
export function relaysFamily(a: Allocation, family: IpFamily): boolean {
  return a.relayed.family === family || a.additional?.relayed.family === family;
}

/** Limits on how many allocations may exist (RFC 8656 §7.2 step 6: 486 / 508). 0 means no limit. */
export interface AllocationQuotas {
  perUser: number;
  perClientIp: number;
  total: number;
}

/** Which quota a new allocation would break. */
export type QuotaBreach = 'user' | 'client-ip' | 'total';

/** Stale expiry entries tolerated beyond the live allocations before a rebuild (keeps small tables from rebuilding often). */
const HEAP_SLACK = 64;

/**
 * The allocations, indexed by 5-tuple and by id, with per-user and per-IP counts and a min-heap of
 * expiry times so that sweeping touches only what expired (no full scan).
 */
export class AllocationTable {
  private readonly byKey = new Map<string, Allocation>();
  private readonly byId = new Map<number, Allocation>();
  private readonly perUser = new Map<string, number>();
  private readonly perIp = new Map<string, number>();
  private readonly heap: Array<{ at: number; id: number }> = [];
  private nextId = 1;

  /** Number of live allocations. */
  get size(): number {
    return this.byKey.size;
  }

  /** The allocation of a 5-tuple key, if any. */
  get(key: string): Allocation | undefined {
    return this.byKey.get(key);
  }

  /** The allocation with this id, if it still exists. */
  getById(id: number): Allocation | undefined {
    return this.byId.get(id);
  }

  /**
   * Which quota, if any, one more allocation for this user and client IP would exceed, counting
   * `pending` allocations (accepted, relay not yet open) as already there.
   */
  quotaBreach(
    username: string,
    clientIp: string,
    quotas: AllocationQuotas,
    pending: { total: number; user: number; clientIp: number } = { total: 0, user: 0, clientIp: 0 },
  ): QuotaBreach | undefined {
    if (quotas.total > 0 && this.byKey.size + pending.total >= quotas.total) return 'total';
    if (quotas.perUser > 0 && (this.perUser.get(accountOf(username)) ?? 0) + pending.user >= quotas.perUser) return 'user';
    if (quotas.perClientIp > 0 && (this.perIp.get(clientIp) ?? 0) + pending.clientIp >= quotas.perClientIp) return 'client-ip';
    return undefined;
  }

  /** Adds a new allocation and schedules its expiry. */
  create(init: Omit<Allocation, 'id' | 'key' | 'permissions' | 'channelsByNumber' | 'channelsByPeer'>): Allocation {
    const id = this.nextId++;
    const key = fiveTupleKey(init.fiveTuple.listenerId, init.fiveTuple.client.address, init.fiveTuple.client.port);
    // Field by field, not a spread of `init`: V8 copies a spread through its slow path (~10 µs here).
    const allocation: Allocation = {
      id,
      key,
      fiveTuple: init.fiveTuple,
      username: init.username,
      relayed: init.relayed,
      advertised: init.advertised,
      additional: init.additional,
      relayTransport: init.relayTransport,
      expiresAt: init.expiresAt,
      createdAt: init.createdAt,
      permissions: new SmallMap(),
      channelsByNumber: new SmallMap(),
      channelsByPeer: new SmallMap(),
    };
    this.byKey.set(key, allocation);
    this.byId.set(id, allocation);
    bump(this.perUser, accountOf(allocation.username), 1);
    bump(this.perIp, allocation.fiveTuple.client.address, 1);
    this.schedule(allocation);
    return allocation;
  }

  /** Sets a new expiry (RFC 8656 §7.4 Refresh). */
  refresh(allocation: Allocation, expiresAt: number): void {
    allocation.expiresAt = expiresAt;
    this.schedule(allocation);
  }

  /** Removes an allocation (Refresh with lifetime 0, expiry, or its connection closing). */
  delete(allocation: Allocation): void {
    if (this.byKey.get(allocation.key) !== allocation) return;
    this.byKey.delete(allocation.key);
    this.byId.delete(allocation.id);
    bump(this.perUser, accountOf(allocation.username), -1);
    bump(this.perIp, allocation.fiveTuple.client.address, -1);
    this.compactIfStale();
  }

  /** Removes and returns every allocation whose lifetime has run out by `now`. */
  expire(now: number): Allocation[] {
    const out: Allocation[] = [];
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const top = popHeap(this.heap);
      const a = this.byId.get(top.id);
      // Refreshes push new entries; a stale entry no longer matches the allocation's expiry.
      if (a && a.expiresAt === top.at) {
        this.delete(a);
        out.push(a);
      }
    }
    return out;
  }

  /** The earliest scheduled expiry, for the runtime's next sweep. */
  nextExpiry(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Every live allocation (for shutdown). */
  all(): IterableIterator<Allocation> {
    return this.byKey.values();
  }

  private schedule(a: Allocation): void {
    pushHeap(this.heap, { at: a.expiresAt, id: a.id });
    this.compactIfStale();
  }

  /**
   * A refresh or a delete leaves the old heap entry in place until its deadline, up to the longest
   * lifetime (an hour) later: without this, allocations created and deleted at a steady rate, or one
   * allocation refreshed in a loop, would grow the heap by an entry per request for that long (seen
   * over real sockets as a heap that kept growing after every allocation had ended). Once stale
   * entries outnumber live allocations, the heap is rebuilt from the live ones: O(n log n) work after
   * at least n stale entries, so O(log n) per request, and the heap stays under twice the table.
   */
  private compactIfStale(): void {
    if (this.heap.length <= 2 * this.byId.size + HEAP_SLACK) return;
    this.heap.length = 0;
    for (const a of this.byId.values()) this.heap.push({ at: a.expiresAt, id: a.id });
    // An array sorted by deadline is a valid min-heap.
    this.heap.sort((x, y) => x.at - y.at);
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

function pushHeap(h: Array<{ at: number; id: number }>, item: { at: number; id: number }): void {
  h.push(item);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]!.at <= h[i]!.at) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}

function popHeap(h: Array<{ at: number; id: number }>): { at: number; id: number } {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.at < h[m]!.at) m = l;
      if (r < h.length && h[r]!.at < h[m]!.at) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
  return top;
}
