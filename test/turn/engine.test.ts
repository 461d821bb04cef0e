/**
 * TurnEngine end to end, without sockets: client messages and peer packets in, outcomes out, with
 * the clock injected (RFC 8656 §7–§12; RFC 8489 §9.2.4 for authentication).
 */
import t from 'tap';
import { decodePasswordAlgorithms } from '../../src/stun/attributes/password-algorithms.js';
import { decodeUnknownAttributes } from '../../src/stun/attributes/unknown-attributes.js';
import { decodeErrorCode } from '../../src/stun/attributes/error-code.js';
import { AttributeType, MessageClass, Method, PasswordAlgorithm } from '../../src/stun/constants.js';
import { decodeMessage, getAttribute, type StunAttribute } from '../../src/stun/message.js';
import { mintRestCredential } from '../../src/turn/credentials.js';
import { DEFAULT_UNAUTH_LIMIT } from '../../src/turn/engine.js';
import {
  PEER_A,
  PEER_B,
  REALM,
  T0,
  TurnTestClient,
  additionalFamily,
  allocateRequest,
  appendAttributes,
  bindingRequest,
  channelData,
  engineConfig,
  evenPort,
  fakeRelay,
  integrityVerifies,
  lifetime,
  lifetimeOf,
  longTermKeyRef,
  makeEngine,
  newClientAddress,
  requestedFamily,
  requestedTransport,
  refreshRequest,
  sendIndication,
  reservationToken,
  responseOf,
  textAttr,
  turnRequest,
  verdict,
  xorAddressAttr,
  type EngineOptions,
} from '../helpers/turn-client.js';

const S = 1000; // ms per second

// Server bugs found by these tests; the assertions that show them are marked todo until fixed.

function setup(o: EngineOptions = {}) {
  const config = engineConfig(o);
  const engine = makeEngine(config, o.unauthLimit);
  return { config, engine, client: (opts: ConstructorParameters<typeof TurnTestClient>[1] = {}) => new TurnTestClient(engine, opts) };
}

// -------------------------------------------------------------------------------------------------
// Allocate (RFC 8656 §7.1, §7.2)

t.test('unauthenticated Allocate: 401 with REALM, a valid NONCE and PASSWORD-ALGORITHMS, unsigned', async (t) => {
  const { config, client } = setup();
  const c = client();
  const out = c.send(allocateRequest(undefined).data, T0);
  t.equal(verdict(out), 401);
  const m = responseOf(out);
  t.equal(textAttr(m, AttributeType.Realm), REALM, 'REALM is the configured realm');
  const nonce = textAttr(m, AttributeType.Nonce);
  t.ok(nonce, 'NONCE present');
  t.equal(config.nonces.check(nonce!, T0, c.source.address), 'valid', 'the NONCE is one the server accepts from this client now');
  const algs = getAttribute(m, AttributeType.PasswordAlgorithms);
  t.ok(algs, 'PASSWORD-ALGORITHMS present (RFC 8489 §9.2.4 with the nonce cookie)');
  const list = decodePasswordAlgorithms(algs!.value)?.map((e) => e.algorithm) ?? [];
  t.ok(list.includes(PasswordAlgorithm.MD5) && list.includes(PasswordAlgorithm.SHA256), `offers MD5 and SHA-256 (${list})`);
  t.notOk(getAttribute(m, AttributeType.MessageIntegrity), 'a 401 carries no MESSAGE-INTEGRITY');
  t.equal(c.engine.allocations.size, 0);
});

t.test('successful Allocate: XOR-RELAYED-ADDRESS (advertised), LIFETIME, XOR-MAPPED-ADDRESS, signed', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const pending = c.pendingAllocation(T0);
  t.equal(pending.family, 'IPv4');
  t.equal(pending.lifetime, 600);
  const relay = fakeRelay();
  const out = c.complete(pending, relay);
  t.equal(verdict(out), 'success');
  const m = responseOf(out);
  t.equal(m.method, Method.Allocate);
  t.same(xorAddressAttr(m, AttributeType.XorRelayedAddress), relay.advertised, 'XOR-RELAYED-ADDRESS is the advertised address');
  t.not(relay.advertised.address, relay.relayed.address, '(the test relay has distinct bound and advertised addresses)');
  t.equal(lifetimeOf(m), 600, 'default LIFETIME 600');
  t.same(xorAddressAttr(m, AttributeType.XorMappedAddress), c.source, 'XOR-MAPPED-ADDRESS is the client source');
  t.ok(integrityVerifies(m.raw!, longTermKeyRef('alice', REALM, 'alice-secret-pw')), 'MESSAGE-INTEGRITY verifies under alice\'s key');
  t.notOk(integrityVerifies(m.raw!, longTermKeyRef('alice', REALM, 'wrong')), '...and not under another key');
  t.ok(out.created, 'outcome names the created allocation');
  t.same(out.created!.relayed, relay.relayed);
  t.equal(out.created!.username, 'alice');
  t.equal(out.created!.expiresAt, T0 + 600 * S);
  t.equal(engine.allocations.size, 1);
  t.equal(engine.allocations.get(out.created!.key), out.created);
});

t.test('LIFETIME: default 600, 1200 granted, 99999 capped at 3600, 10 raised to 600 (RFC 8656 §7.2)', async (t) => {
  const { client } = setup();
  for (const [requested, granted] of [
    [undefined, 600],
    [1200, 1200],
    [99999, 3600],
    [10, 600],
  ] as const) {
    const c = client();
    const { response, allocation } = c.allocate(T0, requested === undefined ? {} : { lifetime: requested });
    t.equal(lifetimeOf(response), granted, `requested ${requested} → ${granted}`);
    t.equal(allocation.expiresAt, T0 + granted * S, `expiry follows the granted lifetime (${granted})`);
  }
});

t.test('retransmitted Allocate gets the byte-identical answer; a new Allocate on the 5-tuple gets 437', async (t) => {
  const { client, engine } = setup();
  const c = client();
  c.challenge(T0);
  const req = allocateRequest(c.creds());
  const first = c.send(req.data, T0);
  t.equal(first.kind, 'allocate');
  t.equal(verdict(c.send(req.data, T0 + 100)), 'relay-drop:allocation-pending', 'retransmit while the relay opens is absorbed');
  const done = c.complete((first as Extract<typeof first, { kind: 'allocate' }>).pending);
  t.equal(verdict(done), 'success');
  const again = c.send(req.data, T0 + 2 * S);
  t.equal(again.kind, 'respond');
  t.ok(again.kind === 'respond' && again.data.equals(done.data), 'byte-identical answer');
  t.equal(engine.allocations.size, 1, 'no second allocation');
  t.equal(verdict(c.send(allocateRequest(c.creds()).data, T0 + 3 * S)), 437, 'new transaction → 437 Allocation Mismatch');

  // The same transaction ID from another 5-tuple is another transaction.
  const other = client({ source: { ...c.source, port: c.source.port + 5000 } });
  other.nonce = c.nonce;
  t.equal(other.send(req.data, T0 + 3 * S).kind, 'allocate', 'cache is per 5-tuple');
});

t.test('REQUESTED-TRANSPORT missing → 400, SCTP → 442, TCP over UDP → 400 (RFC 6062 §5.1); errors are signed', async (t) => {
  const { client } = setup();
  const c = client();
  c.challenge(T0);
  const missing = c.send(allocateRequest(c.creds(), { transport: null }).data, T0);
  t.equal(verdict(missing), 400);
  t.ok(c.signedByMe(responseOf(missing)), '400 after authentication is signed (RFC 8489 §9.2.4)');
  const sctp = c.send(allocateRequest(c.creds(), { transport: 132 }).data, T0);
  t.equal(verdict(sctp), 442);
  t.ok(c.signedByMe(responseOf(sctp)));
  t.equal(verdict(c.send(allocateRequest(c.creds(), { transport: 6 }).data, T0)), 400, 'a TCP relay asked for over UDP');
  t.equal(verdict(c.send(allocateRequest(c.creds(), { transport: 17 }).data, T0)), 'allocate', 'UDP (17) accepted');
});

t.test('REQUESTED-ADDRESS-FAMILY IPv6 without an IPv6 relay → 440; IPv4 accepted', async (t) => {
  const { client } = setup({ relayFamilies: ['IPv4'] });
  const c = client();
  c.challenge(T0);
  t.equal(verdict(c.send(allocateRequest(c.creds(), { extra: [requestedFamily(2)] }).data, T0)), 440);
  const ok = c.send(allocateRequest(c.creds(), { extra: [requestedFamily(1)] }).data, T0);
  t.equal(verdict(ok), 'allocate');
});

t.test('REQUESTED-ADDRESS-FAMILY IPv6 with an IPv6 relay → IPv6 pending allocation', async (t) => {
  const { client } = setup({ relayFamilies: ['IPv4', 'IPv6'] });
  const c = client();
  const p = c.pendingAllocation(T0, { extra: [requestedFamily(2)] });
  t.equal(p.family, 'IPv6');
  const out = c.complete(p);
  t.equal(xorAddressAttr(responseOf(out), AttributeType.XorRelayedAddress)?.family, 'IPv6');
});

t.test('ADDITIONAL-ADDRESS-FAMILY IPv6: IPv4 granted, ADDRESS-ERROR-CODE 440 for IPv6; IPv4 value → 400', async (t) => {
  const { client } = setup();
  const c = client();
  const { response } = c.allocate(T0, { extra: [additionalFamily(2)] });
  const aec = getAttribute(response, AttributeType.AddressErrorCode);
  t.ok(aec, 'ADDRESS-ERROR-CODE present');
  t.equal(aec!.value[0], 0x02, 'for IPv6');
  t.equal(decodeErrorCode(Buffer.concat([Buffer.alloc(2), aec!.value.subarray(2)]))?.code, 440);
  const d = client();
  d.challenge(T0);
  t.equal(verdict(d.send(allocateRequest(d.creds(), { extra: [additionalFamily(1)] }).data, T0)), 400);
});

t.test('EVEN-PORT and RESERVATION-TOKEN (RFC 8656 §7.2 steps 5–6)', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const p = c.pendingAllocation(T0, { extra: [evenPort(true)] });
  t.same(p.evenPort, { reserveNext: true }, 'EVEN-PORT with R reaches the transport');

  const d = client();
  d.challenge(T0);
  const token = engine.reservations.reserve({ family: 'IPv4', address: '10.1.2.3', port: 50001 }, T0);
  t.equal(verdict(d.send(allocateRequest(d.creds(), { extra: [reservationToken(token), evenPort(false)] }).data, T0)), 400, 'token with EVEN-PORT → 400');
  t.equal(verdict(d.send(allocateRequest(d.creds(), { extra: [reservationToken(Buffer.alloc(8, 7))] }).data, T0)), 508, 'unknown token → 508');
  t.equal(verdict(d.send(allocateRequest(d.creds(), { extra: [reservationToken(token), requestedFamily(1)] }).data, T0)), 400, 'token with REQUESTED-ADDRESS-FAMILY → 400');
  const ok = d.send(allocateRequest(d.creds(), { extra: [reservationToken(token)] }).data, T0);
  t.equal(ok.kind, 'allocate', 'valid token accepted');
  if (ok.kind === 'allocate') {
    t.same(ok.pending.reservedPort?.address, { family: 'IPv4', address: '10.1.2.3', port: 50001 });
    t.ok(ok.pending.reservedPort?.token.equals(token));
    engine.cancelPending(ok.pending);
  }
  const e = client();
  e.challenge(T0);
  t.equal(verdict(e.send(allocateRequest(e.creds(), { extra: [reservationToken(token)] }).data, T0)), 508, 'a token is used up once taken');

  const f = client();
  f.challenge(T0);
  const late = engine.reservations.reserve({ family: 'IPv4', address: '10.1.2.3', port: 50003 }, T0);
  t.equal(verdict(f.send(allocateRequest(f.creds(), { extra: [reservationToken(late)] }).data, T0 + 31 * S)), 508, 'token past its ~30 s hold → 508');
});

t.test('RFC 8656 §7.2 steps 5, 6, 8: attribute combinations that must be refused with 400', async (t) => {
  const { client, engine } = setup({ relayFamilies: ['IPv4', 'IPv6'] });
  const c = client();
  c.challenge(T0);
  const ask = (extra: StunAttribute[]) => {
    const out = c.send(allocateRequest(c.creds(), { extra }).data, T0);
    if (out.kind === 'allocate') engine.cancelPending(out.pending);
    return verdict(out);
  };
  t.equal(ask([requestedFamily(1), additionalFamily(2)]), 400, 'step 6: REQUESTED- and ADDITIONAL-ADDRESS-FAMILY together');
  const token = engine.reservations.reserve({ family: 'IPv4', address: '10.1.2.3', port: 50021 }, T0);
  t.equal(ask([reservationToken(token), additionalFamily(2)]), 400, 'step 5: RESERVATION-TOKEN with ADDITIONAL-ADDRESS-FAMILY');
  t.equal(ask([evenPort(true), additionalFamily(2)]), 400, 'step 8: EVEN-PORT with R=1 and ADDITIONAL-ADDRESS-FAMILY');
  t.equal(ask([evenPort(false), additionalFamily(2)]), 'allocate', 'control: EVEN-PORT with R=0 and ADDITIONAL-ADDRESS-FAMILY is fine');
});

t.test('a relay that fails to open → 508, signed; the client may try again (no 437)', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const pending = c.pendingAllocation(T0);
  const failed = engine.completeAllocation(pending, { ok: false });
  t.equal(verdict(failed), 508);
  t.ok(c.signedByMe(responseOf(failed)));
  t.notOk(failed.created);
  t.equal(engine.allocations.size, 0);
  t.equal(verdict(c.requestAllocation(T0 + S)), 'allocate', 'a new Allocate on the same 5-tuple proceeds');
});

t.test('a RESERVATION-TOKEN Allocate refused later (quota) must not swallow the reservation', async (t) => {
  const { client, engine } = setup({ quotas: { perUser: 1, perClientIp: 0, total: 0 } });
  client().allocate(T0); // alice's one allowed allocation
  const c = client();
  c.challenge(T0);
  const token = engine.reservations.reserve({ family: 'IPv4', address: '10.1.2.3', port: 50011 }, T0);
  t.equal(verdict(c.send(allocateRequest(c.creds(), { extra: [reservationToken(token)] }).data, T0)), 486);
  const expired = engine.expire(T0 + 31 * S).reservations.map((r) => r.token);
  t.ok(expired.includes(token.toString('hex')), 'the hold still ends through expire(), so the transport closes its socket');
});

t.test('quotas: 11th allocation of a user → 486, per client IP → 486, total → 508', async (t) => {
  {
    const { client } = setup({ quotas: { perUser: 10, perClientIp: 0, total: 0 } });
    for (let i = 0; i < 10; i++) t.equal(verdict(client().allocate(T0).outcome), 'success', `allocation ${i + 1}`);
    const c = client();
    t.equal(verdict(c.requestAllocation(T0)), 486, '11th for alice');
    const bob = client({ username: 'bob' });
    t.equal(bob.allocate(T0).allocation.username, 'bob', 'another user is not affected');
  }
  {
    const { client } = setup({ quotas: { perUser: 0, perClientIp: 2, total: 0 } });
    client({ source: newClientAddress('198.51.100.20') }).allocate(T0);
    client({ source: newClientAddress('198.51.100.20'), username: 'bob' }).allocate(T0);
    t.equal(verdict(client({ source: newClientAddress('198.51.100.20') }).requestAllocation(T0)), 486, 'third from one IP');
    t.equal(verdict(client({ source: newClientAddress('198.51.100.21') }).requestAllocation(T0)), 'allocate', 'another IP is not affected');
  }
  {
    const { client } = setup({ quotas: { perUser: 0, perClientIp: 0, total: 3 } });
    for (let i = 0; i < 3; i++) client({ username: i % 2 ? 'bob' : 'alice' }).allocate(T0);
    t.equal(verdict(client({ username: 'bob' }).requestAllocation(T0)), 508, 'server full → 508');
  }
  {
    const { client } = setup({ quotas: { perUser: 1, perClientIp: 0, total: 0 } });
    const a = client();
    a.allocate(T0);
    t.equal(verdict(client().requestAllocation(T0)), 486);
    t.equal(verdict(a.refresh(T0 + S, 0)), 'success', 'delete the one allocation');
    t.equal(verdict(client().requestAllocation(T0 + 2 * S)), 'allocate', 'the quota is free again');
  }
});

t.test('while an Allocate waits for its relay, a second Allocate on the 5-tuple opens no second relay', async (t) => {
  const { client, engine } = setup({ quotas: { perUser: 1, perClientIp: 0, total: 0 } });
  const c = client();
  const first = c.requestAllocation(T0);
  t.equal(first.kind, 'allocate');
  t.equal(verdict(c.send(allocateRequest(c.creds()).data, T0 + 10)), 'relay-drop:allocation-pending', 'new transaction, same 5-tuple');
  if (first.kind !== 'allocate') return;
  t.equal(verdict(c.complete(first.pending)), 'success');
  t.equal(verdict(c.send(allocateRequest(c.creds()).data, T0 + 20)), 437, 'once it exists: 437');
  t.equal(engine.allocations.size, 1);
  for (const a of [...engine.allocations.all()]) engine.release(a);
  t.equal(verdict(client().requestAllocation(T0 + S)), 'allocate', "after the release alice's quota of 1 is free again");
});

// -------------------------------------------------------------------------------------------------
// Refresh (RFC 8656 §7.3) and expiry

t.test('Refresh extends past the original lifetime; LIFETIME 0 deletes; its retransmit gets the same success', async (t) => {
  const { client, engine } = setup({ nonceLifetimeMs: 3600 * S });
  const c = client();
  const { allocation } = c.allocate(T0);
  const r1 = c.refresh(T0 + 500 * S, 1200);
  t.equal(verdict(r1), 'success');
  const m1 = responseOf(r1);
  t.equal(lifetimeOf(m1), 1200);
  t.ok(c.signedByMe(m1));
  t.same(engine.expire(T0 + 700 * S).allocations, [], 'past the original 600 s: still alive');
  t.equal(engine.allocations.get(allocation.key), allocation);
  t.equal(allocation.expiresAt, T0 + 1700 * S);

  t.equal(lifetimeOf(responseOf(c.refresh(T0 + 800 * S))), 600, 'no LIFETIME → default');
  t.equal(lifetimeOf(responseOf(c.refresh(T0 + 800 * S, 86400))), 3600, 'capped at max');

  const del = refreshRequest(c.creds(), 0).data;
  const gone = c.send(del, T0 + 900 * S);
  t.equal(verdict(gone), 'success');
  t.equal(lifetimeOf(responseOf(gone)), 0, 'response LIFETIME 0');
  t.equal(gone.kind === 'respond' ? gone.released : undefined, allocation, '`released` names the allocation');
  t.equal(engine.allocations.size, 0);
  const again = c.send(del, T0 + 901 * S);
  t.equal(verdict(again), 'success', 'retransmitted delete: success, not 437');
  t.ok(again.kind === 'respond' && gone.kind === 'respond' && again.data.equals(gone.data), 'byte-identical');
  t.equal(again.kind === 'respond' ? again.released : 'x', undefined, 'the retransmit releases nothing again');
  t.equal(verdict(c.refresh(T0 + 902 * S)), 437, 'a new Refresh → 437');
});

t.test('expire(now) removes an allocation once its lifetime has run out', async (t) => {
  const { client, engine } = setup();
  const { allocation } = client().allocate(T0);
  t.same(engine.expire(allocation.expiresAt - 1).allocations, [], 'alive 1 ms before');
  t.equal(engine.allocations.size, 1);
  t.same(engine.expire(allocation.expiresAt + 1).allocations, [allocation], 'expired after');
  t.equal(engine.allocations.size, 0);
  t.same(engine.expire(allocation.expiresAt + 10 * S).allocations, [], 'only once');
});

t.test('a Refresh after the allocation expired (before a sweep) gets 437', async (t) => {
  // Nonces outlive the allocation here, so the answer is about the allocation, not a stale nonce.
  const { client } = setup({ nonceLifetimeMs: 3600 * S });
  const c = client();
  const { allocation } = c.allocate(T0);
  t.equal(verdict(c.refresh(allocation.expiresAt - 500)), 'success', 'control: just before expiry it is refreshed');
  const d = client();
  const { allocation: a2 } = d.allocate(T0);
  t.equal(verdict(d.refresh(a2.expiresAt + 500)), 437, 'after expiry, even without a sweep');
});

t.test('Refresh with another user\'s credentials → 441 Wrong Credentials', async (t) => {
  const { client } = setup();
  const a = client();
  a.allocate(T0);
  const b = client({ username: 'bob', source: a.source });
  b.nonce = a.nonce;
  const out = b.refresh(T0 + S, 600);
  t.equal(verdict(out), 441);
  t.ok(b.signedByMe(responseOf(out)), 'signed with bob\'s key (he authenticated)');
  t.equal(a.allocation!.expiresAt, T0 + 600 * S, 'allocation untouched');
});

t.test('Refresh with a REQUESTED-ADDRESS-FAMILY other than the allocation\'s → 443', async (t) => {
  const { client } = setup();
  const c = client();
  c.allocate(T0);
  const out = c.send(refreshRequest(c.creds(), 600, { extra: [requestedFamily(2)] }).data, T0 + S);
  t.equal(verdict(out), 443);
});

// -------------------------------------------------------------------------------------------------
// Permissions (RFC 8656 §9), Data indications (§10.3)

t.test('CreatePermission: permitted peer IP → Data indication; other IPs dropped', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const { allocation } = c.allocate(T0);
  t.same(engine.handlePeerPacket(allocation, PEER_A.address, PEER_A.port, Buffer.from('early'), T0), { kind: 'relay-drop', reason: 'no-permission' }, 'nothing before a permission');
  const out = c.createPermission(T0, [PEER_A]);
  t.equal(verdict(out), 'success');
  t.ok(c.signedByMe(responseOf(out)));

  const payload = Buffer.from('hello from the peer');
  const pkt = engine.handlePeerPacket(allocation, PEER_A.address, PEER_A.port, payload, T0 + S);
  t.equal(pkt.kind, 'to-client');
  if (pkt.kind === 'to-client') {
    const r = decodeMessage(pkt.data);
    t.ok(r.ok, 'a STUN message');
    if (r.ok) {
      t.equal(r.message.method, Method.Data);
      t.equal(r.message.cls, MessageClass.Indication);
      t.same(xorAddressAttr(r.message, AttributeType.XorPeerAddress), PEER_A);
      t.ok(getAttribute(r.message, AttributeType.Data)?.value.equals(payload), 'DATA is the payload');
      t.notOk(getAttribute(r.message, AttributeType.MessageIntegrity), 'indications are not signed');
    }
  }
  const otherPort = engine.handlePeerPacket(allocation, PEER_A.address, 7777, payload, T0 + S);
  t.equal(otherPort.kind, 'to-client', 'a permission covers every port of the IP (RFC 8656 §9)');
  const other = engine.handlePeerPacket(allocation, PEER_B.address, PEER_B.port, payload, T0 + S);
  t.same(other, { kind: 'relay-drop', reason: 'no-permission' }, 'another IP is dropped');
});

t.test('permissions last 300 s; CreatePermission refreshes them', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const { allocation } = c.allocate(T0);
  c.createPermission(T0, [PEER_A, PEER_B]);
  const at = (ip: string, when: number) => engine.handlePeerPacket(allocation, ip, 1234, Buffer.from('x'), when).kind;
  t.equal(at(PEER_A.address, T0 + 299 * S), 'to-client');
  t.equal(verdict(c.createPermission(T0 + 200 * S, [PEER_A])), 'success', 'refresh A at 200 s');
  t.equal(at(PEER_B.address, T0 + 300 * S + 1), 'relay-drop', 'B (not refreshed) expired after 300 s');
  t.equal(at(PEER_A.address, T0 + 300 * S + 1), 'to-client', 'A still permitted');
  t.equal(at(PEER_A.address, T0 + 499 * S), 'to-client');
  t.equal(at(PEER_A.address, T0 + 500 * S + 1), 'relay-drop', 'A expired 300 s after its refresh');
});

t.test('CreatePermission with several peers, one denied → 403 and none installed', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const { allocation } = c.allocate(T0);
  const out = c.createPermission(T0, [PEER_A, { family: 'IPv4', address: '10.0.0.1', port: 5000 }, PEER_B]);
  t.equal(verdict(out), 403);
  t.equal(out.kind === 'respond' ? out.note?.event : undefined, 'peer-denied', 'note for the log');
  for (const p of [PEER_A, PEER_B]) {
    t.equal(engine.handlePeerPacket(allocation, p.address, p.port, Buffer.from('x'), T0 + S).kind, 'relay-drop', `${p.address} not installed`);
  }
  t.equal(allocation.permissions.size, 0);
});

t.test('CreatePermission: no XOR-PEER-ADDRESS → 400; no allocation → 437; IPv6 peer on IPv4 relay → 443', async (t) => {
  const { client } = setup();
  const c = client();
  c.challenge(T0);
  t.equal(verdict(c.createPermission(T0, [PEER_A])), 437, 'before any allocation');
  c.allocate(T0);
  t.equal(verdict(c.createPermission(T0, [])), 400);
  t.equal(verdict(c.createPermission(T0, [{ family: 'IPv6', address: '2001:4860::1', port: 5000 }])), 443);
});

t.test('CreatePermission beyond maxPermissions → 508', async (t) => {
  const { client } = setup({ maxPermissions: 2 });
  const c = client();
  c.allocate(T0);
  t.equal(verdict(c.createPermission(T0, [PEER_A, PEER_B])), 'success');
  t.equal(verdict(c.createPermission(T0, [PEER_A])), 'success', 'refreshing an existing one is fine');
  t.equal(verdict(c.createPermission(T0, [{ family: 'IPv4', address: '198.18.0.9', port: 1 }])), 508);
  t.equal(verdict(c.createPermission(T0 + 301 * S, [{ family: 'IPv4', address: '198.18.0.9', port: 1 }])), 'success', 'room again once the others expired');
});

// -------------------------------------------------------------------------------------------------
// Channels (RFC 8656 §11, §12)

t.test('ChannelBind 0x4000: peer packets arrive as ChannelData, unpadded over UDP', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const { allocation } = c.allocate(T0);
  const out = c.channelBind(T0, 0x4000, PEER_A);
  t.equal(verdict(out), 'success');
  t.ok(c.signedByMe(responseOf(out)));
  const payload = Buffer.from('hello'); // 5 bytes: padding would show
  const pkt = engine.handlePeerPacket(allocation, PEER_A.address, PEER_A.port, payload, T0 + S);
  t.equal(pkt.kind, 'to-client');
  if (pkt.kind === 'to-client') {
    t.equal(pkt.data.length, 4 + payload.length, 'UDP: no padding');
    t.equal(pkt.data.readUInt16BE(0), 0x4000);
    t.equal(pkt.data.readUInt16BE(2), payload.length);
    t.ok(pkt.data.subarray(4).equals(payload));
    t.ok(pkt.data.equals(channelData(0x4000, payload)), 'matches an independently built frame');
  }
  const otherPort = engine.handlePeerPacket(allocation, PEER_A.address, PEER_A.port + 1, payload, T0 + S);
  t.equal(otherPort.kind === 'to-client' ? otherPort.data.readUInt16BE(0) >> 14 : -1, 0, 'another port of the same IP: a Data indication (STUN), not ChannelData');
});

t.test('a reload that denies a peer takes its permission at once: ChannelData, Send and Data stop; others keep theirs', async (t) => {
  const { client, engine, config } = setup();
  const c = client();
  const { allocation } = c.allocate(T0);
  t.equal(verdict(c.channelBind(T0, 0x4001, PEER_A)), 'success');
  c.createPermission(T0, [PEER_B]);
  t.equal(c.channelData(T0 + S, 0x4001, Buffer.from('x')).kind, 'send-peer', 'before: ChannelData relayed');
  engine.reconfigure({ ...config, policy: engineConfig({ deny: [`${PEER_A.address}/32`] }).policy });
  t.same(engine.withdrawDeniedPeers(), { permissions: 1, tcpConnections: [] }, "one permission withdrawn (PEER_A's), PEER_B's kept");
  t.equal(verdict(c.channelData(T0 + 2 * S, 0x4001, Buffer.from('x'))), 'relay-drop:no-permission', 'ChannelData to the denied peer dropped');
  t.equal(verdict(c.sendTo(T0 + 2 * S, PEER_A, Buffer.from('x'))), 'relay-drop:no-permission', 'Send to it dropped');
  t.equal(engine.handlePeerPacket(allocation, PEER_A.address, PEER_A.port, Buffer.from('x'), T0 + 2 * S).kind, 'relay-drop', 'its packets are not delivered');
  t.equal(c.sendTo(T0 + 2 * S, PEER_B, Buffer.from('x')).kind, 'send-peer', 'the other peer still works');
  t.equal(verdict(c.channelBind(T0 + 2 * S, 0x4001, PEER_A)), 403, 'and a refresh of the channel is refused');
  t.same(engine.withdrawDeniedPeers(), { permissions: 0, tcpConnections: [] }, 'nothing more to withdraw');
});

t.test('ChannelData to a TCP client is padded to a multiple of 4 with zeros (RFC 8656 §12.5)', async (t) => {
  const { client, engine } = setup();
  const c = client({ transport: 'tcp' });
  const { allocation } = c.allocate(T0);
  t.equal(verdict(c.channelBind(T0, 0x4001, PEER_A)), 'success');
  for (const n of [0, 1, 4, 5, 7]) {
    const payload = Buffer.alloc(n, 0xab);
    const pkt = engine.handlePeerPacket(allocation, PEER_A.address, PEER_A.port, payload, T0 + S);
    if (pkt.kind !== 'to-client') {
      t.fail(`dropped: ${pkt.reason}`);
      continue;
    }
    t.equal(pkt.data.length % 4, 0, `${n} bytes: padded length ${pkt.data.length}`);
    t.equal(pkt.data.readUInt16BE(2), n, 'length field counts the data only');
    t.ok(pkt.data.equals(channelData(0x4001, payload, true)), 'zero padding, same as an independently built frame');
  }
});

t.test('client ChannelData → send-peer with exactly the payload (a view, no padding)', async (t) => {
  const { client } = setup();
  const c = client();
  const { allocation } = c.allocate(T0);
  c.channelBind(T0, 0x4000, PEER_A);
  const payload = Buffer.from('abc');
  for (const pad of [false, true]) {
    const frame = channelData(0x4000, payload, pad);
    const out = c.send(frame, T0 + S);
    t.equal(out.kind, 'send-peer', `pad=${pad}`);
    if (out.kind === 'send-peer') {
      t.same(out.peer, PEER_A);
      t.equal(out.allocation, allocation);
      t.ok(out.data.equals(payload), 'exactly the payload');
      t.equal(out.data.length, 3, 'padding excluded');
      t.equal(out.data.buffer, frame.buffer, 'a subarray of the received bytes, not a copy');
    }
  }
  t.equal(verdict(c.channelData(T0 + S, 0x4002, payload)), 'relay-drop:unbound-channel', 'unbound channel dropped');
  const stranger = client();
  t.equal(verdict(stranger.channelData(T0 + S, 0x4000, payload)), 'relay-drop:no-allocation', 'no allocation on that 5-tuple');
});

t.test('channel bindings last 600 s even with the permission kept fresh; then ChannelData is dropped', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const { allocation } = c.allocate(T0, { lifetime: 3600 });
  c.channelBind(T0, 0x4000, PEER_A);
  c.createPermission(T0 + 250 * S, [PEER_A]);
  c.createPermission(T0 + 500 * S, [PEER_A]);
  t.equal(c.channelData(T0 + 599 * S, 0x4000, Buffer.from('x')).kind, 'send-peer', 'bound at 599 s');
  t.equal(verdict(c.channelData(T0 + 600 * S + 1, 0x4000, Buffer.from('x'))), 'relay-drop:unbound-channel', 'expired after 600 s');
  const pkt = engine.handlePeerPacket(allocation, PEER_A.address, PEER_A.port, Buffer.from('y'), T0 + 600 * S + 1);
  t.ok(pkt.kind === 'to-client' && pkt.data.readUInt16BE(0) >> 14 === 0, 'peer → client falls back to a Data indication');
});

t.test('the permission a ChannelBind installs lapses after 300 s unless refreshed', async (t) => {
  const { client, engine } = setup();
  const c = client();
  const { allocation } = c.allocate(T0);
  c.channelBind(T0, 0x4000, PEER_A);
  t.equal(verdict(c.channelData(T0 + 300 * S + 1, 0x4000, Buffer.from('x'))), 'relay-drop:no-permission');
  t.equal(engine.handlePeerPacket(allocation, PEER_A.address, PEER_A.port, Buffer.from('y'), T0 + 300 * S + 1).kind, 'relay-drop');
  t.equal(verdict(c.channelBind(T0 + 301 * S, 0x4000, PEER_A)), 'success', 're-binding the same pair refreshes both');
  t.equal(c.channelData(T0 + 302 * S, 0x4000, Buffer.from('x')).kind, 'send-peer');
});

t.test('ChannelBind conflicts and range → 400', async (t) => {
  const { client } = setup();
  const c = client();
  c.allocate(T0);
  t.equal(verdict(c.channelBind(T0, 0x4000, PEER_A)), 'success');
  t.equal(verdict(c.channelBind(T0, 0x4000, PEER_B)), 400, 'same channel, different peer');
  t.equal(verdict(c.channelBind(T0, 0x4001, PEER_A)), 400, 'different channel, same peer');
  t.equal(verdict(c.channelBind(T0, 0x4000, { ...PEER_A, port: PEER_A.port + 1 })), 400, 'same channel, same IP, other port');
  t.equal(verdict(c.channelBind(T0, 0x3fff, PEER_B)), 400, '0x3FFF is below the channel range');
  t.equal(verdict(c.channelBind(T0, 0x0000, PEER_B)), 400);
  t.equal(verdict(c.channelBind(T0, 0x4000, PEER_A)), 'success', 'same pair again is a refresh');
  t.equal(verdict(c.channelBind(T0, 0x4fff, PEER_B)), 'success', '0x4FFF is the top of the RFC 8656 range');
  t.equal(verdict(c.channelBind(T0, 0x4002, { family: 'IPv6', address: '2001:4860::1', port: 1 })), 443, 'IPv6 peer on IPv4 relay');
});

// -------------------------------------------------------------------------------------------------
// Send indications (RFC 8656 §10.2)

t.test('Send: with permission → send-peer; without → no-permission; without allocation → no-allocation', async (t) => {
  const { client } = setup();
  const c = client();
  t.equal(verdict(c.sendTo(T0, PEER_A, Buffer.from('x'))), 'relay-drop:no-allocation');
  const { allocation } = c.allocate(T0);
  t.equal(verdict(c.sendTo(T0, PEER_A, Buffer.from('x'))), 'relay-drop:no-permission');
  c.createPermission(T0, [PEER_A]);
  const payload = Buffer.from('to the peer');
  const out = c.sendTo(T0 + S, { ...PEER_A, port: 9999 }, payload);
  t.equal(out.kind, 'send-peer');
  if (out.kind === 'send-peer') {
    t.same(out.peer, { ...PEER_A, port: 9999 });
    t.ok(out.data.equals(payload));
    t.equal(out.allocation, allocation);
  }
  t.equal(verdict(c.sendTo(T0 + S, PEER_B, payload)), 'relay-drop:no-permission', 'other IP');
  t.equal(verdict(c.sendTo(T0 + 301 * S, PEER_A, payload)), 'relay-drop:no-permission', 'after the permission expired');
});

t.test('Send with an unknown comprehension-required attribute is discarded (RFC 8489 §6.3.2); known or optional ones are not', async (t) => {
  const { client } = setup();
  const c = client();
  c.allocate(T0);
  c.createPermission(T0, [PEER_A]);
  const send = (extra: StunAttribute[]) => c.send(sendIndication(PEER_A, Buffer.from('x'), undefined, extra), T0 + S);
  t.equal(verdict(send([{ type: 0x0077, value: Buffer.alloc(0) }])), 'relay-drop:unknown-attribute', 'unknown 0x0077: discarded');
  t.equal(verdict(send([{ type: 0x7fff, value: Buffer.alloc(4) }])), 'relay-drop:unknown-attribute', 'unknown 0x7FFF: discarded');
  t.equal(send([{ type: AttributeType.DontFragment, value: Buffer.alloc(0) }]).kind, 'send-peer', 'DONT-FRAGMENT (known): relayed');
  t.equal(send([{ type: 0x8077, value: Buffer.alloc(4) }]).kind, 'send-peer', 'unknown comprehension-optional 0x8077: ignored, relayed');
});

t.test('ChannelData whose length field exceeds the datagram → relay-drop malformed (stunner memoryleak)', async (t) => {
  const { client } = setup();
  const c = client();
  c.allocate(T0);
  c.channelBind(T0, 0x4000, PEER_A);
  const lie = Buffer.from([0x40, 0x00, 0x01, 0x00, 0x61, 0x62, 0x63, 0x64]); // says 256 bytes, has 4
  t.equal(verdict(c.send(lie, T0 + S)), 'relay-drop:malformed');
  t.equal(verdict(c.send(Buffer.from([0x40, 0x00, 0x00]), T0 + S)), 'relay-drop:malformed', 'shorter than the header');
  const exact = Buffer.from([0x40, 0x00, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64]);
  t.equal(c.send(exact, T0 + S).kind, 'send-peer', 'control: the same frame with an honest length is relayed');
});

// -------------------------------------------------------------------------------------------------
// Authentication (RFC 8489 §9.2.4)

t.test('stale nonce → 438 with a new NONCE, signed; retrying with it succeeds', async (t) => {
  const { client, config } = setup({ nonceLifetimeMs: 60 * S });
  const c = client();
  c.allocate(T0, { lifetime: 3600 });
  const old = c.nonce!;
  const later = T0 + 61 * S;
  const out = c.refresh(later, 600);
  t.equal(verdict(out), 438);
  const m = responseOf(out);
  const fresh = textAttr(m, AttributeType.Nonce);
  t.ok(fresh && fresh !== old, 'a new NONCE');
  t.equal(config.nonces.check(fresh!, later, c.source.address), 'valid');
  t.ok(c.signedByMe(m), 'the 438 is signed: the request proved the key');
  t.equal(c.nonce, fresh, 'client took the new nonce');
  t.equal(verdict(c.refresh(later, 600)), 'success');
});

t.test('wrong password → 401 (unsigned, with a fresh challenge)', async (t) => {
  const { client } = setup();
  const c = client({ password: 'not-alices-password' });
  const out = c.requestAllocation(T0);
  t.equal(verdict(out), 401);
  t.same(out.kind === 'respond' ? out.note : undefined, { event: 'auth-failed', reason: 'bad-integrity' });
  const m = responseOf(out);
  t.notOk(getAttribute(m, AttributeType.MessageIntegrity));
  t.ok(textAttr(m, AttributeType.Nonce));
  t.equal(verdict(client({ username: 'mallory', password: 'x' }).requestAllocation(T0)), 401, 'unknown user → 401');
  t.equal(verdict(client({ realm: 'other.example' }).requestAllocation(T0)), 401, 'wrong realm → 401');
});

t.test('SHA-256 password algorithm: the response carries MESSAGE-INTEGRITY-SHA256 under the SHA-256 key', async (t) => {
  const { client } = setup();
  const c = client({ algorithm: 'sha256' });
  const { response } = c.allocate(T0);
  t.ok(integrityVerifies(response.raw!, longTermKeyRef('alice', REALM, 'alice-secret-pw', 'sha256'), 'sha256'));
});

t.test('REST credentials: minted ones allocate, expired ones get 401, every configured secret works', async (t) => {
  const { client } = setup({ users: {}, secrets: ['new-secret', 'old-secret'] });
  const cred = mintRestCredential('new-secret', 'alice', 3600, T0);
  const c = client({ username: cred.username, password: cred.password });
  t.equal(c.allocate(T0).allocation.username, cred.username);

  const rotated = mintRestCredential('old-secret', 'alice', 3600, T0);
  t.equal(verdict(client({ username: rotated.username, password: rotated.password }).requestAllocation(T0)), 'allocate', 'second secret (rotation)');
  const foreign = mintRestCredential('unknown-secret', 'alice', 3600, T0);
  t.equal(verdict(client({ username: foreign.username, password: foreign.password }).requestAllocation(T0)), 401, 'a secret we do not hold');

  const before = T0 + 3599 * S;
  t.equal(verdict(client({ username: cred.username, password: cred.password }).requestAllocation(before)), 'allocate', 'still valid just before its expiry');
  const later = T0 + 3601 * S;
  const d = client({ username: cred.username, password: cred.password });
  d.challenge(later);
  const expired = d.requestAllocation(later);
  t.equal(verdict(expired), 401, 'after its expiry');
  t.same(expired.kind === 'respond' ? expired.note : undefined, { event: 'auth-failed', reason: 'expired-user' }, 'refused because it expired');
  const control = mintRestCredential('new-secret', 'alice', 3600, later);
  t.equal(verdict(client({ username: control.username, password: control.password }).requestAllocation(later)), 'allocate', 'a fresh one at that time works');
});

// -------------------------------------------------------------------------------------------------
// Other requests through the engine

t.test('Binding requests still work through the engine', async (t) => {
  const { client } = setup();
  const c = client();
  const out = c.send(bindingRequest(), T0);
  t.equal(verdict(out), 'success');
  const m = responseOf(out);
  t.equal(m.method, Method.Binding);
  t.same(xorAddressAttr(m, AttributeType.XorMappedAddress), c.source);
});

t.test('TURN disabled (no users or secrets) → 400 to Allocate, even a signed one', async (t) => {
  const { client } = setup({ users: {}, secrets: [], enabled: false });
  const c = client();
  const out = c.send(allocateRequest(undefined).data, T0);
  t.equal(verdict(out), 400);
  c.nonce = 'whatever';
  t.equal(verdict(c.send(allocateRequest(c.creds()).data, T0)), 400);
  t.equal(verdict(c.send(bindingRequest(), T0)), 'success', 'Binding still answered');
});

t.test('non-TURN methods in a request → 400', async (t) => {
  const { client } = setup();
  const c = client();
  c.challenge(T0);
  t.equal(verdict(c.send(turnRequest(0x002, [], c.creds()).data, T0)), 400, 'SharedSecret (RFC 3489) is not served');
});
t.test('unknown comprehension-required attribute in Allocate → 420 listing it; unknown optional ones ignored', async (t) => {
  const { client } = setup();
  const c = client();
  c.challenge(T0);
  const unknown = { type: 0x0050, value: Buffer.from([1, 2, 3, 4]) };
  const out = c.send(allocateRequest(c.creds(), { extra: [unknown] }).data, T0);
  t.equal(verdict(out), 420);
  const ua = getAttribute(responseOf(out), AttributeType.UnknownAttributes);
  t.same(ua && decodeUnknownAttributes(ua.value), [0x0050]);
  const optional = { type: 0x8050, value: Buffer.from([1, 2, 3, 4]) };
  t.equal(c.send(allocateRequest(c.creds(), { extra: [optional] }).data, T0).kind, 'allocate');
});

t.test('a 420 to an authenticated request is signed; an unauthenticated one is challenged first', async (t) => {
  const { client } = setup();
  const c = client();
  c.challenge(T0);
  const out = c.send(allocateRequest(c.creds(), { extra: [{ type: 0x0050, value: Buffer.alloc(4) }] }).data, T0);
  t.equal(verdict(out), 420);
  t.ok(c.signedByMe(responseOf(out)), "420 signed with the user's key");
  const anon = c.send(allocateRequest(undefined, { extra: [{ type: 0x0050, value: Buffer.alloc(4) }] }).data, T0);
  t.equal(verdict(anon), 401, 'an unauthenticated one gets 401');
});

t.test('attributes after MESSAGE-INTEGRITY are ignored', async (t) => {
  const { client } = setup();
  const c = client();
  c.challenge(T0);
  const signed = allocateRequest(c.creds()).data; // UDP, no LIFETIME
  const tampered = appendAttributes(signed, [requestedTransport(6), lifetime(3600), { type: 0x0050, value: Buffer.alloc(4) }]);
  const out = c.send(tampered, T0);
  t.equal(out.kind, 'allocate', `got ${verdict(out)}: neither 442 (TCP) nor 420 (unknown attribute)`);
  if (out.kind === 'allocate') t.equal(out.pending.lifetime, 600, 'the appended LIFETIME did not count');
});

t.test('rate limit: unauthenticated Allocates from one IP end in rate-limited drops; other IPs unaffected', async (t) => {
  const limit = { burst: 5, perSecond: 1 };
  const { client } = setup({ unauthLimit: limit });
  const a = client({ source: newClientAddress('198.51.100.30') });
  const verdicts = Array.from({ length: 8 }, () => verdict(a.send(allocateRequest(undefined).data, T0)));
  t.same(verdicts.slice(0, 5), [401, 401, 401, 401, 401], 'the burst is answered');
  t.same(verdicts.slice(5), ['relay-drop:rate-limited', 'relay-drop:rate-limited', 'relay-drop:rate-limited']);
  const b = client({ source: newClientAddress('198.51.100.31') });
  t.equal(verdict(b.send(allocateRequest(undefined).data, T0)), 401, 'another IP');
  t.equal(verdict(a.send(allocateRequest(undefined).data, T0 + S)), 401, 'one more token after a second');
  t.equal(verdict(a.send(allocateRequest(undefined).data, T0 + S)), 'relay-drop:rate-limited');

  // With the default limit, too: flooding one IP at one instant is cut off.
  const d = setup();
  const flood = d.client({ source: newClientAddress('198.51.100.32') });
  let first = -1;
  for (let i = 0; i < 1000 && first < 0; i++) if (verdict(flood.send(allocateRequest(undefined).data, T0)) === 'relay-drop:rate-limited') first = i;
  t.equal(first, DEFAULT_UNAUTH_LIMIT.burst, `default limit cuts in after the burst (at ${first})`);
});

t.test('authenticated requests are not rate limited by the unauthenticated limiter', async (t) => {
  const { client } = setup({ unauthLimit: { burst: 1, perSecond: 0.001 } });
  const c = client();
  c.allocate(T0);
  for (let i = 0; i < 20; i++) if (verdict(c.refresh(T0 + i, 600)) !== 'success') t.fail(`refresh ${i}`);
  t.pass('20 signed refreshes answered');
});

t.test('REST usernames count per user id: one quota however many credentials, one guess budget however many expiries', async (t) => {
  const { client } = setup({ users: {}, secrets: ['s3cret'], quotas: { perUser: 2, perClientIp: 0, total: 0 } });
  // Each credential the backend mints for alice carries another expiry, hence another username.
  const creds = [3600, 3601, 3602].map((ttl) => mintRestCredential('s3cret', 'alice', ttl, T0));
  t.equal(verdict(client({ username: creds[0]!.username, password: creds[0]!.password }).requestAllocation(T0)), 'allocate');
  const second = client({ username: creds[1]!.username, password: creds[1]!.password });
  second.allocate(T0);
  t.equal(verdict(client({ username: creds[2]!.username, password: creds[2]!.password }).requestAllocation(T0)), 486,
    'a third credential for alice does not buy a third allocation');
  const bob = mintRestCredential('s3cret', 'bob', 3600, T0);
  t.equal(verdict(client({ username: bob.username, password: bob.password }).requestAllocation(T0)), 'allocate', 'bob has his own quota');

  // Guesses for alice from many sources, each with another expiry: the username budget (10) is alice's.
  const verdicts: Array<string | number> = [];
  for (let i = 0; i < 14; i++) {
    const g = client({ source: newClientAddress(`203.0.113.${i + 1}`), username: `${1_800_000_000 + i}:alice`, password: 'guess' });
    g.challenge(T0);
    verdicts.push(verdict(g.requestAllocation(T0)));
  }
  t.same(verdicts.slice(0, 10), Array(10).fill(401), 'ten guessing sources are answered');
  t.same(new Set(verdicts.slice(10)), new Set(['relay-drop:rate-limited']), 'then alice is no longer checked for new sources');
  t.equal(verdict(second.refresh(T0 + S, 600)), 'success', 'alice on her own source keeps working');
  const carol = mintRestCredential('s3cret', 'carol', 3600, T0);
  t.equal(verdict(client({ source: newClientAddress('203.0.113.200'), username: carol.username, password: carol.password }).requestAllocation(T0)),
    'allocate', 'another user from a new source is unaffected');
});
