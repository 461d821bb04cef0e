/**
 * werift (pure-TypeScript WebRTC, an independent TURN client implementation) through turnkit:
 * two RTCPeerConnections with iceTransportPolicy 'relay' and turnkit as the only ICE server
 * open a data channel and exchange messages both ways; getStats() must show a relay/relay
 * selected candidate pair, and turnkit's counters must show the allocations and relayed packets.
 * Run with a static user and with a TURN REST (ephemeral) credential, plus a wrong password
 * (no relay candidate, nothing connects) and a denied peer range (no `allowPeers`).
 *
 * The peers run in a child process (turn-werift-peers.js) under a hard timeout: werift leaves
 * a TURN refresh timer running after close(), which would keep this process alive.
 */
import t from 'tap';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { counterSum, startRelayTurn, type RunningServer, type Teardown } from './lib.js';
import { runTool } from '../helpers/process.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { skipUnless } from '../helpers/tools.js';
import type { WeriftResult } from './turn-werift-peers.js';

t.setTimeout(120_000);

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'turn-werift-peers.js');
const REALM = 'example.org';
const SECRET = 'werift-rest-secret';
const MESSAGES = 10;

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

// resolve only: loading werift here would start its timers in the tap process
let weriftMissing: string | false = false;
try {
  createRequire(import.meta.url).resolve('werift');
} catch (e) {
  weriftMissing = `werift not installed (npm devDependency): ${String(e).split('\n')[0]}`;
}
const needWerift = { skip: weriftMissing || (existsSync(CHILD) ? false : `${CHILD} not built`) };

/** A TURN REST credential: user "<expiry>:<id>", password base64(HMAC-SHA1(secret, user)). */
function restCredential(secret: string, id: string, ttlSeconds = 3600): { username: string; credential: string } {
  const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:${id}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

function startTurn(t: Tap, allowLoopback: boolean, tls?: { certFile: string; keyFile: string }): Promise<{ server: RunningServer; port: number; tcpPort: number; tlsPort?: number }> {
  return startRelayTurn(t as Teardown, { realm: REALM, users: { werift: 'werift-pass' }, secret: SECRET, allowLoopback, ...(tls ? { tls } : {}) });
}

/** Runs the two werift peers in a child; returns its parsed result line (or a failure). `port` alone means turn:…?transport=udp. */
async function runPeers(
  port: number | { url: string; tlsCa?: string },
  cred: { username: string; credential: string },
  timeoutMs: number,
): Promise<{ result?: WeriftResult; raw: string }> {
  const server = typeof port === 'number' ? { url: `turn:127.0.0.1:${port}?transport=udp` } : port;
  const arg = JSON.stringify({ ...server, ...cred, messages: MESSAGES, timeoutMs });
  const r = await runTool(process.execPath, [CHILD, arg], { timeoutMs: timeoutMs + 10_000 });
  const raw = `exit ${r.code}${r.timedOut ? ' (killed after hard timeout)' : ''}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
  const line = r.stdout.split('\n').find((l) => l.startsWith('WERIFT_RESULT '));
  return { result: line ? (JSON.parse(line.slice('WERIFT_RESULT '.length)) as WeriftResult) : undefined, raw };
}

async function counters(server: RunningServer) {
  return {
    created: await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'created' }),
    toPeer: await counterSum(server.metrics, 'turnkit_relayed_packets_total', { direction: 'to-peer' }),
    toClient: await counterSum(server.metrics, 'turnkit_relayed_packets_total', { direction: 'to-client' }),
    bytesToPeer: await counterSum(server.metrics, 'turnkit_relayed_bytes_total', { direction: 'to-peer' }),
    denied: await counterSum(server.metrics, 'turnkit_peer_denied_total'),
    authFailures: await counterSum(server.metrics, 'turnkit_auth_failures_total'),
  };
}

async function relayedDataChannel(t: Tap, cred: { username: string; credential: string }, over: 'udp' | 'tcp' | 'tls' = 'udp'): Promise<void> {
  const cert = over === 'tls' ? makeSelfSignedCert() : undefined;
  if (cert) t.teardown(() => cert.cleanup());
  const { server, port, tcpPort, tlsPort } = await startTurn(t, true, cert);
  const target =
    over === 'udp'
      ? port
      : over === 'tcp'
        ? { url: `turn:127.0.0.1:${tcpPort}?transport=tcp` }
        : { url: `turns:127.0.0.1:${tlsPort}?transport=tcp`, tlsCa: cert!.cert };
  const { result, raw } = await runPeers(target, cred, 30_000);
  t.ok(result, 'the child printed its result', { output: raw });
  if (!result) return;
  t.ok(result.ok, `data channel opened and every message arrived${result.error ? ': ' + result.error : ''}`, { output: raw });
  const want = (dir: string) => Array.from({ length: MESSAGES }, (_, i) => `${dir} ${i}`);
  t.same([...result.aToB].sort(), want('a->b').sort(), `a → b: ${MESSAGES} messages`);
  t.same([...result.bToA].sort(), want('b->a').sort(), `b → a: ${MESSAGES} messages`);
  t.same(result.localCandidateTypes, { a: ['relay'], b: ['relay'] }, 'each side offered exactly one candidate, a relay one');
  for (const side of ['a', 'b'] as const) {
    const sel: WeriftResult['selected']['a'] = result.selected[side];
    t.equal(sel.local?.candidateType, 'relay', `${side}: selected pair's local candidate is relay (${sel.via})`);
    t.equal(sel.remote?.candidateType, 'relay', `${side}: selected pair's remote candidate is relay`);
    t.equal(sel.local?.address, '127.0.0.1', `${side}: relayed address is turnkit's relay IP`);
  }
  const aPort = result.selected.a.local?.port;
  t.ok(aPort !== undefined && aPort === result.selected.b.remote?.port, `a's relay port ${aPort} is b's remote port`);
  const c = await counters(server);
  t.ok(c.created >= 2, `turnkit created ≥ 2 allocations (${c.created})`);
  // werift's getStats has no relayProtocol; turnkit's per-transport counters say how it was reached.
  const overTransport = await counterSum(server.metrics, 'turnkit_stun_requests_total', { transport: over, method: 'Allocate', result: 'success' });
  const elsewhere = await counterSum(server.metrics, 'turnkit_stun_requests_total', { method: 'Allocate', result: 'success' }) - overTransport;
  t.ok(overTransport >= c.created && elsewhere === 0, `every Allocate success went over ${over} (${overTransport}, other transports ${elsewhere}); werift's relayProtocol: ${result.selected.a.local?.relayProtocol ?? 'not reported'}`);
  t.ok(c.toPeer >= 2 * MESSAGES, `turnkit_relayed_packets_total{to-peer} = ${c.toPeer} ≥ ${2 * MESSAGES}`);
  t.ok(c.toClient >= 2 * MESSAGES, `turnkit_relayed_packets_total{to-client} = ${c.toClient} ≥ ${2 * MESSAGES}`);
  t.comment(
    `werift: open after ${result.openMs} ms, all ${2 * MESSAGES} messages after ${result.doneMs} ms; ` +
      `relay ports a=${result.selected.a.local?.port} b=${result.selected.b.local?.port}; ` +
      `turnkit: allocations created ${c.created}, packets to-peer ${c.toPeer} to-client ${c.toClient}, bytes to-peer ${c.bytesToPeer}`,
  );
}

t.test('werift ↔ werift, relay-only through turnkit', needWerift, async (t) => {
  t.test('static user (long-term credentials)', async (t) => {
    await relayedDataChannel(t, { username: 'werift', credential: 'werift-pass' });
  });

  t.test('TURN REST ephemeral credential (user "<expiry>:werift-rest")', async (t) => {
    await relayedDataChannel(t, restCredential(SECRET, 'werift-rest'));
  });

  t.test('TURN over TCP (turn:…?transport=tcp)', async (t) => {
    await relayedDataChannel(t, { username: 'werift', credential: 'werift-pass' }, 'tcp');
  });

  t.test('TURN over TLS (turns:, certificate checked against the test CA)', skipUnless('openssl'), async (t) => {
    await relayedDataChannel(t, restCredential(SECRET, 'werift-tls'), 'tls');
  });

  t.test('wrong password: no relay candidate, no connection', async (t) => {
    const { server, port } = await startTurn(t, true);
    const { result, raw } = await runPeers(port, { username: 'werift', credential: 'wrong' }, 5_000);
    t.ok(result, 'the child printed its result', { output: raw });
    t.notOk(result?.ok, 'nothing connected', { output: raw });
    t.same(result?.aToB ?? [], [], 'no message a → b');
    t.same(result?.localCandidateTypes.a ?? [], [], 'no relay candidate');
    const c = await counters(server);
    t.equal(c.created, 0, 'no allocation');
    t.ok(c.authFailures >= 1, `turnkit_auth_failures_total = ${c.authFailures}`);
  });

  t.test('expired REST credential: no connection', async (t) => {
    const { server, port } = await startTurn(t, true);
    const { result, raw } = await runPeers(port, restCredential(SECRET, 'late', -60), 5_000);
    t.notOk(result?.ok, 'nothing connected', { output: raw });
    const c = await counters(server);
    t.equal(c.created, 0, 'no allocation');
    t.ok(
      (await counterSum(server.metrics, 'turnkit_auth_failures_total', { reason: 'expired-user' })) >= 1,
      'turnkit_auth_failures_total{reason="expired-user"} counted it',
    );
  });

  t.test('loopback relay addresses denied (no allowPeers): no connection, peer_denied rises', async (t) => {
    const { server, port } = await startTurn(t, false);
    const { result, raw } = await runPeers(port, { username: 'werift', credential: 'werift-pass' }, 5_000);
    t.ok(result, 'the child printed its result', { output: raw });
    t.notOk(result?.ok, 'the data channel did not open', { output: raw });
    t.same(result?.aToB ?? [], [], 'no message a → b');
    const c = await counters(server);
    t.ok(c.created >= 2, `allocations still succeed (${c.created})`);
    t.ok(c.denied >= 1, `turnkit_peer_denied_total = ${c.denied}`);
    t.equal(c.toPeer, 0, 'nothing relayed to a peer');
  });

  t.end();
});
