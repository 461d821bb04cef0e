/**
 * A full room of the conference page, relay only, on turnkit's default quotas: four Chromium pages
 * (camera and microphone granted, so each connection gathers on every network interface and for
 * both TURN URLs), every page decoding the three others through relays, then a credential renewal
 * with its ICE restart on all four. No allocation may be refused by the per-user quota at any
 * point: with the old default of 10, this room had 18 refusals before any renewal.
 *
 * The four pages share 127.0.0.1, so the per-IP quota (a limit for many users behind one address)
 * is turned off here; the relay range is wide enough for every allocation. Twelve video encoders
 * and decoders take both cores: this file runs alone (test/stress), since beside another browser
 * test it starved that one's video.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { chromiumMissing } from '../helpers/chromium.js';
import { counterSum, freePortRange, repoRoot, startTurnkit, type RunningServer, type Teardown } from '../integration/lib.js';
import { launchBrowser, open, peers } from '../integration/conference-page.js';

t.setTimeout(110_000);

/** People in the room: the page's maximum. */
const PEOPLE = 4;

t.test('a full relay-only room and its credential renewal stay within the default per-user quota', { skip: chromiumMissing() }, async (t) => {
  execFileSync('npm', ['run', '-s', 'build:web'], { cwd: repoRoot, stdio: 'pipe', timeout: 60_000 });
  const relay = await freePortRange(['127.0.0.1'], 300, ['udp']);
  const server = (await startTurnkit(t as Teardown, {
    listen: [{ host: '127.0.0.1', port: 0 }],
    realm: 'example.org',
    secrets: ['room-secret'],
    relayPorts: `${relay}-${relay + 299}`,
    relayIp: '127.0.0.1',
    allowPeers: ['127.0.0.0/8'],
    maxAllocationsPerIp: 0,
    httpListen: { host: '127.0.0.1', port: 0 },
    metricsListen: null,
  })) as RunningServer & { http?: { host: string; port: number }; engine: { allocations: { size: number } } };
  if (!server.http) throw new Error('no HTTP listener');
  const browser = await launchBrowser(t);
  const log: string[] = [];
  t.teardown(() => {
    if (log.length) t.comment(`page console (last 15): ${log.slice(-15).join(' | ')}`);
  });
  const refusedByUserQuota = () => counterSum(server.metrics, 'turnkit_quota_refusals_total', { quota: 'user' });
  /** Frames each page has decoded from each of its peers, once every page decodes all the others. */
  const everyoneDecoding = async (pages: Page[], moreThan: number[][] = [], timeoutMs = 60_000): Promise<number[][]> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const frames = await Promise.all(pages.map(async (p) => (await peers(p)).map((x) => x.framesDecoded)));
      const done = frames.every((f, i) => f.length === PEOPLE - 1 && f.every((n, j) => n > (moreThan[i]?.[j] ?? 0)));
      if (done || Date.now() > until) return frames;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const pages: Page[] = [];
  for (let i = 0; i < PEOPLE; i++) pages.push(await open(t, browser, `http://127.0.0.1:${server.http.port}/?room=full-mesh&relay=1`, log));
  const frames = await everyoneDecoding(pages);
  t.ok(frames.every((f) => f.length === PEOPLE - 1 && f.every((n) => n > 0)), `every page decodes the ${PEOPLE - 1} others (frames ${JSON.stringify(frames)})`);
  for (const [i, p] of pages.entries()) {
    const kinds = (await peers(p)).map((x) => `${x.selected?.local?.type}/${x.selected?.remote?.type}`);
    t.ok(kinds.every((k) => k === 'relay/relay'), `page ${i}: every selected pair is relay ↔ relay (${kinds.join(', ')})`);
  }
  const during = server.engine.allocations.size;
  t.equal(await refusedByUserQuota(), 0, `no allocation refused by the per-user quota during the call (${during} allocations, ${(during / PEOPLE).toFixed(1)} per person)`);

  for (const p of pages) await p.evaluate(() => (globalThis as unknown as { turnkitConference: { renew(): void } }).turnkitConference.renew());
  let peak = during;
  const until = Date.now() + 8_000;
  while (Date.now() < until) {
    peak = Math.max(peak, server.engine.allocations.size);
    await new Promise((r) => setTimeout(r, 200));
  }
  const after = await everyoneDecoding(pages, frames);
  t.ok(after.every((f, i) => f.every((n, j) => n > frames[i]![j]!)), `after the renewal every page still decodes every other (frames ${JSON.stringify(after)})`);
  t.equal(await refusedByUserQuota(), 0, `none refused by the per-user quota through the ICE restarts (peak ${peak} allocations, ${(peak / PEOPLE).toFixed(1)} per person)`);
});
