import t from 'tap';
import { WebSocket } from 'ws';
import { startCredentialService } from '../../src/services/http.js';
import { createLogger } from '../../src/services/logger.js';
import { createWebClient, withUriHost, type SignalingConfig } from '../../src/services/signaling.js';
import { uriHostIsGuess } from '../../src/services/uris.js';
import { resolveConfig } from '../../src/config.js';

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
