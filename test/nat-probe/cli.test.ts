// nat-probe's CLI on loopback against a real turnkit: open internet (no NAT on 127.0.0.0/8),
// --json valid against the schema, the exit codes, a one-address server, TURN over UDP and TCP.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
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
  t.equal(j.lossEstimate, 0, `no loss on loopback (tests: ${JSON.stringify(j.tests)})`);
  t.ok((j.tests as { sent: number }[]).every((x) => x.sent === 1), 'nothing was retransmitted');
  const text = await probe(['--server', `127.0.0.1:${port}`]);
  t.equal(text.code, 0);
  t.notMatch(text.stdout, /packet loss|retransmi/, 'no loss claimed');
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

t.test('no STUN answer but TURN over TCP to the same host works: UDP is blocked, the server is up', async (t) => {
  const turnPort = await freePort({ host: '127.0.0.1', udp: true, tcp: true });
  await serve(t, ['--listen', `127.0.0.1:${turnPort}`, '--user', 'u:pw', '--realm', 'example.org']);
  const silent = await freePort({ host: '127.0.0.1', udp: true, tcp: false });
  const args = ['--server', `127.0.0.1:${silent}`, '--timeout', '600', '--turn', `turn:127.0.0.1:${turnPort}?transport=tcp`, '--username', 'u', '--password', 'pw'];
  const r = await probe(args);
  t.equal(r.code, 3, 'still exit 3: no STUN answer over UDP');
  t.match(r.stderr, /UDP is blocked on the path; the server is up/);
  t.notMatch(r.stderr, /server is down|--turn/, 'neither the ruled-out cause nor the flag already given');
  t.match(r.stdout, /TURN TCP +127\.0\.0\.1:\d+: ok/);
  t.match(r.stdout, /the server is up, so UDP is blocked on the path/);
  t.notMatch(r.stdout, /server is down|--turn/);
  const j = JSON.parse((await probe([...args, '--json'])).stdout) as Record<string, any>;
  t.same(validate(schema, j), []);
  t.match(j, { status: 'no-response', rfc3489: 'udp-blocked' });
  t.match(j.consequences[0], /UDP is blocked on the path/);
});

/** An IPv4 address that is not on this host (so binding it fails and nothing is sent), if the kernel refuses non-local binds. */
function foreignAddress(): string | undefined {
  try {
    if (readFileSync('/proc/sys/net/ipv4/ip_nonlocal_bind', 'utf8').trim() !== '0') return undefined;
  } catch {
    // not Linux: binding a non-local address fails by default
  }
  const own = new Set(Object.values(networkInterfaces()).flat().map((i) => i?.address));
  return ['203.0.113.77', '198.51.100.77', '192.0.2.77'].find((a) => !own.has(a));
}

const foreign = foreignAddress();
t.test('a --local-address the probe cannot use: one line, exit status 2', { skip: foreign ? false : 'this host binds non-local addresses (ip_nonlocal_bind)' }, async (t) => {
  const port = await freePort({ host: '127.0.0.1', udp: true, tcp: false });
  const cases: [string[], RegExp][] = [
    [['--local-address', foreign!], /--local-address [\d.]+: this host has no such address \(EADDRNOTAVAIL\); use one of this host's addresses \(.*127\.0\.0\.1.*\) or leave --local-address out/],
    [['--local-address', foreign!, '--json'], /EADDRNOTAVAIL/],
    [['--local-address', '::1'], /--local-address ::1 is IPv6 but the server 127\.0\.0\.1 is IPv4/],
  ];
  for (const [extra, want] of cases) {
    const r = await probe(['--server', `127.0.0.1:${port}`, '--timeout', '600', ...extra]);
    t.equal(r.code, 2, `${extra.join(' ')} → 2`);
    t.match(r.stderr, want);
    t.equal(r.stderr.trim().split('\n').length, 1, `one line, no stack trace: ${r.stderr.trim()}`);
    t.equal(r.stdout, '', 'no report');
  }
});

t.test('usage errors: exit status 2 with one line', async (t) => {
  for (const args of [[], ['--server', '127.0.0.1:99999'], ['--server', '127.0.0.1', '--timeout', 'x'], ['--server', '127.0.0.1', '--turn', 'http://x'], ['--server', '127.0.0.1', '--turn', 'turn:127.0.0.1'], ['--bogus']]) {
    const r = await probe(args);
    t.equal(r.code, 2, `${args.join(' ')} → 2 (${r.stderr.trim()})`);
    t.match(r.stderr, /nat-probe|error/);
  }
});
