import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { TcpConnectFailure, TcpRelayMetrics } from '../services/metrics.js';
import type { Logger } from '../services/logger.js';
import type { TransportAddress } from '../stun/ip.js';
import type { Allocation } from '../turn/allocations.js';
import type { EngineNote, PendingConnect, RespondOutcome } from '../turn/context.js';
import type { TurnEngine } from '../turn/engine.js';
import { PEER_CONNECT_TIMEOUT_MS, type TcpConnection } from '../turn/tcp-connections.js';
import { toTransportAddress } from './address.js';
import type { PortRange } from './relay.js';

/** How many random ports to try for a relay listener before giving up (508). */
const BIND_ATTEMPTS = 32;

/**
 * After one side of a pipe closed, how long the other may take to flush what is queued for it; a
 * reader that takes nothing in that time is cut off, so a closed pipe cannot linger forever.
 */
const LINGER_MS = 10_000;

/** A relay listener of a TCP allocation and its address. */
export interface TcpRelayListener {
  server: net.Server;
  address: TransportAddress;
}

function listenOnce(ip: string, port: number): Promise<TcpRelayListener | undefined> {
  const server = net.createServer({ pauseOnConnect: true });
  return new Promise((resolve) => {
    server.once('error', () => {
      server.close();
      resolve(undefined);
    });
    server.listen({ host: ip, port, exclusive: true, ipv6Only: ip.includes(':') }, () => {
      server.removeAllListeners('error');
      const a = server.address() as net.AddressInfo;
      resolve({ server, address: toTransportAddress(a.address, a.port) });
    });
  });
}

/**
 * RFC 6062 §5.1: opens the relayed transport address of a TCP allocation, a TCP listener on `ip` at
 * a port drawn with crypto randomness from `range` (as UDP relays are). Accepted peer sockets start
 * paused: nothing is read from a peer before its connection is bound to a client.
 */
export async function openTcpRelay(ip: string, range: PortRange): Promise<TcpRelayListener | undefined> {
  for (let i = 0; i < BIND_ATTEMPTS; i++) {
    const listener = await listenOnce(ip, randomInt(range.min, range.max + 1));
    if (listener) return listener;
  }
  return undefined;
}

/** One peer data connection and, once bound, its client data connection. */
interface Pipe {
  connection: TcpConnection;
  peer: net.Socket;
  client?: net.Socket;
}

/** What the relay needs from the runtime. */
export interface TcpRelayDeps {
  engine: TurnEngine;
  metrics: TcpRelayMetrics;
  logger: Logger;
  /** Logs and counts an engine note (a peer refused by the policy), naming who caused it. */
  note: (n: EngineNote | undefined, source: TransportAddress) => void;
}

/**
 * The sockets of RFC 6062 TCP allocations: relay listeners, peer data connections (opened on Connect
 * or accepted from peers) and, after ConnectionBind, the byte pipes between peer and client data
 * connections. Protocol decisions are the engine's; this moves bytes. Each pipe direction writes
 * into a bounded queue and pauses its reader while the writer's queue is full (resumed on 'drain'),
 * so a reader that stops reading stalls its sender instead of growing the server's memory.
 */
export class TcpRelayHub {
  private readonly listeners = new Map<number, net.Server>();
  private readonly pipes = new Map<number, Pipe>();
  /** Outgoing peer connections still connecting, by CONNECTION-ID. */
  private readonly connecting = new Map<number, net.Socket>();

  constructor(private readonly deps: TcpRelayDeps) {}

  /** Starts accepting peer connections on the relay listener of a new TCP allocation. */
  attach(allocation: Allocation, server: net.Server, sendToClient: (data: Buffer) => void): void {
    this.listeners.set(allocation.id, server);
    server.on('connection', (socket: net.Socket) => this.onPeerConnection(allocation.id, socket, sendToClient));
    server.on('error', (err) => this.deps.logger.debug('tcp relay listener error', { id: allocation.id, error: err.message }));
  }

  /** RFC 6062 §5.3: a peer connected to a relayed address: ConnectionAttempt to the client, or refused. */
  private onPeerConnection(allocationId: number, socket: net.Socket, sendToClient: (data: Buffer) => void): void {
    const peer = toTransportAddress(socket.remoteAddress ?? '0.0.0.0', socket.remotePort ?? 0);
    const out = this.deps.engine.acceptPeerConnection(allocationId, peer, Date.now());
    if (!out.ok) {
      this.deps.metrics.refused.inc({ reason: out.reason });
      this.deps.note(out.note, peer);
      socket.destroy();
      return;
    }
    this.track(out.connection, socket);
    sendToClient(out.indication);
  }

  /**
   * RFC 6062 §5.2: opens a TCP connection from the allocation's relay IP to the peer and hands the
   * engine's answer (CONNECTION-ID or 447) to `answer`. The local port is the kernel's choice: Linux
   * refuses to bind a connecting socket to the port of a listening one without SO_REUSEPORT, which
   * Node 20 cannot set.
   */
  connect(pending: PendingConnect, answer: (out: RespondOutcome) => void): void {
    const { connection, allocation } = pending;
    const socket = net.connect({ host: connection.peer.address, port: connection.peer.port, localAddress: allocation.relayed.address });
    // Nothing is read from the peer before the client binds the connection (RFC 6062 §5.2: the
    // peer's data waits, and TCP flow control holds the rest back).
    socket.pause();
    socket.setTimeout(PEER_CONNECT_TIMEOUT_MS);
    this.connecting.set(connection.id, socket);
    let settled = false;
    const fail = (reason: TcpConnectFailure): void => {
      if (settled) return;
      settled = true;
      this.connecting.delete(connection.id);
      socket.destroy();
      this.deps.metrics.connectFailures.inc({ reason });
      answer(this.deps.engine.completeConnect(pending, false, Date.now()));
    };
    socket.once('timeout', () => fail('timeout'));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(connectFailure(err.code)));
    socket.once('close', () => fail('error'));
    socket.once('connect', () => {
      settled = true;
      this.connecting.delete(connection.id);
      socket.setTimeout(0);
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      const out = this.deps.engine.completeConnect(pending, true, Date.now());
      if (out.result === 'success') this.track(connection, socket);
      else socket.destroy();
      answer(out);
    });
  }

  /** Keeps a peer data connection until it is bound, times out, or closes. */
  private track(connection: TcpConnection, peer: net.Socket): void {
    const pipe: Pipe = { connection, peer };
    this.pipes.set(connection.id, pipe);
    this.deps.metrics.connections.inc();
    peer.setNoDelay(true);
    peer.on('error', () => peer.destroy());
    peer.once('close', () => this.closePipe(pipe, peer));
  }

  /**
   * RFC 6062 §5.4: a ConnectionBind succeeded on `client` (its answer is already written): from now
   * on the client data connection and the peer data connection are one byte pipe.
   */
  bind(connection: TcpConnection, client: net.Socket): void {
    const pipe = this.pipes.get(connection.id);
    if (!pipe || pipe.peer.destroyed) {
      client.destroy();
      this.deps.engine.closeTcpConnection(connection);
      return;
    }
    pipe.client = client;
    client.on('error', () => client.destroy());
    client.once('close', () => this.closePipe(pipe, client));
    this.forward(client, pipe.peer, 'to-peer');
    this.forward(pipe.peer, client, 'to-client');
  }

  /** One direction of a pipe, with backpressure: the reader pauses while the writer's queue is full. */
  private forward(from: net.Socket, to: net.Socket, direction: 'to-peer' | 'to-client'): void {
    const counts = this.deps.metrics.relayed;
    from.on('data', (chunk: Buffer) => {
      if (direction === 'to-peer') counts.toPeerBytes += chunk.length;
      else counts.toClientBytes += chunk.length;
      if (to.destroyed || to.write(chunk)) return;
      from.pause();
      this.deps.metrics.backpressure.inc({ direction });
      to.once('drain', () => from.resume());
    });
    // A half-close is passed on: the other side gets its FIN after what was queued for it.
    from.once('end', () => {
      if (!to.destroyed) to.end();
    });
    from.resume();
  }

  /**
   * One side of a pipe closed: the other flushes what is queued for it, then closes too; the
   * connection is forgotten when both are closed.
   */
  private closePipe(pipe: Pipe, closed: net.Socket): void {
    const other = closed === pipe.peer ? pipe.client : pipe.peer;
    if (other && !other.destroyed) {
      other.setTimeout(LINGER_MS, () => other.destroy());
      other.end(() => other.destroy());
      return;
    }
    if (this.pipes.get(pipe.connection.id) !== pipe) return;
    this.pipes.delete(pipe.connection.id);
    this.deps.metrics.connections.dec();
    this.deps.engine.closeTcpConnection(pipe.connection);
  }

  /** RFC 6062 §5.2/§5.3: no ConnectionBind came within the timeout: the peer connection is closed. */
  bindTimedOut(connection: TcpConnection): void {
    const pipe = this.pipes.get(connection.id);
    if (!pipe) return;
    this.deps.metrics.bindTimeouts.inc();
    pipe.peer.destroy();
  }

  /**
   * Closes one peer data connection and its client side (its allocation ended, or a reload denied
   * the peer); the engine forgets it as the sockets close (if not already), and a Connect still
   * connecting gets its 447.
   */
  closeConnection(connection: TcpConnection): void {
    this.connecting.get(connection.id)?.destroy();
    const pipe = this.pipes.get(connection.id);
    pipe?.peer.destroy();
    pipe?.client?.destroy();
  }

  /**
   * An allocation ended (expiry, Refresh 0, its control connection closed): its listener and every
   * peer and client data connection close. Returns false when it was not a TCP allocation.
   */
  closeAllocation(allocationId: number): boolean {
    const server = this.listeners.get(allocationId);
    if (!server) return false;
    this.listeners.delete(allocationId);
    server.close();
    for (const connection of this.deps.engine.releaseTcpConnections(allocationId)) this.closeConnection(connection);
    return true;
  }

  /** Bytes held in the server on every pipe: queued for writing, or read and not yet passed on. */
  bufferedBytes(): number {
    let total = 0;
    for (const { peer, client } of this.pipes.values()) {
      total += peer.writableLength + peer.readableLength;
      if (client) total += client.writableLength + client.readableLength;
    }
    return total;
  }

  /** Closes every listener and connection (shutdown). */
  async closeAll(): Promise<void> {
    for (const socket of this.connecting.values()) socket.destroy();
    for (const pipe of this.pipes.values()) {
      pipe.peer.destroy();
      pipe.client?.destroy();
    }
    const servers = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Sorts a connect error into the closed set of failure reasons. */
function connectFailure(code: string | undefined): TcpConnectFailure {
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return 'refused';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  return 'error';
}
