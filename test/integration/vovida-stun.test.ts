/**
 * Debian's `stun` client (vovida STUN 0.97, an RFC 3489 client: no magic cookie, 16-byte
 * transaction IDs, CHANGE-REQUEST, CHANGED-ADDRESS) against turnkit with two addresses.
 *
 * Its verdict alone is weak (it counts any answer to tests 2/3 as success, error responses
 * included: a single-IP coturn answering 420 is also "Open"), so the -v trace is checked too:
 * who answered each test (SOURCE-ADDRESS) and which mapped address it reported.
 * Exit code = vovida's return value: 0x00 Open | 0x01 preserves port | 0x10 no hairpin → 1 here.
 */
import t from 'tap';
import { canBindAltLoopback, freePortRange, hasTool, run, startCoturn, startTurnkitCliRfc5780, whichTool } from './lib.js';

t.setTimeout(120_000);

const STUN = '/usr/bin/stun';
const HAVE_STUN = hasTool(STUN) || hasTool('stun');
const ALT_OK = await canBindAltLoopback();
const skipFor = (control: boolean): false | string => {
  if (!HAVE_STUN) return 'stun (vovida stun-client) not installed (npm test as root installs stun-client)';
  if (!ALT_OK) return '127.0.0.2 cannot be bound on this host (the classic test needs a second server IP)';
  if (control && !hasTool('turnserver')) return 'turnserver (coturn control) not installed (npm test as root installs coturn)';
  return false;
};

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** One answer in the -v trace: its attributes and the test number (first byte of the transaction ID). */
interface Answer {
  id: number;
  type: number;
  fields: Record<string, string>;
}

function parseTrace(stderr: string): Answer[] {
  const out: Answer[] = [];
  for (const chunk of stderr.split('Received stun message:').slice(1)) {
    const m = chunk.match(/Received message of type (\d+)\s+id=(\d+)/);
    if (!m) continue;
    const fields: Record<string, string> = {};
    for (const f of chunk.matchAll(/^(\w+) = (.*)$/gm)) fields[f[1]!] = f[2]!.trim();
    out.push({ id: Number(m[2]), type: Number(m[1]), fields });
  }
  return out;
}

async function classify(tt: Tap, port: number, serverName: string): Promise<void> {
  // vovida opens srcPort and srcPort+1 on 0.0.0.0; give it a free pair so the run is deterministic.
  const src = await freePortRange(['0.0.0.0'], 2, ['udp']);
  const stunPath = whichTool(STUN) ?? whichTool('stun')!;
  const r = await run(stunPath, [`127.0.0.1:${port}`, '-v', '-p', String(src)], { timeoutMs: 30000, t: tt });
  tt.comment(`stun 127.0.0.1:${port} -v -p ${src} against ${serverName}: exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr (trace)\n${r.stderr}`);
  tt.notOk(r.timedOut, 'finished');
  tt.match(r.stdout, /Primary: Open/, 'classified "Open" (no NAT, no firewall)');
  tt.match(r.stdout, /Return value is 0x000001/, 'return value 0x000001: Open, preserves port, hairpin');
  tt.equal(r.code, 1, 'exit code 1 (= the return value)');

  const answers = parseTrace(r.stderr);
  const byId = new Map(answers.map((a) => [a.id, a]));
  for (const id of [1, 2, 3, 10]) {
    const a = byId.get(id);
    tt.ok(a, `test ${id} answered`);
    tt.equal(a?.type, 0x0101, `test ${id}: a Binding success response (type 257), not an error`);
  }
  const f = (id: number, k: string) => byId.get(id)?.fields[k];
  // Test 1: plain request from src to the primary.
  tt.equal(f(1, 'MappedAddress'), `127.0.0.1:${src}`, 'test 1: MAPPED-ADDRESS = the client socket');
  tt.equal(f(1, 'SourceAddress'), `127.0.0.1:${port}`, 'test 1: SOURCE-ADDRESS = primary');
  tt.equal(f(1, 'ChangedAddress'), `127.0.0.2:${port + 1}`, 'test 1: CHANGED-ADDRESS = alt IP : alt port');
  // Test 2: CHANGE-REQUEST 0x04 (change IP) from src+1.
  tt.equal(f(2, 'MappedAddress'), `127.0.0.1:${src + 1}`, 'test 2: MAPPED-ADDRESS = the second client socket');
  tt.equal(f(2, 'SourceAddress'), `127.0.0.2:${port}`, 'test 2 (change IP): answered from alt IP : primary port');
  // Test 3: CHANGE-REQUEST 0x02 (change port) from src+1.
  tt.equal(f(3, 'SourceAddress'), `127.0.0.1:${port + 1}`, 'test 3 (change port): answered from primary IP : alt port');
  // Test 10: plain request to CHANGED-ADDRESS's IP with the primary port.
  tt.equal(f(10, 'MappedAddress'), `127.0.0.1:${src}`, 'test 10: same mapping from the second server IP');
  tt.equal(f(10, 'SourceAddress'), `127.0.0.2:${port}`, 'test 10: answered by the alt IP : primary port socket');
  for (const line of ['test I = 1', 'test II = 1', 'test III = 1', 'test I(2) = 1', 'is nat  = 0', 'mapped IP same = 1', 'preserver port = 1']) {
    tt.ok(r.stderr.includes(line), `trace: ${line}`);
  }
  // vovida's parser stops at an unknown comprehension-required attribute (type <= 0x7FFF).
  for (const m of r.stderr.matchAll(/[Uu]nknown attribute:?\s*(0x[0-9a-fA-F]+|\d+)/g)) {
    const type = Number(m[1]);
    tt.ok(type > 0x7fff, `no unknown comprehension-required attribute in an RFC 3489 answer (saw ${m[1]})`);
  }
}

t.test('vovida stun classifies turnkit (--alt-address 127.0.0.2) as Open', { skip: skipFor(false) }, async (tt) => {
  const { port } = await startTurnkitCliRfc5780(tt);
  await classify(tt, port, 'turnkit');
});

t.test('vovida stun classifies turnkit as Open [control: coturn]', { skip: skipFor(true) }, async (tt) => {
  const c = await startCoturn(tt, { rfc5780: true });
  await classify(tt, c.port, 'coturn');
});

t.test('vovida stun reports Blocked (exit 28) when nothing answers', { skip: skipFor(false) }, async (tt) => {
  // Sanity check that the assertions above can fail: a port nobody listens on.
  const port = await freePortRange(['127.0.0.1'], 2, ['udp']);
  const r = await run(whichTool(STUN) ?? whichTool('stun')!, [`127.0.0.1:${port}`], { timeoutMs: 30000, t: tt });
  tt.match(r.stdout, /Primary: Blocked or could not reach STUN server/, 'Blocked');
  tt.equal(r.code, 0x1c, 'exit code 0x1c (Blocked 0x0C | no hairpin 0x10)');
});
