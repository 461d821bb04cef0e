/**
 * 300 Try Alternate (RFC 8489 §10, RFC 8656 §6.2) between two real turnkit processes: node A names
 * node B in ALTERNATE-SERVER while it drains (SIGTERM) or is full (--max-allocations 1); the client
 * checks the 300 is signed with its key, follows it to B and allocates and relays there. Over TLS,
 * A names its TLS alternate and adds ALTERNATE-DOMAIN.
 */
import t from 'tap';
import dgram from 'node:dgram';
import tls from 'node:tls';
import { decodeAddress } from '../../src/stun/attributes/address.js';
import { AttributeType, MessageClass } from '../../src/stun/constants.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { decodeMessage, getAttribute, type StunMessage } from '../../src/stun/message.js';
import { StreamFramer } from '../../src/transport/stream.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { allocateRequest, createPermissionRequest, errorCode, integrityVerifies, longTermKeyRef, refreshRequest, sendIndication } from '../helpers/turn-client.js';
import { TurnUdpClient } from '../helpers/turn-udp.js';
import { skipUnless } from '../helpers/tools.js';
import { freePortRange, sleep, startTurnkitCli, type CliServer, type Teardown } from './lib.js';

t.setTimeout(60_000);

const REALM = 'fleet.example';
const USER = 'alice';
const PASSWORD = 'fleet-pw';
const KEY = longTermKeyRef(USER, REALM, PASSWORD);
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** One node of the fleet as a real process on 127.0.0.1, TURN on, relay ports `relay`..+19. */
function node(t: Tap, relay: number, extra: string[]): Promise<CliServer> {
  return startTurnkitCli(t as Teardown, [
    '--listen', '127.0.0.1:0', '--realm', REALM, '--user', `${USER}:${PASSWORD}`,
    '--relay-ports', `${relay}-${relay + 19}`, '--allow-peer', '127.0.0.1/32',
    '--http-listen', 'false', '--metrics-listen', '127.0.0.1:0', '--log-level', 'info', '--drain-timeout', '0', ...extra,
  ]);
}

function udpOf(n: CliServer): { address: string; port: number } {
  const l = n.listeners.find((x) => x.transport === 'udp')!;
  return { address: l.address, port: l.port };
}

/** A counter's value from a node's /metrics (0 when absent). */
async function metric(n: CliServer, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${n.ready.metrics as string}`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Waits until the process printed a line matching `re` (the CLI's stdout is JSON lines). */
async function waitForOutput(n: CliServer, re: RegExp, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!re.test(n.stdout())) {
    if (Date.now() > end) throw new Error(`no ${re} in: ${n.stdout()}`);
    await sleep(50);
  }
}

/** Checks a 300: signed with the client's key, ALTERNATE-SERVER present; returns it. */
function tryAlternate(t: Tap, m: StunMessage): TransportAddress | undefined {
  t.equal(m.cls === MessageClass.ErrorResponse ? errorCode(m) : 'success', 300, '300 Try Alternate');
  t.ok(integrityVerifies(m.raw!, KEY), 'signed with the client\'s key (RFC 8489 §10), so the client may follow it');
  const a = getAttribute(m, AttributeType.AlternateServer);
  return a ? decodeAddress(a.value) : undefined;
}

/** Follows ALTERNATE-SERVER: a fresh 401 dance and Allocate at the alternate, then a relayed packet. */
async function followAndRelay(t: Tap, c: TurnUdpClient, alternate: TransportAddress): Promise<void> {
  c.retarget(alternate);
  const answer = await c.allocate(USER, PASSWORD, REALM);
  t.equal(answer.cls, MessageClass.SuccessResponse, 'the Allocate succeeds at the alternate');
  const relayed = getAttribute(answer, AttributeType.XorRelayedAddress);
  t.ok(relayed, 'with a relayed address');
  const peer = dgram.createSocket('udp4');
  t.teardown(() => peer.close());
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
  const peerAddr: TransportAddress = { family: 'IPv4', address: '127.0.0.1', port: peer.address().port };
  t.equal(errorCode(await c.request(createPermissionRequest(c.creds!, [peerAddr]))), undefined, 'CreatePermission at the alternate');
  const got = new Promise<string>((r) => peer.once('message', (m) => r(m.toString())));
  c.send(sendIndication(peerAddr, Buffer.from('via the alternate')));
  t.equal(await Promise.race([got, sleep(2000).then(() => 'nothing')]), 'via the alternate', 'and relays');
}

t.test('SIGTERM drain: node A answers 300 naming node B; the client allocates at B; A still exits 0', async (t) => {
  const relay = await freePortRange(['127.0.0.1'], 40, ['udp']);
  const b = await node(t, relay + 20, []);
  const a = await node(t, relay, ['--alternate-server', `127.0.0.1:${udpOf(b).port}`, '--drain-timeout', '10']);
  const live = await TurnUdpClient.open(t, udpOf(a));
  t.equal((await live.allocate(USER, PASSWORD, REALM)).cls, MessageClass.SuccessResponse, 'a live allocation on A keeps its drain going');

  const exited = new Promise<number | null>((r) => a.child.once('exit', (code) => r(code)));
  a.child.kill('SIGTERM');
  await waitForOutput(a, /"msg":"draining"/);
  const c = await TurnUdpClient.open(t, udpOf(a));
  const alternate = tryAlternate(t, await c.allocate(USER, PASSWORD, REALM));
  t.same(alternate, { family: 'IPv4', ...udpOf(b) }, 'ALTERNATE-SERVER is node B');
  t.equal(await metric(a, 'turnkit_alternate_redirects_total', 'reason="draining"'), 1, 'A counted the redirect');
  if (alternate) await followAndRelay(t, c, alternate);

  t.equal(errorCode(await live.request(refreshRequest(live.creds!, 0))), undefined, 'the last allocation on A ends');
  t.equal(await exited, 0, 'A exits 0 once drained');
});

t.test('full (--max-allocations 1): the next Allocate gets 300 naming B and succeeds there', async (t) => {
  const relay = await freePortRange(['127.0.0.1'], 40, ['udp']);
  const b = await node(t, relay + 20, []);
  const a = await node(t, relay, ['--max-allocations', '1', '--alternate-server', `127.0.0.1:${udpOf(b).port}`]);
  const first = await TurnUdpClient.open(t, udpOf(a));
  t.equal((await first.allocate(USER, PASSWORD, REALM)).cls, MessageClass.SuccessResponse, 'the one allocation A has room for');
  const c = await TurnUdpClient.open(t, udpOf(a));
  const alternate = tryAlternate(t, await c.allocate(USER, PASSWORD, REALM));
  t.same(alternate, { family: 'IPv4', ...udpOf(b) }, 'ALTERNATE-SERVER is node B');
  t.equal(await metric(a, 'turnkit_alternate_redirects_total', 'reason="full"'), 1, 'counted as full');
  t.equal(await metric(a, 'turnkit_errors_total', 'method="Allocate",code="300"'), 1, 'and as a 300 answer');
  if (alternate) await followAndRelay(t, c, alternate);
});

t.test('over TLS: the TLS alternate and ALTERNATE-DOMAIN', skipUnless('openssl'), async (t) => {
  const cert = makeSelfSignedCert();
  t.teardown(() => cert.cleanup());
  const relay = await freePortRange(['127.0.0.1'], 20, ['udp']);
  const a = await node(t, relay, [
    '--max-allocations', '1', '--tls-listen', '127.0.0.1:0', '--cert', cert.certFile, '--key', cert.keyFile,
    '--alternate-server', '127.0.0.1:3478', '--tls-alternate-server', '192.0.2.30:5349', '--alternate-domain', 'turn2.example.com',
  ]);
  const first = await TurnUdpClient.open(t, udpOf(a));
  t.equal((await first.allocate(USER, PASSWORD, REALM)).cls, MessageClass.SuccessResponse, 'A is now full');

  const port = a.listeners.find((l) => l.transport === 'tls')!.port;
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  t.teardown(() => socket.destroy());
  await new Promise<void>((r, j) => socket.once('secureConnect', () => r()).once('error', j));
  const framer = new StreamFramer();
  const ask = (r: { data: Buffer; transactionId: Buffer }): Promise<StunMessage> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer over TLS')), 3000);
      const onData = (chunk: Buffer): void => {
        framer.push(chunk, (frame) => {
          const d = decodeMessage(frame);
          if (!d.ok || !d.message.transactionId.equals(r.transactionId)) return;
          clearTimeout(timer);
          socket.off('data', onData);
          resolve(d.message);
        });
      };
      socket.on('data', onData);
      socket.write(r.data);
    });
  const challenge = await ask(allocateRequest(undefined));
  const nonce = getAttribute(challenge, AttributeType.Nonce)!.value.toString();
  const m = await ask(allocateRequest({ username: USER, password: PASSWORD, realm: REALM, nonce }));
  const alternate = tryAlternate(t, m);
  t.same(alternate, { family: 'IPv4', address: '192.0.2.30', port: 5349 }, 'the TLS alternate, not the UDP/TCP one');
  t.equal(getAttribute(m, AttributeType.AlternateDomain)?.value.toString(), 'turn2.example.com', 'ALTERNATE-DOMAIN names the certificate to expect');
});
