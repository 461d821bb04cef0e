/**
 * RFC 6062 in the engine, with the injected clock and no sockets: TCP allocations, Connect (446,
 * 447, 403, 443, 400, 508), ConnectionBind (who may bind what, and until when), incoming peer
 * connections (ConnectionAttempt or refusal), the 30-second bind deadline, and the connection table.
 */
import t from 'tap';
import fc from 'fast-check';
import { AttributeType, MessageClass, Method } from '../../src/stun/constants.js';
import { decodeMessage } from '../../src/stun/message.js';
import type { TransportAddress } from '../../src/stun/ip.js';
import type { PendingConnect, TurnOutcome } from '../../src/turn/context.js';
import type { TurnEngine } from '../../src/turn/engine.js';
import { CONNECTION_BIND_TIMEOUT_MS, MAX_CONNECTIONS_PER_ALLOCATION, TcpConnectionTable } from '../../src/turn/tcp-connections.js';
import {
  PEER_A,
  PEER_B,
  SERVER,
  T0,
  TurnTestClient,
  connectionIdOf,
  engineConfig,
  evenPort,
  makeEngine,
  responseOf,
  turnRequest,
  verdict,
  xorAddressAttr,
  type EngineOptions,
} from '../helpers/turn-client.js';

const S = 1000;

/** An engine, a TCP allocation of alice's on control connection 1, and a factory for data connections. */
function tcpAllocated(o: EngineOptions = {}): { engine: TurnEngine; ctl: TurnTestClient; dataClient: (username?: string, listenerId?: number) => TurnTestClient } {
  const engine = makeEngine(engineConfig(o));
  const ctl = new TurnTestClient(engine, { transport: 'tcp', listenerId: 1 });
  const { allocation } = ctl.allocate(T0, { transport: 6 });
  if (allocation.relayTransport !== 'tcp') throw new Error('test bug: not a TCP allocation');
  let nextListener = 100;
  const dataClient = (username = 'alice', listenerId = nextListener++): TurnTestClient => {
    const c = new TurnTestClient(engine, { transport: 'tcp', listenerId, username });
    c.challenge(T0);
    return c;
  };
  return { engine, ctl, dataClient };
}

function pendingConnect(out: TurnOutcome): PendingConnect {
  if (out.kind !== 'connect') throw new Error(`expected a pending Connect, got ${verdict(out)}`);
  return out.pending;
}

/** Connect + success: the CONNECTION-ID. */
function connected(engine: TurnEngine, ctl: TurnTestClient, peer: TransportAddress, now = T0): number {
  const out = engine.completeConnect(pendingConnect(ctl.connect(now, peer)), true, now);
  const id = connectionIdOf(responseOf(out));
  if (id === undefined) throw new Error(`Connect did not succeed: ${verdict(out)}`);
  return id;
}

t.test('Allocate with REQUESTED-TRANSPORT TCP (RFC 6062 §5.1)', async (t) => {
  const engine = makeEngine(engineConfig());
  const tcp = new TurnTestClient(engine, { transport: 'tcp' });
  const pending = tcp.pendingAllocation(T0, { transport: 6 });
  t.equal(pending.relayTransport, 'tcp', 'over TCP: a pending TCP allocation');
  const done = tcp.complete(pending);
  t.equal(verdict(done), 'success');
  t.equal(done.created?.relayTransport, 'tcp', 'the allocation is a TCP allocation');
  t.ok(xorAddressAttr(responseOf(done), AttributeType.XorRelayedAddress), 'with XOR-RELAYED-ADDRESS');

  t.equal(verdict(new TurnTestClient(engine, { transport: 'tls' }).requestAllocation(T0, { transport: 6 })), 'allocate', 'over TLS too');
  t.equal(verdict(new TurnTestClient(engine, { transport: 'udp' }).requestAllocation(T0, { transport: 6 })), 400, 'over UDP: 400');
  const dontFragment = { type: AttributeType.DontFragment, value: Buffer.alloc(0) };
  t.equal(verdict(new TurnTestClient(engine, { transport: 'tcp' }).requestAllocation(T0, { transport: 6, extra: [evenPort(false)] })), 400, 'with EVEN-PORT: 400');
  t.equal(verdict(new TurnTestClient(engine, { transport: 'tcp' }).requestAllocation(T0, { transport: 6, extra: [dontFragment] })), 400, 'with DONT-FRAGMENT: 400');
  t.equal(verdict(new TurnTestClient(engine, { transport: 'tcp' }).requestAllocation(T0, { transport: 17 })), 'allocate', 'a UDP relay over TCP is still fine');
  t.equal(verdict(new TurnTestClient(engine, { transport: 'tcp' }).requestAllocation(T0, { transport: 132 })), 442, 'SCTP: 442');
});

t.test('Connect: pending, then CONNECTION-ID and a permission; 446 for the same peer; 447 frees it', async (t) => {
  const { engine, ctl } = tcpAllocated();
  const pending = pendingConnect(ctl.connect(T0, PEER_A));
  t.same(pending.connection.peer, PEER_A, 'the transport is asked to connect to the peer');
  t.equal(verdict(ctl.connect(T0, PEER_A)), 446, 'a second Connect while the first is connecting: 446');

  const failed = engine.completeConnect(pending, false, T0 + S);
  t.equal(verdict(failed), 447, 'the connection failed: 447');
  t.ok(ctl.signedByMe(responseOf(failed)), 'the 447 is signed');
  t.equal(engine.tcpConnections.size, 0, 'a failed connection is forgotten');
  t.notOk(ctl.allocation!.permissions.has(PEER_A.address), 'and installed no permission');

  const again = pendingConnect(ctl.connect(T0 + 2 * S, PEER_A));
  const ok = engine.completeConnect(again, true, T0 + 3 * S);
  const m = responseOf(ok);
  t.equal(m.cls, MessageClass.SuccessResponse, 'the retry succeeds');
  t.equal(connectionIdOf(m), again.connection.id, 'with the CONNECTION-ID of the connection');
  t.ok(ctl.signedByMe(m), 'signed');
  t.ok(ctl.allocation!.permissions.has(PEER_A.address), 'a permission for the peer IP is installed (RFC 6062 §5.2)');
  t.equal(verdict(ctl.connect(T0 + 4 * S, PEER_A)), 446, 'a second Connect to a connected peer: 446');
  t.equal(verdict(ctl.connect(T0 + 4 * S, { ...PEER_A, port: PEER_A.port + 1 })), 'connect', 'another port of the same IP is another peer');
});

t.test('Connect refusals: 437, 403 (UDP allocation, deny list, own listener), 443, 400, 508', async (t) => {
  const { engine, ctl } = tcpAllocated();
  const stranger = new TurnTestClient(engine, { transport: 'tcp', listenerId: 9 });
  stranger.challenge(T0);
  t.equal(verdict(stranger.connect(T0, PEER_A)), 437, 'no allocation on this connection: 437');

  const udp = new TurnTestClient(engine, { transport: 'tcp', listenerId: 8 });
  udp.allocate(T0);
  t.equal(verdict(udp.connect(T0, PEER_A)), 403, 'Connect on a UDP allocation: 403');

  const denied = ctl.connect(T0, { family: 'IPv4', address: '10.0.0.1', port: 80 });
  t.equal(verdict(denied), 403, 'a peer on the deny list: 403');
  t.equal(denied.kind === 'respond' ? denied.note?.event : undefined, 'peer-denied', 'noted for the peer-denied counter');
  const self = makeEngine(engineConfig({ allow: ['192.0.2.0/24', '198.18.0.0/15'] }));
  const selfCtl = new TurnTestClient(self, { transport: 'tcp' });
  selfCtl.allocate(T0, { transport: 6 });
  t.equal(verdict(selfCtl.connect(T0, SERVER)), 403, "the server's own listener, even where its network is allowed: 403");

  t.equal(verdict(ctl.connect(T0, { family: 'IPv6', address: '2001:db8::1', port: 80 })), 443, 'an IPv6 peer for an IPv4 relay: 443');
  t.equal(verdict(ctl.send(turnRequest(Method.Connect, [], ctl.creds()).data, T0)), 400, 'no XOR-PEER-ADDRESS: 400');

  const busy = tcpAllocated();
  for (let i = 0; i < MAX_CONNECTIONS_PER_ALLOCATION; i++) pendingConnect(busy.ctl.connect(T0, { ...PEER_A, port: 1000 + i }));
  t.equal(verdict(busy.ctl.connect(T0, PEER_B)), 508, `beyond ${MAX_CONNECTIONS_PER_ALLOCATION} connections per allocation: 508`);
});

t.test('a TCP allocation has no channels and no Send indications', async (t) => {
  const { ctl } = tcpAllocated();
  t.equal(verdict(ctl.channelBind(T0, 0x4000, PEER_A)), 403, 'ChannelBind: 403');
  ctl.createPermission(T0, [PEER_A]);
  t.equal(verdict(ctl.sendTo(T0, PEER_A, Buffer.from('x'))), 'relay-drop:tcp-allocation', 'Send indication: dropped and counted');
  t.equal(verdict(ctl.createPermission(T0, [PEER_B])), 'success', 'CreatePermission works (incoming peers need it)');
});

t.test('ConnectionBind (RFC 6062 §5.4): a new connection of the same user binds a waiting id once', async (t) => {
  const { engine, ctl, dataClient } = tcpAllocated();
  const id = connected(engine, ctl, PEER_A);

  const data = dataClient();
  const out = data.connectionBind(T0 + S, id);
  t.equal(verdict(out), 'success');
  t.ok(data.signedByMe(responseOf(out)), 'signed with the data connection user’s key');
  t.equal(out.kind === 'respond' ? out.bound?.connection.id : undefined, id, 'the transport is told which peer connection to pipe to');
  t.equal(out.kind === 'respond' ? out.bound?.listenerId : undefined, data.listenerId, 'and on which client connection');
  t.equal(engine.tcpConnections.get(id)?.state, 'bound');
  t.equal(verdict(dataClient().connectionBind(T0 + S, id)), 400, 'a second bind of the same id: 400');
  t.same(engine.expire(T0 + 3600 * S).tcpConnections, [], 'a bound connection never times out');
});

t.test('ConnectionBind refusals: unknown id, malformed, on the control connection, over UDP, another user', async (t) => {
  const { engine, ctl, dataClient } = tcpAllocated();
  const id = connected(engine, ctl, PEER_A);
  t.equal(verdict(dataClient().connectionBind(T0, id ^ 1)), 400, 'an unknown CONNECTION-ID: 400');
  const short = dataClient();
  t.equal(verdict(short.send(turnRequest(Method.ConnectionBind, [{ type: AttributeType.ConnectionId, value: Buffer.alloc(3) }], short.creds()).data, T0)), 400, 'a 3-byte CONNECTION-ID: 400');
  t.equal(verdict(short.send(turnRequest(Method.ConnectionBind, [], short.creds()).data, T0)), 400, 'none: 400');
  t.equal(verdict(ctl.connectionBind(T0, id)), 400, 'on the control connection (it has an allocation): 400');
  const udp = new TurnTestClient(engine, { transport: 'udp' });
  udp.challenge(T0);
  t.equal(verdict(udp.connectionBind(T0, id)), 400, 'over UDP: 400');
  t.equal(verdict(dataClient('bob').connectionBind(T0, id)), 441, "another user's connection: 441");
  t.equal(engine.tcpConnections.get(id)?.state, 'pending-bind', 'none of these bound it');

  const connecting = pendingConnect(ctl.connect(T0, PEER_B));
  t.equal(verdict(dataClient().connectionBind(T0, connecting.connection.id)), 400, 'an id still connecting to its peer: 400');
});

t.test('the ConnectionBind deadline: 30 s after the peer connection is up (RFC 6062 §5.2), configurable', async (t) => {
  const { engine, ctl, dataClient } = tcpAllocated();
  const id = connected(engine, ctl, PEER_A, T0 + 5 * S);
  t.same(engine.expire(T0 + 5 * S + CONNECTION_BIND_TIMEOUT_MS - 1).tcpConnections, [], 'not before 30 s');
  t.equal(verdict(dataClient().connectionBind(T0 + 5 * S + CONNECTION_BIND_TIMEOUT_MS, id)), 400, 'at 30 s a bind is too late: 400');
  const expired = engine.expire(T0 + 5 * S + CONNECTION_BIND_TIMEOUT_MS).tcpConnections;
  t.same(expired.map((c) => c.id), [id], 'the sweep returns it, for the transport to close');
  t.equal(engine.tcpConnections.size, 0, 'and forgets it');
  t.equal(verdict(ctl.connect(T0 + 40 * S, PEER_A)), 'connect', 'so the peer may be connected again');

  const quick = tcpAllocated({ config: { connectionBindTimeoutMs: 2000 } });
  connected(quick.engine, quick.ctl, PEER_A);
  t.equal(quick.engine.expire(T0 + 2000).tcpConnections.length, 1, 'connectionBindTimeoutMs: 2000 expires after 2 s');
});

t.test('incoming peer connections (RFC 6062 §5.3): ConnectionAttempt with a permission, refused without', async (t) => {
  const { engine, ctl, dataClient } = tcpAllocated();
  const allocation = ctl.allocation!;
  const refused = engine.acceptPeerConnection(allocation.id, PEER_A, T0);
  t.same(refused, { ok: false, reason: 'no-permission' }, 'no permission: refused');

  ctl.createPermission(T0, [PEER_A]);
  const out = engine.acceptPeerConnection(allocation.id, PEER_A, T0 + S);
  if (!out.ok) return t.fail(`refused: ${out.reason}`);
  const m = decodeMessage(out.indication);
  if (!m.ok) return t.fail('the indication does not decode');
  t.equal(m.message.cls, MessageClass.Indication, 'an indication');
  t.equal(m.message.method, Method.ConnectionAttempt, 'ConnectionAttempt');
  t.equal(connectionIdOf(m.message), out.connection.id, 'naming the CONNECTION-ID');
  t.same(xorAddressAttr(m.message, AttributeType.XorPeerAddress), PEER_A, 'and the peer');
  t.equal(out.connection.state, 'pending-bind', 'waiting for its bind from the start');
  t.same(engine.acceptPeerConnection(allocation.id, PEER_A, T0 + S), { ok: false, reason: 'duplicate' }, 'the same peer address again: refused');
  t.equal(verdict(dataClient().connectionBind(T0 + 2 * S, out.connection.id)), 'success', 'the client binds it');

  t.same(engine.acceptPeerConnection(999, PEER_A, T0), { ok: false, reason: 'no-allocation' }, 'an allocation that is gone');
  const udp = new TurnTestClient(engine, { transport: 'tcp', listenerId: 7 });
  const { allocation: udpAllocation } = udp.allocate(T0);
  udp.createPermission(T0, [PEER_A]);
  t.same(engine.acceptPeerConnection(udpAllocation.id, PEER_A, T0), { ok: false, reason: 'no-allocation' }, 'a UDP allocation takes no TCP peers');

  // A reload that denies the peer's network outranks a permission installed before.
  engine.reconfigure(engineConfig({ allow: [] }));
  const denied = engine.acceptPeerConnection(allocation.id, { ...PEER_A, port: 7000 }, T0 + 3 * S);
  t.equal(denied.ok ? 'accepted' : denied.reason, 'peer-denied', 'a permitted peer on the deny list after a reload: refused');
});

t.test('the end of an allocation releases its connections; the table by itself', async (t) => {
  const { engine, ctl } = tcpAllocated();
  connected(engine, ctl, PEER_A);
  pendingConnect(ctl.connect(T0, PEER_B));
  const released = engine.releaseTcpConnections(ctl.allocation!.id);
  t.equal(released.length, 2, 'both connections (bound-pending and connecting) are handed back to close');
  t.equal(engine.tcpConnections.size, 0);

  const table = new TcpConnectionTable();
  const ids = new Set<number>();
  for (let i = 0; i < 200; i++) ids.add(table.add(1, { ...PEER_A, port: 1000 + i }, 'connect', T0, 30_000).id);
  t.equal(ids.size, 200, 'CONNECTION-IDs are unique');
  t.notOk(ids.has(0), 'and never 0');
  t.equal(table.countFor(1), 200);
  const c = table.forPeer(1, { ...PEER_A, port: 1000 })!;
  t.equal(table.bind(c.id, T0), undefined, 'a connecting connection cannot be bound');
  table.connected(c, T0, 30_000);
  t.equal(table.bind(c.id, T0 + 1)?.id, c.id, 'once connected it can');
  table.delete(c);
  t.equal(table.get(c.id), undefined, 'deleted');
  t.equal(table.deleteAllocation(1).length, 199, 'the rest go with their allocation');
  t.equal(table.size, 0);
});

t.test('random CONNECTION-ID and XOR-PEER-ADDRESS bytes: no throw, only the real id binds', async (t) => {
  const { engine, ctl, dataClient } = tcpAllocated();
  const id = connected(engine, ctl, PEER_A);
  const data = dataClient();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
      const value = Buffer.from(bytes);
      const out = data.send(turnRequest(Method.ConnectionBind, [{ type: AttributeType.ConnectionId, value }], data.creds()).data, T0);
      return verdict(out) === (value.length === 4 && value.readUInt32BE(0) === id ? 'success' : 400);
    }),
    { numRuns: 300 },
  );
  const allowed = new Set<string | number>([400, 403, 443, 446, 508, 'connect']);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
      const out = ctl.send(turnRequest(Method.Connect, [{ type: AttributeType.XorPeerAddress, value: Buffer.from(bytes) }], ctl.creds()).data, T0);
      if (out.kind === 'connect') engine.completeConnect(out.pending, false, T0);
      return allowed.has(verdict(out));
    }),
    { numRuns: 300 },
  );
  t.equal(engine.tcpConnections.get(id)?.state, 'pending-bind', 'the real connection is untouched');
});
