/**
 * TURN wire formats (src/turn/wire/, RFC 8656 §12.4 and §14) against test/vectors/vectors.json:
 * ChannelData framing, XOR-PEER-ADDRESS, the CreatePermission/ChannelBind/Send vectors — decoded,
 * re-encoded byte for byte, and fed through the engine.
 */
import t from 'tap';
import { decodeXorAddress, encodeXorAddress } from '../../src/stun/attributes/address.js';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../../src/stun/constants.js';
import { verifyMessageIntegrity } from '../../src/stun/integrity.js';
import { decodeMessage, encodeMessage, getAttribute, type StunAttribute } from '../../src/stun/message.js';
import type { NonceIssuer } from '../../src/turn/nonce.js';
import {
  MAX_CHANNEL,
  MIN_CHANNEL,
  encodeChannelData,
  isBindableChannel,
  readChannelData,
} from '../../src/turn/wire/channel-data.js';
import {
  TransportProtocol,
  decodeAddressFamily,
  decodeChannelNumber,
  decodeEvenPort,
  decodeLifetime,
  decodeRequestedTransport,
  encodeAddressFamily,
  encodeChannelNumber,
  encodeEvenPort,
  encodeLifetime,
  encodeRequestedTransport,
} from '../../src/turn/wire/attributes.js';
import { bytes, vector, vectors, type AttributeFields, type ChannelDataFields, type RestCredentialFields } from '../vectors/index.js';
import { TurnTestClient, engineConfig, integrityVerifies, makeEngine, verdict, xorAddressValue } from '../helpers/turn-client.js';

const hex = (s: string) => Buffer.from(s, 'hex');

// -------------------------------------------------------------------------------------------------
// ChannelData (RFC 8656 §12.4, §12.5)

const channelDataVectors = vectors.filter((v) => v.kind === 'channeldata' && v.name.startsWith('computed-channeldata-') && !(v.fields as unknown as ChannelDataFields).frames);

t.test('ChannelData vectors: readChannelData and encodeChannelData agree with the bytes', async (t) => {
  t.ok(channelDataVectors.length >= 3, `${channelDataVectors.length} single-frame vectors`);
  for (const v of channelDataVectors) {
    const f = v.fields as unknown as ChannelDataFields;
    const buf = bytes(v);
    const channel = parseInt(f.channel!, 16);
    const r = readChannelData(buf);
    t.ok(r.ok, `${v.name}: reads`);
    if (!r.ok) continue;
    t.equal(r.channel, channel, `${v.name}: channel`);
    t.equal(r.length, f.length, `${v.name}: length field counts the data only`);
    t.same(buf.subarray(4, 4 + r.length), hex(f.data!), `${v.name}: data`);
    t.equal(buf.length, f.totalBytes ?? buf.length, `${v.name}: total bytes`);
    const pad = f.padding !== '';
    const encoded = encodeChannelData(channel, hex(f.data!), pad);
    t.same(encoded, buf, `${v.name}: encodes to the same bytes (pad=${pad})`);
    if (f.transport === 'tcp') t.equal(encoded.length % 4, 0, `${v.name}: stream frames are padded (§12.5)`);
  }
});

t.test('ChannelData stream vector: frames back to back, each padded', async (t) => {
  const v = vector('computed-channeldata-tcp-stream');
  const f = v.fields as unknown as ChannelDataFields;
  const buf = bytes(v);
  let off = 0;
  for (const frame of f.frames!) {
    const r = readChannelData(buf.subarray(off));
    t.ok(r.ok);
    if (!r.ok) return;
    t.equal(r.channel, parseInt(frame.channel, 16));
    t.equal(r.length, frame.length);
    t.same(buf.subarray(off + 4, off + 4 + r.length), hex(frame.data));
    t.same(buf.subarray(off + 4 + r.length, off + 4 + r.length + frame.padding.length / 2), hex(frame.padding), 'padding bytes');
    t.same(encodeChannelData(r.channel, hex(frame.data), true), buf.subarray(off, off + 4 + r.length + frame.padding.length / 2));
    off += 4 + Math.ceil(r.length / 4) * 4;
  }
  t.equal(off, buf.length, 'the padding accounts for every byte');
});

t.test('readChannelData on short and lying input never reads past the buffer', async (t) => {
  for (let n = 0; n < 4; n++) t.same(readChannelData(Buffer.alloc(n, 0x40)), { ok: false, reason: 'channel-data-short' }, `${n} bytes`);
  t.same(readChannelData(hex('40000004616263')), { ok: false, reason: 'channel-data-length' }, 'claims 4, has 3');
  t.same(readChannelData(hex('4000ffff')), { ok: false, reason: 'channel-data-length' }, 'claims 65535, has 0');
  t.same(readChannelData(hex('40000000')), { ok: true, channel: 0x4000, length: 0 }, 'empty data is fine');
  t.same(readChannelData(hex('4001000361626300ffff')), { ok: true, channel: 0x4001, length: 3 }, 'trailing bytes ignored');
  // A view of a larger buffer: the check is against the view, not the underlying memory.
  const backing = Buffer.alloc(64, 0x61);
  backing.writeUInt16BE(0x4000, 10);
  backing.writeUInt16BE(20, 12);
  t.same(readChannelData(backing.subarray(10, 18)), { ok: false, reason: 'channel-data-length' }, 'view shorter than its claim');
});

t.test('encodeChannelData zero-fills the padding and never pads unpadded frames', async (t) => {
  for (let i = 0; i < 50; i++) {
    const data = Buffer.alloc(i % 7, 0xee);
    const padded = encodeChannelData(0x4abc, data, true);
    t.equal(padded.length, 4 + Math.ceil(data.length / 4) * 4);
    if (!padded.subarray(4 + data.length).every((b) => b === 0)) t.fail(`non-zero padding for ${data.length} bytes`);
    t.equal(encodeChannelData(0x4abc, data, false).length, 4 + data.length);
  }
});

t.test('channel number range (RFC 8656 §12: 0x4000–0x4FFF bindable, 0x0000–0x3FFF not)', async (t) => {
  t.equal(MIN_CHANNEL, 0x4000);
  for (const n of [0x4000, 0x4001, 0x4abc, 0x4fff]) t.ok(isBindableChannel(n), `0x${n.toString(16)}`);
  for (const n of [0x0000, 0x0001, 0x3fff, 0x8000, 0xffff]) t.notOk(isBindableChannel(n), `0x${n.toString(16)}`);
  // MAX_CHANNEL is documented as widened to RFC 5766's 0x7FFF; either way it keeps the 01 prefix bits.
  t.ok(MAX_CHANNEL >= 0x4fff && MAX_CHANNEL >> 14 === 0b01, `MAX_CHANNEL 0x${MAX_CHANNEL.toString(16)} keeps the ChannelData prefix`);
});

// -------------------------------------------------------------------------------------------------
// TURN attributes (RFC 8656 §14)

t.test('XOR-PEER-ADDRESS vectors: encode and decode', async (t) => {
  for (const name of ['computed-xor-peer-address-ipv4', 'computed-xor-peer-address-ipv6']) {
    const v = vector(name);
    const f = v.fields as unknown as AttributeFields;
    const buf = bytes(v);
    t.equal(buf.readUInt16BE(0), 0x0012, `${name}: type`);
    t.equal(buf.readUInt16BE(2), f.length, `${name}: length`);
    const value = buf.subarray(4);
    const txid = hex(f.transactionId);
    t.same(decodeXorAddress(value, txid), f.value, `${name}: decodes`);
    t.same(encodeXorAddress(f.value, txid), value, `${name}: encodes`);
    t.same(xorAddressValue(f.value, txid), value, `${name}: the test client's own XOR agrees`);
    t.same(value.subarray(2, 4), hex(f.xPortHex), `${name}: X-Port`);
    t.same(value.subarray(4), hex(f.xAddressHex), `${name}: X-Address`);
  }
  t.equal(decodeXorAddress(Buffer.alloc(7), Buffer.alloc(12)), undefined, 'short value');
  t.equal(decodeXorAddress(Buffer.alloc(12), Buffer.alloc(12)), undefined, 'neither 8 nor 20 bytes');
});

t.test('LIFETIME, CHANNEL-NUMBER, REQUESTED-TRANSPORT, EVEN-PORT, address family: RFC layouts and bad lengths', async (t) => {
  t.same(encodeLifetime(600), hex('00000258'));
  t.equal(decodeLifetime(hex('00000e10')), 3600);
  t.equal(decodeLifetime(hex('000258')), undefined, '3 bytes');
  t.equal(decodeLifetime(hex('0000025800')), undefined, '5 bytes');
  t.same(encodeLifetime(0xffffffff), hex('ffffffff'));

  // The ChannelBind vector's CHANNEL-NUMBER value: 0x4000 then two RFFU bytes.
  const cb = decodeMessage(bytes(vector('computed-channelbind-request')));
  t.ok(cb.ok);
  const cn = cb.ok ? getAttribute(cb.message, AttributeType.ChannelNumber)?.value : undefined;
  t.same(cn, hex('40000000'));
  t.same(encodeChannelNumber(0x4000), cn);
  t.equal(decodeChannelNumber(cn!), 0x4000);
  t.equal(decodeChannelNumber(hex('4000')), undefined, '2 bytes');

  t.equal(TransportProtocol.UDP, 17);
  t.same(encodeRequestedTransport(17), hex('11000000'));
  t.equal(decodeRequestedTransport(hex('11000000')), 17);
  t.equal(decodeRequestedTransport(hex('06000000')), 6);
  t.equal(decodeRequestedTransport(hex('11')), undefined, '1 byte');

  t.same(encodeEvenPort(true), hex('80'));
  t.same(encodeEvenPort(false), hex('00'));
  t.same(decodeEvenPort(hex('80')), { reserveNext: true });
  t.same(decodeEvenPort(hex('7f')), { reserveNext: false }, 'only the R bit counts');
  t.equal(decodeEvenPort(Buffer.alloc(0)), undefined, 'empty');

  t.same(encodeAddressFamily(0x02), hex('02000000'));
  t.equal(decodeAddressFamily(hex('01000000')), 0x01);
  t.equal(decodeAddressFamily(hex('01')), undefined);
});

// -------------------------------------------------------------------------------------------------
// Whole-message vectors

const rest = vector('turn-rest-credential');
const restFields = rest.fields as unknown as RestCredentialFields;
const VEC_NONCE = 'nonce-turnkit-vec1';

t.test('CreatePermission and ChannelBind vectors re-encode byte for byte and verify', async (t) => {
  for (const name of ['computed-createpermission-request', 'computed-channelbind-request']) {
    const v = vector(name);
    const buf = bytes(v);
    const r = decodeMessage(buf);
    t.ok(r.ok, `${name}: decodes`);
    if (!r.ok) continue;
    const m = r.message;
    const key = hex(v.keys!.hmacKeyHex!);
    t.ok(verifyMessageIntegrity(m, key), `${name}: MI verifies (src)`);
    t.ok(integrityVerifies(buf, key), `${name}: MI verifies (test client)`);
    const peer = decodeXorAddress(getAttribute(m, AttributeType.XorPeerAddress)!.value, m.transactionId);
    t.same(peer, { family: 'IPv4', address: '198.18.0.2', port: 5000 });
    const attrs: StunAttribute[] = [];
    if (m.method === Method.ChannelBind) attrs.push({ type: AttributeType.ChannelNumber, value: encodeChannelNumber(0x4000) });
    attrs.push(
      { type: AttributeType.XorPeerAddress, value: encodeXorAddress(peer!, m.transactionId) },
      { type: AttributeType.Username, value: Buffer.from(v.keys!.username!) },
      { type: AttributeType.Realm, value: Buffer.from(v.keys!.realm!) },
      { type: AttributeType.Nonce, value: Buffer.from(VEC_NONCE) },
    );
    const again = encodeMessage(
      { method: m.method, cls: MessageClass.Request, transactionId: m.transactionId, cookie: MAGIC_COOKIE, attributes: attrs },
      { integrity: key, fingerprint: true },
    );
    t.same(again, buf, `${name}: encodeMessage reproduces the vector`);
  }
});

t.test('Send indication vector: decodes, re-encodes, and is relayed by the engine', async (t) => {
  const v = vector('computed-send-indication');
  const buf = bytes(v);
  const r = decodeMessage(buf);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.message.method, Method.Send);
  t.equal(r.message.cls, MessageClass.Indication);
  t.equal(buf.readUInt16BE(0), 0x0016, 'message type 0x0016');
  const peer = decodeXorAddress(getAttribute(r.message, AttributeType.XorPeerAddress)!.value, r.message.transactionId);
  t.same(peer, { family: 'IPv4', address: '198.18.0.2', port: 5000 });
  t.same(getAttribute(r.message, AttributeType.Data)?.value, Buffer.from('abc'));
  const again = encodeMessage({
    method: Method.Send,
    cls: MessageClass.Indication,
    transactionId: r.message.transactionId,
    cookie: MAGIC_COOKIE,
    attributes: [
      { type: AttributeType.XorPeerAddress, value: encodeXorAddress(peer!, r.message.transactionId) },
      { type: AttributeType.Data, value: Buffer.from('abc') },
    ],
  });
  t.same(again, buf, 'DATA padded with one zero byte');
});

t.test('engine end to end with the vectors: REST credential, CreatePermission, ChannelBind, ChannelData, Send', async (t) => {
  // The vectors were signed with nonce "nonce-turnkit-vec1" and the REST credential that expires at
  // 2010-02-23T02:06:40Z: inject a clock before that and a nonce checker that accepts that nonce.
  const now = restFields.expiry * 1000 - 60_000;
  const nonces = {
    lifetimeMs: 600_000,
    mint: () => VEC_NONCE,
    check: (n: string) => (n === VEC_NONCE ? 'valid' : 'invalid'),
  } as unknown as NonceIssuer;
  const engine = makeEngine(engineConfig({ users: {}, secrets: [rest.keys!.secret!], realm: rest.keys!.realm!, config: { nonces } }));
  const c = new TurnTestClient(engine, { username: restFields.username, password: restFields.password, realm: rest.keys!.realm! });
  c.nonce = VEC_NONCE;
  const { allocation } = c.allocate(now);

  t.equal(verdict(c.send(bytes(vector('computed-createpermission-request')), now)), 'success', 'vector CreatePermission');
  t.ok(allocation.permissions.has('198.18.0.2'), 'permission for 198.18.0.2');
  t.equal(verdict(c.send(bytes(vector('computed-channelbind-request')), now)), 'success', 'vector ChannelBind');
  t.same(allocation.channelsByNumber.get(0x4000)?.peer, { family: 'IPv4', address: '198.18.0.2', port: 5000 });

  for (const name of ['computed-channeldata-udp', 'computed-channeldata-udp-padded']) {
    const out = c.send(bytes(vector(name)), now);
    t.equal(out.kind, 'send-peer', name);
    if (out.kind === 'send-peer') {
      t.same(out.data, Buffer.from('abc'), `${name}: exactly "abc"`);
      t.same(out.peer, { family: 'IPv4', address: '198.18.0.2', port: 5000 });
    }
  }
  const send = c.send(bytes(vector('computed-send-indication')), now);
  t.ok(send.kind === 'send-peer' && send.data.equals(Buffer.from('abc')), 'vector Send indication relayed');

  // And the reverse direction: a peer's "abc" reaches the UDP client as the unpadded vector.
  const back = engine.handlePeerPacket(allocation, '198.18.0.2', 5000, Buffer.from('abc'), now);
  t.ok(back.kind === 'to-client' && back.data.equals(bytes(vector('computed-channeldata-udp'))), 'peer → client ChannelData equals the UDP vector');
});
