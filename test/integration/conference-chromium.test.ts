/**
 * The conferencing page end to end in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core, fake camera and microphone): turnkit runs in-process with its HTTP listener
 * (page + /signal) and a shared secret; pages open `/?room=NAME` and connect through the real
 * signaling server with the TURN credential it mints.
 *
 * - default ICE: two pages in one room decode each other's video (inbound-rtp framesDecoded > 0),
 *   and a third page in another room sees nobody;
 * - relay only (`&relay=1`): the same, with relay candidates on both ends of the selected pair and
 *   turnkit_relayed_bytes_total growing; a screenshot of the page (ICE panel included) goes to
 *   test-output/conference.png;
 * - closing one page mid-call: the other is told and drops the peer;
 * - a fifth person in a full room (four WebSocket members): the page says room-full and releases
 *   its camera; so does a page joining while the server drains (unavailable);
 * - Chromium calling Firefox (Debian's firefox-esr over WebDriver BiDi, fake media), relay only:
 *   each decodes the other's video over relay ↔ relay, libwebrtc's TURN client on one side and
 *   Firefox's (nICEr) on the other.
 *
 * The browser is one process group (launchServer, so we hold its PID), closed in teardown by the
 * handle and then force-killed by that PID if still there.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { chromiumMissing } from '../helpers/chromium.js';
import { firefoxMissing, launchFirefox } from '../helpers/firefox.js';
import { counterSum, freePortRange, repoRoot, startTurnkit, type RunningServer, type Teardown } from './lib.js';
import { decoding, launchBrowser, open, peers, withBitrate, type Cand, type PeerSummary } from './conference-page.js';

t.setTimeout(150_000);

const SECRET = 'conference-secret';
const OUT_DIR = join(repoRoot, 'test-output');

t.test('conference page through turnkit in Chromium', { skip: chromiumMissing() }, async (t) => {
  // The test runner compiles with `tsc -p .` only; the page needs its own build.
  execFileSync('npm', ['run', '-s', 'build:web'], { cwd: repoRoot, stdio: 'pipe', timeout: 60_000 });
  t.ok(existsSync(join(repoRoot, 'dist', 'web', 'app.js')), 'page built');

  const relay = await freePortRange(['127.0.0.1'], 40, ['udp']);
  const server = (await startTurnkit(t as Teardown, {
    listen: [{ host: '127.0.0.1', port: 0 }],
    realm: 'example.org',
    secrets: [SECRET],
    relayPorts: `${relay}-${relay + 39}`,
    relayIp: '127.0.0.1',
    allowPeers: ['127.0.0.0/8'],
    httpListen: { host: '127.0.0.1', port: 0 },
    metricsListen: null,
  })) as RunningServer & { http?: { host: string; port: number }; drain(timeoutMs: number): Promise<void> };
  if (!server.http) throw new Error('no HTTP listener');
  const base = `http://127.0.0.1:${server.http.port}/`;
  const browser = await launchBrowser(t);
  const log: string[] = [];
  t.teardown(() => {
    if (log.length) t.comment(`page console (last 15): ${log.slice(-15).join(' | ')}`);
  });

  t.test('default ICE: two pages see each other; a third room sees nothing', async (t) => {
    const a = await open(t, browser, `${base}?room=alpha`, log);
    const b = await open(t, browser, `${base}?room=alpha`, log);
    const c = await open(t, browser, `${base}?room=beta`, log);
    const [pa, pb] = await Promise.all([decoding(a), decoding(b)]);
    t.ok(pa.framesDecoded > 0, `a decodes b's video (${pa.framesDecoded} frames, ${pa.selected?.kind})`);
    t.ok(pb.framesDecoded > 0, `b decodes a's video (${pb.framesDecoded} frames, ${pb.selected?.kind})`);
    t.equal(pa.connectionState, 'connected');
    t.ok(pa.candidates.some((x) => x.side === 'local'), 'local candidates listed');
    const aId = await a.evaluate(() => (globalThis as unknown as { turnkitConference: { id(): string } }).turnkitConference.id());
    t.equal(pb.id, aId, 'b is connected to a');
    t.same(await peers(c), [], 'the page in room beta has no peer');
    t.equal(await c.locator('#tiles figure').count(), 1, 'and shows only its own tile');
    t.match(await a.locator('#status').textContent(), /room "alpha".*1 connected/, 'status line');
    t.match(await a.locator('header').textContent(), /up to 4 people per room/, 'the limit is on the page');
    // a peer leaving mid-call
    await b.close();
    await a.waitForFunction(() => (globalThis as unknown as { turnkitConference: { peers(): unknown[] } }).turnkitConference.peers().length === 0, null, { timeout: 10_000 });
    t.equal(await a.locator('#tiles figure').count(), 1, 'a dropped b after it left');
  });

  t.test('a fifth person: the page says the room is full, and its camera is released', async (t) => {
    // Four plain WebSocket members fill the room without any media.
    const members = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${server.http!.port}/signal`);
            t.teardown(() => ws.terminate());
            ws.once('error', reject);
            ws.once('open', () => ws.send(JSON.stringify({ type: 'join', room: 'full' })));
            ws.once('message', (d) => ((JSON.parse(String(d)) as { type: string }).type === 'welcome' ? resolve(ws) : reject(new Error(String(d)))));
          }),
      ),
    );
    t.equal(members.length, 4, 'four members joined room "full"');
    const fifth = await open(t, browser, `${base}?room=full`, log);
    await fifth.locator('#status', { hasText: 'room-full' }).waitFor({ timeout: 15_000 });
    t.match(await fifth.locator('#status').textContent(), /Signaling error \(room-full\)/, 'the status line says why joining failed');
    t.equal(await fifth.locator('#tiles figure').count(), 0, 'no own tile: the camera is released');
    t.equal(await fifth.locator('#join').isDisabled(), false, 'Join can be pressed again');
  });

  t.test('relay only: media through turnkit', async (t) => {
    const before = await counterSum(server.metrics, 'turnkit_relayed_bytes_total');
    const a = await open(t, browser, `${base}?room=gamma&relay=1`, log);
    const b = await open(t, browser, `${base}?room=gamma&relay=1`, log);
    t.ok(await a.locator('#relay-only').isChecked(), 'relay-only switch on');
    const [pa, pb] = await Promise.all([decoding(a), decoding(b)]);
    for (const [side, p] of [['a', pa], ['b', pb]] as const) {
      t.ok(p.framesDecoded > 0, `${side} decodes video (${p.framesDecoded} frames)`);
      t.equal(p.selected?.local?.type, 'relay', `${side}: selected local candidate is relay`, { p: JSON.stringify(p.selected) });
      t.equal(p.selected?.remote?.type, 'relay', `${side}: selected remote candidate is relay`);
      t.match(p.selected?.kind, /relayed through TURN/);
      t.ok(p.candidates.filter((x) => x.side === 'local').every((x) => x.type === 'relay'), `${side}: only relay candidates gathered`);
    }
    await new Promise((r) => setTimeout(r, 2500)); // let bitrates and the panel fill in for the screenshot
    await a.evaluate(() => (globalThis as unknown as { turnkitConference: { refresh(): Promise<void> } }).turnkitConference.refresh());
    const after = await counterSum(server.metrics, 'turnkit_relayed_bytes_total');
    t.ok(after - before > 10_000, `turnkit relayed ${after - before} bytes`);
    const p = await withBitrate(a);
    t.ok((p.bitrateInKbps ?? 0) > 0, `bitrate in shown (${p.bitrateInKbps?.toFixed(0)} kbit/s), RTT ${p.rttMs?.toFixed(1)} ms`);
    t.match(await a.locator('.peer-ice').first().textContent(), /relayed through TURN/, 'the ICE panel says relayed');
    await a.getByRole('button', { name: 'Run TURN test' }).click();
    await a.waitForFunction(
      () => {
        const doc = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document;
        return !(doc.querySelector('#turn-test-results tbody')?.textContent ?? 'gathering').includes('gathering');
      },
      null,
      { timeout: 20_000 },
    );
    const rows = await a.locator('#turn-test-results tbody tr').allTextContents();
    t.equal(rows.length, 2, `TURN test: one row per server URL (${rows.join(' | ')})`);
    t.ok(rows.every((r) => r.includes('works')), 'TURN test: udp and tcp work');
    mkdirSync(OUT_DIR, { recursive: true });
    const shot = join(OUT_DIR, 'conference.png');
    await a.screenshot({ path: shot, fullPage: true });
    t.ok(existsSync(shot), `screenshot saved: ${shot}`);
    // Credential renewal (normally at 80 % of the TTL): new ice servers, ICE restart, call goes on.
    const created = await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'created' });
    const frames = (await peers(b))[0]!.framesDecoded;
    for (const pg of [a, b]) await pg.evaluate(() => (globalThis as unknown as { turnkitConference: { renew(): void } }).turnkitConference.renew());
    await b.waitForFunction(
      (n) => (globalThis as unknown as { turnkitConference: { peers(): PeerSummary[] } }).turnkitConference.peers()[0]!.framesDecoded > n + 30,
      frames,
      { timeout: 20_000, polling: 250 },
    );
    const createdAfter = await counterSum(server.metrics, 'turnkit_allocation_events_total', { event: 'created' });
    t.ok(createdAfter > created, `after renewal: ICE restart made new allocations (${created} → ${createdAfter}); video still decoding`);
    t.equal((await peers(b))[0]!.selected?.local?.type, 'relay', 'still relayed');
    const pb2 = await withBitrate(b);
    t.ok((pb2.bitrateInKbps ?? 0) > 0, `bitrate in after the restart: ${pb2.bitrateInKbps?.toFixed(0)} kbit/s`);
  });

  t.test('relay only, Chromium ↔ Firefox: each decodes the other through turnkit', { skip: firefoxMissing() }, async (t) => {
    const firefox = await launchFirefox(t);
    t.comment(`${firefox.version} (pid ${firefox.pid})`);
    const before = await counterSum(server.metrics, 'turnkit_relayed_bytes_total');
    const c = await open(t, browser, `${base}?room=delta&relay=1`, log);
    const f = await firefox.newPage(`${base}?room=delta&relay=1`);
    t.teardown(() => f.close().catch(() => undefined));
    const decodes = 'turnkitConference.peers().some((p) => p.framesDecoded > 0 && p.selected?.local !== undefined)';
    await Promise.all([decoding(c), f.waitFor(decodes, 40_000)]);
    const where = (c?: Cand) => `${c?.address}:${c?.port}`;
    // The two sides' stats are read one after the other while ICE may still switch pairs: read
    // again until both name the same pair (or 10 s pass, and the checks below say what differs).
    let pc: PeerSummary;
    let pf: PeerSummary;
    const until = Date.now() + 10_000;
    for (;;) {
      pc = (await peers(c))[0]!;
      pf = (await f.evaluate<PeerSummary[]>('turnkitConference.peers()'))[0]!;
      const agreed = where(pc.selected?.remote) === where(pf.selected?.local) && where(pf.selected?.remote) === where(pc.selected?.local);
      if (agreed || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const [side, p, other] of [['chromium', pc, pf], ['firefox', pf, pc]] as const) {
      t.ok(p.framesDecoded > 0, `${side} decodes the other's video (${p.framesDecoded} frames)`);
      t.equal(p.selected?.local?.type, 'relay', `${side}: selected local candidate is relay`, { p: JSON.stringify(p.selected) });
      // A check that arrives before the candidate it comes from was signalled makes that address
      // peer-reflexive on the receiving side (RFC 8445 §7.3.1.3); it is still the other's relay.
      t.equal(where(p.selected?.remote), where(other.selected?.local), `${side}: selected remote candidate is the other's relayed address (${p.selected?.remote?.type})`, {
        pairs: JSON.stringify({ chromium: pc.selected, firefox: pf.selected }),
      });
      t.ok(['relay', 'prflx'].includes(p.selected?.remote?.type ?? ''), `${side}: selected remote candidate is relay, or prflx for it`);
      t.ok(p.candidates.filter((x) => x.side === 'local').every((x) => x.type === 'relay'), `${side}: only relay candidates gathered`);
    }
    t.equal(pc.id, await f.evaluate<string>('turnkitConference.id()'), 'the Chromium page is connected to the Firefox page');
    const after = await counterSum(server.metrics, 'turnkit_relayed_bytes_total');
    t.ok(after - before > 10_000, `turnkit relayed ${after - before} bytes`);
  });

  // Last: it leaves the server draining.
  t.test('joining while the server drains: the page says why and can join again', async (t) => {
    await server.drain(0);
    const late = await open(t, browser, `${base}?room=late`, log);
    await late.locator('#status', { hasText: 'unavailable' }).waitFor({ timeout: 15_000 });
    t.match(await late.locator('#status').textContent(), /Signaling error \(unavailable\): this server is shutting down/, 'the status line says the server is shutting down');
    t.equal(await late.locator('#tiles figure').count(), 0, 'no own tile: the camera is released');
    t.equal(await late.locator('#join').isDisabled(), false, 'Join can be pressed again');
  });

  t.end();
});
