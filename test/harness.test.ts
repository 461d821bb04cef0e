// Self-test of the test infrastructure: the helpers in test/helpers/ and the
// counting of scripts/test.mjs (pass, fail, skip, todo, crash, hang, syntax
// error, whole-file skip). If this file fails, other failures may be the
// runner's fault rather than the code's.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect, createServer as createTlsServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { makeSelfSignedCert } from './helpers/certs.js';
import { freePort, freePortPair } from './helpers/ports.js';
import { runTool, spawnTracked } from './helpers/process.js';
import { hasTool, isRoot, skipUnless } from './helpers/tools.js';

// compiled to dist/test/harness.test.js
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Whether a PID is alive (signal 0 only probes). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Binds UDP and TCP on host:port and closes them; rejects if either is taken. */
async function bindBoth(host: string, port: number): Promise<void> {
  const udp = createSocket('udp4');
  await new Promise<void>((res, rej) => {
    udp.once('error', rej);
    udp.bind(port, host, () => res());
  });
  const tcp = createServer();
  await new Promise<void>((res, rej) => {
    tcp.once('error', rej);
    tcp.listen(port, host, () => res());
  });
  await new Promise<void>((res) => udp.close(() => res()));
  await new Promise<void>((res) => tcp.close(() => res()));
}

t.test('tools', async (t) => {
  t.equal(hasTool('sh'), true, 'sh is on PATH');
  t.equal(hasTool('turnkit-no-such-tool'), false, 'a made-up tool is not');
  t.equal(typeof isRoot(), 'boolean');
  t.same(skipUnless('sh'), { skip: false }, 'present tool: run');
  const missing = skipUnless('sh', 'turnkit-no-such-tool');
  t.type(missing.skip, 'string', 'missing tool: skip');
  t.match(String(missing.skip), /turnkit-no-such-tool not installed/, 'reason names the tool');
  t.match(String(skipUnless('turnutils_stunclient', 'turnkit-no-such-tool').skip), /not installed/);
  const rootOnly = skipUnless({ root: 'creates network namespaces' });
  t.same(rootOnly, isRoot() ? { skip: false } : { skip: 'needs root: creates network namespaces' });
});

t.test('ports', async (t) => {
  const p = await freePort();
  t.ok(p > 0 && p < 65536, `freePort gave ${p}`);
  await t.resolves(bindBoth('127.0.0.1', p), 'UDP and TCP both bind on it');
  const pair = await freePortPair();
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    await t.resolves(bindBoth(host, pair), `${host}:${pair} binds`);
    await t.resolves(bindBoth(host, pair + 1), `${host}:${pair + 1} binds`);
  }
  const v6 = await freePort({ host: '::1', tcp: false }).catch(() => null);
  t.ok(v6 === null || v6 > 0, 'freePort on ::1 (UDP only) works where IPv6 loopback exists');
});

t.test('certs', skipUnless('openssl'), async (t) => {
  const c = makeSelfSignedCert();
  t.teardown(c.cleanup);
  const x = new X509Certificate(c.cert);
  t.match(x.subject, /CN=localhost/);
  t.match(x.subjectAltName ?? '', /DNS:localhost/);
  t.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  t.ok(x.checkPrivateKey((await import('node:crypto')).createPrivateKey(c.key)), 'key matches cert');
  // a real handshake, verifying the name and the CA, as TLS tests will
  const server = createTlsServer({ cert: c.cert, key: c.key }, (s) => s.end('hi'));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  t.teardown(() => server.close());
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const got = await new Promise<string>((res, rej) => {
    const s = connect({ host: '127.0.0.1', port, ca: c.cert, servername: 'localhost' }, () => undefined);
    let data = '';
    s.setEncoding('utf8').on('data', (d: string) => (data += d));
    s.on('end', () => res(data));
    s.on('error', rej);
  });
  t.equal(got, 'hi', 'TLS handshake verified against the cert');
  c.cleanup();
  t.notOk(existsSync(c.certFile), 'cleanup removes the files');
});

t.test('runTool', async (t) => {
  const ok = await runTool(process.execPath, ['-e', 'console.log("hi"); console.error("err")']);
  t.same({ code: ok.code, stdout: ok.stdout, stderr: ok.stderr, timedOut: ok.timedOut }, { code: 0, stdout: 'hi\n', stderr: 'err\n', timedOut: false });
  const echo = await runTool('cat', [], { input: 'piped' });
  t.equal(echo.stdout, 'piped', 'stdin input');
  const start = Date.now();
  const slow = await runTool(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 300 });
  t.equal(slow.timedOut, true, 'hard timeout');
  t.equal(slow.signal, 'SIGTERM');
  t.ok(Date.now() - start < 5000, 'and it did not wait for the tool');
  await t.rejects(runTool('turnkit-no-such-tool'), /cannot run/);
});

t.test('spawnTracked', async (t) => {
  let pid = 0;
  await t.test('server-like child', async (t) => {
    const p = spawnTracked(process.execPath, ['-e', 'setTimeout(() => console.log("listening on 1234"), 100); setInterval(() => {}, 1000)'], { t });
    pid = p.pid;
    const line = await p.waitForLine(/listening on (\d+)/, 5000);
    t.equal(line, 'listening on 1234');
    t.equal(await p.waitForLine((l) => l.includes('1234'), 10), line, 'already-seen lines match too');
    await t.rejects(p.waitForLine(/never/, 200), /within 200 ms/);
    t.ok(alive(pid), 'running until teardown');
  });
  t.notOk(alive(pid), 'teardown killed it');

  const stubborn = spawnTracked(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'], { t, killGraceMs: 200 });
  await stubborn.waitForLine(/^up$/, 5000);
  const st = await stubborn.kill();
  t.equal(st.signal, 'SIGKILL', 'SIGTERM ignored: escalates to SIGKILL');

  const quitter = spawnTracked(process.execPath, ['-e', 'console.log("bye"); process.exit(4)'], { t });
  t.same(await quitter.waitExit(5000), { code: 4, signal: null });
  await t.rejects(quitter.waitForLine(/never/, 1000), /already exited/);
  t.equal(quitter.stdout, 'bye\n');
});

t.test('runner counts', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'turnkit-harness-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // fixtures import tap: let them resolve it from the project
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const fixtures: Record<string, string> = {
    // 3 passed, 2 skipped (one SKIP, one TODO)
    'pass.test.mjs': `import t from 'tap'
t.test('group', async t => { t.pass('a'); t.test('nested', async t => { t.pass('b') }) })
t.pass('c')
t.pass('skipped one', { skip: 'tool missing' })
t.test('later', { todo: 'not written' })
`,
    // 1 passed, 1 failed
    'fail.test.mjs': `import t from 'tap'
t.equal(1, 2, 'one is two')
t.pass('fine')
`,
    // 1 passed, 1 failed (the throw)
    'crash.test.mjs': `import t from 'tap'
t.pass('before')
throw new Error('top level crash')
`,
    // 1 passed, 1 failed (the timeout)
    'hang.test.mjs': `import t from 'tap'
t.pass('before')
t.test('forever', () => new Promise(() => { setInterval(() => {}, 1000) }))
`,
    // 0 passed, 1 failed (the file)
    'syntax.test.mjs': `import t from 'tap'
this is not javascript
`,
    // 1 skipped (the whole file)
    'skipall.test.mjs': `import t from 'tap'
t.plan(0, 'needs root')
`,
  };
  for (const [name, text] of Object.entries(fixtures)) writeFileSync(join(dir, name), text);

  const run = (...paths: string[]): { code: number | null; last: string; out: string } => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'test.mjs'), '--no-install', '--no-build', ...paths], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 80_000,
      // short enough to keep this test quick, long enough that a loaded CI
      // machine (2-3 s just to start node + tap) does not kill fixtures early
      env: { ...process.env, TEST_TIMEOUT_S: '6', TEST_KILL_GRACE_S: '4', TEST_JOBS: '2' },
    });
    const lines = r.stdout.trimEnd().split('\n');
    return { code: r.status, last: lines[lines.length - 1] ?? '', out: r.stdout };
  };

  const all = run(dir);
  t.equal(all.last, '6 passed, 4 failed, 3 skipped', 'mixed suite counts leaves, crashes and hangs');
  t.equal(all.code, 1, 'and fails');
  t.match(all.out, /hang\.test\.mjs › forever › timeout!/, 'names the hung subtest');
  t.match(all.out, /3 × |1 × needs root/, 'summarises skip reasons');

  const good = run(join(dir, 'pass.test.mjs'));
  t.equal(good.last, '3 passed, 0 failed, 2 skipped', 'single file');
  t.equal(good.code, 0, 'passes');

  const skipped = run(join(dir, 'skipall.test.mjs'));
  t.equal(skipped.last, '0 passed, 0 failed, 1 skipped');
  t.equal(skipped.code, 1, 'nothing ran: not a success');

  const bad = run(join(dir, 'nope'));
  t.equal(bad.last, '0 passed, 1 failed, 0 skipped', 'unknown path is a failure');
});
