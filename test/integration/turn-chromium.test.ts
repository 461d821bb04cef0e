/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) through turnkit: a
 * page served from 127.0.0.1 creates two RTCPeerConnections with iceTransportPolicy 'relay' and
 * turnkit as the only ICE server, signals between them in-page, opens a data channel and sends
 * messages both ways (fixture: turn-browser-page.html). getStats() must show, on both sides, a
 * selected candidate pair (transport.selectedCandidatePairId) whose local and remote candidates
 * are of type 'relay'. Runs with a static user and a TURN REST credential; a wrong password must
 * surface as icecandidateerror 401, a denied peer range as no connection. When the page closes
 * its connections Chromium deletes its allocations (Refresh LIFETIME 0), which turnkit counts.
 *
 * The browser is one process group for the whole file (launchServer, so we hold its PID) and is
 * closed in teardown: by the handle, then force-killed (playwright kills its own process group).
 */
import t from 'tap';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium, within } from '../helpers/chromium.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { skipUnless } from '../helpers/tools.js';
import { counterSum, metricsJson, repoRoot, startRelayTurn, sleep, type RunningServer, type Teardown } from './lib.js';

t.setTimeout(150_000);

const FIXTURE = join(repoRoot, 'test', 'integration', 'turn-browser-page.html');
const REALM = 'example.org';
const SECRET = 'chromium-rest-secret';
const MESSAGES = 10;

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const needChromium = { skip: chromiumMissing() };

/** What window.runTurnTest resolves with (see turn-browser-page.html). */
interface CandidateInfo {
  candidateType?: string;
  address?: string;
  port?: number;
  protocol?: string;
  relayProtocol?: string;
  url?: string;
}
interface PageResult {
  ok: boolean;
  error?: string;
  aToB: string[];
  bToA: string[];
  candidates: { a: string[]; b: string[] };
  iceErrors: Array<{ side: string; url?: string; errorCode?: number; errorText?: string; addIceCandidate?: string }>;
  selected: Record<'a' | 'b', { via: string; local?: CandidateInfo; remote?: CandidateInfo; state?: string; bytesSent?: number; bytesReceived?: number; currentRoundTripTime?: number }>;
  states: { a: string; b: string };
  openMs?: number;
  doneMs?: number;
}

interface IceServer {
  urls: string;
  username: string;
  credential: string;
}

function restCredential(secret: string, id: string, ttlSeconds = 3600): { username: string; credential: string } {
  const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:${id}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}


/** The fixture page over HTTP on 127.0.0.1 (a secure context, unlike a file: URL). */
async function servePage(t: Teardown): Promise<string> {
  const html = readFileSync(FIXTURE);
  const server = http.createServer((req, res) => {
    if (req.url === '/' || req.url?.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    } else {
      res.writeHead(204).end(); // favicon.ico and the like: nothing, and no console error
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}


function startTurn(t: Tap, allowLoopback: boolean, tls?: { certFile: string; keyFile: string }): Promise<{ server: RunningServer; port: number; tcpPort: number; tlsPort?: number }> {
  return startRelayTurn(t as Teardown, { realm: REALM, users: { chrome: 'chrome-pass' }, secret: SECRET, allowLoopback, ...(tls ? { tls } : {}) });
}

async function runInPage(t: Tap, browser: Browser, url: string, iceServer: IceServer, timeoutMs: number): Promise<PageResult> {
  const page: Page = await browser.newPage();
  t.teardown(() => within(page.close(), 5_000, 'closing the page').catch(() => undefined));
  const consoleLines: string[] = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(url, { timeout: 15_000 });
  const result = await within(
    page.evaluate(
      (o) => (globalThis as unknown as { runTurnTest(o: unknown): Promise<unknown> }).runTurnTest(o),
      { iceServers: [iceServer], messages: MESSAGES, timeoutMs },
    ),
    timeoutMs + 15_000,
    'runTurnTest in the page',
  );
  if (consoleLines.length) t.comment(`page console: ${consoleLines.slice(-10).join(' | ')}`);
  return result as PageResult;
}

async function counters(server: RunningServer) {
  return {
    created: await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'created' }),
    deleted: await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'deleted' }),
    toPeer: await counterSum(server.metrics, 'turnkit_relayed_packets_total', { direction: 'to-peer' }),
    toClient: await counterSum(server.metrics, 'turnkit_relayed_packets_total', { direction: 'to-client' }),
    denied: await counterSum(server.metrics, 'turnkit_peer_denied_total'),
    authFailures: await counterSum(server.metrics, 'turnkit_auth_failures_total'),
    dropped: Object.fromEntries(
      ((await metricsJson(server.metrics)).find((m) => m.name === 'turnkit_relay_dropped_total')?.values ?? [])
        .filter((v) => v.value > 0)
        .map((v) => [String(v.labels.reason), v.value]),
    ),
  };
}

t.test('Chromium ↔ Chromium data channel, relay-only through turnkit', needChromium, async (t) => {
  const url = await servePage(t);
  // The turns: server's certificate is a throwaway self-signed one.
  const { browser, pid } = await launchChromium(t, ['--ignore-certificate-errors']);
  t.comment(`Chromium ${browser.version()} (pid ${pid})`);

  const relayed = async (t: Tap, cred: { username: string; credential: string }, over: 'udp' | 'tcp' | 'tls' = 'udp') => {
    const cert = over === 'tls' ? makeSelfSignedCert() : undefined;
    if (cert) t.teardown(() => cert.cleanup());
    const { server, port, tcpPort, tlsPort } = await startTurn(t, true, cert);
    const urls =
      over === 'udp' ? `turn:127.0.0.1:${port}?transport=udp` : over === 'tcp' ? `turn:127.0.0.1:${tcpPort}?transport=tcp` : `turns:127.0.0.1:${tlsPort}?transport=tcp`;
    const r = await runInPage(t, browser, url, { urls, ...cred }, 60_000);
    const detail = { result: JSON.stringify(r, null, 1) };
    t.ok(r.ok, `data channel open and all messages in${r.error ? ': ' + r.error : ''}`, detail);
    const want = (dir: string) => Array.from({ length: MESSAGES }, (_, i) => `${dir} ${i}`);
    t.same([...r.aToB].sort(), want('a->b').sort(), `a → b: ${MESSAGES} messages arrived`);
    t.same([...r.bToA].sort(), want('b->a').sort(), `b → a: ${MESSAGES} messages arrived`);
    t.same(r.iceErrors, [], 'no icecandidateerror');
    t.ok(r.candidates.a.length > 0 && r.candidates.a.every((c) => c.startsWith('relay ')), `a gathered only relay candidates (${r.candidates.a.join(', ')})`);
    t.ok(r.candidates.b.length > 0 && r.candidates.b.every((c) => c.startsWith('relay ')), `b gathered only relay candidates (${r.candidates.b.join(', ')})`);
    for (const side of ['a', 'b'] as const) {
      const sel: PageResult['selected']['a'] = r.selected[side];
      t.equal(sel.via, 'selectedCandidatePairId', `${side}: transport stats name the selected pair`);
      t.equal(sel.local?.candidateType, 'relay', `${side}: selected local candidate is relay`, detail);
      t.equal(sel.remote?.candidateType, 'relay', `${side}: selected remote candidate is relay`, detail);
      t.equal(sel.local?.relayProtocol, over, `${side}: relayProtocol ${over}`);
      t.ok((sel.bytesSent ?? 0) > 0 && (sel.bytesReceived ?? 0) > 0, `${side}: bytes moved on the pair (${sel.bytesSent} sent, ${sel.bytesReceived} received)`);
    }
    const aPort = r.selected.a.local?.port;
    const bPort = r.selected.b.local?.port;
    t.ok(aPort !== undefined && aPort === r.selected.b.remote?.port, `a's relay port ${aPort} is b's remote candidate`);
    t.ok(bPort !== undefined && bPort === r.selected.a.remote?.port, `b's relay port ${bPort} is a's remote candidate`);
    const c = await counters(server);
    t.ok(c.created >= 2, `turnkit created ≥ 2 allocations (${c.created})`);
    t.ok(c.toPeer >= 2 * MESSAGES && c.toClient >= 2 * MESSAGES, `turnkit relayed packets: to-peer ${c.toPeer}, to-client ${c.toClient}`);
    // runTurnTest closed both connections: Chromium sends Refresh LIFETIME 0 for its allocations.
    // Over TCP/TLS it also closes the connection, which ends the allocation as well (RFC 8656 §7),
    // and which of the two the server sees first is a race: either way every allocation ends.
    const ended = async () =>
      (await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'deleted' })) +
      (over === 'udp' ? 0 : await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'closed' }));
    const until = Date.now() + 5_000;
    while ((await ended()) < c.created && Date.now() < until) await sleep(20);
    const done = await ended();
    t.equal(done, c.created, `every allocation ended by the browser's Refresh(0)${over === 'udp' ? '' : ' or its connection closing'} after close() (${done}/${c.created})`);
    t.comment(
      `chromium: open after ${r.openMs} ms, all messages after ${r.doneMs} ms; candidate-pair RTT a=${r.selected.a.currentRoundTripTime} s ` +
        `b=${r.selected.b.currentRoundTripTime} s; bytes a→ ${r.selected.a.bytesSent} b→ ${r.selected.b.bytesSent}; ` +
        `turnkit: allocations ${c.created}, packets to-peer ${c.toPeer} to-client ${c.toClient}, relay drops ${JSON.stringify(c.dropped)}`,
    );
  };

  t.test('static user', async (t) => {
    await relayed(t, { username: 'chrome', credential: 'chrome-pass' });
  });

  t.test('TURN REST ephemeral credential', async (t) => {
    await relayed(t, restCredential(SECRET, 'chrome-rest'));
  });

  t.test('TURN over TCP (turn:…?transport=tcp): relayProtocol tcp', async (t) => {
    await relayed(t, { username: 'chrome', credential: 'chrome-pass' }, 'tcp');
  });

  t.test('TURN over TLS (turns:, self-signed certificate): relayProtocol tls', skipUnless('openssl'), async (t) => {
    await relayed(t, restCredential(SECRET, 'chrome-tls'), 'tls');
  });

  t.test('wrong password: icecandidateerror 401, no relay candidate, no connection', async (t) => {
    const { server, port } = await startTurn(t, true);
    const r = await runInPage(t, browser, url, { urls: `turn:127.0.0.1:${port}?transport=udp`, username: 'chrome', credential: 'wrong' }, 8_000);
    t.notOk(r.ok, 'nothing connected');
    t.same(r.candidates, { a: [], b: [] }, 'no candidates at all');
    t.ok(r.iceErrors.some((e) => e.errorCode === 401), `icecandidateerror 401 (${JSON.stringify(r.iceErrors)})`);
    const c = await counters(server);
    t.equal(c.created, 0, 'no allocation');
    t.ok(c.authFailures >= 1, `turnkit_auth_failures_total = ${c.authFailures}`);
  });

  t.test('loopback peers denied (no allowPeers): relay candidates but no connection', async (t) => {
    const { server, port } = await startTurn(t, false);
    const r = await runInPage(t, browser, url, { urls: `turn:127.0.0.1:${port}?transport=udp`, username: 'chrome', credential: 'chrome-pass' }, 8_000);
    t.notOk(r.ok, 'the data channel did not open', { result: JSON.stringify(r) });
    t.same(r.aToB, [], 'no message a → b');
    t.ok(r.candidates.a.some((c) => c.startsWith('relay ')), 'allocation worked: a has a relay candidate');
    const c = await counters(server);
    t.ok(c.denied >= 1, `turnkit_peer_denied_total = ${c.denied}`);
    t.equal(c.toPeer, 0, 'nothing relayed to a peer');
  });

  t.end();
});
