/**
 * IPv6 and dual-stack TURN over real sockets on loopback (RFC 8656 §7.2): an IPv6 listener with an
 * IPv6 relay, a dual allocation relaying to an IPv4 peer (127.0.0.1) and an IPv6 peer (::1) both
 * ways, 440 / ADDRESS-ERROR-CODE when IPv6 relaying is off, 443 for a peer of the wrong family, and
 * the deny list for IPv6 peers on the wire. Needs ::1 on lo; skipped with the reason otherwise.
 */
import t from 'tap';
import dgram from 'node:dgram';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { decodeXorAddress } from '../../src/stun/attributes/address.js';
import { AttributeType, MessageClass, Method } from '../../src/stun/constants.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { getAttribute, type StunMessage } from '../../src/stun/message.js';
import {
  additionalFamily,
  channelBindRequest,
  channelData,
  createPermissionRequest,
  errorCode,
  integrityVerifies,
  longTermKeyRef,
  refreshRequest,
  requestedFamily,
  sendIndication,
} from '../helpers/turn-client.js';
import { TurnUdpClient } from '../helpers/turn-udp.js';
import { canBindIpv6Loopback, counterSum, freePortRange, startTurnkit, type RunningServer, type Teardown } from './lib.js';

t.setTimeout(60_000);

const REALM = 'v6.example';
const USER = 'alice';
const PASSWORD = 'alice-v6-pw';
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const skip = (await canBindIpv6Loopback()) ? {} : { skip: 'no IPv6 loopback (::1) on this host' };

/** turnkit in-process on `host`, TURN on, a 40-port relay range free on both loopbacks. */
async function startTurn(t: Tap, host: string, extra: Record<string, unknown> = {}): Promise<{ server: RunningServer; udp: { address: string; port: number } }> {
  const relay = await freePortRange(['127.0.0.1', '::1'], 40, ['udp']);
  const server = await startTurnkit(t as Teardown, {
    listen: [{ host, port: 0 }],
    realm: REALM,
    users: { [USER]: PASSWORD },
    relayPorts: `${relay}-${relay + 39}`,
    ...extra,
  });
  const udp = server.listeners.find((l) => l.transport === 'udp');
  if (!udp) throw new Error(`no UDP listener: ${JSON.stringify(server.listeners)}`);
  return { server, udp: { address: udp.address, port: udp.port } };
}

/** A peer: a UDP socket on ::1 or 127.0.0.1 that queues what it receives. */
async function peer(t: Tap, address: string): Promise<{ socket: dgram.Socket; addr: TransportAddress; next(ms?: number): Promise<{ data: Buffer; from: dgram.RemoteInfo } | undefined> }> {
  const v6 = address.includes(':');
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
  await new Promise<void>((r) => socket.bind(0, address, () => r()));
  t.teardown(() => socket.close());
  const queue: Array<{ data: Buffer; from: dgram.RemoteInfo }> = [];
  const waiters: Array<(x: { data: Buffer; from: dgram.RemoteInfo }) => void> = [];
  socket.on('message', (data, from) => {
    const w = waiters.shift();
    if (w) w({ data, from });
    else queue.push({ data, from });
  });
  return {
    socket,
    addr: { family: v6 ? 'IPv6' : 'IPv4', address, port: socket.address().port },
    next: (ms = 2000) => {
      const q = queue.shift();
      if (q) return Promise.resolve(q);
      return new Promise((resolve) => {
        const w = (x: { data: Buffer; from: dgram.RemoteInfo }): void => {
          clearTimeout(timer);
          resolve(x);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          resolve(undefined);
        }, ms);
        waiters.push(w);
      });
    },
  };
}

function code(m: StunMessage): number | 'success' {
  return m.cls === MessageClass.SuccessResponse ? 'success' : (errorCode(m) ?? -1);
}

function relayedOf(m: StunMessage): TransportAddress[] {
  return m.attributes.filter((a) => a.type === AttributeType.XorRelayedAddress).map((a) => decodeXorAddress(a.value, m.transactionId)!);
}

/** True when nothing holds UDP `port` on `address` any more (the relay socket was closed). */
function portIsFree(address: string, port: number): Promise<boolean> {
  const v6 = address.includes(':');
  const s = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ address, port, exclusive: true }, () => {
      s.close();
      resolve(true);
    });
  });
}

t.test('IPv6 listener [::1] with an IPv6 relay: Allocate, CreatePermission, Send and Data with a ::1 peer', skip, async (t) => {
  const { udp } = await startTurn(t, '::1', { allowPeers: ['::1/128'] });
  t.equal(udp.address, '::1', 'the UDP listener is on ::1');
  const c = await TurnUdpClient.open(t, udp);
  const answer = await c.allocate(USER, PASSWORD, REALM, [requestedFamily(2)]);
  t.equal(code(answer), 'success');
  const [relayed] = relayedOf(answer);
  t.same(relayed && { family: relayed.family, address: relayed.address }, { family: 'IPv6', address: '::1' }, 'XOR-RELAYED-ADDRESS is on ::1');
  const mapped = decodeXorAddress(getAttribute(answer, AttributeType.XorMappedAddress)!.value, answer.transactionId);
  t.same(mapped, c.local, 'XOR-MAPPED-ADDRESS is the client\'s IPv6 address');
  t.ok(integrityVerifies(answer.raw!, longTermKeyRef(USER, REALM, PASSWORD)), 'signed');

  const p = await peer(t, '::1');
  t.equal(code(await c.request(createPermissionRequest(c.creds!, [p.addr]))), 'success', 'CreatePermission for [::1]');
  c.send(sendIndication(p.addr, Buffer.from('hello v6 peer')));
  const got = await p.next();
  t.equal(got?.data.toString(), 'hello v6 peer', 'the peer got the Send payload');
  t.equal(got?.from.port, relayed!.port, 'from the relayed port');
  p.socket.send('hello v6 client', relayed!.port, '::1');
  const back = await c.next();
  t.equal(back?.message?.method, Method.Data, 'a Data indication');
  const from = back?.message ? decodeXorAddress(getAttribute(back.message, AttributeType.XorPeerAddress)!.value, back.message.transactionId) : undefined;
  t.same(from, p.addr, 'XOR-PEER-ADDRESS is the IPv6 peer');
  t.equal(back?.message && getAttribute(back.message, AttributeType.Data)?.value.toString(), 'hello v6 client');
});

t.test('a dual allocation: two relayed addresses, relaying to an IPv4 and an IPv6 peer both ways; they end together', skip, async (t) => {
  const { server, udp } = await startTurn(t, '127.0.0.1', { allowPeers: ['127.0.0.1/32', '::1/128'] });
  const c = await TurnUdpClient.open(t, udp);
  const answer = await c.allocate(USER, PASSWORD, REALM, [additionalFamily(2)]);
  t.equal(code(answer), 'success');
  const relayed = relayedOf(answer);
  t.same(relayed.map((r) => [r.family, r.address]), [['IPv4', '127.0.0.1'], ['IPv6', '::1']], 'two XOR-RELAYED-ADDRESS: 127.0.0.1, then ::1');
  t.equal(getAttribute(answer, AttributeType.AddressErrorCode), undefined, 'no ADDRESS-ERROR-CODE');
  const [r4, r6] = relayed as [TransportAddress, TransportAddress];
  t.equal(await counterSum(server.metrics, 'turnkit_allocations'), 1, 'one allocation for the two relays');

  const p4 = await peer(t, '127.0.0.1');
  const p6 = await peer(t, '::1');
  t.equal(code(await c.request(createPermissionRequest(c.creds!, [p4.addr, p6.addr]))), 'success', 'one CreatePermission, both families');
  t.equal(code(await c.request(channelBindRequest(c.creds!, 0x4000, p4.addr))), 'success', 'ChannelBind for the IPv4 peer');
  t.equal(code(await c.request(channelBindRequest(c.creds!, 0x4001, p6.addr))), 'success', 'ChannelBind for the IPv6 peer');

  c.send(channelData(0x4000, Buffer.from('to v4')));
  c.send(sendIndication(p6.addr, Buffer.from('to v6')));
  const at4 = await p4.next();
  const at6 = await p6.next();
  t.same([at4?.data.toString(), at4?.from.address, at4?.from.port], ['to v4', '127.0.0.1', r4.port], 'the IPv4 peer hears the IPv4 relay');
  t.same([at6?.data.toString(), at6?.from.address, at6?.from.port], ['to v6', '::1', r6.port], 'the IPv6 peer hears the IPv6 relay');

  p4.socket.send('from v4', r4.port, '127.0.0.1');
  p6.socket.send('from v6', r6.port, '::1');
  const got = [await c.next(), await c.next()];
  const channelOf = (u: (typeof got)[number]): [number, string] | undefined =>
    u && !u.message && u.data.length >= 4 ? [u.data.readUInt16BE(0), u.data.subarray(4, 4 + u.data.readUInt16BE(2)).toString()] : undefined;
  t.same(got.map(channelOf).sort(), [[0x4000, 'from v4'], [0x4001, 'from v6']], 'both answers reach the client as ChannelData on their channels');
  t.ok((await counterSum(server.metrics, 'turnkit_relayed_packets_total', { direction: 'to-client' })) >= 2);

  t.equal(code(await c.request(refreshRequest(c.creds!, 0, { extra: [requestedFamily(2)] }))), 'success', 'Refresh 0 naming IPv6 deletes the allocation');
  t.equal(await counterSum(server.metrics, 'turnkit_allocations'), 0);
  t.ok(await portIsFree('127.0.0.1', r4.port), 'the IPv4 relay port is closed');
  t.ok(await portIsFree('::1', r6.port), 'and the IPv6 one with it');
});

t.test('IPv6 relaying off (--relay-ip 127.0.0.1 only): 440, and a dual allocation gets IPv4 + ADDRESS-ERROR-CODE 440', skip, async (t) => {
  const { server, udp } = await startTurn(t, '127.0.0.1', { relayIp: '127.0.0.1' });
  const c = await TurnUdpClient.open(t, udp);
  const refused = await c.allocate(USER, PASSWORD, REALM, [requestedFamily(2)]);
  t.equal(code(refused), 440, 'REQUESTED-ADDRESS-FAMILY IPv6: 440 Address Family not Supported');
  t.ok(integrityVerifies(refused.raw!, longTermKeyRef(USER, REALM, PASSWORD)), 'signed');
  const dual = await c.allocate(USER, PASSWORD, REALM, [additionalFamily(2)]);
  t.equal(code(dual), 'success', 'the IPv4 half is granted');
  t.same(relayedOf(dual).map((r) => r.family), ['IPv4']);
  const aec = getAttribute(dual, AttributeType.AddressErrorCode);
  t.equal(aec?.value[0], 0x02, 'ADDRESS-ERROR-CODE for IPv6');
  t.equal(aec && decodeErrorCode(Buffer.concat([Buffer.alloc(2), aec.value.subarray(2)]))?.code, 440);
  t.equal(await counterSum(server.metrics, 'turnkit_errors_total', { method: 'Allocate', code: '440' }), 1, 'the 440 is counted');
});

t.test('443 for a peer of the wrong family; the deny list applies to IPv6 peers; on the wire', skip, async (t) => {
  const { server, udp } = await startTurn(t, '::1');
  const v4 = await TurnUdpClient.open(t, udp);
  t.equal(code(await v4.allocate(USER, PASSWORD, REALM)), 'success', 'an IPv4 allocation (the default) from an IPv6 client');
  const p6 = await peer(t, '::1');
  t.equal(code(await v4.request(createPermissionRequest(v4.creds!, [p6.addr]))), 443, 'CreatePermission for an IPv6 peer: 443');
  t.equal(code(await v4.request(channelBindRequest(v4.creds!, 0x4000, p6.addr))), 443, 'ChannelBind: 443');
  v4.send(sendIndication(p6.addr, Buffer.from('x')));
  t.equal(await p6.next(300), undefined, 'a Send to it relays nothing');

  const v6 = await TurnUdpClient.open(t, udp);
  t.equal(code(await v6.allocate(USER, PASSWORD, REALM, [requestedFamily(2)])), 'success', 'an IPv6 allocation');
  const denied: Array<[string, string]> = [
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'unique local (AWS IMDS)'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254'],
    ['2002:7f00:1::1', '6to4 of 127.0.0.1'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo'],
  ];
  for (const [address, what] of denied) {
    const peerAddr: TransportAddress = { family: 'IPv6', address, port: p6.addr.port };
    t.equal(code(await v6.request(createPermissionRequest(v6.creds!, [peerAddr]))), 403, `CreatePermission [${address}] (${what}): 403`);
  }
  t.equal(code(await v6.request(channelBindRequest(v6.creds!, 0x4000, p6.addr))), 403, 'ChannelBind to the ::1 peer: 403');
  v6.send(sendIndication(p6.addr, Buffer.from('x')));
  t.equal(await p6.next(300), undefined, 'nothing reaches the ::1 peer');
  t.equal(await counterSum(server.metrics, 'turnkit_peer_denied_total'), denied.length + 1, 'every refusal counted in turnkit_peer_denied_total');
  t.equal(await counterSum(server.metrics, 'turnkit_relay_dropped_total', { reason: 'peer-family-mismatch' }), 1, 'the mismatched Send counted');
});
