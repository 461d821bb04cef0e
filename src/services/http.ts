import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { formatHostPort, type HostPort } from '../config.js';
import { TurnkitError } from '../errors.js';
import { ConnectionGate } from '../transport/connection-gate.js';
import { handleCredentialRequest, refuseForeignHost, type CredentialEndpointConfig, type EndpointResponse } from './credentials-endpoint.js';
import { LogThrottle } from './log-throttle.js';
import type { Logger } from './logger.js';
import type { HttpRefusal } from './metrics.js';
import type { WebClient } from './signaling.js';

/** A running HTTP listener. */
export interface HttpListener {
  address: HostPort;
  close(): Promise<void>;
}

/** Health as the probes report it: alive once started, ready once every listener is bound and until shutdown. */
export interface Health {
  ready: boolean;
}

function send(res: http.ServerResponse, r: EndpointResponse): void {
  res.writeHead(r.status, r.headers);
  res.end(r.body);
}

function notFound(): EndpointResponse {
  return { status: 404, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: '{"error":"not found"}\n' };
}

/** Limits on what one client may hold on an HTTP listener. */
export interface HttpLimits {
  /** Open connections per client IP (WebSocket connections included); 0 = no limit. */
  maxConnectionsPerIp: number;
  /** Called for each connection or request refused by a limit or the Host check (for metrics). */
  onRefused?: (reason: HttpRefusal) => void;
}

/** How long a client may take to send a request's headers, and the whole request. */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;
/** How often Node checks those timeouts (its default, 30 s, would let a slow client stay 40 s). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** An HTTP server whose slow or idle clients cannot hold sockets open: requests here are tiny. */
function createServer(handler: http.RequestListener): http.Server {
  const server = http.createServer(
    { connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS, maxHeaderSize: 16 * 1024 },
    handler,
  );
  server.headersTimeout = HTTP_HEADERS_TIMEOUT_MS;
  server.requestTimeout = HTTP_HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  return server;
}

/** Closes connections beyond `limits.maxConnectionsPerIp` from one IP as soon as they are accepted. */
function limitConnectionsPerIp(server: http.Server, limits: HttpLimits): void {
  if (limits.maxConnectionsPerIp <= 0) return;
  const gate = new ConnectionGate(() => ({ perIp: limits.maxConnectionsPerIp, total: 0 }));
  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? '';
    if (gate.admit(ip)) {
      limits.onRefused?.('per-ip-limit');
      socket.destroy();
      return;
    }
    socket.once('close', () => gate.release(ip));
  });
}

async function listen(server: http.Server, hp: HostPort, what: string): Promise<HttpListener> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: hp.host, port: hp.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TurnkitError('ERR_LISTEN_FAILED', `cannot listen for ${what} on ${formatHostPort(hp)}: ${code}`, { cause: err });
  }
  const a = server.address() as AddressInfo;
  return {
    address: { host: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers an HTTP upgrade (a WebSocket handshake) with an error status, and an optional plain
 * body, then closes the connection once the answer is written.
 */
export function rejectUpgrade(socket: Duplex, status: number, reason: string, body?: { type: string; text: string }): void {
  const head = `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n`;
  const content = body ? `Content-Type: ${body.type}\r\nContent-Length: ${Buffer.byteLength(body.text)}\r\n\r\n${body.text}` : 'Content-Length: 0\r\n\r\n';
  socket.end(head + content, () => socket.destroy());
}

/**
 * The credential service and health probes: `/turn-credentials`, `/ice-servers`, `/healthz`,
 * `/readyz`. Every answer is JSON except the Host refusal (plain text); errors never carry a stack trace.
 */
export function startCredentialService(
  hp: HostPort,
  config: () => CredentialEndpointConfig,
  health: Health,
  logger: Logger,
  web?: WebClient,
  limits: HttpLimits = { maxConnectionsPerIp: 0 },
): Promise<HttpListener> {
  // A misconfigured proxy gets every request refused: one line a minute says so.
  const hostLog = new LogThrottle();
  const foreignHost = (req: http.IncomingMessage, keyless?: boolean): EndpointResponse | undefined => {
    const refused = refuseForeignHost({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, config(), hp.host, keyless);
    if (!refused) return undefined;
    limits.onRefused?.('host');
    if (hostLog.take('host') !== undefined) {
      logger.warn('http request refused', { reason: 'Host is not this server (set public_host)', host: String(req.headers.host ?? '').slice(0, 100) });
    }
    return refused;
  };
  const server = createServer((req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') return send(res, { status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}\n' });
      if (path === '/readyz') {
        return send(res, {
          status: health.ready ? 200 : 503,
          headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
          body: health.ready ? '{"status":"ready"}\n' : '{"status":"not ready"}\n',
        });
      }
      // After the probes: they hand out nothing, and some probers send no Host or an odd one.
      const refused = foreignHost(req);
      if (refused) return send(res, refused);
      if (web?.serve(req, res)) return;
      const r = handleCredentialRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, config(), Date.now());
      send(res, r ?? notFound());
    } catch (err) {
      logger.error('credential service error', { error: (err as Error).message });
      send(res, { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"internal error"}\n' });
    }
  });
  limitConnectionsPerIp(server, limits);
  server.on('upgrade', (req, socket, head) => {
    if (!web) return socket.destroy();
    // The signaling socket mints TURN credentials with no API key, so the Host check applies even
    // when keys are configured for the credential API.
    const refused = foreignHost(req, true);
    if (!refused) return web.upgrade(req, socket, head);
    socket.on('error', () => undefined);
    rejectUpgrade(socket, 421, 'Misdirected Request', { type: refused.headers['content-type']!, text: refused.body });
  });
  return listen(server, hp, 'the credential service').then(
    (l) => (web ? { address: l.address, close: () => web.close().then(() => l.close()) } : l),
    async (err) => {
      await web?.close();
      throw err;
    },
  );
}

/** Prometheus metrics on their own listener (`/metrics`), so they can stay private while credentials are public. */
export function startMetricsService(hp: HostPort, registry: Registry): Promise<HttpListener> {
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/metrics') return send(res, notFound());
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      () => send(res, { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"metrics unavailable"}\n' }),
    );
  });
  return listen(server, hp, 'metrics');
}
