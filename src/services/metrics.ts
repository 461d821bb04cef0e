import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS, type StunTransport } from '../stun/server.js';
import { AUTH_FAILURE_REASONS } from '../turn/auth.js';
import { RELAY_DROP_REASONS } from '../turn/context.js';

const TRANSPORTS: readonly StunTransport[] = ['udp', 'tcp', 'tls'];

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
  /** Requests answered, by transport, method and result. */
  requests: Counter<'transport' | 'method' | 'result'>;
  /** Open TCP/TLS connections. */
  connections: Gauge<'transport'>;
  /** Connections closed by the server, by transport and reason. */
  connectionsClosed: Counter<'transport' | 'reason'>;
  /** HTTP connections refused by a limit, by reason. */
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
  /** Error responses by method and STUN error code. */
  errors: Counter<'method' | 'code'>;
  /** How long allocations lived, seconds. */
  allocationLifetime: Histogram;
  /** Time to handle one TURN request, seconds (not Binding, ChannelData or indications). */
  requestDuration: Histogram<'method'>;
  /** Live permissions and channel bindings, counted at scrape time. */
  permissions: Gauge;
  channels: Gauge;
}

/** Relayed packets and bytes, counted by the data path. */
export interface RelayedCounts {
  toPeerPackets: number;
  toPeerBytes: number;
  toClientPackets: number;
  toClientBytes: number;
}

/** Why the server closed a stream connection; the label values of `turnkit_stream_closed_total`. */
export type StreamCloseReason = 'idle' | 'invalid-frame' | 'buffer-limit' | 'tls-handshake' | 'shutdown';

const STREAM_CLOSE_REASONS: readonly StreamCloseReason[] = [
  'idle',
  'invalid-frame',
  'buffer-limit',
  'tls-handshake',
  'shutdown',
];

/** Creates the metrics in a fresh registry, every closed-set label pre-registered at zero. */
export function createStunMetrics(live: () => { permissions: number; channels: number } = () => ({ permissions: 0, channels: 0 })): StunMetrics {
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
  const requests = new Counter({
    name: 'turnkit_stun_requests_total',
    help: 'STUN requests answered, by method and result',
    labelNames: ['transport', 'method', 'result'] as const,
    registers: [registry],
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
  const httpRefused = new Counter({
    name: 'turnkit_http_refused_total',
    help: 'HTTP connections (credential service, page, signaling) closed at once by a limit, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  httpRefused.inc({ reason: 'per-ip-limit' }, 0);
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
      this.inc({ direction: 'to-peer' }, relayed.toPeerPackets);
      this.inc({ direction: 'to-client' }, relayed.toClientPackets);
    },
  });
  const relayedBytes = new Counter({
    name: 'turnkit_relayed_bytes_total',
    help: 'Payload bytes relayed, by direction',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'to-peer' }, relayed.toPeerBytes);
      this.inc({ direction: 'to-client' }, relayed.toClientBytes);
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
  for (const event of ['created', 'deleted', 'expired', 'closed']) allocationEvents.inc({ event }, 0);
  for (const reason of RELAY_DROP_REASONS) relayDropped.inc({ reason }, 0);
  for (const reason of AUTH_FAILURE_REASONS) authFailures.inc({ reason }, 0);
  for (const quota of ['user', 'client-ip', 'total']) quotaRefusals.inc({ quota }, 0);
  for (const transport of TRANSPORTS) {
    for (const reason of DROP_REASONS) dropCounts.set(`${transport}|${reason}`, 0);
    if (transport !== 'udp') {
      connections.set({ transport }, 0);
      for (const reason of STREAM_CLOSE_REASONS) connectionsClosed.inc({ transport, reason }, 0);
    }
  }
  return {
    registry,
    dropped,
    countDrop,
    requests,
    connections,
    connectionsClosed,
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
    errors,
    allocationLifetime,
    requestDuration,
    permissions,
    channels,
  };
}
