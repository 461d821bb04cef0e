// The conference page (src/web/app.ts) driven in Chromium: what conference-chromium.test.ts and
// test/stress/full-room-chromium.test.ts share.
import type { Browser, Page } from 'playwright-core';
import { launchChromium, within } from '../helpers/chromium.js';
import type { Teardownable } from '../helpers/process.js';

/** Fake camera and microphone, and video that may play without a click. */
export const MEDIA_ARGS = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required'];

/** A candidate as the page reports it (window.turnkitConference.peers(), see src/web/app.ts). */
export interface Cand {
  type: string;
  protocol: string;
  address: string;
  port?: number;
  relayProtocol?: string;
  mdns: boolean;
}
/** One remote peer as the page reports it. */
export interface PeerSummary {
  id: string;
  connectionState: string;
  candidates: Array<Cand & { side: string }>;
  selected?: { local?: Cand; remote?: Cand; kind: string };
  rttMs?: number;
  bitrateInKbps?: number;
  framesDecoded: number;
  bytesReceived: number;
}

/** Chromium with a fake camera and microphone, closed in teardown. */
export async function launchBrowser(t: Teardownable & { comment(m: string): void }): Promise<Browser> {
  const { browser, pid } = await launchChromium(t, MEDIA_ARGS);
  t.comment(`Chromium ${browser.version()} (pid ${pid})`);
  return browser;
}

/** Opens the page at `url` (which joins its room); its console lines go to `log`. */
export async function open(t: Teardownable, browser: Browser, url: string, log: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  t.teardown(() => within(page.close(), 5_000, 'closing a page').catch(() => undefined));
  const name = new URL(url).search;
  page.on('console', (m) => log.push(`${name}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`${name}: pageerror ${e.message}`));
  await page.goto(url, { timeout: 15_000 });
  return page;
}

/** The page's remote peers. */
export const peers = (page: Page): Promise<PeerSummary[]> =>
  page.evaluate(() => (globalThis as unknown as { turnkitConference: { peers(): unknown } }).turnkitConference.peers()) as Promise<PeerSummary[]>;

/** Waits until the page decodes video from one peer (framesDecoded > 0). */
export async function decoding(page: Page, timeoutMs = 40_000): Promise<PeerSummary> {
  await page.waitForFunction(
    () => (globalThis as unknown as { turnkitConference: { peers(): PeerSummary[] } }).turnkitConference.peers().some((p) => p.framesDecoded > 0 && p.selected?.local !== undefined),
    null,
    { timeout: timeoutMs, polling: 250 },
  );
  return (await peers(page))[0]!;
}

/**
 * The page's first peer once it shows a bitrate in, or as it is after `ms`. The page works the
 * bitrate out from one stats refresh (every second) to the next, so a single read right after a
 * refresh on a loaded machine can see no bytes yet.
 */
export async function withBitrate(page: Page, ms = 10_000): Promise<PeerSummary> {
  const until = Date.now() + ms;
  for (;;) {
    const p = (await peers(page))[0]!;
    if ((p.bitrateInKbps ?? 0) > 0 || Date.now() > until) return p;
    await new Promise((r) => setTimeout(r, 250));
  }
}
