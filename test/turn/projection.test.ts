/**
 * The fast-path projection (src/turn/projection.ts): what a native data plane may relay without
 * asking the engine is never more than the engine itself would relay (RFC 8656 §9, §11, §12).
 */
import t from 'tap';
import { Method } from '../../src/stun/constants.js';
import { bindChannel } from '../../src/turn/channels.js';
import { installPermission } from '../../src/turn/permissions.js';
import { PROJECTED_METHODS, projectedChannels } from '../../src/turn/projection.js';
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

t.test('the requests after which a projection is renewed', async (t) => {
  for (const m of [Method.ChannelBind, Method.CreatePermission, Method.Refresh]) t.ok(PROJECTED_METHODS.has(m), `method ${m}`);
  t.notOk(PROJECTED_METHODS.has(Method.Binding));
  t.notOk(PROJECTED_METHODS.has(Method.Allocate), 'a new allocation has no channels yet');
});
