import { Counter, Gauge, Registry } from 'prom-client';
import { DROP_REASONS, type StunTransport } from '../stun/server.js';

const TRANSPORTS: readonly StunTransport[] = ['udp', 'tcp', 'tls'];

/** The server's metrics, with bounded label sets (never an address, port or username). */
export interface StunMetrics {
  registry: Registry;
  /** Messages dropped without an answer, by transport and reason. */
  dropped: Counter<'transport' | 'reason'>;
  /** Requests answered, by transport, method and result. */
  requests: Counter<'transport' | 'method' | 'result'>;
  /** Open TCP/TLS connections. */
  connections: Gauge<'transport'>;
  /** Connections closed by the server, by transport and reason. */
  connectionsClosed: Counter<'transport' | 'reason'>;
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

/** Creates the STUN metrics in a fresh registry, every drop reason pre-registered at zero. */
export function createStunMetrics(): StunMetrics {
  const registry = new Registry();
  const dropped = new Counter({
    name: 'turnkit_stun_dropped_total',
    help: 'STUN/ChannelData messages dropped without an answer, by reason',
    labelNames: ['transport', 'reason'] as const,
    registers: [registry],
  });
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
  for (const transport of TRANSPORTS) {
    for (const reason of DROP_REASONS) dropped.inc({ transport, reason }, 0);
    if (transport !== 'udp') {
      connections.set({ transport }, 0);
      for (const reason of STREAM_CLOSE_REASONS) connectionsClosed.inc({ transport, reason }, 0);
    }
  }
  return { registry, dropped, requests, connections, connectionsClosed };
}
