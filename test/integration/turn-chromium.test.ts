/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) through turnkit: a
 * page served from 127.0.0.1 creates two RTCPeerConnections with iceTransportPolicy 'relay' and
 * turnkit as the only ICE server, signals between them in-page, opens a data channel and sends
 * messages both ways (fixture: turn-browser-page.html). getStats() must show, on both sides, a
 * selected candidate pair (transport.selectedCandidatePairId) whose local and remote candidates
 * are of type 'relay'. Runs with a static user and a TURN REST credential; a wrong password must
 * surface as icecandidateerror 401, a denied peer range as no connection. When the page closes
 * its connections Chromium deletes its allocations (Refresh LIFETIME 0), which turnkit counts.
 * A run that fails only because Chromium's data channel stalled after turnkit relayed every byte
 * (browserStall in browser-relay.ts) is reported and run once more; any relay loss fails at once.
 *
 * The browser is one process group for the whole file (launchServer, so we hold its PID) and is
 * closed in teardown: by the handle, then force-killed (playwright kills its own process group).
 */
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium, within } from '../helpers/chromium.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { skipUnless } from '../helpers/tools.js';
import { MESSAGES, RELAY_TIMEOUT_MS, checkPeerDenied, checkRelayed, checkWrongPassword, restCredential, runRelayPage, serveRelayPage, startBrowserTurn, type IceServer, type PageResult } from './browser-relay.js';

t.setTimeout(150_000);

const SECRET = 'chromium-rest-secret';
const USERS = { chrome: 'chrome-pass' };

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const needChromium = { skip: chromiumMissing() };

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

t.test('Chromium ↔ Chromium data channel, relay-only through turnkit', needChromium, async (t) => {
  const url = await serveRelayPage(t);
  // The turns: server's certificate is a throwaway self-signed one.
  const { browser, pid } = await launchChromium(t, ['--ignore-certificate-errors']);
  t.comment(`Chromium ${browser.version()} (pid ${pid})`);

  const relayed = async (t: Tap, cred: { username: string; credential: string }, over: 'udp' | 'tcp' | 'tls' = 'udp') => {
    const cert = over === 'tls' ? makeSelfSignedCert() : undefined;
    if (cert) t.teardown(() => cert.cleanup());
    const { server, port, tcpPort, tlsPort } = await startBrowserTurn(t, USERS, SECRET, true, cert);
    const urls =
      over === 'udp' ? `turn:127.0.0.1:${port}?transport=udp` : over === 'tcp' ? `turn:127.0.0.1:${tcpPort}?transport=tcp` : `turns:127.0.0.1:${tlsPort}?transport=tcp`;
    const r = await runRelayPage(t, () => runInPage(t, browser, url, { urls, ...cred }, RELAY_TIMEOUT_MS));
    await checkRelayed(t, 'chromium', r, server, over);
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
    const { server, port } = await startBrowserTurn(t, USERS, SECRET, true);
    const r = await runInPage(t, browser, url, { urls: `turn:127.0.0.1:${port}?transport=udp`, username: 'chrome', credential: 'wrong' }, 8_000);
    await checkWrongPassword(t, r, server);
  });

  t.test('loopback peers denied (no allowPeers): relay candidates but no connection', async (t) => {
    const { server, port } = await startBrowserTurn(t, USERS, SECRET, false);
    const r = await runInPage(t, browser, url, { urls: `turn:127.0.0.1:${port}?transport=udp`, username: 'chrome', credential: 'chrome-pass' }, 8_000);
    await checkPeerDenied(t, r, server);
  });

  t.end();
});
