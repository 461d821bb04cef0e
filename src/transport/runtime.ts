import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { DEFAULTS, formatHostPort, isWildcard, rfc5780Primary, type HostPort, type ServerConfig } from '../config.js';
import { startCredentialService, startMetricsService, type Health, type HttpListener } from '../services/http.js';
import { createWebClient } from '../services/signaling.js';
import { turnUris, uriHostIsGuess } from '../services/uris.js';
import { TurnkitError } from '../errors.js';
import { createLogger, type Logger } from '../services/logger.js';
import { LogThrottle } from '../services/log-throttle.js';
import type { Registry } from 'prom-client';
import { createStunMetrics, methodLabel, type HttpRefusal, type StreamCloseReason } from '../services/metrics.js';
import { AttributeType, ErrorCode, Method } from '../stun/constants.js';
import { decodeErrorCode } from '../stun/attributes/error-code.js';
import { decodeMessage, getAttribute } from '../stun/message.js';
import { plainBindingSuffix, type BindingServerConfig, type SocketRole, type StunTransport } from '../stun/server.js';
import type { TransportAddress } from '../stun/ip.js';
import { fiveTupleKey, type Allocation } from '../turn/allocations.js';
import { PROJECTED_METHODS, projectedChannels, projectedPermissions } from '../turn/projection.js';
import type { BoundConnection, ClientEvent, EngineNote, PendingAllocation, TurnOutcome } from '../turn/context.js';
import { TurnEngine } from '../turn/engine.js';
import { toTransportAddress } from './address.js';
import { createDataPlane } from './data-plane.js';
import type { DatagramSocket } from './datagram.js';
import { openRelay } from './relay.js';
import { StreamFramer, writeFrame, writeRelayed } from './stream.js';
import { ConnectionGate } from './connection-gate.js';
import { TcpRelayHub, openTcpRelay } from './tcp-relay.js';
import { advertisedRelay, nonceIssuer, relayIpFor, turnEngineConfig } from './turn-setup.js';
import { bindUdp } from './udp.js';

/** A socket the server listens on, as reported in the ready log line and by the API. */
export interface ListenerInfo {
  transport: StunTransport;
  role: SocketRole;
  address: string;
  port: number;
}

/** A running server: its listeners, metrics, and a way to stop it. */
export interface RunningServer {
  listeners: ListenerInfo[];
  /** The Prometheus registry with every turnkit metric. */
  metrics: Registry;
  /** The TURN state machine (for inspection: allocation counts and the like). */
  engine: TurnEngine;
  /** The credential service's and metrics' addresses, when they run. */
  http?: HostPort;
  metricsHttp?: HostPort;
  /** Stops listening, closes every connection and relay, and resolves when all sockets are closed. */
  close(): Promise<void>;
  /**
   * Graceful shutdown, first half: not ready at once, new allocations refused (508, or 300 to an
   * alternate server), new TCP/TLS connections refused; resolves when the last allocation ends or
   * after `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<void>;
  /** Applies a new configuration without dropping allocations; returns the settings that need a restart. */
  reload(next: ServerConfig): Promise<string[]>;
}

/** Settings bound to sockets at start: a reload reports them instead of applying them. */
const RESTART_ONLY: ReadonlyArray<keyof ServerConfig> = [
  'listen',
  'tlsListen',
  'altAddress',
  'altPort',
  'httpListen',
  'httpMaxConnectionsPerIp',
  'metricsListen',
  'relayPorts',
  'relayIps',
  'stateDir',
  'web',
  'dataPlane',
];

/**
 * TLS 1.2 suites offered: forward-secret ECDHE with AEAD ciphers only (Mozilla's "intermediate"
 * list). TLS 1.3 suites are named too: Node applies the TLS_* entries of the same string to 1.3.
 */
const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
/** How often expired allocations, reservations and remembered answers are swept. */
const SWEEP_INTERVAL_MS = 1_000;

/** 'peer denied' lines one client may cause a minute (each distinct peer and rule once). */
const PEER_DENIAL_LINES = 10;

/** Sends bytes to a client through the listener (UDP socket or stream connection) it talks to. */
type ClientSender = (data: Buffer, to: TransportAddress, from?: SocketRole) => void;

/** Runs the STUN/TURN server described by `config` until `close()` is called. */
export async function runServer(initial: ServerConfig, logger: Logger = createLogger(initial.logLevel)): Promise<RunningServer> {
  let config = initial;
  const { plane, note: planeNote } = createDataPlane(config.dataPlane);
  if (planeNote) logger.info('native data plane unavailable, using js', { reason: planeNote });
  const metrics = createStunMetrics(
    () => {
      const live = { permissions: 0, channels: 0, buffered: { tcp: { in: 0, out: 0 }, tls: { in: 0, out: 0 } } };
      for (const a of engine.allocations.all()) {
        live.permissions += a.permissions.size;
        live.channels += a.channelsByNumber.size;
      }
      for (const c of connections) {
        const b = live.buffered[c instanceof tls.TLSSocket ? 'tls' : 'tcp'];
        b.in += framers.get(c)?.pendingBytes ?? 0;
        b.out += c.writableLength;
      }
      return { ...live, tcpBufferedBytes: tcpRelay.bufferedBytes() };
    },
    () => plane.counts(),
  );
  const udpSockets: DatagramSocket[] = [];
  /** The UDP socket each UDP listener id answers through (the fast path needs it per relay). */
  const udpListeners = new Map<number, DatagramSocket>();
  /** Each UDP listener with its specific address (undefined on a wildcard), for Binding templates. */
  const udpLocals: Array<{ socket: DatagramSocket; local: TransportAddress | undefined }> = [];
  /** Lets the data plane answer plain Binding requests itself, as `handleBindingRequest` would. */
  const armBindingFastPath = (): void => {
    for (const { socket, local } of udpLocals) plane.answerBindings(socket, plainBindingSuffix(binding, local, socket.local.family));
  };
  const streamServers: net.Server[] = [];
  const tlsServers: tls.Server[] = [];
  const connections = new Set<net.Socket>();
  const framers = new Map<net.Socket, StreamFramer>();
  const gate = new ConnectionGate(() => ({ perIp: config.maxConnectionsPerIp, total: config.maxConnections }));
  /** Senders of relayed data to stream clients: they drop it (false) when the client does not keep up. */
  const relaySenders = new Map<number, (data: Buffer) => boolean>();
  const listeners: ListenerInfo[] = [];
  const senders = new Map<number, ClientSender>();
  const relays = new Map<number, DatagramSocket>();
  /** The IPv6 relay of each dual allocation (RFC 8656 §7.2), by allocation id; it ends with the IPv4 one. */
  const additionalRelays = new Map<number, DatagramSocket>();
  /** TCP/TLS client connections that still carry STUN, by listener id (RFC 6062 hands some over). */
  const streamSockets = new Map<number, net.Socket>();
  const reservedSockets = new Map<string, DatagramSocket>();
  let nextListenerId = 1;
  const binding: BindingServerConfig = { software: config.software };
  // Plain numbers on the data path; prom-client reads them at scrape time (see metrics.ts).
  const relayed = metrics.relayed;
  let nonces = nonceIssuer(config);
  const engine = new TurnEngine(turnEngineConfig(config, [], nonces), binding);

  // Refusals come in loops (a client sending to a denied peer, a guesser): each kind is logged once a
  // minute per key at most, while the counters count every one.
  const refusalLog = new LogThrottle();
  const logOnce = (key: string, msg: string, fields: Record<string, unknown>): boolean => {
    if (refusalLog.take(key) === undefined) return false;
    logger.info(msg, fields);
    return true;
  };
  // Peer denials are logged per peer and rule, so one client scanning an address range would write
  // a line per target; each client gets PEER_DENIAL_LINES a minute, then one line saying so.
  const peerDenialLines = new Map<string, { until: number; left: number }>();
  const logPeerDenied = (client: string, peer: string, rule: string): void => {
    const now = Date.now();
    let budget = peerDenialLines.get(client);
    if (!budget || budget.until <= now) {
      if (peerDenialLines.size > 10_000) peerDenialLines.clear();
      budget = { until: now + 60_000, left: PEER_DENIAL_LINES };
      peerDenialLines.set(client, budget);
    }
    if (budget.left === 0 || !logOnce(`peer|${peer}|${rule}`, 'peer denied', { client, peer, rule })) return;
    budget.left -= 1;
    if (budget.left === 0) logger.info('more peer denials from this client are counted, not logged, for a minute', { client });
  };
  const note = (n: EngineNote | undefined, source: TransportAddress): void => {
    if (!n) return;
    if (n.event === 'peer-denied') {
      metrics.peerDenied.inc({ reason: n.reason });
      logPeerDenied(source.address, n.peer, n.rule);
    } else if (n.event === 'auth-failed') {
      metrics.authFailures.inc({ reason: n.reason });
      // The first request of every client is unauthenticated by design: not worth a line.
      if (n.reason !== 'no-credentials') logOnce(`auth|${source.address}|${n.reason}`, 'authentication failed', { client: source.address, reason: n.reason });
    } else if (n.event === 'redirect') {
      metrics.redirects.inc({ reason: n.reason });
    } else {
      metrics.quotaRefusals.inc({ quota: n.which });
      logOnce(`quota|${source.address}|${n.which}`, 'allocation quota reached', { client: source.address, quota: n.which });
    }
  };

  const tcpRelay = new TcpRelayHub({ engine, metrics: metrics.tcpRelay, logger, note });

  const closeRelay = (allocation: Allocation, event: 'deleted' | 'expired' | 'closed'): void => {
    const socket = relays.get(allocation.id);
    const tcp = tcpRelay.closeAllocation(allocation.id);
    if (!socket && !tcp) return;
    if (tcp) streamSockets.get(allocation.fiveTuple.listenerId)?.setTimeout(config.streamIdleTimeout * 1000);
    relays.delete(allocation.id);
    if (socket) void socket.close();
    const second = additionalRelays.get(allocation.id);
    additionalRelays.delete(allocation.id);
    if (second) void second.close();
    metrics.allocations.dec();
    metrics.allocationEvents.inc({ event });
    metrics.allocationLifetime.observe((Date.now() - allocation.createdAt) / 1000);
    logger.info('allocation ended', { id: allocation.id, event, ...describeAllocation(allocation) });
  };

  const allocationCreated = (allocation: Allocation): void => {
    metrics.allocations.inc();
    metrics.allocationEvents.inc({ event: 'created' });
    logger.info('allocation created', { id: allocation.id, ...describeAllocation(allocation) });
  };

  const attachRelay = (allocation: Allocation, socket: DatagramSocket, additional: DatagramSocket | undefined): void => {
    relays.set(allocation.id, socket);
    if (additional) additionalRelays.set(allocation.id, additional);
    allocationCreated(allocation);
    const send = senders.get(allocation.fiveTuple.listenerId);
    const streamSend = relaySenders.get(allocation.fiveTuple.listenerId);
    const client = allocation.fiveTuple.client;
    for (const s of additional ? [socket, additional] : [socket]) {
      s.onMessage((data, address, port) => {
        const out = engine.handlePeerPacket(allocation, address, port, data, Date.now());
        if (out.kind === 'relay-drop') {
          metrics.relayDropped.inc({ reason: out.reason });
          return;
        }
        if (streamSend) {
          if (!streamSend(out.data)) {
            metrics.relayDropped.inc({ reason: 'slow-client' });
            return;
          }
        } else {
          send?.(out.data, client);
        }
        relayed.toClientPackets++;
        relayed.toClientBytes += data.length;
      });
    }
  };

  /**
   * Tells the data plane's fast path what the engine now allows for `allocation`. Dual allocations
   * stay on the engine's path: their channels and permissions may name either family.
   */
  const project = (allocation: Allocation): void => {
    const relay = !additionalRelays.has(allocation.id) && relays.get(allocation.id);
    const listener = udpListeners.get(allocation.fiveTuple.listenerId);
    if (relay && listener && allocation.fiveTuple.transport === 'udp') {
      plane.project(relay, listener, allocation.fiveTuple.client, projectedChannels(allocation), projectedPermissions(allocation, engine.policy));
    }
  };

  /** RFC 6062 §5.1: a TCP allocation's relayed address is a TCP listener. */
  const allocateTcp = async (pending: PendingAllocation, send: ClientSender): Promise<void> => {
    const { event } = pending.ctx;
    const ip = relayIpFor(config, pending.family, event.source, event.local);
    const opened = ip ? await openTcpRelay(ip, config.relayPorts) : undefined;
    if (!senders.has(event.listenerId)) {
      engine.cancelPending(pending);
      opened?.server.close();
      return;
    }
    const out = opened
      ? engine.completeAllocation(pending, { ok: true, relayed: opened.address, advertised: advertisedRelay(config, opened.address) })
      : engine.completeAllocation(pending, { ok: false });
    if (out.created && opened) {
      tcpRelay.attach(out.created, opened.server, (data) => send(data, event.source));
      allocationCreated(out.created);
      // The control connection of a TCP relay is quiet while its data connections are busy; the
      // allocation's lifetime, which the client refreshes, bounds it instead of the idle timeout.
      streamSockets.get(event.listenerId)?.setTimeout(0);
    } else opened?.server.close();
    execute(out, event.transport, send, event.source);
  };

  /**
   * RFC 6062 §5.4: after a ConnectionBind success, its connection stops carrying STUN (its reader
   * sees it gone from `streamSockets` and detaches) and becomes a pipe.
   */
  const handOver = (bound: BoundConnection): void => {
    const conn = streamSockets.get(bound.listenerId);
    streamSockets.delete(bound.listenerId);
    if (!conn) {
      engine.closeTcpConnection(bound.connection);
      return;
    }
    // A pipe may rightly be quiet for long; the STUN idle timeout is not for it.
    conn.setTimeout(0);
    tcpRelay.bind(bound.connection, conn);
  };

  const allocate = async (pending: PendingAllocation, send: ClientSender): Promise<void> => {
    if (pending.relayTransport === 'tcp') return allocateTcp(pending, send);
    const { event } = pending.ctx;
    let relay: DatagramSocket | undefined;
    let reserved: DatagramSocket | undefined;
    let relayed: TransportAddress | undefined;
    let reservationToken: Buffer | undefined;
    // 440 when no address of the family is usable, 508 when no port could be bound.
    let refused: number | undefined;
    if (pending.reservedPort) {
      const hex = pending.reservedPort.token.toString('hex');
      relay = reservedSockets.get(hex);
      reservedSockets.delete(hex);
      relayed = pending.reservedPort.address;
    } else {
      const ip = relayIpFor(config, pending.family, event.source, event.local);
      const opened = ip
        ? await openRelay(plane, ip, config.relayPorts, { even: pending.evenPort !== undefined, reserveNext: pending.evenPort?.reserveNext ?? false })
        : undefined;
      refused = ip ? ErrorCode.InsufficientCapacity : ErrorCode.AddressFamilyNotSupported;
      if (opened) {
        relay = opened.relay.socket;
        relayed = opened.relay.address;
        if (opened.reserved) {
          reserved = opened.reserved.socket;
          reservationToken = engine.reservations.reserve(opened.reserved.address, Date.now());
          reservedSockets.set(reservationToken.toString('hex'), reserved);
        }
      }
    }
    // RFC 8656 §7.2 dual allocation: the IPv6 relay, opened only once the IPv4 one is there.
    let second: { socket: DatagramSocket; address: TransportAddress } | { refused: number } | undefined;
    if (relay && pending.additional && pending.additional.refused === undefined) {
      const ip6 = relayIpFor(config, pending.additional.family, event.source, event.local);
      const opened6 = ip6 ? await openRelay(plane, ip6, config.relayPorts) : undefined;
      second = opened6
        ? { socket: opened6.relay.socket, address: opened6.relay.address }
        : { refused: ip6 ? ErrorCode.InsufficientCapacity : ErrorCode.AddressFamilyNotSupported };
    }
    const secondSocket = second && 'socket' in second ? second.socket : undefined;
    if (!senders.has(event.listenerId)) {
      // The client's connection closed while the relay was opening.
      engine.cancelPending(pending);
      if (relay) void relay.close();
      if (secondSocket) void secondSocket.close();
      return;
    }
    const out =
      relay && relayed
        ? engine.completeAllocation(pending, {
            ok: true,
            relayed,
            advertised: advertisedRelay(config, relayed),
            ...(reservationToken ? { reservationToken } : {}),
            ...(second
              ? { additional: 'socket' in second ? { relayed: second.address, advertised: advertisedRelay(config, second.address) } : second }
              : {}),
          })
        : engine.completeAllocation(pending, { ok: false, ...(refused ? { refused } : {}) });
    if (out.created && relay) attachRelay(out.created, relay, secondSocket);
    else {
      if (relay) void relay.close();
      if (secondSocket) void secondSocket.close();
    }
    execute(out, event.transport, send, event.source);
  };

  const execute = (outcome: TurnOutcome, transport: StunTransport, send: ClientSender, source: TransportAddress): void => {
    switch (outcome.kind) {
      case 'respond':
        metrics.countRequest(transport, outcome.method, outcome.result);
        if (outcome.result === 'error') {
          metrics.errors.inc({ method: methodLabel(outcome.method), code: String(errorCodeOf(outcome.data) ?? 'unknown') });
        }
        note(outcome.note, outcome.to);
        send(outcome.data, outcome.to, outcome.from);
        if (outcome.released) closeRelay(outcome.released, 'deleted');
        if (outcome.bound) handOver(outcome.bound);
        return;
      case 'drop':
        metrics.countDrop(transport, outcome.reason);
        return;
      case 'relay-drop':
        metrics.relayDropped.inc({ reason: outcome.reason });
        note(outcome.note, source);
        if (outcome.reason === 'rate-limited') logOnce(`limit|${source.address}`, 'client rate limited', { client: source.address });
        return;
      case 'send-peer': {
        const a = outcome.allocation;
        const socket = outcome.peer.family === a.relayed.family ? relays.get(a.id) : additionalRelays.get(a.id);
        if (!socket) return;
        relayed.toPeerPackets++;
        relayed.toPeerBytes += outcome.data.length;
        socket.send(outcome.data, outcome.peer.port, outcome.peer.address);
        return;
      }
      case 'allocate':
        void allocate(outcome.pending, send).catch((err: unknown) => {
          engine.cancelPending(outcome.pending);
          logger.error('allocation failed', { error: String(err) });
        });
        return;
      case 'connect':
        tcpRelay.connect(outcome.pending, (out) => execute(out, transport, send, source));
        return;
      case 'indication':
        return;
    }
  };

  const handle = (event: ClientEvent, send: ClientSender): void => {
    let outcome: TurnOutcome;
    const started = performance.now();
    try {
      outcome = engine.handleClientMessage(event, Date.now());
      // Binding is the flood path and its latency is what clients measure anyway: only TURN
      // requests go into the histogram.
      if (outcome.kind === 'respond' && outcome.method !== Method.Binding) {
        metrics.requestDuration.observe({ method: methodLabel(outcome.method) }, (performance.now() - started) / 1000);
      }
    } catch (err) {
      // A bug must cost one message, never the server.
      logger.error('internal error handling a message', { transport: event.transport, error: String(err) });
      outcome = { kind: 'drop', reason: 'internal-error' };
    }
    execute(outcome, event.transport, send, event.source);
    if (plane.name === 'native' && outcome.kind === 'respond' && outcome.result === 'success' && event.transport === 'udp' && PROJECTED_METHODS.has(outcome.method)) {
      const allocation = engine.allocations.get(fiveTupleKey(event.listenerId, event.source.address, event.source.port));
      if (allocation) project(allocation);
    }
  };

  const sweep = setInterval(() => {
    const expired = engine.expire(Date.now());
    for (const a of expired.allocations) closeRelay(a, 'expired');
    for (const c of expired.tcpConnections) tcpRelay.bindTimedOut(c);
    for (const r of expired.reservations) {
      const s = reservedSockets.get(r.token);
      reservedSockets.delete(r.token);
      if (s) void s.close();
    }
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  const health: Health = { ready: false };
  const httpListeners: HttpListener[] = [];

  const closeAll = async (): Promise<void> => {
    health.ready = false;
    clearInterval(sweep);
    // One line, not one per allocation: a node stopping with 10,000 allocations would otherwise
    // write 10,000 'allocation ended' lines on its way out.
    if (engine.allocations.size > 0) logger.info('allocations ended by shutdown', { allocations: engine.allocations.size });
    await Promise.all(httpListeners.map((h) => h.close()));
    for (const c of connections) {
      metrics.connectionsClosed.inc({ transport: c instanceof tls.TLSSocket ? 'tls' : 'tcp', reason: 'shutdown' });
      c.destroy();
    }
    const relaySockets = [...relays.values(), ...additionalRelays.values(), ...reservedSockets.values()];
    relays.clear();
    additionalRelays.clear();
    reservedSockets.clear();
    await Promise.all([
      tcpRelay.closeAll(),
      ...relaySockets.map((s) => s.close()),
      ...udpSockets.map((s) => s.close()),
      ...streamServers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ]);
    await plane.close();
  };

  const openUdpGroup = async (group: Array<[SocketRole, HostPort]>, optional: boolean): Promise<void> => {
    const sockets: Partial<Record<SocketRole, DatagramSocket>> = {};
    for (const [role, hp] of group) {
      let bound;
      try {
        bound = await bindUdp(plane, hp);
      } catch (err) {
        if (optional) {
          logger.info('listener skipped', { transport: 'udp', listen: formatHostPort(hp), reason: (err as Error).message });
          return;
        }
        throw listenError('udp', hp, err);
      }
      const socket = bound;
      const local = socket.local;
      udpSockets.push(socket);
      sockets[role] = socket;
      listeners.push({ transport: 'udp', role, address: local.address, port: local.port });
      const listenerId = nextListenerId++;
      const specific = isWildcard(hp.host) ? undefined : local;
      // RFC 5780 answers may leave from a sibling socket; everything else leaves from this one.
      const send: ClientSender = (out, to, from) => ((from && sockets[from]) || socket).send(out, to.port, to.address);
      senders.set(listenerId, send);
      udpListeners.set(listenerId, socket);
      udpLocals.push({ socket, local: specific });
      socket.onMessage((data, address, port) => {
        const event: ClientEvent = {
          data,
          transport: 'udp',
          source: toTransportAddress(address, port),
          role,
          listenerId,
          server: local,
        };
        if (specific) event.local = specific;
        handle(event, send);
      });
    }
  };

  const openStream = async (transport: 'tcp' | 'tls', role: SocketRole, hp: HostPort, optional: boolean, tlsOptions?: tls.TlsOptions): Promise<void> => {
    const onConnection = (conn: net.Socket): void => {
      connections.add(conn);
      metrics.connections.inc({ transport });
      const framer = new StreamFramer(config.streamMaxMessage);
      framers.set(conn, framer);
      const listenerId = nextListenerId++;
      const source = toTransportAddress(conn.remoteAddress ?? '0.0.0.0', conn.remotePort ?? 0);
      const server = toTransportAddress(conn.localAddress ?? hp.host, conn.localPort ?? hp.port);
      const local = isWildcard(hp.host) ? undefined : server;
      const send: ClientSender = (out) => writeFrame(conn, out);
      senders.set(listenerId, send);
      relaySenders.set(listenerId, (out) => writeRelayed(conn, out, config.streamMaxBuffered));
      streamSockets.set(listenerId, conn);
      const closeFor = (reason: StreamCloseReason): void => {
        if (conn.destroyed) return;
        metrics.connectionsClosed.inc({ transport, reason });
        conn.destroy();
      };
      conn.setNoDelay(true);
      conn.setTimeout(config.streamIdleTimeout * 1000, () => closeFor('idle'));
      // Half-open: a connection that never sends a whole message holds a descriptor for nothing.
      let halfOpen: NodeJS.Timeout | undefined = setTimeout(() => closeFor('half-open'), config.streamHandshakeTimeout * 1000);
      halfOpen.unref();
      // Bytes received and bytes cut into frames: when a ConnectionBind hands this connection over
      // to a TCP relay pipe, what follows it in the same segment is the pipe's first data.
      let received = 0;
      let framed = 0;
      // Each message must arrive whole within the handshake timeout of its first byte: the idle
      // timer alone restarts with every byte, so a client trickling a frame could hold a connection
      // for ever. The deadline runs from the read in which the previous message completed.
      let frameDeadline: NodeJS.Timeout | undefined;
      const onData = (chunk: Buffer): void => {
        received += chunk.length;
        const framedBefore = framed;
        const error = framer.push(chunk, (frame) => {
          if (!streamSockets.has(listenerId)) return;
          framed += frame.length;
          if (halfOpen) {
            clearTimeout(halfOpen);
            halfOpen = undefined;
          }
          const event: ClientEvent = { data: frame, transport, source, role, listenerId, server };
          if (local) event.local = local;
          handle(event, send);
        });
        if (streamSockets.has(listenerId)) {
          if (framer.pendingBytes === 0 || framed !== framedBefore) {
            clearTimeout(frameDeadline);
            frameDeadline = undefined;
          }
          if (framer.pendingBytes > 0 && !frameDeadline && !halfOpen) {
            frameDeadline = setTimeout(() => closeFor('slow-frame'), config.streamHandshakeTimeout * 1000);
            frameDeadline.unref();
          }
          if (error) closeFor(error);
          // A client that does not read its answers is not read either: TCP flow control then slows
          // it down, instead of its answers piling up here.
          else if (conn.writableLength > config.streamMaxBuffered && !conn.isPaused()) {
            conn.pause();
            // While we do not read, a half-received message is our doing: its deadline restarts
            // with the next read after the pause.
            clearTimeout(frameDeadline);
            frameDeadline = undefined;
            conn.once('drain', () => conn.resume());
          }
          return;
        }
        clearTimeout(frameDeadline);
        conn.off('data', onData);
        if (received > framed) conn.unshift(chunk.subarray(Math.max(0, chunk.length - (received - framed))));
      };
      conn.on('data', onData);
      conn.on('error', () => conn.destroy());
      conn.on('close', () => {
        clearTimeout(halfOpen);
        clearTimeout(frameDeadline);
        connections.delete(conn);
        framers.delete(conn);
        senders.delete(listenerId);
        relaySenders.delete(listenerId);
        streamSockets.delete(listenerId);
        metrics.connections.dec({ transport });
        // RFC 8656 §7: an allocation over TCP/TLS ends when its connection closes.
        const allocation = engine.allocations.get(fiveTupleKey(listenerId, source.address, source.port));
        if (allocation) {
          engine.release(allocation);
          closeRelay(allocation, 'closed');
        }
      });
    };
    const server =
      transport === 'tls'
        ? tls.createServer({ ...tlsOptions, handshakeTimeout: config.streamHandshakeTimeout * 1000 }, onConnection)
        : net.createServer();
    // Limits apply to the TCP connection, before a TLS handshake costs anything.
    const admit = (raw: net.Socket): boolean => {
      const ip = raw.remoteAddress ?? '';
      const refused = gate.admit(ip);
      if (refused) {
        metrics.connectionsRefused.inc({ transport, reason: refused });
        raw.destroy();
        return false;
      }
      raw.once('close', () => gate.release(ip));
      return true;
    };
    if (transport === 'tls') {
      server.prependListener('connection', admit);
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
        // A client that hung up (or was refused above) is not a connection the server closed.
        if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') metrics.connectionsClosed.inc({ transport, reason: 'tls-handshake-timeout' });
        else if (err.code?.startsWith('ERR_SSL_')) metrics.connectionsClosed.inc({ transport, reason: 'tls-handshake' });
        // With a listener, Node leaves the socket open: a stalled handshake would hold it forever.
        socket.destroy();
      });
      tlsServers.push(server as tls.Server);
    } else {
      server.on('connection', (conn: net.Socket) => {
        if (admit(conn)) onConnection(conn);
      });
    }
    const ipv6 = hp.host.includes(':');
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: hp.host, port: hp.port, ipv6Only: ipv6, exclusive: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      if (optional) {
        logger.info('listener skipped', { transport, listen: formatHostPort(hp), reason: (err as Error).message });
        return;
      }
      throw listenError(transport, hp, err);
    }
    server.on('error', (err) => logger.warn('listener error', { transport, error: err.message }));
    streamServers.push(server);
    const a = server.address() as net.AddressInfo;
    listeners.push({ transport, role, address: toTransportAddress(a.address, a.port).address, port: a.port });
  };

  try {
    const primary5780 = rfc5780Primary(config);
    for (const hp of config.listen) {
      const optional = config.defaultListeners && hp.host.includes(':');
      const group: Array<[SocketRole, HostPort]> = [['primary', hp]];
      if (hp === primary5780) {
        group.push(
          ['alt-port', { host: hp.host, port: config.altPort! }],
          ['alt-ip', { host: config.altAddress!, port: hp.port }],
          ['alt-both', { host: config.altAddress!, port: config.altPort! }],
        );
        binding.rfc5780 = Object.fromEntries(
          group.map(([role, g]) => [role, toTransportAddress(g.host, g.port)]),
        ) as Record<SocketRole, TransportAddress>;
      }
      await openUdpGroup(group, optional);
      for (const [role, g] of group) await openStream('tcp', role, g, optional);
    }
    armBindingFastPath();
    if (config.cert && config.key) {
      const tlsOptions = await loadTls(config.cert, config.key);
      for (const hp of config.tlsListen) {
        await openStream('tls', 'primary', hp, config.defaultListeners && hp.host.includes(':'), tlsOptions);
      }
    } else {
      logger.info('TLS listener off: no certificate configured (set --cert FILE --key FILE to enable it)');
    }
    // The peer policy must refuse the server's own listening ports, now that they are known.
    engine.reconfigure(turnEngineConfig(config, listeners.map((l) => toTransportAddress(l.address, l.port)), nonces));
    const uris = turnUris(config, listeners);
    let endpointConfig = {
      secrets: config.secrets,
      apiKeys: config.apiKeys,
      corsOrigins: config.corsOrigins,
      maxTtl: config.maxCredentialTtl,
      uris,
      uriHostGuessed: uriHostIsGuess(config, listeners),
      publicHost: config.publicHost,
    };
    // The built-in localhost ports are a convenience: if something holds them, carry on without.
    const optionalHttp = async (hp: HostPort | null, builtIn: boolean, start: (hp: HostPort) => Promise<HttpListener>): Promise<HostPort | undefined> => {
      if (!hp) return undefined;
      try {
        const h = await start(hp);
        httpListeners.push(h);
        return h.address;
      } catch (err) {
        if (!builtIn) throw err;
        logger.warn('listener skipped', { listen: formatHostPort(hp), reason: (err as Error).message });
        return undefined;
      }
    };
    const onRefused = (reason: HttpRefusal): void => metrics.httpRefused.inc({ reason });
    const http = await optionalHttp(config.httpListen, config.httpListen === DEFAULTS.httpListen, (hp) =>
      startCredentialService(
        hp,
        () => endpointConfig,
        health,
        logger,
        config.web ? createWebClient(() => endpointConfig, logger, { onRefused, accepting: () => health.ready }) : undefined,
        { maxConnectionsPerIp: config.httpMaxConnectionsPerIp, onRefused },
      ),
    );
    const metricsHttp = await optionalHttp(config.metricsListen, config.metricsListen === DEFAULTS.metricsListen, (hp) =>
      startMetricsService(hp, metrics.registry),
    );
    // The credential service and metrics are the server's own ports too: a TCP relay (Connect) or a
    // Send to them would let a TURN user mint credentials or read metrics from inside.
    const serverAddresses = [
      ...listeners.map((l) => toTransportAddress(l.address, l.port)),
      ...[http, metricsHttp].flatMap((h) => (h ? [toTransportAddress(h.host, h.port)] : [])),
    ];
    engine.reconfigure(turnEngineConfig(config, serverAddresses, nonces));
    health.ready = true;
    const turn = engine.isEnabled() ? 'on' : 'off (no --user or --secret configured)';
    logger.info('ready', {
      listeners,
      turn,
      realm: config.realm,
      dataPlane: plane.name,
      ...(http ? { credentials: `http://${formatHostPort(http)}/ice-servers?username=ID` } : {}),
      ...(metricsHttp ? { metrics: `http://${formatHostPort(metricsHttp)}/metrics` } : {}),
    });
    const drain = async (timeoutMs: number): Promise<void> => {
      health.ready = false;
      // TCP and TLS listeners stay open while draining, like UDP: a new client's Allocate gets the
      // 300 to an alternate server (or 508) instead of a refused connection it cannot learn from.
      engine.startDraining();
      logger.info('draining', { allocations: engine.allocations.size, timeoutSeconds: timeoutMs / 1000 });
      const deadline = Date.now() + timeoutMs;
      while (engine.allocations.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    };
    const reload = async (next: ServerConfig): Promise<string[]> => {
      const restart = RESTART_ONLY.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
      let tlsOptions: tls.TlsOptions | undefined;
      if (next.cert && next.key && tlsServers.length > 0) {
        // Read even when the paths are unchanged (renewals rewrite the files); read first, so that a
        // bad certificate leaves the running one in place.
        tlsOptions = await loadTls(next.cert, next.key);
      }
      if (next.nonceLifetime !== config.nonceLifetime || (next.secrets.length === 0) !== (config.secrets.length === 0)) {
        nonces = nonceIssuer(next);
      }
      // Relay families follow the relay addresses in use, which a reload does not change.
      engine.reconfigure(turnEngineConfig({ ...next, relayIps: config.relayIps }, serverAddresses, nonces));
      // Peers the new policy denies lose what they had: an operator blocking an abused target
      // means now, not when the permission would have expired.
      const withdrawn = engine.withdrawDeniedPeers();
      for (const c of withdrawn.tcpConnections) tcpRelay.closeConnection(c);
      if (withdrawn.permissions + withdrawn.tcpConnections.length > 0) {
        logger.info('peers denied by the reload cut off', { permissions: withdrawn.permissions, tcpConnections: withdrawn.tcpConnections.length });
      }
      // The fast path's permissions follow the peer policy, which may have changed.
      if (plane.name === 'native') for (const allocation of engine.allocations.all()) project(allocation);
      binding.software = next.software;
      armBindingFastPath();
      logger.setLevel(next.logLevel);
      if (tlsOptions) for (const s of tlsServers) s.setSecureContext(tlsOptions as tls.SecureContextOptions);
      if (next.cert && tlsServers.length === 0) restart.push('cert');
      endpointConfig = {
        secrets: next.secrets,
        apiKeys: next.apiKeys,
        corsOrigins: next.corsOrigins,
        maxTtl: next.maxCredentialTtl,
        uris: turnUris(next, listeners),
        uriHostGuessed: uriHostIsGuess(next, listeners),
        publicHost: next.publicHost,
      };
      config = { ...next, ...Object.fromEntries(RESTART_ONLY.map((k) => [k, config[k]])) } as ServerConfig;
      logger.info('reloaded', { needsRestart: restart, users: Object.keys(next.users).length, secrets: next.secrets.length });
      return restart;
    };
    const running: RunningServer = { listeners, metrics: metrics.registry, engine, close: closeAll, drain, reload };
    if (http) running.http = http;
    if (metricsHttp) running.metricsHttp = metricsHttp;
    return running;
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** What an allocation's log lines say: its 5-tuple and user id, never a credential. */
function describeAllocation(a: Allocation): Record<string, unknown> {
  const t = a.fiveTuple;
  // A REST username is "<expiry>:<user id>"; the user id is what an operator looks for.
  const colon = a.username.indexOf(':');
  return {
    transport: t.transport,
    client: formatHostPort({ host: t.client.address, port: t.client.port }),
    server: formatHostPort({ host: t.server.address, port: t.server.port }),
    relayed: formatHostPort({ host: a.relayed.address, port: a.relayed.port }),
    ...(a.additional ? { relayedAdditional: formatHostPort({ host: a.additional.relayed.address, port: a.additional.relayed.port }) } : {}),
    user: colon === -1 ? a.username : a.username.slice(colon + 1),
  };
}

/** The ERROR-CODE number of an encoded error response, read without a full decode. */
function errorCodeOf(data: Buffer): number | undefined {
  // Our error responses carry ERROR-CODE first (RFC 8489 §14.8: class at byte 2, number at byte 3
  // of its value); only an answer shaped otherwise is decoded whole.
  if (data.length >= 28 && data.readUInt16BE(20) === AttributeType.ErrorCode) return (data[26]! & 7) * 100 + data[27]!;
  const m = decodeMessage(data);
  if (!m.ok) return undefined;
  const a = getAttribute(m.message, AttributeType.ErrorCode);
  return a ? decodeErrorCode(a.value)?.code : undefined;
}

function listenError(transport: string, hp: HostPort, err: unknown): TurnkitError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const hint =
    code === 'EADDRINUSE'
      ? 'another process uses it; pick another port'
      : code === 'EADDRNOTAVAIL'
        ? 'that IP is not configured on this host'
        : code === 'EACCES'
          ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE'
          : (err as Error).message;
  return new TurnkitError('ERR_LISTEN_FAILED', `cannot listen on ${transport} ${formatHostPort(hp)}: ${code} (${hint})`, { cause: err });
}

/** Reads and checks the TLS certificate and key; TLS 1.2 is the oldest version offered, AEAD ciphers only. */
async function loadTls(certFile: string, keyFile: string): Promise<tls.TlsOptions> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (err) {
    throw new TurnkitError('ERR_TLS_CERT_UNREADABLE', `cannot read TLS certificate or key: ${(err as Error).message}`);
  }
  const options: tls.TlsOptions = { cert, key, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true };
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new TurnkitError(
      'ERR_TLS_CERT_UNREADABLE',
      `TLS certificate ${certFile} or key ${keyFile} is not usable: ${(err as Error).message}`,
    );
  }
  return options;
}
