import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseCredentialResponse } from '../../src/nat-probe/credentials-url.js';
import { startServer } from '../../src/index.js';
import { freePort } from '../helpers/ports.js';

const BIN = fileURLToPath(new URL('../../bin/nat-probe.js', import.meta.url));

t.test('both credential-service shapes are read; anything else is refused', async (t) => {
  t.same(parseCredentialResponse({ username: 'u', password: 'p', ttl: 1, uris: ['turn:h:3478'] }), { username: 'u', password: 'p', uris: ['turn:h:3478'] });
  t.same(parseCredentialResponse({ iceServers: [{ urls: 'stun:h' }, { urls: ['turn:h:1'], username: 'u', credential: 'c' }] }), {
    username: 'u',
    password: 'c',
    uris: ['turn:h:1'],
  });
  for (const bad of [null, 'x', {}, { iceServers: [{ urls: 'turn:h' }] }, { username: 1, password: 'p' }]) {
    t.equal(parseCredentialResponse(bad), undefined, JSON.stringify(bad));
  }
});

t.test('nat-probe --credentials-url gets a credential from turnkit and allocates with it over UDP and TCP', async (t) => {
  const port = await freePort();
  const http = await freePort({ udp: false });
  const key = 'k'.repeat(24);
  const server = await startServer({
    listen: [{ host: '127.0.0.1', port }],
    secrets: ['probe-secret'],
    realm: 'probe.example',
    httpListen: { host: '127.0.0.1', port: http },
    metricsListen: null,
    apiKeys: [key],
    logLevel: 'silent',
  });
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${http}/turn-credentials?service=turn&username=probe`;
  // Asynchronous on purpose: the server runs in this process and must keep answering meanwhile.
  const run = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [BIN, '--server', `127.0.0.1:${port}`, '--json', '--timeout', '1500', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  const ok = await run(['--credentials-url', url, '--api-key', key]);
  t.equal(ok.status, 0, ok.stderr);
  const report = JSON.parse(ok.stdout) as { turn: Array<{ transport: string; ok: boolean; relayed?: string }> };
  t.same(report.turn.map((r) => r.transport).sort(), ['tcp', 'udp'], 'both transports the service listed were tried');
  for (const r of report.turn) {
    t.ok(r.ok, `${r.transport}: Allocate succeeded`);
    t.match(r.relayed, /^127\.0\.0\.1:\d+$/, `${r.transport}: relayed address reported`);
  }

  const denied = await run(['--credentials-url', url]);
  t.not(denied.status, 0, 'without the API key the service refuses');
  t.match(denied.stderr, /HTTP 401 \(give --api-key\)/);
  t.equal(denied.stderr.trim().split('\n').length, 1, 'one line');
});
