/**
 * The npm `stun` package (2.1.x) as an independent STUN codec and client against turnkit over UDP:
 * its request() resolves, its decoder reads XOR-MAPPED-ADDRESS = our own socket address, the
 * transaction ID matches, and its FINGERPRINT validation accepts what turnkit sends.
 * (peers.md caveat: it re-encodes with zero padding to validate; fine for turnkit's own messages.)
 */
import t from 'tap';
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { decodeMessage } from '../../src/stun/message.js';
import { AttributeType } from '../../src/stun/constants.js';
import { startTurnkit, UdpClient, type RunningServer } from './lib.js';

t.setTimeout(60_000);

/** The part of npm `stun` used here (it ships no types). */
interface NpmStunAddress {
  address: string;
  port: number;
  family: string;
}
interface NpmStunAttribute {
  type: number;
  value: unknown;
}
interface NpmStunMessage extends Iterable<NpmStunAttribute> {
  readonly type: number;
  readonly transactionId: Buffer;
  getAttribute(type: number): NpmStunAttribute | undefined;
  hasAttribute(type: number): boolean;
  isLegacy(): boolean;
}
interface NpmStunResponse extends NpmStunMessage {
  getXorAddress(): NpmStunAddress | undefined;
  getSoftware(): string | undefined;
  getFingerprint(): number | undefined;
  getError(): { code: number; reason: string } | undefined;
}
interface NpmStunRequest extends NpmStunMessage {
  addFingerprint(): unknown;
  addSoftware(s: string): unknown;
}
interface NpmStun {
  createMessage(type: number, transactionId?: Buffer): NpmStunRequest;
  request(url: string, opts: { socket?: dgram.Socket; message?: NpmStunRequest; timeout?: number; retries?: number }): Promise<NpmStunResponse>;
  encode(m: NpmStunMessage): Buffer;
  decode(b: Buffer): NpmStunResponse;
  validateFingerprint(m: NpmStunMessage): boolean;
  constants: Record<string, number>;
}

const require = createRequire(import.meta.url);
let stun: NpmStun | undefined;
let loadError = '';
try {
  stun = require('stun') as NpmStun;
} catch (e) {
  loadError = `npm stun not installed (devDependency): ${(e as Error).message.split('\n')[0]}`;
}
const skip = stun ? false : loadError;
const C = stun?.constants ?? {};

async function server(tt: { teardown(fn: () => unknown): void }): Promise<{ s: RunningServer; port: number }> {
  const s = await startTurnkit(tt, { listen: [{ host: '127.0.0.1', port: 0 }] });
  const udp = s.listeners.find((l) => l.transport === 'udp' && l.address === '127.0.0.1');
  if (!udp) throw new Error(`no UDP listener: ${JSON.stringify(s.listeners)}`);
  return { s, port: udp.port };
}

t.test('npm stun request() gets its own address in XOR-MAPPED-ADDRESS', { skip }, async (tt) => {
  const { port } = await server(tt);
  const client = await UdpClient.open(tt);
  const message = stun!.createMessage(C.STUN_BINDING_REQUEST!);
  const res = await stun!.request(`127.0.0.1:${port}`, { socket: client.socket, message, timeout: 300, retries: 3 });
  tt.equal(res.type, C.STUN_BINDING_RESPONSE, 'a Binding success response');
  tt.ok(res.transactionId.equals(message.transactionId), 'same transaction ID as the request');
  tt.same(res.getXorAddress(), { address: '127.0.0.1', port: client.address.port, family: 'IPv4' }, 'XOR-MAPPED-ADDRESS = the client socket');
  tt.ok((res.getSoftware() ?? '').length > 0, `SOFTWARE present (${JSON.stringify(res.getSoftware())})`);
  tt.notOk(res.hasAttribute(C.STUN_ATTR_FINGERPRINT!), 'no FINGERPRINT: the request had none');
});

t.test('npm stun: a request with FINGERPRINT gets a response whose FINGERPRINT npm stun validates', { skip }, async (tt) => {
  const { port } = await server(tt);
  const client = await UdpClient.open(tt);
  for (const software of [undefined, 'npm-stun-client', 'x']) {
    const req = stun!.createMessage(C.STUN_BINDING_REQUEST!);
    if (software) req.addSoftware(software); // odd lengths exercise padding on the request side
    req.addFingerprint();
    const bytes = stun!.encode(req);
    tt.ok(decodeMessage(bytes).ok, `our codec accepts npm's request bytes (software ${JSON.stringify(software)})`);
    const got = await client.request(bytes, port);
    tt.ok(got, `answered (software ${JSON.stringify(software)})`);
    if (!got) continue;
    const res = stun!.decode(got.msg);
    tt.equal(res.type, C.STUN_BINDING_RESPONSE, 'Binding success');
    tt.ok(res.transactionId.equals(req.transactionId), 'transaction ID matches');
    tt.same(res.getXorAddress(), { address: '127.0.0.1', port: client.address.port, family: 'IPv4' }, 'XOR-MAPPED-ADDRESS = the client socket');
    tt.ok(res.hasAttribute(C.STUN_ATTR_FINGERPRINT!), 'FINGERPRINT present');
    tt.ok(stun!.validateFingerprint(res), 'npm stun validates the FINGERPRINT');
    const types = [...res].map((a) => a.type);
    tt.equal(types[types.length - 1], AttributeType.Fingerprint, 'FINGERPRINT is the last attribute');
    const ours = decodeMessage(got.msg);
    tt.ok(ours.ok, 'our codec decodes it too (and checks the FINGERPRINT)');
    if (ours.ok) tt.same(types, ours.message.attributes.map((a) => a.type), 'both codecs see the same attributes');
    tt.equal(got.from.address, '127.0.0.1', 'answered from the address we sent to');
    tt.equal(got.from.port, port, 'answered from the port we sent to');
  }
});

t.test('npm stun: a corrupted FINGERPRINT gets no answer (the npm-built request, one bit flipped)', { skip }, async (tt) => {
  const { port } = await server(tt);
  const client = await UdpClient.open(tt);
  const req = stun!.createMessage(C.STUN_BINDING_REQUEST!);
  req.addFingerprint();
  const bytes = Buffer.from(stun!.encode(req));
  bytes[bytes.length - 1]! ^= 0x01;
  tt.notOk(stun!.validateFingerprint(stun!.decode(bytes)), 'npm stun agrees the FINGERPRINT is wrong');
  tt.equal(await client.request(bytes, port, '127.0.0.1', 500), undefined, 'no answer');
  const ok = stun!.createMessage(C.STUN_BINDING_REQUEST!);
  ok.addFingerprint();
  tt.ok(await client.request(stun!.encode(ok), port), 'a correct request right after is answered');
});
