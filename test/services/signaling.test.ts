/**
 * Signaling (/signal) against the real HTTP listener with real WebSocket clients (`ws`): join and
 * welcome with a valid TURN REST credential (HMAC computed here), relay within a room only, leave
 * and disconnect reported, room size limit, and rejection of malformed, oversized and flooding
 * clients, a foreign Origin, a client that stops answering pings, one that never joins, one that
 * stops reading, and connections over the cap; 1001 at shutdown. Plus the pure protocol parts.
 */
import t from 'tap';
import { createHmac } from 'node:crypto';
import net from 'node:net';
import WebSocket from 'ws';
import { startCredentialService, type HttpListener } from '../../src/services/http.js';
import { createLogger, type Logger } from '../../src/services/logger.js';
import type { HttpRefusal } from '../../src/services/metrics.js';
import { createWebClient, type SignalingOptions } from '../../src/services/signaling.js';
import { parseClientMessage, RateLimiter, Rooms } from '../../src/services/signaling-protocol.js';
import { loadEnv } from '../../src/config-file.js';
import { startServer } from '../../src/index.js';

const SECRET = 'signal-secret';
const URIS = ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp'];

type Msg = Record<string, unknown> & { type: string };

async function start(
  t: Tap,
  options: Partial<SignalingOptions> = {},
  secrets = [SECRET, 'old'],
  logger: Logger = createLogger('silent'),
): Promise<{ url: string; http: string; listener: HttpListener }> {
  const endpoint = { secrets, apiKeys: ['k'.repeat(20)], corsOrigins: [], maxTtl: 3600, uris: URIS };
  const l: HttpListener = await startCredentialService({ host: '127.0.0.1', port: 0 }, () => endpoint, { ready: true }, logger, createWebClient(() => endpoint, logger, options));
  t.teardown(() => l.close());
  return { url: `ws://127.0.0.1:${l.address.port}/signal`, http: `http://127.0.0.1:${l.address.port}`, listener: l };
}

/** The status of a refused WebSocket upgrade. */
function refusedStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(url, { headers });
  ws.on('error', () => undefined);
  return new Promise<number>((resolve) => {
    ws.on('unexpected-response', (req, res) => (req.destroy(), resolve(res.statusCode ?? 0)));
    ws.on('open', () => (ws.terminate(), resolve(101)));
  });
}

/**
 * A WebSocket client by hand on a raw TCP socket: upgraded and joined to `room`. It never reads
 * again once paused, which `ws`'s own client cannot be made to do.
 */
async function rawJoined(t: Tap, port: number, room: string): Promise<net.Socket> {
  const raw = net.connect(port, '127.0.0.1');
  t.teardown(() => raw.destroy());
  await new Promise<void>((r) => raw.once('connect', () => r()));
  raw.write(`GET /signal HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise<void>((r) => raw.once('data', () => r()));
  const payload = Buffer.from(JSON.stringify({ type: 'join', room }));
  const mask = Buffer.from([1, 2, 3, 4]);
  raw.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]));
  return raw;
}
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** A client that queues what it receives, so a test can wait for the next message of a type. */
class Client {
  readonly ws: WebSocket;
  readonly inbox: Msg[] = [];
  #waiters: Array<() => void> = [];
  closed: Promise<{ code: number; reason: string }>;
  constructor(url: string, t: Tap, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(url, { headers });
    this.ws.on('message', (d) => {
      this.inbox.push(JSON.parse(d.toString()) as Msg);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    t.teardown(() => {
      try {
        this.ws.terminate();
      } catch {
        // never connected
      }
    });
  }
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }
  /** The next message of that type (already received or still to come). */
  async next(type: string, ms = 3000): Promise<Msg> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${type}" message within ${ms} ms; got ${JSON.stringify(this.inbox)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }
}

async function joined(url: string, t: Tap, room: string): Promise<{ c: Client; welcome: Msg }> {
  const c = new Client(url, t);
  await c.open();
  c.send({ type: 'join', room });
  return { c, welcome: await c.next('welcome') };
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

t.test('join: welcome with peers and a valid short-lived TURN credential; no secret in it', async (t) => {
  const { url } = await start(t);
  const before = Math.floor(Date.now() / 1000);
  const { welcome: w1 } = await joined(url, t, 'demo');
  t.same(w1.peers, [], 'first in the room');
  t.equal(w1.maxPeers, 4);
  t.equal(w1.room, 'demo');
  const servers = w1.iceServers as Array<{ urls: string[]; username: string; credential: string }>;
  t.equal(servers.length, 1);
  t.same(servers[0]!.urls, URIS);
  const [expiry, user] = servers[0]!.username.split(':');
  t.equal(user, `web.${w1.id}`, 'user id names the peer');
  t.ok(Number(expiry) >= before + 3600 && Number(expiry) <= before + 3602, `expires in ~1 h (${expiry})`);
  t.equal(servers[0]!.credential, createHmac('sha1', SECRET).update(servers[0]!.username).digest('base64'), 'password = HMAC-SHA1 with the first secret');
  t.notMatch(JSON.stringify(w1), /signal-secret|old|kkkk/, 'no secret or API key in the welcome');
  const { welcome: w2 } = await joined(url, t, 'demo');
  t.same(w2.peers, [w1.id], 'second sees the first');
});

t.test('renew: a fresh credential for a peer in a room', async (t) => {
  const { url } = await start(t);
  const c = new Client(url, t);
  await c.open();
  c.send({ type: 'renew' });
  t.equal((await c.next('error')).code, 'not-in-room', 'not before joining');
  c.send({ type: 'join', room: 'r' });
  const w = await c.next('welcome');
  c.send({ type: 'renew' });
  const m = await c.next('ice-servers');
  const s = (m.iceServers as Array<{ urls: string[]; username: string; credential: string }>)[0]!;
  t.equal(m.ttl, 3600);
  t.match(s.username, new RegExp(`^\\d+:web\\.${w.id}$`));
  t.equal(s.credential, createHmac('sha1', SECRET).update(s.username).digest('base64'), 'valid');
});

t.test('no secret configured: STUN only', async (t) => {
  const { url } = await start(t, {}, []);
  const { welcome } = await joined(url, t, 'demo');
  t.same(welcome.iceServers, [{ urls: ['stun:127.0.0.1:3478'] }]);
});

t.test('relay within a room only; leave and disconnect reported', async (t) => {
  const { url } = await start(t);
  const a = await joined(url, t, 'one');
  const b = await joined(url, t, 'one');
  const x = await joined(url, t, 'two');
  t.same((await a.c.next('peer-joined')).id, b.welcome.id, 'a told b joined');
  b.c.send({ type: 'offer', to: a.welcome.id, sdp: 'v=0 offer' });
  t.same(await a.c.next('offer'), { type: 'offer', from: b.welcome.id, sdp: 'v=0 offer' });
  a.c.send({ type: 'answer', to: b.welcome.id, sdp: 'v=0 answer' });
  t.same(await b.c.next('answer'), { type: 'answer', from: a.welcome.id, sdp: 'v=0 answer' });
  const cand = { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  a.c.send({ type: 'candidate', to: b.welcome.id, candidate: cand });
  t.same(await b.c.next('candidate'), { type: 'candidate', from: a.welcome.id, candidate: cand });
  a.c.send({ type: 'candidate', to: b.welcome.id, candidate: null });
  t.same(await b.c.next('candidate'), { type: 'candidate', from: a.welcome.id, candidate: null }, 'end of candidates');

  x.c.send({ type: 'offer', to: a.welcome.id, sdp: 'v=0 sneaky' });
  t.equal((await x.c.next('error')).code, 'unknown-peer', 'a peer of another room is unreachable');
  a.c.send({ type: 'offer', to: x.welcome.id, sdp: 'v=0' });
  t.equal((await a.c.next('error')).code, 'unknown-peer', 'and the other way');
  await settle();
  t.same(x.c.inbox, [], 'the other room saw nothing');
  t.notOk(a.c.inbox.some((m) => m.type === 'offer'), 'no offer leaked into room one');

  b.c.send({ type: 'leave' });
  t.equal((await b.c.next('left')).room, 'one');
  t.same((await a.c.next('peer-left')).id, b.welcome.id, 'leave reported');
  b.c.send({ type: 'join', room: 'one' });
  const b2 = await b.c.next('welcome');
  t.same((await a.c.next('peer-joined')).id, b2.id, 'rejoined');
  b.c.ws.terminate(); // mid-call disconnect
  t.same((await a.c.next('peer-left')).id, b2.id, 'disconnect reported');
  await settle();
  t.same(x.c.inbox, [], 'still nothing in room two');
});

t.test('room size limit', async (t) => {
  const { url } = await start(t, { maxPeers: 2 });
  await joined(url, t, 'small');
  await joined(url, t, 'small');
  const c = new Client(url, t);
  await c.open();
  c.send({ type: 'join', room: 'small' });
  const e = await c.next('error');
  t.equal(e.code, 'room-full');
  t.match(e.message, /at most 2/);
  c.send({ type: 'join', room: 'other' });
  t.ok(await c.next('welcome'), 'another room is fine');
  c.send({ type: 'join', room: 'other' });
  t.equal((await c.next('error')).code, 'already-in-room');
});

t.test('malformed messages: an error each, the socket stays, then closed 1008 after too many', async (t) => {
  const { url } = await start(t, { maxViolations: 8 });
  const c = new Client(url, t);
  await c.open();
  const bad: unknown[] = [
    'not json{',
    '[1,2]',
    { type: 'dance' },
    { type: 'join' },
    { type: 'join', room: '../etc' },
    { type: 'join', room: 'ok', extra: 1 },
    { type: 'offer', to: 'zz', sdp: 'x' },
    { type: 'candidate', to: 'abcd', candidate: { candidate: 5 } },
  ];
  for (const m of bad) {
    c.send(m);
    const e = await c.next('error');
    t.equal(e.code, 'bad-message', `rejected: ${JSON.stringify(m)} (${e.message})`);
  }
  c.send({ type: 'offer', to: 'abcd', sdp: 'v=0' });
  t.equal((await c.next('error')).code, 'not-in-room', 'relay before join');
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  t.equal((await c.next('error')).code, 'bad-message', 'binary frame');
  const closed = await c.closed;
  t.equal(closed.code, 1008, `closed after too many bad messages (${closed.reason})`);
  const d = await joined(url, t, 'still-up');
  t.ok(d.welcome.id, 'the server still serves others');
});

t.test('oversized message: socket closed with 1009', async (t) => {
  const { url } = await start(t);
  const c = new Client(url, t);
  await c.open();
  c.send({ type: 'offer', to: 'abcd', sdp: 'x'.repeat(20 * 1024) });
  const closed = await c.closed;
  t.equal(closed.code, 1009, 'message too big');
});

t.test('flooding: rate-limited error, then closed', async (t) => {
  const { url } = await start(t, { burst: 10, perSecond: 5, maxViolations: 20 });
  const c = new Client(url, t);
  await c.open();
  for (let i = 0; i < 200; i++) c.send({ type: 'leave' });
  const closed = await c.closed;
  t.equal(closed.code, 1008, `closed for flooding (${closed.reason})`);
  const codes = c.inbox.map((m) => m.code);
  t.equal(codes.filter((x) => x === 'rate-limited').length, 1, 'one rate-limited error (not one per dropped message)');
  t.equal(codes.filter((x) => x === 'not-in-room').length, 10, 'the burst of 10 was served');
  t.ok(c.inbox.length < 60, `the server did not answer every flooded message (${c.inbox.length} answers)`);
});

t.test('foreign Origin refused; same-origin accepted; other paths refused', async (t) => {
  const refused: string[] = [];
  const { url } = await start(t, { onRefused: (r) => refused.push(r) });
  const host = new URL(url).host;
  t.equal(await refusedStatus(url, { origin: 'https://evil.example' }), 403);
  const ok = new Client(url, t, { origin: `http://${host}` });
  await ok.open();
  t.pass('same origin accepted');
  t.equal(await refusedStatus(url, { origin: `HTTP://${host.toUpperCase()}` }), 101, 'compared as URLs: case does not matter');
  t.equal(await refusedStatus(url, { origin: `https://${host}` }), 101, 'same host over https: a TLS proxy that passes Host');
  t.equal(await refusedStatus(url, { origin: `ftp://${host}` }), 403, 'same host, a non-web scheme: ftp');
  t.equal(await refusedStatus(url, { origin: `file://${host}` }), 403, 'same host, a non-web scheme: file');
  t.equal(await refusedStatus(url, { origin: 'null' }), 403, 'an opaque origin (sandboxed frame, file:)');
  const proxied = new Client(url, t, { origin: 'https://meet.example.com', 'x-forwarded-host': 'meet.example.com' });
  await proxied.open();
  t.pass('behind a TLS proxy: Origin matching X-Forwarded-Host accepted');
  t.equal(
    await refusedStatus(url, { origin: 'https://evil.example', 'x-forwarded-host': 'meet.example.com' }),
    403,
    'a foreign Origin still refused behind a proxy',
  );
  t.equal(await refusedStatus(url.replace('/signal', '/other')), 404);
  t.same([...new Set(refused)], ['origin'], 'every foreign-Origin refusal is counted as origin');
  t.equal(refused.length, 5, 'one count per refusal (the five 403s above)');
});

t.test('a socket that never answers pings is closed; peers are told', async (t) => {
  const { url } = await start(t, { pingIntervalMs: 200 });
  const a = await joined(url, t, 'ping');
  // Joined, then never pongs.
  await rawJoined(t, Number(new URL(url).port), 'ping');
  const joinedMsg = await a.c.next('peer-joined');
  const closedAt = Date.now();
  const left = await a.c.next('peer-left', 3000);
  t.equal(left.id, joinedMsg.id, `silent peer dropped after ${Date.now() - closedAt} ms and reported`);
  await a.c.next('welcome', 10).catch(() => undefined);
  t.equal(a.c.ws.readyState, WebSocket.OPEN, 'a client that answers pings stays');
});

t.test('a socket that joins no room in time is closed (1008) and counted; one in a room stays', async (t) => {
  const refused: HttpRefusal[] = [];
  const { url } = await start(t, { joinTimeoutMs: 300, onRefused: (r) => refused.push(r) });
  const idle = new Client(url, t);
  await idle.open();
  const member = await joined(url, t, 'stay');
  const leaver = await joined(url, t, 'brief');
  const opened = Date.now();
  leaver.c.send({ type: 'leave' });
  await leaver.c.next('left');
  const closed = await idle.closed;
  t.equal(closed.code, 1008, `idle socket closed after ${Date.now() - opened} ms (${closed.reason})`);
  t.match(closed.reason, /join a room within 1 s/);
  t.equal((await leaver.c.closed).code, 1008, 'so is one that left its room and stayed idle');
  await settle(400);
  t.equal(member.c.ws.readyState, WebSocket.OPEN, 'a socket in a room stays');
  t.same(refused, ['join-timeout', 'join-timeout'], 'counted once each');
});

t.test('connection cap: 503 beyond it, counted each time, logged once a minute', async (t) => {
  const lines: string[] = [];
  const refused: HttpRefusal[] = [];
  const { url } = await start(t, { maxConnections: 2, onRefused: (r) => refused.push(r) }, undefined, createLogger('warn', (l) => lines.push(l)));
  await joined(url, t, 'cap');
  await joined(url, t, 'cap');
  for (let i = 0; i < 3; i++) t.equal(await refusedStatus(url), 503, `refused ${i + 1}`);
  t.same(refused, ['websocket-limit', 'websocket-limit', 'websocket-limit']);
  const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'signaling connection refused');
  t.equal(logged.length, 1, 'one log line for the burst');
  t.match(logged[0], { level: 'warn', maxConnections: 2 });
});

t.test('a peer that stops reading is cut once its send buffer passes the cap; the room carries on', async (t) => {
  const refused: HttpRefusal[] = [];
  const maxBufferedBytes = 256 * 1024;
  // The rate limit is opened up: 12 KB offers within it would take minutes to fill the kernel's buffers.
  const { url } = await start(t, { maxBufferedBytes, burst: 100_000, perSecond: 100_000, onRefused: (r) => refused.push(r) });
  const sender = await joined(url, t, 'slow');
  const slow = await rawJoined(t, Number(new URL(url).port), 'slow');
  const slowId = (await sender.c.next('peer-joined')).id as string;
  slow.pause();
  const sdp = 'v=0 ' + 'x'.repeat(11_990);
  // Bounded: 2000 offers of 12 KB (24 MB) is more than the loopback socket buffers and the cap hold.
  let sent = 0;
  let left: Msg | undefined;
  while (!left && sent < 2000) {
    for (let i = 0; i < 50; i++, sent++) sender.c.send({ type: 'offer', to: slowId, sdp });
    await settle(5);
    left = sender.c.inbox.find((m) => m.type === 'peer-left');
  }
  left ??= await sender.c.next('peer-left', 2000);
  t.equal(left.id, slowId, `the slow peer was cut after ${sent} offers (${(sent * 12) / 1000} MB) and the room told`);
  t.same(refused, ['slow-reader'], 'counted once');
  t.equal(sender.c.ws.readyState, WebSocket.OPEN, 'the sender stays');
  sender.c.send({ type: 'offer', to: slowId, sdp: 'v=0' });
  t.equal((await sender.c.next('error')).code, 'unknown-peer', 'the cut peer is gone from the room');
});

t.test('not accepting (draining): a join is refused with unavailable; a call already up renews', async (t) => {
  let accepting = true;
  const { url } = await start(t, { accepting: () => accepting });
  const a = await joined(url, t, 'drain');
  accepting = false;
  const late = new Client(url, t);
  await late.open();
  late.send({ type: 'join', room: 'drain' });
  const e = await late.next('error');
  t.equal(e.code, 'unavailable');
  t.match(e.message, /shutting down/);
  await settle();
  t.same(a.c.inbox.filter((m) => m.type === 'peer-joined'), [], 'the room was not told of a peer that never joined');
  a.c.send({ type: 'renew' });
  t.equal((await a.c.next('ice-servers')).type, 'ice-servers', 'the member renews its credential');
  accepting = true;
  late.send({ type: 'join', room: 'drain' });
  t.same((await late.next('welcome')).peers, [a.welcome.id], 'accepting again: the join goes through');
});

t.test('the server: draining refuses new joins', async (t) => {
  const s = await startServer({ listen: [{ host: '127.0.0.1', port: 0 }], httpListen: { host: '127.0.0.1', port: 0 }, metricsListen: null, secrets: ['server-secret'], logLevel: 'silent' });
  t.teardown(() => s.close());
  const url = `ws://127.0.0.1:${s.http!.port}/signal`;
  await joined(url, t, 'r');
  await s.drain(0);
  const late = new Client(url, t);
  await late.open();
  late.send({ type: 'join', room: 'r' });
  t.equal((await late.next('error')).code, 'unavailable');
});

t.test('shutdown: every socket gets a close frame, 1001 going away', async (t) => {
  const { url, listener } = await start(t);
  const a = await joined(url, t, 'bye');
  const idle = new Client(url, t);
  await idle.open();
  await listener.close();
  for (const c of [a.c, idle]) {
    const closed = await c.closed;
    t.equal(closed.code, 1001, `closed with 1001 (${closed.reason}), not cut (1006)`);
  }
});

t.test('page and assets on the same listener; API untouched', async (t) => {
  const { http } = await start(t, { webDir: '/nonexistent' });
  const r = await fetch(`${http}/`);
  t.equal(r.status, 503, 'unbuilt page: says so');
  t.equal((await fetch(`${http}/healthz`)).status, 200);
  t.equal((await fetch(`${http}/ice-servers?username=a`)).status, 401, 'credential API still needs its key');
  t.equal((await fetch(`${http}/nope.js`)).status, 404);
});

t.test('the server: web client on by default, off with web: false (TURNKIT_WEB=false / --no-web)', async (t) => {
  t.same(loadEnv({ TURNKIT_WEB: 'false' }), { web: false });
  t.throws(() => loadEnv({ TURNKIT_WEB: 'maybe' }), /TURNKIT_WEB: use true or false/);
  for (const web of [true, false]) {
    const s = await startServer({ listen: [{ host: '127.0.0.1', port: 0 }], httpListen: { host: '127.0.0.1', port: 0 }, metricsListen: null, secrets: ['server-secret'], logLevel: 'silent', ...(web ? {} : { web }) });
    t.teardown(() => s.close());
    const base = `127.0.0.1:${s.http!.port}`;
    const page = await fetch(`http://${base}/`);
    // 503 when dist/web is not built (tsc -p . alone), 200 after npm run build
    t.ok(web ? [200, 503].includes(page.status) : page.status === 404, `web ${web}: GET / → ${page.status}`);
    const c = new Client(`ws://${base}/signal`, t);
    if (web) {
      await c.open();
      c.send({ type: 'join', room: 'r' });
      const w = await c.next('welcome');
      const ice = (w.iceServers as Array<{ urls: string[]; username: string; credential: string }>)[0]!;
      const own = s.listeners.map((l) => `turn:127.0.0.1:${l.port}?transport=${l.transport}`);
      t.ok(ice.urls.length > 0 && ice.urls.every((u) => own.includes(u)), `the server's own TURN URIs (${ice.urls.join(' ')})`);
      t.equal(ice.credential, createHmac('sha1', 'server-secret').update(ice.username).digest('base64'));
    } else {
      await t.rejects(c.open(), 'no WebSocket upgrade');
    }
  }
});

t.test('protocol: pure parts', async (t) => {
  t.same(parseClientMessage('{"type":"join","room":"a-b_c.1"}'), { ok: true, message: { type: 'join', room: 'a-b_c.1' } });
  t.notOk(parseClientMessage('{"type":"offer","to":"ab","sdp":""}').ok, 'empty sdp');
  t.notOk(parseClientMessage('{"type":"candidate","to":"ab"}').ok, 'candidate missing');
  t.notOk(parseClientMessage('null').ok);
  const rooms = new Rooms(2);
  t.same(rooms.join('a', 'r'), { ok: true, others: [] });
  t.same(rooms.join('b', 'r'), { ok: true, others: ['a'] });
  t.same(rooms.join('c', 'r'), { ok: false, code: 'room-full' });
  t.ok(rooms.together('a', 'b'));
  t.notOk(rooms.together('a', 'a'));
  t.same(rooms.leave('a'), { room: 'r', others: ['b'] });
  t.equal(rooms.leave('a'), undefined);
  rooms.leave('b');
  t.equal(rooms.size, 0, 'empty rooms are forgotten');
  const rl = new RateLimiter(2, 1, 0);
  t.ok(rl.take(0));
  t.ok(rl.take(0));
  t.notOk(rl.take(0));
  t.notOk(rl.take(500));
  t.ok(rl.take(1000), 'refilled');
});
