/**
 * Headless Firefox ESR (Debian's /usr/bin/firefox-esr) through turnkit: the same page and the same
 * checks as turn-chromium.test.ts (browser-relay.ts), with Firefox's own ICE and TURN client
 * (nICEr, not libwebrtc's): two RTCPeerConnections relay-only with turnkit as the only ICE server,
 * a data channel carrying messages both ways, relay ↔ relay selected on both sides, allocations
 * deleted when the page closes its connections; a wrong password surfaces as icecandidateerror
 * 401, a denied peer range as no connection.
 *
 * Firefox is driven over WebDriver BiDi (test/helpers/firefox.ts). One Firefox, in its own process
 * group, serves the whole file and is killed by PGID in teardown. TURN over TLS is not covered here
 * (turn-chromium covers it): Firefox takes a `turns:` URL only with a host name, and the test
 * profile has DNS turned off so that Firefox cannot reach out.
 */
import t from 'tap';
import { firefoxMissing, launchFirefox } from '../helpers/firefox.js';
import { MESSAGES, RELAY_TIMEOUT_MS, checkPeerDenied, checkRelayed, checkWrongPassword, restCredential, runRelayPage, serveRelayPage, startBrowserTurn, type IceServer, type PageResult } from './browser-relay.js';

t.setTimeout(150_000);

const SECRET = 'firefox-rest-secret';
const USERS = { fox: 'fox-pass' };

const needFirefox = { skip: firefoxMissing() };

t.test('Firefox ↔ Firefox data channel, relay-only through turnkit', needFirefox, async (t) => {
  const url = await serveRelayPage(t);
  const firefox = await launchFirefox(t);
  t.comment(`${firefox.version} (pid ${firefox.pid})`);
  const run = async (iceServer: IceServer, timeoutMs: number): Promise<PageResult> => {
    const page = await firefox.newPage(url);
    try {
      return await page.evaluate<PageResult>(`runTurnTest(${JSON.stringify({ iceServers: [iceServer], messages: MESSAGES, timeoutMs })})`, timeoutMs + 15_000);
    } finally {
      await page.close();
    }
  };

  const relayed = async (t: Tap, cred: { username: string; credential: string }, over: 'udp' | 'tcp') => {
    const { server, port, tcpPort } = await startBrowserTurn(t, USERS, SECRET, true);
    const urls = over === 'udp' ? `turn:127.0.0.1:${port}?transport=udp` : `turn:127.0.0.1:${tcpPort}?transport=tcp`;
    await checkRelayed(t, 'firefox', await runRelayPage(t, () => run({ urls, ...cred }, RELAY_TIMEOUT_MS)), server, over);
  };

  t.test('static user', async (t) => {
    await relayed(t, { username: 'fox', credential: 'fox-pass' }, 'udp');
  });

  t.test('TURN REST ephemeral credential', async (t) => {
    await relayed(t, restCredential(SECRET, 'fox-rest'), 'udp');
  });

  t.test('TURN over TCP (turn:…?transport=tcp): relayProtocol tcp', async (t) => {
    await relayed(t, { username: 'fox', credential: 'fox-pass' }, 'tcp');
  });

  t.test('wrong password: icecandidateerror 401, no relay candidate, no connection', async (t) => {
    const { server, port } = await startBrowserTurn(t, USERS, SECRET, true);
    await checkWrongPassword(t, await run({ urls: `turn:127.0.0.1:${port}?transport=udp`, username: 'fox', credential: 'wrong' }, 8_000), server);
  });

  t.test('loopback peers denied (no allowPeers): relay candidates but no connection', async (t) => {
    const { server, port } = await startBrowserTurn(t, USERS, SECRET, false);
    await checkPeerDenied(t, await run({ urls: `turn:127.0.0.1:${port}?transport=udp`, username: 'fox', credential: 'fox-pass' }, 8_000), server);
  });

  t.end();
});

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];
