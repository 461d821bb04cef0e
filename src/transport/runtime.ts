import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import type dgram from 'node:dgram';
import { DEFAULTS, formatHostPort, isWildcard, rfc5780Primary, type HostPort, type ServerConfig } from '../config.js';
import { startCredentialService, startMetricsService, type Health, type HttpListener } from '../services/http.js';
import { createWebClient } from '../services/signaling.js';
import { turnUris, uriHostIsGuess } from '../services/uris.js';
import { TurnkitError } from '../errors.js';
import { createLogger, type Logger } from '../services/logger.js';
import type { Registry } from 'prom-client';
import { createStunMetrics, type StreamCloseReason } from '../services/metrics.js';
import { methodName } from '../stun/names.js';
import { AttributeType, Method } from '../stun/constants.js';
import { decodeErrorCode } from '../stun/attributes/error-code.js';
import { decodeMessage, getAttribute } from '../stun/message.js';
import type { BindingServerConfig, SocketRole, StunTransport } from '../stun/server.js';
import type { TransportAddress } from '../stun/ip.js';
import { fiveTupleKey, type Allocation } from '../turn/allocations.js';
import type { ClientEvent, EngineNote, PendingAllocation, TurnOutcome } from '../turn/context.js';
import { TurnEngine } from '../turn/engine.js';
import { toTransportAddress } from './address.js';
import { openRelay } from './relay.js';
import { StreamFramer, writeFrame } from './stream.js';
import { advertisedRelay, nonceIssuer, relayIpFor, turnEngineConfig } from './turn-setup.js';
import { bindUdp, closeUdp } from './udp.js';

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
   * Graceful shutdown, first half: not ready at once, new allocations refused (508), new TCP/TLS
   * connections refused; resolves when the last allocation ends or after `timeoutMs`.
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
  'relayIp',
  'stateDir',
  'web',
];

/** How long a TLS client may take to finish its handshake. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How often expired allocations, reservations and remembered answers are swept. */
const SWEEP_INTERVAL_MS = 1_000;

/** Sends bytes to a client through the listener (UDP socket or stream connection) it talks to. */
type ClientSender = (data: Buffer, to: TransportAddress, from?: SocketRole) => void;

/** Runs the STUN/TURN server described by `config` until `close()` is called. */
export async function runServer(initial: ServerConfig, logger: Logger = createLogger(initial.logLevel)): Promise<RunningServer> {
  let config = initial;
  const metrics = createStunMetrics(() => {
    const live = { permissions: 0, channels: 0 };
    for (const a of engine.allocations.all()) {
      live.permissions += a.permissions.size;
      live.channels += a.channelsByNumber.size;
    }
    return live;
  });
  const udpSockets: dgram.Socket[] = [];
  const streamServers: net.Server[] = [];
  const tlsServers: tls.Server[] = [];
  const connections = new Set<net.Socket>();
  const listeners: ListenerInfo[] = [];
  const senders = new Map<number, ClientSender>();
  const relays = new Map<number, dgram.Socket>();
  const reservedSockets = new Map<string, dgram.Socket>();
  let nextListenerId = 1;
  const binding: BindingServerConfig = { software: config.software };
  // Plain numbers on the data path; prom-client reads them at scrape time (see metrics.ts).
  const relayed = metrics.relayed;
  let nonces = nonceIssuer(config);
  const engine = new TurnEngine(turnEngineConfig(config, [], nonces), binding);

  // Refusals come in loops (a client sending to a denied peer, a guesser): each kind is logged once a
  // minute per key at most, while the counters count every one.
  const loggedUntil = new Map<string, number>();
  const logOnce = (key: string, msg: string, fields: Record<string, unknown>): void => {
    const now = Date.now();
    if ((loggedUntil.get(key) ?? 0) > now) return;
    if (loggedUntil.size > 10_000) loggedUntil.clear();
    loggedUntil.set(key, now + 60_000);
    logger.info(msg, fields);
  };
  const note = (n: EngineNote | undefined, source: TransportAddress): void => {
    if (!n) return;
    if (n.event === 'peer-denied') {
      metrics.peerDenied.inc({ reason: n.reason });
      logOnce(`peer|${n.peer}|${n.rule}`, 'peer denied', { peer: n.peer, rule: n.rule });
    } else if (n.event === 'auth-failed') {
      metrics.authFailures.inc({ reason: n.reason });
      // The first request of every client is unauthenticated by design: not worth a line.
      if (n.reason !== 'no-credentials') logOnce(`auth|${source.address}|${n.reason}`, 'authentication failed', { client: source.address, reason: n.reason });
    } else {
      metrics.quotaRefusals.inc({ quota: n.which });
      logOnce(`quota|${source.address}|${n.which}`, 'allocation quota reached', { client: source.address, quota: n.which });
    }
  };

  const closeRelay = (allocation: Allocation, event: 'deleted' | 'expired' | 'closed'): void => {
    const socket = relays.get(allocation.id);
    if (!socket) return;
    relays.delete(allocation.id);
    void closeUdp(socket);
    metrics.allocations.dec();
    metrics.allocationEvents.inc({ event });
    metrics.allocationLifetime.observe((Date.now() - allocation.createdAt) / 1000);
    logger.info('allocation ended', { id: allocation.id, event, ...describeAllocation(allocation) });
  };

  const attachRelay = (allocation: Allocation, socket: dgram.Socket): void => {
    relays.set(allocation.id, socket);
    metrics.allocations.inc();
    metrics.allocationEvents.inc({ event: 'created' });
    logger.info('allocation created', { id: allocation.id, ...describeAllocation(allocation) });
    const send = senders.get(allocation.fiveTuple.listenerId);
    const client = allocation.fiveTuple.client;
    socket.on('message', (data, rinfo) => {
      const out = engine.handlePeerPacket(allocation, rinfo.address, rinfo.port, data, Date.now());
      if (out.kind === 'relay-drop') {
        metrics.relayDropped.inc({ reason: out.reason });
        return;
      }
      relayed.toClientPackets++;
      relayed.toClientBytes += data.length;
      send?.(out.data, client);
    });
    socket.on('error', (err) => logger.debug('relay socket error', { id: allocation.id, error: err.message }));
  };

  const allocate = async (pending: PendingAllocation, send: ClientSender): Promise<void> => {
    const { event } = pending.ctx;
    let relay: dgram.Socket | undefined;
    let reserved: dgram.Socket | undefined;
    let relayed: TransportAddress | undefined;
    let reservationToken: Buffer | undefined;
    if (pending.reservedPort) {
      const hex = pending.reservedPort.token.toString('hex');
      relay = reservedSockets.get(hex);
      reservedSockets.delete(hex);
      relayed = pending.reservedPort.address;
    } else {
      const ip = relayIpFor(config, pending.family, event.source, event.local);
      const opened = ip
        ? await openRelay(ip, config.relayPorts, { even: pending.evenPort !== undefined, reserveNext: pending.evenPort?.reserveNext ?? false })
        : undefined;
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
    if (!senders.has(event.listenerId)) {
      // The client's connection closed while the relay was opening.
      engine.cancelPending(pending);
      if (relay) void closeUdp(relay);
      return;
    }
    const out =
      relay && relayed
        ? engine.completeAllocation(pending, {
            ok: true,
            relayed,
            advertised: advertisedRelay(config, relayed),
            ...(reservationToken ? { reservationToken } : {}),
          })
        : engine.completeAllocation(pending, { ok: false });
    if (out.created && relay) attachRelay(out.created, relay);
    else if (relay) void closeUdp(relay);
    execute(out, event.transport, send, event.source);
  };

  const execute = (outcome: TurnOutcome, transport: StunTransport, send: ClientSender, source: TransportAddress): void => {
    switch (outcome.kind) {
      case 'respond':
        metrics.requests.inc({ transport, method: methodName(outcome.method), result: outcome.result });
        if (outcome.result === 'error') {
          metrics.errors.inc({ method: methodName(outcome.method), code: String(errorCodeOf(outcome.data) ?? 'unknown') });
        }
        note(outcome.note, outcome.to);
        send(outcome.data, outcome.to, outcome.from);
        if (outcome.released) closeRelay(outcome.released, 'deleted');
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
        const socket = relays.get(outcome.allocation.id);
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
        metrics.requestDuration.observe({ method: methodName(outcome.method) }, (performance.now() - started) / 1000);
      }
    } catch (err) {
      // A bug must cost one message, never the server.
      logger.error('internal error handling a message', { transport: event.transport, error: String(err) });
      outcome = { kind: 'drop', reason: 'internal-error' };
    }
    execute(outcome, event.transport, send, event.source);
  };

  const sweep = setInterval(() => {
    const expired = engine.expire(Date.now());
    for (const a of expired.allocations) closeRelay(a, 'expired');
    for (const r of expired.reservations) {
      const s = reservedSockets.get(r.token);
      reservedSockets.delete(r.token);
      if (s) void closeUdp(s);
    }
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  const health: Health = { ready: false };
  const httpListeners: HttpListener[] = [];

  const closeAll = async (): Promise<void> => {
    health.ready = false;
    clearInterval(sweep);
    await Promise.all(httpListeners.map((h) => h.close()));
    for (const c of connections) {
      metrics.connectionsClosed.inc({ transport: c instanceof tls.TLSSocket ? 'tls' : 'tcp', reason: 'shutdown' });
      c.destroy();
    }
    const relaySockets = [...relays.values(), ...reservedSockets.values()];
    relays.clear();
    reservedSockets.clear();
    await Promise.all([
      ...relaySockets.map((s) => closeUdp(s)),
      ...udpSockets.map((s) => closeUdp(s)),
      ...streamServers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ]);
  };

  const openUdpGroup = async (group: Array<[SocketRole, HostPort]>, optional: boolean): Promise<void> => {
    const sockets: Partial<Record<SocketRole, dgram.Socket>> = {};
    for (const [role, hp] of group) {
      let bound;
      try {
        bound = await bindUdp(hp);
      } catch (err) {
        if (optional) {
          logger.info('listener skipped', { transport: 'udp', listen: formatHostPort(hp), reason: (err as Error).message });
          return;
        }
        throw listenError('udp', hp, err);
      }
      const { socket, local } = bound;
      udpSockets.push(socket);
      sockets[role] = socket;
      listeners.push({ transport: 'udp', role, address: local.address, port: local.port });
      const listenerId = nextListenerId++;
      const specific = isWildcard(hp.host) ? undefined : local;
      // RFC 5780 answers may leave from a sibling socket; everything else leaves from this one.
      const send: ClientSender = (out, to, from) => ((from && sockets[from]) || socket).send(out, to.port, to.address);
      senders.set(listenerId, send);
      socket.on('message', (data, rinfo) => {
        const event: ClientEvent = {
          data,
          transport: 'udp',
          source: toTransportAddress(rinfo.address, rinfo.port),
          role,
          listenerId,
          server: local,
        };
        if (specific) event.local = specific;
        handle(event, send);
      });
      socket.on('error', (err) => logger.warn('udp socket error', { error: err.message }));
    }
  };

  const openStream = async (transport: 'tcp' | 'tls', role: SocketRole, hp: HostPort, optional: boolean, tlsOptions?: tls.TlsOptions): Promise<void> => {
    const onConnection = (conn: net.Socket): void => {
      connections.add(conn);
      metrics.connections.inc({ transport });
      const framer = new StreamFramer();
      const listenerId = nextListenerId++;
      const source = toTransportAddress(conn.remoteAddress ?? '0.0.0.0', conn.remotePort ?? 0);
      const server = toTransportAddress(conn.localAddress ?? hp.host, conn.localPort ?? hp.port);
      const local = isWildcard(hp.host) ? undefined : server;
      const send: ClientSender = (out) => writeFrame(conn, out);
      senders.set(listenerId, send);
      const closeFor = (reason: StreamCloseReason): void => {
        metrics.connectionsClosed.inc({ transport, reason });
        conn.destroy();
      };
      conn.setNoDelay(true);
      conn.setTimeout(config.streamIdleTimeout * 1000, () => closeFor('idle'));
      conn.on('data', (chunk: Buffer) => {
        const error = framer.push(chunk, (frame) => {
          const event: ClientEvent = { data: frame, transport, source, role, listenerId, server };
          if (local) event.local = local;
          handle(event, send);
        });
        if (error) closeFor(error);
      });
      conn.on('error', () => conn.destroy());
      conn.on('close', () => {
        connections.delete(conn);
        senders.delete(listenerId);
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
        ? tls.createServer({ ...tlsOptions, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, onConnection)
        : net.createServer(onConnection);
    if (transport === 'tls') {
      // With a listener here Node no longer destroys the socket itself: a handshake that timed out or
      // failed would otherwise stay open for ever (a TLS slowloris).
      server.on('tlsClientError', (_err, socket) => {
        metrics.connectionsClosed.inc({ transport, reason: 'tls-handshake' });
        socket.destroy();
      });
      tlsServers.push(server as tls.Server);
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
    const http = await optionalHttp(config.httpListen, config.httpListen === DEFAULTS.httpListen, (hp) =>
      startCredentialService(
        hp,
        () => endpointConfig,
        health,
        logger,
        config.web ? createWebClient(() => endpointConfig, logger) : undefined,
        { maxConnectionsPerIp: config.httpMaxConnectionsPerIp, onRefused: () => metrics.httpRefused.inc({ reason: 'per-ip-limit' }) },
      ),
    );
    const metricsHttp = await optionalHttp(config.metricsListen, config.metricsListen === DEFAULTS.metricsListen, (hp) =>
      startMetricsService(hp, metrics.registry),
    );
    health.ready = true;
    const turn = engine.isEnabled() ? 'on' : 'off (no --user or --secret configured)';
    logger.info('ready', {
      listeners,
      turn,
      realm: config.realm,
      ...(http ? { credentials: `http://${formatHostPort(http)}/ice-servers?username=ID` } : {}),
      ...(metricsHttp ? { metrics: `http://${formatHostPort(metricsHttp)}/metrics` } : {}),
    });
    const serverAddresses = listeners.map((l) => toTransportAddress(l.address, l.port));
    const drain = async (timeoutMs: number): Promise<void> => {
      health.ready = false;
      engine.startDraining();
      for (const s of streamServers) s.close();
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
      engine.reconfigure(turnEngineConfig(next, serverAddresses, nonces));
      binding.software = next.software;
      logger.setLevel(next.logLevel);
      if (tlsOptions) for (const s of tlsServers) s.setSecureContext({ ...tlsOptions, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS } as tls.SecureContextOptions);
      if (next.cert && tlsServers.length === 0) restart.push('cert');
      endpointConfig = {
        secrets: next.secrets,
        apiKeys: next.apiKeys,
        corsOrigins: next.corsOrigins,
        maxTtl: next.maxCredentialTtl,
        uris: turnUris(next, listeners),
        uriHostGuessed: uriHostIsGuess(next, listeners),
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
    client: `${t.client.address}:${t.client.port}`,
    server: `${t.server.address}:${t.server.port}`,
    relayed: `${a.relayed.address}:${a.relayed.port}`,
    user: colon === -1 ? a.username : a.username.slice(colon + 1),
  };
}

/** The ERROR-CODE number of an encoded error response, read without a full decode. */
function errorCodeOf(data: Buffer): number | undefined {
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

/** Reads and checks the TLS certificate and key; TLS 1.2 is the oldest version offered. */
async function loadTls(certFile: string, keyFile: string): Promise<tls.TlsOptions> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (err) {
    throw new TurnkitError('ERR_TLS_CERT_UNREADABLE', `cannot read TLS certificate or key: ${(err as Error).message}`);
  }
  const options: tls.TlsOptions = { cert, key, minVersion: 'TLSv1.2' };
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
