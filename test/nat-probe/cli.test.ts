// nat-probe's CLI on loopback against a real turnkit: open internet (no NAT on 127.0.0.0/8),
// --json valid against the schema, the exit codes, a one-address server, TURN over UDP and TCP.
import t from 'tap';
import { join } from 'node:path';
import { freePortPair, freePort } from '../helpers/ports.js';
import { runTool, spawnTracked, type Teardownable } from '../helpers/process.js';
import { loadReportSchema, projectRoot, validate } from './schema.js';

const root = projectRoot();
const PROBE = join(root, 'dist', 'bin', 'nat-probe.js');
const TURNKIT = join(root, 'dist', 'bin', 'turnkit.js');
const schema = loadReportSchema();

async function serve(t: Teardownable, args: string[]) {
  const p = spawnTracked(process.execPath, [TURNKIT, 'serve', '--log-level', 'info', ...args], { t });
  await p.waitForLine(/"msg":"ready"/, 10_000);
  return p;
}
const probe = (args: string[], timeoutMs = 20_000) => runTool(process.execPath, [PROBE, ...args], { timeoutMs });

t.test('RFC 5780 server on 127.0.0.1 + 127.0.0.2: open internet, JSON per schema, TURN over UDP and TCP', async (t) => {
  const port = await freePortPair();
  await serve(t, ['--listen', `127.0.0.1:${port}`, '--alt-address', '127.0.0.2', '--user', 'u:pw', '--realm', 'example.org', '--allow-peer', '127.0.0.0/8']);
  const r = await probe(['--server', `127.0.0.1:${port}`, '--json', '--turn', `turn:127.0.0.1:${port}`, '--username', 'u', '--password', 'pw']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  t.same(validate(schema, j), [], 'valid against report.schema.json');
  t.match(j, { status: 'classified', nat: 'none', mapping: 'none', filtering: 'endpoint-independent', rfc3489: 'open-internet', rfc5780: true, otherAddress: `127.0.0.2:${port + 1}`, alg: 'absent', hairpin: 'not-applicable' });
  t.ok(j.durationMs < 3000, `verdict in ${j.durationMs} ms`);
  t.equal(j.turn.length, 2);
  for (const x of j.turn) {
    t.ok(x.ok, `TURN ${x.transport}: ${x.error ?? x.relayed}`);
    t.match(x.relayed, /^127\.0\.0\.1:\d+$/);
    t.equal(x.integrityOk, true, 'response MESSAGE-INTEGRITY verified');
  }
  const text = await probe(['--server', `127.0.0.1:${port}`]);
  t.equal(text.code, 0);
  t.match(text.stdout, /RFC 3489 type: +Open Internet/);
  t.match(text.stdout, /What this means:/);
});

t.test('wrong TURN password: the report says so, exit status 4', async (t) => {
  const port = await freePortPair();
  await serve(t, ['--listen', `127.0.0.1:${port}`, '--alt-address', '127.0.0.2', '--user', 'u:pw', '--realm', 'example.org']);
  const r = await probe(['--server', `127.0.0.1:${port}`, '--json', '--turn', `turn:127.0.0.1:${port}?transport=udp`, '--username', 'u', '--password', 'nope']);
  t.equal(r.code, 4, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  t.equal(j.turn.length, 1);
  t.equal(j.turn[0].ok, false);
  t.match(j.turn[0].error, /401/);
});

t.test('one-address server: reports what it can and which tests need RFC 5780', async (t) => {
  const port = await freePort({ host: '127.0.0.1', udp: true, tcp: true });
  await serve(t, ['--listen', `127.0.0.1:${port}`]);
  const r = await probe(['--server', `127.0.0.1:${port}`, '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  t.same(validate(schema, j), []);
  t.match(j, { status: 'classified', nat: 'none', rfc5780: false, mapping: 'none', filtering: 'unknown', rfc3489: 'unknown' });
  t.match(j.unknownReasons.filtering, /OTHER-ADDRESS/);
});

t.test('no STUN answer: exit status 3, status no-response, the message says what cannot be told apart', async (t) => {
  const port = await freePort({ host: '127.0.0.1', udp: true, tcp: false });
  const r = await probe(['--server', `127.0.0.1:${port}`, '--json', '--timeout', '600']);
  t.equal(r.code, 3);
  const j = JSON.parse(r.stdout) as Record<string, any>;
  t.same(validate(schema, j), []);
  t.equal(j.status, 'no-response');
  t.equal(j.rfc3489, 'udp-blocked');
  t.match(r.stderr, /UDP is blocked here or the server is down/);
});

t.test('usage errors: exit status 2 with one line', async (t) => {
  for (const args of [[], ['--server', '127.0.0.1:99999'], ['--server', '127.0.0.1', '--timeout', 'x'], ['--server', '127.0.0.1', '--turn', 'http://x'], ['--server', '127.0.0.1', '--turn', 'turn:127.0.0.1'], ['--bogus']]) {
    const r = await probe(args);
    t.equal(r.code, 2, `${args.join(' ')} → 2 (${r.stderr.trim()})`);
    t.match(r.stderr, /nat-probe|error/);
  }
});
