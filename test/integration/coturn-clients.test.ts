/**
 * coturn's client tools against turnkit: turnutils_stunclient (Binding + RFC 5780 CHANGE-REQUEST,
 * RESPONSE-PORT, PADDING) and turnutils_natdiscovery (RFC 5780 mapping / filtering / lifetime).
 * Every check also runs against coturn itself as a control (skipped if turnserver is missing):
 * the expected lines are what the tool prints against the reference server (see README.md).
 * Also the CLI contract: the ready line, a bad flag, SIGTERM.
 */
import t from 'tap';
import {
  canBindAltLoopback,
  freePortRange,
  hasTool,
  run,
  startCoturn,
  startTurnkitCli,
  startTurnkitCliRfc5780,
  whichTool,
  type RunResult,
} from './lib.js';

t.setTimeout(240_000);

const HAVE_STUNCLIENT = hasTool('turnutils_stunclient');
const HAVE_NATDISCOVERY = hasTool('turnutils_natdiscovery');
const HAVE_TURNSERVER = hasTool('turnserver');
const ALT_OK = await canBindAltLoopback();
const INSTALL_HINT = '(npm test as root installs coturn)';

const skipUnless = (cond: boolean, why: string): false | string => (cond ? false : why);
const needStunclient = skipUnless(HAVE_STUNCLIENT, `turnutils_stunclient not installed ${INSTALL_HINT}`);
const needNatdiscovery = skipUnless(HAVE_NATDISCOVERY, `turnutils_natdiscovery not installed ${INSTALL_HINT}`);
const needAlt = skipUnless(ALT_OK, '127.0.0.2 cannot be bound on this host (RFC 5780 needs a second loopback IP)');
const needCoturn = skipUnless(HAVE_TURNSERVER, `turnserver (coturn control) not installed ${INSTALL_HINT}`);
const first = (...xs: Array<false | string>): false | string => xs.find((x) => x !== false) ?? false;

/** What a server under test looks like to the checks. */
interface Target {
  name: string;
  port: number;
}

/** The subtest object tap passes to a test callback. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** Starts the target: turnkit (CLI, real process) or the coturn control. */
async function target(tt: Tap, which: 'turnkit' | 'coturn', rfc5780: boolean): Promise<Target> {
  if (which === 'coturn') {
    const c = await startCoturn(tt, { rfc5780 });
    return { name: 'coturn', port: c.port };
  }
  if (rfc5780) {
    const { port } = await startTurnkitCliRfc5780(tt);
    return { name: 'turnkit', port };
  }
  const s = await startTurnkitCli(tt, ['--listen', '127.0.0.1:0', '--log-level', 'info']);
  const udp = s.listeners.find((l) => l.transport === 'udp' && l.address === '127.0.0.1');
  if (!udp) throw new Error(`no UDP listener on 127.0.0.1 in the ready line: ${JSON.stringify(s.listeners)}`);
  return { name: 'turnkit', port: udp.port };
}

/** Splits tool output into the blocks that follow each "RFC 5780 response N" header. */
function rfc5780Blocks(out: string): Map<number, string> {
  const blocks = new Map<number, string>();
  const re = /RFC 5780 response (\d+)\n([\s\S]*?)(?=\n=+\n|$)/g;
  for (const m of out.matchAll(re)) blocks.set(Number(m[1]), m[2]!);
  return blocks;
}

const field = (block: string | undefined, label: string): string | undefined =>
  block?.match(new RegExp(`${label}:? ?: (\\d+\\.\\d+\\.\\d+\\.\\d+:\\d+)`))?.[1];

function outputOf(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out, killed)' : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Output lines that mean the tool saw something wrong, whatever the check. */
function noErrors(tt: Tap, r: RunResult): void {
  tt.notOk(r.timedOut, 'the tool finished (a missing answer makes it wait forever)');
  tt.notMatch(r.stdout, /The response is an error/, 'no error response');
  tt.notMatch(r.stdout, /not a (well formed )?STUN message|not a re?sponse message|Wrong type of response|Cannot read the response/, 'every answer parsed');
  tt.notMatch(r.stdout, /STUN receive timeout/, 'no request went unanswered');
  tt.notMatch(r.stdout, /ALG detected/, 'MAPPED-ADDRESS, when present, equals XOR-MAPPED-ADDRESS');
}

// ---------------------------------------------------------------------------------------------
// turnutils_stunclient

async function stunclientPlain(tt: Tap, tg: Target): Promise<void> {
  const r = await run(whichTool('turnutils_stunclient')!, ['-p', String(tg.port), '127.0.0.1'], { timeoutMs: 10000, t: tt });
  tt.comment(outputOf(r));
  noErrors(tt, r);
  const mapped = [...r.stdout.matchAll(/UDP reflexive addr: (\d+\.\d+\.\d+\.\d+):(\d+)/g)];
  tt.ok(mapped.length >= 1, 'prints the reflexive (mapped) address');
  for (const m of mapped) {
    tt.equal(m[1], '127.0.0.1', 'mapped IP is the client IP');
    const port = Number(m[2]);
    tt.ok(port > 0 && port < 65536 && port !== tg.port, `mapped port ${port} is a client port`);
  }
  tt.notMatch(r.stdout, /RFC 5780 response/, 'no OTHER-ADDRESS without an alternate address, so no RFC 5780 round');
}

async function stunclientRfc5780(tt: Tap, tg: Target): Promise<void> {
  const P = tg.port;
  const r = await run(whichTool('turnutils_stunclient')!, ['-p', String(P), '127.0.0.1'], { timeoutMs: 10000, t: tt });
  tt.comment(outputOf(r));
  noErrors(tt, r);
  const b = rfc5780Blocks(r.stdout);
  tt.same([...b.keys()], [1, 2, 3], 'three RFC 5780 responses (plain; CHANGE-REQUEST+RESPONSE-PORT; CHANGE-REQUEST+PADDING)');
  // 1: plain Binding to the primary.
  tt.equal(field(b.get(1), 'Response origin'), `127.0.0.1:${P}`, 'response 1: RESPONSE-ORIGIN is the primary');
  tt.equal(field(b.get(1), 'Other addr'), `127.0.0.2:${P + 1}`, 'response 1: OTHER-ADDRESS is alt IP : alt port');
  const m1 = field(b.get(1), 'UDP reflexive addr');
  tt.match(m1 ?? '', /^127\.0\.0\.1:\d+$/, 'response 1: mapped address is 127.0.0.1:<client port>');
  const clientPort = Number(m1?.split(':')[1]);
  // 2: change IP+port, RESPONSE-PORT = clientPort+1 (read on a socket the tool bound to clientPort+1).
  tt.equal(field(b.get(2), 'Response origin'), `127.0.0.2:${P + 1}`, 'response 2 (change ip+port) comes from alt IP : alt port');
  tt.equal(field(b.get(2), 'Other addr'), `127.0.0.2:${P + 1}`, 'response 2: OTHER-ADDRESS');
  tt.equal(field(b.get(2), 'UDP reflexive addr'), `127.0.0.1:${clientPort}`, 'response 2: same mapping as response 1 (arrived via RESPONSE-PORT)');
  // 3: sent from the socket on clientPort+1, with PADDING.
  tt.equal(field(b.get(3), 'Response origin'), `127.0.0.2:${P + 1}`, 'response 3 (change ip+port, PADDING) comes from alt IP : alt port');
  tt.equal(field(b.get(3), 'UDP reflexive addr'), `127.0.0.1:${clientPort + 1}`, 'response 3: mapped port is the second socket (client port + 1)');
}

// ---------------------------------------------------------------------------------------------
// turnutils_natdiscovery

async function natdiscovery(tt: Tap, tg: Target, flags: string[], localPort?: number): Promise<RunResult> {
  const args = [...flags, '-L', '127.0.0.1', ...(localPort ? ['-l', String(localPort)] : []), '-p', String(tg.port), '127.0.0.1'];
  const r = await run(whichTool('turnutils_natdiscovery')!, args, { timeoutMs: 30000, t: tt });
  tt.comment(`turnutils_natdiscovery ${args.join(' ')}\n${outputOf(r)}`);
  noErrors(tt, r);
  return r;
}

async function natMapping(tt: Tap, tg: Target): Promise<void> {
  const local = await freePortRange(['127.0.0.1'], 1, ['udp']);
  const r = await natdiscovery(tt, tg, ['-m'], local);
  tt.match(r.stdout, /No NAT! \(Endpoint Independent Mapping\)/, 'mapped address == local address: "No NAT!"');
  tt.match(r.stdout, /NAT with Endpoint Independent Mapping!/, 'verdict: endpoint-independent mapping');
  tt.notMatch(r.stdout, /Dependent Mapping/, 'no dependent-mapping verdict');
  const b = rfc5780Blocks(r.stdout);
  tt.equal(field(b.get(2), 'Response origin'), `127.0.0.2:${tg.port}`, 'test II went to alt IP : primary port and was answered from there');
  for (const m of r.stdout.matchAll(/UDP reflexive addr: (\S+)/g)) tt.equal(m[1], `127.0.0.1:${local}`, 'every mapped address is the client socket');
}

async function natFiltering(tt: Tap, tg: Target, padding: boolean): Promise<void> {
  const r = await natdiscovery(tt, tg, padding ? ['-f', '-P'] : ['-f']);
  tt.match(r.stdout, /No NAT! \(Endpoint Independent Mapping\)/, 'mapped address == local address: "No NAT!"');
  tt.match(r.stdout, /NAT with Endpoint Independent Filtering!/, 'verdict: endpoint-independent filtering (change ip+port answered)');
  tt.notMatch(r.stdout, /Dependent Filtering/, 'no dependent-filtering verdict');
  const b = rfc5780Blocks(r.stdout);
  tt.equal(field(b.get(2), 'Response origin'), `127.0.0.2:${tg.port + 1}`, 'CHANGE-REQUEST ip+port answered from alt IP : alt port');
}

async function natLifetime(tt: Tap, tg: Target): Promise<void> {
  const r = await natdiscovery(tt, tg, ['-t', '-T', '1']);
  const b = rfc5780Blocks(r.stdout);
  tt.ok(b.has(2), 'RESPONSE-PORT: the second request (from another socket) was answered on the first socket');
  tt.equal(field(b.get(2), 'Response origin'), `127.0.0.1:${tg.port}`, 'answered from the primary');
}

async function natNoAlt(tt: Tap, tg: Target): Promise<void> {
  const r = await natdiscovery(tt, tg, ['-m']);
  tt.match(r.stdout, /No NAT! \(Endpoint Independent Mapping\)/, 'mapped address == local address: "No NAT!"');
  tt.notMatch(r.stdout, /RFC 5780 response/, 'no OTHER-ADDRESS without --alt-address');
}

// ---------------------------------------------------------------------------------------------

for (const which of ['turnkit', 'coturn'] as const) {
  const control = which === 'coturn';
  const label = control ? ' [control: coturn]' : '';
  const needServer = control ? needCoturn : false;

  t.test(`turnutils_stunclient gets 127.0.0.1:<client port> over UDP (no alternate address)${label}`,
    { skip: first(needStunclient, needServer) }, async (tt) => {
      await stunclientPlain(tt, await target(tt, which, false));
    });

  t.test(`turnutils_stunclient RFC 5780 round: CHANGE-REQUEST, RESPONSE-PORT, PADDING, OTHER-ADDRESS, RESPONSE-ORIGIN${label}`,
    { skip: first(needStunclient, needAlt, needServer) }, async (tt) => {
      await stunclientRfc5780(tt, await target(tt, which, true));
    });

  t.test(`turnutils_natdiscovery -m: endpoint-independent mapping, no NAT on loopback${label}`,
    { skip: first(needNatdiscovery, needAlt, needServer) }, async (tt) => {
      await natMapping(tt, await target(tt, which, true));
    });

  t.test(`turnutils_natdiscovery -f: endpoint-independent filtering${label}`,
    { skip: first(needNatdiscovery, needAlt, needServer) }, async (tt) => {
      await natFiltering(tt, await target(tt, which, true), false);
    });

  t.test(`turnutils_natdiscovery -f -P (PADDING 1500): endpoint-independent filtering${label}`,
    { skip: first(needNatdiscovery, needAlt, needServer) }, async (tt) => {
      await natFiltering(tt, await target(tt, which, true), true);
    });

  t.test(`turnutils_natdiscovery -t -T 1 (RESPONSE-PORT): second response arrives${label}`,
    { skip: first(needNatdiscovery, needAlt, needServer) }, async (tt) => {
      await natLifetime(tt, await target(tt, which, true));
    });

  t.test(`turnutils_natdiscovery -m without an alternate address: No NAT, no RFC 5780${label}`,
    { skip: first(needNatdiscovery, needServer) }, async (tt) => {
      await natNoAlt(tt, await target(tt, which, false));
    });
}

// ---------------------------------------------------------------------------------------------
// CLI contract (no external tools needed)

t.test('CLI: ready line lists the UDP and TCP listeners, RFC 5780 adds the alternate sockets', { skip: needAlt }, async (tt) => {
  const { server, port } = await startTurnkitCliRfc5780(tt);
  const has = (transport: string, address: string, p: number) =>
    server.listeners.some((l) => l.transport === transport && l.address === address && l.port === p);
  tt.ok(has('udp', '127.0.0.1', port), 'udp 127.0.0.1:P');
  tt.ok(has('tcp', '127.0.0.1', port), 'tcp 127.0.0.1:P');
  tt.ok(has('udp', '127.0.0.1', port + 1), 'udp 127.0.0.1:P+1 (alt port)');
  tt.ok(has('udp', '127.0.0.2', port), 'udp 127.0.0.2:P (alt IP)');
  tt.ok(has('udp', '127.0.0.2', port + 1), 'udp 127.0.0.2:P+1 (alt IP, alt port)');
  for (const l of server.listeners) {
    tt.ok(['udp', 'tcp', 'tls'].includes(l.transport), `listener transport ${l.transport}`);
    tt.ok(Number.isInteger(l.port) && l.port > 0, `listener port ${l.port}`);
  }
});

t.test('CLI: SIGTERM shuts the server down with exit code 0', async (tt) => {
  const s = await startTurnkitCli(tt, ['--listen', '127.0.0.1:0', '--log-level', 'info']);
  const { code, signal } = await s.stop();
  tt.equal(signal, null, 'exited by itself, not killed by the signal');
  tt.equal(code, 0, 'exit code 0');
});

t.test('CLI: a bad flag exits non-zero with one line on stderr', async (tt) => {
  const { CLI_PATH } = await import('./lib.js');
  for (const args of [['serve', '--no-such-flag'], ['serve', '--listen', 'not-an-address'], ['serve', '--listen', '127.0.0.1:0', '--alt-port', '5000']]) {
    const r = await run(process.execPath, [CLI_PATH, ...args], { timeoutMs: 10000, t: tt });
    tt.not(r.code, 0, `${args.join(' ')}: non-zero exit (${r.code})`);
    tt.notOk(r.timedOut, `${args.join(' ')}: exits promptly`);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    tt.equal(lines.length, 1, `${args.join(' ')}: exactly one stderr line: ${JSON.stringify(r.stderr)}`);
  }
});
