import { randomInt } from 'node:crypto';
import type { TransportAddress } from '../stun/ip.js';

/** RFC 6062 §5.2/§5.3: a peer data connection not bound by ConnectionBind within 30 s is closed. */
export const CONNECTION_BIND_TIMEOUT_MS = 30_000;

/** RFC 6062 §5.2: how long the server tries to reach a peer before answering 447 (at least 30 s). */
export const PEER_CONNECT_TIMEOUT_MS = 30_000;

/** Peer data connections one TCP allocation may hold (Connect gets 508 and peers are refused beyond). */
export const MAX_CONNECTIONS_PER_ALLOCATION = 64;

/**
 * Where a peer data connection is in its life (RFC 6062 §5): the server is still connecting to the
 * peer (Connect), or it is waiting for the client's ConnectionBind, or it is bound to a client data
 * connection and relays bytes.
 */
export type TcpConnectionState = 'connecting' | 'pending-bind' | 'bound';

/** RFC 6062 §2: one peer data connection of a TCP allocation, named by its CONNECTION-ID. */
export interface TcpConnection {
  /** The CONNECTION-ID (32 bits, random so that it says nothing about other connections). */
  readonly id: number;
  readonly allocationId: number;
  readonly peer: TransportAddress;
  /** Who opened it: the server on a Connect request, or the peer (ConnectionAttempt). */
  readonly origin: 'connect' | 'peer';
  state: TcpConnectionState;
  /** While 'pending-bind': when it is closed unless a ConnectionBind arrives. */
  bindBy: number;
}

/**
 * The peer data connections of every TCP allocation, by CONNECTION-ID and by allocation and peer
 * transport address (RFC 6062 §5.2: one connection per peer address, 446 for a second one). Deadlines,
 * not timers: `expire` returns the connections whose ConnectionBind did not come in time.
 */
export class TcpConnectionTable {
  private readonly byId = new Map<number, TcpConnection>();
  /** Allocation id → "peer ip|port" → connection. */
  private readonly byAllocation = new Map<number, Map<string, TcpConnection>>();
  /** The connections waiting for a ConnectionBind: all the sweep has to look at. */
  private readonly pendingBind = new Set<TcpConnection>();

  /** Number of live peer data connections. */
  get size(): number {
    return this.byId.size;
  }

  /** Every connection, in no particular order. */
  all(): IterableIterator<TcpConnection> {
    return this.byId.values();
  }

  /** The connection with this CONNECTION-ID. */
  get(id: number): TcpConnection | undefined {
    return this.byId.get(id);
  }

  /** The connection of an allocation to a peer transport address, in any state. */
  forPeer(allocationId: number, peer: TransportAddress): TcpConnection | undefined {
    return this.byAllocation.get(allocationId)?.get(peerKey(peer));
  }

  /** How many connections an allocation holds. */
  countFor(allocationId: number): number {
    return this.byAllocation.get(allocationId)?.size ?? 0;
  }

  /**
   * Adds a connection to `peer` under a fresh CONNECTION-ID. The caller has checked that none exists
   * for this peer. A peer-opened connection waits for its ConnectionBind from the start.
   */
  add(allocationId: number, peer: TransportAddress, origin: TcpConnection['origin'], now: number, bindTimeoutMs: number): TcpConnection {
    let id: number;
    do id = randomInt(1, 0xffffffff);
    while (this.byId.has(id));
    const connection: TcpConnection = {
      id,
      allocationId,
      peer,
      origin,
      state: origin === 'peer' ? 'pending-bind' : 'connecting',
      bindBy: origin === 'peer' ? now + bindTimeoutMs : Number.POSITIVE_INFINITY,
    };
    this.byId.set(id, connection);
    if (origin === 'peer') this.pendingBind.add(connection);
    let peers = this.byAllocation.get(allocationId);
    if (!peers) {
      peers = new Map();
      this.byAllocation.set(allocationId, peers);
    }
    peers.set(peerKey(peer), connection);
    return connection;
  }

  /** The server's connection to the peer is up: the ConnectionBind clock starts (RFC 6062 §5.2). */
  connected(connection: TcpConnection, now: number, bindTimeoutMs: number): void {
    connection.state = 'pending-bind';
    connection.bindBy = now + bindTimeoutMs;
    this.pendingBind.add(connection);
  }

  /** A ConnectionBind for `id` arrived: the connection, if it may be bound now, marked bound. */
  bind(id: number, now: number): TcpConnection | undefined {
    const connection = this.byId.get(id);
    if (!connection || connection.state !== 'pending-bind' || connection.bindBy <= now) return undefined;
    connection.state = 'bound';
    connection.bindBy = Number.POSITIVE_INFINITY;
    this.pendingBind.delete(connection);
    return connection;
  }

  /** Forgets a connection (closed by either side, failed, or timed out). */
  delete(connection: TcpConnection): void {
    if (this.byId.get(connection.id) !== connection) return;
    this.byId.delete(connection.id);
    this.pendingBind.delete(connection);
    const peers = this.byAllocation.get(connection.allocationId);
    peers?.delete(peerKey(connection.peer));
    if (peers?.size === 0) this.byAllocation.delete(connection.allocationId);
  }

  /** Forgets and returns every connection of an allocation (it ended). */
  deleteAllocation(allocationId: number): TcpConnection[] {
    const peers = this.byAllocation.get(allocationId);
    if (!peers) return [];
    const out = [...peers.values()];
    for (const c of out) {
      this.byId.delete(c.id);
      this.pendingBind.delete(c);
    }
    this.byAllocation.delete(allocationId);
    return out;
  }

  /** Forgets and returns the connections whose ConnectionBind deadline passed by `now`. */
  expire(now: number): TcpConnection[] {
    const out: TcpConnection[] = [];
    for (const c of this.pendingBind) if (c.bindBy <= now) out.push(c);
    for (const c of out) this.delete(c);
    return out;
  }
}

function peerKey(peer: TransportAddress): string {
  return `${peer.address}|${peer.port}`;
}
