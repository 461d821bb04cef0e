/**
 * The UDP data planes (issue 6): the JavaScript `dgram` plane and the native recvmmsg/sendmmsg
 * addon behind the same interface, and a live server on the native plane relaying ChannelData on
 * its fast path — to the right client, with the engine's permissions and deadlines, and counted.
 * Real sockets on 127.0.0.1. The native parts skip, with the reason, when the addon is not built.
 */
import dgram from 'node:dgram';
import t from 'tap';
import { AttributeType, MAGIC_COOKIE, MessageClass, Method } from '../../src/stun/constants.js';
import { decodeMessage, encodeMessage, getAttribute, type StunMessage } from '../../src/stun/message.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import type { ConfigInput } from '../../src/config.js';
import { jsDataPlane, type DataPlane, type DatagramSocket } from '../../src/transport/datagram.js';
import { nativeDataPlane, nativePlaneUnavailable } from '../../src/transport/native-plane.js';
import { resolveConfig, runServer, startServer } from '../../src/index.js';
import {
  channelBindRequest,
  channelData,
  createPermissionRequest,
  refreshRequest,
  dataAttr,
  sendIndication,
  textAttr,
  xorAddressAttr,
  xorPeer,
} from '../helpers/turn-client.js';
import { TurnUdpClient } from '../helpers/turn-udp.js';
import { canBindIpv6Loopback, freePortRange, counterSum } from '../integration/lib.js';

const nativeMissing = nativePlaneUnavailable();
const ipv6 = await canBindIpv6Loopback();
const planes: Array<{ name: string; make: () => DataPlane; skip: string | false }> = [
  { name: 'js', make: jsDataPlane, skip: false },
  { name: 'native', make: nativeDataPlane, skip: nativeMissing ? `native data plane unavailable: ${nativeMissing}` : false },
];

/** Resolves with the next datagram `socket` receives, or undefined after `ms`. */
function nextDatagram(socket: DatagramSocket | dgram.Socket, ms = 1000): Promise<{ data: Buffer; address: string; port: number } | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    const done = (data: Buffer, address: string, port: number): void => {
      clearTimeout(timer);
      resolve({ data: Buffer.from(data), address, port });
    };
    if ('onMessage' in socket) socket.onMessage(done);
    else socket.once('message', (data, rinfo) => done(data, rinfo.address, rinfo.port));
  });
}

for (const p of planes) {
  t.test(`${p.name} plane: bind, send and receive, EADDRINUSE, close`, { skip: p.skip }, async (t) => {
    const plane = p.make();
    t.teardown(() => plane.close());
    const a = await plane.bind('127.0.0.1', 0);
    const b = await plane.bind('127.0.0.1', 0, { relay: true });
    t.equal(a.local.address, '127.0.0.1');
    t.ok(a.local.port > 0 && b.local.port > 0 && a.local.port !== b.local.port, 'bound to two kernel-chosen ports');
    for (const size of [1, 100, 1500, 65000]) {
      const payload = Buffer.alloc(size, size & 0xff);
      const got = nextDatagram(b);
      a.send(payload, b.local.port, '127.0.0.1');
      const d = await got;
      t.ok(d && d.data.equals(payload), `${size}-byte datagram arrives intact`);
      t.equal(d?.port, a.local.port, 'with the sender port');
    }
    await t.rejects(plane.bind('127.0.0.1', a.local.port), { code: 'EADDRINUSE' }, 'a taken port rejects with EADDRINUSE');
    const port = b.local.port;
    await b.close();
    await b.close();
    const again = await plane.bind('127.0.0.1', port);
    t.equal(again.local.port, port, 'a closed socket frees its port');
    await again.close();
    await a.close();
  });

  t.test(`${p.name} plane: closed sockets' places are reused, and each datagram reaches the socket now open`, { skip: p.skip }, async (t) => {
    const plane = p.make();
    t.teardown(() => plane.close());
    const sender = await plane.bind('127.0.0.1', 0);
    const first = await Promise.all(Array.from({ length: 300 }, () => plane.bind('127.0.0.1', 0, { relay: true })));
    const stale: string[] = [];
    for (const [i, s] of first.entries()) s.onMessage(() => stale.push(`closed socket ${i}`));
    // Close every other one, then open as many again: they take the freed places.
    await Promise.all(first.filter((_, i) => i % 2 === 0).map((s) => s.close()));
    const second = await Promise.all(Array.from({ length: 150 }, () => plane.bind('127.0.0.1', 0, { relay: true })));
    const targets = [...first.filter((_, i) => i % 2 === 1), ...second];
    let delivered = 0;
    const all = targets.map((s, i) => {
      const got = nextDatagram(s);
      sender.send(Buffer.from(`to ${i}`), s.local.port, '127.0.0.1');
      return got.then((d) => {
        if (d?.data.toString() === `to ${i}` && d.port === sender.local.port) delivered++;
      });
    });
    await Promise.all(all);
    t.equal(delivered, targets.length, 'every open socket got its own datagram');
    t.same(stale, [], 'no closed socket heard anything');
    await Promise.all(targets.map((s) => s.close()));
    await sender.close();
  });

  t.test(`${p.name} plane: IPv6 on ::1, both directions, sender address intact`, { skip: p.skip || (ipv6 ? false : '::1 cannot be bound here') }, async (t) => {
    const plane = p.make();
    t.teardown(() => plane.close());
    const a = await plane.bind('::1', 0);
    const b = await plane.bind('::1', 0, { relay: true });
    t.equal(a.local.family, 'IPv6');
    const got = nextDatagram(b);
    a.send(Buffer.from('over-ipv6'), b.local.port, '::1');
    const d = await got;
    t.same({ data: d?.data.toString(), address: d?.address, port: d?.port }, { data: 'over-ipv6', address: '::1', port: a.local.port }, 'datagram, address and port as sent');
    await a.close();
    await b.close();
  });
}

// ------------------------------------------------------------------------------------------------
// A live server on the native plane, driven by a raw UDP TURN client.

const REALM = 'fast.example';
const USER = 'alice';
const PASSWORD = 'fast-path-secret';

/** A client with an allocation on `port` (127.0.0.1); `nonceFrom` shares an earlier client's 401 round. */
async function allocated(t: Tap, port: number, nonceFrom?: TurnUdpClient): Promise<{ c: TurnUdpClient; relayed: TransportAddress }> {
  const c = await TurnUdpClient.open(t, { address: '127.0.0.1', port });
  if (nonceFrom?.creds) c.creds = { ...nonceFrom.creds };
  const ok = await c.allocate(USER, PASSWORD, REALM);
  if (ok.cls !== MessageClass.SuccessResponse) throw new Error(`Allocate failed: class ${ok.cls}`);
  return { c, relayed: xorAddressAttr(ok, AttributeType.XorRelayedAddress)! };
}
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

async function nativeServer(t: Tap) {
  const relay = await freePortRange(['127.0.0.1'], 200, ['udp']);
  const input: ConfigInput = {
    listen: [{ host: '127.0.0.1', port: 0 }],
    realm: REALM,
    users: { [USER]: PASSWORD },
    relayPorts: `${relay}-${relay + 199}`,
    relayIp: '127.0.0.1',
    allowPeers: ['127.0.0.0/8'],
    maxAllocationsPerIp: 0,
    maxAllocationsPerUser: 0,
    httpListen: null,
    metricsListen: null,
    dataPlane: 'native',
    logLevel: 'silent',
  };
  const server = await startServer(input);
  t.teardown(() => server.close());
  const port = server.listeners.find((l) => l.transport === 'udp')!.port;
  return { server, port, input };
}

async function peerSocket(t: Tap): Promise<dgram.Socket & { addr: TransportAddress }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  return Object.assign(s, { addr: { family: 'IPv4' as const, address: '127.0.0.1', port: s.address().port } });
}

const fast = (server: { metrics: unknown }, direction: string) =>
  counterSum(server.metrics as Parameters<typeof counterSum>[0], 'turnkit_fast_path_relayed_packets_total', { direction });
const relayedTotal = (server: { metrics: unknown }, direction: string) =>
  counterSum(server.metrics as Parameters<typeof counterSum>[0], 'turnkit_relayed_packets_total', { direction });

t.test('native plane: ChannelData relayed both ways on the fast path, refusals on the engine', { skip: planes[1]!.skip }, async (t) => {
  const { server, port, input } = await nativeServer(t);
  const { c: client, relayed } = await allocated(t, port);
  const peer = await peerSocket(t);
  const stranger = await peerSocket(t);
  t.equal(relayed.address, '127.0.0.1');

  // Before any permission: a peer's datagram is refused by the engine (slow path), nothing arrives.
  stranger.send(Buffer.from('unasked'), relayed.port, '127.0.0.1');
  t.equal(await client.next(300), undefined, 'no permission: nothing reaches the client');

  t.equal((await client.request(createPermissionRequest(client.creds!, [peer.addr]))).cls, MessageClass.SuccessResponse, 'CreatePermission');
  // A permitted peer without a channel: a Data indication.
  peer.send(Buffer.from('as-data'), relayed.port, '127.0.0.1');
  const ind = (await client.next())?.message;
  t.ok(ind && ind.method === Method.Data && ind.cls === MessageClass.Indication, 'Data indication');
  t.equal(ind && getAttribute(ind, AttributeType.Data)?.value.toString(), 'as-data');

  t.equal((await client.request(channelBindRequest(client.creds!, 0x4001, peer.addr))).cls, MessageClass.SuccessResponse, 'ChannelBind');
  const fastBefore = { up: await fast(server, 'to-peer'), down: await fast(server, 'to-client') };
  for (const size of [0, 1, 100, 1000, 8000, 60000]) {
    const payload = Buffer.alloc(size, (size % 250) + 1);
    const atPeer = nextDatagram(peer);
    client.send(channelData(0x4001, payload));
    const got = await atPeer;
    t.ok(got && got.data.equals(payload) && got.port === relayed.port, `${size} B client → peer, from the relayed port`);
    peer.send(payload, relayed.port, '127.0.0.1');
    const back = (await client.next())?.data;
    t.ok(back && back.readUInt16BE(0) === 0x4001 && back.readUInt16BE(2) === size && back.subarray(4).equals(payload), `${size} B peer → client as ChannelData 0x4001`);
  }
  t.equal((await fast(server, 'to-peer')) - fastBefore.up, 6, 'all six client → peer packets took the fast path');
  t.equal((await fast(server, 'to-client')) - fastBefore.down, 6, 'all six peer → client packets took the fast path');
  t.ok((await relayedTotal(server, 'to-peer')) >= 6, 'turnkit_relayed_packets_total includes the fast path');

  // UDP ChannelData may carry bytes past its length (RFC 8656 §12.5): only `length` bytes go on.
  const padded = Buffer.concat([channelData(0x4001, Buffer.from('abc')), Buffer.from([9, 9, 9])]);
  const atPeer = nextDatagram(peer);
  client.send(padded);
  t.same((await atPeer)?.data, Buffer.from('abc'), 'trailing bytes are not relayed');
  // A length beyond the datagram, an unbound channel: the engine drops them and counts why.
  const lying = channelData(0x4001, Buffer.from('abcdef')).subarray(0, 7);
  client.send(lying);
  client.send(channelData(0x4002, Buffer.from('unbound')));
  t.equal((await nextDatagram(peer, 300)), undefined, 'nothing relayed for a lying length or an unbound channel');
  // The peer's other port has no channel: a Data indication (same IP, so the permission holds).
  const other = await peerSocket(t);
  other.send(Buffer.from('other-port'), relayed.port, '127.0.0.1');
  const ind2 = (await client.next())?.message;
  t.ok(ind2 && ind2.method === Method.Data, 'a permitted peer port without a channel gets a Data indication');

  // A reload that denies the peer stops its channel at once, both ways, not when the permission expires.
  await server.reload(resolveConfig({ ...input, allowPeers: [] }));
  client.send(channelData(0x4001, Buffer.from('after-deny')));
  t.equal(await nextDatagram(peer, 300), undefined, 'after a reload that denies the peer: its ChannelData is not relayed');
  peer.send(Buffer.from('from-denied'), relayed.port, '127.0.0.1');
  t.equal(await client.next(300), undefined, 'and its packets are not delivered');

  // Refresh to 0 ends the allocation: the relay closes and its channel stops at once.
  t.equal((await client.request(refreshRequest(client.creds!, 0))).cls, MessageClass.SuccessResponse, 'Refresh 0');
  client.send(channelData(0x4001, Buffer.from('after-delete')));
  t.equal(await nextDatagram(peer, 300), undefined, 'nothing relayed after the allocation is deleted');
  peer.send(Buffer.from('to-closed-relay'), relayed.port, '127.0.0.1');
  t.equal(await client.next(300), undefined, 'and nothing comes back');
});

t.test('native plane: Send and Data indications on the fast path, byte for byte as the engine; the unusual ones on the engine', { skip: planes[1]!.skip }, async (t) => {
  const { server, port, input } = await nativeServer(t);
  const { c: client, relayed } = await allocated(t, port);
  const peer = await peerSocket(t);
  const stranger = await peerSocket(t);
  t.equal((await client.request(createPermissionRequest(client.creds!, [peer.addr]))).cls, MessageClass.SuccessResponse, 'CreatePermission');

  const before = { up: await fast(server, 'to-peer'), down: await fast(server, 'to-client') };
  for (const size of [0, 1, 3, 100, 1000, 8000, 60000]) {
    const payload = Buffer.alloc(size, (size % 250) + 1);
    const atPeer = nextDatagram(peer);
    client.send(sendIndication(peer.addr, payload));
    const got = await atPeer;
    t.ok(got && got.data.equals(payload) && got.port === relayed.port, `${size} B Send indication → peer, from the relayed port`);
    peer.send(payload, relayed.port, '127.0.0.1');
    const raw = (await client.next())?.data;
    // The engine's Data indication for the same packet, with the transaction ID the fast path chose.
    const expected = raw && raw.length >= 20 && encodeMessage({
      method: Method.Data,
      cls: MessageClass.Indication,
      transactionId: raw.subarray(8, 20),
      cookie: MAGIC_COOKIE,
      attributes: [xorPeer(peer.addr, raw.subarray(8, 20)), dataAttr(payload)],
    });
    t.ok(raw && expected && raw.equals(expected), `${size} B peer → client: a Data indication, byte for byte the engine's`);
  }
  const withFingerprint = encodeMessage(
    { method: Method.Send, cls: MessageClass.Indication, transactionId: Buffer.alloc(12, 7), cookie: MAGIC_COOKIE, attributes: [xorPeer(peer.addr, Buffer.alloc(12, 7)), dataAttr(Buffer.from('fp'))] },
    { fingerprint: true },
  );
  let atPeer = nextDatagram(peer);
  client.send(withFingerprint);
  t.same((await atPeer)?.data, Buffer.from('fp'), 'a Send indication with a correct FINGERPRINT is relayed');
  t.equal((await fast(server, 'to-peer')) - before.up, 8, 'every Send indication took the fast path');
  t.equal((await fast(server, 'to-client')) - before.down, 7, 'every Data indication took the fast path');

  // What the fast path leaves to the engine, which drops it or relays it as it always did.
  const middle = { up: await fast(server, 'to-peer') };
  const badFingerprint = Buffer.from(withFingerprint);
  badFingerprint[badFingerprint.length - 1]! ^= 1;
  const atStranger = nextDatagram(stranger);
  client.send(badFingerprint);
  client.send(sendIndication(stranger.addr, Buffer.from('no-permission-port')));
  client.send(sendIndication({ ...peer.addr, address: '127.0.0.2' }, Buffer.from('no-permission-ip')));
  client.send(sendIndication({ ...peer.addr, port }, Buffer.from('to-the-server-itself')));
  t.equal(await nextDatagram(peer, 300), undefined, 'a bad FINGERPRINT is dropped');
  t.same((await atStranger)?.data, Buffer.from('no-permission-port'), 'the permission is per IP: another port of it is reached');
  atPeer = nextDatagram(peer);
  const twoPeers = encodeMessage({
    method: Method.Send,
    cls: MessageClass.Indication,
    transactionId: Buffer.alloc(12, 9),
    cookie: MAGIC_COOKIE,
    attributes: [xorPeer(peer.addr, Buffer.alloc(12, 9)), xorPeer(stranger.addr, Buffer.alloc(12, 9)), dataAttr(Buffer.from('first-peer'))],
  });
  client.send(twoPeers);
  t.same((await atPeer)?.data, Buffer.from('first-peer'), 'two XOR-PEER-ADDRESS: the engine relays to the first');
  t.equal((await fast(server, 'to-peer')) - middle.up, 1, 'only the other-port Send took the fast path');
  t.equal(
    await counterSum(server.metrics as Parameters<typeof counterSum>[0], 'turnkit_relay_dropped_total', { reason: 'peer-denied' }),
    1,
    "the Send to the server's own listening port was refused by the engine",
  );

  // DONT-FRAGMENT is a known comprehension-required attribute; 0x0077 is not (RFC 8489 §6.3.2: discard).
  const withAttribute = (type: number, text: string, id: number): Buffer =>
    encodeMessage({
      method: Method.Send,
      cls: MessageClass.Indication,
      transactionId: Buffer.alloc(12, id),
      cookie: MAGIC_COOKIE,
      attributes: [xorPeer(peer.addr, Buffer.alloc(12, id)), dataAttr(Buffer.from(text)), { type, value: Buffer.alloc(0) }],
    });
  atPeer = nextDatagram(peer);
  client.send(withAttribute(AttributeType.DontFragment, 'dont-fragment', 10));
  t.same((await atPeer)?.data, Buffer.from('dont-fragment'), 'a Send with DONT-FRAGMENT is relayed');
  t.equal((await fast(server, 'to-peer')) - middle.up, 2, 'by the fast path');
  client.send(withAttribute(0x0077, 'unknown-attribute', 11));
  t.equal(await nextDatagram(peer, 300), undefined, 'a Send with an unknown comprehension-required attribute is discarded');
  t.equal(
    await counterSum(server.metrics as Parameters<typeof counterSum>[0], 'turnkit_relay_dropped_total', { reason: 'unknown-attribute' }),
    1,
    'and counted as unknown-attribute by the engine',
  );

  // A reload that denies loopback peers takes the projected permissions with it.
  const host = { host: '127.0.0.1', port };
  await server.reload(resolveConfig({ ...input, listen: [host], allowPeers: [] }));
  client.send(sendIndication(peer.addr, Buffer.from('after-reload')));
  t.equal(await nextDatagram(peer, 300), undefined, 'after the reload the Send is refused');
  t.equal((await fast(server, 'to-peer')) - middle.up, 2, 'and not by the fast path');
});

t.test('native plane: 40 allocations relay at once, each packet to its own client', { skip: planes[1]!.skip }, async (t) => {
  const { server, port } = await nativeServer(t);
  const peer = await peerSocket(t);
  const clients: Array<{ c: TurnUdpClient; relayed: TransportAddress }> = [];
  // One 401 round for all: a source gets a bounded number of challenges (the unauthenticated limit).
  for (let i = 0; i < 40; i++) {
    const { c, relayed } = await allocated(t, port, clients[0]?.c);
    t.equal((await c.request(channelBindRequest(c.creds!, 0x4000 + i, peer.addr))).cls, MessageClass.SuccessResponse);
    clients.push({ c, relayed });
  }
  // The peer echoes what it gets, so each payload returns through the allocation it left by.
  peer.on('message', (m, rinfo) => peer.send(m, rinfo.port, rinfo.address));
  const rounds = 5;
  for (let r = 0; r < rounds; r++) {
    clients.forEach(({ c }, i) => c.send(channelData(0x4000 + i, Buffer.from(`client-${i}-round-${r}`))));
    for (const [i, { c }] of clients.entries()) {
      const back = (await c.next(2000))?.data;
      t.equal(back?.subarray(4).toString(), `client-${i}-round-${r}`, `client ${i} round ${r}: its own echo on channel ${(0x4000 + i).toString(16)}`);
      if (back?.readUInt16BE(0) !== 0x4000 + i) t.fail(`client ${i}: wrong channel number`);
    }
  }
  t.equal(await fast(server, 'to-client'), 40 * rounds, 'every echo came back on the fast path');
});

/** Sends `request` from a fresh socket to 127.0.0.1:`port`; the decoded answer and the sender's port. */
async function ask(t: Tap, port: number, request: Buffer): Promise<{ m: StunMessage | undefined; raw: Buffer | undefined; from: number }> {
  const s = await peerSocket(t);
  const got = nextDatagram(s);
  s.send(request, port, '127.0.0.1');
  const d = await got;
  const r = d && decodeMessage(d.data);
  return { m: r && r.ok ? r.message : undefined, raw: d?.data, from: s.addr.port };
}

// Both planes answer plain Binding requests before the engine (test/stun/plain-binding.test.ts
// holds the shortcut to the full handler's bytes); here, over real sockets, against a js server.
for (const plane of planes) t.test(`${plane.name} plane: plain Binding answered by the plane itself, as the handler would; others by the handler`, { skip: plane.skip }, async (t) => {
  const name = plane.name as 'js' | 'native';
  const start = (dataPlane: 'js' | 'native', software: string) =>
    runServer(resolveConfig({ listen: [{ host: '127.0.0.1', port: 0 }], httpListen: null, metricsListen: null, software, dataPlane, logLevel: 'silent' }));
  const js = await start('js', 'turnkit-test');
  const native = await start(name, 'turnkit-test');
  t.teardown(() => Promise.all([js.close(), native.close()]));
  const portOf = (s: typeof js) => s.listeners.find((l) => l.transport === 'udp')!.port;
  const transactionId = Buffer.from('0123456789ab');
  const plain = encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [] });
  const answered = () => counterSum(native.metrics as Parameters<typeof counterSum>[0], 'turnkit_stun_requests_total', { transport: 'udp', result: 'success' });

  const a = await ask(t, portOf(js), plain);
  const before = await answered();
  const b = await ask(t, portOf(native), plain);
  t.ok(a.m && b.m, 'both answer');
  t.same(xorAddressAttr(b.m!, AttributeType.XorMappedAddress), { family: 'IPv4', address: '127.0.0.1', port: b.from }, 'XOR-MAPPED-ADDRESS is the sender');
  t.same(b.m!.transactionId, transactionId, 'transaction ID echoed');
  // Everything after XOR-MAPPED-ADDRESS (RESPONSE-ORIGIN of each server differs by port only) is the same.
  const rest = (m: StunMessage, port: number) =>
    m.attributes.filter((x) => x.type !== AttributeType.XorMappedAddress).map((x) => (x.type === AttributeType.ResponseOrigin ? { type: x.type, port: xorOrPlainPort(x.value) === port } : { type: x.type, value: x.value.toString('hex') }));
  t.same(rest(b.m!, portOf(native)), rest(a.m!, portOf(js)), 'the same attributes as the js server answers (RESPONSE-ORIGIN, SOFTWARE)');
  t.equal(b.raw!.length, a.raw!.length, 'the same size');
  t.equal((await answered()) - before, 1, 'counted in turnkit_stun_requests_total');

  // With FINGERPRINT or any attribute the request is the handler's: the answer carries FINGERPRINT.
  const fp = encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId, cookie: MAGIC_COOKIE, attributes: [] }, { fingerprint: true });
  const c = await ask(t, portOf(native), fp);
  t.ok(c.m && getAttribute(c.m, AttributeType.Fingerprint), 'FINGERPRINT request → FINGERPRINT answer');
  // RFC 3489 (no magic cookie) requests are not the plane's either.
  const classic = Buffer.concat([Buffer.from([0, 1, 0, 0]), Buffer.alloc(16, 7)]);
  const d = await ask(t, portOf(native), classic);
  t.ok(d.m && getAttribute(d.m, AttributeType.MappedAddress), 'RFC 3489 request → MAPPED-ADDRESS answer');

  if (ipv6) {
    const v6 = await runServer(resolveConfig({ listen: [{ host: '::1', port: 0 }], httpListen: null, metricsListen: null, dataPlane: name, logLevel: 'silent' }));
    t.teardown(() => v6.close());
    const port6 = v6.listeners.find((l) => l.transport === 'udp')!.port;
    for (const [what, req] of [['plain (plane)', plain], ['with FINGERPRINT (handler)', fp]] as const) {
      const s = dgram.createSocket({ type: 'udp6', ipv6Only: true });
      await new Promise<void>((r) => s.bind(0, '::1', () => r()));
      const got = nextDatagram(s);
      s.send(req, port6, '::1');
      const r = (await got)?.data;
      const m = r && decodeMessage(r);
      t.same(m && m.ok ? xorAddressAttr(m.message, AttributeType.XorMappedAddress) : undefined, { family: 'IPv6', address: '::1', port: s.address().port }, `IPv6 Binding ${what}: XOR-MAPPED-ADDRESS`);
      s.close();
    }
  }

  // A reload that changes SOFTWARE changes the plane's answers too.
  await native.reload(resolveConfig({ listen: [{ host: '127.0.0.1', port: portOf(native) }], httpListen: null, metricsListen: null, software: 'renamed', dataPlane: name, logLevel: 'silent' }));
  const e = await ask(t, portOf(native), plain);
  t.equal(e.m && textAttr(e.m, AttributeType.Software), 'renamed', 'SOFTWARE after reload');
});

/** The port of an address attribute value (RESPONSE-ORIGIN is plain, not XORed). */
function xorOrPlainPort(value: Buffer): number {
  return value.readUInt16BE(2);
}

t.test('native plane: a flood of slow-path datagrams is dropped and counted, Binding still answered, close() does not hang', { skip: planes[1]!.skip }, async (t) => {
  const server = await runServer(resolveConfig({ listen: [{ host: '127.0.0.1', port: 0 }], httpListen: null, metricsListen: null, dataPlane: 'native', logLevel: 'silent' }));
  let closed = false;
  t.teardown(() => (closed ? undefined : server.close()));
  const port = server.listeners.find((l) => l.transport === 'udp')!.port;
  const flooder = await peerSocket(t);
  // Bounded: 30,000 datagrams that look like STUN but are not (a lying length), in bursts.
  const junk = Buffer.alloc(100, 0xab);
  junk.writeUInt16BE(0x0001, 0);
  junk.writeUInt16BE(4000, 2);
  for (let i = 0; i < 30_000; i++) {
    flooder.send(junk, port, '127.0.0.1');
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const plain = encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId: Buffer.alloc(12, 1), cookie: MAGIC_COOKIE, attributes: [] });
  const fp = encodeMessage({ method: Method.Binding, cls: MessageClass.Request, transactionId: Buffer.alloc(12, 2), cookie: MAGIC_COOKIE, attributes: [] }, { fingerprint: true });
  t.ok((await ask(t, port, plain)).m, 'a plain Binding is answered during the flood (fast path)');
  let answered = false;
  for (let i = 0; i < 20 && !answered; i++) answered = !!(await ask(t, port, fp)).m;
  t.ok(answered, 'a Binding with FINGERPRINT (JavaScript) is answered after the flood');
  const dropped = await counterSum(server.metrics as Parameters<typeof counterSum>[0], 'turnkit_stun_dropped_total', { transport: 'udp' });
  t.ok(dropped > 0, `the junk was dropped and counted (${dropped} counted; the kernel may have dropped the rest)`);
  // Stopping mid-flood must not wait on JavaScript (the I/O thread never blocks on it).
  for (let i = 0; i < 5_000; i++) flooder.send(junk, port, '127.0.0.1');
  const stop = server.close().then(() => 'closed');
  const verdict = await Promise.race([stop, new Promise((r) => setTimeout(() => r('hung'), 5000))]);
  closed = true;
  t.equal(verdict, 'closed', 'close() resolves while datagrams are still arriving');
});
