/**
 * IPv6 and dual-stack allocations in the engine (RFC 8656 §7.2 REQUESTED- and ADDITIONAL-ADDRESS-FAMILY,
 * ADDRESS-ERROR-CODE, 440 and 443), without sockets: the relays are fake addresses, time is injected.
 */
import t from 'tap';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { decodeXorAddress } from '../../src/stun/attributes/address.js';
import { AttributeType, MessageClass, Method } from '../../src/stun/constants.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import { decodeMessage, getAttribute, type StunMessage } from '../../src/stun/message.js';
import { ADDITIONAL_ADDRESS_FAMILY_DRAFT } from '../../src/turn/wire/attributes.js';
import {
  PEER_A,
  T0,
  TurnTestClient,
  additionalFamily,
  allocateRequest,
  engineConfig,
  fakeRelay,
  makeEngine,
  refreshRequest,
  requestedFamily,
  responseOf,
  verdict,
  type EngineOptions,
} from '../helpers/turn-client.js';

const S = 1000;
/** A global IPv6 peer, allowed by the default policy. */
const PEER_V6: TransportAddress = { family: 'IPv6', address: '2606:4700::1111', port: 5000 };
/** REQUESTED-ADDRESS-FAMILY with a family octet that names no family. */
const UNKNOWN_FAMILY = { type: AttributeType.RequestedAddressFamily, value: Buffer.from([3, 0, 0, 0]) };

function setup(o: EngineOptions = {}) {
  const engine = makeEngine(engineConfig({ relayFamilies: ['IPv4', 'IPv6'], ...o }));
  return { engine, client: () => new TurnTestClient(engine) };
}

/** Every XOR-RELAYED-ADDRESS of a response, in order. */
function relayedAddresses(m: StunMessage): TransportAddress[] {
  return m.attributes.filter((a) => a.type === AttributeType.XorRelayedAddress).map((a) => decodeXorAddress(a.value, m.transactionId)!);
}

/** ADDRESS-ERROR-CODE as [family octet, error code], or undefined. */
function addressError(m: StunMessage): [number, number | undefined] | undefined {
  const a = getAttribute(m, AttributeType.AddressErrorCode);
  if (!a) return undefined;
  return [a.value[0]!, decodeErrorCode(Buffer.concat([Buffer.alloc(2), a.value.subarray(2)]))?.code];
}

t.test('dual allocation: two XOR-RELAYED-ADDRESS (IPv4 first, then IPv6), no ADDRESS-ERROR-CODE, signed', async (t) => {
  const { client } = setup();
  const c = client();
  const pending = c.pendingAllocation(T0, { extra: [additionalFamily(2)] });
  t.same(pending.additional, { family: 'IPv6' }, 'the transport is asked for an IPv6 relay too');
  const v4 = fakeRelay('IPv4');
  const v6 = fakeRelay('IPv6');
  const out = c.complete(pending, v4, v6);
  const m = responseOf(out);
  t.equal(m.cls, MessageClass.SuccessResponse);
  t.same(relayedAddresses(m), [v4.advertised, v6.advertised], 'both advertised addresses, IPv4 first');
  t.equal(addressError(m), undefined, 'no ADDRESS-ERROR-CODE');
  t.ok(c.signedByMe(m), 'signed with the client key');
  t.same(out.created?.additional, { relayed: v6.relayed, advertised: v6.advertised }, 'the allocation holds the IPv6 relay');
});

t.test('coturn\'s draft code point for ADDITIONAL-ADDRESS-FAMILY (0x8032, what turnutils_uclient -Z sends) asks for a dual allocation too', async (t) => {
  const { client } = setup();
  const c = client();
  const draft = { type: ADDITIONAL_ADDRESS_FAMILY_DRAFT, value: Buffer.from([2, 0, 0, 0]) };
  const pending = c.pendingAllocation(T0, { extra: [draft] });
  t.same(pending.additional, { family: 'IPv6' });
  t.same(relayedAddresses(responseOf(c.complete(pending))).map((a) => a.family), ['IPv4', 'IPv6']);
  const d = client();
  d.challenge(T0);
  t.equal(verdict(d.send(allocateRequest(d.creds(), { extra: [requestedFamily(1), draft] }).data, T0)), 400, 'with REQUESTED-ADDRESS-FAMILY: 400, as for 0x8000');
});

t.test('dual allocation without IPv6 relays: IPv4 granted, ADDRESS-ERROR-CODE 440 for IPv6', async (t) => {
  const { client } = setup({ relayFamilies: ['IPv4'] });
  const c = client();
  const pending = c.pendingAllocation(T0, { extra: [additionalFamily(2)] });
  t.same(pending.additional, { family: 'IPv6', refused: 440 }, 'refused before any socket is opened');
  const m = responseOf(c.complete(pending));
  t.equal(relayedAddresses(m).length, 1);
  t.equal(relayedAddresses(m)[0]!.family, 'IPv4');
  t.same(addressError(m), [0x02, 440]);
});

t.test('an RFC 6062 TCP relay is single-family: ADDITIONAL-ADDRESS-FAMILY gets 440 for IPv6 (not 508) though IPv6 relays exist', async (t) => {
  const { engine } = setup();
  const c = new TurnTestClient(engine, { transport: 'tcp' });
  const pending = c.pendingAllocation(T0, { transport: 6, extra: [additionalFamily(2)] });
  t.same(pending.additional, { family: 'IPv6', refused: 440 }, 'refused before any socket is opened');
  t.equal(pending.relayTransport, 'tcp');
  const m = responseOf(c.complete(pending));
  t.same(relayedAddresses(m).map((a) => a.family), ['IPv4'], 'the IPv4 TCP relay is granted');
  t.same(addressError(m), [0x02, 440], 'ADDRESS-ERROR-CODE 440 for IPv6');
  const udp = new TurnTestClient(engine, { transport: 'tcp' }).pendingAllocation(T0, { extra: [additionalFamily(2)] });
  t.same(udp.additional, { family: 'IPv6' }, 'control: a UDP relay over TCP still gets both');
});

t.test('dual allocation whose IPv6 relay fails to open: IPv4 granted, ADDRESS-ERROR-CODE with the transport\'s code', async (t) => {
  for (const code of [440, 508]) {
    const { client } = setup();
    const c = client();
    const m = responseOf(c.complete(c.pendingAllocation(T0, { extra: [additionalFamily(2)] }), fakeRelay('IPv4'), { refused: code }));
    t.equal(m.cls, MessageClass.SuccessResponse, `${code}: the Allocate still succeeds`);
    t.same(relayedAddresses(m).map((a) => a.family), ['IPv4'], `${code}: only the IPv4 relay`);
    t.same(addressError(m), [0x02, code], `${code}: ADDRESS-ERROR-CODE for IPv6`);
    t.equal(c.allocation?.additional, undefined);
  }
});

t.test('440: no relay of the asked family; an IPv6-only server refuses a plain (IPv4) Allocate too', async (t) => {
  const v4only = setup({ relayFamilies: ['IPv4'] }).client();
  v4only.challenge(T0);
  t.equal(verdict(v4only.send(allocateRequest(v4only.creds(), { extra: [requestedFamily(2)] }).data, T0)), 440, 'IPv6 asked, none');
  const v6only = setup({ relayFamilies: ['IPv6'] }).client();
  v6only.challenge(T0);
  t.equal(verdict(v6only.send(allocateRequest(v6only.creds()).data, T0)), 440, 'no REQUESTED-ADDRESS-FAMILY means IPv4: 440');
  const ok = v6only.send(allocateRequest(v6only.creds(), { extra: [requestedFamily(2)] }).data, T0);
  t.equal(verdict(ok), 'allocate', 'IPv6 asked: granted');
  t.equal(verdict(v6only.send(allocateRequest(v6only.creds(), { extra: [UNKNOWN_FAMILY] }).data, T0 + 1)), 'relay-drop:allocation-pending', 'meanwhile the 5-tuple is busy');
  const other = setup().client();
  other.challenge(T0);
  t.equal(verdict(other.send(allocateRequest(other.creds(), { extra: [UNKNOWN_FAMILY] }).data, T0)), 440, 'an unknown family octet: 440');
});

t.test('a failed relay: 440 or 508 as the transport says', async (t) => {
  for (const code of [440, 508]) {
    const { engine, client } = setup();
    const c = client();
    const out = engine.completeAllocation(c.pendingAllocation(T0, { extra: [requestedFamily(2)] }), { ok: false, refused: code });
    t.equal(verdict(out), code);
    t.ok(c.signedByMe(responseOf(out)), 'signed');
  }
});

t.test('permissions per family: a dual allocation takes IPv4 and IPv6 peers; single-family ones refuse the other (443)', async (t) => {
  const { client } = setup();
  const dual = client();
  dual.allocate(T0, { extra: [additionalFamily(2)] });
  t.equal(verdict(dual.createPermission(T0 + S, [PEER_A, PEER_V6])), 'success', 'one CreatePermission, both families');
  t.equal(verdict(dual.channelBind(T0 + S, 0x4000, PEER_A)), 'success', 'ChannelBind IPv4 peer');
  t.equal(verdict(dual.channelBind(T0 + S, 0x4001, PEER_V6)), 'success', 'ChannelBind IPv6 peer');
  const toV4 = dual.sendTo(T0 + 2 * S, PEER_A, Buffer.from('four'));
  const toV6 = dual.sendTo(T0 + 2 * S, PEER_V6, Buffer.from('six'));
  t.equal(toV4.kind, 'send-peer');
  t.equal(toV6.kind, 'send-peer');
  if (toV6.kind === 'send-peer') t.same(toV6.peer, PEER_V6, 'Send to the IPv6 peer goes out with its address');

  const v4 = client();
  v4.allocate(T0);
  t.equal(verdict(v4.createPermission(T0 + S, [PEER_V6])), 443, 'IPv4 relay, IPv6 peer: CreatePermission 443');
  t.equal(verdict(v4.createPermission(T0 + S, [PEER_A, PEER_V6])), 443, 'all or nothing: one mismatched peer refuses the request');
  t.equal(v4.allocation!.permissions.size, 0, 'and installs nothing');
  t.equal(verdict(v4.channelBind(T0 + S, 0x4000, PEER_V6)), 443, 'ChannelBind 443');
  t.equal(verdict(v4.sendTo(T0 + S, PEER_V6, Buffer.from('x'))), 'relay-drop:peer-family-mismatch', 'Send: dropped, counted by reason');

  const v6 = client();
  v6.allocate(T0, { extra: [requestedFamily(2)] });
  t.equal(verdict(v6.createPermission(T0 + S, [PEER_A])), 443, 'IPv6 relay, IPv4 peer: 443');
  t.equal(verdict(v6.channelBind(T0 + S, 0x4000, PEER_A)), 443);
  t.equal(verdict(v6.sendTo(T0 + S, PEER_A, Buffer.from('x'))), 'relay-drop:peer-family-mismatch');
  t.equal(verdict(v6.createPermission(T0 + S, [PEER_V6])), 'success', 'control: an IPv6 peer');
});

t.test('a packet from the IPv6 peer of a dual allocation reaches the client with an IPv6 XOR-PEER-ADDRESS', async (t) => {
  const { engine, client } = setup();
  const c = client();
  const { allocation } = c.allocate(T0, { extra: [additionalFamily(2)] });
  c.createPermission(T0, [PEER_A, PEER_V6]);
  for (const peer of [PEER_A, PEER_V6]) {
    const out = engine.handlePeerPacket(allocation, peer.address, peer.port, Buffer.from(`from ${peer.family}`), T0 + S);
    t.equal(out.kind, 'to-client');
    if (out.kind !== 'to-client') continue;
    const d = decodeMessage(out.data);
    t.ok(d.ok && d.message.method === Method.Data, 'a Data indication');
    if (!d.ok) continue;
    const a = getAttribute(d.message, AttributeType.XorPeerAddress)!;
    t.same(decodeXorAddress(a.value, d.message.transactionId), peer, `XOR-PEER-ADDRESS is the ${peer.family} peer`);
  }
  const stranger = engine.handlePeerPacket(allocation, '2606:4700::2222', 1, Buffer.from('x'), T0 + S);
  t.same(stranger, { kind: 'relay-drop', reason: 'no-permission' }, 'an IPv6 peer without a permission is dropped');
});

t.test('the relays of a dual allocation live and die together: Refresh names either family; one quota slot', async (t) => {
  const { engine, client } = setup({ quotas: { perUser: 1, perClientIp: 100, total: 0 } });
  const c = client();
  const { allocation } = c.allocate(T0, { extra: [additionalFamily(2)] });
  t.equal(engine.allocations.size, 1, 'one allocation for two relays');
  const other = new TurnTestClient(engine);
  t.equal(verdict(other.requestAllocation(T0)), 486, 'the per-user quota counts the dual allocation once (and it is full)');

  for (const family of [1, 2] as const) {
    const out = c.send(refreshRequest(c.creds(), 900, { extra: [requestedFamily(family)] }).data, T0 + 10 * S);
    t.equal(verdict(out), 'success', `Refresh naming family ${family}`);
  }
  t.equal(allocation.expiresAt, T0 + 10 * S + 900 * S, 'one expiry for both relays');
  const v4 = new TurnTestClient(engine, { username: 'bob' });
  v4.allocate(T0);
  t.equal(verdict(v4.send(refreshRequest(v4.creds(), 600, { extra: [requestedFamily(2)] }).data, T0)), 443, 'an IPv4-only allocation: Refresh naming IPv6 → 443');

  const gone = c.send(refreshRequest(c.creds(), 0).data, T0 + 20 * S);
  t.equal(verdict(gone), 'success');
  t.equal(gone.kind === 'respond' ? gone.released : undefined, allocation, 'delete releases the allocation, whose both relays the transport closes');
  t.equal(engine.expire(T0 + 2000 * S).allocations.includes(allocation), false, 'nothing left to expire');
});

t.test('expiry ends a dual allocation as one', async (t) => {
  const { engine, client } = setup();
  const c = client();
  const { allocation } = c.allocate(T0, { extra: [additionalFamily(2)], lifetime: 600 });
  t.same(engine.expire(T0 + 601 * S).allocations, [allocation]);
  t.equal(engine.allocations.size, 0);
});
