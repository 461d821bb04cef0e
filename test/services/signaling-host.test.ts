import t from 'tap';
import http from 'node:http';
import { WebSocket } from 'ws';
import { startCredentialService } from '../../src/services/http.js';
import { createLogger } from '../../src/services/logger.js';
import type { HttpRefusal } from '../../src/services/metrics.js';
import { createWebClient, withUriHost, type SignalingConfig } from '../../src/services/signaling.js';
import { uriHostIsGuess } from '../../src/services/uris.js';
import { resolveConfig } from '../../src/config.js';
import { startServer } from '../../src/index.js';

t.test('withUriHost swaps only the host of turn: and turns: URIs', async (t) => {
  t.equal(withUriHost('turn:vm:3478?transport=udp', '127.0.0.1'), 'turn:127.0.0.1:3478?transport=udp');
  t.equal(withUriHost('turns:vm:5349?transport=tcp', 'turn.example.com'), 'turns:turn.example.com:5349?transport=tcp');
  t.equal(withUriHost('turn:[fd00::1]:3478?transport=tcp', '[::1]'), 'turn:[::1]:3478?transport=tcp');
  t.equal(withUriHost('turn:vm?transport=udp', 'h'), 'turn:h?transport=udp');
});

t.test('the URI host is a guess only with wildcard listeners and nothing configured', async (t) => {
  const wildcard = [{ transport: 'udp' as const, role: 'primary' as const, address: '0.0.0.0', port: 3478 }];
  const specific = [{ transport: 'udp' as const, role: 'primary' as const, address: '203.0.113.5', port: 3478 }];
  t.equal(uriHostIsGuess(resolveConfig({}), wildcard), true);
  t.equal(uriHostIsGuess(resolveConfig({}), specific), false);
  t.equal(uriHostIsGuess(resolveConfig({ publicHost: 'turn.example.com' }), wildcard), false);
  t.equal(uriHostIsGuess(resolveConfig({ externalIp: '203.0.113.7' }), wildcard), false);
});

/** Joins a room and returns the TURN URLs the welcome carried. */
async function joinUrls(t: { teardown(fn: () => unknown): void }, config: SignalingConfig, headers: Record<string, string> = {}): Promise<string[]> {
  const logger = createLogger('silent');
  const endpoint = { ...config, apiKeys: [], corsOrigins: [], maxTtl: 3600 };
  const l = await startCredentialService({ host: '127.0.0.1', port: 0 }, () => endpoint, { ready: true }, logger, createWebClient(() => endpoint, logger));
  t.teardown(() => l.close());
  const ws = new WebSocket(`ws://127.0.0.1:${l.address.port}/signal`, { headers });
  t.teardown(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const welcome = new Promise<{ iceServers: Array<{ urls: string[] }> }>((resolve) => {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; iceServers: Array<{ urls: string[] }> };
      if (m.type === 'welcome') resolve(m);
    });
  });
  ws.send(JSON.stringify({ type: 'join', room: 'hosts' }));
  return (await welcome).iceServers[0]!.urls;
}

t.test('a guessed URI host is replaced by the host the page was reached by', async (t) => {
  const uris = ['turn:vm:3478?transport=udp', 'turn:vm:3478?transport=tcp'];
  t.same(await joinUrls(t, { secrets: ['s'], uris, uriHostGuessed: true }), ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp']);
  t.same(
    await joinUrls(t, { secrets: ['s'], uris, uriHostGuessed: true }, { 'x-forwarded-host': 'turn.example.com' }),
    ['turn:turn.example.com:3478?transport=udp', 'turn:turn.example.com:3478?transport=tcp'],
    'behind a proxy, the forwarded host',
  );
  t.same(await joinUrls(t, { secrets: ['s'], uris, uriHostGuessed: false }), uris, 'a configured host is kept');
});

/** GET on 127.0.0.1:port with the Host (and other headers) a browser on a rebound name would send. */
function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Opens a WebSocket to /signal on 127.0.0.1:port; resolves 101 when it opens, else the refusal's status. */
function upgrade(t: { teardown(fn: () => unknown): void }, port: number, headers: Record<string, string>): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/signal`, { headers });
  t.teardown(() => ws.terminate());
  ws.on('error', () => undefined);
  return new Promise((resolve) => {
    ws.on('open', () => resolve(101));
    ws.on('unexpected-response', (req, res) => (req.destroy(), resolve(res.statusCode ?? 0)));
  });
}

t.test('DNS rebinding: a foreign Host gets 421 on /signal always, and on the page and the API without an API key; counted', async (t) => {
  const logger = createLogger('silent');
  const refused: HttpRefusal[] = [];
  const endpoint = { secrets: ['s'], uris: ['turn:127.0.0.1:3478?transport=udp'], apiKeys: [] as string[], corsOrigins: [], maxTtl: 3600 };
  const l = await startCredentialService({ host: '127.0.0.1', port: 0 }, () => endpoint, { ready: true }, logger, createWebClient(() => endpoint, logger, { webDir: '/nonexistent' }), {
    maxConnectionsPerIp: 0,
    onRefused: (r) => refused.push(r),
  });
  t.teardown(() => l.close());
  const port = l.address.port;
  const evil = `evil.example:${port}`;
  const page = await get(port, '/', { host: evil });
  t.equal(page.status, 421, 'page');
  t.match(page.body, /public_host/, 'the refusal names the fix');
  t.equal((await get(port, '/ice-servers?username=x', { host: evil })).status, 421, '/ice-servers');
  t.equal((await get(port, '/ice-servers?username=x', { host: evil, 'x-forwarded-host': 'localhost' })).status, 421, 'X-Forwarded-Host is not believed');
  t.equal(await upgrade(t, port, { host: evil, origin: `http://${evil}` }), 421, '/signal, Origin matching the foreign Host');
  t.same(refused, ['host', 'host', 'host', 'host'], 'each refusal counted');
  t.equal((await get(port, '/healthz', { host: evil })).status, 200, 'health probes answer any Host');
  t.equal((await get(port, '/', { host: `localhost:${port}` })).status, 503, 'localhost: the page is served (here: not built)');
  t.equal((await get(port, '/ice-servers?username=x', { host: `127.0.0.1:${port}` })).status, 200, 'loopback IP: a credential');
  t.equal(await upgrade(t, port, { host: `app.localhost:${port}`, origin: `http://app.localhost:${port}` }), 101, '*.localhost: /signal opens');
  t.equal(refused.length, 4, 'nothing more counted');

  endpoint.apiKeys = ['k'.repeat(20)];
  t.equal((await get(port, '/', { host: evil })).status, 503, 'with an API key: any Host reaches the page');
  t.equal((await get(port, '/ice-servers?username=x', { host: evil })).status, 401, '... and the API, which asks for the key');
  t.equal(await upgrade(t, port, { host: evil, origin: 'http://other.example' }), 421, '... but /signal, which mints without a key, still checks Host');
  t.equal(await upgrade(t, port, { host: evil, origin: `http://${evil}` }), 421, '... even with an Origin matching the rebound Host');
  t.equal(await upgrade(t, port, { host: `localhost:${port}`, origin: 'http://other.example' }), 403, '... and a foreign Origin cannot open it either');
  t.equal(await upgrade(t, port, { host: `localhost:${port}`, origin: `http://localhost:${port}` }), 101, '... while the page on localhost can');
});

t.test('the server: public_host is accepted as Host, others are refused and counted in turnkit_http_refused_total', async (t) => {
  const s = await startServer({ listen: [{ host: '127.0.0.1', port: 0 }], httpListen: { host: '127.0.0.1', port: 0 }, metricsListen: null, secrets: ['x'], publicHost: 'turn.example.com', logLevel: 'silent' });
  t.teardown(() => s.close());
  const port = s.http!.port;
  t.equal((await get(port, '/ice-servers?username=a', { host: 'turn.example.com' })).status, 200, 'public_host');
  t.equal((await get(port, '/ice-servers?username=a', { host: `localhost:${port}` })).status, 200, 'localhost');
  t.equal((await get(port, '/ice-servers?username=a', { host: 'evil.example' })).status, 421, 'another name');
  const text = await s.metrics.metrics();
  t.match(text, /turnkit_http_refused_total\{reason="host"\} 1\n/);
  for (const reason of ['per-ip-limit', 'websocket-limit', 'join-timeout', 'slow-reader']) {
    t.match(text, new RegExp(`turnkit_http_refused_total\\{reason="${reason}"\\} 0\\n`), `${reason} pre-registered at 0`);
  }
});
