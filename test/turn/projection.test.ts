/**
 * The fast-path projection (src/turn/projection.ts): what a native data plane may relay without
 * asking the engine is never more than the engine itself would relay (RFC 8656 §9, §11, §12).
 */
import t from 'tap';
import { Method } from '../../src/stun/constants.js';
import { bindChannel } from '../../src/turn/channels.js';
import { installPermission } from '../../src/turn/permissions.js';
import { PeerPolicy } from '../../src/turn/policy.js';
import { PROJECTED_METHODS, projectedChannels, projectedPermissions } from '../../src/turn/projection.js';
import { PEER_A, PEER_B, T0, TurnTestClient, engineConfig, makeEngine } from '../helpers/turn-client.js';

function allocation() {
  const engine = makeEngine(engineConfig());
  const { allocation: a } = new TurnTestClient(engine).allocate(T0, { lifetime: 600 });
  return a;
}

t.test('a channel is projected until the earliest of its binding, its permission and the allocation', async (t) => {
  const a = allocation();
  t.same(projectedChannels(a), [], 'no channels, nothing projected');
  installPermission(a, PEER_A.address, T0); // 300 s
  bindChannel(a, 0x4000, PEER_A, T0); // 600 s
  t.same(projectedChannels(a), [{ channel: 0x4000, peer: PEER_A, validUntil: T0 + 300_000 }], 'the permission ends first');
  installPermission(a, PEER_A.address, T0 + 400_000); // now until T0 + 700 s
  t.equal(projectedChannels(a)[0]!.validUntil, T0 + 600_000, 'the binding ends first');
  a.expiresAt = T0 + 100_000;
  t.equal(projectedChannels(a)[0]!.validUntil, T0 + 100_000, 'the allocation ends first');
});

t.test('a channel whose peer has no permission is not projected', async (t) => {
  const a = allocation();
  installPermission(a, PEER_A.address, T0);
  bindChannel(a, 0x4000, PEER_A, T0);
  bindChannel(a, 0x4001, PEER_B, T0);
  const p = projectedChannels(a);
  t.same(p.map((c) => c.channel), [0x4000], 'only the permitted peer’s channel');
});

t.test('a permission is projected until the earliest of its expiry and the allocation, with the ports the policy refuses', async (t) => {
  const a = allocation();
  const open = new PeerPolicy({ denyRecommended: false });
  t.same(projectedPermissions(a, open), [], 'no permissions, nothing projected');
  installPermission(a, PEER_A.address, T0); // 300 s
  installPermission(a, PEER_B.address, T0 + 200_000); // until T0 + 500 s
  a.expiresAt = T0 + 400_000;
  t.same(projectedPermissions(a, open), [
    { peerIp: PEER_A.address, validUntil: T0 + 300_000, refusedPorts: [] },
    { peerIp: PEER_B.address, validUntil: T0 + 400_000, refusedPorts: [] },
  ]);
  // The server listens on PEER_A's IP: a Send there may reach any port of it but the server's own.
  const servers = new PeerPolicy({
    denyRecommended: false,
    serverAddresses: [
      { family: 'IPv4', address: PEER_A.address, port: 3478 },
      { family: 'IPv4', address: '0.0.0.0', port: 5349 },
      { family: 'IPv4', address: PEER_A.address, port: 3478 },
    ],
  });
  const [pa, pb] = projectedPermissions(a, servers);
  t.same([...pa!.refusedPorts].sort(), [3478, 5349], "the server's own ports on that IP, once each");
  t.same(pb!.refusedPorts, [5349], 'a wildcard listener covers every IPv4 peer');
  for (const p of [pa!, pb!]) {
    for (const port of [1, 3478, 5349, 65535]) {
      t.equal(servers.checkTransportAddress(p.peerIp, port).allowed, !p.refusedPorts.includes(port), `${p.peerIp}:${port} as the engine judges it`);
    }
  }
});

t.test('a permission for an IP the policy now denies is not projected (a reload may have changed it)', async (t) => {
  const a = allocation();
  installPermission(a, PEER_A.address, T0);
  installPermission(a, PEER_B.address, T0);
  const denyA = new PeerPolicy({ denyRecommended: false, deny: [`${PEER_A.address}/32`] });
  t.same(projectedPermissions(a, denyA).map((p) => p.peerIp), [PEER_B.address]);
});

t.test('the requests after which a projection is renewed', async (t) => {
  for (const m of [Method.ChannelBind, Method.CreatePermission, Method.Refresh]) t.ok(PROJECTED_METHODS.has(m), `method ${m}`);
  t.notOk(PROJECTED_METHODS.has(Method.Binding));
  t.notOk(PROJECTED_METHODS.has(Method.Allocate), 'a new allocation has no channels yet');
});
