/**
 * The checks of the `stunner` TURN pentest tool (security.md), re-created with our own client code
 * and run over real sockets against a turnkit daemon on its defaults (only users added): info,
 * range-scan, socks, brute-transports, brute-password and memoryleak. Each check asserts the
 * server's refusal (the error code, or nothing arriving on a recording socket), that the refusal is
 * counted in /metrics, and that it is logged once, without the password. test/turn/security.test.ts
 * has the same cases at the engine level; this file proves them end to end.
 *
 * Network safety: requests naming private or metadata peers only ever go to turnkit (which refuses
 * them); data is sent only towards loopback peers, where a recording socket listens.
 */
import t from 'tap';
import { TurnStreamClient } from '../helpers/turn-stream-client.js';
import dgram from 'node:dgram';
import net from 'node:net';
import { AttributeType, Method } from '../../src/stun/constants.js';
import { getAttribute } from '../../src/stun/message.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { LiveUdpClient, resultOf, startDaemon, type Daemon } from '../helpers/live-turn.js';
import {
  allocateRequest,
  bindingRequest,
  channelBindRequest,
  channelData,
  createPermissionRequest,
  requestedFamily,
  sendIndication,
  turnRequest,
  type Credentials,
} from '../helpers/turn-client.js';
import type { Test } from 'tap';

const REALM = 'sec.example';
const ALICE = { name: 'alice', password: 'Alice-S3cret-pw' };
const VICTIM = { name: 'victim', password: 'V1ctim-S3cret-pw' };
const DEFAULT_ARGS = ['--realm', REALM, '--user', `${ALICE.name}:${ALICE.password}`, '--user', `${VICTIM.name}:${VICTIM.password}`];
const QUIET_MS = 400;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const v4 = (address: string, port = 9): TransportAddress => ({ family: 'IPv4', address, port });
const v6 = (address: string, port = 9): TransportAddress => ({ family: 'IPv6', address, port });

/** A UDP socket on 127.0.0.1 that records what reaches it (the peer a relay must not reach). */
async function recorder(t: Test): Promise<{ port: number; got: Buffer[] }> {
  const s = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => s.close());
  return { port: s.address().port, got };
}

async function allocated(t: Test, d: Daemon, localIp: string, user = ALICE): Promise<{ c: LiveUdpClient; creds: Credentials }> {
  const c = await LiveUdpClient.open(t, d.udp, localIp);
  const { answer, creds } = await c.allocate(user.name, user.password, REALM);
  if (!answer || resultOf(answer) !== 'success') throw new Error(`allocation failed: ${answer ? resultOf(answer) : 'no answer'}`);
  return { c, creds };
}

/** No log line mentions any password we know (or any guess we sent). */
function assertNoSecrets(t: Test, d: Daemon, extra: string[] = []): void {
  const text = d.proc.stdout + d.proc.stderr;
  for (const secret of [ALICE.password, VICTIM.password, ...extra]) t.notOk(text.includes(secret), `the log never contains "${secret.slice(0, 3)}…"`);
}

t.test('stunner checks against a default turnkit', async (t) => {
  const d = await startDaemon(t, DEFAULT_ARGS);

  await t.test('info: the banner names no version', async (t) => {
    const c = await LiveUdpClient.open(t, d.udp);
    const b = bindingRequest();
    const answer = await c.request({ data: b, transactionId: b.subarray(8, 20) });
    const software = answer && getAttribute(answer, AttributeType.Software)?.value.toString('utf8');
    t.equal(software, 'turnkit', 'SOFTWARE is the bare name');
    const challenge = await c.request(allocateRequest(undefined));
    const again = challenge && getAttribute(challenge, AttributeType.Software)?.value.toString('utf8');
    t.ok(again === undefined || !/\d/.test(again), `the 401 tells no version (${again})`);
    const http = await fetch(`http://127.0.0.1:${d.http}/nope`);
    t.notOk(http.headers.get('server'), 'HTTP answers carry no Server header');
    t.notOk(http.headers.get('x-powered-by'), 'nor X-Powered-By');
  });

  await t.test('range-scan: every private, loopback and metadata peer in every address form → 403, counted, logged within a budget', async (t) => {
    const { c, creds } = await allocated(t, d, '127.0.0.3');
    const ipv4 = ['127.0.0.1', '127.1.2.3', '0.0.0.0', '10.0.0.1', '172.16.0.1', '192.168.1.1', '100.64.0.1', '100.100.100.200',
      '169.254.169.254', '168.63.129.16', '192.0.0.1', '198.18.0.1', '224.0.0.1', '240.0.0.1', '255.255.255.255'];
    const deniedBefore = await d.metric('turnkit_peer_denied_total');
    for (const ip of ipv4) {
      const perm = await c.request(createPermissionRequest(creds, [v4(ip)]));
      const bind = await c.request(channelBindRequest(creds, 0x4000, v4(ip)));
      t.equal(perm && resultOf(perm), 403, `CreatePermission ${ip}`);
      t.equal(bind && resultOf(bind), 403, `ChannelBind ${ip}`);
    }
    const deniedAfter = await d.metric('turnkit_peer_denied_total');
    t.equal(deniedAfter - deniedBefore, 2 * ipv4.length, 'every refusal counted in turnkit_peer_denied_total');
    const lines = d.logs().filter((l) => l.msg === 'peer denied');
    // A scan must not write a line per target: one client gets 10 lines a minute, then one saying so.
    for (const ip of ipv4.slice(0, 10)) t.equal(lines.filter((l) => l.peer === ip && l.client === '127.0.0.3').length, 1, `${ip} logged once for two refusals, naming the client`);
    t.equal(lines.length, 10, `the scan of ${ipv4.length} peers wrote 10 'peer denied' lines`);
    t.equal(d.logs().filter((l) => l.msg === 'more peer denials from this client are counted, not logged, for a minute' && l.client === '127.0.0.3').length, 1, 'and one line saying the rest is not logged');

    // IPv6 forms: on an IPv4 relay they are another family (443); on an IPv6 relay, where the daemon
    // has one, the embedded IPv4 address decides (403).
    const forms = ['::1', '::', '::ffff:127.0.0.1', '::7f00:1', '64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1',
      '2001:0:4136:e378:8000:63bf:80ff:fffe', 'fd00:ec2::254', 'fe80::1', 'ff02::1'];
    const c6 = await LiveUdpClient.open(t, d.udp, '127.0.0.4');
    const six = await c6.allocate(ALICE.name, ALICE.password, REALM, { extra: [requestedFamily(2)] });
    const ipv6Relay = six.answer !== undefined && resultOf(six.answer) === 'success';
    t.comment(ipv6Relay ? 'IPv6 relay available: IPv6 peers judged by the policy' : 'no IPv6 relay here: IPv6 peers refused as another family');
    for (const ip of forms) {
      const perm = ipv6Relay ? await c6.request(createPermissionRequest(six.creds, [v6(ip)])) : await c.request(createPermissionRequest(creds, [v6(ip)]));
      const code = perm && resultOf(perm);
      t.ok(ipv6Relay ? code === 403 : code === 403 || code === 443, `CreatePermission ${ip} refused (${code})`);
    }

    // And the data path: Send indications and ChannelData to loopback reach nothing.
    const rec = await recorder(t);
    for (const ip of ['127.0.0.1', '0.0.0.0']) c.send(sendIndication(v4(ip, rec.port), Buffer.from('scan')));
    c.send(channelData(0x4000, Buffer.from('scan')));
    await sleep(QUIET_MS);
    t.equal(rec.got.length, 0, 'nothing reached the recording socket');
    t.ok((await d.metric('turnkit_relay_dropped_total', { reason: 'no-permission' })) >= 2, 'the Send indications were dropped and counted');
  });

  await t.test('socks: the relay cannot be used to reach the local network (UDP, and a TCP relay)', async (t) => {
    const rec = await recorder(t);
    const { c, creds } = await allocated(t, d, '127.0.0.5');
    const perm = await c.request(createPermissionRequest(creds, [v4('127.0.0.1', rec.port)]));
    t.equal(perm && resultOf(perm), 403, 'permission to a local service refused');
    c.send(sendIndication(v4('127.0.0.1', rec.port), Buffer.from('GET / HTTP/1.0\r\n\r\n')));
    // stunner's socks mode wants a TCP allocation (RFC 6062) and a Connect to the target.
    const accepted: net.Socket[] = [];
    const tcpTarget = net.createServer((s) => accepted.push(s));
    await new Promise<void>((r) => tcpTarget.listen(0, '127.0.0.1', () => r()));
    t.teardown(() => {
      for (const s of accepted) s.destroy();
      tcpTarget.close();
    });
    const target = v4('127.0.0.1', (tcpTarget.address() as net.AddressInfo).port);
    // RFC 6062 §5.1: a TCP relay is only for clients on TCP or TLS; asked over UDP it is a 400.
    const tc = await LiveUdpClient.open(t, d.udp, '127.0.0.6');
    const overUdp = await tc.allocate(ALICE.name, ALICE.password, REALM, { transport: 6 });
    t.equal(overUdp.answer && resultOf(overUdp.answer), 400, 'a TCP allocation over UDP → 400');
    // Over TCP the allocation is granted, and Connect to the local service is refused by the policy.
    const stream = await TurnStreamClient.open(t, { transport: 'tcp', host: '127.0.0.1', port: d.tcp, username: ALICE.name, password: ALICE.password, realm: REALM });
    await stream.allocate({ transport: 6 });
    const connect = await stream.connect(target);
    t.equal(resultOf(connect), 403, 'Connect from a TCP relay to a local TCP service → 403');
    await sleep(QUIET_MS);
    t.equal(rec.got.length, 0, 'no UDP datagram reached the local service');
    t.equal(accepted.length, 0, 'no TCP connection reached the local service');
  });

  await t.test('brute-transports: every REQUESTED-TRANSPORT but UDP → 442 over UDP (TCP: 400, RFC 6062), counted', async (t) => {
    const c = await LiveUdpClient.open(t, d.udp, '127.0.0.7');
    const { creds } = await c.allocate(ALICE.name, ALICE.password, REALM, { transport: 0 });
    const before = await d.metric('turnkit_errors_total', { method: 'Allocate', code: '442' });
    const codes = new Map<number, string | number | undefined>();
    for (let proto = 0; proto <= 255; proto++) {
      if (proto === 17) continue;
      const a = await c.request(allocateRequest(creds, { transport: proto }));
      codes.set(proto, a && resultOf(a));
    }
    const unexpected = [...codes].filter(([p, code]) => (p === 6 ? code !== 400 : code !== 442));
    t.same(unexpected, [], 'every protocol number but 17 → 442, and 6 (TCP, a stream-only relay) → 400');
    const after = await d.metric('turnkit_errors_total', { method: 'Allocate', code: '442' });
    t.ok(after - before >= 254, `counted in turnkit_errors_total{code="442"} (${after - before})`);
  });

  await t.test('brute-password: the source is cut off after its failure budget, the right guess gets nothing, others unaffected', async (t) => {
    const attacker = await LiveUdpClient.open(t, d.udp, '127.0.0.50');
    const challenge = await attacker.request(allocateRequest(undefined));
    const nonce = challenge && getAttribute(challenge, AttributeType.Nonce)!.value.toString('utf8');
    t.ok(nonce, 'the attacker got a nonce');
    // A burst as a tool sends it: 40 guesses back to back, then the right password.
    const guesses = Array.from({ length: 40 }, (_, i) => `guess-${i}-pw`);
    const attempt = (password: string): Promise<string | number | undefined> =>
      attacker.request(allocateRequest({ username: ALICE.name, password, realm: REALM, nonce: nonce! }), 500, false).then((a) => (a ? resultOf(a) : 'none'));
    const answers = await Promise.all([...guesses, ALICE.password].map(attempt));
    const right = answers.pop();
    const answered = answers.filter((a) => a === 401).length;
    t.ok(answered >= 18 && answered <= 22, `the burst (20) of guesses is answered with 401 (${answered})`);
    t.equal(answers.filter((a) => a === 'none').length, 40 - answered, 'the rest get no answer at all');
    t.equal(right, 'none', 'the right password from the limited source gets nothing either');
    const other = await allocated(t, d, '127.0.0.51');
    t.ok(other.c, 'alice from another source allocates at once');
    t.ok((await d.metric('turnkit_auth_failures_total', { reason: 'bad-integrity' })) >= answered, 'failures counted in turnkit_auth_failures_total');
    t.ok((await d.metric('turnkit_relay_dropped_total', { reason: 'rate-limited' })) >= 10, 'the excess counted as rate-limited drops');
    const logs = d.logs().filter((l) => l.client === '127.0.0.50');
    t.equal(logs.filter((l) => l.msg === 'authentication failed').length, 1, 'the failures are logged once');
    t.equal(logs.filter((l) => l.msg === 'client rate limited').length, 1, 'the limit is logged once');
    assertNoSecrets(t, d, guesses);
  });

  await t.test('brute-password over many sources: one username\'s budget runs out; its owner is not locked out', async (t) => {
    // The owner signs in first, from its usual source.
    const owner = await allocated(t, d, '127.0.0.80', VICTIM);
    const answers: Array<string | number | undefined> = [];
    for (let i = 0; i < 16; i++) {
      const c = await LiveUdpClient.open(t, d.udp, `127.0.0.${100 + i}`);
      const challenge = await c.request(allocateRequest(undefined));
      const nonce = challenge && getAttribute(challenge, AttributeType.Nonce)!.value.toString('utf8');
      const a = await c.request(allocateRequest({ username: VICTIM.name, password: `spray-${i}`, realm: REALM, nonce: nonce! }), 300, false);
      answers.push(a ? resultOf(a) : 'none');
    }
    t.same(answers.slice(0, 10), Array(10).fill(401), 'ten sources answered');
    t.same(answers.slice(12), Array(4).fill('none'), 'then guesses for victim from new sources get nothing');
    const refresh = await owner.c.request(turnRequest(Method.Refresh, [], owner.creds));
    t.equal(refresh && resultOf(refresh), 'success', 'victim keeps working from the source it signed in from');
    const bystander = await allocated(t, d, '127.0.0.140');
    t.ok(bystander.c, 'another user from a new source is unaffected');
  });

  await t.test('memoryleak: ChannelData on a refused peer relays nothing', async (t) => {
    const rec = await recorder(t);
    const { c, creds } = await allocated(t, d, '127.0.0.9');
    const bind = await c.request(channelBindRequest(creds, 0x4000, v4('127.0.0.1', rec.port)));
    t.equal(bind && resultOf(bind), 403, 'stunner\'s ChannelBind to its own listener → 403');
    const lie = Buffer.alloc(8, 0x61);
    lie.writeUInt16BE(0x4000, 0);
    lie.writeUInt16BE(0xffff, 2);
    c.send(lie);
    await sleep(QUIET_MS);
    t.equal(rec.got.length, 0, 'nothing relayed');
    t.equal(c.unsolicited.length, 0, 'nothing echoed back to the client');
  });

  assertNoSecrets(t, d);
  t.equal(d.proc.exitStatus, null, 'the daemon survived every check');
});

t.test('memoryleak with the peer allowed (a lab setup): a length past the datagram is dropped, an honest one relays exactly its bytes', async (t) => {
  const d = await startDaemon(t, [...DEFAULT_ARGS, '--allow-peer', '127.0.0.1/32']);
  const rec = await recorder(t);
  const { c, creds } = await allocated(t, d, '127.0.0.1');
  const bind = await c.request(channelBindRequest(creds, 0x4000, v4('127.0.0.1', rec.port)));
  t.equal(bind && resultOf(bind), 'success', 'channel bound to the recording peer');
  const before = await d.metric('turnkit_relay_dropped_total', { reason: 'malformed' });
  for (const [claimed, actual] of [[0xffff, 4], [100, 96], [5, 4], [1, 0]] as const) {
    const frame = Buffer.alloc(4 + actual, 0x61);
    frame.writeUInt16BE(0x4000, 0);
    frame.writeUInt16BE(claimed, 2);
    c.send(frame);
  }
  await sleep(QUIET_MS);
  t.equal(rec.got.length, 0, 'no lying frame was relayed');
  t.equal((await d.metric('turnkit_relay_dropped_total', { reason: 'malformed' })) - before, 4, 'each counted as malformed');
  c.send(Buffer.from([0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0xde, 0xad]));
  await sleep(QUIET_MS);
  t.same(rec.got.map((b) => b.toString('hex')), ['01020304'], 'control: an honest frame relays exactly its 4 bytes, not what follows');
});
