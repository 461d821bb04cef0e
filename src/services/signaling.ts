/**
 * The conferencing client's server side, on the credential service's HTTP listener: the page and
 * its assets (`/`, built into dist/web by `npm run build`) and WebSocket signaling on `/signal`.
 * Signaling relays offer/answer/candidate between peers of one room only; no media passes here.
 * On join the server mints a short-lived TURN REST credential for that peer (first shared secret)
 * and sends it as `iceServers`: no secret or API key ever reaches the page.
 *
 * Abuse limits: one message ≤ maxMessageBytes (larger closes the socket, 1009), a closed JSON
 * shape, a token bucket per socket, a cap on connections, a room to join within joinTimeoutMs, a cap
 * on the bytes waiting to be sent to each socket, Origin must be this page's (http or https, this
 * host) when sent, and ping/pong: a socket that misses a pong is closed. Any bad input → an `error`
 * message to that socket (closed with 1008 after too many), never an exception out of here. While
 * the node drains, joins are refused (`unavailable`); at shutdown every socket gets a close frame,
 * 1001 going away (RFC 6455 §7.4.1).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { RawData, ServerOptions, WebSocket } from 'ws';
import { mintRestCredential } from '../turn/credentials.js';
import { rejectUpgrade } from './http.js';
import { LogThrottle } from './log-throttle.js';
import type { Logger } from './logger.js';
import type { HttpRefusal } from './metrics.js';
import { parseClientMessage, RateLimiter, Rooms, type ErrorCode, type IceServerJson, type ServerMessage } from './signaling-protocol.js';

/** What signaling reads on every join (so a reload's new secrets apply to the next join). */
export interface SignalingConfig {
  /** Shared secrets; the first mints the peers' credentials. Empty: STUN only, no TURN. */
  secrets: readonly string[];
  /** TURN URIs, as the credential service hands them out. */
  uris: readonly string[];
  /**
   * True when the URIs' host is only this machine's host name (wildcard listener, no public host
   * or external IP configured): the name the browser used to reach the page is then a better one.
   */
  uriHostGuessed?: boolean;
}

/** Puts `host` in place of the host of a turn:/turns: URI (RFC 7065), keeping scheme, port and query. */
export function withUriHost(uri: string, host: string): string {
  return uri.replace(/^(turns?:)(\[[^\]]+\]|[^:?]+)/, `$1${host}`);
}

function firstHeader(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim() || undefined;
}

/** The host name the page was reached by (X-Forwarded-Host behind a proxy, else Host), without port. */
function pageHostOf(req: http.IncomingMessage): string | undefined {
  const raw = firstHeader(req, 'x-forwarded-host') ?? req.headers.host;
  if (!raw) return undefined;
  try {
    const hostname = new URL(`http://${raw}`).hostname;
    return /^[A-Za-z0-9.:[\]-]{1,255}$/.test(hostname) ? hostname : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a WebSocket's Origin is the page's own origin: an http or https page (https behind a TLS
 * proxy, which need not say so) whose host is Host, or X-Forwarded-Host behind a proxy that
 * rewrites Host. A page cannot set headers on a WebSocket, so a foreign page never passes; opaque
 * and non-web origins (null, file:, ftp:) never do either; a client that sends no Origin is no
 * browser and passes.
 */
function sameOrigin(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (o.protocol !== 'http:' && o.protocol !== 'https:') return false;
  // Through URL, so that case and a default port written out compare equal.
  const canonical = (host: string | undefined): string | undefined => {
    try {
      return host === undefined ? undefined : new URL(`${o.protocol}//${host}`).host;
    } catch {
      return undefined;
    }
  };
  return o.host === canonical(req.headers.host) || o.host === canonical(firstHeader(req, 'x-forwarded-host'));
}

/** Limits and timings of the web client. */
export interface SignalingOptions {
  /** Peers per room (a full mesh: keep it small). */
  maxPeers: number;
  /** Largest message, bytes. */
  maxMessageBytes: number;
  /** Token bucket per socket. */
  burst: number;
  perSecond: number;
  /** Bad or rate-limited messages tolerated before the socket is closed (1008). */
  maxViolations: number;
  /** Ping period; a socket that has not answered the previous ping is closed. */
  pingIntervalMs: number;
  /** TTL of the credential minted on join, seconds. */
  credentialTtl: number;
  /** Open WebSockets at most; beyond, upgrades get 503. */
  maxConnections: number;
  /** A socket that is in no room this long after it opened (or left one) is closed (1008). */
  joinTimeoutMs: number;
  /** Bytes waiting to be sent to one socket at most; a send beyond ends that socket (a peer that stopped reading). */
  maxBufferedBytes: number;
  /** Called for each connection refused or cut by a limit (for metrics). */
  onRefused?: (reason: HttpRefusal) => void;
  /**
   * False while the node is not taking new calls (starting, or draining before shutdown): a join
   * is then refused with `unavailable`, so the page tries again and lands on a node that is.
   */
  accepting?: () => boolean;
  /** Where the built page lives (index.html, app.js, style.css). */
  webDir: string;
}

/** The limits `turnkit serve` uses. */
export const SIGNALING_DEFAULTS: SignalingOptions = {
  maxPeers: 4,
  maxMessageBytes: 16 * 1024,
  burst: 60,
  perSecond: 20,
  maxViolations: 20,
  pingIntervalMs: 30_000,
  credentialTtl: 3600,
  maxConnections: 1000,
  // The page joins as soon as its socket opens: 30 s is slack for a slow network, not for idling.
  joinTimeoutMs: 30_000,
  // About 70 maximal offers: far more than a call's signaling, far less than memory to lose per socket.
  maxBufferedBytes: 1024 * 1024,
  webDir: fileURLToPath(new URL('../../web/', import.meta.url)),
};

/** What the HTTP listener needs from the web client. */
export interface WebClient {
  /** Answers a GET for the page or one of its assets; false when the path is none of them. */
  serve(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** Handles an HTTP upgrade (only `/signal` is accepted). */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every socket with 1001 going away and stops the timers; resolves once they are closed. */
  close(): Promise<void>;
}

interface Peer {
  id: string;
  ws: WebSocket;
  /** The host name the page used, for TURN URIs when ours is only a guess. */
  pageHost?: string;
  limiter: RateLimiter;
  violations: number;
  limited: boolean;
  alive: boolean;
  /** When the socket is closed unless it has joined a room by then; undefined while in one. */
  joinBy: number | undefined;
}

/** How long a closing socket may take to answer our close frame before it is cut, ms. */
const CLOSE_TIMEOUT_MS = 2_000;

const ASSETS: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
};
const ASSET_PATH = /^\/([a-z0-9-]+(\.[a-z0-9]+)+)$/;
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Creates the web client: page + signaling. `config` is read on each join. */
export function createWebClient(config: () => SignalingConfig, logger: Logger, options: Partial<SignalingOptions> = {}): WebClient {
  const o: SignalingOptions = { ...SIGNALING_DEFAULTS, ...options };
  const rooms = new Rooms(o.maxPeers);
  const peers = new Map<string, Peer>();
  // closeTimeout (ws ≥ 8.23) is not in @types/ws. Its default, 30 s, would let a socket that never
  // answers a close frame keep its place under maxConnections that long.
  const wssOptions: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    maxPayload: o.maxMessageBytes,
    perMessageDeflate: false,
    clientTracking: true,
    closeTimeout: CLOSE_TIMEOUT_MS,
  };
  // Loaded here, not at start-up: a node without the HTTP listener does not carry ws (~7 MB RSS).
  const { WebSocketServer } = createRequire(import.meta.url)('ws') as typeof import('ws');
  const wss = new WebSocketServer(wssOptions);
  let closing = false;
  const capLog = new LogThrottle();

  const send = (p: Peer, m: ServerMessage): void => {
    if (p.ws.readyState !== p.ws.OPEN) return;
    const data = JSON.stringify(m);
    // Without this, every message for a peer that stopped reading would stay in memory here.
    if (p.ws.bufferedAmount + Buffer.byteLength(data) > o.maxBufferedBytes) {
      logger.warn('signaling client closed', { peer: p.id, reason: 'not reading its messages' });
      o.onRefused?.('slow-reader');
      p.ws.terminate();
      return;
    }
    p.ws.send(data);
  };
  const fail = (p: Peer, code: ErrorCode, message: string): void => {
    send(p, { type: 'error', code, message });
  };
  const violation = (p: Peer): boolean => {
    p.violations += 1;
    if (p.violations > o.maxViolations) {
      logger.warn('signaling client closed', { peer: p.id, reason: 'too many bad or rate-limited messages' });
      p.ws.close(1008, 'too many bad or rate-limited messages');
      return true;
    }
    return false;
  };
  const leave = (p: Peer): void => {
    const left = rooms.leave(p.id);
    if (!left) return;
    p.joinBy = Date.now() + o.joinTimeoutMs;
    for (const other of left.others) {
      const q = peers.get(other);
      if (q) send(q, { type: 'peer-left', id: p.id });
    }
  };
  const iceServers = (p: Peer): { servers: IceServerJson[]; ttl: number } => {
    const c = config();
    if (c.secrets.length === 0 || c.uris.length === 0) {
      // No TURN credential possible: STUN on the UDP listener still gives server-reflexive candidates.
      const stun = c.uris.filter((u) => u.startsWith('turn:') && u.endsWith('?transport=udp')).map((u) => 'stun:' + u.slice(5, -'?transport=udp'.length));
      return { servers: stun.length ? [{ urls: stun }] : [], ttl: 0 };
    }
    const cred = mintRestCredential(c.secrets[0]!, `web.${p.id}`, o.credentialTtl, Date.now());
    const urls = c.uriHostGuessed && p.pageHost ? c.uris.map((u) => withUriHost(u, p.pageHost!)) : [...c.uris];
    return { servers: [{ urls, username: cred.username, credential: cred.password }], ttl: cred.ttl };
  };

  const onMessage = (p: Peer, data: RawData, isBinary: boolean): void => {
    if (!p.limiter.take(Date.now())) {
      if (!p.limited) fail(p, 'rate-limited', `more than ${o.perSecond} messages a second; slow down`);
      p.limited = true;
      violation(p);
      return;
    }
    p.limited = false;
    if (isBinary) {
      fail(p, 'bad-message', 'text frames only');
      violation(p);
      return;
    }
    const parsed = parseClientMessage(data.toString());
    if (!parsed.ok) {
      fail(p, 'bad-message', parsed.error);
      violation(p);
      return;
    }
    const m = parsed.message;
    switch (m.type) {
      case 'join': {
        // A room here ends when this node shuts down; renewals for calls already up still work.
        if (o.accepting && !o.accepting()) {
          fail(p, 'unavailable', 'this server is shutting down; join again in a moment');
          return;
        }
        const r = rooms.join(p.id, m.room);
        if (!r.ok) {
          fail(p, r.code, r.code === 'room-full' ? `room "${m.room}" is full (at most ${o.maxPeers} peers)` : 'already in a room; leave first');
          return;
        }
        let ice: { servers: IceServerJson[]; ttl: number };
        try {
          ice = iceServers(p);
        } catch (err) {
          rooms.leave(p.id);
          logger.error('signaling: cannot mint a credential', { error: (err as Error).message });
          fail(p, 'unavailable', 'cannot mint a TURN credential');
          return;
        }
        p.joinBy = undefined;
        send(p, { type: 'welcome', id: p.id, room: m.room, peers: r.others, maxPeers: o.maxPeers, iceServers: ice.servers, ttl: ice.ttl });
        for (const other of r.others) {
          const q = peers.get(other);
          if (q) send(q, { type: 'peer-joined', id: p.id });
        }
        logger.debug('signaling join', { peer: p.id, room: m.room, peers: r.others.length + 1 });
        return;
      }
      case 'renew': {
        if (rooms.roomOf(p.id) === undefined) return fail(p, 'not-in-room', 'join a room first');
        try {
          const ice = iceServers(p);
          send(p, { type: 'ice-servers', iceServers: ice.servers, ttl: ice.ttl });
        } catch (err) {
          logger.error('signaling: cannot mint a credential', { error: (err as Error).message });
          fail(p, 'unavailable', 'cannot mint a TURN credential');
        }
        return;
      }
      case 'leave': {
        const room = rooms.roomOf(p.id);
        if (room === undefined) return fail(p, 'not-in-room', 'not in a room');
        leave(p);
        send(p, { type: 'left', room });
        return;
      }
      default: {
        if (rooms.roomOf(p.id) === undefined) return fail(p, 'not-in-room', 'join a room first');
        const q = peers.get(m.to);
        if (!q || !rooms.together(p.id, m.to)) return fail(p, 'unknown-peer', `no peer ${m.to} in this room`);
        if (m.type === 'candidate') send(q, { type: 'candidate', from: p.id, candidate: m.candidate });
        else send(q, { type: m.type, from: p.id, sdp: m.sdp });
      }
    }
  };

  wss.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
    const now = Date.now();
    const p: Peer = { id: randomBytes(8).toString('hex'), ws, limiter: new RateLimiter(o.burst, o.perSecond, now), violations: 0, limited: false, alive: true, joinBy: now + o.joinTimeoutMs };
    const pageHost = pageHostOf(req);
    if (pageHost) p.pageHost = pageHost;
    peers.set(p.id, p);
    ws.on('message', (data, isBinary) => {
      try {
        onMessage(p, data, isBinary);
      } catch (err) {
        logger.error('signaling message error', { peer: p.id, error: (err as Error).message });
        fail(p, 'bad-message', 'internal error');
      }
    });
    ws.on('pong', () => {
      p.alive = true;
    });
    // Oversized frames (1009) and protocol errors surface here; the socket closes on its own.
    ws.on('error', (err) => logger.debug('signaling socket error', { peer: p.id, error: err.message }));
    ws.on('close', () => {
      peers.delete(p.id);
      leave(p);
    });
  });

  const pinger = setInterval(() => {
    for (const p of peers.values()) {
      if (!p.alive) {
        logger.debug('signaling client closed', { peer: p.id, reason: 'no pong' });
        p.ws.terminate();
        continue;
      }
      p.alive = false;
      try {
        p.ws.ping();
      } catch {
        p.ws.terminate();
      }
    }
  }, o.pingIntervalMs);
  pinger.unref();
  // Without a deadline, sockets that never join would hold the connection cap forever while answering pings.
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const p of peers.values()) {
      if (p.joinBy === undefined || now < p.joinBy || p.ws.readyState !== p.ws.OPEN) continue;
      logger.debug('signaling client closed', { peer: p.id, reason: 'no join' });
      o.onRefused?.('join-timeout');
      p.ws.close(1008, `join a room within ${Math.ceil(o.joinTimeoutMs / 1000)} s`);
    }
  }, Math.min(1_000, o.joinTimeoutMs));
  sweeper.unref();

  const assets = new Map<string, { type: string; body: Buffer }>();
  const asset = (name: string): { type: string; body: Buffer } | undefined => {
    const cached = assets.get(name);
    if (cached) return cached;
    const type = ASSETS[name.slice(name.lastIndexOf('.'))];
    const file = join(o.webDir, name);
    if (!type || !existsSync(file)) return undefined;
    const a = { type, body: readFileSync(file) };
    assets.set(name, a);
    return a;
  };

  return {
    serve(req, res) {
      const path = (req.url ?? '/').split('?')[0]!;
      const name = path === '/' ? 'index.html' : ASSET_PATH.exec(path)?.[1];
      if (!name) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const a = asset(name);
      if (!a) {
        if (name !== 'index.html') return false;
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end('The web client is not built: run `npm run build`.\n');
        return true;
      }
      res.writeHead(200, {
        'content-type': a.type,
        'content-length': String(a.body.length),
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'content-security-policy': CSP,
        'permissions-policy': 'camera=(self), microphone=(self)',
      });
      res.end(req.method === 'HEAD' ? undefined : a.body);
      return true;
    },
    upgrade(req, socket, head) {
      socket.on('error', () => undefined);
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/signal') return rejectUpgrade(socket, 404, 'Not Found');
      if (!sameOrigin(req)) {
        o.onRefused?.('origin');
        return rejectUpgrade(socket, 403, 'Forbidden');
      }
      if (closing) return rejectUpgrade(socket, 503, 'Service Unavailable');
      if (wss.clients.size >= o.maxConnections) {
        o.onRefused?.('websocket-limit');
        const skipped = capLog.take('cap');
        if (skipped !== undefined) {
          logger.warn('signaling connection refused', { reason: 'connection cap reached', maxConnections: o.maxConnections, refusedSinceLastLine: skipped + 1 });
        }
        return rejectUpgrade(socket, 503, 'Service Unavailable');
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    close() {
      closing = true;
      clearInterval(pinger);
      clearInterval(sweeper);
      const open = [...wss.clients];
      const closed = open.map((ws) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve()))));
      // CLOSE_TIMEOUT_MS bounds the wait: ws cuts a socket that does not answer in time.
      for (const ws of open) ws.close(1001, 'server shutting down');
      wss.close();
      return Promise.all(closed).then(() => undefined);
    },
  };
}
