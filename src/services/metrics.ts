import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS, type StunTransport } from '../stun/server.js';
import { Method } from '../stun/constants.js';
import { methodName } from '../stun/names.js';
import { AUTH_FAILURE_REASONS } from '../turn/auth.js';
import { REDIRECT_REASONS, RELAY_DROP_REASONS } from '../turn/context.js';
import { CONNECTION_REFUSALS } from '../transport/connection-gate.js';
import { PEER_CONNECTION_REFUSALS } from '../turn/handlers/connection-attempt.js';

const TRANSPORTS: readonly StunTransport[] = ['udp', 'tcp', 'tls'];

const KNOWN_METHODS: ReadonlySet<number> = new Set<number>(Object.values(Method));
/** Stands for every method number turnkit does not know, so that label sets stay closed. */
const OTHER_METHOD = 0xffff;

/**
 * The `method` label of a STUN method: its RFC name, or `other` for numbers no RFC here defines.
 * Unknown methods come from unauthenticated, spoofable datagrams; a label per number would let
 * anyone add thousands of series.
 */
export function methodLabel(method: number): string {
  return KNOWN_METHODS.has(method) ? methodName(method) : 'other';
}

/** The server's metrics, with bounded label sets (never an address, port or username). */
export interface StunMetrics {
  registry: Registry;
  /** Messages dropped without an answer, by transport and reason (read from `countDrop`'s numbers at scrape time). */
  dropped: Counter<'transport' | 'reason'>;
  /**
   * Counts one dropped message. A plain number per label pair, not a prom-client inc(): under a flood
   * of garbage the label hashing of inc() was a fifth of the server's time per datagram.
   */
  countDrop(transport: StunTransport, reason: string): void;
  /** Requests answered, by transport, method and result (read from `countRequest`'s numbers at scrape time). */
  requests: Counter<'transport' | 'method' | 'result'>;
  /** Counts one answered request: a plain number per label set, like `countDrop`. */
  countRequest(transport: StunTransport, method: number, result: 'success' | 'error'): void;
  /** Open TCP/TLS connections. */
  connections: Gauge<'transport'>;
  /** Connections closed by the server, by transport and reason. */
  connectionsClosed: Counter<'transport' | 'reason'>;
  /** Connections refused at once by a connection limit, by transport and limit. */
  connectionsRefused: Counter<'transport' | 'reason'>;
  /** Bytes held for stream connections (received unparsed, and waiting to be sent), read at scrape time. */
  streamBuffered: Gauge<'transport' | 'direction'>;
  /** HTTP connections and WebSockets refused or cut by a limit, by reason. */
  httpRefused: Counter<'reason'>;
  /** Live TURN allocations. */
  allocations: Gauge;
  /** Allocation lifecycle events: created, refreshed-to-zero, expired, closed with the connection. */
  allocationEvents: Counter<'event'>;
  /** Relay packets dropped, by reason (no permission, denied peer, unbound channel, ...). */
  relayDropped: Counter<'reason'>;
  /** Packets relayed, by direction (read from `relayed` at scrape time). */
  relayedPackets: Counter<'direction'>;
  /** Payload bytes relayed, by direction (read from `relayed` at scrape time). */
  relayedBytes: Counter<'direction'>;
  /**
   * The data path's counts as plain numbers: a prom-client inc() hashes its label set, about half a
   * microsecond, which is too much twice per relayed packet.
   */
  relayed: RelayedCounts;
  /** Peer addresses refused by the peer policy, by the kind of rule. */
  peerDenied: Counter<'reason'>;
  /** Failed TURN authentications, by reason. */
  authFailures: Counter<'reason'>;
  /** Allocations refused by a quota, by which quota. */
  quotaRefusals: Counter<'quota'>;
  /** Allocates sent to an alternate server (300 Try Alternate), by why: draining or full. */
  redirects: Counter<'reason'>;
  /** Error responses by method and STUN error code. */
  errors: Counter<'method' | 'code'>;
  /** How long allocations lived, seconds. */
  allocationLifetime: Histogram;
  /** Time to handle one TURN request, seconds (not Binding, ChannelData or indications). */
  requestDuration: Histogram<'method'>;
  /** Live permissions and channel bindings, counted at scrape time. */
  permissions: Gauge;
  channels: Gauge;
  /** RFC 6062 TCP relays. */
  tcpRelay: TcpRelayMetrics;
}

/** Why the server could not reach a peer on Connect (447); label values of the failure counter. */
export type TcpConnectFailure = 'refused' | 'timeout' | 'unreachable' | 'error';

const TCP_CONNECT_FAILURES: readonly TcpConnectFailure[] = ['refused', 'timeout', 'unreachable', 'error'];

/** The RFC 6062 TCP relay's metrics. */
export interface TcpRelayMetrics {
  /** Open peer data connections (bound or waiting for their ConnectionBind). */
  connections: Gauge;
  /** Connects that ended in 447, by why. */
  connectFailures: Counter<'reason'>;
  /** Incoming peer connections refused, by why. */
  refused: Counter<'reason'>;
  /** Peer data connections closed because no ConnectionBind came in time. */
  bindTimeouts: Counter;
  /** Times one side of a pipe was paused because the other side's reader was slow, by the direction that stalled. */
  backpressure: Counter<'direction'>;
  /** Bytes relayed over peer data connections, read at scrape time. */
  relayed: { toPeerBytes: number; toClientBytes: number };
}

/** Relayed packets and bytes, counted by the data path. */
export interface RelayedCounts {
  toPeerPackets: number;
  toPeerBytes: number;
  toClientPackets: number;
  toClientBytes: number;
}

/** Why the server closed a stream connection; the label values of `turnkit_stream_closed_total`. */
export type StreamCloseReason =
  | 'idle'
  | 'half-open'
  | 'slow-frame'
  | 'invalid-frame'
  | 'oversize-frame'
  | 'buffer-limit'
  | 'tls-handshake'
  | 'tls-handshake-timeout'
  | 'shutdown';

/** Every stream close reason, for pre-registering metric labels. */
export const STREAM_CLOSE_REASONS: readonly StreamCloseReason[] = [
  'idle',
  'half-open',
  'slow-frame',
  'invalid-frame',
  'oversize-frame',
  'buffer-limit',
  'tls-handshake',
  'tls-handshake-timeout',
  'shutdown',
];

/**
 * Why the HTTP listener refused or cut a connection; the label values of `turnkit_http_refused_total`.
 * per-ip-limit: too many connections from one IP; host: a Host header naming none of this server's
 * names on a listener without API keys (DNS rebinding); origin: a signaling WebSocket from another
 * page's origin; websocket-limit: the signaling connection
 * cap; join-timeout: a WebSocket that joined no room in time; slow-reader: a WebSocket whose unsent
 * messages passed the buffer cap.
 */
export const HTTP_REFUSALS = ['per-ip-limit', 'host', 'origin', 'websocket-limit', 'join-timeout', 'slow-reader'] as const;
/** One of `HTTP_REFUSALS`. */
export type HttpRefusal = (typeof HTTP_REFUSALS)[number];

/** Bytes buffered for the stream connections of one transport. */
export interface StreamBuffered {
  /** Received but not yet a whole frame. */
  in: number;
  /** Written by the server but not yet taken by the kernel. */
  out: number;
}

/** Live state the metrics read at scrape time instead of being kept up to date per packet. */
export interface LiveCounts {
  permissions: number;
  channels: number;
  buffered?: Partial<Record<'tcp' | 'tls', StreamBuffered>>;
  /** Bytes queued in the server (not yet taken by the kernel) on every TCP relay pipe. */
  tcpBufferedBytes?: number;
}

/** What a native data plane did without JavaScript: relayed packets and bytes, Binding answers. */
export interface FastPathCounts extends RelayedCounts {
  bindings: number;
}

const NO_FAST_PATH: FastPathCounts = Object.freeze({ toPeerPackets: 0, toPeerBytes: 0, toClientPackets: 0, toClientBytes: 0, bindings: 0 });

/**
 * Creates the metrics in a fresh registry, every closed-set label pre-registered at zero. `live`
 * is read at scrape time; `fastPath` is what a native data plane did by itself.
 */
export function createStunMetrics(
  live: () => LiveCounts = () => ({ permissions: 0, channels: 0 }),
  fastPath: () => FastPathCounts = () => NO_FAST_PATH,
): StunMetrics {
  const registry = new Registry();
  // Process metrics (CPU, memory, event-loop lag, handles) under their standard names.
  collectDefaultMetrics({ register: registry });
  const dropCounts = new Map<string, number>();
  const dropped = new Counter({
    name: 'turnkit_stun_dropped_total',
    help: 'STUN/ChannelData messages dropped without an answer, by reason',
    labelNames: ['transport', 'reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of dropCounts) {
        const cut = key.indexOf('|');
        this.inc({ transport: key.slice(0, cut), reason: key.slice(cut + 1) }, n);
      }
    },
  });
  const countDrop = (transport: StunTransport, reason: string): void => {
    const key = `${transport}|${reason}`;
    dropCounts.set(key, (dropCounts.get(key) ?? 0) + 1);
  };
  // Keyed by a number (transport, method, result) so that counting builds no string.
  const requestCounts = new Map<number, number>();
  const requestKey = (transport: StunTransport, method: number, result: 'success' | 'error'): number =>
    (TRANSPORTS.indexOf(transport) * 0x10000 + method) * 2 + (result === 'error' ? 1 : 0);
  const countRequest = (transport: StunTransport, method: number, result: 'success' | 'error'): void => {
    const key = requestKey(transport, KNOWN_METHODS.has(method) ? method : OTHER_METHOD, result);
    requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
  };
  const requests = new Counter({
    name: 'turnkit_stun_requests_total',
    help: 'STUN requests answered, by method and result',
    labelNames: ['transport', 'method', 'result'] as const,
    registers: [registry],
    collect() {
      this.reset();
      // Binding requests the data plane answered itself join the count here.
      const fast = requestKey('udp', Method.Binding, 'success');
      const bindings = fastPath().bindings;
      if (bindings > 0 && !requestCounts.has(fast)) requestCounts.set(fast, 0);
      for (const [key, n] of requestCounts) {
        const method = (key >> 1) & 0xffff;
        const labels = { transport: TRANSPORTS[Math.floor(key / 0x20000)]!, method: methodLabel(method), result: key & 1 ? 'error' : 'success' };
        this.inc(labels, key === fast ? n + bindings : n);
      }
    },
  });
  const connections = new Gauge({
    name: 'turnkit_stream_connections',
    help: 'Open TCP/TLS connections',
    labelNames: ['transport'] as const,
    registers: [registry],
  });
  const connectionsClosed = new Counter({
    name: 'turnkit_stream_closed_total',
    help: 'TCP/TLS connections closed by the server, by reason',
    labelNames: ['transport', 'reason'] as const,
    registers: [registry],
  });
  const connectionsRefused = new Counter({
    name: 'turnkit_stream_refused_total',
    help: 'TCP/TLS connections refused at once by a connection limit, by limit',
    labelNames: ['transport', 'reason'] as const,
    registers: [registry],
  });
  const streamBuffered = new Gauge({
    name: 'turnkit_stream_buffered_bytes',
    help: 'Bytes buffered for TCP/TLS connections: in = received, not yet a whole message; out = waiting to be sent',
    labelNames: ['transport', 'direction'] as const,
    registers: [registry],
    collect() {
      const b = live().buffered ?? {};
      for (const transport of ['tcp', 'tls'] as const) {
        this.set({ transport, direction: 'in' }, b[transport]?.in ?? 0);
        this.set({ transport, direction: 'out' }, b[transport]?.out ?? 0);
      }
    },
  });
  const httpRefused = new Counter({
    name: 'turnkit_http_refused_total',
    help: 'HTTP connections and WebSockets (credential service, page, signaling) refused or cut by a limit, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of HTTP_REFUSALS) httpRefused.inc({ reason }, 0);
  const allocations = new Gauge({ name: 'turnkit_allocations', help: 'Live TURN allocations', registers: [registry] });
  const allocationEvents = new Counter({
    name: 'turnkit_allocation_events_total',
    help: 'TURN allocations created and ended, by event',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const relayDropped = new Counter({
    name: 'turnkit_relay_dropped_total',
    help: 'Relay packets dropped, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const relayed: RelayedCounts = { toPeerPackets: 0, toPeerBytes: 0, toClientPackets: 0, toClientBytes: 0 };
  const relayedPackets = new Counter({
    name: 'turnkit_relayed_packets_total',
    help: 'Packets relayed, by direction',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const fast = fastPath();
      this.inc({ direction: 'to-peer' }, relayed.toPeerPackets + fast.toPeerPackets);
      this.inc({ direction: 'to-client' }, relayed.toClientPackets + fast.toClientPackets);
    },
  });
  const relayedBytes = new Counter({
    name: 'turnkit_relayed_bytes_total',
    help: 'Payload bytes relayed, by direction',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const fast = fastPath();
      this.inc({ direction: 'to-peer' }, relayed.toPeerBytes + fast.toPeerBytes);
      this.inc({ direction: 'to-client' }, relayed.toClientBytes + fast.toClientBytes);
    },
  });
  // Registered for its side effect: scraped from `fastPath` like the relayed counts above.
  new Counter({
    name: 'turnkit_fast_path_relayed_packets_total',
    help: 'Of the relayed packets, those the native data plane relayed without JavaScript, by direction',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const fast = fastPath();
      this.inc({ direction: 'to-peer' }, fast.toPeerPackets);
      this.inc({ direction: 'to-client' }, fast.toClientPackets);
    },
  });
  const peerDenied = new Counter({
    name: 'turnkit_peer_denied_total',
    help: 'Peer addresses refused by the peer policy, by kind of rule',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'turnkit_auth_failures_total',
    help: 'Failed TURN authentications, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const quotaRefusals = new Counter({
    name: 'turnkit_quota_refusals_total',
    help: 'Allocations refused by a quota',
    labelNames: ['quota'] as const,
    registers: [registry],
  });
  const redirects = new Counter({
    name: 'turnkit_alternate_redirects_total',
    help: 'Allocates answered 300 Try Alternate, by why this node had no room',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'turnkit_errors_total',
    help: 'Error responses, by method and STUN error code',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  });
  const allocationLifetime = new Histogram({
    name: 'turnkit_allocation_lifetime_seconds',
    help: 'How long allocations lived',
    buckets: [10, 60, 300, 600, 1800, 3600, 7200, 21600, 86400],
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'turnkit_request_duration_seconds',
    help: 'Time to handle one TURN request (not Binding, ChannelData or indications)',
    labelNames: ['method'] as const,
    buckets: [0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1],
    registers: [registry],
  });
  // Read when Prometheus scrapes, not kept up to date per packet.
  const permissions = new Gauge({
    name: 'turnkit_permissions',
    help: 'Live TURN permissions',
    registers: [registry],
    collect() {
      this.set(live().permissions);
    },
  });
  const channels = new Gauge({
    name: 'turnkit_channels',
    help: 'Live TURN channel bindings',
    registers: [registry],
    collect() {
      this.set(live().channels);
    },
  });
  const tcpRelay = createTcpRelayMetrics(registry, live);
  for (const event of ['created', 'deleted', 'expired', 'closed']) allocationEvents.inc({ event }, 0);
  for (const reason of RELAY_DROP_REASONS) relayDropped.inc({ reason }, 0);
  for (const reason of AUTH_FAILURE_REASONS) authFailures.inc({ reason }, 0);
  for (const quota of ['user', 'client-ip', 'total']) quotaRefusals.inc({ quota }, 0);
  for (const reason of REDIRECT_REASONS) redirects.inc({ reason }, 0);
  for (const transport of TRANSPORTS) {
    for (const reason of DROP_REASONS) dropCounts.set(`${transport}|${reason}`, 0);
    if (transport !== 'udp') {
      connections.set({ transport }, 0);
      for (const reason of STREAM_CLOSE_REASONS) connectionsClosed.inc({ transport, reason }, 0);
      for (const reason of CONNECTION_REFUSALS) connectionsRefused.inc({ transport, reason }, 0);
    }
  }
  return {
    registry,
    dropped,
    countDrop,
    requests,
    countRequest,
    connections,
    connectionsClosed,
    connectionsRefused,
    streamBuffered,
    httpRefused,
    allocations,
    allocationEvents,
    relayDropped,
    relayedPackets,
    relayedBytes,
    relayed,
    peerDenied,
    authFailures,
    quotaRefusals,
    redirects,
    errors,
    allocationLifetime,
    requestDuration,
    permissions,
    channels,
    tcpRelay,
  };
}

function createTcpRelayMetrics(registry: Registry, live: () => LiveCounts): TcpRelayMetrics {
  const relayed = { toPeerBytes: 0, toClientBytes: 0 };
  const connections = new Gauge({ name: 'turnkit_tcp_relay_connections', help: 'Open RFC 6062 peer data connections', registers: [registry] });
  const connectFailures = new Counter({
    name: 'turnkit_tcp_relay_connect_failures_total',
    help: 'Connect requests that could not reach the peer (447), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'turnkit_tcp_relay_refused_total',
    help: 'TCP connections from peers to relayed addresses refused, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const bindTimeouts = new Counter({
    name: 'turnkit_tcp_relay_bind_timeouts_total',
    help: 'Peer data connections closed because no ConnectionBind came in time',
    registers: [registry],
  });
  const backpressure = new Counter({
    name: 'turnkit_tcp_relay_backpressure_total',
    help: 'Times a TCP relay pipe paused its sender because the receiver was slow, by the stalled direction',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  new Counter({
    name: 'turnkit_tcp_relayed_bytes_total',
    help: 'Bytes relayed over RFC 6062 peer data connections, by direction',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'to-peer' }, relayed.toPeerBytes);
      this.inc({ direction: 'to-client' }, relayed.toClientBytes);
    },
  });
  new Gauge({
    name: 'turnkit_tcp_relay_buffered_bytes',
    help: 'Bytes queued in the server on TCP relay pipes (bounded by backpressure)',
    registers: [registry],
    collect() {
      this.set(live().tcpBufferedBytes ?? 0);
    },
  });
  for (const reason of TCP_CONNECT_FAILURES) connectFailures.inc({ reason }, 0);
  for (const reason of PEER_CONNECTION_REFUSALS) refused.inc({ reason }, 0);
  for (const direction of ['to-peer', 'to-client']) backpressure.inc({ direction }, 0);
  return { connections, connectFailures, refused, bindTimeouts, backpressure, relayed };
}
