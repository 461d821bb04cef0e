/**
 * The daemon as an operator runs it: the credential service feeding the TURN server, secret rotation
 * and certificate swap by SIGHUP, the SIGTERM drain, and the metrics. Real CLI process, real sockets
 * on loopback.
 */
import t from 'tap';
import dgram from 'node:dgram';
import tls from 'node:tls';
import { createHmac, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AttributeType, Method, MessageClass } from '../../src/stun/constants.js';
import { decodeMessage, getAttribute, type StunMessage } from '../../src/stun/message.js';
import { decodeXorAddress } from '../../src/stun/attributes/address.js';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { DROP_REASONS } from '../../src/stun/server.js';
import { REDIRECT_REASONS, RELAY_DROP_REASONS } from '../../src/turn/context.js';
import { HTTP_REFUSALS, STREAM_CLOSE_REASONS } from '../../src/services/metrics.js';
import { CONNECTION_REFUSALS } from '../../src/transport/connection-gate.js';
import { PEER_CONNECTION_REFUSALS } from '../../src/turn/handlers/connection-attempt.js';
import { AUTH_FAILURE_REASONS } from '../../src/turn/auth.js';
import { allocateRequest, createPermissionRequest, errorCode, sendIndication, turnRequest, type Credentials } from '../helpers/turn-client.js';
import { TurnStreamClient } from '../helpers/turn-stream-client.js';
import { freePort } from '../helpers/ports.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { spawnTracked, type TrackedProcess } from '../helpers/process.js';
import { hasTool } from '../helpers/tools.js';

const BIN = fileURLToPath(new URL('../../bin/turnkit.js', import.meta.url));
const REALM = 'ops.example';
const HAVE_OPENSSL = hasTool('openssl');

/** A UDP client that matches answers to requests by transaction ID and keeps everything else. */
class Client {
  readonly indications: StunMessage[] = [];
  private constructor(readonly socket: dgram.Socket, private readonly port: number) {}

  static async open(t: { teardown(fn: () => void): void }, port: number): Promise<Client> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    t.teardown(() => socket.close());
    const c = new Client(socket, port);
    socket.on('message', (m) => {
      const d = decodeMessage(m);
      if (d.ok && d.message.cls === MessageClass.Indication) c.indications.push(d.message);
    });
    return c;
  }

  request(r: { data: Buffer; transactionId: Buffer }, timeoutMs = 3000): Promise<StunMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('message', on);
        reject(new Error('no answer'));
      }, timeoutMs);
      const on = (m: Buffer): void => {
        const d = decodeMessage(m);
        if (!d.ok || !d.message.transactionId.equals(r.transactionId)) return;
        clearTimeout(timer);
        this.socket.off('message', on);
        resolve(d.message);
      };
      this.socket.on('message', on);
      this.socket.send(r.data, this.port, '127.0.0.1');
    });
  }

  /** The 401 dance, then an authenticated Allocate; the answer (success or error) and the credentials. */
  async allocate(username: string, password: string): Promise<{ answer: StunMessage; creds: Credentials }> {
    const challenge = await this.request(allocateRequest(undefined));
    const nonce = getAttribute(challenge, AttributeType.Nonce)!.value.toString();
    const creds: Credentials = { username, password, realm: REALM, nonce };
    return { answer: await this.request(allocateRequest(creds)), creds };
  }

  send(data: Buffer): void {
    this.socket.send(data, this.port, '127.0.0.1');
  }
}

function code(m: StunMessage): number | 'success' {
  if (m.cls === MessageClass.SuccessResponse) return 'success';
  return decodeErrorCode(getAttribute(m, AttributeType.ErrorCode)!.value)!.code;
}

function relayedOf(m: StunMessage): TransportAddress {
  return decodeXorAddress(getAttribute(m, AttributeType.XorRelayedAddress)!.value, m.transactionId)!;
}

/** A REST credential minted by hand (the endpoint refuses TTLs that would already have expired). */
function restCredential(secret: string, expiry: number, id: string): { username: string; password: string } {
  const username = `${expiry}:${id}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
}

interface Daemon {
  proc: TrackedProcess;
  port: number;
  http: number;
  metrics: number;
  tlsPort: number;
  dir: string;
  configFile: string;
  writeConfig(extra: string): void;
}

/** Starts the daemon on a config file in a fresh directory; resolves once it logs ready, unless `waitReady` is false. */
async function startDaemon(t: { teardown(fn: () => unknown): void }, extra: string, tlsFiles?: { cert: string; key: string }, waitReady = true): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'turnkit-ops-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const http = await freePort({ udp: false });
  const metrics = await freePort({ udp: false });
  const tlsPort = await freePort({ udp: false });
  const configFile = join(dir, 'turnkit.yaml');
  const base = [
    `listen: ["127.0.0.1:${port}"]`,
    `realm: ${REALM}`,
    'allow_peers: [127.0.0.0/8]',
    'relay_ports: 40000-49000',
    `http_listen: 127.0.0.1:${http}`,
    `metrics_listen: 127.0.0.1:${metrics}`,
    `state_dir: ${join(dir, 'state')}`,
    ...(tlsFiles ? [`tls_listen: ["127.0.0.1:${tlsPort}"]`, `cert: ${tlsFiles.cert}`, `key: ${tlsFiles.key}`] : []),
  ].join('\n');
  const writeConfig = (more: string): void => writeFileSync(configFile, `${base}\n${more}\n`);
  writeConfig(extra);
  const proc = spawnTracked(process.execPath, [BIN, 'serve', '--config', configFile], { t });
  if (waitReady) await proc.waitForLine(/"msg":"ready"/, 15_000);
  return { proc, port, http, metrics, tlsPort, dir, configFile, writeConfig };
}

async function metric(d: Daemon, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${d.metrics}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** Opens an allocation with permission for `peer`, and checks one packet each way. */
async function relayRoundTrip(c: Client, creds: Credentials, relayed: TransportAddress, peer: dgram.Socket): Promise<boolean> {
  const peerPort = peer.address().port;
  const perm = await c.request(createPermissionRequest(creds, [{ family: 'IPv4', address: '127.0.0.1', port: peerPort }]));
  if (code(perm) !== 'success') return false;
  const atPeer = new Promise<{ data: Buffer; port: number }>((r) => peer.once('message', (data, rinfo) => r({ data, port: rinfo.port })));
  c.send(sendIndication({ family: 'IPv4', address: '127.0.0.1', port: peerPort }, Buffer.from('ping')));
  const got = await Promise.race([atPeer, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
  if (!got || got.data.toString() !== 'ping' || got.port !== relayed.port) return false;
  const before = c.indications.length;
  peer.send(Buffer.from('pong'), relayed.port, '127.0.0.1');
  for (let i = 0; i < 40 && c.indications.length === before; i++) await new Promise((r) => setTimeout(r, 50));
  const data = c.indications.at(-1);
  return data !== undefined && getAttribute(data, AttributeType.Data)?.value.toString() === 'pong';
}

async function peerSocket(tt: { teardown(fn: () => void): void }): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  tt.teardown(() => s.close());
  return s;
}

t.test('a credential from /ice-servers allocates at once; an expired one gets 401; rotation by SIGHUP', async (tt) => {
  const d = await startDaemon(tt, 'secrets: [new-secret, old-secret]');
  const res = await fetch(`http://127.0.0.1:${d.http}/ice-servers?username=alice`);
  tt.equal(res.status, 200);
  tt.equal(res.headers.get('cache-control'), 'no-store');
  const body = (await res.json()) as { iceServers: Array<{ urls: string[]; username: string; credential: string }> };
  const server = body.iceServers[0]!;
  tt.ok(server.urls.includes(`turn:127.0.0.1:${d.port}?transport=udp`), `URIs name the listener: ${server.urls.join(' ')}`);

  const c = await Client.open(tt, d.port);
  const { answer, creds } = await c.allocate(server.username, server.credential);
  tt.equal(code(answer), 'success', 'the endpoint credential allocates');
  const peer = await peerSocket(tt);
  tt.ok(await relayRoundTrip(c, creds, relayedOf(answer), peer), 'and relays both ways');

  const expired = restCredential('new-secret', Math.floor(Date.now() / 1000) - 10, 'late');
  tt.equal(code((await (await Client.open(tt, d.port)).allocate(expired.username, expired.password)).answer), 401, 'expired: 401');

  const future = Math.floor(Date.now() / 1000) + 600;
  const old = restCredential('old-secret', future, 'bob');
  tt.equal(code((await (await Client.open(tt, d.port)).allocate(old.username, old.password)).answer), 'success', 'the previous secret still works during rotation');

  d.writeConfig('secrets: [new-secret]');
  d.proc.child.kill('SIGHUP');
  await d.proc.waitForLine(/"msg":"reloaded"/, 5000);
  tt.equal(code((await (await Client.open(tt, d.port)).allocate(old.username, old.password)).answer), 401, 'removed by reload: 401');
  tt.ok(await relayRoundTrip(c, creds, relayedOf(answer), peer), 'the live allocation still relays after the reload');
  tt.ok((await metric(d, 'turnkit_auth_failures_total', { reason: 'expired-user' })) >= 1, 'the expired credential is counted');
});

t.test('SIGHUP while the daemon is still starting: caught from the start, then one reload once it is up', async (tt) => {
  const d = await startDaemon(tt, 'secrets: [first-secret]', undefined, false);
  // Node's handler shows in the kernel's caught-signal mask (bit 0 is SIGHUP) once it is installed.
  const caught = (): boolean => {
    try {
      const mask = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8'))?.[1];
      return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n;
    } catch {
      return false; // not started, or gone
    }
  };
  const until = Date.now() + 10_000;
  while (!caught() && Date.now() < until) await new Promise((r) => setImmediate(r));
  tt.ok(caught(), 'SIGHUP is caught');
  const httpUp = await new Promise<boolean>((resolve) => {
    const s = net.connect(d.http, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
  tt.notOk(httpUp, 'caught while the server is still starting (its HTTP port not open yet)');
  d.writeConfig('secrets: [second-secret]');
  for (let i = 0; i < 3; i++) d.proc.child.kill('SIGHUP');
  await d.proc.waitForLine(/"msg":"ready"/, 15_000);
  await d.proc.waitForLine(/"msg":"reloaded"/, 5_000);
  await new Promise((r) => setTimeout(r, 300));
  tt.equal(d.proc.lines().filter((l) => l.includes('"msg":"reloaded"')).length, 1, 'the held hangups make one reload');
  tt.equal(d.proc.child.exitCode, null, 'still running');
  const future = Math.floor(Date.now() / 1000) + 600;
  const next = restCredential('second-secret', future, 'carol');
  tt.equal(code((await (await Client.open(tt, d.port)).allocate(next.username, next.password)).answer), 'success', 'the config written during start-up is in force');
});

t.test('SIGHUP swaps the TLS certificate for new handshakes; a bad certificate is refused and the old one kept', { skip: HAVE_OPENSSL ? false : 'openssl not installed (npm test as root installs it)' }, async (tt) => {
  const a = makeSelfSignedCert();
  const b = makeSelfSignedCert();
  tt.teardown(() => {
    a.cleanup();
    b.cleanup();
  });
  const dir = mkdtempSync(join(tmpdir(), 'turnkit-tls-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  copyFileSync(a.certFile, cert);
  copyFileSync(a.keyFile, key);
  const d = await startDaemon(tt, 'users: { alice: wonderland }\ndrain_timeout: 1', { cert, key });
  const fingerprint = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: d.tlsPort, rejectUnauthorized: false }, () => {
        resolve(s.getPeerX509Certificate()!.fingerprint256);
        s.destroy();
      });
      s.on('error', reject);
    });
  const fa = new X509Certificate(a.cert).fingerprint256;
  const fb = new X509Certificate(b.cert).fingerprint256;
  tt.equal(await fingerprint(), fa, 'before: certificate A');

  const c = await Client.open(tt, d.port);
  const { answer, creds } = await c.allocate('alice', 'wonderland');
  tt.equal(code(answer), 'success');
  const peer = await peerSocket(tt);

  copyFileSync(b.certFile, cert);
  copyFileSync(b.keyFile, key);
  d.proc.child.kill('SIGHUP');
  await d.proc.waitForLine(/"msg":"reloaded"/, 5000);
  tt.equal(await fingerprint(), fb, 'after SIGHUP: certificate B');
  tt.ok(await relayRoundTrip(c, creds, relayedOf(answer), peer), 'the allocation lives on across the swap');

  // A refused reload changes nothing, drain_timeout included, and says so as a JSON log line.
  d.writeConfig('users: { alice: wonderland }\ndrain_timeout: 30');
  writeFileSync(cert, 'not a certificate');
  d.proc.child.kill('SIGHUP');
  const line = await d.proc.waitForLine(/reload refused/, 5000, 'stdout');
  const parsed = JSON.parse(line) as { level: string; msg: string; reason: string };
  tt.same([parsed.level, parsed.msg], ['error', 'reload refused, still running the previous config'], 'a JSON log line on stdout');
  tt.match(parsed.reason, /certificate/, 'naming why');
  tt.equal(await fingerprint(), fb, 'a broken file leaves certificate B in place');
  const started = Date.now();
  d.proc.child.kill('SIGTERM');
  const status = await d.proc.waitExit(20_000);
  tt.equal(status.code, 0, 'exit 0');
  tt.ok(Date.now() - started < 20_000, 'the drain kept the running drain_timeout (1 s), not the refused 30 s');
});

t.test('SIGTERM drains: not ready at once, live allocations keep relaying, new ones get 508, then exit 0', async (tt) => {
  const d = await startDaemon(tt, 'users: { alice: wonderland }\ndrain_timeout: 3');
  const c = await Client.open(tt, d.port);
  const { answer, creds } = await c.allocate('alice', 'wonderland');
  tt.equal(code(answer), 'success');
  const peer = await peerSocket(tt);
  const started = Date.now();
  d.proc.child.kill('SIGTERM');
  await d.proc.waitForLine(/"msg":"draining"/, 5000);
  tt.equal((await fetch(`http://127.0.0.1:${d.http}/readyz`)).status, 503, '/readyz turns not-ready at once');
  tt.ok(await relayRoundTrip(c, creds, relayedOf(answer), peer), 'the live allocation relays during the drain');
  tt.equal(code((await (await Client.open(tt, d.port)).allocate('alice', 'wonderland')).answer), 508, 'a new Allocate is refused with 508');
  // Over TCP too: the listener still accepts, so the client hears why (508, or 300 with an alternate).
  const tcp = await TurnStreamClient.open(tt, { transport: 'tcp', host: '127.0.0.1', port: d.port, username: 'alice', password: 'wonderland', realm: REALM });
  tt.equal(errorCode(await tcp.request((c) => allocateRequest(c))), 508, 'a new Allocate over TCP is refused with 508, not a refused connection');
  const status = await d.proc.waitExit(10_000);
  tt.equal(status.code, 0, 'exit 0');
  tt.ok(Date.now() - started >= 2500, 'it waited for the drain timeout while an allocation lived');
  const ended = d.proc.stdout.split('\n').filter((l) => l.includes('"msg":"allocations ended by shutdown"'));
  tt.equal(ended.length, 1, 'one line for the allocations the shutdown ended');
  tt.equal(ended[0] && (JSON.parse(ended[0]) as { allocations: number }).allocations, 1, 'counting the live one');
});

t.test('metrics move with traffic, and no label value comes from outside the closed sets', async (tt) => {
  const d = await startDaemon(tt, 'users: { alice: wonderland }');
  const c = await Client.open(tt, d.port);
  const { answer, creds } = await c.allocate('alice', 'wonderland');
  const peer = await peerSocket(tt);
  tt.ok(await relayRoundTrip(c, creds, relayedOf(answer), peer));
  tt.equal(await metric(d, 'turnkit_allocations'), 1, 'one live allocation');
  tt.equal(await metric(d, 'turnkit_relayed_packets_total', { direction: 'to-peer' }), 1);
  tt.equal(await metric(d, 'turnkit_relayed_packets_total', { direction: 'to-client' }), 1);
  tt.equal(await metric(d, 'turnkit_stun_requests_total', { method: 'Allocate', result: 'success' }), 1);
  tt.equal(await metric(d, 'turnkit_permissions'), 1, 'one live permission');
  tt.equal(await metric(d, 'turnkit_errors_total', { method: 'Allocate', code: '401' }), 1, 'the 401 challenge, by code');
  tt.ok((await metric(d, 'turnkit_request_duration_seconds_count', { method: 'CreatePermission' })) >= 1, 'request latency observed');
  // Malformed and hostile input, then look at every label value.
  for (const junk of [Buffer.alloc(3), Buffer.from('40000fff00', 'hex'), Buffer.alloc(40, 0xff)]) c.send(junk);
  c.send(turnRequest(Method.CreatePermission, [], creds).data);
  await new Promise((r) => setTimeout(r, 300));
  const text = await (await fetch(`http://127.0.0.1:${d.metrics}/metrics`)).text();
  const allowed: Record<string, ReadonlySet<string>> = {
    reason: new Set<string>([...DROP_REASONS, ...RELAY_DROP_REASONS, ...AUTH_FAILURE_REASONS, ...STREAM_CLOSE_REASONS, ...CONNECTION_REFUSALS, 'recommended-deny', 'configured-deny', 'server-address', 'malformed', ...REDIRECT_REASONS, ...PEER_CONNECTION_REFUSALS, 'refused', 'timeout', 'unreachable', 'error', ...HTTP_REFUSALS]),
    transport: new Set(['udp', 'tcp', 'tls']),
    direction: new Set(['to-peer', 'to-client', 'in', 'out']),
    event: new Set(['created', 'deleted', 'expired', 'closed']),
    quota: new Set(['user', 'client-ip', 'total']),
    result: new Set(['success', 'error']),
    method: new Set(['Binding', 'Allocate', 'Refresh', 'CreatePermission', 'ChannelBind', 'Send', 'Data', 'Connect', 'ConnectionBind', 'ConnectionAttempt']),
    code: new Set(['300', '400', '401', '403', '420', '437', '438', '440', '441', '442', '443', '446', '447', '486', '487', '500', '508']),
  };
  let checked = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('turnkit_')) continue;
    for (const [, k, v] of line.matchAll(/(\w+)="([^"]*)"/g)) {
      checked++;
      if (k === 'le' || k === 'quantile') continue;
      tt.notMatch(v, /\d+\.\d+\.\d+\.\d+|:\d{2,5}$|alice/, `${k}="${v}" names no address, port or user`);
      if (allowed[k!]) tt.ok(allowed[k!]!.has(v!), `${k}="${v}" is in its closed set`);
    }
  }
  tt.ok(checked > 20, `${checked} label values checked`);
  tt.ok((await metric(d, 'turnkit_relay_dropped_total', { reason: 'malformed' })) >= 1, 'the lying ChannelData was counted');
});
